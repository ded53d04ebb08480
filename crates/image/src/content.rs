//! The content store: blobs addressed by sha256 under `blobs/sha256/<hex>`. A blob is written to
//! a temporary file under `ingest/`, hashed while written, fsynced, checked against the expected
//! digest and only then renamed into place: a blob is either whole and correct or absent.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingWriter};
use crate::error::{Error, IoContext};

#[derive(Debug)]
pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Opens (creating) the store under `root`; leftovers of interrupted writes are removed.
    pub fn open(root: &Path) -> Result<ContentStore, Error> {
        let store = ContentStore {
            root: root.to_owned(),
        };
        fs::create_dir_all(store.root.join("blobs/sha256"))
            .ctx(|| format!("create {}", root.display()))?;
        let ingest = store.root.join("ingest");
        if ingest.exists() {
            fs::remove_dir_all(&ingest).ctx(|| format!("clean {}", ingest.display()))?;
        }
        fs::create_dir_all(&ingest).ctx(|| format!("create {}", ingest.display()))?;
        Ok(store)
    }

    pub fn path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    pub fn exists(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    pub fn size(&self, d: &Digest) -> Result<u64, Error> {
        let p = self.path(d);
        Ok(fs::metadata(&p).ctx(|| format!("blob {d}"))?.len())
    }

    pub fn open_blob(&self, d: &Digest) -> Result<File, Error> {
        File::open(self.path(d)).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::InvalidArgument(format!("blob {d} is not in the content store"))
            } else {
                Error::io(format!("open blob {d}"), e)
            }
        })
    }

    pub fn read(&self, d: &Digest) -> Result<Vec<u8>, Error> {
        let mut v = Vec::new();
        self.open_blob(d)?
            .read_to_end(&mut v)
            .ctx(|| format!("read blob {d}"))?;
        Ok(v)
    }

    /// Starts writing a blob; nothing is visible until [`BlobWriter::commit`].
    pub fn writer(&self) -> Result<BlobWriter, Error> {
        let path = self
            .root
            .join("ingest")
            .join(format!("{:016x}", rand::random::<u64>()));
        let file = File::create(&path).ctx(|| format!("create {}", path.display()))?;
        Ok(BlobWriter {
            inner: Some(HashingWriter::new(io::BufWriter::with_capacity(
                256 * 1024,
                file,
            ))),
            path,
            blobs: self.root.join("blobs/sha256"),
        })
    }

    /// Writes `bytes` as a blob, checking them against `expected` when given.
    pub fn put(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest, Error> {
        let d = Digest::of(bytes);
        if let Some(e) = expected
            && *e != d
        {
            return Err(Error::DigestMismatch {
                what: "blob".into(),
                expected: e.to_string(),
                actual: d.to_string(),
            });
        }
        if self.exists(&d) {
            return Ok(d);
        }
        let mut w = self.writer()?;
        w.write_all(bytes).ctx(|| "write blob".into())?;
        w.commit(Some(&d)).map(|(d, _)| d)
    }

    pub fn remove(&self, d: &Digest) -> Result<u64, Error> {
        let p = self.path(d);
        let size = fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        match fs::remove_file(&p) {
            Ok(()) => Ok(size),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(Error::io(format!("remove blob {d}"), e)),
        }
    }

    /// Every blob digest in the store.
    pub fn list(&self) -> Result<Vec<(Digest, u64)>, Error> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).ctx(|| format!("read {}", dir.display()))? {
            let e = e.ctx(|| format!("read {}", dir.display()))?;
            let name = e.file_name();
            if let Ok(d) = Digest::parse(&format!("sha256:{}", name.to_string_lossy())) {
                let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                out.push((d, size));
            }
        }
        Ok(out)
    }
}

/// A blob being written. Dropping it without `commit` deletes the temporary file.
pub struct BlobWriter {
    inner: Option<HashingWriter<io::BufWriter<File>>>,
    path: PathBuf,
    blobs: PathBuf,
}

impl BlobWriter {
    /// Flushes, fsyncs, verifies against `expected` and renames into place; returns the digest
    /// and size. On a mismatch the temporary file is removed and nothing is stored.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<(Digest, u64), Error> {
        let res = self.commit_inner(expected);
        if res.is_err() {
            let _ = fs::remove_file(&self.path);
        }
        res
    }

    fn commit_inner(&mut self, expected: Option<&Digest>) -> Result<(Digest, u64), Error> {
        let Some(w) = self.inner.take() else {
            return Err(Error::InvalidArgument("blob writer already used".into()));
        };
        let (buf, digest, size) = w.finish();
        let file = buf
            .into_inner()
            .map_err(|e| Error::io("flush blob", e.into_error()))?;
        if let Some(e) = expected
            && *e != digest
        {
            return Err(Error::DigestMismatch {
                what: "blob".into(),
                expected: e.to_string(),
                actual: digest.to_string(),
            });
        }
        file.sync_all().ctx(|| "fsync blob".into())?;
        drop(file);
        let dest = self.blobs.join(digest.hex());
        fs::rename(&self.path, &dest).ctx(|| format!("rename blob into {}", dest.display()))?;
        if let Ok(dir) = File::open(&self.blobs) {
            let _ = dir.sync_all();
        }
        Ok((digest, size))
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.inner.as_ref().map(|w| w.count()).unwrap_or(0)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inner.as_mut() {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("blob writer already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.inner.is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_is_stored_only_when_its_digest_matches() {
        let dir = tempfile::tempdir().unwrap();
        let cs = ContentStore::open(dir.path()).unwrap();
        let good = cs.put(b"hello", None).unwrap();
        assert_eq!(cs.read(&good).unwrap(), b"hello");
        let wrong = Digest::of(b"other");
        let mut w = cs.writer().unwrap();
        w.write_all(b"hello!").unwrap();
        let err = w.commit(Some(&wrong)).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(!cs.exists(&wrong));
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);
        assert_eq!(cs.list().unwrap().len(), 1);
    }

    #[test]
    fn abandoned_writes_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cs = ContentStore::open(dir.path()).unwrap();
        let mut w = cs.writer().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);
        assert!(cs.list().unwrap().is_empty());
    }
}
