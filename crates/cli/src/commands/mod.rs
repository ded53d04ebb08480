//! One module per family of commands; each turns its arguments into the API calls the docker CLI
//! makes (see the per-command table in the team's docker-api notes) and prints what it prints.

pub mod auth;
pub mod build;
pub mod container;
pub mod cp;
pub mod create;
pub mod exec;
pub mod image;
pub mod network;
pub mod opts;
pub mod ps;
pub mod run;
pub mod stream;
pub mod system;
pub mod volume;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use crate::client::Client;

/// A command failed with a given exit status (Docker's `cli.StatusError`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StatusError {
    pub code: i32,
    pub message: String,
}

impl StatusError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        StatusError {
            code,
            message: message.into(),
        }
    }
}

/// A command's outcome: the process exit code.
pub type Outcome = anyhow::Result<i32>;

/// What every command gets.
pub struct Ctx {
    pub client: Client,
    /// Docker's client config directory (`--config`, `DOCKER_CONFIG`, `~/.docker`).
    pub config_dir: PathBuf,
}

/// `--filter a=b --filter a=c` → `{"a":{"b":true,"c":true}}`.
pub fn filters_json(filters: &[String]) -> anyhow::Result<Option<String>> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut map: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("bad format of filter (expected name=value)"))?;
        map.entry(k.trim().to_lowercase())
            .or_default()
            .insert(v.to_string(), true);
    }
    Ok(Some(serde_json::to_string(&map)?))
}

/// Writes to stdout, ignoring a closed pipe (`berth ps | head`).
pub fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// Runs `f` for each name and prints the name on success, errors on stderr (the pattern of
/// `stop`, `start`, `rm`, `pause`...); exit code 1 when any failed.
pub async fn for_each<F, Fut>(names: &[String], f: F) -> Outcome
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<String>>>,
{
    let mut failed = false;
    for name in names {
        match f(name.clone()).await {
            Ok(Some(line)) => out(&format!("{line}\n")),
            Ok(None) => {}
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_encode_as_docker_maps() {
        let f = filters_json(&[
            "status=exited".into(),
            "status=created".into(),
            "name=web".into(),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            f,
            r#"{"name":{"web":true},"status":{"created":true,"exited":true}}"#
        );
        assert!(filters_json(&["novalue".into()]).is_err());
        assert_eq!(filters_json(&[]).unwrap(), None);
    }
}
