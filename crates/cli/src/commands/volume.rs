//! `volume ls/create/rm` (inspect and prune are shared).

use serde_json::{Value, json};

use super::{Ctx, Outcome, filters_json, for_each, opts, out};
use crate::args::*;
use crate::client::seg;
use crate::render;
use crate::types::{Volume, VolumeList};

pub fn volume_context(v: &Volume) -> Value {
    let labels = render::labels(&v.labels);
    json!({"Driver": v.driver, "Name": v.name, "Mountpoint": v.mountpoint, "Scope": v.scope,
        "Labels": labels, "Links": "N/A", "Size": "N/A"})
}

pub async fn ls(ctx: &Ctx, a: &ListArgs) -> Outcome {
    let list: VolumeList = ctx
        .client
        .get("/volumes")
        .query_opt("filters", filters_json(&a.filter)?)
        .json_response()
        .await?;
    let mut vols = list.volumes.unwrap_or_default();
    vols.sort_by(|x, y| x.name.cmp(&y.name));
    let rows: Vec<Value> = vols.iter().map(volume_context).collect();
    let headers = json!({"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT",
        "Scope": "SCOPE", "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE"});
    let format = if a.quiet {
        "{{.Name}}".into()
    } else {
        a.format.clone().unwrap_or_default()
    };
    out(&render::list(
        &format,
        "table {{.Driver}}\t{{.Name}}",
        &headers,
        &rows,
    )?);
    Ok(0)
}

pub async fn create(ctx: &Ctx, a: &VolumeCreateArgs) -> Outcome {
    let body = json!({
        "Name": a.name.clone().unwrap_or_default(),
        "Driver": a.driver,
        "DriverOpts": opts::labels(&a.opt),
        "Labels": opts::labels(&a.label),
    });
    let v: Volume = ctx
        .client
        .post("/volumes/create")
        .json(&body)?
        .json_response()
        .await?;
    out(&format!("{}\n", v.name));
    Ok(0)
}

pub async fn rm(ctx: &Ctx, a: &VolumeRmArgs) -> Outcome {
    let c = &ctx.client;
    for_each(&a.names, |name| async move {
        c.delete(&format!("/volumes/{}", seg(&name)))
            .flag("force", a.force)
            .ok()
            .await?;
        Ok(Some(name))
    })
    .await
}
