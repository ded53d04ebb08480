//! A local Docker registry for tests: Debian's `docker-registry` on a free loopback port with
//! temporary storage, killed on drop.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `docker-registry` package puts the binary.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A running registry; stopped and its storage removed on drop.
pub struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry with no authentication on `127.0.0.1:<free port>`.
    pub fn start() -> io::Result<Registry> {
        // Several tests start registries at once: retry if another grabbed the port.
        let mut last_err = None;
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("berth-registry-")
                .tempdir()?;
            let storage = dir.path().join("storage");
            fs::create_dir_all(&storage)?;
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let config = dir.path().join("config.yml");
            fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                    storage.display()
                ),
            )?;
            let log = fs::File::create(dir.path().join("registry.log"))?;
            let child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()?;
            let mut reg = Registry { child, port, dir };
            match reg.wait_ready(Duration::from_secs(15)) {
                Ok(()) => return Ok(reg),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("registry did not start")))
    }

    fn wait_ready(&mut self, timeout: Duration) -> io::Result<()> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.try_wait()? {
                let log =
                    fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
                return Err(io::Error::other(format!(
                    "registry exited with {status}: {log}"
                )));
            }
            if let Ok(code) = http_status(self.port, "/v2/")
                && code == 200
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(io::Error::other("registry did not answer /v2/ in time"))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, the registry part of image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's storage root (`docker/registry/v2/...` inside).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The file holding blob `digest` (`sha256:<hex>`) in the registry's storage.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2.min(hex.len())])
            .join(hex)
            .join("data")
    }

    /// The registry's log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of a plain `GET path` on the loopback port.
pub fn http_status(port: u16, path: &str) -> io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other("bad HTTP answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_starts_answers_and_stops() {
        let reg = Registry::start().unwrap();
        assert_eq!(http_status(reg.port(), "/v2/").unwrap(), 200);
        let port = reg.port();
        drop(reg);
        assert!(http_status(port, "/v2/").is_err());
    }
}
