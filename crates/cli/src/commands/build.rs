//! `build` with the legacy builder: the context as a tar (honouring `.dockerignore`), a
//! Dockerfile outside the context sent as `.dockerfile.<random>`, step output rendered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use hyper::header::HeaderName;

use super::image::render_stream;
use super::{Ctx, Outcome, out};
use crate::args::BuildArgs;
use crate::client::full;

/// `.dockerignore` patterns: `*`/`?` globs per path component, `**` for any depth, `!` to
/// re-include; a directory matched excludes what is under it.
pub struct Ignore {
    rules: Vec<(bool, Vec<String>)>,
}

fn glob(pat: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some('?') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(&p, &s)
}

fn matches(pat: &[String], path: &[&str]) -> bool {
    match pat.first() {
        None => true, // the pattern matched a parent directory
        Some(p) if p == "**" => (0..=path.len()).any(|i| matches(&pat[1..], &path[i..])),
        Some(p) => !path.is_empty() && glob(p, path[0]) && matches(&pat[1..], &path[1..]),
    }
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (neg, p) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                let parts = p
                    .trim_start_matches('/')
                    .split('/')
                    .filter(|c| !c.is_empty() && *c != ".")
                    .map(String::from)
                    .collect();
                (neg, parts)
            })
            .collect();
        Ignore { rules }
    }

    pub fn excluded(&self, rel: &str) -> bool {
        let path: Vec<&str> = rel.split('/').collect();
        let mut out = false;
        for (neg, pat) in &self.rules {
            if matches(pat, &path) {
                out = !neg;
            }
        }
        out
    }
}

fn walk(root: &Path, dir: &Path, ignore: &Ignore, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("error checking context: can't read {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = path.strip_prefix(root)?.to_string_lossy().to_string();
        if ignore.excluded(&rel) && !matches!(rel.as_str(), "Dockerfile" | ".dockerignore") {
            continue;
        }
        out.push((path.clone(), rel));
        if e.file_type()?.is_dir() {
            walk(root, &path, ignore, out)?;
        }
    }
    Ok(())
}

/// Tars the context directory (plus an outside Dockerfile under `extra`).
pub fn context_tar(root: &Path, extra: Option<(&str, &[u8])>) -> Result<Vec<u8>> {
    let ignore = match std::fs::read_to_string(root.join(".dockerignore")) {
        Ok(t) => Ignore::parse(&t),
        Err(_) => Ignore { rules: Vec::new() },
    };
    let mut files = Vec::new();
    walk(root, root, &ignore, &mut files)?;
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    for (path, rel) in files {
        b.append_path_with_name(&path, &rel)
            .with_context(|| format!("error adding {rel} to the build context"))?;
    }
    if let Some((name, data)) = extra {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_cksum();
        b.append_data(&mut h, name, data)?;
    }
    Ok(b.into_inner()?)
}

fn stdin_context() -> Result<(Vec<u8>, Option<String>)> {
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)?;
    let is_tar = data.len() > 262 && &data[257..262] == b"ustar";
    if is_tar {
        return Ok((data, None));
    }
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o600);
    h.set_cksum();
    b.append_data(&mut h, "Dockerfile", data.as_slice())?;
    Ok((b.into_inner()?, Some("Dockerfile".into())))
}

fn kv_json(items: &[String], from_env: bool) -> Result<Option<String>> {
    if items.is_empty() {
        return Ok(None);
    }
    let mut m = BTreeMap::new();
    for i in items {
        match i.split_once('=') {
            Some((k, v)) => {
                m.insert(k.to_string(), v.to_string());
            }
            None if from_env => {
                if let Ok(v) = std::env::var(i) {
                    m.insert(i.clone(), v);
                }
            }
            None => {
                m.insert(i.clone(), String::new());
            }
        }
    }
    Ok(Some(serde_json::to_string(&m)?))
}

