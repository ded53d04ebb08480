//! A Distribution API v2 client on reqwest (hyper underneath): ping, anonymous/basic/bearer
//! auth with tokens cached per scope, manifests, blobs (streamed), uploads (monolithic and
//! chunked), cross-repository mounts, manifest push.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use super::RegistryConfig;
use super::auth::{Challenge, parse_challenge};
use crate::digest::Digest;
use crate::error::Error;
use crate::types::{Credentials, media};

/// Accept list for manifests: Docker schema2 and OCI, manifests and indexes.
pub const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// Largest manifest or config accepted.
const MAX_SMALL_BLOB: usize = 16 * 1024 * 1024;

pub struct RegistryClient {
    http: reqwest::Client,
    /// `host[:port]` as in the reference.
    pub host: String,
    base: Url,
    creds: Option<Credentials>,
    challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<String, String>>,
    /// Uploads larger than this go in chunks of this size.
    pub chunk_size: usize,
}

/// True for hosts Docker allows over plain HTTP without configuration: loopback.
pub fn is_loopback(host: &str) -> bool {
    let h = host_without_port(host);
    h == "localhost"
        || h.parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn host_without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

fn insecure_allowed(cfg: &RegistryConfig, host: &str) -> bool {
    if is_loopback(host) {
        return true;
    }
    let h = host_without_port(host);
    cfg.insecure.iter().any(|i| {
        if i == host || i == h {
            return true;
        }
        // CIDR
        if let (Some((net, bits)), Ok(ip)) = (i.split_once('/'), h.parse::<IpAddr>())
            && let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>())
        {
            return match (net, ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) if bits <= 32 => {
                    let mask = if bits == 0 {
                        0
                    } else {
                        u32::MAX << (32 - bits)
                    };
                    u32::from(n) & mask == u32::from(a) & mask
                }
                (IpAddr::V6(n), IpAddr::V6(a)) if bits <= 128 => {
                    let mask = if bits == 0 {
                        0
                    } else {
                        u128::MAX << (128 - bits)
                    };
                    u128::from(n) & mask == u128::from(a) & mask
                }
                _ => false,
            };
        }
        false
    })
}

