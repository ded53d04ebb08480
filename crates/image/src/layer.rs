//! Ingesting one layer: the blob bytes are stored (hashed, verified) while the same bytes are
//! decompressed, hashed again for the diff ID and unpacked into a temporary snapshot, which
//! becomes the chain's shared snapshot only when both digests check out.

use std::io::{self, Read, Write};

use crate::content::BlobWriter;
use crate::digest::{Digest, HashingReader};
use crate::error::Error;
use crate::meta::LayerBlob;
use crate::snapshot::chain_of;
use crate::store::ImageStore;
use crate::types::media;
use crate::unpack::{decompress, unpack_layer};

/// A layer that is stored and unpacked.
#[derive(Clone, Debug)]
pub struct IngestedLayer {
    pub blob: LayerBlob,
    pub chain: Digest,
}

/// What is known of a layer before reading it.
#[derive(Clone, Debug, Default)]
pub(crate) struct LayerExpect<'a> {
    pub media_type: &'a str,
    pub blob: Option<&'a Digest>,
    pub diff_id: Option<&'a Digest>,
    pub parent_chain: Option<&'a Digest>,
    pub source_repo: &'a str,
}

/// Copies everything read into the blob writer.
struct Tee<'a, R> {
    inner: R,
    out: &'a mut BlobWriter,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

pub(crate) fn refuse_foreign(media_type: &str, digest: &str) -> Result<(), Error> {
    if media_type == media::DOCKER_FOREIGN || media_type.starts_with(media::OCI_NONDIST) {
        return Err(Error::Unsupported(format!(
            "foreign layer {digest} ({media_type}) is not distributable and cannot be pulled"
        )));
    }
    Ok(())
}

impl ImageStore {
    /// True when the layer's blob and its chain's snapshot are both present (nothing to fetch).
    pub(crate) fn layer_present(&self, blob: &Digest, chain: &Digest) -> Result<bool, Error> {
        Ok(self.content.exists(blob)
            && self.meta.layer_blob(blob)?.is_some()
            && self.meta.snapshot(chain)?.is_some())
    }

    /// Stores and unpacks one layer from `r` (compressed or not). Nothing is kept on error.
    pub(crate) fn ingest_layer<R: Read>(
        &self,
        r: R,
        want: &LayerExpect<'_>,
    ) -> Result<IngestedLayer, Error> {
        refuse_foreign(
            want.media_type,
            &want.blob.map(|d| d.to_string()).unwrap_or_default(),
        )?;
        let mut writer = self.content.writer()?;
        let tmp = self.snaps.temp()?;
        let (diff_id, size, compression) = {
            let tee = Tee {
                inner: r,
                out: &mut writer,
            };
            let (reader, compression) = decompress(tee)?;
            let mut diff = HashingReader::new(reader);
            let stats = unpack_layer(&mut diff, &tmp.fs())?;
            let (d, _) = diff
                .finish()
                .map_err(|e| Error::InvalidLayer(format!("read layer: {e}")))?;
            (d, stats.size, compression)
        };
        if let Some(expected) = want.diff_id
            && *expected != diff_id
        {
            return Err(Error::DigestMismatch {
                what: "layer diff ID".into(),
                expected: expected.to_string(),
                actual: diff_id.to_string(),
            });
        }
        let blob_size = writer.written();
        let (blob, _) = writer.commit(want.blob)?;
        let chain = chain_of(want.parent_chain, &diff_id);
        self.snaps
            .commit_layer(&self.meta, tmp, &chain, want.parent_chain, &diff_id, size)?;
        let media_type = if want.media_type.is_empty() {
            compression.docker_media_type().to_owned()
        } else {
            want.media_type.to_owned()
        };
        Ok(IngestedLayer {
            blob: LayerBlob {
                digest: blob,
                diff_id,
                media_type,
                size: blob_size,
                source_repo: want.source_repo.to_owned(),
            },
            chain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_layers_are_refused_by_name() {
        let e = refuse_foreign(media::DOCKER_FOREIGN, "sha256:abc").unwrap_err();
        assert!(e.to_string().contains("foreign layer sha256:abc"), "{e}");
        assert!(
            refuse_foreign(
                "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                "x"
            )
            .is_err()
        );
        assert!(refuse_foreign(media::OCI_LAYER_GZIP, "x").is_ok());
    }
}
