//! API version negotiation: strips an optional `/vX.Y` prefix, refuses versions outside
//! [MinAPIVersion, ApiVersion] as moby does, records the version for handlers, and adds Docker's
//! headers (`Api-Version`, `Ostype`, `Server`, `Docker-Experimental`) to every response.

use axum::extract::Request;
use axum::http::{HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_engine::model::{API_VERSION, ENGINE_VERSION, MIN_API_VERSION};

use crate::error::ApiError;

/// The API version a request was made at, as (major, minor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (a, b) = s.split_once('.')?;
        Some(ApiVersion(a.parse().ok()?, b.parse().ok()?))
    }

    pub fn current() -> ApiVersion {
        ApiVersion::parse(API_VERSION).unwrap_or(ApiVersion(1, 44))
    }
}

/// Splits `/v1.41/containers/json` into (`1.41`, `/containers/json`).
fn split_version(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v")?;
    let slash = rest.find('/')?;
    let (v, tail) = rest.split_at(slash);
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')).then_some((v, tail))
}

pub async fn negotiate(mut req: Request, next: Next) -> Response {
    crate::memory::note_request();
    let mut version = ApiVersion::current();
    if let Some((v, tail)) = split_version(req.uri().path()) {
        let Some(parsed) = ApiVersion::parse(v) else {
            return with_headers(
                ApiError::bad_request(format!("invalid API version {v}")).into_response(),
            );
        };
        if parsed > ApiVersion::current() {
            return with_headers(
                ApiError::bad_request(format!(
                    "client version {v} is too new. Maximum supported API version is {API_VERSION}"
                ))
                .into_response(),
            );
        }
        if parsed < ApiVersion::parse(MIN_API_VERSION).unwrap_or(ApiVersion(1, 24)) {
            return with_headers(
                ApiError::bad_request(format!(
                    "client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
                ))
                .into_response(),
            );
        }
        version = parsed;
        let pq = match req.uri().query() {
            Some(q) => format!("{tail}?{q}"),
            None => tail.to_string(),
        };
        if let Ok(uri) = pq.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    req.extensions_mut().insert(version);
    // as dockerd's "Calling METHOD PATH" debug line, with the time to the response's headers
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let t0 = std::time::Instant::now();
    let resp = next.run(req).await;
    tracing::debug!(%method, %path, status = resp.status().as_u16(), us = t0.elapsed().as_micros(), "served");
    with_headers(resp)
}

fn with_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    if let Ok(v) = HeaderValue::from_str(&format!("Docker/{ENGINE_VERSION} (linux)")) {
        h.insert("Server", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefix_is_split() {
        assert_eq!(
            split_version("/v1.41/containers/json"),
            Some(("1.41", "/containers/json"))
        );
        assert_eq!(split_version("/volumes/x"), None);
        assert_eq!(split_version("/vx/y"), None);
        assert!(ApiVersion::parse("1.24").unwrap() < ApiVersion::parse("1.44").unwrap());
        assert!(ApiVersion::parse("1.9").unwrap() < ApiVersion::parse("1.10").unwrap());
    }
}
