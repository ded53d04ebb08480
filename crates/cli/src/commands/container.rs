//! The simple container commands: stop, restart, kill, rm, wait, rename, pause, unpause, update,
//! port, diff, commit, export, top, logs, prune and the generic `inspect`.

use std::io::Write;

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use super::{Ctx, Outcome, StatusError, create, for_each, out, stream};
use crate::args::*;
use crate::client::{ClientError, LineReader, lines::next_chunk, read_body, seg};
use crate::render::{self, human};
use crate::types::TopResponse;

pub async fn stop(ctx: &Ctx, a: &StopArgs, verb: &str) -> Outcome {
    let c = &ctx.client;
    for_each(&a.containers, |name| async move {
        c.post(&format!("/containers/{}/{verb}", seg(&name)))
            .query_opt("signal", a.signal.as_deref())
            .query_opt("t", a.time)
            .ok()
            .await?;
        Ok(Some(name))
    })
    .await
}

pub async fn kill(ctx: &Ctx, a: &KillArgs) -> Outcome {
    let c = &ctx.client;
    for_each(&a.containers, |name| async move {
        c.post(&format!("/containers/{}/kill", seg(&name)))
            .query_opt("signal", a.signal.as_deref())
            .ok()
            .await?;
        Ok(Some(name))
    })
    .await
}

