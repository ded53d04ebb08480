//! The engine's typed errors. Each kind maps to one of Docker's HTTP statuses in the API crate.

/// What went wrong, in Docker's vocabulary; the message is what the client prints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404: `No such container: x`, `No such image: x`, ...
    #[error("{0}")]
    NotFound(String),
    /// 409: name in use, container running, ...
    #[error("{0}")]
    Conflict(String),
    /// 400: malformed or invalid input.
    #[error("{0}")]
    InvalidParameter(String),
    /// 403: an operation the object never allows (removing a pre-defined network).
    #[error("{0}")]
    Forbidden(String),
    /// 304: the container is already in the asked state.
    #[error("container already in that state")]
    NotModified,
    /// 501: the feature is not available for this object (a log driver that cannot be read).
    #[error("{0}")]
    NotImplemented(String),
    /// 500 with context.
    #[error("{0}")]
    Internal(String),
    /// An exec's process could not be started (moby's `translateContainerdStartErr`): the
    /// exec is over with `exit_code` (127 not found, 126 not executable); an attached client
    /// reads the message on its stream, a detached one gets 400 (`invalid`) or 500.
    #[error("{message}")]
    ExecStartFailed {
        message: String,
        exit_code: i64,
        invalid: bool,
    },
    #[error("state store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn no_such_container(name: &str) -> Self {
        Error::NotFound(format!("No such container: {name}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
