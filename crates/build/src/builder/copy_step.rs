//! COPY/ADD steps: expansion of sources, destination, `--chown`/`--chmod`/`--from`, the
//! content-hash cache key, and the copy into a mounted snapshot.

use crate::copy::{CopySpec, Source};
use crate::dockerfile::{CopyArgs, CopySource, Located};
use crate::dockerignore::DockerIgnore;
use crate::error::BuildError;
use crate::expand::expand_raw;
use crate::fsutil::Scope;

use super::config::{self as cfgops, shell_of};
use super::run::resolve_user;
use super::snapshot::Snapshot;
use super::{BuildRun, StageState, cache_key, heredoc_only, step_error};
use berth_image::CommitOptions;

impl BuildRun<'_> {
    pub(super) fn copy(
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
        let (src_root, scope, ignore, fs): (_, _, _, &dyn crate::srcfs::SrcFs) = match &from_snap {
            Some(s) => (s.dir.clone(), Scope::Chroot, None, &crate::srcfs::HostFs),
            None => (
                self.ctx.root().to_path_buf(),
                Scope::Strict,
                Some(self.ctx.ignore()),
                self.ctx.fs(),
            ),
        };
        let mut spec = CopySpec {
            keyword: kw,
            src_root: &src_root,
            fs,
            scope,
            ignore,
            exclude,
            sources,
            dest: dest.clone(),
            owner: None,
            chmod,
        };
        let items = {
            let _p = crate::timing::Phase::new("copy_resolve", "");
            spec.resolve()?
        };
        let hash = {
            let _p = crate::timing::Phase::new("copy_hash", "");
            spec.content_hash(&items)?
        };
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
        if from_snap.is_none() {
            // A context held in memory is written out for the first copy that needs its files.
            self.ctx.materialize()?;
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
