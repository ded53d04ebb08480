//! `/_ping`, `/version`, `/info`, `/events`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_ping", get(ping).head(ping_head))
        .route("/version", get(version))
        .route("/info", get(info))
}

fn ping_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("Builder-Version", HeaderValue::from_static("1"));
    h.insert("Swarm", HeaderValue::from_static("inactive"));
    h.insert(
        "Cache-Control",
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert("Pragma", HeaderValue::from_static("no-cache"));
    h.insert(
        "Content-Type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

async fn ping() -> Response {
    ping_headers("OK".into_response())
}

async fn ping_head() -> Response {
    let mut resp = ping_headers(().into_response());
    resp.headers_mut()
        .insert("Content-Length", HeaderValue::from_static("0"));
    resp
}

async fn version() -> impl IntoResponse {
    Json(berth_engine::system::version())
}

async fn info(State(engine): State<AppState>) -> impl IntoResponse {
    Json(engine.info())
}
