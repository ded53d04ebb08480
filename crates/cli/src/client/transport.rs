//! Where the daemon is and how to reach it: `unix://` sockets, `tcp://` with optional TLS.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// The socket the daemon listens on when nothing else is said.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// A byte stream to the daemon, whatever carries it.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A boxed connection.
pub type Conn = Pin<Box<dyn Io>>;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid host {0:?}: {1}")]
    BadHost(String, &'static str),
    #[error("Cannot connect to the Berth daemon at {0}. Is the daemon running? ({1})")]
    Unreachable(String, std::io::Error),
    #[error("tls: {0}")]
    Tls(String),
    #[error("cannot read {0}: {1}")]
    ReadFile(PathBuf, std::io::Error),
}

/// A parsed `-H` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    Tcp { host: String, port: u16 },
}

impl Host {
    /// Parses Docker's host syntax: `unix:///path`, `tcp://host:port`, `host:port`, `:port`.
    pub fn parse(s: &str) -> Result<Host, TransportError> {
        let bad = |why| TransportError::BadHost(s.to_string(), why);
        if let Some(path) = s.strip_prefix("unix://") {
            if path.is_empty() {
                return Ok(Host::Unix(PathBuf::from("/run/berth/berth.sock")));
            }
            if !path.starts_with('/') {
                return Err(bad("a unix socket path must be absolute"));
            }
            return Ok(Host::Unix(PathBuf::from(path)));
        }
        if s.starts_with('/') {
            return Ok(Host::Unix(PathBuf::from(s)));
        }
        let rest = if let Some(r) = s.strip_prefix("tcp://") {
            r
        } else if let Some(r) = s.strip_prefix("http://") {
            r
        } else if s.contains("://") {
            return Err(bad("unsupported scheme (use unix:// or tcp://)"));
        } else {
            s
        };
        let rest = rest.trim_end_matches('/');
        let (h, p) = match rest.rsplit_once(':') {
            Some((h, _)) if !h.ends_with(']') && h.contains(':') => (rest, ""),
            Some((h, p)) => (h, p),
            None => (rest, ""),
        };
        let port = if p.is_empty() {
            2375
        } else {
            p.parse::<u16>().map_err(|_| bad("bad port"))?
        };
        let host = if h.is_empty() { "localhost" } else { h };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.contains('/') {
            return Err(bad("bad host name"));
        }
        Ok(Host::Tcp { host, port })
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Host::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

/// Picks the host as the CLI does: the flag, else `BERTH_HOST`, else `DOCKER_HOST`, else the
/// default socket. Empty values count as unset.
pub fn select_host(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> String {
    if let Some(h) = flag.filter(|h| !h.is_empty()) {
        return h.to_string();
    }
    for var in ["BERTH_HOST", "DOCKER_HOST"] {
        if let Some(v) = env(var).filter(|v| !v.is_empty()) {
            return v;
        }
    }
    DEFAULT_HOST.to_string()
}

/// TLS settings from `--tls`, `--tlsverify`, `--tlscacert`, `--tlscert`, `--tlskey`.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub verify: bool,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// How to reach the daemon: the host plus a TLS client configuration for `tcp://`.
#[derive(Clone)]
pub struct Endpoint {
    pub host: Host,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Endpoint {
    pub fn new(host: Host, tls: Option<&TlsOptions>) -> Result<Endpoint, TransportError> {
        let tls = match (&host, tls) {
            (Host::Tcp { .. }, Some(opts)) => Some(Arc::new(client_config(opts)?)),
            _ => None,
        };
        Ok(Endpoint { host, tls })
    }

    /// Opens one new connection to the daemon.
    pub async fn dial(&self) -> Result<Conn, TransportError> {
        let unreachable = |e| TransportError::Unreachable(self.host.to_string(), e);
        match &self.host {
            Host::Unix(path) => Ok(Box::pin(
                UnixStream::connect(path).await.map_err(unreachable)?,
            )),
            Host::Tcp { host, port } => {
                let tcp = TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(unreachable)?;
                let _ = tcp.set_nodelay(true);
                let Some(cfg) = &self.tls else {
                    return Ok(Box::pin(tcp));
                };
                let name = ServerName::try_from(host.clone())
                    .map_err(|e| TransportError::Tls(e.to_string()))?;
                let tls = TlsConnector::from(cfg.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(unreachable)?;
                Ok(Box::pin(tls))
            }
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path).map_err(|e| TransportError::ReadFile(path.to_path_buf(), e))
}

fn client_config(opts: &TlsOptions) -> Result<rustls::ClientConfig, TransportError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_err = |e: rustls::Error| TransportError::Tls(e.to_string());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?;
    let builder = if opts.verify {
        let mut roots = rustls::RootCertStore::empty();
        let ca = opts
            .ca
            .as_deref()
            .ok_or_else(|| TransportError::Tls("--tlsverify needs a CA (--tlscacert)".into()))?;
        let pem = read(ca)?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| TransportError::Tls(format!("{}: {e}", ca.display())))?;
            roots.add(cert).map_err(tls_err)?;
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider)))
    };
    match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) if cert.exists() && key.exists() => {
            let cert_pem = read(cert)?;
            let certs = CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TransportError::Tls(format!("{}: {e}", cert.display())))?;
            let key = PrivateKeyDer::from_pem_slice(&read(key)?)
                .map_err(|e| TransportError::Tls(format!("{}: {e}", key.display())))?;
            builder.with_client_auth_cert(certs, key).map_err(tls_err)
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// `--tls` without `--tlsverify`: encrypt, but do not check the server (Docker's behaviour).
#[derive(Debug)]
struct AcceptAnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_host_forms() {
        assert_eq!(
            Host::parse("unix:///run/x.sock").unwrap(),
            Host::Unix("/run/x.sock".into())
        );
        assert_eq!(
            Host::parse("tcp://10.0.0.1:2376").unwrap(),
            Host::Tcp {
                host: "10.0.0.1".into(),
                port: 2376
            }
        );
        assert_eq!(
            Host::parse("tcp://example.org").unwrap(),
            Host::Tcp {
                host: "example.org".into(),
                port: 2375
            }
        );
        assert_eq!(
            Host::parse(":4000").unwrap(),
            Host::Tcp {
                host: "localhost".into(),
                port: 4000
            }
        );
        assert_eq!(
            Host::parse("tcp://[::1]:99").unwrap(),
            Host::Tcp {
                host: "::1".into(),
                port: 99
            }
        );
    }

    #[test]
    fn rejects_bad_hosts() {
        assert!(Host::parse("ssh://me@box").is_err());
        assert!(Host::parse("unix://relative.sock").is_err());
        assert!(Host::parse("tcp://h:notaport").is_err());
    }

    #[test]
    fn host_precedence_is_flag_then_berth_then_docker() {
        let env = |k: &str| match k {
            "BERTH_HOST" => Some("unix:///b".to_string()),
            "DOCKER_HOST" => Some("unix:///d".to_string()),
            _ => None,
        };
        assert_eq!(select_host(Some("unix:///f"), env), "unix:///f");
        assert_eq!(select_host(None, env), "unix:///b");
        let only_docker = |k: &str| (k == "DOCKER_HOST").then(|| "unix:///d".to_string());
        assert_eq!(select_host(None, only_docker), "unix:///d");
        assert_eq!(select_host(Some(""), |_| None), DEFAULT_HOST);
    }
}
