//! `/containers/...`: create, list, inspect, start, stop, restart, kill, wait, attach, logs,
//! resize, rename, pause, unpause, remove.

use std::convert::Infallible;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use berth_engine::container::logs::LogOptions;
use berth_engine::error::Error;
use berth_engine::model::CreateRequest;

use super::query::{self, Q};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::hijack;
use crate::version::ApiVersion;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/create", post(create))
        .route("/containers/json", get(list))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}/attach", post(attach))
        .route("/containers/{id}/logs", get(logs))
        .route("/containers/{id}/resize", post(resize))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/pause", post(pause))
        .route("/containers/{id}/unpause", post(unpause))
        .route("/containers/{id}", delete(remove))
        .route("/containers/{id}/stats", get(stats))
        .route("/containers/{id}/top", get(top))
        .route("/containers/prune", post(prune))
        .route("/containers/{id}/update", post(update))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A JSON body parsed with a message that names the problem (Docker answers 400).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::bad_request("request body is empty"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

async fn create(State(e): State<AppState>, Query(q): Query<Q>, body: Bytes) -> ApiResult<Response> {
    let req: CreateRequest = parse_json(&body)?;
    let name = q.get("name").map(String::as_str);
    let resp = e.create_container(name, req).await?;
    Ok((StatusCode::CREATED, Json(resp)).into_response())
}

async fn list(State(e): State<AppState>, Query(q): Query<Q>) -> ApiResult<Response> {
    let limit = query::int(&q, "limit")?
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let list = e.list_containers(query::flag(&q, "all"), limit, query::str(&q, "filters"))?;
    Ok(Json(list).into_response())
}

async fn inspect(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(e.inspect_container(&id)?).into_response())
}

async fn start(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    e.start(&id).await?;
    Ok(no_content())
}

async fn stop(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Response> {
    let signal = q.get("signal").map(String::as_str);
    e.stop(&id, query::int(&q, "t")?, signal).await?;
    Ok(no_content())
}

async fn restart(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Response> {
    e.restart(&id, query::int(&q, "t")?).await?;
    Ok(no_content())
}

async fn kill(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Response> {
    e.kill(&id, query::str(&q, "signal")).await?;
    Ok(no_content())
}

/// Headers go out at once (the CLI waits for them before it sends `start`); the body follows
/// when the condition is met.
/// moby's `postContainersWait`: the condition is checked before the container is looked up;
/// before API 1.30 there was no condition and the parameter is ignored.
fn wait_condition(q: &Q, v: ApiVersion) -> Result<&str, ApiError> {
    if v < ApiVersion(1, 30) {
        return Ok("");
    }
    match query::str(q, "condition") {
        c @ ("" | "not-running" | "next-exit" | "removed") => Ok(c),
        other => Err(ApiError::from(Error::InvalidParameter(format!(
            "invalid condition: {other:?}"
        )))),
    }
}

async fn wait(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
    Extension(v): Extension<ApiVersion>,
) -> ApiResult<Response> {
    let condition = wait_condition(&q, v)?;
    let fut = e.wait(&id, condition)?;
    let stream = futures_util::stream::once(async move {
        let body = fut.await;
        let mut v = serde_json::to_vec(&body).unwrap_or_default();
        v.push(b'\n');
        Ok::<_, Infallible>(Bytes::from(v))
    });
    Ok(super::streamed(stream, "application/json"))
}

async fn attach(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
    Extension(v): Extension<ApiVersion>,
    mut req: Request,
) -> ApiResult<Response> {
    let stdin = query::flag(&q, "stdin");
    let stdout = query::flag(&q, "stdout");
    let stderr = query::flag(&q, "stderr");
    let target = e.attach(&id, stdin, stdout, stderr).await?;
    let ct = hijack::stream_content_type(v, target.tty);
    if hijack::wants_upgrade(&req) {
        return Ok(hijack::upgrade(&mut req, ct, target.stream, || {}));
    }
    // no upgrade asked: stream the output as the response body
    let stream = futures_util::stream::once(target.stream)
        .filter_map(|s| async move { s })
        .flat_map(tokio_util_reader);
    Ok(super::streamed(stream, ct))
}

use futures_util::StreamExt;

fn tokio_util_reader(
    s: tokio::net::UnixStream,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(s, |mut s| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 32 * 1024];
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), s))
            }
        }
    })
}

