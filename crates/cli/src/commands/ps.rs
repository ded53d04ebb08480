//! `ps` and `stats`: Docker's formatter contexts (the fields `--format` can name) and tables.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{Ctx, Outcome, filters_json, out};
use crate::args::{PsArgs, StatsArgs};
use crate::client::{LineReader, seg};
use crate::render::{self, ellipsis, human, short_id};
use crate::types::{ContainerSummary, Port};

/// Docker's `DisplayablePorts`: consecutive ports grouped into ranges, host mappings last.
pub fn displayable_ports(ports: &[Port]) -> String {
    let mut ports = ports.to_vec();
    ports.sort_by(|a, b| {
        (a.private_port, &a.ip, a.public_port, &a.kind).cmp(&(
            b.private_port,
            &b.ip,
            b.public_port,
            &b.kind,
        ))
    });
    let mut groups: BTreeMap<String, (u16, u16)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    let form = |key: &str, first: u16, last: u16| {
        let (ip, kind) = match key.rsplit_once('/') {
            Some((ip, kind)) => (ip, kind),
            None => ("", key),
        };
        let mut group = first.to_string();
        if first != last {
            group = format!("{group}-{last}");
        }
        if !ip.is_empty() {
            group = format!("{ip}:{group}->{group}");
        }
        format!("{group}/{kind}")
    };
    for p in &ports {
        let current = p.private_port;
        let mut key = p.kind.clone();
        if !p.ip.is_empty() {
            if p.public_port != current {
                let host = if p.ip.contains(':') {
                    format!("[{}]", p.ip)
                } else {
                    p.ip.clone()
                };
                host_mappings.push(format!(
                    "{host}:{}->{}/{}",
                    p.public_port, p.private_port, p.kind
                ));
                continue;
            }
            key = format!("{}/{}", p.ip, p.kind);
        }
        match groups.get_mut(&key) {
            None => {
                groups.insert(key.clone(), (current, current));
                order.push(key);
            }
            Some(g) if current == g.1.wrapping_add(1) => g.1 = current,
            Some(g) => {
                result.push(form(&key, g.0, g.1));
                *g = (current, current);
            }
        }
    }
    for key in &order {
        let (first, last) = groups[key];
        result.push(form(key, first, last));
    }
    result.extend(host_mappings);
    result.join(", ")
}

