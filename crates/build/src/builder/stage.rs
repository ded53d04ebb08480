//! Walking the stages: global ARGs, the stage graph and its waves (independent stages on their
//! own threads), FROM resolution (stages, `scratch`, images, pulls), ONBUILD triggers.

use std::collections::{BTreeMap, BTreeSet};

use crate::dockerfile::{Dockerfile, Instruction, Located};
use crate::error::BuildError;
use crate::expand::expand_word;

use super::{
    BuildEvent, BuildRun, PROXY_ARGS, StageState, config, host_arch, quote, short_id, step_error,
};

impl BuildRun<'_> {
    pub(super) fn say(&mut self, s: impl Into<String>) {
        (self.progress)(BuildEvent::Stream(s.into()));
    }

    pub(super) fn build(&mut self, df: &Dockerfile) -> Result<String, BuildError> {
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
        // Global ARGs: defaults expanded with earlier ones, overridden by --build-arg. Each is
        // a step of its own in moby's numbering.
        let globals: Vec<&Located> = df
            .global_args()
            .filter(|l| matches!(l.instruction, Instruction::Arg(_)))
            .collect();
        let stages_upto = match &self.opts.target {
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
        // As moby's legacy builder: every stage up to the target is built (those the target
        // does not use too), and `--label`s are one LABEL step each at the end.
        self.total = globals.len()
            + stages[..=stages_upto]
                .iter()
                .map(|s| 1 + s.instructions.len())
                .sum::<usize>()
            + self.opts.labels.len();
        for l in df.global_args() {
            if let Instruction::Arg(pairs) = &l.instruction {
                self.next_step(l);
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
        let target = stages_upto;
        let deps = self.stage_deps(&stages, target);
        // Step numbers are fixed up front, so stages built side by side number as in order.
        let mut offsets = BTreeMap::new();
        let mut n = self.step;
        for s in stages.iter().filter(|s| deps.contains_key(&s.index)) {
            offsets.insert(s.index, n);
            n += 1 + s.instructions.len();
        }
        for s in &stages {
            if let Some(name) = s.name {
                self.stages.names.insert(name.to_owned(), s.index);
            }
        }
        // (the step's text as moby prints it, the instruction run)
        let extra_for = |index: usize| -> Vec<(String, Located)> {
            if index != target || self.opts.labels.is_empty() {
                return Vec::new();
            }
            self.opts
                .labels
                .iter()
                .map(|(k, v)| {
                    let step = Located {
                        line: 0,
                        original: String::new(),
                        instruction: Instruction::Label(vec![(k.clone(), quote(v))]),
                    };
                    (format!("LABEL {k}={v}"), step)
                })
                .collect()
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

    /// Every stage up to the target, each with the stages it depends on (by `FROM <stage>`
    /// or `COPY --from`).
    pub(super) fn stage_deps(
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
        for (i, s) in stages.iter().enumerate().take(target + 1) {
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
            deps.insert(i, mine);
        }
        deps
    }

    pub(super) fn expand_meta(&self, word: &str) -> Result<String, crate::expand::ExpandError> {
        let lookup = |k: &str| self.meta_args.get(k).cloned().flatten();
        expand_word(word, self.escape, &lookup)
    }

    /// moby's check before each step: a cancelled build says so and stops.
    fn cancelled(&mut self) -> Result<(), BuildError> {
        if self.opts.cancel.is_cancelled() {
            self.say("Build cancelled\n");
        }
        self.opts.cancel.check()
    }

    pub(super) fn next_step(&mut self, l: &Located) {
        if !l.original.is_empty() {
            return self.next_step_text(&l.original);
        }
        let text = l.instruction.to_text();
        self.next_step_text(text.lines().next().unwrap_or(""));
    }

    fn next_step_text(&mut self, text: &str) {
        self.step += 1;
        let (step, total) = (self.step, self.total);
        self.say(format!("Step {step}/{total} : {text}\n"));
    }

    pub(super) fn build_stage(
        &mut self,
        stage: &crate::dockerfile::Stage<'_>,
        extra: &[(String, Located)],
    ) -> Result<String, BuildError> {
        let from = Located {
            line: stage.line,
            original: stage.original.to_owned(),
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
        for l in stage.instructions {
            self.cancelled()?;
            self.next_step(l);
            let _p = crate::timing::Phase::new("step", self.step.to_string());
            self.dispatch(&mut state, l)?;
        }
        for (text, l) in extra {
            self.cancelled()?;
            self.next_step_text(text);
            self.dispatch(&mut state, l)?;
        }
        (self.progress)(BuildEvent::Aux(state.image_id.clone()));
        Ok(state.image_id)
    }

    /// Resolves `FROM`: a previous stage, `scratch`, or an image (pulled when missing or with
    /// `--pull`).
    pub(super) fn base_image(&mut self, image: &str) -> Result<String, BuildError> {
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
            self.pull_base(image)?;
        }
        match self.builder.store.resolve(image) {
            Ok(img) => Ok(img.id),
            Err(e) if e.is_not_found() && !self.opts.pull => {
                self.pull_base(image)?;
                Ok(self.builder.store.resolve(image)?.id)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Pulls a base image, its progress shown in the build's output as moby does.
    fn pull_base(&mut self, image: &str) -> Result<(), BuildError> {
        let pull = self.pull;
        let progress = &mut *self.progress;
        pull(image, &mut |m| progress(BuildEvent::Progress(m))).map_err(BuildError::Other)
    }

    /// The base for `FROM scratch`: an image with one empty layer, made once and remembered
    /// (the store's snapshots need an image to prepare from).
    pub(super) fn scratch(&mut self) -> Result<String, BuildError> {
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

    pub(super) fn expand(
        &self,
        state: &StageState,
        l: &Located,
        word: &str,
    ) -> Result<String, BuildError> {
        let lookup = self.lookup(state);
        expand_word(word, self.escape, &lookup).map_err(|e| step_error(l, e))
    }
}
