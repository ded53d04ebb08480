//! The daemon's listeners, as dockerd's `-H`: `unix:///path` (mode 0660) and `tcp://host:port`
//! (plain or TLS). Parsing follows moby's `opts.ParseHost` (a bare `host:port` is TCP, the host
//! defaults to `localhost` and the port to 2375, no path); the policy on plain TCP follows
//! dockerd v27+: refused unless `--tls=false` says so explicitly.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::{TcpListener, UnixListener};
use tokio_rustls::rustls::ServerConfig;

use crate::tls::TlsListener;

const DEFAULT_TCP_HOST: &str = "localhost";
const DEFAULT_TCP_PORT: u16 = 2375;

/// One `-H` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    /// `host` is a name or an IP literal without brackets.
    Tcp {
        host: String,
        port: u16,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("invalid bind address format: {0}")]
    Format(String),
    #[error("invalid bind address ({0}): should not contain a path element")]
    Path(String),
    #[error("invalid bind address ({addr}): invalid port {port:?}")]
    Port { addr: String, port: String },
    #[error(
        "{0}: refusing to listen on TCP without TLS client verification, which would give root \
         access on this machine to everyone who can reach the port; use --tlsverify with \
         --tlscacert, --tlscert and --tlskey, or pass --tls=false to accept that explicitly"
    )]
    InsecureTcp(Host),
    #[error("listen {host}: {error}")]
    Bind { host: Host, error: io::Error },
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Host::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

impl std::str::FromStr for Host {
    type Err = ListenError;

    fn from_str(s: &str) -> Result<Host, ListenError> {
        let s = s.trim();
        let (proto, rest) = match s.split_once("://") {
            Some(parts) => parts,
            None if !s.is_empty() => ("tcp", s),
            None => return Err(ListenError::Format(s.to_owned())),
        };
        match proto {
            "unix" if !rest.is_empty() => Ok(Host::Unix(PathBuf::from(rest))),
            "tcp" => parse_tcp(s, rest),
            _ => Err(ListenError::Format(s.to_owned())),
        }
    }
}

/// `host:port`, `[v6]:port`, `:port`, `host`, `host:`; a trailing `/` is tolerated, a path is not.
fn parse_tcp(full: &str, rest: &str) -> Result<Host, ListenError> {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('?') || rest.contains('#') || rest.contains('@') {
        return Err(ListenError::Path(full.to_owned()));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| ListenError::Format(full.to_owned()))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| ListenError::Format(full.to_owned()))?,
            ),
        };
        (h, port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => return Err(ListenError::Format(full.to_owned())),
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    let port = match port {
        None | Some("") => DEFAULT_TCP_PORT,
        Some(p) => p.parse().map_err(|_| ListenError::Port {
            addr: full.to_owned(),
            port: p.to_owned(),
        })?,
    };
    let host = if host.is_empty() {
        DEFAULT_TCP_HOST
    } else {
        host
    };
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ListenError::Format(full.to_owned()));
    }
    Ok(Host::Tcp {
        host: host.to_owned(),
        port,
    })
}

/// dockerd's `--tls` and `--tlsverify`, each unset or given a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlsFlags {
    pub tls: Option<bool>,
    pub tlsverify: Option<bool>,
}

impl TlsFlags {
    /// TLS is on with `--tls`, and with `--tlsverify` given at all (even `=false`), as dockerd.
    pub fn enabled(&self) -> bool {
        self.tlsverify.is_some() || self.tls == Some(true)
    }

    /// Client certificates are required and verified.
    pub fn verify(&self) -> bool {
        self.tlsverify == Some(true)
    }

    /// Whether `host` may be served with these flags; `Ok(true)` when it may but is open to
    /// anyone who reaches it (the caller warns, as dockerd does).
    pub fn check(&self, host: &Host) -> Result<bool, ListenError> {
        match host {
            Host::Unix(_) => Ok(false),
            Host::Tcp { .. } if self.verify() => Ok(false),
            // `--tls` or `--tlsverify=false`: encrypted, unauthenticated, chosen explicitly.
            Host::Tcp { .. } if self.enabled() => Ok(true),
            Host::Tcp { .. } if self.tls == Some(false) => Ok(true),
            Host::Tcp { .. } => Err(ListenError::InsecureTcp(host.clone())),
        }
    }
}

/// A bound listener, ready to serve.
pub enum Bound {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
    Tls(TlsListener),
}

