//! `GET /containers/{id}/json` and `GET /containers/json` in Docker's shapes.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};

use super::record::ContainerRecord;
use crate::Engine;
use crate::error::{Error, Result};
use crate::model::ContainerSummary;
use crate::volumes::clean_path;

fn ports_json(rec: &ContainerRecord) -> Value {
    let mut ports = serde_json::Map::new();
    for k in rec.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
        ports.insert(k.clone(), Value::Null);
    }
    for (k, ip, port) in &rec.network.ports {
        let entry = ports.entry(k.clone()).or_insert(Value::Null);
        if entry.is_null() {
            *entry = json!([]);
        }
        if let Some(a) = entry.as_array_mut() {
            a.push(json!({"HostIp": ip, "HostPort": port.to_string()}));
        }
    }
    Value::Object(ports)
}

/// An endpoint's `Links` as the create request gave them (the CLI sends `--link`s there for a
/// user-defined network).
fn endpoint_links(rec: &ContainerRecord, network: &str) -> Value {
    rec.networking_config
        .as_ref()
        .and_then(|n| n.get("EndpointsConfig"))
        .and_then(|e| e.get(network))
        .and_then(|e| e.get("Links"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn network_settings(rec: &ContainerRecord) -> Value {
    let net = &rec.network;
    let mut networks = serde_json::Map::new();
    for ep in &net.endpoints {
        networks.insert(
            ep.network.clone(),
            json!({
                "IPAMConfig": null, "Links": endpoint_links(rec, &ep.network), "Aliases": ep.aliases, "MacAddress": ep.mac,
                "NetworkID": ep.network_id, "EndpointID": ep.endpoint_id, "Gateway": ep.gateway,
                "IPAddress": ep.ip, "IPPrefixLen": ep.prefix_len, "IPv6Gateway": "",
                "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DriverOpts": null,
                "DNSNames": [rec.name.clone(), rec.id[..12].to_string()]
            }),
        );
    }
    let mode = &rec.host_config.network_mode;
    if networks.is_empty() && !mode.starts_with("container:") {
        // not running: the networks it will join, as configured
        let configured = rec
            .networking_config
            .as_ref()
            .and_then(|n| n.get("EndpointsConfig"))
            .and_then(|e| e.as_object());
        let mut names: Vec<&str> = vec![];
        if !rec.primary_disconnected {
            names.push(mode);
        }
        names.extend(
            configured
                .into_iter()
                .flat_map(|o| o.keys().map(String::as_str)),
        );
        for name in names {
            let aliases = configured
                .and_then(|o| o.get(name))
                .and_then(|e| e.get("Aliases"))
                .cloned()
                .unwrap_or(Value::Null);
            networks.insert(name.to_string(), json!({
                "IPAMConfig": null, "Links": endpoint_links(rec, name), "Aliases": aliases, "MacAddress": "",
                "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "DriverOpts": null, "DNSNames": null
            }));
        }
    }
    let first = net.endpoints.iter().find(|e| e.network == "bridge");
    let f = |get: fn(&crate::network::EndpointState) -> String| first.map(get).unwrap_or_default();
    json!({
        "Bridge": "", "SandboxID": "", "HairpinMode": false, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "Ports": ports_json(rec), "SandboxKey": net.sandbox_key,
        "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
        "EndpointID": f(|e| e.endpoint_id.clone()), "Gateway": f(|e| e.gateway.clone()),
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": f(|e| e.ip.clone()),
        "IPPrefixLen": first.map(|e| e.prefix_len).unwrap_or(0), "IPv6Gateway": "",
        "MacAddress": f(|e| e.mac.clone()),
        "Networks": networks,
    })
}

fn ps_ports(rec: &ContainerRecord) -> Vec<Value> {
    let mut out = vec![];
    for (k, ip, port) in &rec.network.ports {
        let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
        out.push(json!({"IP": ip, "PrivatePort": p.parse::<u16>().unwrap_or(0), "PublicPort": port, "Type": proto}));
    }
    for k in rec.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
        if !rec.network.ports.iter().any(|(x, _, _)| x == k) {
            let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
            out.push(json!({"PrivatePort": p.parse::<u16>().unwrap_or(0), "Type": proto}));
        }
    }
    out
}

/// `Mounts` of inspect and `ps`: `-v` binds and volumes, then the `HostConfig.Mounts` binds and
/// tmpfs, as moby's `MountPoint`s show (a `--mount` has an empty Mode). `vol_root` is where the
/// local volumes live (a volume's Source is its `_data`).
fn mounts(rec: &ContainerRecord, vol_root: &Path) -> Vec<Value> {
    let mut out = vec![];
    for b in rec.host_config.binds.iter().flatten() {
        if let Ok((src, dst, ro)) = super::spec::parse_bind(b)
            && src.starts_with('/')
        {
            out.push(json!({"Type": "bind", "Source": src, "Destination": dst, "Mode": if ro { "ro" } else { "" }, "RW": !ro, "Propagation": "rprivate"}));
        }
    }
    let spec = rec.host_config.mounts.as_deref().unwrap_or_default();
    for v in &rec.volumes {
        let from_spec = spec
            .iter()
            .any(|m| m.kind == "volume" && clean_path(&m.target) == v.destination);
        let mode = match (from_spec || v.inherited, v.read_only) {
            (true, _) => "",
            (false, true) => "ro",
            (false, false) => "z",
        };
        let source = vol_root.join(&v.name).join("_data");
        out.push(json!({"Type": "volume", "Name": v.name, "Source": source, "Destination": v.destination, "Driver": "local", "Mode": mode, "RW": !v.read_only, "Propagation": ""}));
    }
    for m in spec {
        let dst = clean_path(&m.target);
        match m.kind.as_str() {
            "bind" => {
                let prop = m
                    .bind_options
                    .as_ref()
                    .map(|o| o.propagation.as_str())
                    .filter(|p| !p.is_empty())
                    .unwrap_or("rprivate");
                out.push(json!({"Type": "bind", "Source": clean_path(&m.source), "Destination": dst, "Mode": "", "RW": !m.read_only, "Propagation": prop}));
            }
            "tmpfs" => out.push(json!({"Type": "tmpfs", "Source": "", "Destination": dst, "Mode": "", "RW": !m.read_only, "Propagation": ""})),
            _ => {}
        }
    }
    for b in &rec.binds_from {
        out.push(json!({"Type": "bind", "Source": b.source, "Destination": b.destination, "Mode": "", "RW": !b.read_only, "Propagation": b.propagation}));
    }
    out
}

fn created_unix(rec: &ContainerRecord) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&rec.created)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// Docker's human status: `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`.
fn human_status(rec: &ContainerRecord) -> String {
    let since = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| human_duration(chrono::Utc::now().signed_duration_since(t).num_seconds()))
            .unwrap_or_default()
    };
    let s = &rec.state;
    if s.running {
        let up = format!("Up {}", since(&s.started_at));
        match s.health.as_ref().map(|h| h.status.as_str()) {
            _ if s.paused => format!("{up} (Paused)"),
            Some(super::health::STARTING) => format!("{up} (health: starting)"),
            Some(h @ (super::health::HEALTHY | super::health::UNHEALTHY)) => format!("{up} ({h})"),
            _ => up,
        }
    } else if s.restarting {
        format!("Restarting ({}) {} ago", s.exit_code, since(&s.finished_at))
    } else if s.status == "created" {
        "Created".into()
    } else {
        format!("Exited ({}) {} ago", s.exit_code, since(&s.finished_at))
    }
}

