//! The Docker Engine API server: routes, JSON shapes, streams and hijack. Translation only: each
//! handler parses HTTP into an engine call and writes Docker's response; all behaviour lives in
//! `berth-engine`. Owns no files on disk. Routes are split per resource under `routes/`;
//! `routes/build.rs` is the place for `POST /build` (the builder's).
//!
//! Public surface: [`serve`] on any listener (every route, the `/vX.Y` prefix, Docker's headers,
//! hijack), [`listen`] for `-H` addresses and [`tls`] for `--tls`/`--tlsverify`.

pub mod body;
pub mod error;
pub mod hijack;
pub mod listen;
pub mod memory;
pub mod routes;
pub mod tls;
pub mod version;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::ServiceExt;
use berth_engine::Engine;
use tower_layer::Layer;

pub use error::ApiError;

/// Shared state of every handler.
pub type AppState = Arc<Engine>;

/// Serves the API on `listener` until the future is dropped. One loop for every transport (UNIX
/// socket, TCP, TLS): the connection type only has to be a byte stream, and hijacked attach/exec
/// connections are handed over whatever it is.
pub async fn serve<L>(engine: Arc<Engine>, listener: L) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let router: Router = routes::router().with_state(engine);
    let svc = axum::middleware::from_fn(version::negotiate).layer(router);
    axum::serve(
        listener,
        ServiceExt::<axum::extract::Request>::into_make_service(svc),
    )
    .await
}

/// Serves the API on a bound `-H` listener.
pub async fn serve_bound(engine: Arc<Engine>, bound: listen::Bound) -> std::io::Result<()> {
    match bound {
        listen::Bound::Unix(l, _) => serve(engine, l).await,
        listen::Bound::Tcp(l) => serve(engine, l).await,
        listen::Bound::Tls(l) => serve(engine, l).await,
    }
}

/// Serves the API on a UNIX socket at `path` (mode 0660) until the future is dropped.
pub async fn serve_unix(engine: Arc<Engine>, path: &Path) -> std::io::Result<()> {
    let host = listen::Host::Unix(path.to_path_buf());
    let bound = listen::bind(&host, None)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    serve_bound(engine, bound).await
}
