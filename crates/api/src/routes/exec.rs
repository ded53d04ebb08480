//! Exec: `POST /containers/{id}/exec`, `POST /exec/{id}/start` (hijacked), `/exec/{id}/resize`,
//! `GET /exec/{id}/json`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_engine::exec::ExecConfig;
use serde::Deserialize;
use serde_json::json;

use super::containers::parse_json;
use super::query::{self, Q};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::hijack;
use crate::version::ApiVersion;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/exec", post(create))
        .route("/exec/{id}/start", post(start))
        .route("/exec/{id}/resize", post(resize))
        .route("/exec/{id}/json", get(inspect))
}

async fn create(
    State(e): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let cfg: ExecConfig = parse_json(&body)?;
    let exec_id = e.create_exec(&id, cfg)?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": exec_id }))).into_response())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    tty: bool,
}

async fn start(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Extension(v): Extension<ApiVersion>,
    mut req: Request,
) -> ApiResult<Response> {
    let upgrade = hijack::wants_upgrade(&req);
    // docker-py (and compose, built on it) can drop bytes that arrive in the same read as the
    // 101 head (reference/crates.md): for it alone the first bytes wait a moment
    let pause = std::time::Duration::from_millis(if is_docker_py(&req) { 50 } else { 0 });
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let body = axum::body::to_bytes(std::mem::take(req.body_mut()), 1 << 20)
        .await
        .map_err(|err| ApiError::bad_request(format!("read body: {err}")))?;
    let sb: StartBody = if body.is_empty() {
        StartBody::default()
    } else {
        parse_json(&body)?
    };
    let es = match e.start_exec(&id, Some(sb.tty)).await {
        Ok(es) => es,
        // as moby: an attached client gets its stream, and the failure written on it (the
        // CLI prints it and exits with the exec's code, 127 or 126); detached, the error
        Err(berth_engine::Error::ExecStartFailed { message, .. }) if !sb.detach => {
            let ct = hijack::stream_content_type(v, sb.tty);
            let text = format!("{message}\r\n");
            // on stdout: a stdcopy frame without a tty, raw with one
            let line = if sb.tty {
                Bytes::from(text)
            } else {
                let mut framed = vec![1u8, 0, 0, 0];
                framed.extend_from_slice(&(text.len() as u32).to_be_bytes());
                framed.extend_from_slice(text.as_bytes());
                Bytes::from(framed)
            };
            if let Some(on_upgrade) = on_upgrade {
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    if let Ok(upgraded) = on_upgrade.await {
                        let mut client = hyper_util::rt::TokioIo::new(upgraded);
                        tokio::time::sleep(pause).await;
                        let _ = client.write_all(&line).await;
                        let _ = client.shutdown().await;
                    }
                });
                return Ok(hijack::switching_protocols(ct));
            }
            let once =
                futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(line) });
            return Ok(super::streamed(once, ct));
        }
        Err(err) => return Err(err.into()),
    };
    if sb.detach {
        let engine = e.clone();
        tokio::spawn(async move {
            let mut s = es.stream;
            let _ = tokio::io::copy(&mut s, &mut tokio::io::sink()).await;
            engine.exec_finished(&id);
        });
        return Ok(StatusCode::OK.into_response());
    }
    let ct = hijack::stream_content_type(v, es.tty);
    let engine = e.clone();
    if let Some(on_upgrade) = on_upgrade {
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                engine.exec_finished(&id);
                return;
            };
            let client = hyper_util::rt::TokioIo::new(upgraded);
            tokio::time::sleep(pause).await;
            hijack::pipe(client, es.stream, || engine.exec_finished(&id)).await;
        });
        return Ok(hijack::switching_protocols(ct));
    }
    let stream = futures_util::stream::unfold(Some(es.stream), move |s| {
        let engine = engine.clone();
        let id = id.clone();
        async move {
            use tokio::io::AsyncReadExt;
            let mut s = s?;
            let mut buf = vec![0u8; 32 * 1024];
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    engine.exec_finished(&id);
                    None
                }
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::convert::Infallible>(Bytes::from(buf)), Some(s)))
                }
            }
        }
    });
    Ok(super::streamed(stream, ct))
}

async fn resize(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Response> {
    let (h, w) = query::terminal_size(&q)?;
    e.resize_exec(&id, h, w).await?;
    Ok(StatusCode::OK.into_response())
}

async fn inspect(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(e.inspect_exec(&id)?).into_response())
}

/// Whether the client is docker-py: its own User-Agent (`docker-sdk-python/7.1.0`) or one that
/// names it (compose 1.x: `docker-compose/1.29.2 docker-py/5.0.3 ...`).
fn is_docker_py(req: &Request) -> bool {
    req.headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains("docker-sdk-python") || ua.contains("docker-py"))
}
