//! Connection hijacking for attach and exec start: `101 UPGRADED` with `Upgrade: tcp`, then the
//! raw connection, as moby does. The client may half-close its side (stdin EOF); output keeps
//! flowing until the container side ends.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// The stream content type for this API version and tty mode.
pub fn stream_content_type(version: crate::version::ApiVersion, tty: bool) -> &'static str {
    if !tty && version >= crate::version::ApiVersion(1, 42) {
        "application/vnd.docker.multiplexed-stream"
    } else {
        "application/vnd.docker.raw-stream"
    }
}

pub fn wants_upgrade(req: &Request) -> bool {
    req.headers().contains_key(header::UPGRADE)
}

/// Answers 101 and, once hyper hands the connection over, pipes it to `backend`.
pub fn upgrade<B, D>(
    req: &mut Request,
    content_type: &'static str,
    backend: B,
    on_done: D,
) -> Response
where
    B: std::future::Future<Output = Option<tokio::net::UnixStream>> + Send + 'static,
    D: FnOnce() + Send + 'static,
{
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let client = TokioIo::new(upgraded);
        if let Some(backend) = backend.await {
            pipe(client, backend, on_done).await;
        }
    });
    switching_protocols(content_type)
}

/// The `101 UPGRADED` answer with Docker's headers.
pub fn switching_protocols(content_type: &'static str) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Client bytes go to the backend (its EOF half-closes the backend); backend bytes go to the
/// client until the backend ends, which ends the whole exchange.
pub async fn pipe<C, D>(client: C, backend: tokio::net::UnixStream, on_done: D)
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    D: FnOnce(),
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut br, mut bw) = backend.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut bw).await;
        let _ = bw.shutdown().await;
    });
    let _ = tokio::io::copy(&mut br, &mut cw).await;
    on_done();
    let _ = cw.shutdown().await;
    up.abort();
}
