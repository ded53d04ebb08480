//! The Engine API client: one HTTP/1.1 connection per request (hijacks and waits need their own
//! anyway), API version negotiated once with `HEAD /_ping` as the docker CLI does.

pub mod lines;
pub mod transport;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, HeaderName, HeaderValue, UPGRADE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use lines::LineReader;
pub use transport::{Endpoint, Host, TlsOptions, TransportError};

/// The newest API version this client speaks; negotiated down to the daemon's.
pub const MAX_API_VERSION: &str = "1.44";
/// What an old daemon that sends no `Api-Version` header is assumed to speak (as Docker does).
const FALLBACK_API_VERSION: &str = "1.24";

/// A request body: JSON, a file or a tar built on the fly.
pub type ReqBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// The stream of a hijacked connection (attach, exec start).
pub type Hijacked = TokioIo<hyper::upgrade::Upgraded>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("Error response from daemon: {message}")]
    Api { status: u16, message: String },
    #[error("error during connect: {0}")]
    Http(#[from] hyper::Error),
    #[error("cannot decode the daemon's answer: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Protocol(String),
}

impl ClientError {
    /// The HTTP status of an API error, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// A connected, version-negotiated client.
#[derive(Clone)]
pub struct Client {
    endpoint: Endpoint,
    version: String,
    /// `Ostype` from the ping, `linux` when absent.
    pub os_type: String,
}

fn empty() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A whole body in memory.
pub fn full(bytes: impl Into<Bytes>) -> ReqBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Compares dotted API versions numerically (`1.9` < `1.41`).
pub fn version_less(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a) < parse(b)
}

impl Client {
    /// Pings the daemon and settles the API version: `DOCKER_API_VERSION` when given, else the
    /// lower of ours and the daemon's `Api-Version` header.
    pub async fn connect(endpoint: Endpoint, pinned: Option<String>) -> Result<Client> {
        let mut client = Client {
            endpoint,
            version: MAX_API_VERSION.to_string(),
            os_type: "linux".to_string(),
        };
        let ping = match client
            .req(Method::HEAD, "/_ping")
            .unversioned()
            .send_raw()
            .await
        {
            Ok(r) if r.status().is_success() || r.status() == StatusCode::INTERNAL_SERVER_ERROR => {
                r
            }
            Ok(_) | Err(ClientError::Http(_)) => {
                client
                    .req(Method::GET, "/_ping")
                    .unversioned()
                    .send_raw()
                    .await?
            }
            Err(e) => return Err(e),
        };
        let header = |name: &str| {
            ping.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if let Some(os) = header("ostype") {
            client.os_type = os;
        }
        client.version = match pinned {
            Some(v) => v,
            None => {
                let server = header("api-version").unwrap_or_else(|| FALLBACK_API_VERSION.into());
                if version_less(&server, MAX_API_VERSION) {
                    server
                } else {
                    MAX_API_VERSION.to_string()
                }
            }
        };
        Ok(client)
    }

    /// The negotiated API version.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Starts a request to `path` (without the `/vX.Y` prefix).
    pub fn req(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            client: self,
            method,
            path: path.to_string(),
            versioned: true,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            upgrade: false,
        }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.req(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Req<'_> {
        self.req(Method::POST, path)
    }

    pub fn delete(&self, path: &str) -> Req<'_> {
        self.req(Method::DELETE, path)
    }
}

/// Percent-encodes a query component or a path segment the way Go's url package would.
pub fn escape(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path segment holding a name as typed: names, IDs and image references (`/` and `:` kept).
pub fn seg(s: &str) -> String {
    escape(s, b"/:@+")
}

/// One request being built.
pub struct Req<'a> {
    client: &'a Client,
    method: Method,
    path: String,
    versioned: bool,
    query: Vec<(String, String)>,
    headers: Vec<(HeaderName, String)>,
    body: Option<ReqBody>,
    upgrade: bool,
}

