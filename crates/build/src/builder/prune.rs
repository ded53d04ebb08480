//! `docker builder prune` over the builder's cache index: which entries go (dead ones always;
//! those whose image no tagged image is built on unless `all`; `until` and `id` filters), and
//! what was reclaimed. The step images themselves stay in the store (`docker image prune`
//! removes the dangling ones), as the legacy builder's images do.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use super::Builder;
use crate::error::BuildError;

/// What to prune.
#[derive(Debug, Clone, Default)]
pub struct CachePruneOptions {
    /// `all`: every entry, not only those unused by tagged images.
    pub all: bool,
    /// `until`: only entries made before this time.
    pub until: Option<SystemTime>,
    /// `id`: only entries whose key starts with one of these.
    pub ids: Vec<String>,
}

/// Docker's `BuildCachePruneReport`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachePruneReport {
    /// The keys of the entries removed.
    pub deleted: Vec<String>,
    /// Bytes freed on disk.
    pub reclaimed: u64,
}

impl Builder {
    /// Removes cache entries as `opts` says (see the module doc).
    pub fn prune_cache_with(
        &self,
        opts: &CachePruneOptions,
    ) -> Result<CachePruneReport, BuildError> {
        let dir = self.state.join("cache");
        let rd = std::fs::read_dir(&dir)
            .map_err(|e| BuildError::Other(format!("read {}: {e}", dir.display())))?;
        // Images a tagged image is built on (itself included): their cache is in use.
        let used: BTreeSet<String> = if opts.all {
            BTreeSet::new()
        } else {
            let images = self.store.list_images(true)?;
            let parent: BTreeMap<&str, &str> = images
                .iter()
                .map(|i| (i.id.as_str(), i.parent_id.as_str()))
                .collect();
            let mut used = BTreeSet::new();
            for i in images.iter().filter(|i| !i.repo_tags.is_empty()) {
                let mut cur = i.id.as_str();
                while !cur.is_empty() && used.insert(cur.to_owned()) {
                    cur = parent.get(cur).copied().unwrap_or("");
                }
            }
            used
        };
        let mut report = CachePruneReport::default();
        for e in rd.flatten() {
            let key = e.file_name().to_string_lossy().into_owned();
            if key.starts_with('.') {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            let image = std::fs::read_to_string(e.path()).unwrap_or_default();
            let alive = self.store.resolve(image.trim()).ok().map(|i| i.id);
            let dead = alive.is_none();
            let unused = alive.as_ref().is_none_or(|id| !used.contains(id));
            let old_enough = opts
                .until
                .is_none_or(|t| meta.modified().is_ok_and(|m| m < t));
            let picked =
                opts.ids.is_empty() || opts.ids.iter().any(|p| key.starts_with(p.as_str()));
            let goes = dead || ((opts.all || unused) && old_enough && picked);
            if goes && std::fs::remove_file(e.path()).is_ok() {
                report.reclaimed += meta.len();
                report.deleted.push(key);
            }
        }
        report.deleted.sort();
        Ok(report)
    }
}
