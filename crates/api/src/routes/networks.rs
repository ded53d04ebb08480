//! `/networks/...`: list, inspect, create, remove, connect, disconnect.

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
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
        .route("/networks/prune", post(prune))
}

async fn list(
    State(e): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<super::query::Q>,
) -> ApiResult<Response> {
    Ok(Json(e.list_networks(super::query::str(&q, "filters"))?).into_response())
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

/// The body of connect and disconnect: its `Container` (required, Docker's 400 when missing or
/// empty) and the whole object for the other fields.
fn container_body(body: &Bytes) -> ApiResult<(String, Value)> {
    let body: Value = parse_json(body)?;
    let container = body
        .get("Container")
        .and_then(|c| c.as_str())
        .unwrap_or_default()
        .to_string();
    if container.is_empty() {
        return Err(crate::error::ApiError::bad_request("Container is required"));
    }
    Ok((container, body))
}

async fn connect(
    State(e): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let (container, body) = container_body(&body)?;
    e.connect_network(
        &id,
        &container,
        body.get("EndpointConfig").filter(|v| !v.is_null()).cloned(),
    )
    .await?;
    Ok(StatusCode::OK.into_response())
}

async fn disconnect(
    State(e): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let (container, _) = container_body(&body)?;
    e.disconnect_network(&id, &container).await?;
    Ok(StatusCode::OK.into_response())
}

async fn prune(
    State(e): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<super::query::Q>,
) -> ApiResult<Response> {
    let filters = super::query::str(&q, "filters");
    Ok(Json(e.prune_networks(filters).await?).into_response())
}
