//! `docker commit` and `docker diff`: a container's writable layer as a new image, and the
//! list of paths it added, changed or deleted. The snapshot key is the container ID.

use berth_image::{Change, CommitOptions, ContainerConfig as ImageCfg};
use serde_json::Value;

use super::monitor_client;
use crate::Engine;
use crate::error::{Error, Result};
use crate::monitor::protocol::Request;

/// `POST /commit`'s query and body.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    /// `repo[:tag]` or `None` for an untagged image.
    pub reference: Option<String>,
    pub comment: Option<String>,
    pub author: Option<String>,
    /// Pause a running container while committing (Docker's default: true).
    pub pause: bool,
    /// Dockerfile instructions applied to the config (`--change`).
    pub changes: Vec<String>,
    /// The request body: config fields that override the container's.
    pub config: Option<Value>,
}

/// The container's effective config, overridden by the non-null fields of `body`.
fn image_config(container: Value, body: Option<&Value>) -> Result<ImageCfg> {
    let mut base = container;
    if let (Some(Value::Object(over)), Value::Object(b)) = (body, &mut base) {
        for (k, v) in over {
            let empty = v.is_null()
                || v.as_str().is_some_and(str::is_empty)
                || v.as_array().is_some_and(Vec::is_empty)
                || v.as_object().is_some_and(|o| o.is_empty());
            if !empty {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    let mut cfg: ImageCfg = serde_json::from_value(base)?;
    // Empty strings from the container's config mean "unset" in an image config.
    for f in [
        &mut cfg.hostname,
        &mut cfg.domainname,
        &mut cfg.user,
        &mut cfg.working_dir,
        &mut cfg.stop_signal,
    ] {
        if f.as_deref() == Some("") {
            *f = None;
        }
    }
    if cfg.labels.as_ref().is_some_and(|l| l.is_empty()) {
        cfg.labels = None;
    }
    Ok(cfg)
}

impl Engine {
    /// `GET /containers/{id}/changes`.
    pub async fn container_changes(&self, name: &str) -> Result<Vec<Change>> {
        let c = self.containers.get(name)?;
        let id = c.id.clone();
        self.with_images(move |s| Ok(s.changes(&id)?)).await
    }

    /// `POST /commit`: returns the new image ID (`sha256:...`).
    pub async fn commit_container(&self, name: &str, req: CommitRequest) -> Result<String> {
        let c = self.containers.get(name)?;
        let _op = c.op.lock().await;
        self.undo_prelaunch(&c).await;
        let (running, paused, id, config) = {
            let r = c.rec();
            (
                r.state.running,
                r.state.paused,
                r.id.clone(),
                serde_json::to_value(&r.config)?,
            )
        };
        let mut cfg = image_config(config, req.config.as_ref())?;
        berth_image::import::apply_changes(&mut cfg, &req.changes)?;
        let opts = CommitOptions {
            config: Some(cfg),
            author: req.author.filter(|s| !s.is_empty()),
            comment: req.comment.filter(|s| !s.is_empty()),
            created_by: None,
            empty_layer_if_unchanged: false,
        };
        let run_dir = self.config().container_run_dir(&id);
        let pause = req.pause && running && !paused;
        if pause {
            monitor_client::request(&run_dir, &Request::Pause).await?;
        }
        let key = id.clone();
        let reference = req.reference.clone();
        let res = self
            .with_images(move |s| Ok(s.commit(&key, &opts, reference.as_deref())?))
            .await;
        if pause && let Err(e) = monitor_client::request(&run_dir, &Request::Resume).await {
            tracing::warn!("resume {id} after commit: {e}");
        }
        let image = res?;
        self.container_event(&c, "commit", &[]);
        if image.is_empty() {
            return Err(Error::Internal("commit returned no image".into()));
        }
        Ok(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_fields_override_the_containers_and_empty_ones_do_not() {
        let container = json!({"Cmd": ["sh"], "Env": ["A=1"], "User": "", "WorkingDir": "/w"});
        let body = json!({"Cmd": ["true"], "Env": [], "User": null});
        let cfg = image_config(container, Some(&body)).unwrap();
        assert_eq!(cfg.cmd.unwrap(), vec!["true"]);
        assert_eq!(cfg.env.unwrap(), vec!["A=1"]);
        assert_eq!(cfg.user, None);
        assert_eq!(cfg.working_dir.as_deref(), Some("/w"));
    }
}
