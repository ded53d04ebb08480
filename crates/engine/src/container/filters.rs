//! `docker ps` filters (moby's `daemon/list.go`): status, name, id, label, ancestor, exited,
//! network, volume, health, and the ones resolved once per listing: `before`/`since` (another
//! container, by name or ID: only those created before / after it) and `publish`/`expose`
//! (container ports or ranges, `80`, `8000-8080/udp`; tcp when no protocol is given).

use std::collections::{HashMap, HashSet};

use super::record::ContainerRecord;
use crate::error::{Error, Result};
use crate::volumes::clean_path;

pub(crate) struct ListFilters {
    filters: HashMap<String, Vec<String>>,
    before: Option<ContainerRecord>,
    since: Option<ContainerRecord>,
    publish: HashSet<String>,
    expose: HashSet<String>,
}

impl ListFilters {
    /// Resolves `before`/`since` through `lookup` (an unknown container is its error, as
    /// moby's 404) and parses the port filters (400 on a bad port).
    pub(crate) fn new(
        filters: &HashMap<String, Vec<String>>,
        lookup: impl Fn(&str) -> Result<ContainerRecord>,
    ) -> Result<ListFilters> {
        let one = |key: &str| -> Result<Option<ContainerRecord>> {
            match filters.get(key).and_then(|v| v.last()) {
                Some(name) => lookup(name).map(Some),
                None => Ok(None),
            }
        };
        let ports = |key: &str| -> Result<HashSet<String>> {
            let mut set = HashSet::new();
            for v in filters.get(key).into_iter().flatten() {
                set.extend(port_range(key, v)?);
            }
            Ok(set)
        };
        Ok(ListFilters {
            before: one("before")?,
            since: one("since")?,
            publish: ports("publish")?,
            expose: ports("expose")?,
            filters: filters.clone(),
        })
    }

    /// moby lists stopped containers too when a status filter is given (`config.All`).
    pub(crate) fn implies_all(&self) -> bool {
        self.filters.get("status").is_some_and(|v| !v.is_empty())
    }

    /// Whether `rec` passes every filter.
    pub(crate) fn matches(&self, rec: &ContainerRecord) -> Result<bool> {
        if let Some(b) = &self.before
            && (rec.created >= b.created || rec.id == b.id)
        {
            return Ok(false);
        }
        if let Some(s) = &self.since
            && (rec.created <= s.created || rec.id == s.id)
        {
            return Ok(false);
        }
        if !self.publish.is_empty()
            && !rec
                .host_config
                .port_bindings
                .iter()
                .flatten()
                .any(|(p, _)| self.publish.contains(&normalize_port(p)))
        {
            return Ok(false);
        }
        if !self.expose.is_empty()
            && !rec
                .config
                .exposed_ports
                .iter()
                .flatten()
                .any(|(p, _)| self.expose.contains(&normalize_port(p)))
        {
            return Ok(false);
        }
        for (key, vals) in &self.filters {
            if vals.is_empty() {
                continue;
            }
            let ok = match key.as_str() {
                "status" => {
                    let status = if rec.state.paused {
                        "paused"
                    } else if rec.state.restarting {
                        "restarting"
                    } else {
                        rec.state.status.as_str()
                    };
                    for v in vals {
                        if ![
                            "created",
                            "restarting",
                            "running",
                            "removing",
                            "paused",
                            "exited",
                            "dead",
                        ]
                        .contains(&v.as_str())
                        {
                            return Err(Error::InvalidParameter(format!(
                                "invalid filter 'status={v}'"
                            )));
                        }
                    }
                    vals.iter().any(|v| v == status)
                }
                "name" => vals
                    .iter()
                    .any(|v| rec.name.contains(v.trim_start_matches('/'))),
                "id" => vals.iter().any(|v| rec.id.starts_with(v)),
                "label" => vals.iter().all(|v| match v.split_once('=') {
                    Some((k, val)) => rec.config.labels.get(k).is_some_and(|x| x == val),
                    None => rec.config.labels.contains_key(v),
                }),
                "ancestor" => vals.iter().any(|v| {
                    rec.image == *v
                        || rec.image_id == *v
                        || rec
                            .image_id
                            .trim_start_matches("sha256:")
                            .starts_with(v.as_str())
                        || format!("{v}:latest") == rec.image
                }),
                "exited" => vals.iter().any(|v| {
                    !rec.state.running
                        && rec.state.status == "exited"
                        && v.parse::<i64>().ok() == Some(rec.state.exit_code)
                }),
                "network" => vals.iter().any(|v| {
                    *v == rec.host_config.network_mode
                        || rec
                            .network
                            .endpoints
                            .iter()
                            .any(|e| e.network == *v || e.network_id.starts_with(v.as_str()))
                }),
                "volume" => vals.iter().any(|v| {
                    rec.host_config
                        .binds
                        .iter()
                        .flatten()
                        .any(|b| b.split(':').take(2).any(|p| p == v))
                        || rec
                            .volumes
                            .iter()
                            .any(|m| m.name == *v || m.destination == *v)
                        || rec
                            .host_config
                            .mounts
                            .iter()
                            .flatten()
                            .any(|m| m.source == *v || clean_path(&m.target) == clean_path(v))
                }),
                "health" => super::health::filter_matches(rec, vals)?,
                // resolved in `new`; a plain engine has no tasks and one isolation
                "before" | "since" | "publish" | "expose" | "is-task" | "isolation" => true,
                other => return Err(Error::InvalidParameter(format!("invalid filter '{other}'"))),
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `80`, `80/udp`, `8000-8010/tcp` → the set of `port/proto` keys it covers.
fn port_range(key: &str, value: &str) -> Result<Vec<String>> {
    let bad = || Error::InvalidParameter(format!("error while looking up for {key} {value}"));
    let (ports, proto) = value.split_once('/').unwrap_or((value, "tcp"));
    if !["tcp", "udp", "sctp"].contains(&proto) {
        return Err(bad());
    }
    let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
    let lo: u16 = lo.parse().map_err(|_| bad())?;
    let hi: u16 = hi.parse().map_err(|_| bad())?;
    if lo > hi || hi - lo > 10_000 {
        return Err(bad());
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// A container port key as stored (`80/tcp`, or `80` from an old client) → `80/tcp`.
fn normalize_port(p: &str) -> String {
    if p.contains('/') {
        p.to_string()
    } else {
        format!("{p}/tcp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_filters_read_like_mobys() {
        assert_eq!(port_range("publish", "80").unwrap(), vec!["80/tcp"]);
        assert_eq!(
            port_range("expose", "8000-8002/udp").unwrap(),
            vec!["8000/udp", "8001/udp", "8002/udp"]
        );
        for bad in ["x", "80/icmp", "90-80", "70000", "1-20000"] {
            let e = port_range("publish", bad).unwrap_err().to_string();
            assert_eq!(e, format!("error while looking up for publish {bad}"));
        }
    }
}
