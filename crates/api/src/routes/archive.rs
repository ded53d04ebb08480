//! Images from containers and files in and out of them: `POST /commit`,
//! `GET /containers/{id}/changes`, `GET /containers/{id}/export` and
//! `HEAD|GET|PUT /containers/{id}/archive` (with `X-Docker-Container-Path-Stat`).

use std::convert::Infallible;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_engine::container::commit::CommitRequest;
use berth_engine::container::extract::PutOptions;
use serde_json::json;

use super::query::{self, Q};
use crate::AppState;
use crate::error::{ApiError, ApiResult};

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/commit", post(commit))
        .route("/containers/{id}/changes", get(changes))
        .route("/containers/{id}/export", get(export))
        .route(
            "/containers/{id}/archive",
            get(get_archive).head(head_archive).put(put_archive),
        )
}

async fn commit(
    State(e): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
    body: Bytes,
) -> ApiResult<Response> {
    let q: Q = pairs.iter().cloned().collect();
    let container = query::str(&q, "container");
    if container.is_empty() {
        return Err(ApiError::bad_request("container is required"));
    }
    let reference = match (query::str(&q, "repo"), query::str(&q, "tag")) {
        ("", "") => None,
        ("", _) => return Err(ApiError::bad_request("tag given without a repository")),
        (r, "") => Some(r.to_string()),
        (r, t) => Some(format!("{r}:{t}")),
    };
    let config = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<serde_json::Value>(&body)
            .map_err(|err| ApiError::bad_request(format!("invalid commit config: {err}")))?
            .as_object()
            .map(|o| serde_json::Value::Object(o.clone()))
    };
    let req = CommitRequest {
        reference,
        comment: q.get("comment").cloned(),
        author: q.get("author").cloned(),
        pause: !q.contains_key("pause") || query::flag(&q, "pause"),
        changes: pairs
            .iter()
            .filter(|(k, v)| k == "changes" && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect(),
        config,
    };
    let id = e.commit_container(container, req).await?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": id }))).into_response())
}

async fn changes(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(e.container_changes(&id).await?).into_response())
}

fn tar_body(data: Vec<u8>) -> Response {
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(Bytes::from(data)) });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    resp
}

async fn export(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(tar_body(e.export_container(&id).await?))
}

fn path_of(q: &Q) -> ApiResult<&str> {
    match query::str(q, "path") {
        "" => Err(ApiError::bad_request("bad parameter: path cannot be empty")),
        p => Ok(p),
    }
}

fn with_stat(mut resp: Response, stat: &berth_engine::container::archive::PathStat) -> Response {
    if let Ok(v) = HeaderValue::from_str(&stat.header_value()) {
        resp.headers_mut().insert(STAT_HEADER, v);
    }
    resp
}

async fn head_archive(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Response> {
    let stat = e.container_path_stat(&id, path_of(&q)?).await?;
    Ok(with_stat(StatusCode::OK.into_response(), &stat))
}

async fn get_archive(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Response> {
    let (stat, data) = e.container_archive(&id, path_of(&q)?).await?;
    Ok(with_stat(tar_body(data), &stat))
}

async fn put_archive(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
    body: Body,
) -> ApiResult<Response> {
    let path = path_of(&q)?;
    let opts = PutOptions {
        copy_uid_gid: query::flag(&q, "copyUIDGID"),
        no_overwrite_dir_non_dir: query::flag(&q, "noOverwriteDirNonDir"),
    };
    e.put_container_archive(
        &id,
        path,
        Box::new(crate::body::BodyReader::new(body)),
        opts,
    )
    .await?;
    Ok(StatusCode::OK.into_response())
}
