//! `network ls/create/rm/connect/disconnect` (inspect and prune are shared).

use serde_json::{Value, json};

use super::{Ctx, Outcome, filters_json, for_each, opts, out};
use crate::args::*;
use crate::client::seg;
use crate::render::{self, short_id};
use crate::types::NetworkSummary;

pub fn network_context(n: &NetworkSummary, trunc: bool) -> Value {
    let labels = render::labels(&n.labels);
    json!({
        "ID": if trunc { short_id(&n.id) } else { n.id.clone() },
        "Name": n.name, "Driver": n.driver, "Scope": n.scope,
        "IPv6": n.enable_ipv6.to_string(), "Internal": n.internal.to_string(),
        "Labels": labels, "CreatedAt": n.created,
    })
}

pub async fn ls(ctx: &Ctx, a: &ListArgs) -> Outcome {
    let mut list: Vec<NetworkSummary> = ctx
        .client
        .get("/networks")
        .query_opt("filters", filters_json(&a.filter)?)
        .json_response()
        .await?;
    list.sort_by(|x, y| x.name.cmp(&y.name));
    let rows: Vec<Value> = list
        .iter()
        .map(|n| network_context(n, !a.no_trunc))
        .collect();
    let headers = json!({"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
        "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED"});
    let format = if a.quiet {
        "{{.ID}}".into()
    } else {
        a.format.clone().unwrap_or_default()
    };
    out(&render::list(
        &format,
        "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
        &headers,
        &rows,
    )?);
    Ok(0)
}

pub async fn create(ctx: &Ctx, a: &NetworkCreateArgs) -> Outcome {
    if a.gateway.len() > a.subnet.len() || a.ip_range.len() > a.subnet.len() {
        anyhow::bail!("every ip-range or gateway must have a corresponding subnet");
    }
    let config: Vec<Value> = a
        .subnet
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut c = json!({"Subnet": s});
            if let Some(g) = a.gateway.get(i) {
                c["Gateway"] = json!(g);
            }
            if let Some(r) = a.ip_range.get(i) {
                c["IPRange"] = json!(r);
            }
            c
        })
        .collect();
    let body = json!({
        "Name": a.name,
        "Driver": a.driver,
        "IPAM": {"Driver": "default", "Config": config, "Options": {}},
        "Internal": a.internal,
        "Attachable": a.attachable,
        "EnableIPv6": a.ipv6,
        "Options": opts::labels(&a.opt),
        "Labels": opts::labels(&a.label),
        "CheckDuplicate": true,
    });
    let r: Value = ctx
        .client
        .post("/networks/create")
        .json(&body)?
        .json_response()
        .await?;
    if let Some(w) = r["Warning"].as_str().filter(|w| !w.is_empty()) {
        eprintln!("WARNING: {w}");
    }
    out(&format!("{}\n", r["Id"].as_str().unwrap_or_default()));
    Ok(0)
}

pub async fn rm(ctx: &Ctx, a: &NamesArgs) -> Outcome {
    let c = &ctx.client;
    for_each(&a.names, |name| async move {
        c.delete(&format!("/networks/{}", seg(&name))).ok().await?;
        Ok(Some(name))
    })
    .await
}

pub async fn connect(ctx: &Ctx, a: &NetworkConnectArgs) -> Outcome {
    let mut endpoint = json!({"Aliases": a.alias});
    if let Some(ip) = &a.ip {
        endpoint["IPAMConfig"] = json!({"IPv4Address": ip});
    }
    let body = json!({"Container": a.container, "EndpointConfig": endpoint});
    ctx.client
        .post(&format!("/networks/{}/connect", seg(&a.network)))
        .json(&body)?
        .ok()
        .await?;
    Ok(0)
}

pub async fn disconnect(ctx: &Ctx, a: &NetworkDisconnectArgs) -> Outcome {
    let body = json!({"Container": a.container, "Force": a.force});
    ctx.client
        .post(&format!("/networks/{}/disconnect", seg(&a.network)))
        .json(&body)?
        .ok()
        .await?;
    Ok(0)
}
