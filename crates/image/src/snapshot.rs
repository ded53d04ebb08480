//! Snapshots: one read-only directory per layer chain ID (`snapshots/<chain>/fs`), shared by
//! every image and container that uses the chain, with a short link name (`l/<LINK>`) so deep
//! images fit the overlay mount options; and one writable upper/work pair per container
//! (`active/<key>/`). Mounts are returned as data ([`Mount`]); callers mount them.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::error::{Error, IoContext};
use crate::meta::{self, Meta, SnapshotRow};
use crate::spare::{Skeleton, SparePool};
use crate::types::Mount;

/// Docker's chain IDs: `chain[0] = diff[0]`, `chain[i] = sha256(chain[i-1] + " " + diff[i])`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(p) => chain_of(Some(p), d),
        };
        out.push(next);
    }
    out
}

pub fn chain_of(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => {
            let mut h = Sha256::new();
            h.update(p.as_str().as_bytes());
            h.update(b" ");
            h.update(diff_id.as_str().as_bytes());
            Digest::from_hasher(h)
        }
    }
}

pub struct Snapshots {
    root: PathBuf,
    /// Empty writable layers (`upper`, `work`) made ahead of the creates that take them.
    spares: SparePool,
    /// Serialises commits, so two pulls of one layer cannot both move it into place.
    commit_lock: std::sync::Mutex<()>,
}

/// A directory under `tmp/` removed on drop unless committed.
pub struct TempDir {
    path: Option<PathBuf>,
}

impl TempDir {
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new("/nonexistent"))
    }
    /// The `fs` directory inside, where a layer is unpacked.
    pub fn fs(&self) -> PathBuf {
        self.path().join("fs")
    }
    fn keep(mut self) -> PathBuf {
        self.path.take().unwrap_or_default()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = fs::remove_dir_all(&p);
        }
    }
}