impl Bound {
    /// What clients dial: `unix:///path` or `tcp://ip:port` (the real port when 0 was asked for).
    pub fn address(&self) -> String {
        use axum::serve::Listener;
        let tcp = |a: io::Result<std::net::SocketAddr>| {
            a.map(|a| format!("tcp://{a}"))
                .unwrap_or_else(|e| format!("tcp://?({e})"))
        };
        match self {
            Bound::Unix(_, p) => format!("unix://{}", p.display()),
            Bound::Tcp(l) => tcp(l.local_addr()),
            Bound::Tls(l) => tcp(l.local_addr()),
        }
    }
}

/// Binds `host`: a UNIX socket replaces a stale file and gets mode 0660; a TCP listener is
/// TLS-terminated when `tls` is given. Must run inside the tokio runtime.
pub async fn bind(host: &Host, tls: Option<&Arc<ServerConfig>>) -> Result<Bound, ListenError> {
    let err = |error| ListenError::Bind {
        host: host.clone(),
        error,
    };
    match host {
        Host::Unix(path) => {
            let _ = std::fs::remove_file(path);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
            let listener = UnixListener::bind(path).map_err(err)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(err)?;
            Ok(Bound::Unix(listener, path.clone()))
        }
        Host::Tcp { host: name, port } => {
            let listener = TcpListener::bind((name.as_str(), *port))
                .await
                .map_err(err)?;
            match tls {
                Some(config) => Ok(Bound::Tls(
                    TlsListener::new(listener, config.clone()).map_err(err)?,
                )),
                None => Ok(Bound::Tcp(listener)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Host {
        Host::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_docker_host_forms() {
        let p = |s: &str| s.parse::<Host>().unwrap();
        assert_eq!(p("unix:///run/x.sock"), Host::Unix("/run/x.sock".into()));
        assert_eq!(p("tcp://127.0.0.1:2376"), tcp("127.0.0.1", 2376));
        assert_eq!(p("tcp://0.0.0.0:0"), tcp("0.0.0.0", 0));
        assert_eq!(p("tcp://[::1]:2376"), tcp("::1", 2376));
        assert_eq!(p("tcp://[::1]"), tcp("::1", 2375));
        assert_eq!(p("tcp://:2376"), tcp("localhost", 2376));
        assert_eq!(p("tcp://example.org"), tcp("example.org", 2375));
        assert_eq!(p("tcp://example.org:"), tcp("example.org", 2375));
        assert_eq!(p("tcp://127.0.0.1:2376/"), tcp("127.0.0.1", 2376));
        assert_eq!(p("127.0.0.1:2376"), tcp("127.0.0.1", 2376));
        assert_eq!(p("tcp://[::1]:2376").to_string(), "tcp://[::1]:2376");
    }

    #[test]
    fn refuses_bad_addresses_by_name() {
        let e = |s: &str| s.parse::<Host>().unwrap_err().to_string();
        assert_eq!(e("fd://"), "invalid bind address format: fd://");
        assert_eq!(e("unix://"), "invalid bind address format: unix://");
        assert_eq!(e(""), "invalid bind address format: ");
        assert_eq!(
            e("tcp://1.2.3.4:2376/path"),
            "invalid bind address (tcp://1.2.3.4:2376/path): should not contain a path element"
        );
        assert_eq!(
            e("tcp://1.2.3.4:99999"),
            "invalid bind address (tcp://1.2.3.4:99999): invalid port \"99999\""
        );
        assert_eq!(
            e("tcp://::1:2376"),
            "invalid bind address format: tcp://::1:2376"
        );
        assert_eq!(e("tcp://[::1"), "invalid bind address format: tcp://[::1");
    }

    #[test]
    fn plain_tcp_needs_explicit_consent() {
        let h = tcp("127.0.0.1", 2375);
        let unix = Host::Unix("/x".into());
        let flags = |tls, tlsverify| TlsFlags { tls, tlsverify };
        let refused = flags(None, None).check(&h).unwrap_err().to_string();
        assert!(
            refused.starts_with("tcp://127.0.0.1:2375: refusing"),
            "{refused}"
        );
        assert!(refused.contains("--tls=false"), "{refused}");
        assert!(!flags(None, None).check(&unix).unwrap());
        assert!(flags(Some(false), None).check(&h).unwrap());
        assert!(flags(Some(true), None).check(&h).unwrap());
        assert!(flags(None, Some(false)).check(&h).unwrap());
        assert!(!flags(None, Some(true)).check(&h).unwrap());
        assert!(!flags(Some(false), Some(true)).check(&h).unwrap());
        assert!(flags(None, Some(false)).enabled());
        assert!(!flags(Some(false), None).enabled());
    }
}
