//! `-H tcp://` with `--tls` / `--tlsverify`: a TLS terminator (rustls, certificates made with the
//! openssl CLI) in front of the test daemon's UNIX socket.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{Env, text};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it (plus an unrelated CA).
fn make_certs(dir: &Path) {
    let subj = |cn: &str| format!("/CN={cn}");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            &subj("berth-test-ca"),
            "-days",
            "2",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other.pem",
            "-subj",
            &subj("other-ca"),
            "-days",
            "2",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "srv.csr",
            "-subj",
            &subj("127.0.0.1"),
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

/// Serves TLS on 127.0.0.1:<port>, relaying each connection to `socket`. Returns the port.
fn tls_proxy(dir: &Path, socket: String) -> u16 {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("cert.pem"))
        .expect("cert")
        .collect::<Result<_, _>>()
        .expect("cert pem");
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let socket = socket.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut unix) = tokio::net::UnixStream::connect(&socket).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut unix).await;
                });
            }
        });
    });
    port
}

#[test]
fn tls_with_and_without_verification() {
    let env = Env::bare();
    let dir = env.path("certs");
    std::fs::create_dir_all(&dir).expect("certs dir");
    make_certs(&dir);
    let socket = env.host().trim_start_matches("unix://").to_string();
    let port = tls_proxy(&dir, socket);
    let host = format!("tcp://127.0.0.1:{port}");
    let p = |f: &str| dir.join(f).display().to_string();
    let berth = |args: &[&str]| {
        Command::new(common::berth_bin())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_TLS_VERIFY")
            .env("DOCKER_CONFIG", env.config_dir())
            .args(args)
            .output()
            .expect("run berth")
    };
    let verified = berth(&[
        "-H",
        &host,
        "--tlsverify",
        "--tlscacert",
        &p("ca.pem"),
        "version",
        "--format",
        "{{.Server.Os}}",
    ]);
    assert_eq!(text(&verified), ("linux\n".to_string(), String::new()));
    let unverified = berth(&["-H", &host, "--tls", "info", "--format", "{{.OSType}}"]);
    assert_eq!(text(&unverified).0, "linux\n", "{:?}", text(&unverified));
    let wrong_ca = berth(&[
        "-H",
        &host,
        "--tlsverify",
        "--tlscacert",
        &p("other.pem"),
        "version",
    ]);
    assert_eq!(wrong_ca.status.code(), Some(1));
    assert!(
        text(&wrong_ca).1.contains("certificate"),
        "{:?}",
        text(&wrong_ca)
    );
    let plain = berth(&["-H", &host, "version"]);
    assert_ne!(plain.status.code(), Some(0));
    let docker = env
        .docker_cmd()
        .env_remove("DOCKER_HOST")
        .args([
            "-H",
            &host,
            "--tlsverify",
            "--tlscacert",
            &p("ca.pem"),
            "version",
            "--format",
            "{{.Server.Os}}",
        ])
        .output()
        .expect("docker");
    assert_eq!(
        text(&docker).0,
        "linux\n",
        "the stock CLI agrees: {:?}",
        text(&docker)
    );
}
