//! The builder: Dockerfile stages → images in the store, one image per step as Docker's legacy
//! builder makes them, with a cache keyed by the parent image, the expanded instruction and the
//! content hash of copied files.

pub mod config;
mod reproducible;
mod run;
mod step;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use berth_image::{ContainerConfig, ImageStore};
use sha2::{Digest as _, Sha256};

use crate::context::BuildContext;
use crate::dockerfile::{CopySource, Dockerfile, Instruction, Located};
use crate::error::BuildError;
use crate::expand::expand_word;

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
    /// Network of RUN steps.
    pub network: NetworkMode,
    /// `SOURCE_DATE_EPOCH`: timestamps clamped for reproducible images.
    pub source_date_epoch: Option<i64>,
}

/// What the builder reports while it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// Text for the `{"stream": ...}` lines (Docker's legacy output, newlines included).
    Stream(String),
    /// The final image ID (`{"aux": {"ID": ...}}`).
    Aux(String),
}

/// The result of a build.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    pub image_id: String,
    /// The tags applied, normalized (`name:latest`).
    pub tags: Vec<String>,
}

/// Pulls an image the store lacks (the engine supplies it; it may block on async pulls).
pub type Puller<'a> = &'a (dyn Fn(&str) -> Result<(), String> + Sync);

