//! The Docker Engine API server: routes, JSON shapes, streams and hijack. Translation only: each
//! handler parses HTTP into an engine call and writes Docker's response; all behaviour lives in
//! `berth-engine`. Owns no files on disk. Routes are split per resource under `routes/`;
//! `routes/build.rs` is the place for `POST /build` (the builder's).
//!
//! Public surface: [`serve_unix`] (every route, the `/vX.Y` prefix, Docker's headers).

pub mod body;
pub mod error;
pub mod hijack;
pub mod routes;
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

/// Serves the API on a UNIX socket at `path` (mode 0660) until the future is dropped.
pub async fn serve_unix(engine: Arc<Engine>, path: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    let router: Router = routes::router().with_state(engine);
    let svc = axum::middleware::from_fn(version::negotiate).layer(router);
    axum::serve(
        listener,
        ServiceExt::<axum::extract::Request>::into_make_service(svc),
    )
    .await
}