impl RegistryClient {
    /// Connects to `host` (the reference's domain; Docker Hub maps to registry-1.docker.io):
    /// HTTPS, falling back to plain HTTP for loopback and insecure registries, as Docker does.
    pub async fn connect(
        cfg: &RegistryConfig,
        host: &str,
        api_host: &str,
        creds: Option<Credentials>,
    ) -> Result<RegistryClient, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .pool_max_idle_per_host(8)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mk = |scheme: &str| -> Result<Url, Error> {
            Url::parse(&format!("{scheme}://{api_host}/"))
                .map_err(|e| Error::InvalidReference(format!("registry {host:?}: {e}")))
        };
        let insecure = insecure_allowed(cfg, host);
        let mut client = RegistryClient {
            http,
            host: host.to_owned(),
            base: mk(if insecure && is_loopback(host) {
                "http"
            } else {
                "https"
            })?,
            creds,
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            chunk_size: 8 * 1024 * 1024,
        };
        match client.ping().await {
            Ok(()) => Ok(client),
            Err(Error::Http(e))
                if insecure && client.base.scheme() == "https" && !e.is_status() =>
            {
                client.base = mk("http")?;
                client.ping().await?;
                Ok(client)
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /v2/`: learns the auth challenge; with credentials, checks them (`docker login`).
    pub async fn ping(&self) -> Result<(), Error> {
        let url = self.url("v2/")?;
        let resp = self.http.get(url).send().await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED => {
                *self.challenge.lock().unwrap_or_else(|p| p.into_inner()) = challenge_of(&resp);
                Ok(())
            }
            s => Err(self.status_error(s, "ping")),
        }
    }

    /// Checks the credentials against the registry (`docker login`).
    pub async fn login(&self) -> Result<(), Error> {
        let auth = self.authorization("").await?;
        let mut req = self.http.get(self.url("v2/")?);
        if let Some(a) = auth {
            req = req.header(AUTHORIZATION, a);
        }
        let resp = req.send().await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(Error::Unauthorized(format!(
                "login to {} failed: {}",
                self.host,
                resp.status()
            )))
        }
    }

    pub(super) fn url(&self, path: &str) -> Result<Url, Error> {
        self.base
            .join(path)
            .map_err(|e| Error::InvalidArgument(format!("bad registry URL {path}: {e}")))
    }

    pub(super) fn status_error(&self, s: StatusCode, what: &str) -> Error {
        Error::Registry {
            registry: self.host.clone(),
            message: format!("{what}: unexpected status {s}"),
        }
    }

    fn basic(&self) -> Option<String> {
        use base64::Engine as _;
        self.creds
            .as_ref()
            .filter(|c| !c.username.is_empty())
            .map(|c| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{}:{}", c.username, c.password))
                )
            })
    }

    /// The Authorization header for `scope`, fetching and caching a bearer token if needed.
    async fn authorization(&self, scope: &str) -> Result<Option<String>, Error> {
        let ch = self
            .challenge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match ch {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.basic()),
            Some(Challenge::Bearer { realm, service, .. }) => {
                if let Some(t) = self
                    .tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(scope)
                {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let mut url = Url::parse(&realm)
                    .map_err(|e| Error::Unauthorized(format!("bad token realm {realm:?}: {e}")))?;
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = &service {
                        q.append_pair("service", s);
                    }
                    if !scope.is_empty() {
                        q.append_pair("scope", scope);
                    }
                }
                let refresh = self
                    .creds
                    .as_ref()
                    .and_then(|c| c.identity_token.clone())
                    .filter(|t| !t.is_empty());
                let req = match refresh {
                    // An identity token from `docker login` is an OAuth2 refresh token.
                    Some(token) => {
                        let mut form = url.clone();
                        form.set_query(None);
                        {
                            let mut q = form.query_pairs_mut();
                            q.append_pair("grant_type", "refresh_token")
                                .append_pair("refresh_token", &token)
                                .append_pair("client_id", "berth");
                            if let Some(s) = &service {
                                q.append_pair("service", s);
                            }
                            if !scope.is_empty() {
                                q.append_pair("scope", scope);
                            }
                        }
                        let body = form.query().unwrap_or("").to_owned();
                        let mut post_url = url.clone();
                        post_url.set_query(None);
                        self.http
                            .post(post_url)
                            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                            .body(body)
                    }
                    None => {
                        let mut req = self.http.get(url);
                        if let Some(b) = self.basic() {
                            req = req.header(AUTHORIZATION, b);
                        }
                        req
                    }
                };
                let resp = req.send().await?;
                if !resp.status().is_success() {
                    return Err(Error::Unauthorized(format!(
                        "token server for {} refused access to {scope:?}: {}",
                        self.host,
                        resp.status()
                    )));
                }
                let v: serde_json::Value =
                    serde_json::from_slice(&read_limited(resp, 1024 * 1024).await?)?;
                let token = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| {
                        Error::Unauthorized("token server answered without a token".into())
                    })?
                    .to_owned();
                self.tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(scope.to_owned(), token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    async fn request(
        &self,
        method: Method,
        url: Url,
        scope: &str,
    ) -> Result<RequestBuilder, Error> {
        let mut req = self.http.request(method, url);
        if let Some(a) = self.authorization(scope).await? {
            req = req.header(AUTHORIZATION, a);
        }
        Ok(req)
    }

    /// Sends a request without a body, retrying once after a 401 with fresh auth.
    pub(super) async fn send(
        &self,
        method: Method,
        url: Url,
        scope: &str,
        accept: Option<&str>,
    ) -> Result<Response, Error> {
        for attempt in 0..2 {
            let mut req = self.request(method.clone(), url.clone(), scope).await?;
            if let Some(a) = accept {
                req = req.header(ACCEPT, a);
            }
            let resp = req.send().await?;
            if resp.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
                let ch = challenge_of(&resp);
                if ch.is_none() {
                    return Err(Error::Unauthorized(format!(
                        "{} requires authentication",
                        self.host
                    )));
                }
                self.renew_auth(ch, scope);
                continue;
            }
            if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
                return Err(Error::Unauthorized(format!(
                    "access to {} denied ({}): pull access denied or repository does not exist, may require 'docker login'",
                    url.path(),
                    resp.status()
                )));
            }
            return Ok(resp);
        }
        Err(Error::Unauthorized(format!(
            "{} requires authentication",
            self.host
        )))
    }

    pub fn pull_scope(repo: &str) -> String {
        format!("repository:{repo}:pull")
    }
    pub fn push_scope(repo: &str) -> String {
        format!("repository:{repo}:pull,push")
    }

    /// Fetches a manifest by tag or digest: (bytes, media type, digest). The bytes are checked
    /// against the digest when one was asked for.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
        scope: &str,
    ) -> Result<(Vec<u8>, String, Digest), Error> {
        let url = self.url(&format!("v2/{repo}/manifests/{reference}"))?;
        let resp = self
            .send(Method::GET, url, scope, Some(MANIFEST_ACCEPT))
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(Error::ManifestUnknown(format!(
                "{}/{repo}:{reference}",
                self.host
            )));
        }
        if !resp.status().is_success() {
            return Err(self.status_error(resp.status(), "get manifest"));
        }
        let mt = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        let bytes = read_limited(resp, MAX_SMALL_BLOB).await?;
        let digest = Digest::of(&bytes);
        if reference.starts_with("sha256:") && reference != digest.as_str() {
            return Err(Error::DigestMismatch {
                what: format!("manifest {repo}@{reference}"),
                expected: reference.to_owned(),
                actual: digest.to_string(),
            });
        }
        let mt = if mt.is_empty() || mt == "application/json" || mt == "text/plain" {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| {
                    v.get("mediaType")
                        .and_then(|m| m.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| media::OCI_MANIFEST.to_owned())
        } else {
            mt
        };
        Ok((bytes, mt, digest))
    }

    /// Starts fetching a blob (redirects followed); the caller streams and verifies it.
    pub async fn get_blob(
        &self,
        repo: &str,
        digest: &Digest,
        scope: &str,
    ) -> Result<Response, Error> {
        let url = self.url(&format!("v2/{repo}/blobs/{digest}"))?;
        let resp = self.send(Method::GET, url, scope, None).await?;
        if !resp.status().is_success() {
            return Err(Error::Registry {
                registry: self.host.clone(),
                message: format!("blob {digest}: status {}", resp.status()),
            });
        }
        Ok(resp)
    }

    /// A small blob (config) read whole and verified.
    pub async fn get_small_blob(
        &self,
        repo: &str,
        digest: &Digest,
        scope: &str,
    ) -> Result<Vec<u8>, Error> {
        let resp = self.get_blob(repo, digest, scope).await?;
        let bytes = read_limited(resp, MAX_SMALL_BLOB).await?;
        let got = Digest::of(&bytes);
        if got != *digest {
            return Err(Error::DigestMismatch {
                what: format!("blob {digest}"),
                expected: digest.to_string(),
                actual: got.to_string(),
            });
        }
        Ok(bytes)
    }

    /// `HEAD` a blob: is it already in `repo`?
    pub async fn blob_exists(
        &self,
        repo: &str,
        digest: &Digest,
        scope: &str,
    ) -> Result<bool, Error> {
        let url = self.url(&format!("v2/{repo}/blobs/{digest}"))?;
        let resp = self.send(Method::HEAD, url, scope, None).await?;
        Ok(resp.status().is_success())
    }

    pub(super) async fn send_body(
        &self,
        method: Method,
        url: Url,
        scope: &str,
        headers: Option<Vec<(reqwest::header::HeaderName, String)>>,
        body: Vec<u8>,
    ) -> Result<Response, Error> {
        let body = bytes::Bytes::from(body);
        for attempt in 0..2 {
            let mut req = self.request(method.clone(), url.clone(), scope).await?;
            for (k, v) in headers.iter().flatten() {
                req = req.header(k, v);
            }
            let resp = req
                .header(CONTENT_LENGTH, body.len())
                .body(body.clone())
                .send()
                .await?;
            if resp.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
                self.renew_auth(challenge_of(&resp), scope);
                continue;
            }
            if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
                return Err(Error::Unauthorized(format!(
                    "{} denied {} {}: {}",
                    self.host,
                    method,
                    url.path(),
                    resp.status()
                )));
            }
            return Ok(resp);
        }
        Err(Error::Unauthorized(format!(
            "{} requires authentication",
            self.host
        )))
    }

    /// After a 401: keeps the registry's new challenge and forgets the token cached for
    /// `scope`, so the next try authenticates afresh.
    fn renew_auth(&self, challenge: Option<Challenge>, scope: &str) {
        *self.challenge.lock().unwrap_or_else(|p| p.into_inner()) = challenge;
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(scope);
    }

    pub(super) fn location(&self, resp: &Response) -> Option<Url> {
        let loc = resp.headers().get(LOCATION)?.to_str().ok()?;
        resp.url().join(loc).ok()
    }
}

/// The auth challenge of a 401 (`WWW-Authenticate`), if it has one we can answer.
fn challenge_of(resp: &Response) -> Option<Challenge> {
    resp.headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_challenge)
}

async fn read_limited(mut resp: Response, limit: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > limit {
            return Err(Error::format(
                "registry response",
                format!("larger than {limit} bytes"),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_registries_may_use_http() {
        let cfg = RegistryConfig {
            insecure: vec!["reg.lan:5000".into(), "10.0.0.0/8".into()],
            auth_config: None,
        };
        assert!(insecure_allowed(&cfg, "localhost:5000"));
        assert!(insecure_allowed(&cfg, "127.0.0.1:41234"));
        assert!(insecure_allowed(&cfg, "[::1]:5000"));
        assert!(insecure_allowed(&cfg, "reg.lan:5000"));
        assert!(insecure_allowed(&cfg, "10.1.2.3:5000"));
        assert!(!insecure_allowed(&cfg, "11.1.2.3:5000"));
        assert!(!insecure_allowed(&cfg, "docker.io"));
    }
}
