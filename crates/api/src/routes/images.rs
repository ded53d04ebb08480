//! `/images/...`: list, inspect, history, tag, remove, load, save, import. Image names may
//! contain `/` and `:`, so per-image routes go through one wildcard and are split by suffix.

use std::convert::Infallible;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::json;

use super::query::{self, Q};
use crate::AppState;
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/load", post(load))
        .route("/images/create", post(create))
        .route("/images/get", get(save))
        .route("/images/prune", post(prune))
        .route("/images/{*rest}", any(per_image))
}

/// One JSON message line of a progress stream (`\r\n`-terminated, as moby writes them).
fn message(v: serde_json::Value) -> Bytes {
    let mut b = serde_json::to_vec(&v).unwrap_or_default();
    b.extend_from_slice(b"\r\n");
    Bytes::from(b)
}

fn json_stream(lines: Vec<Bytes>) -> Response {
    let stream = futures_util::stream::iter(lines.into_iter().map(Ok::<_, Infallible>));
    super::streamed(stream, "application/json")
}

async fn list(State(e): State<AppState>, Query(q): Query<Q>) -> ApiResult<Response> {
    Ok(Json(e.list_images(query::flag(&q, "all")).await?).into_response())
}

async fn load(State(e): State<AppState>, Query(q): Query<Q>, body: Body) -> ApiResult<Response> {
    let _quiet = query::flag(&q, "quiet");
    match e
        .load_images(Box::new(crate::body::BodyReader::new(body)))
        .await
    {
        Ok(loaded) => {
            let lines = loaded
                .iter()
                .map(|l| message(json!({"stream": format!("{l}\n")})))
                .collect();
            Ok(json_stream(lines))
        }
        Err(err) => Err(ApiError::from(err)),
    }
}

/// `fromSrc=-` imports the body; `fromImage` pulls (not served yet).
fn registry_auth(headers: &axum::http::HeaderMap) -> Option<berth_engine::registry::Credentials> {
    headers
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .and_then(berth_engine::registry::decode_auth)
}

fn transfer_stream(t: berth_engine::registry::Transfer) -> Response {
    let stream = futures_util::stream::unfold(t.rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|m| (Ok::<_, Infallible>(message(m)), rx))
    });
    super::streamed(stream, "application/json")
}

async fn create(
    State(e): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let q: Q = pairs.iter().cloned().collect();
    let from_src = query::str(&q, "fromSrc");
    if from_src == "-" {
        let repo = query::str(&q, "repo");
        let tag = query::str(&q, "tag");
        let reference = match (repo, tag) {
            ("", _) => None,
            (r, "") => Some(r.to_string()),
            (r, t) => Some(format!("{r}:{t}")),
        };
        let changes: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| *k == "changes")
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .collect();
        let id = e
            .import_image(
                Box::new(crate::body::BodyReader::new(body)),
                reference,
                changes,
            )
            .await?;
        return Ok(json_stream(vec![message(json!({"status": id}))]));
    }
    if !from_src.is_empty() {
        return Err(ApiError::bad_request(
            "importing from a URL is not supported",
        ));
    }
    let image = query::str(&q, "fromImage");
    if image.is_empty() {
        return Err(ApiError::bad_request("fromImage or fromSrc is required"));
    }
    let tag = query::str(&q, "tag");
    let reference = if tag.is_empty() || image.contains('@') {
        image.to_string()
    } else if tag.starts_with("sha256:") {
        format!("{image}@{tag}")
    } else {
        format!("{image}:{tag}")
    };
    let platform = Some(query::str(&q, "platform"))
        .filter(|p| !p.is_empty())
        .map(str::to_owned);
    let t = e
        .pull_image(reference, registry_auth(&headers), platform)
        .await?;
    Ok(transfer_stream(t))
}

async fn save(State(e): State<AppState>, Query(q): Query<Q>) -> ApiResult<Response> {
    let names: Vec<String> = query::str(&q, "names")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    tar_response(e.save_images(names).await?)
}

fn tar_response(data: Vec<u8>) -> ApiResult<Response> {
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(Bytes::from(data)) });
    Ok(super::streamed(stream, "application/x-tar"))
}

async fn per_image(
    State(e): State<AppState>,
    Path(rest): Path<String>,
    Query(q): Query<Q>,
    method: Method,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let suffix = |s: &str| {
        rest.strip_suffix(s)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
    };
    match method {
        Method::GET => {
            if let Some(name) = suffix("/json") {
                return Ok(Json(e.inspect_image(&name).await?).into_response());
            }
            if let Some(name) = suffix("/history") {
                return Ok(Json(e.image_history(&name).await?).into_response());
            }
            if let Some(name) = suffix("/get") {
                return tar_response(e.save_images(vec![name]).await?);
            }
        }
        Method::POST => {
            if let Some(name) = suffix("/tag") {
                e.tag_image(&name, query::str(&q, "repo"), query::str(&q, "tag"))
                    .await?;
                return Ok(StatusCode::CREATED.into_response());
            }
            if let Some(name) = suffix("/push") {
                let tag = query::str(&q, "tag");
                let reference = if tag.is_empty() {
                    name
                } else {
                    format!("{name}:{tag}")
                };
                let t = e.push_image(reference, registry_auth(&headers)).await?;
                return Ok(transfer_stream(t));
            }
        }
        Method::DELETE => {
            let removed = e.remove_image(&rest, query::flag(&q, "force")).await?;
            return Ok(Json(removed).into_response());
        }
        _ => {}
    }
    Err(ApiError::not_found(format!(
        "page not found: /images/{rest}"
    )))
}

async fn prune(State(e): State<AppState>, Query(q): Query<Q>) -> ApiResult<Response> {
    let filters = berth_engine::container::inspect::parse_filters(query::str(&q, "filters"))?;
    let all = filters
        .get("dangling")
        .is_some_and(|v| v.iter().any(|x| x == "false" || x == "0"));
    Ok(Json(e.prune_images(all).await?).into_response())
}
