//! Pushing content: cross-repository mounts, blob uploads (monolithic and chunked), manifests.

use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE};
use reqwest::{Method, StatusCode};

use super::client::RegistryClient;
use crate::digest::Digest;
use crate::error::Error;

impl RegistryClient {
    /// Cross-repository mount; Ok(true) when the registry mounted it (201).
    pub async fn mount_blob(
        &self,
        repo: &str,
        digest: &Digest,
        from: &str,
        scope: &str,
    ) -> Result<bool, Error> {
        let mut url = self.url(&format!("v2/{repo}/blobs/uploads/"))?;
        url.query_pairs_mut()
            .append_pair("mount", digest.as_str())
            .append_pair("from", from);
        let resp = self
            .send_body(Method::POST, url, scope, None, Vec::new())
            .await?;
        if resp.status() == StatusCode::CREATED {
            return Ok(true);
        }
        // 202 opened an upload session instead: cancel it.
        if resp.status() == StatusCode::ACCEPTED
            && let Some(loc) = self.location(&resp)
        {
            let _ = self.send(Method::DELETE, loc, scope, None).await;
        }
        Ok(false)
    }

    /// Uploads a blob read from `file`: monolithic when it fits one chunk, else chunked
    /// (POST, PATCH with Content-Range, PUT ?digest=). `progress` gets bytes sent so far.
    pub async fn upload_blob(
        &self,
        repo: &str,
        digest: &Digest,
        mut file: tokio::fs::File,
        size: u64,
        scope: &str,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), Error> {
        use tokio::io::AsyncReadExt;
        let chunk = self.chunk_size;
        let mut loc = self.start_upload(repo, scope).await?;
        let mut sent: u64 = 0;
        if size as usize <= chunk {
            let mut buf = Vec::with_capacity(size as usize);
            file.read_to_end(&mut buf)
                .await
                .map_err(|e| Error::io("read blob", e))?;
            self.put_upload(loc, digest, scope, Some(buf)).await?;
            progress(size);
            return Ok(());
        }
        loop {
            let mut buf = vec![0u8; chunk];
            let mut n = 0;
            while n < chunk {
                let r = file
                    .read(&mut buf[n..])
                    .await
                    .map_err(|e| Error::io("read blob", e))?;
                if r == 0 {
                    break;
                }
                n += r;
            }
            if n == 0 {
                break;
            }
            buf.truncate(n);
            let range = (CONTENT_RANGE, format!("{}-{}", sent, sent + n as u64 - 1));
            let resp = self
                .send_body(
                    Method::PATCH,
                    loc.clone(),
                    scope,
                    Some(vec![octet_stream(), range]),
                    buf,
                )
                .await?;
            if resp.status() != StatusCode::ACCEPTED {
                return Err(self.status_error(resp.status(), "upload chunk"));
            }
            loc = self
                .location(&resp)
                .ok_or_else(|| self.status_error(resp.status(), "upload without Location"))?;
            sent += n as u64;
            progress(sent);
        }
        self.put_upload(loc, digest, scope, None).await
    }

    /// Uploads a small blob from memory in one PUT.
    pub async fn upload_small_blob(
        &self,
        repo: &str,
        digest: &Digest,
        bytes: Vec<u8>,
        scope: &str,
    ) -> Result<(), Error> {
        let loc = self.start_upload(repo, scope).await?;
        self.put_upload(loc, digest, scope, Some(bytes)).await
    }

    /// `POST /v2/REPO/blobs/uploads/`: opens an upload session; its location.
    async fn start_upload(&self, repo: &str, scope: &str) -> Result<reqwest::Url, Error> {
        let url = self.url(&format!("v2/{repo}/blobs/uploads/"))?;
        let resp = self
            .send_body(Method::POST, url, scope, None, Vec::new())
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.status_error(resp.status(), "start upload"));
        }
        self.location(&resp)
            .ok_or_else(|| self.status_error(resp.status(), "upload without Location"))
    }

    /// The closing `PUT ?digest=` of an upload at `loc`: with the whole blob (`Some`), or
    /// with nothing after its chunks were PATCHed (`None`).
    async fn put_upload(
        &self,
        mut loc: reqwest::Url,
        digest: &Digest,
        scope: &str,
        blob: Option<Vec<u8>>,
    ) -> Result<(), Error> {
        loc.query_pairs_mut().append_pair("digest", digest.as_str());
        let (headers, body, what) = match blob {
            Some(b) => (Some(vec![octet_stream()]), b, "upload blob"),
            None => (None, Vec::new(), "finish upload"),
        };
        let resp = self
            .send_body(Method::PUT, loc, scope, headers, body)
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.status_error(resp.status(), what));
        }
        Ok(())
    }

    /// `PUT` a manifest under a tag (or digest).
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: Vec<u8>,
        media_type: &str,
        scope: &str,
    ) -> Result<(), Error> {
        let url = self.url(&format!("v2/{repo}/manifests/{reference}"))?;
        let resp = self
            .send_body(
                Method::PUT,
                url,
                scope,
                Some(vec![(CONTENT_TYPE, media_type.to_owned())]),
                bytes,
            )
            .await?;
        if resp.status() != StatusCode::CREATED {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            return Err(Error::Registry {
                registry: self.host.clone(),
                message: format!("put manifest: {status}: {}", text.trim()),
            });
        }
        Ok(())
    }
}

fn octet_stream() -> (reqwest::header::HeaderName, String) {
    (CONTENT_TYPE, "application/octet-stream".to_owned())
}
