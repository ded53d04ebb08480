//! Executing one instruction of a stage: config-only steps, RUN, COPY/ADD, WORKDIR.

use std::collections::BTreeMap;

use berth_image::{CommitOptions, ContainerConfig};

use super::config::{self as cfgops, go_quoted, nop_comment, shell_of};
use super::run::{NetworkMode, RunSpec, run_step};
use super::snapshot::{KEY_PREFIX, Snapshot};
use super::{BuildRun, PROXY_ARGS, StageState, cache_key, short_id, step_error};
use crate::dockerfile::{CommandLine, HealthcheckArgs, Heredoc, Instruction, Located};
use crate::error::BuildError;
use crate::expand::expand_words;
use crate::fsutil::Scope;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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
        self.removed(&short, true);
        self.finish(state, &key, id, cfg);
        Ok(())
    }

    /// moby's message when a step's container goes: after a step that worked unless `rm=0`,
    /// and after a failed one with `forcerm`.
    fn removed(&mut self, short: &str, ok: bool) {
        if self.opts.force_remove || (ok && !self.opts.keep_containers) {
            self.say(format!("Removing intermediate container {short}\n"));
        }
    }

    pub(super) fn commit(
        &mut self,
        snap: &mut Snapshot<'_>,
        opts: &CommitOptions,
    ) -> Result<String, BuildError> {
        snap.unmount()?;
        let stamp = super::reproducible::stamp(self.opts.source_date_epoch)?;
        Ok(self
            .builder
            .store
            .commit_stamped(&snap.key, opts, &stamp, None)?)
    }

    pub(super) fn finish(
        &mut self,
        state: &mut StageState,
        key: &str,
        id: String,
        cfg: ContainerConfig,
    ) {
        self.builder.cache_put(key, &id);
        let short = short_id(&id);
        self.say(format!(" ---> {short}\n"));
        state.image_id = id;
        state.config = cfg;
    }

    /// On a cache hit moves the stage to the cached image.
    pub(super) fn cached(&mut self, state: &mut StageState, key: &str) -> Result<bool, BuildError> {
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
            seccomp: b.run_seccomp.as_ref(),
        };
        let progress = &mut *self.progress;
        let code = run_step(&b.runtime, &b.state, &spec, &self.opts.cancel, &mut |s| {
            progress(super::BuildEvent::Stream(s.to_owned()))
        })?;
        self.opts.cancel.check()?;
        if code != 0 {
            self.removed(&short, false);
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
        self.removed(&short, true);
        self.finish(state, &key, id, cfg);
        Ok(())
    }
}
