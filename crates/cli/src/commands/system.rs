//! `info`, `version`, `system df`, `system prune`, `events`.

use serde_json::{Value, json};

use super::container::{confirm, prune};
use super::{Ctx, Outcome, filters_json, out};
use crate::args::*;
use crate::client::{LineReader, MAX_API_VERSION};
use crate::render::{self, human, short_id};

pub async fn info(ctx: &Ctx, a: &FormatArgs) -> Outcome {
    let i: Value = ctx.client.get("/info").json_response().await?;
    if let Some(f) = a.format.as_deref().filter(|f| !f.is_empty()) {
        out(&render::each(f, &[i])?);
        return Ok(0);
    }
    out(&info_text(&i));
    Ok(0)
}

/// Docker's `prettyPrintInfo` for the fields a Linux engine reports.
pub fn info_text(i: &Value) -> String {
    let s = |k: &str| match &i[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    let list = |v: &Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    let mut t = String::new();
    t.push_str("Client:\n Version:    ");
    t.push_str(env!("CARGO_PKG_VERSION"));
    t.push_str("\n Context:    default\n Debug Mode: false\n\nServer:\n");
    t.push_str(&format!(
        " Containers: {}\n  Running: {}\n  Paused: {}\n  Stopped: {}\n",
        s("Containers"),
        s("ContainersRunning"),
        s("ContainersPaused"),
        s("ContainersStopped")
    ));
    t.push_str(&format!(" Images: {}\n", s("Images")));
    t.push_str(&format!(" Server Version: {}\n", s("ServerVersion")));
    t.push_str(&format!(" Storage Driver: {}\n", s("Driver")));
    for pair in i["DriverStatus"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (pair[0].as_str(), pair[1].as_str()) {
            t.push_str(&format!("  {k}: {v}\n"));
        }
    }
    t.push_str(&format!(" Logging Driver: {}\n", s("LoggingDriver")));
    t.push_str(&format!(" Cgroup Driver: {}\n", s("CgroupDriver")));
    if !s("CgroupVersion").is_empty() {
        t.push_str(&format!(" Cgroup Version: {}\n", s("CgroupVersion")));
    }
    let p = &i["Plugins"];
    t.push_str(&format!(
        " Plugins:\n  Volume: {}\n  Network: {}\n",
        list(&p["Volume"]),
        list(&p["Network"])
    ));
    if p["Authorization"].as_array().is_some_and(|a| !a.is_empty()) {
        t.push_str(&format!("  Authorization: {}\n", list(&p["Authorization"])));
    }
    t.push_str(&format!("  Log: {}\n", list(&p["Log"])));
    t.push_str(&format!(
        " Swarm: {}\n",
        i["Swarm"]["LocalNodeState"].as_str().unwrap_or("inactive")
    ));
    if let Some(r) = i["Runtimes"].as_object() {
        t.push_str(&format!(
            " Runtimes: {}\n",
            r.keys().cloned().collect::<Vec<_>>().join(" ")
        ));
    }
    t.push_str(&format!(" Default Runtime: {}\n", s("DefaultRuntime")));
    t.push_str(&format!(" Init Binary: {}\n", s("InitBinary")));
    for (label, key) in [
        ("containerd", "ContainerdCommit"),
        ("runc", "RuncCommit"),
        ("init", "InitCommit"),
    ] {
        t.push_str(&format!(
            " {label} version: {}\n",
            i[key]["ID"].as_str().unwrap_or_default()
        ));
    }
    let security: Vec<&str> = i["SecurityOptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.as_str())
        .collect();
    if !security.is_empty() {
        t.push_str(" Security Options:\n");
        for opt in security {
            for kv in opt.split(',') {
                match kv.split_once('=') {
                    Some(("name", v)) => t.push_str(&format!("  {v}\n")),
                    Some((k, v)) => {
                        let mut k = k.to_string();
                        if let Some(first) = k.get(..1) {
                            k = first.to_uppercase() + &k[1..];
                        }
                        t.push_str(&format!("   {k}: {v}\n"));
                    }
                    None => {}
                }
            }
        }
    }
    t.push_str(&format!(" Kernel Version: {}\n", s("KernelVersion")));
    t.push_str(&format!(" Operating System: {}\n", s("OperatingSystem")));
    t.push_str(&format!(" OSType: {}\n", s("OSType")));
    t.push_str(&format!(" Architecture: {}\n", s("Architecture")));
    t.push_str(&format!(" CPUs: {}\n", s("NCPU")));
    t.push_str(&format!(
        " Total Memory: {}\n",
        human::bytes_size(i["MemTotal"].as_f64().unwrap_or(0.0))
    ));
    t.push_str(&format!(" Name: {}\n", s("Name")));
    t.push_str(&format!(" ID: {}\n", s("ID")));
    t.push_str(&format!(" Docker Root Dir: {}\n", s("DockerRootDir")));
    t.push_str(&format!(
        " Debug Mode: {}\n",
        i["Debug"].as_bool().unwrap_or(false)
    ));
    for (label, key) in [
        ("HTTP Proxy", "HttpProxy"),
        ("HTTPS Proxy", "HttpsProxy"),
        ("No Proxy", "NoProxy"),
    ] {
        if !s(key).is_empty() {
            t.push_str(&format!(" {label}: {}\n", s(key)));
        }
    }
    t.push_str(&format!(
        " Experimental: {}\n",
        i["ExperimentalBuild"].as_bool().unwrap_or(false)
    ));
    let reg = &i["RegistryConfig"];
    let mut insecure: Vec<String> = reg["IndexConfigs"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|c| c["Secure"].as_bool() == Some(false))
        .filter_map(|c| c["Name"].as_str().map(String::from))
        .collect();
    insecure.extend(
        reg["InsecureRegistryCIDRs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(String::from)),
    );
    if !insecure.is_empty() {
        t.push_str(" Insecure Registries:\n");
        for r in insecure {
            t.push_str(&format!("  {r}\n"));
        }
    }
    if let Some(m) = reg["Mirrors"].as_array().filter(|m| !m.is_empty()) {
        t.push_str(" Registry Mirrors:\n");
        for r in m.iter().filter_map(|r| r.as_str()) {
            t.push_str(&format!("  {r}\n"));
        }
    }
    t.push_str(&format!(
        " Live Restore Enabled: {}\n",
        i["LiveRestoreEnabled"].as_bool().unwrap_or(false)
    ));
    let warnings: Vec<&str> = i["Warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str())
        .collect();
    if !warnings.is_empty() {
        t.push('\n');
        for w in warnings {
            t.push_str(&format!("{w}\n"));
        }
    }
    t.push('\n');
    t
}

/// Go's names for the architecture (`GOARCH`), as the docker CLI reports them.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

pub async fn version(ctx: Option<&Ctx>, a: &FormatArgs) -> Outcome {
    let server: Option<Value> = match ctx {
        Some(c) => Some(c.client.get("/version").json_response().await?),
        None => None,
    };
    let api = ctx.map_or(MAX_API_VERSION.to_string(), |c| {
        c.client.version().to_string()
    });
    let client = json!({
        "Platform": {"Name": ""},
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": api,
        "DefaultAPIVersion": MAX_API_VERSION,
        "GoVersion": concat!("rust", env!("CARGO_PKG_RUST_VERSION")),
        "GitCommit": "",
        "BuildTime": "",
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
        "Context": "default",
    });
    // Templates name Go's fields (`.Server.APIVersion`); keep the JSON names too.
    let mut client = client;
    client["APIVersion"] = client["ApiVersion"].clone();
    let mut server = server;
    if let Some(sv) = server.as_mut().filter(|v| v.is_object()) {
        sv["APIVersion"] = sv["ApiVersion"].clone();
    }
    let all = json!({"Client": client, "Server": server});
    if let Some(f) = a.format.as_deref().filter(|f| !f.is_empty()) {
        out(&render::each(f, &[all])?);
        return Ok(0);
    }
    out(&version_text(&client, server.as_ref()));
    Ok(0)
}

/// Docker's `version` template, filled from the client fields and `GET /version`.
pub fn version_text(client: &Value, server: Option<&Value>) -> String {
    let g = |v: &Value, k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut api = g(client, "ApiVersion");
    if api != g(client, "DefaultAPIVersion") {
        api = format!("{api} (downgraded from {})", g(client, "DefaultAPIVersion"));
    }
    let mut t = format!(
        "Client:\n Version:           {}\n API version:       {api}\n Go version:        {}\n Git commit:        {}\n Built:             {}\n OS/Arch:           {}/{}\n Context:           {}\n",
        g(client, "Version"),
        g(client, "GoVersion"),
        g(client, "GitCommit"),
        g(client, "BuildTime"),
        g(client, "Os"),
        g(client, "Arch"),
        g(client, "Context"),
    );
    let Some(s) = server else { return t };
    let platform = s["Platform"]["Name"].as_str().unwrap_or_default();
    t.push_str("\nServer:");
    if !platform.is_empty() {
        t.push(' ');
        t.push_str(platform);
    }
    t.push('\n');
    for c in s["Components"].as_array().into_iter().flatten() {
        let name = c["Name"].as_str().unwrap_or_default();
        let d = &c["Details"];
        t.push_str(&format!(" {name}:\n"));
        if name == "Engine" {
            t.push_str(&format!(
                "  Version:          {}\n  API version:      {} (minimum version {})\n  Go version:       {}\n  Git commit:       {}\n  Built:            {}\n  OS/Arch:          {}/{}\n  Experimental:     {}\n",
                g(c, "Version"),
                g(d, "ApiVersion"),
                g(d, "MinAPIVersion"),
                g(d, "GoVersion"),
                g(d, "GitCommit"),
                g(d, "BuildTime"),
                g(d, "Os"),
                g(d, "Arch"),
                g(d, "Experimental"),
            ));
        } else {
            t.push_str(&format!("  Version:          {}\n", g(c, "Version")));
            // Docker lists the other details sorted, keys padded to 18 columns.
            let mut keys: Vec<&String> = d
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            keys.sort();
            for k in keys {
                t.push_str(&format!(
                    "  {k}:{} {}\n",
                    " ".repeat(17usize.saturating_sub(k.len())),
                    g(d, k)
                ));
            }
        }
    }
    t
}

pub async fn df(ctx: &Ctx, a: &DfArgs) -> Outcome {
    let d: Value = ctx.client.get("/system/df").json_response().await?;
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let images = d["Images"].as_array().cloned().unwrap_or_default();
    let containers = d["Containers"].as_array().cloned().unwrap_or_default();
    let volumes = d["Volumes"].as_array().cloned().unwrap_or_default();
    let cache = d["BuildCache"].as_array().cloned().unwrap_or_default();
    let hs = |v: f64| human::human_size(v);
    // Docker: "(N%)" with an integer percentage, only when there is something at all.
    let pct = |r: f64, t: f64| {
        if t > 0.0 {
            format!("{} ({}%)", hs(r), ((r * 100.0) / t).floor() as i64)
        } else {
            hs(r)
        }
    };
    let img_total = f(&d["LayersSize"]);
    let img_active = images.iter().filter(|i| f(&i["Containers"]) > 0.0).count();
    let img_used: f64 = images
        .iter()
        .filter(|i| f(&i["Containers"]) > 0.0 && f(&i["SharedSize"]) >= 0.0)
        .map(|i| f(&i["Size"]) - f(&i["SharedSize"]))
        .sum();
    let img_reclaim = img_total - img_used;
    let active = |c: &Value| {
        let s = c["State"].as_str().unwrap_or_default();
        s.contains("running") || s.contains("paused") || s.contains("restarting")
    };
    let c_total: f64 = containers.iter().map(|c| f(&c["SizeRw"])).sum();
    let c_active = containers.iter().filter(|c| active(c)).count();
    let c_reclaim: f64 = containers
        .iter()
        .filter(|c| !active(c))
        .map(|c| f(&c["SizeRw"]))
        .sum();
    let v_total: f64 = volumes
        .iter()
        .map(|v| f(&v["UsageData"]["Size"]).max(0.0))
        .sum();
    let v_active = volumes
        .iter()
        .filter(|v| f(&v["UsageData"]["RefCount"]) > 0.0)
        .count();
    let v_reclaim: f64 = volumes
        .iter()
        .filter(|v| f(&v["UsageData"]["RefCount"]) <= 0.0)
        .map(|v| f(&v["UsageData"]["Size"]).max(0.0))
        .sum();
    let b_total: f64 = f(&d["BuilderSize"]).max(cache.iter().map(|b| f(&b["Size"])).sum());
    let b_in_use: f64 = cache
        .iter()
        .filter(|b| b["InUse"].as_bool() == Some(true) && b["Shared"].as_bool() != Some(true))
        .map(|b| f(&b["Size"]))
        .sum();
    let b_active = cache
        .iter()
        .filter(|b| b["InUse"].as_bool() == Some(true))
        .count();
    let rows = vec![
        json!({"Type": "Images", "TotalCount": images.len().to_string(), "Active": img_active.to_string(), "Size": hs(img_total), "Reclaimable": pct(img_reclaim, img_total)}),
        json!({"Type": "Containers", "TotalCount": containers.len().to_string(), "Active": c_active.to_string(), "Size": hs(c_total), "Reclaimable": pct(c_reclaim, c_total)}),
        json!({"Type": "Local Volumes", "TotalCount": volumes.len().to_string(), "Active": v_active.to_string(), "Size": hs(v_total), "Reclaimable": pct(v_reclaim, v_total)}),
        json!({"Type": "Build Cache", "TotalCount": cache.len().to_string(), "Active": b_active.to_string(), "Size": hs(b_total), "Reclaimable": hs(b_total - b_in_use)}),
    ];
    let headers = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    if a.verbose {
        out(&render::inspect_json(&[d]));
        return Ok(0);
    }
    out(&render::list(
        a.format.as_deref().unwrap_or(""),
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        &headers,
        &rows,
    )?);
    Ok(0)
}

pub async fn system_prune(ctx: &Ctx, a: &PruneArgs) -> Outcome {
    if !a.force {
        let mut w = String::from(
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
        );
        if a.volumes {
            w.push_str("  - all anonymous volumes not used by at least one container\n");
        }
        w.push_str(if a.all {
            "  - all images without at least one container associated to them\n"
        } else {
            "  - all dangling images\n"
        });
        w.push_str("  - unused build cache\n\nAre you sure you want to continue?");
        if !confirm(&w)? {
            return Ok(0);
        }
    }
    let forced = PruneArgs {
        force: true,
        ..a.clone()
    };
    prune(ctx, &forced, "containers").await?;
    prune(ctx, &forced, "networks").await?;
    if a.volumes {
        prune(
            ctx,
            &PruneArgs {
                all: false,
                ..forced.clone()
            },
            "volumes",
        )
        .await?;
    }
    prune(ctx, &forced, "images").await?;
    Ok(0)
}

/// Docker's default event line: `2026-11-24T04:09:00.123456789Z container start <id> (image=bb, name=x)`.
pub fn event_line(e: &Value) -> String {
    let nanos = e["timeNano"]
        .as_i64()
        .unwrap_or_else(|| e["time"].as_i64().unwrap_or(0) * 1_000_000_000);
    let t = chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
        .unwrap_or_default();
    let attrs = e["Actor"]["Attributes"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let mut line = format!(
        "{t} {} {} {}",
        e["Type"].as_str().unwrap_or_default(),
        e["Action"].as_str().unwrap_or_default(),
        e["Actor"]["ID"].as_str().unwrap_or_default()
    );
    if !attrs.is_empty() {
        line.push_str(&format!(" ({attrs})"));
    }
    line
}

pub async fn events(ctx: &Ctx, a: &EventsArgs) -> Outcome {
    let resp = ctx
        .client
        .get("/events")
        .query_opt("since", a.since.as_deref())
        .query_opt("until", a.until.as_deref())
        .query_opt("filters", filters_json(&a.filter)?)
        .send()
        .await?;
    let tmpl = match a.format.as_deref() {
        Some("json") => Some(crate::template::Template::parse("{{json .}}")?),
        Some(f) if !f.is_empty() => Some(crate::template::Template::parse(f)?),
        _ => None,
    };
    let mut lines = LineReader::new(resp);
    while let Some(l) = lines.next_line().await? {
        let e: Value = serde_json::from_slice(&l)?;
        let text = match &tmpl {
            Some(t) => t.render(&e)?,
            None => event_line(&e),
        };
        out(&format!("{text}\n"));
    }
    let _ = short_id;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_match_docker() {
        let e = json!({"Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"image": "bb", "name": "x"}},
            "time": 1, "timeNano": 1_000_000_005i64});
        assert_eq!(
            event_line(&e),
            "1970-01-01T00:00:01.000000005Z container start abc (image=bb, name=x)"
        );
    }
}
