//! Images from containers and files in and out of them: `POST /commit`,
//! `GET /containers/{id}/changes`, `GET /containers/{id}/export` and
//! `HEAD|GET|PUT /containers/{id}/archive` (with `X-Docker-Container-Path-Stat`).

use std::io::Write;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_engine::container::commit::CommitRequest;
use berth_engine::container::extract::PutOptions;
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

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

/// A `Write` that hands 64 KiB chunks to the response body; used on a blocking thread. A
/// client that went away makes writes fail, which stops the walk.
struct ChunkWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Streams the tar `run` writes. An error before the first byte is the response's status;
/// one after it cuts the body short (the client sees a broken transfer, not a valid tar).
async fn tar_stream<F, Fut>(run: F) -> ApiResult<Response>
where
    F: FnOnce(Box<dyn Write + Send>) -> Fut,
    Fut: Future<Output = berth_engine::Result<()>> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let writer = ChunkWriter {
        tx: tx.clone(),
        buf: Vec::with_capacity(CHUNK),
    };
    let fut = run(Box::new(writer));
    let mut task = tokio::spawn(async move {
        let res = fut.await;
        if let Err(e) = &res {
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
        res
    });
    let first = tokio::select! {
        biased;
        chunk = rx.recv() => chunk,
        res = &mut task => {
            match res {
                Ok(Err(e)) => return Err(e.into()),
                Err(e) => return Err(ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: format!("archive task: {e}"),
                }),
                Ok(Ok(())) => rx.recv().await,
            }
        }
    };
    // The task's own error report, before any data: answer it as the status.
    if matches!(first, Some(Err(_))) {
        return match task.await {
            Ok(Err(e)) => Err(e.into()),
            _ => Err(ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "archive task failed".into(),
            }),
        };
    }
    let head = futures_util::stream::iter(first);
    let rest =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    Ok(super::streamed(head.chain(rest), "application/x-tar"))
}

async fn export(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    tar_stream(|out| async move { e.export_container(&id, out).await }).await
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
    let path = path_of(&q)?.to_string();
    let stat = e.container_path_stat(&id, &path).await?;
    let resp =
        tar_stream(|out| async move { e.container_archive(&id, &path, out).await.map(drop) })
            .await?;
    Ok(with_stat(resp, &stat))
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
