//! Executing one instruction of a stage: config-only steps, RUN, COPY/ADD, WORKDIR.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use berth_image::{CommitOptions, ContainerConfig};
use sha2::{Digest as _, Sha256};

use super::config::{self as cfgops, go_quoted, nop_comment, shell_of};
use super::run::{NetworkMode, RunSpec, resolve_user, run_step};
use super::{BuildRun, PROXY_ARGS, StageState, cache_key, heredoc_only, short_id, step_error};
use crate::copy::{CopySpec, Source};
use crate::dockerfile::{
    CommandLine, CopyArgs, CopySource, HealthcheckArgs, Heredoc, Instruction, Located,
};
use crate::dockerignore::DockerIgnore;
use crate::error::BuildError;
use crate::expand::{expand_raw, expand_words};
use crate::fsutil::{Scope, clamp_mtimes};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Snapshot keys of build steps: `build-` and 64 hex (the intermediate container's ID).
pub(crate) const KEY_PREFIX: &str = "build-";

fn new_key() -> String {
    format!("{KEY_PREFIX}{}", new_hex())
}

fn new_hex() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    h.update(std::process::id().to_le_bytes());
    h.update(N.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(now.as_nanos().to_le_bytes());
    hex::encode(h.finalize())
}

/// A prepared and mounted snapshot; unmounted and removed on drop unless committed.
struct Snapshot<'a> {
    builder: &'a super::Builder,
    key: String,
    dir: PathBuf,
    upper: Option<PathBuf>,
    mounted: bool,
}

impl<'a> Snapshot<'a> {
    fn new(builder: &'a super::Builder, image: &str, mount: bool) -> Result<Self, BuildError> {
        let key = new_key();
        let state = &builder.state;
        let mounts = builder.store.prepare(&key, image)?;
        let upper = mounts
            .iter()
            .flat_map(|m| m.options.iter())
            .find_map(|o| o.strip_prefix("upperdir="))
            .map(PathBuf::from);
        let mut s = Snapshot {
            builder,
            key,
            dir: state.join("mnt").join(&new_hex()[..16]),
            upper,
            mounted: false,
        };
        if mount {
            std::fs::create_dir_all(&s.dir)
                .map_err(|e| BuildError::Other(format!("create mount point: {e}")))?;
            berth_image::mount_all(&mounts, &s.dir)?;
            s.mounted = true;
        }
        Ok(s)
    }

    fn unmount(&mut self) -> Result<(), BuildError> {
        if self.mounted {
            berth_image::unmount(&self.dir)?;
            self.mounted = false;
            let _ = std::fs::remove_dir(&self.dir);
        }
        Ok(())
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        let _ = self.unmount();
        self.builder.discard_snapshot(std::mem::take(&mut self.key));
    }
}

fn command_args(shell: &[String], c: &CommandLine) -> Vec<String> {
    match c {
        CommandLine::Exec(v) => v.clone(),
        CommandLine::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            v
        }
    }
}

