//! The crate's one error type. Messages follow Docker's where users see them.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the image store, the unpacker and the registry client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No image, reference or snapshot by that name (Docker: 404 `No such image: X`).
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("no such snapshot: {0}")]
    NoSuchSnapshot(String),
    #[error("snapshot {0} already exists")]
    SnapshotExists(String),
    #[error("invalid reference format: {0}")]
    InvalidReference(String),
    /// The operation conflicts with the store's state (Docker: 409).
    #[error("{0}")]
    Conflict(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("invalid digest {0:?}")]
    InvalidDigest(String),
    #[error("layer entry {entry:?} rejected: {reason}")]
    HostileEntry { entry: String, reason: String },
    #[error("invalid layer: {0}")]
    InvalidLayer(String),
    #[error("invalid {what}: {reason}")]
    InvalidFormat { what: String, reason: String },
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoMatchingPlatform(String),
    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("manifest for {0} not found: manifest unknown")]
    ManifestUnknown(String),
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("metadata store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("mount {target}: {source}")]
    Mount {
        target: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
    pub(crate) fn format(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidFormat {
            what: what.into(),
            reason: reason.into(),
        }
    }
    pub(crate) fn hostile(entry: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::HostileEntry {
            entry: entry.into(),
            reason: reason.into(),
        }
    }
    /// True when the error means "not found" (the API answers 404).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::NoSuchImage(_) | Error::NoSuchSnapshot(_) | Error::ManifestUnknown(_)
        )
    }
    /// True when the error is a conflict with the store's state (the API answers 409).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict(_) | Error::SnapshotExists(_))
    }
}

/// Adds a context string to `io::Result`s.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|e| Error::io(context(), e))
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|e| Error::io(context(), e.into()))
    }
}
