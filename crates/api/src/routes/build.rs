//! `POST /build`: the legacy builder's endpoint, reserved for the builder engineer (berth-build).
//! Until it is filled, the route answers Docker's "not implemented" so clients get a clear error
//! instead of a 404 that looks like a missing daemon feature.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;

use crate::AppState;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new().route("/build", post(build))
}

async fn build() -> ApiError {
    ApiError {
        status: StatusCode::NOT_IMPLEMENTED,
        message: "image builds are not available in this daemon yet".into(),
    }
}