impl BuildRun<'_> {
    pub(crate) fn dispatch(
        &mut self,
        state: &mut StageState,
        l: &Located,
    ) -> Result<(), BuildError> {
        let mut cfg = state.config.clone();
        let comment = match &l.instruction {
            Instruction::From { .. } => return Err(step_error(l, "FROM inside a stage")),
            Instruction::Run {
                command,
                heredocs,
                flags,
            } => {
                if !flags.mounts.is_empty() {
                    return Err(BuildError::Step("the --mount option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled".into()));
                }
                if flags.security.is_some() {
                    return Err(BuildError::Step("the --security option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled".into()));
                }
                let network = match flags.network.as_deref() {
                    Some(n) => NetworkMode::parse(n)?,
                    None => self.opts.network,
                };
                return self.run(state, command, heredocs, network);
            }
            Instruction::Copy(c) => return self.copy(state, l, "COPY", c),
            Instruction::Add(c) => return self.copy(state, l, "ADD", c),
            Instruction::Workdir(w) => {
                let w = self.expand(state, l, w)?;
                let dir = cfgops::join_workdir(cfg.working_dir.as_deref(), &w);
                cfg.working_dir = Some(dir.clone());
                return self.commit_step(state, cfg, &format!("WORKDIR {dir}"), None, Some(&dir));
            }
            Instruction::Env { pairs, .. } => {
                let mut env = cfg.env.take().unwrap_or_default();
                let mut comment = String::from("ENV");
                for (k, v) in pairs {
                    let k = self.expand(state, l, k)?;
                    // Later pairs see earlier ones only in the next instruction, as in Docker.
                    let v = self.expand(state, l, v)?;
                    cfgops::set_env(&mut env, &k, &v);
                    comment.push_str(&format!(" {k}={v}"));
                }
                cfg.env = Some(env);
                comment
            }
            Instruction::Label(pairs) => {
                let mut expanded = Vec::new();
                let mut comment = String::from("LABEL");
                for (k, v) in pairs {
                    let k = self.expand(state, l, k)?;
                    let v = self.expand(state, l, v)?;
                    comment.push_str(&format!(" {k}={v}"));
                    expanded.push((k, v));
                }
                cfgops::add_labels(&mut cfg, &expanded);
                comment
            }
            Instruction::Maintainer(m) => {
                return self.commit_step(
                    state,
                    cfg,
                    &format!("MAINTAINER {m}"),
                    Some(m.clone()),
                    None,
                );
            }
            Instruction::Expose(specs) => {
                let lookup = self.lookup(state);
                let words = expand_words(&specs.join(" "), self.escape, &lookup)
                    .map_err(|e| step_error(l, e))?;
                let ports = cfgops::parse_ports(&words).map_err(BuildError::Step)?;
                let map = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in &ports {
                    map.insert(p.clone(), serde_json::json!({}));
                }
                let mut sorted = ports;
                sorted.sort();
                format!("EXPOSE {}", sorted.join(" "))
            }
            Instruction::User(u) => {
                let u = self.expand(state, l, u)?;
                cfg.user = Some(u.clone());
                format!("USER {u}")
            }
            Instruction::Volume { paths, .. } => {
                let mut vols = Vec::new();
                for p in paths {
                    let p = self.expand(state, l, p)?;
                    if p.trim().is_empty() {
                        return Err(BuildError::Step(
                            "VOLUME specified can not be an empty string".into(),
                        ));
                    }
                    vols.push(p);
                }
                let map = cfg.volumes.get_or_insert_with(BTreeMap::new);
                for v in &vols {
                    map.insert(v.clone(), serde_json::json!({}));
                }
                format!("VOLUME [{}]", vols.join(" "))
            }
            Instruction::Stopsignal(s) => {
                let s = self.expand(state, l, s)?;
                cfgops::check_signal(&s).map_err(BuildError::Step)?;
                cfg.stop_signal = Some(s.clone());
                format!("STOPSIGNAL {s}")
            }
            Instruction::Healthcheck(h) => {
                let (json, text) = match h {
                    HealthcheckArgs::None => (
                        serde_json::json!({"Test": ["NONE"]}),
                        "[\"NONE\"]".to_owned(),
                    ),
                    HealthcheckArgs::Cmd {
                        command,
                        interval,
                        timeout,
                        start_period,
                        start_interval,
                        retries,
                    } => {
                        let test = match command {
                            CommandLine::Exec(v) => [vec!["CMD".to_owned()], v.clone()].concat(),
                            CommandLine::Shell(s) => vec!["CMD-SHELL".to_owned(), s.clone()],
                        };
                        let d = |f: &str, v: &Option<String>| {
                            cfgops::health_duration(f, v).map_err(BuildError::Step)
                        };
                        let retries = match retries {
                            Some(r) => r.parse::<i64>().map_err(|_| {
                                BuildError::Step(format!("invalid --retries value {r:?}"))
                            })?,
                            None => 0,
                        };
                        if retries < 0 {
                            return Err(BuildError::Step(format!(
                                "--retries cannot be negative ({retries})"
                            )));
                        }
                        let durations = [
                            ("Interval", d("--interval", interval)?),
                            ("Timeout", d("--timeout", timeout)?),
                            ("StartPeriod", d("--start-period", start_period)?),
                            ("StartInterval", d("--start-interval", start_interval)?),
                        ];
                        let text = go_quoted(&test);
                        (cfgops::healthcheck_json(test, durations, retries), text)
                    }
                };
                cfg.healthcheck = Some(json);
                format!("HEALTHCHECK &{{{text}}}")
            }
            Instruction::Shell(args) => {
                cfg.shell = Some(args.clone());
                format!("SHELL [{}]", args.join(" "))
            }
            Instruction::Cmd(c) => {
                let cmd = command_args(&shell_of(&cfg), c);
                cfg.cmd = Some(cmd.clone());
                state.cmd_set = true;
                format!("CMD {}", go_quoted(&cmd))
            }
            Instruction::Entrypoint(c) => {
                let ep = command_args(&shell_of(&cfg), c);
                cfg.entrypoint = Some(ep.clone());
                if !state.cmd_set {
                    cfg.cmd = None;
                }
                format!("ENTRYPOINT {}", go_quoted(&ep))
            }
            Instruction::Onbuild(inner) => {
                let text = inner.to_text();
                cfg.on_build.get_or_insert_with(Vec::new).push(text.clone());
                format!("ONBUILD {text}")
            }
            Instruction::Arg(pairs) => {
                let mut comment = String::from("ARG");
                for (name, default) in pairs {
                    self.used_args.insert(name.clone());
                    let value = match self.opts.build_args.get(name) {
                        Some(v) => v.clone(),
                        None => match default {
                            Some(d) => Some(self.expand(state, l, d)?),
                            None => self.meta_args.get(name).cloned().flatten(),
                        },
                    };
                    match default {
                        Some(d) => comment.push_str(&format!(" {name}={d}")),
                        None => comment.push_str(&format!(" {name}")),
                    }
                    state.args.insert(name.clone(), value);
                }
                comment
            }
        };
        self.commit_step(state, cfg, &comment, None, None)
    }

    /// A step that changes the config (and, for WORKDIR, may create a directory).
    fn commit_step(
        &mut self,
        state: &mut StageState,
        cfg: ContainerConfig,
        comment: &str,
        author: Option<String>,
        mkdir: Option<&str>,
    ) -> Result<(), BuildError> {
        let created_by = nop_comment(&cfg, comment);
        let cfg_json = serde_json::to_string(&cfg).unwrap_or_default();
        let key = cache_key(&[
            &state.image_id,
            &created_by,
            &cfg_json,
            author.as_deref().unwrap_or(""),
        ]);
        if self.cached(state, &key)? {
            return Ok(());
        }
        let b = self.builder;
        let mut snap = Snapshot::new(b, &state.image_id, mkdir.is_some())?;
        let short = short_id(&snap.key[KEY_PREFIX.len()..]);
        self.say(format!(" ---> Running in {short}\n"));
        if let Some(dir) = mkdir {
            let host = crate::fsutil::resolve_in(&snap.dir, dir, Scope::Chroot, true)
                .map_err(|e| BuildError::Step(format!("WORKDIR {dir}: {e}")))?;
            if !host.is_dir() {
                std::fs::create_dir_all(&host)
                    .map_err(|e| BuildError::Step(format!("mkdir {dir}: {e}")))?;
            }
            snap.unmount()?;
        }
        let opts = CommitOptions {
            config: Some(cfg.clone()),
            author,
            created_by: Some(created_by),
            empty_layer_if_unchanged: true,
            ..Default::default()
        };
        let id = self.commit(&mut snap, &opts)?;
        self.say(format!("Removing intermediate container {short}\n"));
        self.finish(state, &key, id, cfg);
        Ok(())
    }

    fn commit(
        &mut self,
        snap: &mut Snapshot<'_>,
        opts: &CommitOptions,
    ) -> Result<String, BuildError> {
        snap.unmount()?;
        if let (Some(epoch), Some(upper)) = (self.opts.source_date_epoch, &snap.upper) {
            clamp_mtimes(upper, epoch)
                .map_err(|e| BuildError::Other(format!("clamp timestamps: {e}")))?;
        }
        Ok(self.builder.store.commit(&snap.key, opts, None)?)
    }

    fn finish(&mut self, state: &mut StageState, key: &str, id: String, cfg: ContainerConfig) {
        self.builder.cache_put(key, &id);
        let short = short_id(&id);
        self.say(format!(" ---> {short}\n"));
        state.image_id = id;
        state.config = cfg;
    }

    /// On a cache hit moves the stage to the cached image.
    fn cached(&mut self, state: &mut StageState, key: &str) -> Result<bool, BuildError> {
        if self.opts.no_cache {
            return Ok(false);
        }
        let Some(id) = self.builder.cache_get(key) else {
            return Ok(false);
        };
        let img = self.builder.store.resolve(&id)?;
        let short = short_id(&id);
        self.say(format!(" ---> Using cache\n ---> {short}\n"));
        state.image_id = id;
        state.config = img.config.config.unwrap_or_default();
        Ok(true)
    }

    /// Declared build args with values, not shadowed by ENV, sorted (`|N k=v` in history).
    fn run_args(&self, state: &StageState) -> Vec<String> {
        let env = state.config.env.as_deref().unwrap_or(&[]);
        let mut out: Vec<String> = state
            .args
            .iter()
            .filter(|(k, _)| cfgops::get_env(env, k).is_none())
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        out.sort();
        out
    }

    fn run(
        &mut self,
        state: &mut StageState,
        command: &CommandLine,
        heredocs: &[Heredoc],
        network: NetworkMode,
    ) -> Result<(), BuildError> {
        let shell = shell_of(&state.config);
        let mut script = None;
        let args = match (command, heredocs) {
            (CommandLine::Shell(line), [only])
                if line.trim() == format!("<<{}", only.name)
                    || line.trim().starts_with("<<") && line.split_whitespace().count() == 1 =>
            {
                if only.content.starts_with("#!") {
                    script = Some((only.name.clone(), only.content.clone()));
                    vec![format!("/dev/pipes/{}", only.name)]
                } else {
                    [shell.clone(), vec![only.content.clone()]].concat()
                }
            }
            (CommandLine::Shell(line), docs) if !docs.is_empty() => {
                let mut full = line.clone();
                for d in docs {
                    full.push('\n');
                    full.push_str(&d.content);
                    full.push_str(&d.name);
                }
                [shell.clone(), vec![full]].concat()
            }
            (c, _) => command_args(&shell, c),
        };
        let shown = args.join(" ");
        let run_args = self.run_args(state);
        let created_by = if run_args.is_empty() {
            shown.clone()
        } else {
            format!("|{} {} {shown}", run_args.len(), run_args.join(" "))
        };
        let key = cache_key(&[&state.image_id, "RUN", &created_by, &format!("{network:?}")]);
        if self.cached(state, &key)? {
            return Ok(());
        }
        let mut env = state.config.env.clone().unwrap_or_default();
        if cfgops::get_env(&env, "PATH").is_none() {
            env.insert(0, format!("PATH={DEFAULT_PATH}"));
        }
        for a in &run_args {
            env.push(a.clone());
        }
        for p in PROXY_ARGS {
            if !state.args.contains_key(*p)
                && let Some(Some(v)) = self.opts.build_args.get(*p)
            {
                env.push(format!("{p}={v}"));
            }
        }
        let b = self.builder;
        let mut snap = Snapshot::new(b, &state.image_id, true)?;
        let short = short_id(&snap.key[KEY_PREFIX.len()..]);
        self.say(format!(" ---> Running in {short}\n"));
        let user = state.config.user.clone().unwrap_or_default();
        if cfgops::get_env(&env, "HOME").is_none() {
            let home = if user.is_empty() || user == "root" || user == "0" {
                "/root"
            } else {
                "/"
            };
            env.push(format!("HOME={home}"));
        }
        let spec = RunSpec {
            id: &snap.key,
            rootfs: &snap.dir,
            args,
            env,
            cwd: state
                .config
                .working_dir
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            user,
            network,
            script,
        };
        let progress = &mut *self.progress;
        let code = run_step(&b.runtime, &b.state, &spec, &mut |s| {
            progress(super::BuildEvent::Stream(s.to_owned()))
        })?;
        if code != 0 {
            return Err(BuildError::Step(format!(
                "The command '{shown}' returned a non-zero code: {code}"
            )));
        }
        let cfg = state.config.clone();
        let opts = CommitOptions {
            config: Some(cfg.clone()),
            created_by: Some(created_by),
            ..Default::default()
        };
        let id = self.commit(&mut snap, &opts)?;
        self.say(format!("Removing intermediate container {short}\n"));
        self.finish(state, &key, id, cfg);
        Ok(())
    }

    fn copy(
        &mut self,
        state: &mut StageState,
        l: &Located,
        kw: &'static str,
        c: &CopyArgs,
    ) -> Result<(), BuildError> {
        let mut sources = Vec::with_capacity(c.sources.len());
        for s in &c.sources {
            sources.push(match s {
                CopySource::Path(p) => Source::Path(self.expand(state, l, p)?),
                CopySource::Heredoc(h) => Source::Inline {
                    name: h.name.clone(),
                    content: if h.expand {
                        let lookup = self.lookup(state);
                        expand_raw(&h.content, &lookup).map_err(|e| step_error(l, e))?
                    } else {
                        h.content.clone()
                    },
                },
            });
        }
        let mut dest = self.expand(state, l, &c.dest)?;
        if !dest.starts_with('/') {
            let wd = state.config.working_dir.clone().unwrap_or_default();
            let trailing = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
            dest = cfgops::join_workdir(Some(&wd), &dest);
            if trailing && !dest.ends_with('/') {
                dest.push('/');
            }
        }
        let chown = match &c.chown {
            Some(o) => Some(self.expand(state, l, o)?),
            None => None,
        };
        let chmod = match &c.chmod {
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| {
                        BuildError::Step(format!(
                            "invalid chmod parameter: {m:?}, only octal modes are supported"
                        ))
                    })?,
            ),
            None => None,
        };
        let exclude = if c.exclude.is_empty() {
            None
        } else {
            Some(
                DockerIgnore::from_patterns(&c.exclude)
                    .map_err(|e| BuildError::Step(e.to_string()))?,
            )
        };
        // The source root: the context, or another stage's / image's filesystem.
        let b = self.builder;
        let mut from_snap = None;
        let mut from_id = String::new();
        if let Some(from) = &c.from {
            let from = self.expand(state, l, from)?;
            let lower = from.to_lowercase();
            let by_stage = self
                .stages
                .names
                .get(&lower)
                .copied()
                .or_else(|| lower.parse::<usize>().ok())
                .and_then(|i| self.stages.ids.get(&i).cloned());
            from_id = match by_stage {
                Some(id) => id,
                None => self.base_image(&from)?,
            };
            from_snap = Some(Snapshot::new(b, &from_id, true)?);
        }
        let (src_root, scope, ignore) = match &from_snap {
            Some(s) => (s.dir.clone(), Scope::Chroot, None),
            None => (
                self.ctx.root().to_path_buf(),
                Scope::Strict,
                Some(self.ctx.ignore()),
            ),
        };
        let mut spec = CopySpec {
            keyword: kw,
            src_root: &src_root,
            scope,
            ignore,
            exclude,
            sources,
            dest: dest.clone(),
            owner: None,
            chmod,
        };
        let items = spec.resolve()?;
        let hash = spec.content_hash(&items)?;
        let kind = if heredoc_only(&c.sources) {
            "heredoc"
        } else {
            CopySpec::describe(&items)
        };
        let created_by = format!(
            "{} #(nop) {kw} {kind}:{hash} in {dest} ",
            shell_of(&state.config).join(" ")
        );
        let key = cache_key(&[
            &state.image_id,
            kw,
            &created_by,
            chown.as_deref().unwrap_or(""),
            &from_id,
        ]);
        if self.cached(state, &key)? {
            return Ok(());
        }
        let mut snap = Snapshot::new(b, &state.image_id, true)?;
        if let Some(o) = &chown {
            spec.owner = Some(resolve_user(&snap.dir, o)?);
        }
        spec.apply(&items, &snap.dir)?;
        drop(from_snap);
        let cfg = state.config.clone();
        let opts = CommitOptions {
            config: Some(cfg.clone()),
            created_by: Some(created_by),
            ..Default::default()
        };
        let id = self.commit(&mut snap, &opts)?;
        self.finish(state, &key, id, cfg);
        Ok(())
    }
}
