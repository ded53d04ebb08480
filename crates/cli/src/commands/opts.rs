//! Parsing Docker's option syntaxes (`-p`, `-v`, `--mount`, `--ulimit`, `--restart`, env files,
//! durations) into API fields, with Docker's error wording where users meet it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;

use crate::types::{Mount, PortBinding, RestartPolicy, Ulimit};

/// `-e VAR` without `=` takes the value from our own environment, as Docker does.
pub fn env_value(spec: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    if spec.contains('=') {
        return spec.to_string();
    }
    match lookup(spec) {
        Some(v) => format!("{spec}={v}"),
        None => spec.to_string(),
    }
}

/// Reads an `--env-file` / `--label-file`: one entry a line, `#` comments and blanks skipped.
pub fn read_kv_file(path: &Path, lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("open {}: no such file or directory", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('=') {
            bail!(
                "invalid environment variable: {line} (line {} of {})",
                n + 1,
                path.display()
            );
        }
        out.push(env_value(line, &lookup));
    }
    Ok(out)
}

/// `k=v` / `k` labels into a map.
pub fn labels(specs: &[String]) -> BTreeMap<String, String> {
    specs
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn port_range(s: &str) -> Result<(u16, u16)> {
    let parse = |p: &str| -> Result<u16> {
        p.parse::<u16>()
            .map_err(|_| anyhow!("invalid containerPort: {s}"))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if b < a {
                bail!("invalid range specified for port: {s}");
            }
            Ok((a, b))
        }
        None => {
            let p = parse(s)?;
            Ok((p, p))
        }
    }
}

/// One `-p` spec into `(container port "80/tcp", binding)` pairs.
pub fn publish(spec: &str) -> Result<Vec<(String, PortBinding)>> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        bail!("invalid proto: {proto}");
    }
    // The IP may be a bracketed IPv6 address containing colons.
    let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, r) = r
            .split_once("]:")
            .ok_or_else(|| anyhow!("invalid IP address in {spec}"))?;
        (ip.to_string(), r.to_string())
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), rest.to_string()),
            3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
            _ => bail!("invalid port format: {spec}"),
        }
    };
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h.to_string(), c.to_string()),
        None => (String::new(), rest.clone()),
    };
    if container.is_empty() {
        bail!("no port specified: {spec}<empty>");
    }
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        bail!("invalid IP address: {ip}");
    }
    let (c0, c1) = port_range(&container)?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(port_range(&host)?)
    };
    let mut out = Vec::new();
    for (i, cp) in (c0..=c1).enumerate() {
        let host_port = match host_range {
            None => String::new(),
            Some((h0, h1)) if h1 - h0 == c1 - c0 => (h0 + i as u16).to_string(),
            Some((h0, h1)) if h0 == h1 => h0.to_string(),
            Some((h0, h1)) => format!("{h0}-{h1}"),
        };
        out.push((
            format!("{cp}/{proto}"),
            PortBinding {
                host_ip: ip.clone(),
                host_port,
            },
        ));
    }
    Ok(out)
}

/// What a `-v` spec becomes: an anonymous volume at a path, or a bind/named-volume string.
#[derive(Debug, PartialEq, Eq)]
pub enum VolumeSpec {
    Anonymous(String),
    Bind(String),
}

pub fn volume(spec: &str) -> Result<VolumeSpec> {
    let parts: Vec<&str> = spec.split(':').collect();
    let target = match parts.len() {
        1 => parts[0],
        2 | 3 => parts[1],
        _ => bail!("invalid volume specification: '{spec}'"),
    };
    if target.is_empty() || parts.iter().any(|p| p.is_empty()) {
        bail!("invalid volume specification: '{spec}'");
    }
    if !target.starts_with('/') {
        bail!(
            "invalid volume specification: '{spec}': invalid mount config for type \"volume\": invalid mount path: '{target}' mount path must be absolute"
        );
    }
    if parts.len() == 3 {
        for mode in parts[2].split(',') {
            if ![
                "ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private",
                "rprivate",
            ]
            .contains(&mode)
            {
                bail!("invalid mode: {mode}");
            }
        }
    }
    Ok(if parts.len() == 1 {
        VolumeSpec::Anonymous(target.to_string())
    } else {
        VolumeSpec::Bind(spec.to_string())
    })
}

fn truthy(v: &str) -> Result<bool> {
    match v {
        "" | "1" | "true" | "True" | "TRUE" => Ok(true),
        "0" | "false" | "False" | "FALSE" => Ok(false),
        _ => bail!("invalid value for boolean: {v}"),
    }
}