pub async fn rm(ctx: &Ctx, a: &RmArgs) -> Outcome {
    let c = &ctx.client;
    let mut failed = false;
    for name in &a.containers {
        let r = c
            .delete(&format!("/containers/{}", seg(name)))
            .flag("force", a.force)
            .flag("v", a.volumes)
            .flag("link", a.link)
            .ok()
            .await;
        match r {
            Ok(()) => out(&format!("{name}\n")),
            // Docker: with --force a missing container is reported but is not a failure.
            Err(e @ ClientError::Api { status: 404, .. }) if a.force => eprintln!("{e}"),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// Runs a bodiless POST on each container (`pause`, `unpause`).
pub async fn simple(ctx: &Ctx, names: &[String], verb: &str) -> Outcome {
    let c = &ctx.client;
    for_each(names, |name| async move {
        c.post(&format!("/containers/{}/{verb}", seg(&name)))
            .ok()
            .await?;
        Ok(Some(name))
    })
    .await
}

pub async fn wait(ctx: &Ctx, a: &ContainersArgs) -> Outcome {
    let c = &ctx.client;
    for_each(&a.containers, |name| async move {
        let resp = super::run::wait_request(c, &name, None).await?;
        Ok(Some(super::run::wait_status(resp).await?.to_string()))
    })
    .await
}

pub async fn rename(ctx: &Ctx, a: &RenameArgs) -> Outcome {
    if a.new_name.trim().is_empty() {
        anyhow::bail!("Error: neither old or new names may be empty");
    }
    ctx.client
        .post(&format!("/containers/{}/rename", seg(&a.container)))
        .query("name", &a.new_name)
        .ok()
        .await?;
    Ok(0)
}

pub async fn update(ctx: &Ctx, a: &UpdateArgs) -> Outcome {
    let mut body = serde_json::Map::new();
    let ram = |s: &str| human::ram_in_bytes(s).map_err(|e| anyhow!(e));
    if let Some(m) = &a.memory {
        body.insert("Memory".into(), json!(ram(m)?));
    }
    if let Some(s) = &a.memory_swap {
        body.insert(
            "MemorySwap".into(),
            json!(if s == "-1" { -1 } else { ram(s)? }),
        );
    }
    if let Some(cpus) = a.cpus {
        body.insert("NanoCpus".into(), json!((cpus * 1e9) as i64));
    }
    if let Some(s) = a.cpu_shares {
        body.insert("CpuShares".into(), json!(s));
    }
    if let Some(p) = a.pids_limit {
        body.insert("PidsLimit".into(), json!(p));
    }
    if let Some(r) = &a.restart {
        body.insert(
            "RestartPolicy".into(),
            serde_json::to_value(super::opts::restart(r)?)?,
        );
    }
    if body.is_empty() {
        anyhow::bail!("you must provide one or more flags when using this command");
    }
    let body = Value::Object(body);
    let c = &ctx.client;
    let body = &body;
    for_each(&a.containers, |name| async move {
        let r: Value = c
            .post(&format!("/containers/{}/update", seg(&name)))
            .json(body)?
            .json_response()
            .await?;
        for w in r["Warnings"].as_array().into_iter().flatten() {
            eprintln!("{}", w.as_str().unwrap_or_default());
        }
        Ok(Some(name))
    })
    .await
}

pub async fn port(ctx: &Ctx, a: &PortArgs) -> Outcome {
    let c = create::inspect(ctx, &a.container).await?;
    let ports = c.network_settings.ports.unwrap_or_default();
    let mut keys: Vec<&String> = ports.keys().collect();
    keys.sort_by_key(|k| {
        let (p, proto) = k.split_once('/').unwrap_or((k, ""));
        (p.parse::<u32>().unwrap_or(0), proto.to_string())
    });
    if let Some(want) = &a.port {
        let want = if want.contains('/') {
            want.clone()
        } else {
            format!("{want}/tcp")
        };
        let bindings = ports.get(&want).cloned().flatten().unwrap_or_default();
        if bindings.is_empty() {
            anyhow::bail!(
                "Error: No public port '{want}' published for {}",
                a.container
            );
        }
        for b in bindings {
            out(&format!("{}\n", host_port(&b.host_ip, &b.host_port)));
        }
        return Ok(0);
    }
    for k in keys {
        for b in ports[k].iter().flatten() {
            out(&format!("{k} -> {}\n", host_port(&b.host_ip, &b.host_port)));
        }
    }
    Ok(0)
}

fn host_port(ip: &str, port: &str) -> String {
    let ip = if ip.is_empty() { "0.0.0.0" } else { ip };
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

pub async fn diff(ctx: &Ctx, a: &ContainerArg) -> Outcome {
    let changes: Option<Vec<Value>> = ctx
        .client
        .get(&format!("/containers/{}/changes", seg(&a.container)))
        .json_response()
        .await?;
    for c in changes.unwrap_or_default() {
        let kind = match c["Kind"].as_i64() {
            Some(0) => "C",
            Some(1) => "A",
            Some(2) => "D",
            _ => "?",
        };
        out(&format!(
            "{kind} {}\n",
            c["Path"].as_str().unwrap_or_default()
        ));
    }
    Ok(0)
}

pub async fn commit(ctx: &Ctx, a: &CommitArgs) -> Outcome {
    let (repo, tag) = match &a.reference {
        Some(r) => super::image::split_ref(r),
        None => (String::new(), String::new()),
    };
    let mut req = ctx
        .client
        .post("/commit")
        .query("container", &a.container)
        .query("repo", repo)
        .query("tag", tag)
        .query_opt("comment", a.message.as_deref())
        .query_opt("author", a.author.as_deref());
    for ch in &a.change {
        req = req.query("changes", ch);
    }
    if !a.pause {
        req = req.query("pause", "0");
    }
    let r: Value = req.json(&json!({}))?.json_response().await?;
    out(&format!("{}\n", r["Id"].as_str().unwrap_or_default()));
    Ok(0)
}

/// Streams a tar body to `-o FILE` or to stdout (refusing a terminal, as Docker does).
pub async fn body_to_output(
    resp: hyper::Response<hyper::body::Incoming>,
    output: Option<&std::path::Path>,
) -> Result<()> {
    let mut sink: Box<dyn Write> = match output {
        Some(p) => Box::new(
            std::fs::File::create(p)
                .map_err(|e| anyhow!("failed to save: {}: {e}", p.display()))?,
        ),
        None => {
            if crate::tty::is_tty(std::io::stdout()) {
                anyhow::bail!(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                );
            }
            Box::new(std::io::stdout())
        }
    };
    let mut body = resp.into_body();
    while let Some(chunk) = next_chunk(&mut body).await? {
        sink.write_all(&chunk)?;
    }
    sink.flush()?;
    Ok(())
}

pub async fn export(ctx: &Ctx, a: &ExportArgs) -> Outcome {
    if a.output.is_none() && crate::tty::is_tty(std::io::stdout()) {
        anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let resp = ctx
        .client
        .get(&format!("/containers/{}/export", seg(&a.container)))
        .send()
        .await?;
    body_to_output(resp, a.output.as_deref()).await?;
    Ok(0)
}

pub async fn top(ctx: &Ctx, a: &TopArgs) -> Outcome {
    let mut req = ctx
        .client
        .get(&format!("/containers/{}/top", seg(&a.container)));
    if !a.ps_args.is_empty() {
        req = req.query("ps_args", a.ps_args.join(" "));
    }
    let t: TopResponse = req.json_response().await?;
    let mut text = t.titles.join("\t");
    text.push('\n');
    for p in &t.processes {
        text.push_str(&p.join("\t"));
        text.push('\n');
    }
    out(&render::tabwriter::align_min(&text, 20));
    Ok(0)
}

/// `container prune` / `network prune` / `volume prune` / `image prune`.
pub async fn prune(ctx: &Ctx, a: &PruneArgs, what: &str) -> Outcome {
    if !a.force {
        let warning = match what {
            "containers" => "This will remove all stopped containers.",
            "networks" => {
                "This will remove all custom networks not used by at least one container."
            }
            "volumes" if a.all => {
                "This will remove all local volumes not used by at least one container."
            }
            "volumes" => {
                "This will remove anonymous local volumes not used by at least one container."
            }
            _ if a.all => {
                "This will remove all images without at least one container associated to them."
            }
            _ => "This will remove all dangling images.",
        };
        if !confirm(&format!(
            "WARNING! {warning}\nAre you sure you want to continue?"
        ))? {
            return Ok(0);
        }
    }
    let mut filters = a.filter.clone();
    if what == "images" {
        filters.push(format!("dangling={}", !a.all));
    }
    if what == "volumes" && a.all {
        filters.push("all=true".into());
    }
    let r: Value = ctx
        .client
        .post(&format!("/{what}/prune"))
        .query_opt("filters", super::filters_json(&filters)?)
        .json_response()
        .await?;
    let (list_key, title) = match what {
        "containers" => ("ContainersDeleted", "Deleted Containers:"),
        "networks" => ("NetworksDeleted", "Deleted Networks:"),
        "volumes" => ("VolumesDeleted", "Deleted Volumes:"),
        _ => ("ImagesDeleted", "Deleted Images:"),
    };
    let mut text = String::new();
    if let Some(items) = r[list_key].as_array().filter(|a| !a.is_empty()) {
        text.push_str(title);
        text.push('\n');
        for i in items {
            match i {
                Value::String(s) => text.push_str(&format!("{s}\n")),
                Value::Object(m) => {
                    for (k, v) in m {
                        text.push_str(&format!(
                            "{}: {}\n",
                            k.to_lowercase(),
                            v.as_str().unwrap_or_default()
                        ));
                    }
                }
                _ => {}
            }
        }
        text.push('\n');
    }
    if what != "networks" {
        let space = r["SpaceReclaimed"].as_f64().unwrap_or(0.0);
        text.push_str(&format!(
            "Total reclaimed space: {}\n",
            human::human_size(space)
        ));
    }
    out(&text);
    Ok(0)
}

/// Asks `prompt [y/N] ` on the terminal; a non-terminal stdin reads one line too.
pub fn confirm(prompt: &str) -> Result<bool> {
    eprint!("{prompt} [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// `logs`: inspect for the TTY setting, then stream the log, demultiplexed unless TTY.
pub async fn logs(ctx: &Ctx, a: &LogsArgs) -> Outcome {
    let c = create::inspect(ctx, &a.container).await?;
    let resp = ctx
        .client
        .get(&format!("/containers/{}/logs", seg(&c.id)))
        .query("stderr", "1")
        .query("stdout", "1")
        .query_opt("since", a.since.as_deref())
        .query_opt("until", a.until.as_deref())
        .flag("timestamps", a.timestamps)
        .flag("follow", a.follow)
        .query("tail", &a.tail)
        .flag("details", a.details)
        .send()
        .await?;
    let mut body = resp.into_body();
    let mut demux = stream::Demux::default();
    while let Some(chunk) = next_chunk(&mut body).await? {
        if c.config.tty {
            let mut o = std::io::stdout().lock();
            o.write_all(&chunk)?;
            o.flush()?;
            continue;
        }
        for (s, payload) in demux.feed(&chunk) {
            let mut w: Box<dyn Write> = if s == 2 {
                Box::new(std::io::stderr())
            } else {
                Box::new(std::io::stdout())
            };
            w.write_all(&payload)?;
            w.flush()?;
        }
    }
    Ok(0)
}

/// `inspect [--type T] NAME...`: tries container, image, network, volume in Docker's order.
pub async fn inspect(ctx: &Ctx, a: &InspectArgs) -> Outcome {
    let kinds: Vec<&str> = match a.kind.as_deref() {
        None | Some("") => vec!["container", "image", "network", "volume"],
        Some(k @ ("container" | "image" | "network" | "volume")) => vec![k],
        Some(other) => {
            return Err(StatusError::new(
                125,
                format!("\"{other}\" is not a valid value for --type"),
            )
            .into());
        }
    };
    if let Some(f) = a
        .format
        .as_deref()
        .filter(|f| !f.is_empty() && *f != "json")
    {
        render::each(f, &[])?;
    }
    let mut items = Vec::new();
    let mut failed = false;
    for name in &a.names {
        match inspect_one(ctx, &kinds, name, a.size).await {
            Ok(v) => items.push(v),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    let text = match &a.format {
        Some(f) if !f.is_empty() && f != "json" => render::each(f, &items)?,
        _ => render::inspect_json(&items),
    };
    out(&text);
    Ok(if failed { 1 } else { 0 })
}

async fn inspect_one(ctx: &Ctx, kinds: &[&str], name: &str, size: bool) -> Result<Value> {
    for kind in kinds {
        let path = match *kind {
            "container" => format!("/containers/{}/json", seg(name)),
            "image" => format!("/images/{}/json", seg(name)),
            "network" => format!("/networks/{}", seg(name)),
            _ => format!("/volumes/{}", seg(name)),
        };
        match ctx
            .client
            .get(&path)
            .flag("size", size && *kind == "container")
            .json_response::<Value>()
            .await
        {
            Ok(v) => return Ok(v),
            Err(ClientError::Api { status: 404, .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let kind = if kinds.len() == 1 { kinds[0] } else { "object" };
    Err(anyhow!("Error: No such {kind}: {name}"))
}

/// Reads a JSON-lines body to the end, rendering progress (used by load, import, build, push).
pub async fn read_lines(resp: hyper::Response<hyper::body::Incoming>) -> Result<Vec<Value>> {
    let mut lines = LineReader::new(resp);
    let mut out = Vec::new();
    while let Some(l) = lines.next_line().await? {
        out.push(serde_json::from_slice(&l)?);
    }
    Ok(out)
}

#[allow(dead_code)]
async fn discard(resp: hyper::Response<hyper::body::Incoming>) -> Result<()> {
    read_body(resp).await?;
    Ok(())
}
