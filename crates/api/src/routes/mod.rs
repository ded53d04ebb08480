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
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;

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

/// A response whose body is `stream`, sent chunked as it comes, of type `content_type`.
pub fn streamed<S>(stream: S, content_type: &'static str) -> Response
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: Into<Bytes>,
    S::Error: Into<axum::BoxError>,
{
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