/// Builds images into an [`ImageStore`]. Owns `state_dir` (cache index, mounts, bundles).
/// Keep one per daemon: intermediate snapshots are removed by its background cleaner thread
/// after each step is committed (deleting layers' files is slow on disks mounted with
/// `discard`, and nobody needs to wait for it).
pub struct Builder {
    store: Arc<ImageStore>,
    state: PathBuf,
    runtime: PathBuf,
    cleaner: Mutex<Option<mpsc::Sender<String>>>,
    cleaner_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
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
        let (tx, rx) = mpsc::channel::<String>();
        let s = store.clone();
        let thread = std::thread::Builder::new()
            .name("build-cleaner".into())
            .spawn(move || {
                for key in rx {
                    if let Err(e) = s.remove_snapshot(&key) {
                        tracing::warn!(%key, error = %e, "removing a build snapshot failed");
                    }
                }
            })
            .map_err(|e| BuildError::Other(format!("start the cleaner thread: {e}")))?;
        Ok(Builder {
            store,
            state: state_dir.to_path_buf(),
            runtime: runtime.to_path_buf(),
            cleaner: Mutex::new(Some(tx)),
            cleaner_thread: Mutex::new(Some(thread)),
        })
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
        for (key, _) in self.store.snapshots()? {
            if key.starts_with(step::KEY_PREFIX) {
                self.store.remove_snapshot(&key)?;
            }
        }
        Ok(())
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
        let tx = self.cleaner.lock().ok().and_then(|t| t.clone());
        let key = match tx {
            Some(tx) => match tx.send(key) {
                Ok(()) => return,
                Err(mpsc::SendError(k)) => k,
            },
            None => key,
        };
        let _ = self.store.remove_snapshot(&key);
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
        let text = ctx.dockerfile(&opts.dockerfile)?;
        let df = Dockerfile::parse(&text)?;
        let mut quiet_sink = |_: BuildEvent| {};
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
        let mut id = run.build(&df)?;
        if let Some(epoch) = opts.source_date_epoch {
            id = reproducible::restamp(&self.store, &self.state.join("contexts"), &id, epoch)?;
        }
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
        let mut tags = Vec::new();
        for t in &opts.tags {
            self.store.tag(&id, t)?;
            tags.push(normalize_tag(t));
        }
        let short = short_id(&id);
        (run.progress)(BuildEvent::Aux(id.clone()));
        run.say(format!("Successfully built {short}\n"));
        for t in &tags {
            run.say(format!("Successfully tagged {t}\n"));
        }
        if opts.quiet {
            progress(BuildEvent::Aux(id.clone()));
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

impl BuildRun<'_> {
    fn say(&mut self, s: impl Into<String>) {
        (self.progress)(BuildEvent::Stream(s.into()));
    }

    fn build(&mut self, df: &Dockerfile) -> Result<String, BuildError> {
        let stages = df.stages();
        // BuildKit's automatic platform args, usable in FROM (and after `ARG NAME` in a stage).
        let (os, arch) = ("linux", host_arch());
        for (k, v) in [
            ("BUILDPLATFORM", format!("{os}/{arch}")),
            ("BUILDOS", os.to_owned()),
            ("BUILDARCH", arch.to_owned()),
            ("TARGETPLATFORM", format!("{os}/{arch}")),
            ("TARGETOS", os.to_owned()),
            ("TARGETARCH", arch.to_owned()),
            ("TARGETVARIANT", String::new()),
        ] {
            self.meta_args.insert(k.to_owned(), Some(v));
        }
        // Global ARGs: defaults expanded with earlier ones, overridden by --build-arg.
        for l in df.global_args() {
            if let Instruction::Arg(pairs) = &l.instruction {
                for (name, default) in pairs {
                    let value = match self.opts.build_args.get(name) {
                        Some(v) => v.clone(),
                        None => match default {
                            Some(d) => Some(self.expand_meta(d).map_err(|e| step_error(l, e))?),
                            None => None,
                        },
                    };
                    self.meta_args.insert(name.clone(), value);
                }
            }
        }
        let target = match &self.opts.target {
            Some(t) => {
                let t = t.to_lowercase();
                stages
                    .iter()
                    .position(|s| s.name == Some(t.as_str()))
                    .ok_or_else(|| {
                        BuildError::Other(format!("failed to reach build target {t} in Dockerfile"))
                    })?
            }
            None => stages.len() - 1,
        };
        let deps = self.stage_deps(&stages, target);
        self.total = stages
            .iter()
            .filter(|s| deps.contains_key(&s.index))
            .map(|s| 1 + s.instructions.len())
            .sum::<usize>()
            + usize::from(!self.opts.labels.is_empty());
        // Step numbers are fixed up front, so stages built side by side number as in order.
        let mut offsets = BTreeMap::new();
        let mut n = 0;
        for s in stages.iter().filter(|s| deps.contains_key(&s.index)) {
            offsets.insert(s.index, n);
            n += 1 + s.instructions.len();
        }
        for s in &stages {
            if let Some(name) = s.name {
                self.stages.names.insert(name.to_owned(), s.index);
            }
        }
        let extra_for = |index: usize| -> Vec<Located> {
            if index != target || self.opts.labels.is_empty() {
                return Vec::new();
            }
            let labels = self
                .opts
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), quote(v)))
                .collect();
            vec![Located {
                line: 0,
                instruction: Instruction::Label(labels),
            }]
        };
        // Waves: every stage whose dependencies are built runs now; independent stages run on
        // their own threads with their output held back and shown in stage order.
        while self.stages.ids.len() < deps.len() {
            let ready: Vec<usize> = deps
                .iter()
                .filter(|(i, d)| {
                    !self.stages.ids.contains_key(i)
                        && d.iter().all(|j| self.stages.ids.contains_key(j))
                })
                .map(|(i, _)| *i)
                .collect();
            if ready.len() == 1 {
                let i = ready[0];
                self.step = offsets[&i];
                let id = self.build_stage(&stages[i], &extra_for(i))?;
                self.stages.ids.insert(i, id);
                continue;
            }
            let results: Vec<_> = std::thread::scope(|scope| {
                let handles: Vec<_> = ready
                    .iter()
                    .map(|&i| {
                        let (stage, extra) = (&stages[i], extra_for(i));
                        let (builder, ctx, opts, pull) =
                            (self.builder, self.ctx, self.opts, self.pull);
                        let (meta_args, known) = (self.meta_args.clone(), self.stages.clone());
                        let (escape, total, step) = (self.escape, self.total, offsets[&i]);
                        scope.spawn(move || {
                            let mut events = Vec::new();
                            let mut sink = |e: BuildEvent| events.push(e);
                            let mut sub = BuildRun {
                                builder,
                                ctx,
                                opts,
                                escape,
                                pull,
                                progress: &mut sink,
                                step,
                                total,
                                used_args: BTreeSet::new(),
                                meta_args,
                                stages: known,
                            };
                            let r = sub.build_stage(stage, &extra);
                            let used = std::mem::take(&mut sub.used_args);
                            (i, r, used, events)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join()).collect()
            });
            let mut first_error = None;
            for r in results {
                let (i, r, used, events) =
                    r.map_err(|_| BuildError::Other("a build stage thread panicked".into()))?;
                for e in events {
                    (self.progress)(e);
                }
                self.used_args.extend(used);
                match r {
                    Ok(id) => {
                        self.stages.ids.insert(i, id);
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
                if first_error.is_some() {
                    break;
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        Ok(self.stages.ids[&target].clone())
    }

    /// The target and every stage it depends on (by `FROM <stage>` or `COPY --from`), each
    /// with its direct dependencies.
    fn stage_deps(
        &self,
        stages: &[crate::dockerfile::Stage<'_>],
        target: usize,
    ) -> BTreeMap<usize, BTreeSet<usize>> {
        let by_name: BTreeMap<&str, usize> = stages
            .iter()
            .filter_map(|s| s.name.map(|n| (n, s.index)))
            .collect();
        let refers = |r: &str, before: usize| -> Option<usize> {
            let r = r.to_lowercase();
            match by_name.get(r.as_str()) {
                Some(&i) if i < before => Some(i),
                _ => r.parse::<usize>().ok().filter(|&i| i < before),
            }
        };
        let mut deps: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if deps.contains_key(&i) {
                continue;
            }
            let s = &stages[i];
            let mut mine = BTreeSet::new();
            let image = self
                .expand_meta(s.image)
                .unwrap_or_else(|_| s.image.to_owned());
            if let Some(&j) = by_name.get(image.to_lowercase().as_str())
                && j < i
            {
                mine.insert(j);
            }
            for l in s.instructions {
                if let Instruction::Copy(c) = &l.instruction
                    && let Some(from) = &c.from
                    && let Some(j) = refers(from, i)
                {
                    mine.insert(j);
                }
            }
            todo.extend(mine.iter().copied());
            deps.insert(i, mine);
        }
        deps
    }

    fn expand_meta(&self, word: &str) -> Result<String, crate::expand::ExpandError> {
        let lookup = |k: &str| self.meta_args.get(k).cloned().flatten();
        expand_word(word, self.escape, &lookup)
    }

    fn next_step(&mut self, l: &Located) {
        self.step += 1;
        let text = l.instruction.to_text();
        let first = text.lines().next().unwrap_or("").to_owned();
        let (step, total) = (self.step, self.total);
        self.say(format!("Step {step}/{total} : {first}\n"));
    }

    fn build_stage(
        &mut self,
        stage: &crate::dockerfile::Stage<'_>,
        extra: &[Located],
    ) -> Result<String, BuildError> {
        let from = Located {
            line: stage.line,
            instruction: Instruction::From {
                image: stage.image.to_owned(),
                name: stage.name.map(str::to_owned),
                platform: stage.platform.map(str::to_owned),
            },
        };
        self.next_step(&from);
        let image = self
            .expand_meta(stage.image)
            .map_err(|e| step_error(&from, e))?;
        if image.is_empty() {
            return Err(BuildError::Step(format!(
                "base name ({}) should not be blank",
                stage.image
            )));
        }
        let base_id = self.base_image(&image)?;
        let base = self.builder.store.resolve(&base_id)?;
        let mut state = StageState {
            image_id: base_id,
            config: base.config.config.clone().unwrap_or_default(),
            args: BTreeMap::new(),
            cmd_set: false,
        };
        let short = short_id(&state.image_id);
        self.say(format!(" ---> {short}\n"));
        // ONBUILD triggers of the base run right after FROM.
        let triggers = state.config.on_build.take().unwrap_or_default();
        if !triggers.is_empty() {
            let n = triggers.len();
            self.say(format!(
                "# Executing {n} build trigger{}\n",
                if n == 1 { "" } else { "s" }
            ));
            for t in &triggers {
                let parsed = Dockerfile::parse(&format!("FROM scratch\n{t}\n"))?;
                for l in parsed.instructions.iter().skip(1) {
                    self.dispatch(&mut state, l)?;
                }
            }
        }
        for l in stage.instructions.iter().chain(extra) {
            self.next_step(l);
            self.dispatch(&mut state, l)?;
        }
        Ok(state.image_id)
    }

    /// Resolves `FROM`: a previous stage, `scratch`, or an image (pulled when missing or with
    /// `--pull`).
    fn base_image(&mut self, image: &str) -> Result<String, BuildError> {
        let lower = image.to_lowercase();
        if let Some(i) = self.stages.names.get(&lower)
            && let Some(id) = self.stages.ids.get(i)
        {
            return Ok(id.clone());
        }
        if lower == "scratch" {
            return self.scratch();
        }
        if self.opts.pull {
            (self.pull)(image).map_err(BuildError::Other)?;
        }
        match self.builder.store.resolve(image) {
            Ok(img) => Ok(img.id),
            Err(e) if e.is_not_found() && !self.opts.pull => {
                (self.pull)(image).map_err(BuildError::Other)?;
                Ok(self.builder.store.resolve(image)?.id)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The base for `FROM scratch`: an image with one empty layer, made once and remembered
    /// (the store's snapshots need an image to prepare from).
    fn scratch(&mut self) -> Result<String, BuildError> {
        let marker = self.builder.state.join("scratch-image");
        if let Ok(id) = std::fs::read_to_string(&marker)
            && let Ok(img) = self.builder.store.resolve(id.trim())
        {
            return Ok(img.id);
        }
        let mut empty = tar::Builder::new(Vec::new());
        empty
            .finish()
            .map_err(|e| BuildError::Other(format!("empty layer: {e}")))?;
        let bytes = empty
            .into_inner()
            .map_err(|e| BuildError::Other(format!("empty layer: {e}")))?;
        let id = self.builder.store.import(&bytes[..], None, &[])?;
        let _ = std::fs::write(&marker, &id);
        Ok(id)
    }

    /// The lookup for variable expansion in a stage: ENV first, then declared ARGs, then
    /// supplied proxy args.
    pub(crate) fn lookup<'a>(
        &'a self,
        state: &'a StageState,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        move |k: &str| {
            let env = state.config.env.as_deref().unwrap_or(&[]);
            if let Some(v) = config::get_env(env, k) {
                return Some(v.to_owned());
            }
            if let Some(v) = state.args.get(k) {
                return v.clone();
            }
            if PROXY_ARGS.contains(&k) {
                return self.opts.build_args.get(k).cloned().flatten();
            }
            None
        }
    }

    fn expand(&self, state: &StageState, l: &Located, word: &str) -> Result<String, BuildError> {
        let lookup = self.lookup(state);
        expand_word(word, self.escape, &lookup).map_err(|e| step_error(l, e))
    }
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