impl Snapshots {
    pub fn open(root: &Path) -> Result<Snapshots, Error> {
        for d in ["snapshots", "l", "active", "empty"] {
            fs::create_dir_all(root.join(d))
                .ctx(|| format!("create {}", root.join(d).display()))?;
        }
        make_init(&root.join(INIT_DIR))?;
        let tmp = root.join("tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp).ctx(|| format!("clean {}", tmp.display()))?;
        }
        fs::create_dir_all(&tmp).ctx(|| format!("create {}", tmp.display()))?;
        let spares = SparePool::open(&root.join("spare"), ACTIVE_SKELETON)?;
        Ok(Snapshots {
            root: root.to_owned(),
            spares,
            commit_lock: std::sync::Mutex::new(()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn temp(&self) -> Result<TempDir, Error> {
        let p = self
            .root
            .join("tmp")
            .join(format!("{:016x}", rand::random::<u64>()));
        fs::create_dir_all(p.join("fs")).ctx(|| format!("create {}", p.display()))?;
        Ok(TempDir { path: Some(p) })
    }

    pub fn dir(&self, chain: &Digest) -> PathBuf {
        self.root.join("snapshots").join(chain.hex())
    }

    pub fn fs_dir(&self, chain: &Digest) -> PathBuf {
        self.dir(chain).join("fs")
    }

    pub fn active_dir(&self, key: &str) -> PathBuf {
        self.root.join("active").join(key)
    }

    /// Moves an unpacked layer into place as the snapshot of `chain` and records it. If another
    /// pull committed the same chain meanwhile, the temporary copy is dropped.
    pub fn commit_layer(
        &self,
        meta: &Meta,
        tmp: TempDir,
        chain: &Digest,
        parent: Option<&Digest>,
        diff_id: &Digest,
        size: u64,
    ) -> Result<(), Error> {
        let _lock = self.commit_lock.lock().unwrap_or_else(|p| p.into_inner());
        if meta.snapshot(chain)?.is_some() {
            return Ok(());
        }
        let dest = self.dir(chain);
        if dest.exists() {
            // A leftover of a crash between rename and record: replace it.
            fs::remove_dir_all(&dest).ctx(|| format!("remove {}", dest.display()))?;
        }
        let src = tmp.path().to_owned();
        fs::rename(&src, &dest)
            .ctx(|| format!("rename {} to {}", src.display(), dest.display()))?;
        let _ = tmp.keep();
        let link = short_link();
        let lpath = self.root.join("l").join(&link);
        symlink(format!("../snapshots/{}/fs", chain.hex()), &lpath)
            .ctx(|| format!("link {}", lpath.display()))?;
        let row = SnapshotRow {
            chain_id: chain.clone(),
            parent: parent.map(|p| p.to_string()).unwrap_or_default(),
            diff_id: diff_id.clone(),
            link,
            size,
        };
        let conn = meta.lock();
        match meta::insert_snapshot(&conn, &row) {
            Ok(()) => Ok(()),
            Err(e) => {
                drop(conn);
                let _ = fs::remove_file(&lpath);
                if meta.snapshot(chain)?.is_some() {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// The lower directories for the layers `chains` (bottom first), as short links, top first.
    pub fn lowerdirs(&self, meta: &Meta, chains: &[Digest]) -> Result<Vec<String>, Error> {
        let mut out = Vec::with_capacity(chains.len());
        for c in chains.iter().rev() {
            let row = meta
                .snapshot(c)?
                .ok_or_else(|| Error::NoSuchSnapshot(format!("layer {c}")))?;
            out.push(
                self.root
                    .join("l")
                    .join(row.link)
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        if out.is_empty() {
            out.push(self.root.join("empty").to_string_lossy().into_owned());
        }
        Ok(out)
    }

    /// Creates the writable layer of `key`, from a spare one when the pool has one; fails if
    /// it exists.
    pub fn create_active(&self, key: &str) -> Result<PathBuf, Error> {
        validate_key(key)?;
        let dir = self.active_dir(key);
        match self.spares.take_into(&dir) {
            Ok(true) => return Ok(dir),
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::SnapshotExists(key.to_owned()));
            }
            // made the slow way below, which reports the error if it is lasting
            Err(_) => {}
        }
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::SnapshotExists(key.to_owned()));
            }
            Err(e) => return Err(Error::io(format!("create {}", dir.display()), e)),
        }
        for d in ["upper", "work"] {
            fs::create_dir(dir.join(d)).ctx(|| format!("create {}", dir.join(d).display()))?;
        }
        Ok(dir)
    }

    /// Makes spare writable layers until `target` are ready (see [`crate::spare`]); returns
    /// how many it made.
    pub fn fill_spares(&self, target: usize) -> Result<usize, Error> {
        self.spares.fill(target)
    }

    /// A container's lowerdirs (top first): the image's, under the init layer when it fits
    /// (see [`INIT_FILES`]).
    pub fn container_lowers(&self, mut lowers: Vec<String>) -> Vec<String> {
        if init_fits(&lowers) {
            let init = self.root.join(INIT_DIR).to_string_lossy().into_owned();
            lowers.insert(0, init);
        }
        lowers
    }

    pub fn overlay_mount(&self, key: &str, lowers: &[String]) -> Mount {
        let dir = self.active_dir(key);
        Mount {
            fstype: "overlay".into(),
            source: "overlay".into(),
            options: vec![
                format!("lowerdir={}", lowers.join(":")),
                format!("upperdir={}", dir.join("upper").display()),
                format!("workdir={}", dir.join("work").display()),
            ],
        }
    }
}

/// A writable layer as [`Snapshots::create_active`] makes it.
const ACTIVE_SKELETON: Skeleton = Skeleton {
    dirs: &["upper", "work"],
    files: &[],
};

/// The init layer's directory under the snapshots root.
const INIT_DIR: &str = "init";

/// The init layer: empty mount points for the files every container gets bind-mounted over,
/// shared by all containers as their top lowerdir (Docker makes such a layer per container).
/// Without it the runtime makes them in each container's upper directory on every first
/// start: a copy-up of /etc and four new inodes, about 0.3 ms, and several times that on a
/// filesystem busy with recent deletions.
pub const INIT_FILES: [&str; 3] = ["etc/hosts", "etc/hostname", "etc/resolv.conf"];

/// Makes (or completes, after a crash) the init layer at `dir`: root-owned, 0755 directories
/// and empty 0644 files.
fn make_init(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let etc = dir.join("etc");
    fs::create_dir_all(&etc).ctx(|| format!("create {}", etc.display()))?;
    for d in [dir, etc.as_path()] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755))
            .ctx(|| format!("chmod {}", d.display()))?;
    }
    for f in INIT_FILES {
        let p = dir.join(f);
        if !p.is_file() {
            fs::File::create(&p).ctx(|| format!("create {}", p.display()))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644))
                .ctx(|| format!("chmod {}", p.display()))?;
        }
    }
    Ok(())
}

/// Whether the init layer may sit above `lowers` (top first) without changing the image:
/// the topmost `etc` is a directory, or no layer has one. A symlink, file or whiteout there
/// keeps the init layer out (it would hide them).
fn init_fits(lowers: &[String]) -> bool {
    for l in lowers {
        match fs::symlink_metadata(Path::new(l).join("etc")) {
            Ok(m) => return m.is_dir(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(_) => return false,
        }
    }
    true
}

pub fn validate_key(key: &str) -> Result<(), Error> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        && !key.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "invalid snapshot key {key:?}"
        )))
    }
}

fn short_link() -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    (0..16)
        .map(|_| ALPHA[rand::random_range(0..ALPHA.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_docker() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let c = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(c[0], a);
        assert_eq!(c[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn snapshot_keys_are_plain_names() {
        assert!(validate_key("abc-1_2.x").is_ok());
        for bad in ["", "../x", "a/b", ".hidden"] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}
