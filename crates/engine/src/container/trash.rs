//! Deferred deletion. Removing a container renames its directories (run dir, data dir,
//! writable layer) into a trash directory on the same filesystem, one `rename` each, so the
//! remove (and `docker run --rm`, which waits for it) finishes without waiting for the
//! recursive deletes; those run afterwards on a blocking thread. Whatever a crash leaves in
//! the trash is deleted when the engine opens.

use std::path::{Path, PathBuf};

use crate::Engine;

impl Engine {
    fn trash_dirs(&self) -> [PathBuf; 2] {
        [
            self.config().exec_root.join("trash"),
            self.config().engine_dir().join("trash"),
        ]
    }

    /// At startup: empties what a crash left in the trash.
    pub(crate) fn empty_trash(&self) {
        for t in self.trash_dirs() {
            let _ = std::fs::remove_dir_all(&t);
        }
    }

    /// Moves `dir` into the trash beside it (`trash` of the exec root for paths under it, of
    /// the engine dir otherwise) and returns where it went; `None` when it does not exist.
    /// When the rename fails the directory is deleted in place.
    pub(crate) fn to_trash(&self, dir: &Path) -> Option<PathBuf> {
        if !dir.exists() {
            return None;
        }
        let [exec_trash, data_trash] = self.trash_dirs();
        let trash = if dir.starts_with(&self.config().exec_root) {
            exec_trash
        } else {
            data_trash
        };
        let name = dir.file_name()?.to_string_lossy().into_owned();
        let target = trash.join(format!("{name}-{:08x}", rand::random::<u32>()));
        if std::fs::create_dir_all(&trash).is_ok() && std::fs::rename(dir, &target).is_ok() {
            return Some(target);
        }
        let _ = std::fs::remove_dir_all(dir);
        None
    }
}

/// Deletes trashed directories on a blocking thread, not awaited.
pub(crate) fn delete_later(dirs: Vec<PathBuf>) {
    if dirs.is_empty() {
        return;
    }
    tokio::task::spawn_blocking(move || {
        for d in dirs {
            let _ = std::fs::remove_dir_all(&d);
        }
    });
}
