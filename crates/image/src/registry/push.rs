//! `docker push`: every layer blob is checked with `HEAD`, mounted from another repository of
//! the same registry when the store knows one, else uploaded (chunked when large); then the
//! config and the manifest, byte for byte as stored, so the digest is the image's.

use futures_util::StreamExt;

use super::client::RegistryClient;
use super::pull::short;
use crate::error::Error;
use crate::meta::{self, LayerBlob};
use crate::reference::Reference;
use crate::store::ImageStore;
use crate::types::{Credentials, Manifest, Progress, media};

const PARALLEL_UPLOADS: usize = 3;

/// One layer's transfer, boxed so the pull/push future stays `Send`.
type JobFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, Error>> + Send + 'a>>;

impl ImageStore {
    /// `docker push`: uploads the image `reference` names to its registry; returns the
    /// manifest digest.
    pub async fn push(
        &self,
        reference: &str,
        auth: Option<&Credentials>,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<String, Error> {
        let r = Reference::parse_normalized(reference)?;
        let img = self.resolve(reference)?;
        let manifest_bytes = self.content.read(&img.manifest_digest)?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes)?;
        let client = self.client_for(&r, auth).await?;
        let repo = r.path.clone();
        let scope = RegistryClient::push_scope(&repo);
        progress(Progress::Resolved {
            reference: r.repository(),
        });
        for l in &manifest.layers {
            progress(Progress::Pending {
                id: short(&l.digest),
            });
        }
        let jobs: Vec<JobFuture<'_, ()>> = manifest
            .layers
            .iter()
            .map(|l| {
                let client = &client;
                let scope = &scope;
                let repo = &repo;
                let r = &r;
                Box::pin(async move {
                    let id = short(&l.digest);
                    if client.blob_exists(repo, &l.digest, scope).await? {
                        progress(Progress::Exists { id });
                        return Ok::<(), Error>(());
                    }
                    let known: Option<LayerBlob> = self.meta.layer_blob(&l.digest)?;
                    if let Some(k) = known
                        && let Some(from) = k.source_repo.strip_prefix(&format!("{}/", r.domain))
                        && from != repo
                    {
                        let mscope = format!("{scope} repository:{from}:pull");
                        if client
                            .mount_blob(repo, &l.digest, from, &mscope)
                            .await
                            .unwrap_or(false)
                        {
                            progress(Progress::Done {
                                id,
                                status: format!("Mounted from {from}"),
                            });
                            return Ok(());
                        }
                    }
                    let path = self.content.path(&l.digest);
                    let file = tokio::fs::File::open(&path)
                        .await
                        .map_err(|e| Error::io(format!("open blob {}", l.digest), e))?;
                    let size = file
                        .metadata()
                        .await
                        .map_err(|e| Error::io("stat blob", e))?
                        .len();
                    let total = size;
                    let pid = id.clone();
                    client
                        .upload_blob(repo, &l.digest, file, size, scope, &|sent| {
                            progress(Progress::Transfer {
                                id: pid.clone(),
                                current: sent,
                                total,
                            })
                        })
                        .await?;
                    progress(Progress::Done {
                        id,
                        status: "Pushed".into(),
                    });
                    Ok(())
                }) as JobFuture<'_, ()>
            })
            .collect::<Vec<_>>();
        let results: Vec<Result<(), Error>> = futures_util::stream::iter(jobs)
            .buffer_unordered(PARALLEL_UPLOADS)
            .collect()
            .await;
        for res in results {
            res?;
        }
        let config = self.content.read(&manifest.config.digest)?;
        if !client
            .blob_exists(&repo, &manifest.config.digest, &scope)
            .await?
        {
            client
                .upload_small_blob(&repo, &manifest.config.digest, config, &scope)
                .await?;
        }
        let mt = manifest.media_type.clone().unwrap_or_else(|| {
            if manifest.config.media_type == media::DOCKER_CONFIG {
                media::DOCKER_MANIFEST.into()
            } else {
                media::OCI_MANIFEST.into()
            }
        });
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        client
            .put_manifest(&repo, &tag, manifest_bytes, &mt, &scope)
            .await?;
        let digest = img.manifest_digest.to_string();
        let source = format!("{}/{}", r.domain, repo);
        let name = format!("{}@{}", r.repository(), digest);
        self.meta.tx(|tx| {
            meta::set_ref(tx, &name, &img.id)?;
            for l in &manifest.layers {
                tx.execute(
                    "UPDATE layer_blobs SET source_repo = ?2 WHERE digest = ?1",
                    [l.digest.as_str(), source.as_str()],
                )?;
            }
            Ok(())
        })?;
        progress(Progress::Digest {
            digest: digest.clone(),
        });
        Ok(digest)
    }

    /// `docker login`: checks `creds` against `registry` and stores them in `config.json`.
    pub async fn login(
        &self,
        registry: &str,
        creds: &Credentials,
        config_json: &std::path::Path,
    ) -> Result<(), Error> {
        let r = Reference::parse(&format!("{registry}/x"))
            .map_err(|_| Error::InvalidArgument(format!("invalid registry {registry:?}")))?;
        let client = RegistryClient::connect(
            &self.registry,
            &r.domain,
            r.registry_host(),
            Some(creds.clone()),
        )
        .await?;
        client.login().await?;
        super::auth::store_credentials(config_json, &r.domain, creds)
    }
}
