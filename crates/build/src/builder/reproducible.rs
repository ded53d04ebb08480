//! `SOURCE_DATE_EPOCH`: every step's commit is stamped with the epoch instead of now and
//! leaves the per-step container key out of the config; the store clamps the layer's mtimes
//! to it. The same inputs then give the same image ID, built directly with its parent chain.

use berth_image::CommitStamp;

use crate::error::BuildError;

/// The stamp for a build's commits: the default (now) without an epoch.
pub(super) fn stamp(epoch: Option<i64>) -> Result<CommitStamp, BuildError> {
    let Some(epoch) = epoch else {
        return Ok(CommitStamp::default());
    };
    let created = chrono::DateTime::from_timestamp(epoch, 0).ok_or_else(|| {
        BuildError::Other(format!("invalid SOURCE_DATE_EPOCH {epoch}: out of range"))
    })?;
    Ok(CommitStamp {
        created: Some(created),
        omit_container: true,
    })
}
