//! Garbage collection by references: everything reachable from an image (manifest, config,
//! layer blobs, layer snapshots) or from a container's snapshot is alive; the rest goes.

use std::collections::HashSet;
use std::fs;

use crate::digest::Digest;
use crate::error::Error;
use crate::snapshot::chain_ids;
use crate::store::ImageStore;
use crate::types::{GcReport, ImageConfig, Manifest};

impl ImageStore {
    /// Removes blobs and layer snapshots no image or container references. Skipped (empty
    /// report) while a pull, load, import or commit is adding content.
    pub fn gc(&self) -> Result<GcReport, Error> {
        let _guard = self.busy();
        let mut report = GcReport::default();
        if self.busy_count() > 1 {
            return Ok(report);
        }
        let mut blobs: HashSet<Digest> = HashSet::new();
        let mut chains: HashSet<String> = HashSet::new();
        for row in self.meta.images()? {
            let id = Digest::parse(&row.id)?;
            blobs.insert(id.clone());
            blobs.insert(row.manifest.clone());
            if let Ok(bytes) = self.content.read(&row.manifest)
                && let Ok(m) = serde_json::from_slice::<Manifest>(&bytes)
            {
                blobs.extend(m.layers.into_iter().map(|l| l.digest));
            }
            if let Ok(bytes) = self.content.read(&id)
                && let Ok(c) = serde_json::from_slice::<ImageConfig>(&bytes)
            {
                chains.extend(
                    chain_ids(&c.rootfs.diff_ids)
                        .into_iter()
                        .map(|c| c.to_string()),
                );
            }
        }
        let snapshots = self.meta.snapshots()?;
        let parent_of: std::collections::HashMap<String, String> = snapshots
            .iter()
            .map(|s| (s.chain_id.to_string(), s.parent.clone()))
            .collect();
        for (_, _, chain) in self.meta.actives()? {
            let mut c = chain;
            while !c.is_empty() && chains.insert(c.clone()) {
                c = parent_of.get(&c).cloned().unwrap_or_default();
            }
        }
        for s in snapshots {
            if chains.contains(s.chain_id.as_str()) {
                continue;
            }
            self.meta.tx(|tx| {
                tx.execute(
                    "DELETE FROM snapshots WHERE chain_id = ?1",
                    [s.chain_id.as_str()],
                )?;
                Ok(())
            })?;
            let _ = fs::remove_file(self.snaps.root().join("l").join(&s.link));
            let _ = fs::remove_dir_all(self.snaps.dir(&s.chain_id));
            report.bytes_freed += s.size;
            report.snapshots_removed += 1;
            report.deleted_layers.push(s.chain_id.to_string());
        }
        // Directories without a row: leftovers of a crash between rename and record.
        if let Ok(rd) = fs::read_dir(self.snaps.root().join("snapshots")) {
            let known: HashSet<String> = self
                .meta
                .snapshots()?
                .into_iter()
                .map(|s| s.chain_id.hex().to_owned())
                .collect();
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !known.contains(&name) {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
        for (d, size) in self.content.list()? {
            if blobs.contains(&d) {
                continue;
            }
            report.bytes_freed += self.content.remove(&d).unwrap_or(size);
            report.blobs_removed += 1;
            self.meta.tx(|tx| {
                tx.execute("DELETE FROM layer_blobs WHERE digest = ?1", [d.as_str()])?;
                Ok(())
            })?;
        }
        Ok(report)
    }
}
