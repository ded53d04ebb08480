//! `system df` and the prune endpoints.

use serde_json::{Value, json};

use crate::Engine;
use crate::error::Result;

impl Engine {
    /// `POST /containers/prune`: removes every stopped container.
    pub async fn prune_containers(&self) -> Result<Value> {
        let mut deleted = vec![];
        let mut reclaimed = 0u64;
        let sizes = self
            .with_images(|s| Ok(s.disk_usage()?.containers))
            .await
            .unwrap_or_default();
        for c in self.containers.all() {
            let (running, id) = {
                let r = c.rec();
                (r.state.running || r.state.restarting, r.id.clone())
            };
            if running {
                continue;
            }
            if self.remove_container(&id, false, false).await.is_ok() {
                reclaimed += sizes.get(&id).copied().unwrap_or(0);
                deleted.push(id);
            }
        }
        Ok(
            json!({"ContainersDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) }, "SpaceReclaimed": reclaimed}),
        )
    }

    /// `POST /images/prune`: dangling images, or with `all` every unused one.
    pub async fn prune_images(&self, all: bool) -> Result<Value> {
        let report = self.with_images(move |s| Ok(s.prune(!all)?)).await?;
        Ok(serde_json::to_value(report)?)
    }

    /// `GET /system/df`.
    pub async fn disk_usage(&self) -> Result<Value> {
        let du = self.with_images(|s| Ok(s.disk_usage()?)).await?;
        let images = self.list_images(true).await?;
        let containers: Vec<Value> = self
            .list_containers(true, None, "")?
            .into_iter()
            .map(|c| {
                let mut v = serde_json::to_value(&c).unwrap_or_default();
                v["SizeRw"] = json!(du.containers.get(&c.id).copied().unwrap_or(0));
                v["SizeRootFs"] = json!(0);
                v
            })
            .collect();
        let mut volumes = vec![];
        for v in self.list_volumes()? {
            let refs = self
                .containers
                .all()
                .iter()
                .filter(|c| c.rec().volumes.iter().any(|m| m.name == v.name))
                .count();
            let mut j = v.json();
            j["UsageData"] = json!({"Size": crate::volumes::dir_size(std::path::Path::new(&v.mountpoint)), "RefCount": refs});
            volumes.push(j);
        }
        Ok(json!({
            "LayersSize": du.layers_bytes,
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
            "BuilderSize": 0,
        }))
    }
}
