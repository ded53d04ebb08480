//! The builder's errors. Messages follow Docker's where users see them.

use crate::dockerfile::ParseError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A bad build context (hostile tar, missing file).
    #[error("invalid build context: {0}")]
    Context(String),
    /// A step failed; the message is what Docker prints.
    #[error("{0}")]
    Step(String),
    #[error(transparent)]
    Image(#[from] berth_image::Error),
    #[error("{0}")]
    Other(String),
}
