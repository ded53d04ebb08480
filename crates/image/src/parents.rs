//! Parent links between images, as moby keeps them beside its image store
//! (`metadata/sha256/<id>/parent`): `commit` records the image a new one was made from, so the
//! legacy builder's step images form chains. Local metadata only: the link is not part of the
//! image config (the image ID does not depend on it) and is not saved or pushed.
//!
//! Docker's rules built on them: `docker images` hides untagged images that are the parent of
//! another image (`-a` shows them); `rmi` of an image refuses to delete one that has children
//! ("image has dependent child images") and, after a delete, removes the untagged parents left
//! without children; `image prune` removes dangling heads, then the parents they leave dangling.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, Transaction, params};

use crate::error::Error;
use crate::meta::Meta;
use crate::store::ImageStore;
use crate::types::{ImageSummary, RemovedItem};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS image_parents (
    id TEXT PRIMARY KEY,
    parent TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS image_parents_by_parent ON image_parents(parent);
";

impl Meta {
    pub(crate) fn set_parent(&self, id: &str, parent: &str) -> Result<(), Error> {
        self.lock().execute(
            "INSERT INTO image_parents (id, parent) VALUES (?1, ?2)
             ON CONFLICT(id) DO UPDATE SET parent = excluded.parent",
            params![id, parent],
        )?;
        Ok(())
    }

    /// The recorded parent of `id`, if it is still in the store.
    pub(crate) fn parent_of(&self, id: &str) -> Result<Option<String>, Error> {
        Ok(self
            .lock()
            .query_row(
                "SELECT p.parent FROM image_parents p JOIN images i ON i.id = p.parent
                 WHERE p.id = ?1",
                [id],
                |r| r.get::<_, String>(0),
            )
            .optional()?)
    }

    /// Whether an image in the store was made from `id`.
    pub(crate) fn has_children(&self, id: &str) -> Result<bool, Error> {
        Ok(self
            .lock()
            .query_row(
                "SELECT 1 FROM image_parents p JOIN images i ON i.id = p.id
                 WHERE p.parent = ?1 LIMIT 1",
                [id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// child → parent, for images whose both ends are in the store.
    pub(crate) fn parent_links(&self) -> Result<HashMap<String, String>, Error> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT p.id, p.parent FROM image_parents p
             JOIN images c ON c.id = p.id JOIN images i ON i.id = p.parent",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Drops the link of a deleted image (inside the transaction that deletes it).
pub(crate) fn forget(tx: &Transaction<'_>, id: &str) -> Result<(), Error> {
    tx.execute("DELETE FROM image_parents WHERE id = ?1", [id])?;
    Ok(())
}

impl ImageStore {
    /// `docker images` (`all` for `-a`): every image with its `ParentId`; without `all`,
    /// untagged images that are the parent of another image (build steps) are left out.
    pub fn list_images(&self, all: bool) -> Result<Vec<ImageSummary>, Error> {
        let links = self.meta.parent_links()?;
        let parents: HashSet<&String> = links.values().collect();
        let mut list = self.list()?;
        for s in &mut list {
            s.parent_id = links.get(&s.id).cloned().unwrap_or_default();
        }
        if !all {
            list.retain(|s| {
                !(s.repo_tags.is_empty() && s.repo_digests.is_empty() && parents.contains(&s.id))
            });
        }
        Ok(list)
    }

    /// The image `id` was committed from (empty when none is recorded or it is gone).
    pub fn parent(&self, id: &str) -> Result<String, Error> {
        Ok(self.meta.parent_of(id)?.unwrap_or_default())
    }

    /// After `id` was deleted: deletes its parent if it is left untagged, childless and unused,
    /// and so on up the chain (moby's default, `noprune=false`). Returns what was deleted.
    pub(crate) fn prune_parents(
        &self,
        parent: Option<String>,
        in_use: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<RemovedItem>, Error> {
        let mut out = Vec::new();
        let mut next = parent;
        while let Some(id) = next.take() {
            if !self.meta.refs_of(&id)?.is_empty()
                || self.meta.has_children(&id)?
                || self.in_use(&id, in_use)?
            {
                break;
            }
            next = self.meta.parent_of(&id)?;
            self.meta.tx(|tx| {
                tx.execute("DELETE FROM images WHERE id = ?1", [&id])?;
                forget(tx, &id)
            })?;
            out.push(RemovedItem::Deleted(id));
        }
        Ok(out)
    }
}
