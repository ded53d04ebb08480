//! `/volumes/...`: list, inspect, create, remove, prune.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::containers::parse_json;
use super::query::{self, Q};
use crate::AppState;
use crate::error::ApiResult;
use crate::version::ApiVersion;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).delete(remove))
}

async fn list(State(e): State<AppState>) -> ApiResult<Response> {
    let vols: Vec<_> = e.list_volumes()?.iter().map(|v| v.json()).collect();
    Ok(Json(json!({"Volumes": vols, "Warnings": []})).into_response())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    labels: Option<BTreeMap<String, String>>,
}

async fn create(State(e): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let b: CreateBody = if body.is_empty() {
        CreateBody::default()
    } else {
        parse_json(&body)?
    };
    if !b.driver.is_empty() && b.driver != "local" {
        return Err(crate::error::ApiError::not_found(format!(
            "plugin \"{}\" not found",
            b.driver
        )));
    }
    let v = e.create_volume(Some(&b.name), b.labels.unwrap_or_default(), false)?;
    Ok((StatusCode::CREATED, Json(v.json())).into_response())
}

async fn inspect(State(e): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    Ok(Json(e.inspect_volume(&name)?.json()).into_response())
}

async fn remove(
    State(e): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Response> {
    e.remove_volume(&name, query::flag(&q, "force"))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn prune(
    State(e): State<AppState>,
    Query(q): Query<Q>,
    Extension(v): Extension<ApiVersion>,
) -> ApiResult<Response> {
    let filters = berth_engine::container::inspect::parse_filters(query::str(&q, "filters"))?;
    let all = v < ApiVersion(1, 42)
        || filters
            .get("all")
            .is_some_and(|a| a.iter().any(|x| x == "true" || x == "1"));
    Ok(Json(e.prune_volumes(all)?).into_response())
}