/// One `--mount type=...,source=...,target=...` spec.
pub fn mount(spec: &str) -> Result<Mount> {
    let mut m = Mount {
        kind: "volume".into(),
        ..Default::default()
    };
    let mut bind = serde_json::Map::new();
    let mut vol = serde_json::Map::new();
    let mut tmpfs = serde_json::Map::new();
    let mut vol_labels = serde_json::Map::new();
    let mut driver_opts = serde_json::Map::new();
    for field in spec.split(',') {
        let (k, v) = field
            .split_once('=')
            .map_or((field, None), |(k, v)| (k, Some(v)));
        let val = || v.ok_or_else(|| anyhow!("invalid field '{field}' must be a key=value pair"));
        match k.to_lowercase().as_str() {
            "type" => m.kind = val()?.to_string(),
            "source" | "src" => m.source = val()?.to_string(),
            "target" | "destination" | "dst" => m.target = val()?.to_string(),
            "readonly" | "ro" => m.read_only = truthy(v.unwrap_or(""))?,
            "bind-propagation" => {
                bind.insert("Propagation".into(), json!(val()?));
            }
            "bind-nonrecursive" => {
                bind.insert("NonRecursive".into(), json!(truthy(v.unwrap_or(""))?));
            }
            "volume-nocopy" => {
                vol.insert("NoCopy".into(), json!(truthy(v.unwrap_or(""))?));
            }
            "volume-label" => {
                let (lk, lv) = val()?.split_once('=').unwrap_or((val()?, ""));
                vol_labels.insert(lk.into(), json!(lv));
            }
            "volume-driver" => {
                vol.insert("DriverConfig".into(), json!({"Name": val()?}));
            }
            "volume-opt" => {
                let (ok, ov) = val()?.split_once('=').unwrap_or((val()?, ""));
                driver_opts.insert(ok.into(), json!(ov));
            }
            "tmpfs-size" => {
                let size = crate::render::human::ram_in_bytes(val()?).map_err(|e| anyhow!(e))?;
                tmpfs.insert("SizeBytes".into(), json!(size));
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(val()?, 8).map_err(|_| {
                    anyhow!("invalid value for tmpfs-mode: {}", val().unwrap_or(""))
                })?;
                tmpfs.insert("Mode".into(), json!(mode));
            }
            _ => bail!("unexpected key '{k}' in '{field}'"),
        }
    }
    if !["bind", "volume", "tmpfs"].contains(&m.kind.as_str()) {
        bail!(
            "invalid argument \"{spec}\" for \"--mount\" flag: invalid type '{}'",
            m.kind
        );
    }
    if m.target.is_empty() {
        bail!("invalid argument \"{spec}\" for \"--mount\" flag: target is required");
    }
    if m.kind == "bind" && m.source.is_empty() {
        bail!(
            "invalid argument \"{spec}\" for \"--mount\" flag: source is required when specifying bind mounts"
        );
    }
    if !vol_labels.is_empty() {
        vol.insert("Labels".into(), serde_json::Value::Object(vol_labels));
    }
    if !driver_opts.is_empty() {
        let dc = vol
            .entry("DriverConfig")
            .or_insert(json!({"Name": "local"}));
        dc["Options"] = serde_json::Value::Object(driver_opts);
    }
    m.bind_options = (!bind.is_empty()).then_some(serde_json::Value::Object(bind));
    m.volume_options = (!vol.is_empty()).then_some(serde_json::Value::Object(vol));
    m.tmpfs_options = (!tmpfs.is_empty()).then_some(serde_json::Value::Object(tmpfs));
    Ok(m)
}

/// `--ulimit nofile=1024:2048`.
pub fn ulimit(spec: &str) -> Result<Ulimit> {
    let (name, limits) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("invalid ulimit argument: {spec}"))?;
    let num = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| anyhow!("invalid ulimit argument: {spec}"))
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (num(s)?, num(h)?),
        None => (num(limits)?, num(limits)?),
    };
    if soft > hard && hard != -1 {
        bail!("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}");
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// `--restart no|always|unless-stopped|on-failure[:N]`.
pub fn restart(spec: &str) -> Result<RestartPolicy> {
    let (name, count) = match spec.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (spec, None),
    };
    match (name, count) {
        ("no" | "always" | "unless-stopped" | "", None) => Ok(RestartPolicy {
            name: if name.is_empty() {
                "no".into()
            } else {
                name.into()
            },
            maximum_retry_count: 0,
        }),
        ("on-failure", c) => Ok(RestartPolicy {
            name: name.into(),
            maximum_retry_count: match c {
                Some(c) => c
                    .parse()
                    .map_err(|_| anyhow!("maximum retry count must be an integer"))?,
                None => 0,
            },
        }),
        ("no" | "always" | "unless-stopped", Some(_)) => {
            bail!(
                "invalid restart policy format: maximum retry count can only be used with 'on-failure'"
            )
        }
        _ => bail!(
            "invalid restart policy format: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        ),
    }
}

/// Go's `time.ParseDuration` into nanoseconds (`1m30s`, `500ms`, `2h`).
pub fn duration_ns(s: &str) -> Result<i64> {
    let bad = || anyhow!("time: invalid duration \"{s}\"");
    if s == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..n_end].parse().map_err(|_| bad())?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += n * unit;
        rest = &rest[u_end..];
    }
    Ok(total as i64)
}

