//! `/networks/...`: list, inspect, create, remove, prune (connect/disconnect of a running
//! container are not served yet).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use super::containers::parse_json;
use crate::AppState;
use crate::error::ApiResult;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create))
        .route("/networks/{id}", get(inspect).delete(remove))
}

async fn list(State(e): State<AppState>) -> ApiResult<Response> {
    Ok(Json(e.list_networks()?).into_response())
}

async fn inspect(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(e.inspect_network(&id)?).into_response())
}

async fn create(State(e): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let body: Value = parse_json(&body)?;
    let created = e.create_network(&body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn remove(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    e.remove_network(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
