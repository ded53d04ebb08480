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
    token: Option<TokenServer>,
}

impl Registry {
    /// Starts a registry with no authentication on `127.0.0.1:<free port>`.
    pub fn start() -> io::Result<Registry> {
        Registry::start_inner(None)
    }

    /// Starts a registry that wants bearer tokens from a small token server of ours, which
    /// grants the scopes asked for to `username`/`password` (basic auth) and nothing to others.
    pub fn start_with_token_auth(username: &str, password: &str) -> io::Result<Registry> {
        Registry::start_inner(Some((username.to_owned(), password.to_owned())))
    }

    fn start_inner(auth: Option<(String, String)>) -> io::Result<Registry> {
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
            let mut yaml = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            );
            let token = match &auth {
                Some((u, p)) => {
                    let t = TokenServer::start(dir.path(), u, p)?;
                    yaml.push_str(&format!(
                        "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: berth-registry\n    issuer: berth-token\n    rootcertbundle: {}\n",
                        t.port,
                        dir.path().join("token-cert.pem").display()
                    ));
                    Some(t)
                }
                None => None,
            };
            fs::write(&config, yaml)?;
            let log = fs::File::create(dir.path().join("registry.log"))?;
            let child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()?;
            let mut reg = Registry {
                child,
                port,
                dir,
                token,
            };
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
                && (code == 200 || (code == 401 && self.token.is_some()))
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
        if let Some(t) = self.token.take() {
            t.stop();
        }
    }
}

/// A bearer-token server: RS256 JWTs with the signing certificate in `x5c`, signed by the
/// `openssl` CLI with a throwaway key; the registry trusts the certificate (rootcertbundle).
struct TokenServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TokenServer {
    fn start(dir: &Path, user: &str, pass: &str) -> io::Result<TokenServer> {
        let key = dir.join("token-key.pem");
        let cert = dir.join("token-cert.pem");
        let der = dir.join("token-cert.der");
        let ok = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=berth-token",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?
            .success()
            && Command::new("openssl")
                .args(["x509", "-outform", "DER", "-in"])
                .arg(&cert)
                .arg("-out")
                .arg(&der)
                .status()?
                .success();
        if !ok {
            return Err(io::Error::other(
                "openssl failed to make the token certificate",
            ));
        }
        let x5c = b64(&fs::read(&der)?, false);
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let basic = format!("Basic {}", b64(format!("{user}:{pass}").as_bytes(), false));
        let user = user.to_owned();
        // The password doubles as the identity (OAuth2 refresh) token.
        let refresh = pass.to_owned();
        let thread = std::thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = serve_token(s, &basic, &user, &refresh, &key, &x5c);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(TokenServer {
            port,
            stop,
            thread: Some(thread),
        })
    }

    fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_token(
    mut s: TcpStream,
    basic: &str,
    user: &str,
    refresh: &str,
    key: &Path,
    x5c: &str,
) -> io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head_len = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(buf.len());
    let req = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let post = req.starts_with("POST ");
    let mut body = buf[head_len..].to_vec();
    if post {
        let len: usize = req
            .lines()
            .find_map(|l| {
                let l = l.to_ascii_lowercase();
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap_or(0))
            })
            .unwrap_or(0);
        while body.len() < len.min(1 << 20) {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let form = String::from_utf8_lossy(&body).into_owned();
    let target = req.split_whitespace().nth(1).unwrap_or("");
    let refresh_ok = post
        && form.split('&').any(|p| {
            p.strip_prefix("refresh_token=")
                .map(percent_decode)
                .as_deref()
                == Some(refresh)
        });
    let authed = refresh_ok
        || req.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("authorization:") && l[14..].trim() == basic
        });
    let has_auth = req
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("authorization:"));
    if (has_auth || post) && !authed {
        return s.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let mut access = Vec::new();
    if authed {
        let query = if post {
            form.as_str()
        } else {
            target.split_once('?').map(|(_, q)| q).unwrap_or("")
        };
        for pair in query.split('&') {
            if let Some(v) = pair.strip_prefix("scope=") {
                for scope in percent_decode(v).split(' ') {
                    let parts: Vec<&str> = scope.split(':').collect();
                    if parts.len() >= 3 {
                        let actions: Vec<String> = parts[parts.len() - 1]
                            .split(',')
                            .map(|a| format!("\"{a}\""))
                            .collect();
                        let name = parts[1..parts.len() - 1].join(":");
                        access.push(format!(
                            "{{\"type\":\"{}\",\"name\":\"{name}\",\"actions\":[{}]}}",
                            parts[0],
                            actions.join(",")
                        ));
                    }
                }
            }
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = format!("{{\"typ\":\"JWT\",\"alg\":\"RS256\",\"x5c\":[\"{x5c}\"]}}");
    let claims = format!(
        "{{\"iss\":\"berth-token\",\"sub\":\"{}\",\"aud\":\"berth-registry\",\"exp\":{},\"nbf\":{},\"iat\":{},\"jti\":\"{}\",\"access\":[{}]}}",
        if authed { user } else { "" },
        now + 600,
        now - 60,
        now,
        crate::unique_name("jti"),
        access.join(",")
    );
    let signing_input = format!(
        "{}.{}",
        b64(header.as_bytes(), true),
        b64(claims.as_bytes(), true)
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(signing_input.as_bytes())?;
    }
    let sig = child.wait_with_output()?.stdout;
    let token = format!("{signing_input}.{}", b64(&sig, true));
    let body = format!("{{\"token\":\"{token}\",\"expires_in\":600}}");
    write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn b64(data: &[u8], url: bool) -> String {
    let alphabet: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        let k = c.len() + 1;
        for j in 0..4 {
            if j < k {
                out.push(alphabet[(n >> (18 - 6 * j) & 63) as usize] as char);
            } else if !url {
                out.push('=');
            }
        }
    }
    out
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
