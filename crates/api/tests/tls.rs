//! End to end: berthd's TCP listeners with `--tlsverify`/`--tls`, driven by the stock docker CLI
//! over TLS (version, `run --rm`, hijacked `run -i` and `exec -i`), client certificates refused
//! when missing or signed by a look-alike CA, and the start refused with a clear message and exit
//! code for plain TCP without `--tls=false` and for bad certificate files. Certificates are made
//! per test with the openssl CLI (scripts/install-deps installs it), as Docker's docs do. Also
//! berthd's other start flag, `--init-path`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::daemon::{Daemon, Options};
use berth_testkit::unique_name;

mod common;
#[path = "tls/pki.rs"]
mod pki;

use pki::Pki;

/// A daemon with an extra `-H tcp://127.0.0.1:0` (the kernel picks the port, so parallel tests
/// never collide) and `extra` flags; returns it with the bound port, read from its
/// `API listen on` log line.
fn tcp_daemon(extra: Vec<String>) -> (Daemon, u16) {
    let mut args = vec!["-H".to_owned(), "tcp://127.0.0.1:0".to_owned()];
    args.extend(extra);
    let d = Daemon::start_with(Options {
        args,
        env: vec![("BERTHD_LOG".into(), "warn,berthd=info".into())],
    });
    let log = d.log();
    let port = log
        .split("API listen on tcp://127.0.0.1:")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no TCP listen line in the daemon log:\n{log}"));
    (d, port)
}

/// The stock docker CLI aimed at `tcp://127.0.0.1:port` with `tls_args` (no environment leaks
/// in: its own config dir, no DOCKER_HOST/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH).
fn docker_tcp(d: &Daemon, port: u16, tls_args: &[String]) -> Command {
    let mut c = Command::new("docker");
    c.env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env("DOCKER_CONFIG", d.root().join("docker-config-tcp"))
        .args(tls_args)
        .arg("-H")
        .arg(format!("tcp://127.0.0.1:{port}"));
    c
}

fn client_args(pki: &Pki, cert: Option<&str>) -> Vec<String> {
    let mut a = vec![
        "--tlsverify".into(),
        "--tlscacert".into(),
        pki.path("ca.pem"),
    ];
    if let Some(name) = cert {
        a.extend([
            "--tlscert".into(),
            pki.path(&format!("{name}-cert.pem")),
            "--tlskey".into(),
            pki.path(&format!("{name}-key.pem")),
        ]);
    }
    a
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(d: &Daemon, out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}\ndaemon log:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr),
        d.log()
    );
    text(&out.stdout)
}

