//! `POST /build`: the legacy builder's endpoint (what `DOCKER_BUILDKIT=0 docker build` calls).
//! A thin translation: the tar context body is read on a blocking thread by berth-build, whose
//! JSON stream lines (`{"stream"}`, `{"aux"}`, `{"errorDetail"}`) are sent as chunks as they come.
//! As moby does, a build that fails before anything was streamed (bad query, bad context,
//! Dockerfile syntax error) answers an HTTP error instead of a stream.

use std::convert::Infallible;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::sync::mpsc;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/build", post(build))
        .route("/build/prune", post(prune))
}

/// `POST /build/prune` (`docker builder prune`): `all`, `filters` (`until`, `id`);
/// `keep-storage` is accepted and ignored (the cache index holds no layers of its own).
async fn prune(State(e): State<AppState>, Query(q): Query<super::query::Q>) -> ApiResult<Response> {
    let all = super::query::flag(&q, "all");
    let filters = super::query::str(&q, "filters");
    Ok(axum::Json(e.prune_build_cache(all, filters).await?).into_response())
}

/// The message of an `{"error": ...}` stream line, if `line` is one.
fn error_of(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line.trim_end()).ok()?;
    v.get("error")?.as_str().map(str::to_owned)
}

async fn build(
    State(e): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
    body: Body,
) -> ApiResult<Response> {
    let reader = crate::body::BodyReader::new(body);
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let handle = tokio::runtime::Handle::current();
    let engine = e.clone();
    // The client going away drops the response stream and its receiver: that cancels the
    // build (as moby's request context does), killing a running RUN.
    let cancel = berth_engine::build::Cancel::default();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = tx.clone();
    let cancel_on_close = cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = watcher.closed() => cancel_on_close.cancel(),
            _ = done_rx => {}
        }
    });
    tokio::task::spawn_blocking(move || {
        let pull = |reference: &str, progress: &mut dyn FnMut(serde_json::Value)| {
            engine.pull_for_build(&handle, reference, progress)
        };
        let builder = engine.builder().clone();
        berth_engine::build::serve_build(&builder, &query, reader, &pull, &cancel, &mut |line| {
            if tx.send(line).is_err() {
                cancel.cancel();
            }
        });
        let _ = done_tx.send(());
    });
    // Nothing streamed yet: a failure now is the request's status, as in moby.
    let first = rx.recv().await;
    if let Some(msg) = first.as_deref().and_then(error_of) {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: msg,
        });
    }
    let head = futures_util::stream::iter(first.map(|l| Ok::<_, Infallible>(Bytes::from(l))));
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|l| (Ok::<_, Infallible>(Bytes::from(l)), rx))
    });
    Ok(super::streamed(
        futures_util::StreamExt::chain(head, rest),
        "application/json",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_are_recognised() {
        let line = berth_engine::build::error_json("dockerfile parse error on line 2");
        assert_eq!(
            error_of(&line).as_deref(),
            Some("dockerfile parse error on line 2")
        );
        assert_eq!(error_of("{\"stream\":\"Step 1/2 : FROM a\\n\"}\r\n"), None);
        assert_eq!(error_of("not json"), None);
    }
}
