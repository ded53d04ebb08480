//! `docker pull`: resolve the manifest (choosing a platform from an index), fetch the config,
//! then fetch every missing layer in parallel, each streamed straight into a blocking task
//! that hashes, stores and unpacks it as the bytes arrive.

use std::io::{self, Read};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::client::RegistryClient;
use crate::digest::Digest;
use crate::error::Error;
use crate::layer::{LayerExpect, refuse_foreign};
use crate::meta::LayerBlob;
use crate::reference::Reference;
use crate::snapshot::chain_ids;
use crate::store::ImageStore;
use crate::types::{Credentials, Image, ImageConfig, Index, Manifest, Progress, media};

/// Layers fetched at once (Docker's default is 3).
const PARALLEL_LAYERS: usize = 3;

/// A `Read` over chunks sent from the async side.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// Parses `os/arch[/variant]`.
pub fn parse_platform(p: &str) -> Result<(String, String, Option<String>), Error> {
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [os, arch] => Ok((os.to_string(), arch.to_string(), None)),
        [os, arch, v] => Ok((os.to_string(), arch.to_string(), Some(v.to_string()))),
        [arch] if !arch.is_empty() => Ok(("linux".into(), arch.to_string(), None)),
        _ => Err(Error::InvalidArgument(format!(
            "invalid platform {p:?}: expected os/arch[/variant]"
        ))),
    }
}

pub(crate) fn short(d: &Digest) -> String {
    d.hex()[..12].to_owned()
}

/// One layer's transfer, boxed so the pull/push future stays `Send`.
type JobFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, Error>> + Send + 'a>>;

impl ImageStore {
    pub(crate) async fn client_for(
        &self,
        r: &Reference,
        auth: Option<&Credentials>,
    ) -> Result<RegistryClient, Error> {
        let creds = match auth {
            Some(c) => Some(c.clone()),
            None => match &self.registry.auth_config {
                Some(p) => super::auth::load_credentials(p, &r.domain)?,
                None => None,
            },
        };
        RegistryClient::connect(&self.registry, &r.domain, r.registry_host(), creds).await
    }