/// Runs `cmd` with `input` on its stdin (then closed: the client half-closes the hijacked
/// connection) and returns its output.
fn with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn docker");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn tlsverify_serves_the_docker_cli_with_run_and_hijacked_streams() {
    let pki = Pki::new();
    let (d, port) = tcp_daemon(pki.server_args());
    let dir = tempfile::tempdir().unwrap();
    let tar = berth_testkit::images::busybox_archive(dir.path(), "busybox:latest").unwrap();
    let out = d.docker_ok(&["load", "-i", tar.to_str().unwrap()]);
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    let tls = client_args(&pki, Some("client"));
    let docker = || docker_tcp(&d, port, &tls);

    // The same daemon answers on both listeners.
    let format = [
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Os}}",
    ];
    let over_tls = ok(
        &d,
        docker().args(format).output().unwrap(),
        "version over TLS",
    );
    assert_eq!(over_tls, "1.44 linux\n");
    assert_eq!(d.docker_ok(&format), over_tls);

    let out = docker()
        .args(["run", "--rm", "busybox", "echo", "hello over tls"])
        .output()
        .unwrap();
    assert_eq!(ok(&d, out, "run --rm"), "hello over tls\n");

    // Hijacked attach: stdin reaches the container through TLS, and its EOF ends `cat`.
    let input = b"line one\nline two\n";
    let out = with_stdin(
        docker().args(["run", "--rm", "-i", "busybox", "cat"]),
        input,
    );
    assert_eq!(ok(&d, out, "run -i cat"), text(input));

    // Hijacked exec: output keeps flowing after the client's half-close.
    let name = unique_name("tls");
    let out = docker()
        .args(["run", "-d", "--name", &name, "busybox", "sleep", "60"])
        .output()
        .unwrap();
    ok(&d, out, "run -d");
    let out = with_stdin(
        docker().args(["exec", "-i", &name, "sh", "-c", "cat; sleep 0.3; echo done"]),
        b"piped\n",
    );
    assert_eq!(ok(&d, out, "exec -i"), "piped\ndone\n");
    let out = docker()
        .args(["exec", &name, "sh", "-c", "exit 7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let out = docker().args(["rm", "-f", &name]).output().unwrap();
    ok(&d, out, "rm -f");
}

#[test]
fn tlsverify_refuses_clients_without_a_certificate_or_from_another_ca() {
    let pki = Pki::new();
    let (d, port) = tcp_daemon(pki.server_args());
    let version = |tls: Vec<String>| {
        docker_tcp(&d, port, &tls)
            .args(["version", "--format", "{{.Server.APIVersion}}"])
            .output()
            .unwrap()
    };
    // The good client first: the port is right and the daemon serves, even while another
    // client sits connected without ever starting its handshake.
    let silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    ok(&d, version(client_args(&pki, Some("client"))), "version");
    drop(silent);

    let out = version(client_args(&pki, None));
    assert!(
        !out.status.success(),
        "served a client without a certificate"
    );
    assert_eq!(text(&out.stdout).trim(), "", "no server version expected");
    assert!(
        text(&out.stderr).contains("tls: certificate required"),
        "{}",
        text(&out.stderr)
    );

    // Same issuer name, different key: the CLI offers it, the server's check refuses it.
    let out = version(client_args(&pki, Some("stranger")));
    assert!(
        !out.status.success(),
        "served a certificate from another CA"
    );
    assert_eq!(text(&out.stdout).trim(), "", "no server version expected");
    let err = text(&out.stderr);
    assert!(
        err.contains("remote error: tls:") && !err.contains("certificate required"),
        "{err}"
    );

    // Plain HTTP to the TLS port is not answered as HTTP.
    let out = docker_tcp(&d, port, &[]).arg("version").output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("TLS-enabled daemon without TLS"),
        "{}",
        text(&out.stderr)
    );

    // The daemon is still fine after the refusals.
    ok(
        &d,
        version(client_args(&pki, Some("client"))),
        "version after refusals",
    );
}

#[test]
fn tls_without_verify_and_explicit_plain_tcp_serve_any_client() {
    let pki = Pki::new();
    let (d, port) = tcp_daemon(vec![
        "--tls".into(),
        "--tlscert".into(),
        pki.path("server-cert.pem"),
        "--tlskey".into(),
        pki.path("server-key.pem"),
    ]);
    let tls = vec![
        "--tlsverify".into(),
        "--tlscacert".into(),
        pki.path("ca.pem"),
    ];
    let out = docker_tcp(&d, port, &tls)
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .unwrap();
    assert_eq!(ok(&d, out, "version over --tls"), "1.44\n");
    assert!(
        d.log().contains("without --tlsverify is insecure"),
        "{}",
        d.log()
    );
    // `docker info` carries dockerd's notice; the UNIX socket is not named in it
    let info = d.docker_ok(&["info", "--format", "{{json .Warnings}}"]);
    assert!(
        info.contains(&format!(
            "API is accessible on https://127.0.0.1:{port} without TLS client verification"
        )),
        "{info}"
    );
    assert!(!info.contains("unix://"), "{info}");
    drop(d);

    let (d, port) = tcp_daemon(vec!["--tls=false".into()]);
    let out = docker_tcp(&d, port, &[])
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .unwrap();
    assert_eq!(ok(&d, out, "version over plain TCP"), "1.44\n");
    assert!(
        d.log().contains("without --tlsverify is insecure"),
        "{}",
        d.log()
    );
    let info = d.docker_ok(&["info", "--format", "{{json .Warnings}}"]);
    assert!(
        info.contains(&format!(
            "[DEPRECATION NOTICE]: API is accessible on http://127.0.0.1:{port} without encryption."
        )),
        "{info}"
    );
}

