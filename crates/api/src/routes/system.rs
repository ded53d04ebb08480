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

pub fn more_routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(events))
        .route("/system/df", get(df))
        .route("/auth", axum::routing::post(auth))
}

async fn df(State(engine): State<AppState>) -> crate::error::ApiResult<Response> {
    Ok(Json(engine.disk_usage().await?).into_response())
}

/// `docker login`: credentials are checked by the registry at pull/push time; the CLI stores
/// them itself.
async fn auth() -> Response {
    Json(serde_json::json!({"IdentityToken": "", "Status": "Login Succeeded"})).into_response()
}

fn event_matches(
    ev: &berth_engine::events::Event,
    filters: &std::collections::HashMap<String, Vec<String>>,
) -> bool {
    for (k, vals) in filters {
        if vals.is_empty() {
            continue;
        }
        let ok = match k.as_str() {
            "type" => vals.contains(&ev.kind),
            "event" => vals.contains(&ev.action),
            "container" => {
                ev.kind == "container"
                    && vals.iter().any(|v| {
                        ev.actor.id.starts_with(v.as_str())
                            || ev.actor.attributes.get("name") == Some(v)
                    })
            }
            "image" => vals
                .iter()
                .any(|v| ev.actor.attributes.get("image") == Some(v) || ev.actor.id == *v),
            "network" => {
                ev.kind == "network"
                    && vals.iter().any(|v| {
                        ev.actor.id.starts_with(v.as_str())
                            || ev.actor.attributes.get("name") == Some(v)
                    })
            }
            "volume" => ev.kind == "volume" && vals.contains(&ev.actor.id),
            "label" => vals.iter().any(|v| match v.split_once('=') {
                Some((a, b)) => ev.actor.attributes.get(a).is_some_and(|x| x == b),
                None => ev.actor.attributes.contains_key(v),
            }),
            "scope" => vals.iter().any(|v| v == "local"),
            "daemon" => ev.kind == "daemon",
            // swarm objects: none exist on this engine
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// `GET /events`: past events since `since`, then live ones until `until` (or forever).
async fn events(
    State(engine): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<super::query::Q>,
) -> crate::error::ApiResult<Response> {
    use std::convert::Infallible;
    let since = super::query::time(&q, "since")?;
    let until = super::query::time(&q, "until")?;
    let filters =
        berth_engine::container::inspect::parse_filters(super::query::str(&q, "filters"))?;
    // moby's accepted keys (swarm ones match nothing here); anything else is a 400
    const KEYS: [&str; 14] = [
        "config",
        "container",
        "daemon",
        "event",
        "image",
        "label",
        "network",
        "node",
        "plugin",
        "scope",
        "secret",
        "service",
        "type",
        "volume",
    ];
    if let Some(k) = filters.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(crate::ApiError::bad_request(format!(
            "invalid filter '{k}'"
        )));
    }
    let (past, rx) = engine.events().subscribe();
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as f64 / 1e9;
    let to_bytes = |ev: &berth_engine::events::Event| {
        let mut b = serde_json::to_vec(ev).unwrap_or_default();
        b.push(b'\n');
        axum::body::Bytes::from(b)
    };
    let in_range = move |ev: &berth_engine::events::Event| {
        let t = ev.time_nano as f64 / 1e9;
        (since == 0.0 || t >= since) && (until == 0.0 || t <= until)
    };
    let past: Vec<_> = if q.get("since").is_some_and(|s| !s.is_empty()) {
        past.iter()
            .filter(|e| in_range(e) && event_matches(e, &filters))
            .map(to_bytes)
            .collect()
    } else {
        vec![]
    };
    let head = futures_util::stream::iter(past.into_iter().map(Ok::<_, Infallible>));
    let live: futures_util::stream::BoxStream<'static, Result<axum::body::Bytes, Infallible>> =
        if q.get("until").is_some_and(|s| !s.is_empty()) && until <= now {
            Box::pin(futures_util::stream::empty())
        } else {
            let deadline =
                (until > 0.0).then(|| std::time::Duration::from_secs_f64((until - now).max(0.0)));
            Box::pin(futures_util::stream::unfold(
                (
                    rx,
                    filters,
                    deadline.map(|d| tokio::time::Instant::now() + d),
                ),
                move |(mut rx, filters, end)| async move {
                    loop {
                        let next = match end {
                            Some(end) => match tokio::time::timeout_at(end, rx.recv()).await {
                                Ok(r) => r,
                                Err(_) => return None,
                            },
                            None => rx.recv().await,
                        };
                        match next {
                            Ok(ev) if event_matches(&ev, &filters) => {
                                let mut b = serde_json::to_vec(&ev).unwrap_or_default();
                                b.push(b'\n');
                                return Some((Ok(axum::body::Bytes::from(b)), (rx, filters, end)));
                            }
                            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                                continue;
                            }
                            Err(_) => return None,
                        }
                    }
                },
            ))
        };
    use futures_util::StreamExt;
    Ok(super::streamed(head.chain(live), "application/json"))
}