pub async fn build(ctx: &Ctx, a: &BuildArgs) -> Outcome {
    let (tar, dockerfile) = if a.context == "-" {
        stdin_context()?
    } else {
        let root = Path::new(&a.context);
        if !root.is_dir() {
            anyhow::bail!(
                "unable to prepare context: path \"{}\" not found",
                a.context
            );
        }
        let root = root.canonicalize()?;
        let file = a
            .file
            .as_deref()
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("Dockerfile"));
        let file = if file.is_absolute() || a.file.is_none() {
            file
        } else {
            std::env::current_dir()?.join(file)
        };
        let file = file.canonicalize().map_err(|_| anyhow!("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory", file.display()))?;
        match file.strip_prefix(&root) {
            Ok(rel) => (
                context_tar(&root, None)?,
                Some(rel.to_string_lossy().to_string()),
            ),
            Err(_) => {
                let name = format!(".dockerfile.{:012x}", rand_suffix());
                let data = std::fs::read(&file)?;
                (context_tar(&root, Some((&name, &data)))?, Some(name))
            }
        }
    };
    if !a.quiet {
        // The legacy docker CLI reports the upload; the whole context is in memory here.
        let size = crate::render::human::human_size(tar.len() as f64);
        out(&format!(
            "Sending build context to Docker daemon {size:>8}\r\r\n"
        ));
    }
    let mut req = ctx.client.post("/build");
    for t in &a.tag {
        req = req.query("t", t);
    }
    req = req
        .query_opt("dockerfile", dockerfile.as_deref())
        .query_opt("buildargs", kv_json(&a.build_arg, true)?)
        .query_opt("labels", kv_json(&a.label, false)?)
        .flag("nocache", a.no_cache)
        .flag("pull", a.pull)
        .flag("q", a.quiet)
        .flag("forcerm", a.force_rm)
        .query("rm", if a.rm { "1" } else { "0" })
        .query_opt("target", a.target.as_deref())
        .query_opt("networkmode", a.network.as_deref())
        .query_opt("platform", a.platform.as_deref())
        .query("version", "1")
        .header(HeaderName::from_static("x-registry-config"), "e30=")
        .body(full(tar), "application/x-tar");
    let resp = req.send().await?;
    let aux = render_stream(resp, false, a.quiet).await?;
    let id = aux
        .iter()
        .rev()
        .find_map(|v| v["ID"].as_str().map(String::from));
    if let (Some(path), Some(id)) = (&a.iidfile, &id) {
        std::fs::write(path, id)
            .with_context(|| format!("failed to write image ID to {}", path.display()))?;
    }
    if let (true, Some(id)) = (a.quiet, id) {
        out(&format!("{id}\n"));
    }
    Ok(0)
}

fn rand_suffix() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (t as u64 ^ (std::process::id() as u64) << 32) & 0xffff_ffff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_patterns() {
        let i = Ignore::parse("# c\nnode_modules\n*.log\n**/tmp\n!keep.log\nbuild/\n");
        assert!(i.excluded("node_modules"));
        assert!(i.excluded("node_modules/x/y"));
        assert!(i.excluded("a.log"));
        assert!(!i.excluded("keep.log"));
        assert!(i.excluded("src/deep/tmp"));
        assert!(i.excluded("build/out"));
        assert!(!i.excluded("src/a.log"));
        assert!(!i.excluded("src/main.rs"));
    }

    #[test]
    fn context_tar_skips_ignored_files_and_keeps_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM bb\n").unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "secret\nDockerfile\n").unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/a"), "a").unwrap();
        let tar = context_tar(dir.path(), Some((".dockerfile.x", b"FROM y"))).unwrap();
        let mut names: Vec<String> = tar::Archive::new(tar.as_slice())
            .entries()
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .path()
                    .unwrap()
                    .to_string_lossy()
                    .trim_end_matches('/')
                    .to_string()
            })
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ".dockerfile.x",
                ".dockerignore",
                "Dockerfile",
                "src",
                "src/a"
            ]
        );
    }

    #[test]
    fn build_args_encode_as_json() {
        assert_eq!(
            kv_json(&["A=1".into(), "B=".into()], false)
                .unwrap()
                .unwrap(),
            r#"{"A":"1","B":""}"#
        );
        assert_eq!(kv_json(&[], false).unwrap(), None);
    }
}