impl<'a> Req<'a> {
    fn unversioned(mut self) -> Self {
        self.versioned = false;
        self
    }

    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds `key=value` when `value` is some.
    pub fn query_opt(self, key: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    /// Adds `key=1` when `on`.
    pub fn flag(self, key: &str, on: bool) -> Self {
        if on { self.query(key, "1") } else { self }
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json(mut self, body: &impl Serialize) -> Result<Self> {
        let bytes = serde_json::to_vec(body)?;
        self.headers.push((CONTENT_TYPE, "application/json".into()));
        self.body = Some(full(bytes));
        Ok(self)
    }

    pub fn body(mut self, body: ReqBody, content_type: &str) -> Self {
        self.headers.push((CONTENT_TYPE, content_type.into()));
        self.body = Some(body);
        self
    }

    fn uri(&self) -> String {
        let mut uri = if self.versioned {
            format!("/v{}{}", self.client.version, self.path)
        } else {
            self.path.clone()
        };
        for (i, (k, v)) in self.query.iter().enumerate() {
            uri.push(if i == 0 { '?' } else { '&' });
            uri.push_str(&escape(k, b""));
            uri.push('=');
            uri.push_str(&escape(v, b""));
        }
        uri
    }

    fn build(&mut self) -> Result<Request<ReqBody>> {
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri(self.uri())
            .header(HOST, "api.moby.localhost")
            .header(
                "user-agent",
                concat!("Berth-Client/", env!("CARGO_PKG_VERSION")),
            );
        if self.upgrade {
            req = req.header(CONNECTION, "Upgrade").header(UPGRADE, "tcp");
        }
        for (name, value) in &self.headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| ClientError::Protocol(format!("invalid value for header {name}")))?;
            req = req.header(name, value);
        }
        req.body(self.body.take().unwrap_or_else(empty))
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Sends the request and returns the response whatever its status.
    pub async fn send_raw(mut self) -> Result<Response<Incoming>> {
        let req = self.build()?;
        let io = self.client.endpoint.dial().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
        tokio::spawn(conn.with_upgrades());
        Ok(sender.send_request(req).await?)
    }

    /// Sends the request; a status of 400 or more becomes `ClientError::Api`.
    pub async fn send(self) -> Result<Response<Incoming>> {
        let resp = self.send_raw().await?;
        check(resp).await
    }

    /// Sends and decodes a JSON answer.
    pub async fn json_response<T: DeserializeOwned>(self) -> Result<T> {
        let resp = self.send().await?;
        let body = read_body(resp).await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// Sends and discards the answer.
    pub async fn ok(self) -> Result<()> {
        let resp = self.send().await?;
        read_body(resp).await?;
        Ok(())
    }

    /// Sends with `Upgrade: tcp` and returns the raw two-way stream after the 101.
    pub async fn hijack(mut self) -> Result<Hijacked> {
        self.upgrade = true;
        let resp = self.send().await?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(ClientError::Protocol(format!(
                "the daemon did not switch protocols for a hijacked stream (status {})",
                resp.status()
            )));
        }
        let upgraded = hyper::upgrade::on(resp).await?;
        Ok(TokioIo::new(upgraded))
    }
}

/// Turns an error status into `ClientError::Api` with the daemon's message.
pub async fn check(resp: Response<Incoming>) -> Result<Response<Incoming>> {
    let status = resp.status();
    if status.as_u16() < 400 {
        return Ok(resp);
    }
    let body = read_body(resp).await.unwrap_or_default();
    Err(ClientError::Api {
        status: status.as_u16(),
        message: error_message(status, &body),
    })
}

fn error_message(status: StatusCode, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Msg {
        message: String,
    }
    if let Ok(m) = serde_json::from_slice::<Msg>(body) {
        return m.message;
    }
    let text = String::from_utf8_lossy(body).trim().to_string();
    if text.is_empty() {
        match status {
            StatusCode::NOT_FOUND => "page not found".to_string(),
            s => format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or("error")),
        }
    } else {
        text
    }
}

/// Reads a whole response body.
pub async fn read_body(resp: Response<Incoming>) -> Result<Bytes> {
    Ok(resp.into_body().collect().await?.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_less("1.9", "1.41"));
        assert!(version_less("1.41", "1.44"));
        assert!(!version_less("1.44", "1.44"));
        assert!(!version_less("1.50", "1.44"));
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(
            escape("{\"a\":[\"b c\"]}", b""),
            "%7B%22a%22%3A%5B%22b%20c%22%5D%7D"
        );
        assert_eq!(seg("127.0.0.1:5000/bb:1"), "127.0.0.1:5000/bb:1");
        assert_eq!(seg("a b?"), "a%20b%3F");
    }

    #[test]
    fn error_messages_come_from_the_json_body() {
        assert_eq!(
            error_message(
                StatusCode::NOT_FOUND,
                br#"{"message":"No such container: x"}"#
            ),
            "No such container: x"
        );
        assert_eq!(error_message(StatusCode::NOT_FOUND, b""), "page not found");
        assert_eq!(
            error_message(StatusCode::BAD_REQUEST, b"bad thing\n"),
            "bad thing"
        );
    }
}
