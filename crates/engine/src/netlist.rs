//! `GET /networks` and `GET /networks/{id}` as dockerd answers them: the bridge networks of
//! berth-network plus the pre-defined `host` and `none` (driver `host` and `null`, no IPAM
//! config, stable IDs derived from the engine ID), and the list filters of moby's
//! `api/server/router/network/filter.go`: driver, id, label, name, scope, type
//! (custom/builtin), dangling.

use std::collections::HashMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Engine;
use crate::error::{Error, Result};

/// The networks every engine has and nobody creates or removes.
pub(crate) const PREDEFINED: [(&str, &str); 2] = [("host", "host"), ("none", "null")];

impl Engine {
    /// `docker network ls` with `filters` (Docker's JSON query value).
    pub fn list_networks(&self, filters: &str) -> Result<Vec<Value>> {
        let filters = crate::container::inspect::parse_filters(filters)?;
        validate(&filters)?;
        let mut all: Vec<Value> = self
            .net()?
            .list()
            .iter()
            .map(|n| self.network_json(n))
            .collect();
        all.extend(
            PREDEFINED
                .iter()
                .map(|(name, _)| self.predefined_json(name)),
        );
        Ok(all.into_iter().filter(|n| matches(n, &filters)).collect())
    }

    /// `docker network inspect`: by name, full ID or ID prefix.
    pub fn inspect_network(&self, name: &str) -> Result<Value> {
        for (p, _) in PREDEFINED {
            if name == p || (name.len() >= 3 && self.predefined_id(p).starts_with(name)) {
                return Ok(self.predefined_json(p));
            }
        }
        let n = self.net()?.get(name)?;
        Ok(self.network_json(&n))
    }

    fn predefined_id(&self, name: &str) -> String {
        hex::encode(Sha256::digest(format!("{}/{name}", self.engine_id())))
    }

    fn predefined_json(&self, name: &str) -> Value {
        let driver = PREDEFINED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| *d)
            .unwrap_or("null");
        let mut containers = serde_json::Map::new();
        for c in self.containers.all() {
            let r = c.rec();
            if r.state.running && r.host_config.network_mode == name {
                containers.insert(
                    r.id.clone(),
                    json!({"Name": r.name, "EndpointID": "", "MacAddress": "", "IPv4Address": "", "IPv6Address": ""}),
                );
            }
        }
        json!({
            "Name": name, "Id": self.predefined_id(name), "Created": crate::model::ZERO_TIME,
            "Scope": "local", "Driver": driver, "EnableIPv6": false, "Internal": false,
            "Attachable": false, "Ingress": false, "ConfigFrom": {"Network": ""},
            "ConfigOnly": false, "IPAM": {"Driver": "default", "Options": null, "Config": []},
            "Containers": containers, "Options": {}, "Labels": {},
        })
    }
}

const KEYS: [&str; 7] = ["dangling", "driver", "id", "label", "name", "scope", "type"];

fn validate(filters: &HashMap<String, Vec<String>>) -> Result<()> {
    for (k, vals) in filters {
        if !KEYS.contains(&k.as_str()) {
            return Err(Error::InvalidParameter(format!("invalid filter '{k}'")));
        }
        for v in vals {
            let ok = match k.as_str() {
                "type" => v == "custom" || v == "builtin",
                "dangling" => ["true", "false", "1", "0"].contains(&v.as_str()),
                _ => true,
            };
            if !ok {
                return Err(Error::InvalidParameter(format!(
                    "invalid filter: '{k}'='{v}'"
                )));
            }
        }
    }
    Ok(())
}

fn matches(n: &Value, filters: &HashMap<String, Vec<String>>) -> bool {
    let s = |k: &str| n.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let builtin = ["bridge", "host", "none"].contains(&s("Name"));
    filters
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .all(|(k, vals)| {
            match k.as_str() {
                // moby's Args.Match: the value as a pattern found anywhere (names are plain here)
                "name" => vals.iter().any(|v| s("Name").contains(v.as_str())),
                "id" => vals.iter().any(|v| s("Id").contains(v.as_str())),
                "driver" => vals.iter().any(|v| v == s("Driver")),
                "scope" => vals.iter().any(|v| v == s("Scope")),
                "type" => vals.iter().any(|v| (v == "builtin") == builtin),
                "dangling" => vals.iter().any(|v| {
                    let want = v == "true" || v == "1";
                    let unused = !builtin
                        && n.get("Containers")
                            .and_then(|c| c.as_object())
                            .is_none_or(|c| c.is_empty());
                    want == unused
                }),
                "label" => vals.iter().all(|v| {
                    let labels = n.get("Labels");
                    match v.split_once('=') {
                        Some((a, b)) => {
                            labels.and_then(|l| l.get(a)).and_then(|x| x.as_str()) == Some(b)
                        }
                        None => labels.and_then(|l| l.get(v.as_str())).is_some(),
                    }
                }),
                _ => true,
            }
        })
}