fn human_duration(secs: i64) -> String {
    match secs {
        s if s < 1 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s < 120 => "About a minute".into(),
        s if s < 3600 => format!("{} minutes", s / 60),
        s if s < 7200 => "About an hour".into(),
        s if s < 172800 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86400),
    }
}

fn command_line(rec: &ContainerRecord) -> String {
    let mut parts = vec![rec.path.clone()];
    parts.extend(rec.args.iter().cloned());
    parts.join(" ")
}

pub fn inspect_json(rec: &ContainerRecord, exec_ids: Vec<String>, vol_root: &Path) -> Value {
    let mut state = serde_json::to_value(&rec.state).unwrap_or_default();
    if rec.removing {
        state["Status"] = json!("removing");
    }
    json!({
        "Id": rec.id,
        "Created": rec.created,
        "Path": rec.path,
        "Args": rec.args,
        "State": state,
        "Image": rec.image_id,
        "ResolvConfPath": "",
        "HostnamePath": "",
        "HostsPath": "",
        "LogPath": rec.log_path,
        "Name": format!("/{}", rec.name),
        "RestartCount": rec.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": if exec_ids.is_empty() { Value::Null } else { json!(exec_ids) },
        "HostConfig": rec.host_config,
        "GraphDriver": {"Name": "overlay2", "Data": null},
        "Mounts": mounts(rec, vol_root),
        "Config": rec.config,
        "NetworkSettings": network_settings(rec),
    })
}

