//! Every route, registered without the version prefix (the middleware strips it). One module
//! per resource, as Podman's `compat/` handlers.

pub mod archive;
pub mod build;
pub mod containers;
pub mod exec;
pub mod images;
pub mod networks;
pub mod query;
pub mod system;
pub mod volumes;

use axum::Router;

use crate::AppState;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(system::routes())
        .merge(system::more_routes())
        .merge(containers::routes())
        .merge(exec::routes())
        .merge(images::routes())
        .merge(networks::routes())
        .merge(volumes::routes())
        .merge(build::routes())
        .merge(archive::routes())
        .fallback(|uri: axum::http::Uri| async move {
            ApiError::not_found(format!("page not found: {}", uri.path()))
        })
}
