//! `--link NAME[:ALIAS]` (`HostConfig.Links`, and `EndpointsConfig.*.Links` that the CLI also
//! sends for a user-defined network). The target must exist at create (moby's 400: a 404 would
//! make the CLI pull the image); it is kept by ID, so renames do not break the link.
//!
//! On the default bridge (moby's legacy links), the target must run at start: the container's
//! /etc/hosts gets `IP ALIAS HOSTNAME NAME` and its environment moby's `ALIAS_PORT...`,
//! `ALIAS_NAME=/this/alias` and `ALIAS_ENV_...` variables. On a user-defined network Docker adds
//! a DNS alias that only this container resolves; here that is an /etc/hosts line
//! `IP ALIAS` (the same answer for the container's resolver, written at start, so it does not
//! follow a later address change of the target), and a target not running is skipped.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::record::ContainerRecord;
use crate::Engine;
use crate::error::{Error, Result};

/// A link as kept in the record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Link {
    /// The target container's ID.
    pub id: String,
    pub alias: String,
}

/// moby's `opts.ParseLink`: `NAME[:ALIAS]`, or the `/name:/this/alias` form inspect shows.
pub fn parse(val: &str) -> Result<(String, String)> {
    if val.is_empty() {
        return Err(Error::InvalidParameter(
            "empty string specified for links".into(),
        ));
    }
    let parts: Vec<&str> = val.split(':').collect();
    let (name, alias) = match parts.as_slice() {
        [n] => (*n, *n),
        [n, a] if n.starts_with('/') => (&n[1..], a.rsplit('/').next().unwrap_or(a)),
        [n, a] => (*n, *a),
        _ => {
            return Err(Error::InvalidParameter(format!(
                "bad format for links: {val}"
            )));
        }
    };
    // the alias goes into /etc/hosts and variable names: a container name's characters
    let ok = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    };
    if !ok(name) || !ok(alias) {
        return Err(Error::InvalidParameter(format!(
            "invalid link {val:?}: name and alias must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        )));
    }
    Ok((name.to_string(), alias.to_string()))
}

/// Every link the create request names (HostConfig's, then the endpoints').
fn requested(hc: &crate::model::HostConfig, networking: Option<&Value>) -> Result<Vec<String>> {
    let bad = || Error::InvalidParameter("HostConfig.Links must be a list of strings".into());
    let mut out: Vec<String> = vec![];
    let eps = networking
        .and_then(|n| n.get("EndpointsConfig"))
        .and_then(|e| e.as_object());
    let lists = hc.extra.get("Links").into_iter().chain(
        eps.into_iter()
            .flat_map(|o| o.values().filter_map(|e| e.get("Links"))),
    );
    for list in lists.filter(|l| !l.is_null()) {
        for l in list.as_array().ok_or_else(bad)? {
            let l = l.as_str().ok_or_else(bad)?;
            if !out.iter().any(|x| x == l) {
                out.push(l.to_string());
            }
        }
    }
    Ok(out)
}

/// moby's `runconfig.ErrConflictHostNetworkAndLinks`.
fn host_network_conflict() -> Error {
    Error::InvalidParameter(
        "conflicting options: host type networking can't be used with links. This would result in undefined behavior".into(),
    )
}

/// moby's `links.EnvVars` for one link (`name` is `/this/alias`).
pub fn env_vars(name: &str, alias: &str, ip: &str, target: &ContainerRecord) -> Vec<String> {
    let alias = alias.to_ascii_uppercase().replace('-', "_");
    let mut ports: Vec<(u16, String)> = target
        .config
        .exposed_ports
        .iter()
        .flatten()
        .filter_map(|(k, _)| super::ports::parse_port_key(k).ok())
        .collect();
    // moby's order: by number, tcp first
    ports.sort_by(|a, b| a.0.cmp(&b.0).then((a.1 != "tcp").cmp(&(b.1 != "tcp"))));
    let mut env = vec![];
    if let Some((p, proto)) = ports.first() {
        env.push(format!("{alias}_PORT={proto}://{ip}:{p}"));
    }
    // runs of three or more consecutive numbers also get _START/_END variables (moby's
    // `nextContiguous`, which looks at the numbers only)
    let mut i = 0;
    while i < ports.len() {
        let j = next_contiguous(&ports, i);
        if j > i + 1 {
            let ((p, proto), (q, qproto)) = (&ports[i], &ports[j]);
            let up = proto.to_ascii_uppercase();
            let qup = qproto.to_ascii_uppercase();
            env.push(format!("{alias}_PORT_{p}_{up}_START={proto}://{ip}:{p}"));
            env.push(format!("{alias}_PORT_{p}_{up}_ADDR={ip}"));
            env.push(format!("{alias}_PORT_{p}_{up}_PROTO={proto}"));
            env.push(format!("{alias}_PORT_{p}_{up}_PORT_START={p}"));
            env.push(format!("{alias}_PORT_{p}_{qup}_END={qproto}://{ip}:{q}"));
            env.push(format!("{alias}_PORT_{p}_{qup}_PORT_END={q}"));
            i = j + 1;
        } else {
            i += 1;
        }
    }
    for (p, proto) in &ports {
        let up = proto.to_ascii_uppercase();
        env.push(format!("{alias}_PORT_{p}_{up}={proto}://{ip}:{p}"));
        env.push(format!("{alias}_PORT_{p}_{up}_ADDR={ip}"));
        env.push(format!("{alias}_PORT_{p}_{up}_PORT={p}"));
        env.push(format!("{alias}_PORT_{p}_{up}_PROTO={proto}"));
    }
    env.push(format!("{alias}_NAME={name}"));
    for e in &target.config.env {
        let parts: Vec<&str> = e.split('=').collect();
        if let [k, v] = parts.as_slice()
            && *k != "HOME"
            && *k != "PATH"
        {
            env.push(format!("{alias}_ENV_{k}={v}"));
        }
    }
    env
}

/// The last index of the run of consecutive port numbers starting at `i`.
fn next_contiguous(ports: &[(u16, String)], i: usize) -> usize {
    let mut value = ports[i].0;
    for (k, (p, _)) in ports.iter().enumerate().skip(i + 1) {
        if u32::from(*p) > u32::from(value) + 1 {
            return k - 1;
        }
        value = value.saturating_add(1);
    }
    ports.len() - 1
}

/// The target's address on `network`, when it runs there.
fn address_on(target: &ContainerRecord, network: &str) -> Option<IpAddr> {
    target
        .network
        .endpoints
        .iter()
        .find(|e| e.network == network)
        .and_then(|e| e.ip.parse().ok())
}

impl Engine {
    /// At create: the links of the request, their targets looked up (by name or ID).
    pub(crate) fn create_links(
        &self,
        hc: &crate::model::HostConfig,
        networking: Option<&Value>,
    ) -> Result<Vec<Link>> {
        let mut out: Vec<Link> = vec![];
        for l in requested(hc, networking)? {
            let (name, alias) = parse(&l)?;
            if hc.network_mode == "host" {
                return Err(host_network_conflict());
            }
            if hc.network_mode.starts_with("container:") {
                return Err(Error::InvalidParameter(
                    "conflicting options: container type network can't be used with links. This would result in undefined behavior".into(),
                ));
            }
            let target = self.containers.get(&name).map_err(|e| match e {
                Error::NotFound(m) => {
                    Error::InvalidParameter(format!("could not get container for {name}: {m}"))
                }
                e => e,
            })?;
            if target.rec().host_config.network_mode == "host" {
                return Err(host_network_conflict());
            }
            out.retain(|x| x.alias != alias);
            out.push(Link {
                id: target.id.clone(),
                alias,
            });
        }
        Ok(out)
    }

    /// At start, on the default bridge: moby's link variables; every target must run there.
    pub(crate) fn link_env(&self, rec: &ContainerRecord) -> Result<Vec<String>> {
        if rec.links.is_empty() || rec.host_config.network_mode != "bridge" {
            return Ok(vec![]);
        }
        let mut env = vec![];
        for l in &rec.links {
            // a removed target took its link with it (moby drops it from the link graph)
            let Ok(target) = self.containers.get(&l.id) else {
                continue;
            };
            let target = target.snapshot();
            let link_name = format!("/{}/{}", rec.name, l.alias);
            if !target.state.running {
                return Err(Error::Conflict(format!(
                    "Cannot link to a non running container: /{} AS {link_name}",
                    target.name
                )));
            }
            let ip = address_on(&target, "bridge").ok_or_else(|| {
                Error::Conflict(format!(
                    "container {} not attached to default bridge network",
                    target.id
                ))
            })?;
            env.extend(env_vars(&link_name, &l.alias, &ip.to_string(), &target));
        }
        Ok(env)
    }

    /// The /etc/hosts lines of the links (after [`Engine::link_env`] checked them).
    pub(crate) fn link_hosts(&self, rec: &ContainerRecord) -> Vec<(String, IpAddr)> {
        let mode = rec.host_config.network_mode.as_str();
        let mut out = vec![];
        for l in &rec.links {
            let Ok(target) = self.containers.get(&l.id) else {
                continue;
            };
            let target = target.snapshot();
            let Some(ip) = address_on(&target, mode) else {
                continue;
            };
            let names = if mode == "bridge" {
                // moby: the alias, the target's hostname, and its name when not the alias
                let hostname = if target.config.hostname.is_empty() {
                    target.id[..12].to_string()
                } else {
                    target.config.hostname.clone()
                };
                let mut n = format!("{} {hostname}", l.alias);
                if l.alias != target.name {
                    n.push(' ');
                    n.push_str(&target.name);
                }
                n
            } else {
                l.alias.clone()
            };
            out.push((names, ip));
        }
        out
    }

    /// Inspect's `HostConfig.Links`: `/target:/this/alias` on the default bridge, as moby
    /// shows its link graph (null elsewhere).
    pub(crate) fn links_json(&self, rec: &ContainerRecord) -> Value {
        if rec.links.is_empty() || rec.host_config.network_mode != "bridge" {
            return Value::Null;
        }
        let shown: Vec<String> = rec
            .links
            .iter()
            .filter_map(|l| {
                let t = self.containers.get(&l.id).ok()?;
                let name = t.rec().name.clone();
                Some(format!("/{name}:/{}/{}", rec.name, l.alias))
            })
            .collect();
        if shown.is_empty() {
            Value::Null
        } else {
            json!(shown)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_as_mobys_parse_link() {
        assert_eq!(parse("db").unwrap(), ("db".into(), "db".into()));
        assert_eq!(parse("db:data").unwrap(), ("db".into(), "data".into()));
        assert_eq!(
            parse("/db:/web/data").unwrap(),
            ("db".into(), "data".into())
        );
        let e = |s: &str| parse(s).unwrap_err().to_string();
        assert_eq!(e(""), "empty string specified for links");
        assert_eq!(e("a:b:c"), "bad format for links: a:b:c");
        assert!(e("db:a b").contains("invalid link"));
        assert!(e("db:a\nb").contains("invalid link"));
    }

    #[test]
    fn variables_follow_mobys_env_vars() {
        let mut target: ContainerRecord = serde_json::from_value(json!({
            "id": "x", "name": "db", "created": "", "path": "", "args": [], "image": "",
            "image_id": "", "config": {"Env": ["PATH=/bin", "PASS=s3", "A=b=c"],
                "ExposedPorts": {"5432/tcp": {}, "53/udp": {}, "53/tcp": {}}},
            "host_config": {},
            "state": serde_json::to_value(crate::model::ContainerState::default()).unwrap(),
            "restart_count": 0, "log_path": "",
            "rootfs_mounts": []}))
        .unwrap();
        let env = env_vars("/web/my-db", "my-db", "10.0.0.2", &target);
        assert_eq!(
            env,
            [
                "MY_DB_PORT=tcp://10.0.0.2:53",
                "MY_DB_PORT_53_TCP=tcp://10.0.0.2:53",
                "MY_DB_PORT_53_TCP_ADDR=10.0.0.2",
                "MY_DB_PORT_53_TCP_PORT=53",
                "MY_DB_PORT_53_TCP_PROTO=tcp",
                "MY_DB_PORT_53_UDP=udp://10.0.0.2:53",
                "MY_DB_PORT_53_UDP_ADDR=10.0.0.2",
                "MY_DB_PORT_53_UDP_PORT=53",
                "MY_DB_PORT_53_UDP_PROTO=udp",
                "MY_DB_PORT_5432_TCP=tcp://10.0.0.2:5432",
                "MY_DB_PORT_5432_TCP_ADDR=10.0.0.2",
                "MY_DB_PORT_5432_TCP_PORT=5432",
                "MY_DB_PORT_5432_TCP_PROTO=tcp",
                "MY_DB_NAME=/web/my-db",
                "MY_DB_ENV_PASS=s3",
            ]
        );
        target.config.exposed_ports =
            serde_json::from_value(json!({"8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {}}))
                .unwrap();
        let env = env_vars("/web/db", "db", "10.0.0.2", &target);
        assert_eq!(
            env[..7],
            [
                "DB_PORT=tcp://10.0.0.2:8000",
                "DB_PORT_8000_TCP_START=tcp://10.0.0.2:8000",
                "DB_PORT_8000_TCP_ADDR=10.0.0.2",
                "DB_PORT_8000_TCP_PROTO=tcp",
                "DB_PORT_8000_TCP_PORT_START=8000",
                "DB_PORT_8000_TCP_END=tcp://10.0.0.2:8002",
                "DB_PORT_8000_TCP_PORT_END=8002",
            ]
        );
        assert_eq!(env.len(), 7 + 12 + 2);
        target.config.exposed_ports = None;
        assert_eq!(
            env_vars("/web/db", "db", "10.0.0.2", &target)[0],
            "DB_NAME=/web/db"
        );
    }
}
