//! The builder: Dockerfile stages → images in the store, one image per step as Docker's legacy
//! builder makes them, with a cache keyed by the parent image, the expanded instruction and the
//! content hash of copied files.

pub mod config;
mod copy_step;
mod prune;
mod reproducible;
mod run;
mod snapshot;
mod stage;
mod step;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use berth_image::{ContainerConfig, ImageStore};
use sha2::{Digest as _, Sha256};

use crate::context::BuildContext;
use crate::dockerfile::{CopySource, Dockerfile, Located};
use crate::error::BuildError;

pub use prune::{CachePruneOptions, CachePruneReport};
pub use run::{NetworkMode, find_runtime, resolve_user};

/// Build args Docker predefines: usable without `ARG`, kept out of history and cache keys.
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// `docker build` options (the Engine API's `POST /build` query).
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Dockerfile path inside the context (`-f`); empty means `Dockerfile`.
    pub dockerfile: String,
    /// `-t`, several allowed.
    pub tags: Vec<String>,
    /// `--build-arg`; `None` means "declared but unset" (`--build-arg NAME` with no value).
    pub build_args: BTreeMap<String, Option<String>>,
    /// `--label`, added to the final image.
    pub labels: BTreeMap<String, String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`: ask the puller for every base image even when present.
    pub pull: bool,
    /// `-q`: only the image ID is streamed.
    pub quiet: bool,
    /// `rm=0`: step containers are kept (Docker then prints no "Removing intermediate
    /// container"; Berth's step snapshots are removed either way).
    pub keep_containers: bool,
    /// `forcerm`: step containers are removed even when their step fails.
    pub force_remove: bool,
    /// Network of RUN steps.
    pub network: NetworkMode,
    /// `SOURCE_DATE_EPOCH`: timestamps clamped for reproducible images.
    pub source_date_epoch: Option<i64>,
    /// Set when the client went away: the build stops (a running RUN is killed) and fails
    /// with "Build cancelled".
    pub cancel: Cancel,
}

/// A build's cancellation flag, shared with whoever watches the client.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<std::sync::atomic::AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `Err("Build cancelled")` once cancelled (moby's error).
    pub(crate) fn check(&self) -> Result<(), BuildError> {
        if self.is_cancelled() {
            return Err(BuildError::Other("Build cancelled".into()));
        }
        Ok(())
    }
}

/// What the builder reports while it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// Text for the `{"stream": ...}` lines (Docker's legacy output, newlines included).
    Stream(String),
    /// The image ID of a stage that is done (`{"aux": {"ID": ...}}`), as Docker's legacy
    /// builder emits it after each stage; the last one is the build's image.
    Aux(String),
    /// A progress message of a pull made for FROM (Docker's JSON message, sent as is).
    Progress(serde_json::Value),
}

/// The result of a build.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    pub image_id: String,
    /// The tags applied, normalized (`name:latest`).
    pub tags: Vec<String>,
}

/// Pulls an image the store lacks (the engine supplies it; it may block on async pulls),
/// handing each of the pull's progress messages to the callback.
pub type Puller<'a> =
    &'a (dyn Fn(&str, &mut dyn FnMut(serde_json::Value)) -> Result<(), String> + Sync);

/// Builds images into an [`ImageStore`]. Owns `state_dir` (cache index, mounts, bundles).
/// Keep one per daemon: intermediate snapshots are removed by its background cleaner thread
/// after each step is committed (deleting layers' files is slow on disks mounted with
/// `discard`, and nobody needs to wait for it).
pub struct Builder {
    store: Arc<ImageStore>,
    state: PathBuf,
    runtime: PathBuf,
    cleaner: Mutex<Option<mpsc::Sender<Garbage>>>,
    cleaner_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// A private folder on tmpfs (`/dev/shm`) for small tar contexts, when available.
    memory: Option<PathBuf>,
    /// The OCI `linux.seccomp` of a RUN step (the engine's default profile for Docker's
    /// default capabilities, as dockerd's legacy builder runs steps in plain containers).
    run_seccomp: Option<serde_json::Value>,
}

/// `/dev/shm/berth-build-<hash of state_dir>`, ours (root, 0700, not a symlink), or None.
fn memory_dir(state_dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return None;
    }
    let abs = std::fs::canonicalize(state_dir).ok()?;
    let tag = hex::encode(Sha256::digest(abs.as_os_str().as_encoded_bytes()));
    let dir = shm.join(format!("berth-build-{}", &tag[..16]));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let m = std::fs::symlink_metadata(&dir).ok()?;
    let mine = m.is_dir() && m.uid() == rustix_uid() && m.mode() & 0o077 == 0;
    mine.then_some(dir)
}

fn rustix_uid() -> u32 {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() }
}

impl Drop for Builder {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(m) = &self.memory {
            // Only when empty: another builder over the same state may be using it.
            let _ = std::fs::remove_dir(m);
        }
    }
}

/// What the cleaner thread removes.
enum Garbage {
    Snapshot(String),
    Dir(PathBuf),
}

impl Garbage {
    fn remove(self, store: &ImageStore) {
        match self {
            Garbage::Snapshot(key) => {
                if let Err(e) = store.remove_snapshot(&key) {
                    tracing::warn!(%key, error = %e, "removing a build snapshot failed");
                }
            }
            Garbage::Dir(dir) => {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
}

/// Where each stage ended up, by index and name.
#[derive(Default, Clone)]
struct Stages {
    ids: BTreeMap<usize, String>,
    names: BTreeMap<String, usize>,
}

/// Per-build state shared by stages.
struct BuildRun<'b> {
    builder: &'b Builder,
    ctx: &'b BuildContext,
    opts: &'b BuildOptions,
    escape: char,
    pull: Puller<'b>,
    progress: &'b mut dyn FnMut(BuildEvent),
    step: usize,
    total: usize,
    used_args: BTreeSet<String>,
    meta_args: BTreeMap<String, Option<String>>,
    stages: Stages,
}

/// One stage's running state.
pub(crate) struct StageState {
    pub image_id: String,
    pub config: ContainerConfig,
    pub args: BTreeMap<String, Option<String>>,
    pub cmd_set: bool,
}

impl Builder {
    /// A builder over `store`, keeping its own state in `state_dir`, running RUN steps with the
    /// `berth-runtime` binary at `runtime`.
    pub fn new(
        store: Arc<ImageStore>,
        state_dir: &Path,
        runtime: &Path,
    ) -> Result<Self, BuildError> {
        for d in ["cache", "mnt", "bundles", "runtime", "contexts"] {
            std::fs::create_dir_all(state_dir.join(d)).map_err(|e| {
                BuildError::Other(format!("create {}: {e}", state_dir.join(d).display()))
            })?;
        }
        let (tx, rx) = mpsc::channel::<Garbage>();
        let s = store.clone();
        let thread = std::thread::Builder::new()
            .name("build-cleaner".into())
            .spawn(move || {
                for g in rx {
                    g.remove(&s);
                }
            })
            .map_err(|e| BuildError::Other(format!("start the cleaner thread: {e}")))?;
        Ok(Builder {
            store,
            state: state_dir.to_path_buf(),
            runtime: runtime.to_path_buf(),
            cleaner: Mutex::new(Some(tx)),
            cleaner_thread: Mutex::new(Some(thread)),
            memory: memory_dir(state_dir),
            run_seccomp: None,
        })
    }

    /// Sets the seccomp section every RUN step's container gets (`None`: unfiltered).
    pub fn set_run_seccomp(&mut self, seccomp: Option<serde_json::Value>) {
        self.run_seccomp = seccomp;
    }

    /// Cleans up after a crash: unmounts leftover step mounts and removes the store's build
    /// snapshots (`build-*` keys). Call once at daemon start, before any build.
    pub fn reconcile(&self) -> Result<(), BuildError> {
        for dir in ["mnt", "bundles", "contexts"] {
            if let Ok(rd) = std::fs::read_dir(self.state.join(dir)) {
                for e in rd.flatten() {
                    if dir == "mnt" {
                        let _ = berth_image::unmount(&e.path());
                    }
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        if let Some(m) = &self.memory
            && let Ok(rd) = std::fs::read_dir(m)
        {
            for e in rd.flatten() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        // RUN containers of a crashed build.
        if let Ok(rd) = std::fs::read_dir(self.state.join("runtime")) {
            for e in rd.flatten() {
                let _ = std::process::Command::new(&self.runtime)
                    .arg("--root")
                    .arg(self.state.join("runtime"))
                    .args(["delete", "--force"])
                    .arg(e.file_name())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
        // Cache entries whose image is gone (pruned) are dropped.
        if let Ok(rd) = std::fs::read_dir(self.state.join("cache")) {
            for e in rd.flatten() {
                let alive = std::fs::read_to_string(e.path())
                    .ok()
                    .is_some_and(|id| self.store.resolve(id.trim()).is_ok());
                if !alive {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        for (key, _) in self.store.snapshots()? {
            if key.starts_with(snapshot::KEY_PREFIX) {
                self.store.remove_snapshot(&key)?;
            }
        }
        Ok(())
    }

    /// `docker builder prune`: forgets every cache entry (the images stay until pruned);
    /// returns how many entries were dropped.
    pub fn prune_cache(&self) -> Result<usize, BuildError> {
        let dir = self.state.join("cache");
        let mut n = 0;
        let rd = std::fs::read_dir(&dir)
            .map_err(|e| BuildError::Other(format!("read {}: {e}", dir.display())))?;
        for e in rd.flatten() {
            if std::fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Waits until every intermediate snapshot handed to the cleaner is removed, then stops it
    /// (for short-lived processes; a daemon just keeps its builder).
    pub fn shutdown(&self) {
        if let Ok(mut tx) = self.cleaner.lock() {
            tx.take();
        }
        let handle = self.cleaner_thread.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// Removes a snapshot on the cleaner thread (or now, once shut down).
    pub(crate) fn discard_snapshot(&self, key: String) {
        self.discard(Garbage::Snapshot(key));
    }

    /// Drops a build context; an unpacked tar context is deleted on the cleaner thread.
    pub fn discard_context(&self, ctx: BuildContext) {
        if let Some(dir) = ctx.into_owned_dir() {
            self.discard(Garbage::Dir(dir));
        }
    }

    fn discard(&self, g: Garbage) {
        let tx = self.cleaner.lock().ok().and_then(|t| t.clone());
        let g = match tx {
            Some(tx) => match tx.send(g) {
                Ok(()) => return,
                Err(mpsc::SendError(g)) => g,
            },
            None => g,
        };
        g.remove(&self.store);
    }

    /// Unpacks a tar context (`POST /build`'s body) on tmpfs when small, else on disk.
    pub fn context_from_tar(
        &self,
        reader: impl std::io::Read + Send,
    ) -> Result<BuildContext, BuildError> {
        BuildContext::from_tar_in(reader, &self.context_dir(), self.memory.as_deref())
    }

    /// Where tar contexts should be unpacked ([`BuildContext::from_tar`]'s `scratch`).
    pub fn context_dir(&self) -> PathBuf {
        self.state.join("contexts")
    }

    /// Builds the Dockerfile in `ctx`. Progress goes to `progress` as Docker's legacy builder
    /// prints it; missing base images are fetched with `pull`.
    pub fn build(
        &self,
        ctx: &BuildContext,
        opts: &BuildOptions,
        pull: Puller<'_>,
        progress: &mut dyn FnMut(BuildEvent),
    ) -> Result<BuildOutput, BuildError> {
        // An epoch out of range fails before any step runs.
        reproducible::stamp(opts.source_date_epoch)?;
        let parse = crate::timing::Phase::new("parse", "");
        let text = ctx.dockerfile(&opts.dockerfile)?;
        let df = Dockerfile::parse(&text)?;
        drop(parse);
        // With -q only the stages' IDs go out (moby discards the rest unless the build fails).
        let mut quiet_sink = |e: BuildEvent| {
            if let BuildEvent::Aux(_) = e {
                progress(e)
            }
        };
        let sink: &mut dyn FnMut(BuildEvent) = if opts.quiet {
            &mut quiet_sink
        } else {
            progress
        };
        let mut run = BuildRun {
            builder: self,
            ctx,
            opts,
            escape: df.escape,
            pull,
            progress: sink,
            step: 0,
            total: 0,
            used_args: BTreeSet::new(),
            meta_args: BTreeMap::new(),
            stages: Stages::default(),
        };
        let id = run.build(&df)?;
        let unused: Vec<&String> = opts
            .build_args
            .keys()
            .filter(|k| {
                !run.used_args.contains(*k)
                    && !PROXY_ARGS.contains(&k.as_str())
                    && k.as_str() != "SOURCE_DATE_EPOCH"
                    && !run.meta_args.contains_key(k.as_str())
            })
            .collect();
        if !unused.is_empty() {
            let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
            run.say(format!(
                "[Warning] One or more build-args [{}] were not consumed\n",
                names.join(" ")
            ));
        }
        let _tag = crate::timing::Phase::new("tag", "");
        let mut tags = Vec::new();
        for t in &opts.tags {
            self.store.tag(&id, t)?;
            tags.push(normalize_tag(t));
        }
        let short = short_id(&id);
        run.say(format!("Successfully built {short}\n"));
        for t in &tags {
            run.say(format!("Successfully tagged {t}\n"));
        }
        drop(run);
        if opts.quiet {
            progress(BuildEvent::Stream(format!("{id}\n")));
        }
        Ok(BuildOutput { image_id: id, tags })
    }

    fn cache_get(&self, key: &str) -> Option<String> {
        let id = std::fs::read_to_string(self.state.join("cache").join(key)).ok()?;
        let img = self.store.resolve(id.trim()).ok()?;
        Some(img.id)
    }

    fn cache_put(&self, key: &str, id: &str) {
        let dir = self.state.join("cache");
        let tmp = dir.join(format!(".{key}.tmp"));
        if std::fs::write(&tmp, id).is_ok() {
            let _ = std::fs::rename(&tmp, dir.join(key));
        }
    }
}

/// The host's architecture in OCI terms.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// `sha256:abc...` → `abc...` (12 hex).
pub fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex[..hex.len().min(12)].to_owned()
}

/// `name` → `name:latest` when it has neither tag nor digest.
pub fn normalize_tag(t: &str) -> String {
    let last = t.rsplit('/').next().unwrap_or(t);
    if last.contains(':') || t.contains('@') {
        t.to_owned()
    } else {
        format!("{t}:latest")
    }
}

fn cache_key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(b"\0");
    }
    hex::encode(h.finalize())
}

fn step_error(l: &Located, e: impl std::fmt::Display) -> BuildError {
    BuildError::Step(format!(
        "failed to process {:?}: {e}",
        l.instruction.to_text().lines().next().unwrap_or("")
    ))
}

/// Quotes a label value so it survives word splitting and expansion unchanged.
fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\"'\"'"))
}

/// Whether a COPY source list holds heredocs only.
pub(crate) fn heredoc_only(sources: &[CopySource]) -> bool {
    sources.iter().all(|s| matches!(s, CopySource::Heredoc(_)))
}
