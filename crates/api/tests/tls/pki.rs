//! Certificates for the TLS tests, made with the openssl CLI the way Docker's docs make them.

use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate signed by it, and a
/// "stranger" client certificate from a second CA that has the same name as the first (so the
/// docker CLI offers it, and only the server's signature check can refuse it).
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("berth-pki-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for ca in ["ca", "fake-ca"] {
            openssl(
                d,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=berth-test-ca",
                    "-keyout",
                    &format!("{ca}-key.pem"),
                    "-out",
                    &format!("{ca}.pem"),
                ],
            );
        }
        let leaf = |name: &str, ca: &str, ext: &str| {
            std::fs::write(d.join(format!("{name}.cnf")), ext).unwrap();
            openssl(
                d,
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-subj",
                    &format!("/CN={name}"),
                    "-keyout",
                    &format!("{name}-key.pem"),
                    "-out",
                    &format!("{name}.csr"),
                ],
            );
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-days",
                    "2",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    &format!("{ca}.pem"),
                    "-CAkey",
                    &format!("{ca}-key.pem"),
                    "-CAcreateserial",
                    "-out",
                    &format!("{name}-cert.pem"),
                    "-extfile",
                    &format!("{name}.cnf"),
                ],
            );
        };
        leaf(
            "server",
            "ca",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
        leaf("stranger", "fake-ca", "extendedKeyUsage=clientAuth\n");
        Pki { dir }
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.path().join(file).to_string_lossy().into_owned()
    }

    /// berthd's flags for `--tlsverify` with this CA and server certificate.
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--tlsverify".into(),
            "--tlscacert".into(),
            self.path("ca.pem"),
            "--tlscert".into(),
            self.path("server-cert.pem"),
            "--tlskey".into(),
            self.path("server-key.pem"),
        ]
    }
}