/// Docker's `filters` query value: `{"status":["running"]}` (or the legacy `{"status":{"running":true}}`).
pub fn parse_filters(raw: &str) -> Result<HashMap<String, Vec<String>>> {
    if raw.is_empty() {
        return Ok(HashMap::new());
    }
    let v: Value = serde_json::from_str(raw)
        .map_err(|e| Error::InvalidParameter(format!("invalid filter: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| Error::InvalidParameter("invalid filter: not an object".into()))?;
    let mut out = HashMap::new();
    for (k, v) in obj {
        let vals: Vec<String> = match v {
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            Value::Object(o) => o.keys().cloned().collect(),
            _ => return Err(Error::InvalidParameter(format!("invalid filter '{k}'"))),
        };
        out.insert(k.clone(), vals);
    }
    Ok(out)
}

impl Engine {
    pub fn inspect_container(&self, name: &str) -> Result<Value> {
        let c = self.containers.get(name)?;
        let rec = c.snapshot();
        let vol_root = self.config().engine_dir().join("volumes");
        let mut v = inspect_json(&rec, self.execs.ids_of(&rec.id), &vol_root);
        v["HostConfig"]["Links"] = self.links_json(&rec);
        Ok(v)
    }

    /// `docker ps`: running ones unless `all`, newest first, `limit` rows.
    pub fn list_containers(
        &self,
        all: bool,
        limit: Option<usize>,
        filters: &str,
    ) -> Result<Vec<ContainerSummary>> {
        let filters = super::filters::ListFilters::new(&parse_filters(filters)?, |name| {
            Ok(self.containers.get(name)?.snapshot())
        })?;
        // as moby: a limit or a status filter lists stopped containers too
        let all = all || limit.is_some_and(|l| l > 0) || filters.implies_all();
        let vol_root = self.config().engine_dir().join("volumes");
        let mut recs: Vec<ContainerRecord> =
            self.containers.all().iter().map(|c| c.snapshot()).collect();
        recs.sort_by(|a, b| b.created.cmp(&a.created));
        let mut out = vec![];
        for rec in recs {
            if !all && !rec.state.running {
                continue;
            }
            if !filters.matches(&rec)? {
                continue;
            }
            let state = if rec.removing {
                "removing".to_string()
            } else if rec.state.paused {
                "paused".into()
            } else {
                rec.state.status.clone()
            };
            out.push(ContainerSummary {
                id: rec.id.clone(),
                names: vec![format!("/{}", rec.name)],
                image: rec.image.clone(),
                image_id: rec.image_id.clone(),
                command: command_line(&rec),
                created: created_unix(&rec),
                ports: ps_ports(&rec),
                labels: rec.config.labels.clone(),
                state,
                status: human_status(&rec),
                host_config: json!({"NetworkMode": rec.host_config.network_mode}),
                network_settings: json!({"Networks": network_settings(&rec)["Networks"]}),
                mounts: mounts(&rec, &vol_root),
                size_rw: None,
                size_root_fs: None,
            });
            if limit.is_some_and(|l| l > 0 && out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_accept_both_shapes_and_reject_garbage() {
        let f = parse_filters(r#"{"status":["running"],"label":{"a=b":true}}"#).unwrap();
        assert_eq!(f["status"], vec!["running"]);
        assert_eq!(f["label"], vec!["a=b"]);
        assert!(parse_filters("{bad").is_err());
        assert!(parse_filters(r#"{"status":3}"#).is_err());
    }

    #[test]
    fn durations_read_like_dockers() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(600), "10 minutes");
    }
}
