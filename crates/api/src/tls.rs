//! TLS for the TCP listeners, as dockerd's `--tls`/`--tlsverify`: the server's certificate chain and
//! key from PEM files, and with `--tlsverify` a client certificate required and checked against
//! `--tlscacert` only (no system roots, like moby's `ExclusiveRootPools`). rustls with ring.
//!
//! [`TlsListener`] does each handshake in its own task (a client that connects and stays silent
//! holds up nobody) and hands finished streams to `axum::serve`, so TLS connections go through
//! the same router, middleware and hijack code as the UNIX socket.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in flight at once; past that, new connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 128;

/// The PEM files of `--tlscacert`, `--tlscert` and `--tlskey`, and whether `--tlsverify` is on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub verify: bool,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{flag} is required with {mode}")]
    MissingFlag {
        flag: &'static str,
        mode: &'static str,
    },
    #[error("could not read {what} {path:?} ({flag}): {error}")]
    Read {
        what: &'static str,
        flag: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    #[error("no PEM {what} found in {path:?} ({flag})")]
    NoPem {
        what: &'static str,
        flag: &'static str,
        path: PathBuf,
    },
    #[error("invalid PEM {what} in {path:?} ({flag}): {reason}")]
    BadPem {
        what: &'static str,
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("no usable CA certificate in {path:?} (--tlscacert): {reason}")]
    BadCa { path: PathBuf, reason: String },
    #[error("--tlscert {cert:?} and --tlskey {key:?} do not form a usable pair: {reason}")]
    BadPair {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

fn read(what: &'static str, flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        what,
        flag,
        path: path.to_path_buf(),
        error,
    })
}

fn certificates(
    what: &'static str,
    flag: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(what, flag, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            what,
            flag,
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoPem {
            what,
            flag,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("private key", "--tlskey", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPem {
            what: "private key",
            flag: "--tlskey",
            path: path.to_path_buf(),
        },
        e => TlsError::BadPem {
            what: "private key",
            flag: "--tlskey",
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    })
}

fn required<'a>(
    p: &'a Option<PathBuf>,
    flag: &'static str,
    mode: &'static str,
) -> Result<&'a Path, TlsError> {
    p.as_deref().ok_or(TlsError::MissingFlag { flag, mode })
}

/// Builds the server configuration: its certificate and key, and with `verify` a client
/// certificate required and verified against the CA file. Without `verify` the CA file is not
/// read, as dockerd ignores it then.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mode = if files.verify { "--tlsverify" } else { "--tls" };
    let cert_path = required(&files.cert, "--tlscert", mode)?;
    let key_path = required(&files.key, "--tlskey", mode)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = if files.verify {
        let ca_path = required(&files.ca, "--tlscacert", mode)?;
        let mut roots = RootCertStore::empty();
        for ca in certificates("CA certificate", "--tlscacert", ca_path)? {
            roots.add(ca).map_err(|e| TlsError::BadCa {
                path: ca_path.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| TlsError::BadCa {
                path: ca_path.to_path_buf(),
                reason: e.to_string(),
            })?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let chain = certificates("certificate", "--tlscert", cert_path)?;
    let key = private_key(key_path)?;
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::BadPair {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
            reason: match e {
                rustls::Error::InconsistentKeys(_) => {
                    "the private key does not belong to the certificate".to_owned()
                }
                e => e.to_string(),
            },
        })?;
    Ok(Arc::new(config))
}

/// A TCP listener whose connections come out TLS-terminated, for `axum::serve`.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp` (inside a tokio runtime); handshakes run concurrently.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let tls = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(32);
        let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        let acceptor = tokio::spawn(async move {
            while !tx.is_closed() {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (sock, peer) = match tcp.accept().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        // EMFILE and the like: back off instead of spinning.
                        tracing::warn!("accept on {local}: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = sock.set_nodelay(true);
                let (tls, tx) = (tls.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(sock)).await;
                    drop(slot);
                    match handshake {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::info!("TLS handshake error from {peer}: {e}"),
                        Err(_) => tracing::info!("TLS handshake from {peer} timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_flags_are_named() {
        let e = server_config(&TlsFiles {
            verify: true,
            ca: None,
            cert: Some("c".into()),
            key: Some("k".into()),
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "--tlscacert is required with --tlsverify");
        let e = server_config(&TlsFiles::default()).unwrap_err();
        assert_eq!(e.to_string(), "--tlscert is required with --tls");
    }

    #[test]
    fn unreadable_and_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let e = server_config(&TlsFiles {
            verify: false,
            ca: None,
            cert: Some(dir.path().join("nope.pem")),
            key: Some(empty.clone()),
        })
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("could not read certificate"), "{msg}");
        assert!(
            msg.contains("nope.pem") && msg.contains("(--tlscert)"),
            "{msg}"
        );
        let e = server_config(&TlsFiles {
            verify: true,
            ca: Some(empty.clone()),
            cert: Some(empty.clone()),
            key: Some(empty),
        })
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("no PEM CA certificate found in") && msg.contains("(--tlscacert)"),
            "{msg}"
        );
    }
}