/// Runs berthd with `args` on fresh roots, expecting it to refuse to start; returns its exit
/// code and stderr. Kills it (and fails) if it is still running after 20 s.
fn berthd_refuses(args: &[String]) -> (Option<i32>, String) {
    let root = tempfile::Builder::new()
        .prefix("berthd-refuse-")
        .tempdir()
        .unwrap();
    let r = |p: &str| root.path().join(p);
    let stderr = std::fs::File::create(r("stderr")).unwrap();
    let mut child = Command::new(berth_testkit::daemon::workspace_bin("berthd", "BERTHD"))
        .arg("--data-root")
        .arg(r("data"))
        .arg("--exec-root")
        .arg(r("exec"))
        .arg("--pidfile")
        .arg(r("berthd.pid"))
        .args(["--bridge", "none", "-H"])
        .arg(format!("unix://{}", r("berth.sock").display()))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "berthd {args:?} started instead of refusing: {}",
                std::fs::read_to_string(r("stderr")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!r("berthd.pid").exists(), "pidfile left behind");
    assert!(!r("data").exists(), "data root touched");
    (status.code(), std::fs::read_to_string(r("stderr")).unwrap())
}

#[test]
fn plain_tcp_without_tls_false_is_refused_at_start() {
    let tcp = |extra: &[&str]| {
        let mut a = vec!["-H".to_owned(), "tcp://127.0.0.1:0".to_owned()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let (code, err) = berthd_refuses(&tcp(&[]));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "tcp://127.0.0.1:0: refusing to listen on TCP without TLS client verification"
        ) && err.contains("--tlsverify")
            && err.contains("--tls=false"),
        "{err}"
    );
    // `--tls false` is not `--tls=false`: a usage error, as dockerd's boolean flags.
    let (code, err) = berthd_refuses(&tcp(&["--tls", "false"]));
    assert_eq!(code, Some(2), "{err}");
    let (code, err) = berthd_refuses(&["-H".into(), "tcp://127.0.0.1:2375/v1.44".into()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("should not contain a path element"), "{err}");
    let (code, err) = berthd_refuses(&["-H".into(), "fd://".into()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("invalid bind address format: fd://"), "{err}");
}

#[test]
fn bad_certificate_files_stop_the_start_with_the_path_named() {
    let pki = Pki::new();
    let missing: PathBuf = pki.dir.path().join("missing.pem");
    let verify = |ca: &str, cert: &str, key: &str| {
        vec![
            "-H".into(),
            "tcp://127.0.0.1:0".into(),
            "--tlsverify".into(),
            "--tlscacert".into(),
            ca.into(),
            "--tlscert".into(),
            cert.into(),
            "--tlskey".into(),
            key.into(),
        ]
    };
    let (ca, cert, key) = (
        pki.path("ca.pem"),
        pki.path("server-cert.pem"),
        pki.path("server-key.pem"),
    );
    let missing = missing.to_string_lossy().into_owned();

    let (code, err) = berthd_refuses(&verify(&missing, &cert, &key));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "could not read CA certificate {missing:?} (--tlscacert)"
        )) && err.contains("No such file or directory"),
        "{err}"
    );
    let (code, err) = berthd_refuses(&verify(&ca, &missing, &key));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{missing:?} (--tlscert)")), "{err}");
    let (code, err) = berthd_refuses(&verify(&ca, &cert, &missing));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{missing:?} (--tlskey)")), "{err}");
    // A key where the certificate should be, and a key of another certificate.
    let (code, err) = berthd_refuses(&verify(&ca, &key, &key));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no PEM certificate found in"), "{err}");
    let (code, err) = berthd_refuses(&verify(&ca, &cert, &pki.path("client-key.pem")));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("the private key does not belong to the certificate"),
        "{err}"
    );
    // --tlsverify without a CA, --tls without a certificate.
    let (code, err) = berthd_refuses(&[
        "--tlsverify".into(),
        "--tlscert".into(),
        cert.clone(),
        "--tlskey".into(),
        key.clone(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--tlscacert is required with --tlsverify"),
        "{err}"
    );
    let (code, err) = berthd_refuses(&["--tls".into()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--tlscert is required with --tls"), "{err}");
}

#[test]
fn init_path_must_name_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = berthd_refuses(&[
        "--init-path".into(),
        dir.path().join("no-init").to_string_lossy().into_owned(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--init-path") && err.contains("no-init"),
        "{err}"
    );
    let (code, err) = berthd_refuses(&[
        "--init-path".into(),
        dir.path().to_string_lossy().into_owned(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
}

#[test]
fn init_path_names_the_init_that_run_init_mounts() {
    // A recognisable init: says so, then execs the command as tini would (`/dev/init -- CMD`).
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("my-init");
    std::fs::write(
        &init,
        "#!/bin/sh\n[ \"$1\" = -- ] && shift\necho \"custom init as pid $$\"\nexec \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = Daemon::start_with(Options {
        args: vec!["--init-path".into(), init.to_string_lossy().into_owned()],
        env: vec![],
    });
    let tar = berth_testkit::images::busybox_archive(dir.path(), "busybox:latest").unwrap();
    d.docker_ok(&["load", "-i", tar.to_str().unwrap()]);
    let out = d.docker_ok(&["run", "--rm", "--init", "busybox", "echo", "hello"]);
    assert_eq!(out, "custom init as pid 1\nhello\n");
    // Without --init the image's command is pid 1 and the init is not involved.
    let out = d.docker_ok(&["run", "--rm", "busybox", "sh", "-c", "echo $$"]);
    assert_eq!(out, "1\n");
}

/// docker-py (Python's ssl module, OpenSSL underneath, not Go's TLS) through `DOCKER_HOST`,
/// `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`, hijacked exec included.
#[test]
fn docker_py_talks_to_the_tls_listener_with_its_client_certificate() {
    common::ensure_docker_py();
    let pki = Pki::new();
    let (d, port) = tcp_daemon(pki.server_args());
    let tar = berth_testkit::images::busybox_archive(pki.dir.path(), "busybox:latest").unwrap();
    d.docker_ok(&["load", "-i", tar.to_str().unwrap()]);
    let certs = pki.dir.path().join("py-certs");
    std::fs::create_dir(&certs).unwrap();
    for (from, to) in [
        ("ca.pem", "ca.pem"),
        ("client-cert.pem", "cert.pem"),
        ("client-key.pem", "key.pem"),
    ] {
        std::fs::copy(pki.dir.path().join(from), certs.join(to)).unwrap();
    }
    let script = r#"
import sys
import docker
c = docker.from_env(timeout=60)
assert c.version()["ApiVersion"] == "1.44"
assert c.containers.run("busybox", ["echo", "hi"], remove=True) == b"hi\n"
ct = c.containers.run("busybox", ["sleep", "60"], detach=True, name=sys.argv[1])
code, out = ct.exec_run(["sh", "-c", "echo from-exec; exit 3"])
assert (code, out) == (3, b"from-exec\n"), (code, out)
ct.remove(force=True)
print("docker-py over tls ok")
"#;
    let out = Command::new("python3")
        .args(["-c", script, &unique_name("pytls")])
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &certs)
        // requests lets these override docker-py's CA (docker/docker-py#2433).
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .expect("run python3");
    assert_eq!(ok(&d, out, "docker-py"), "docker-py over tls ok\n");
}