    /// `docker pull`: fetches `reference` (default tag `latest`) for `platform` (`linux/amd64`
    /// by default) and stores it; layers already present are not fetched again.
    pub async fn pull(
        &self,
        reference: &str,
        auth: Option<&Credentials>,
        platform: Option<&str>,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<Image, Error> {
        let r = Reference::parse_normalized(reference)?;
        let (os, arch, variant) =
            parse_platform(platform.unwrap_or(&format!("linux/{}", super::host_arch())))?;
        let client = self.client_for(&r, auth).await?;
        let repo = r.path.clone();
        let scope = RegistryClient::pull_scope(&repo);
        progress(Progress::Resolved {
            reference: r.to_string(),
        });
        let (mut bytes, mut mt, digest) = client
            .get_manifest(&repo, &r.tag_or_digest(), &scope)
            .await?;
        // Docker records and prints the digest the name resolved to: the index's, for a
        // multi-platform image.
        let repo_digest = digest;
        if mt == media::OCI_INDEX || mt == media::DOCKER_MANIFEST_LIST {
            let index: Index = serde_json::from_slice(&bytes)
                .map_err(|e| Error::format("manifest list", e.to_string()))?;
            let pick = index
                .manifests
                .iter()
                .find(|m| {
                    m.platform.as_ref().is_some_and(|p| {
                        p.os == os
                            && p.architecture == arch
                            && (variant.is_none() || p.variant == variant)
                    })
                })
                .ok_or_else(|| Error::NoMatchingPlatform(format!("{os}/{arch}")))?;
            let (b, m, d) = client
                .get_manifest(&repo, pick.digest.as_str(), &scope)
                .await?;
            if d != pick.digest {
                return Err(Error::DigestMismatch {
                    what: "manifest".into(),
                    expected: pick.digest.to_string(),
                    actual: d.to_string(),
                });
            }
            (bytes, mt) = (b, m);
        }
        if mt.starts_with(media::SCHEMA1) {
            return Err(Error::Unsupported(format!(
                "{r} uses the deprecated schema1 manifest format; push it again with a current client"
            )));
        }
        if mt != media::DOCKER_MANIFEST && mt != media::OCI_MANIFEST {
            return Err(Error::Unsupported(format!("manifest media type {mt:?}")));
        }
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| Error::format("image manifest", e.to_string()))?;
        for l in &manifest.layers {
            refuse_foreign(&l.media_type, l.digest.as_str())?;
        }
        let config_bytes = if self.content.exists(&manifest.config.digest) {
            self.content.read(&manifest.config.digest)?
        } else {
            client
                .get_small_blob(&repo, &manifest.config.digest, &scope)
                .await?
        };
        let config: ImageConfig = serde_json::from_slice(&config_bytes)
            .map_err(|e| Error::format("image config", e.to_string()))?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(Error::format(
                "image",
                format!(
                    "manifest has {} layers but the config has {} diff IDs",
                    manifest.layers.len(),
                    config.rootfs.diff_ids.len()
                ),
            ));
        }
        let _busy = self.busy();
        let chains = chain_ids(&config.rootfs.diff_ids);
        for (i, l) in manifest.layers.iter().enumerate() {
            if !self.layer_present(&l.digest, &chains[i])? {
                progress(Progress::Pending {
                    id: short(&l.digest),
                });
            }
        }
        let source = format!("{}/{}", r.domain, repo);
        let jobs: Vec<JobFuture<'_, LayerBlob>> = manifest
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let client = &client;
                let scope = &scope;
                let chains = &chains;
                let config = &config;
                let source = &source;
                let repo = &repo;
                Box::pin(async move {
                    let id = short(&l.digest);
                    if self.layer_present(&l.digest, &chains[i])? {
                        progress(Progress::Exists { id });
                        return Ok::<LayerBlob, Error>(self.meta.layer_blob(&l.digest)?.unwrap_or(
                            LayerBlob {
                                digest: l.digest.clone(),
                                diff_id: config.rootfs.diff_ids[i].clone(),
                                media_type: l.media_type.clone(),
                                size: l.size,
                                source_repo: source.clone(),
                            },
                        ));
                    }
                    let resp = client.get_blob(repo, &l.digest, scope).await?;
                    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(32);
                    let store = self.clone();
                    let want_blob = l.digest.clone();
                    let want_diff = config.rootfs.diff_ids[i].clone();
                    let parent = if i == 0 {
                        None
                    } else {
                        Some(chains[i - 1].clone())
                    };
                    let media_type = l.media_type.clone();
                    let src = source.clone();
                    let task = tokio::task::spawn_blocking(move || {
                        let reader = ChannelReader {
                            rx,
                            cur: Bytes::new(),
                        };
                        store.ingest_layer(
                            reader,
                            &LayerExpect {
                                media_type: &media_type,
                                blob: Some(&want_blob),
                                diff_id: Some(&want_diff),
                                parent_chain: parent.as_ref(),
                                source_repo: &src,
                            },
                        )
                    });
                    let total = l.size;
                    let mut done: u64 = 0;
                    let mut last = 0;
                    let mut stream = resp.bytes_stream();
                    while let Some(chunk) = stream.next().await {
                        match chunk {
                            Ok(b) => {
                                done += b.len() as u64;
                                if tx.send(Ok(b)).await.is_err() {
                                    break; // the unpacker stopped: its error tells why
                                }
                                if done - last >= 256 * 1024 || done == total {
                                    last = done;
                                    progress(Progress::Transfer {
                                        id: id.clone(),
                                        current: done,
                                        total,
                                    });
                                }
                            }
                            Err(e) => {
                                let _ = tx
                                    .send(Err(io::Error::other(format!(
                                        "download of layer {id} failed: {e}"
                                    ))))
                                    .await;
                                break;
                            }
                        }
                    }
                    drop(tx);
                    progress(Progress::Done {
                        id: id.clone(),
                        status: "Download complete".into(),
                    });
                    let layer = task
                        .await
                        .map_err(|e| Error::InvalidLayer(format!("unpack task failed: {e}")))??;
                    progress(Progress::Done {
                        id,
                        status: "Pull complete".into(),
                    });
                    Ok(layer.blob)
                }) as JobFuture<'_, LayerBlob>
            })
            .collect::<Vec<_>>();
        let results: Vec<Result<LayerBlob, Error>> = futures_util::stream::iter(jobs)
            .buffered(PARALLEL_LAYERS)
            .collect()
            .await;
        let mut layers = Vec::with_capacity(results.len());
        for r in results {
            layers.push(r?);
        }
        let mut names = Vec::new();
        if let Some(t) = r.tagged() {
            names.push(t);
        }
        names.push(format!("{}@{}", r.repository(), repo_digest));
        // A pull by digest records only the digest reference, as Docker does.
        let id = self.add_image(&config_bytes, &bytes, &layers, &names)?;
        progress(Progress::Digest {
            digest: repo_digest.to_string(),
        });
        self.image_by_id(&id)
    }
}