/// `--add-host name:ip` (Docker also accepts `name=ip`).
pub fn add_host(spec: &str) -> Result<String> {
    let (host, ip) = spec
        .split_once('=')
        .or_else(|| spec.split_once(':'))
        .ok_or_else(|| anyhow!("bad format for add-host: \"{spec}\""))?;
    if host.is_empty()
        || (ip != "host-gateway"
            && ip
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_err())
    {
        bail!("invalid IP address in add-host: \"{ip}\"");
    }
    Ok(format!("{host}:{}", ip.trim_matches(['[', ']'])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pb(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn publish_specs() {
        assert_eq!(publish("80").unwrap(), [("80/tcp".into(), pb("", ""))]);
        assert_eq!(
            publish("8080:80").unwrap(),
            [("80/tcp".into(), pb("", "8080"))]
        );
        assert_eq!(
            publish("127.0.0.1:8080:80/udp").unwrap(),
            [("80/udp".into(), pb("127.0.0.1", "8080"))]
        );
        assert_eq!(
            publish("127.0.0.1::80").unwrap(),
            [("80/tcp".into(), pb("127.0.0.1", ""))]
        );
        assert_eq!(
            publish("[::1]:9000:90").unwrap(),
            [("90/tcp".into(), pb("::1", "9000"))]
        );
        assert_eq!(
            publish("8000-8001:80-81").unwrap(),
            [
                ("80/tcp".into(), pb("", "8000")),
                ("81/tcp".into(), pb("", "8001"))
            ]
        );
        assert!(publish("abc").is_err());
        assert!(publish("80/xyz").is_err());
        assert!(publish("999999:80").is_err());
        assert!(publish("1.2.3:80:80").is_err());
    }

    #[test]
    fn volume_specs() {
        assert_eq!(
            volume("/data").unwrap(),
            VolumeSpec::Anonymous("/data".into())
        );
        assert_eq!(
            volume("vol:/data").unwrap(),
            VolumeSpec::Bind("vol:/data".into())
        );
        assert_eq!(
            volume("/h:/c:ro").unwrap(),
            VolumeSpec::Bind("/h:/c:ro".into())
        );
        assert!(volume("relative").is_err());
        assert!(volume("/h:/c:bogus").is_err());
        assert!(volume("a:b:c:d").is_err());
    }

    #[test]
    fn mount_specs() {
        let m = mount("type=bind,source=/h,target=/c,readonly").unwrap();
        assert_eq!(
            (
                m.kind.as_str(),
                m.source.as_str(),
                m.target.as_str(),
                m.read_only
            ),
            ("bind", "/h", "/c", true)
        );
        let m = mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        assert_eq!(
            m.tmpfs_options.unwrap(),
            json!({"SizeBytes": 67108864, "Mode": 1016})
        );
        let m = mount("src=v,dst=/d,volume-opt=type=tmpfs").unwrap();
        assert_eq!(m.kind, "volume");
        assert_eq!(
            m.volume_options.unwrap()["DriverConfig"]["Options"]["type"],
            "tmpfs"
        );
        assert!(mount("type=bind,target=/c").is_err());
        assert!(mount("type=weird,target=/c").is_err());
        assert!(mount("source=/x").is_err());
        assert!(mount("type=bind,src=/a,dst=/b,frob=1").is_err());
    }

    #[test]
    fn ulimits_restart_durations_hosts() {
        assert_eq!(
            ulimit("nofile=1024:2048").unwrap(),
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            }
        );
        assert_eq!(ulimit("nproc=5").unwrap().hard, 5);
        assert!(ulimit("nofile=9:1").is_err());
        assert!(ulimit("nofile").is_err());
        assert_eq!(restart("on-failure:3").unwrap().maximum_retry_count, 3);
        assert_eq!(restart("always").unwrap().name, "always");
        assert!(restart("sometimes").is_err());
        assert!(restart("always:3").is_err());
        assert_eq!(duration_ns("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration_ns("500ms").unwrap(), 500_000_000);
        assert!(duration_ns("10").is_err());
        assert!(duration_ns("3x").is_err());
        assert_eq!(add_host("db:10.0.0.2").unwrap(), "db:10.0.0.2");
        assert!(add_host("db:nope").is_err());
    }

    #[test]
    fn env_values_and_files() {
        let lookup = |k: &str| (k == "HOME").then(|| "/root".to_string());
        assert_eq!(env_value("A=1", lookup), "A=1");
        assert_eq!(env_value("HOME", lookup), "HOME=/root");
        assert_eq!(env_value("UNSET", lookup), "UNSET");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("env");
        std::fs::write(&p, "# comment\nA=1\n\n  B=two words\nHOME\n").unwrap();
        assert_eq!(
            read_kv_file(&p, lookup).unwrap(),
            ["A=1", "B=two words", "HOME=/root"]
        );
        std::fs::write(&p, "=bad\n").unwrap();
        assert!(read_kv_file(&p, lookup).is_err());
        assert!(read_kv_file(&dir.path().join("missing"), lookup).is_err());
    }
}