async fn logs(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
    Extension(v): Extension<ApiVersion>,
) -> ApiResult<Response> {
    let stdout = query::flag(&q, "stdout");
    let stderr = query::flag(&q, "stderr");
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let tail = match query::str(&q, "tail") {
        "" | "all" => None,
        t => Some(
            t.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid value for tail: {t:?}")))?,
        ),
    };
    let opts = LogOptions {
        follow: query::flag(&q, "follow"),
        stdout,
        stderr,
        since: query::time(&q, "since")?,
        until: query::time(&q, "until")?,
        timestamps: query::flag(&q, "timestamps"),
        tail,
        details: query::flag(&q, "details"),
    };
    let ls = e.logs(&id, opts)?;
    let ct = hijack::stream_content_type(v, ls.tty);
    let stream = futures_util::stream::unfold(ls.rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Ok(super::streamed(stream, ct))
}

async fn resize(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Response> {
    let (h, w) = query::terminal_size(&q)?;
    e.resize(&id, h, w).await?;
    Ok(StatusCode::OK.into_response())
}

async fn rename(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Response> {
    e.rename(&id, query::str(&q, "name")).await?;
    Ok(no_content())
}

async fn pause(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    e.pause(&id, true).await?;
    Ok(no_content())
}

async fn unpause(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    e.pause(&id, false).await?;
    Ok(no_content())
}

async fn remove(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Response> {
    e.remove_container(&id, query::flag(&q, "force"), query::flag(&q, "v"))
        .await?;
    Ok(no_content())
}

async fn top(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(e.top(&id)?).into_response())
}

async fn prune(State(e): State<AppState>) -> ApiResult<Response> {
    Ok(Json(e.prune_containers().await?).into_response())
}

/// One object (`stream=0`) or one a second; `precpu_stats` is the previous sample (for a
/// one-shot, a sample taken 100 ms before, so the CPU figure is not zero).
async fn stats(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Response> {
    let (cid, name, _) = e.stats_target(&id)?;
    let stream = q.get("stream").is_none_or(|_| query::flag(&q, "stream"));
    let one_shot = query::flag(&q, "one-shot");
    if !stream {
        let engine = e.clone();
        let (c2, n2) = (cid.clone(), name.clone());
        let body = tokio::task::spawn_blocking(move || {
            let pre = (!one_shot).then(|| {
                let p = engine.sample(&c2);
                std::thread::sleep(std::time::Duration::from_millis(100));
                p
            });
            let cur = engine.sample(&c2);
            engine.stats_json(&c2, &n2, &cur, pre.as_ref())
        })
        .await
        .map_err(|err| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: err.to_string(),
        })?;
        return Ok(Json(body).into_response());
    }
    let engine = e.clone();
    let s = futures_util::stream::unfold(None, move |pre: Option<berth_engine::stats::Sample>| {
        let engine = engine.clone();
        let (cid, name) = (cid.clone(), name.clone());
        async move {
            if pre.is_some() {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            let running = engine.stats_target(&cid).map(|t| t.2).unwrap_or(false);
            if pre.is_some() && !running {
                return None;
            }
            let (json, cur) = tokio::task::spawn_blocking(move || {
                let cur = engine.sample(&cid);
                (engine.stats_json(&cid, &name, &cur, pre.as_ref()), cur)
            })
            .await
            .ok()?;
            let mut b = serde_json::to_vec(&json).unwrap_or_default();
            b.push(b'\n');
            Some((Ok::<_, Infallible>(Bytes::from(b)), Some(cur)))
        }
    });
    Ok(super::streamed(s, "application/json"))
}

async fn update(
    State(e): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: berth_engine::container::update::UpdateRequest = parse_json(&body)?;
    let warnings = e.update_container(&id, req).await?;
    Ok(Json(serde_json::json!({ "Warnings": warnings })).into_response())
}