/// The `--format` fields of one `ps` row.
pub fn container_context(c: &ContainerSummary, trunc: bool) -> Value {
    let mut names: Vec<String> = c
        .names
        .iter()
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    if let (true, Some(n)) = (trunc, names.iter().find(|n| !n.contains('/')).cloned()) {
        names = vec![n];
    }
    let image = if c.image.is_empty() {
        "<no image>".to_string()
    } else if trunc && c.image.starts_with("sha256:") {
        short_id(&c.image)
    } else if trunc {
        c.image.split('@').next().unwrap_or_default().to_string()
    } else {
        c.image.clone()
    };
    let command = if trunc {
        ellipsis(&c.command, 20)
    } else {
        c.command.clone()
    };
    let size = match (c.size_rw, c.size_root_fs) {
        (rw, Some(root)) if root > 0 => format!(
            "{} (virtual {})",
            human::human_size_prec(rw.unwrap_or(0) as f64, 3),
            human::human_size_prec(root as f64, 3)
        ),
        (rw, _) => human::human_size_prec(rw.unwrap_or(0) as f64, 3),
    };
    let labels = render::labels(&c.labels);
    let mounts = c
        .mounts
        .iter()
        .flatten()
        .map(|m| {
            let name = m["Name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .or(m["Source"].as_str())
                .unwrap_or_default();
            if trunc {
                ellipsis(name, 15)
            } else {
                name.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    let local_volumes = c
        .mounts
        .iter()
        .flatten()
        .filter(|m| m["Driver"].as_str() == Some("local"))
        .count();
    let networks = c
        .network_settings
        .as_ref()
        .and_then(|n| n["Networks"].as_object())
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    json!({
        "Command": serde_json::to_string(&command).unwrap_or_default(),
        "CreatedAt": human::unix_to_go_string(c.created),
        "ID": if trunc { short_id(&c.id) } else { c.id.clone() },
        "Image": image,
        "Labels": labels,
        "LocalVolumes": local_volumes.to_string(),
        "Mounts": mounts,
        "Names": names.join(","),
        "Networks": networks,
        "Ports": displayable_ports(c.ports.as_deref().unwrap_or_default()),
        "RunningFor": human::since(c.created),
        "Size": size,
        "State": c.state,
        "Status": c.status,
    })
}

pub fn container_headers() -> Value {
    json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
        "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS",
        "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
    })
}

pub async fn ps(ctx: &Ctx, a: &PsArgs) -> Outcome {
    let limit = if a.latest { 1 } else { a.last };
    let list: Vec<ContainerSummary> = ctx
        .client
        .get("/containers/json")
        .flag("all", a.all || limit > 0)
        .query_opt("limit", (limit > 0).then_some(limit))
        .flag(
            "size",
            a.size || a.format.as_deref().is_some_and(|f| f.contains(".Size")),
        )
        .query_opt("filters", filters_json(&a.filter)?)
        .json_response()
        .await?;
    let rows: Vec<Value> = list
        .iter()
        .map(|c| container_context(c, !a.no_trunc))
        .collect();
    let mut default = String::from(
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
    );
    if a.size {
        default.push_str("\t{{.Size}}");
    }
    if a.quiet && a.format.as_deref().is_some_and(|f| !f.is_empty()) {
        eprintln!("WARNING: Ignoring custom format, because both --format and --quiet are set.");
    }
    let format = match (&a.format, a.quiet) {
        (_, true) => "{{.ID}}".to_string(),
        (Some(f), false) => f.clone(),
        (None, false) => default.clone(),
    };
    out(&render::list(
        &format,
        &default,
        &container_headers(),
        &rows,
    )?);
    Ok(0)
}

/// One `stats` sample turned into the formatter fields.
pub fn stats_context(id: &str, name: &str, s: &Value, trunc: bool) -> Value {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let cpu = &s["cpu_stats"];
    let pre = &s["precpu_stats"];
    let cpu_delta = f(&cpu["cpu_usage"]["total_usage"]) - f(&pre["cpu_usage"]["total_usage"]);
    let sys_delta = f(&cpu["system_cpu_usage"]) - f(&pre["system_cpu_usage"]);
    let mut online = f(&cpu["online_cpus"]);
    if online == 0.0 {
        online = cpu["cpu_usage"]["percpu_usage"]
            .as_array()
            .map_or(0, Vec::len) as f64;
    }
    let cpu_perc = if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    };
    let mem = &s["memory_stats"];
    let usage = f(&mem["usage"]);
    let cache = ["total_inactive_file", "inactive_file"]
        .iter()
        .map(|k| f(&mem["stats"][*k]))
        .find(|v| *v > 0.0 && *v < usage)
        .unwrap_or(0.0);
    let used = usage - cache;
    let limit = f(&mem["limit"]);
    let mem_perc = if limit > 0.0 {
        used / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in s["networks"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        rx += f(&n["rx_bytes"]);
        tx += f(&n["tx_bytes"]);
    }
    let (mut read, mut write) = (0.0, 0.0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().map(str::to_lowercase).as_deref() {
            Some("read") => read += f(&e["value"]),
            Some("write") => write += f(&e["value"]),
            _ => {}
        }
    }
    let hs = |v: f64| human::human_size_prec(v, 3);
    json!({
        "Container": id,
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Name": name.trim_start_matches('/'),
        "CPUPerc": format!("{cpu_perc:.2}%"),
        "MemUsage": format!("{} / {}", human::bytes_size(used), human::bytes_size(limit)),
        "MemPerc": format!("{mem_perc:.2}%"),
        "NetIO": format!("{} / {}", hs(rx), hs(tx)),
        "BlockIO": format!("{} / {}", hs(read), hs(write)),
        "PIDs": s["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
    })
}

const STATS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

fn stats_headers() -> Value {
    json!({
        "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    })
}

pub async fn stats(ctx: &Ctx, a: &StatsArgs) -> Outcome {
    let client = &ctx.client;
    let names: Vec<String> = if a.containers.is_empty() {
        let list: Vec<ContainerSummary> = client
            .get("/containers/json")
            .flag("all", a.all)
            .json_response()
            .await?;
        list.into_iter().map(|c| c.id).collect()
    } else {
        a.containers.clone()
    };
    let format = a.format.clone().unwrap_or_else(|| STATS_TABLE.to_string());
    let trunc = !a.no_trunc;
    if a.no_stream {
        let mut rows = Vec::new();
        let mut failed = false;
        for n in &names {
            let r: Result<Value, _> = client
                .get(&format!("/containers/{}/stats", seg(n)))
                .query("stream", "0")
                .json_response()
                .await;
            match r {
                Ok(s) => rows.push(stats_context(
                    s["id"].as_str().unwrap_or(n),
                    s["name"].as_str().unwrap_or(n),
                    &s,
                    trunc,
                )),
                Err(e) => {
                    eprintln!("{e}");
                    failed = true;
                }
            }
        }
        out(&render::list(
            &format,
            STATS_TABLE,
            &stats_headers(),
            &rows,
        )?);
        return Ok(if failed { 1 } else { 0 });
    }
    // Live: one stream per container, the table redrawn every second.
    let latest: Arc<Mutex<BTreeMap<String, Value>>> = Arc::default();
    for n in &names {
        let resp = client
            .get(&format!("/containers/{}/stats", seg(n)))
            .query("stream", "1")
            .send()
            .await?;
        let latest = latest.clone();
        let key = n.clone();
        tokio::spawn(async move {
            let mut lines = LineReader::new(resp);
            while let Ok(Some(l)) = lines.next_line().await {
                if let Ok(s) = serde_json::from_slice::<Value>(&l) {
                    let row = stats_context(
                        s["id"].as_str().unwrap_or(&key),
                        s["name"].as_str().unwrap_or(&key),
                        &s,
                        trunc,
                    );
                    if let Ok(mut m) = latest.lock() {
                        m.insert(key.clone(), row);
                    }
                }
            }
            if let Ok(mut m) = latest.lock() {
                m.remove(&key);
            }
        });
    }
    let tty = crate::tty::is_tty(std::io::stdout());
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let rows: Vec<Value> = latest
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        let text = render::list(&format, STATS_TABLE, &stats_headers(), &rows)?;
        if tty {
            out(&format!("\x1b[2J\x1b[H{text}"));
        } else {
            out(&text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(ip: &str, private: u16, public: u16) -> Port {
        Port {
            ip: ip.into(),
            private_port: private,
            public_port: public,
            kind: "tcp".into(),
        }
    }

    #[test]
    fn ports_display_like_docker() {
        assert_eq!(displayable_ports(&[]), "");
        assert_eq!(displayable_ports(&[port("", 80, 0)]), "80/tcp");
        assert_eq!(
            displayable_ports(&[port("0.0.0.0", 80, 8080)]),
            "0.0.0.0:8080->80/tcp"
        );
        assert_eq!(
            displayable_ports(&[port("0.0.0.0", 80, 8080), port("::", 80, 8080)]),
            "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
        );
        assert_eq!(
            displayable_ports(&[port("", 81, 0), port("", 80, 0), port("", 82, 0)]),
            "80-82/tcp"
        );
        assert_eq!(
            displayable_ports(&[port("0.0.0.0", 9000, 9000)]),
            "0.0.0.0:9000->9000/tcp"
        );
    }

    #[test]
    fn container_rows_match_docker_columns() {
        let c: ContainerSummary = serde_json::from_value(json!({
            "Id": "0123456789abcdef0123", "Names": ["/web", "/other/link"], "Image": "busybox@sha256:abc",
            "Command": "sh -c 'while true; do sleep 1; done'", "Created": 0,
            "Ports": [{"PrivatePort": 80, "Type": "tcp"}], "State": "running", "Status": "Up 2 minutes",
            "Labels": {"b": "2", "a": "1"}, "SizeRw": 12, "SizeRootFs": 4261000
        }))
        .unwrap();
        let v = container_context(&c, true);
        assert_eq!(v["ID"], "0123456789ab");
        assert_eq!(v["Names"], "web");
        assert_eq!(v["Image"], "busybox");
        assert_eq!(v["Command"], "\"sh -c 'while true; …\"");
        assert_eq!(v["Ports"], "80/tcp");
        assert_eq!(v["Labels"], "a=1,b=2");
        assert_eq!(v["Size"], "12B (virtual 4.26MB)");
        assert_eq!(v["CreatedAt"], "1970-01-01 00:00:00 +0000 UTC");
        let full = container_context(&c, false);
        assert_eq!(full["ID"], "0123456789abcdef0123");
        assert_eq!(full["Names"], "web,other/link");
        let table = render::list(
            "",
            "table {{.ID}}\t{{.Names}}\t{{.Status}}",
            &container_headers(),
            &[v],
        )
        .unwrap();
        assert_eq!(
            table,
            "CONTAINER ID   NAMES     STATUS\n0123456789ab   web       Up 2 minutes\n"
        );
    }

    #[test]
    fn stats_compute_cpu_and_memory_like_docker() {
        let s = json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000u64}, "system_cpu_usage": 10_000_000_000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000u64}, "system_cpu_usage": 6_000_000_000u64},
            "memory_stats": {"usage": 3_145_728, "limit": 104_857_600, "stats": {"total_inactive_file": 1_048_576}},
            "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 700}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "Write", "value": 0}]},
            "pids_stats": {"current": 3}
        });
        let v = stats_context("abcdef0123456789", "/web", &s, true);
        assert_eq!(v["CPUPerc"], "50.00%");
        assert_eq!(v["MemUsage"], "2MiB / 100MiB");
        assert_eq!(v["MemPerc"], "2.00%");
        assert_eq!(v["NetIO"], "1.5kB / 700B");
        assert_eq!(v["BlockIO"], "4.1kB / 0B");
        assert_eq!(v["PIDs"], "3");
        assert_eq!(v["Name"], "web");
    }
}
