//! The image-config side of instructions, as Docker's legacy builder applies them: ENV lists,
//! EXPOSE port specs, STOPSIGNAL, HEALTHCHECK durations, WORKDIR joining, and the
//! `#(nop)` history comments.

use std::collections::BTreeMap;

use berth_image::ContainerConfig;

/// Sets `key=value` in a Docker env list (replacing the first entry with that key).
pub fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env
        .iter_mut()
        .find(|e| e.split_once('=').map(|(k, _)| k) == Some(key) || *e == key)
    {
        Some(e) => *e = entry,
        None => env.push(entry),
    }
}

/// Looks `key` up in a Docker env list.
pub fn get_env<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter().find_map(|e| match e.split_once('=') {
        Some((k, v)) if k == key => Some(v),
        _ => None,
    })
}

/// Expands `EXPOSE` specs (`80`, `53/udp`, `8000-8010/tcp`) into `port/proto` keys.
pub fn parse_ports(specs: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for spec in specs {
        let (ports, proto) = match spec.split_once('/') {
            Some((p, proto)) => (p, proto.to_ascii_lowercase()),
            None => (spec.as_str(), "tcp".to_owned()),
        };
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(format!("Invalid proto: {proto}"));
        }
        let port = |s: &str| -> Result<u16, String> {
            s.parse::<u16>()
                .map_err(|_| format!("Invalid containerPort: {spec}"))
        };
        let (lo, hi) = match ports.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(ports)?, port(ports)?),
        };
        if hi < lo {
            return Err(format!("Invalid range specified for the Port: {ports}"));
        }
        for p in lo..=hi {
            out.push(format!("{p}/{proto}"));
        }
    }
    Ok(out)
}

const SIGNALS: &[(&str, i32)] = &[
    ("ABRT", 6),
    ("ALRM", 14),
    ("BUS", 7),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("FPE", 8),
    ("HUP", 1),
    ("ILL", 4),
    ("INT", 2),
    ("IO", 29),
    ("IOT", 6),
    ("KILL", 9),
    ("PIPE", 13),
    ("POLL", 29),
    ("PROF", 27),
    ("PWR", 30),
    ("QUIT", 3),
    ("SEGV", 11),
    ("STKFLT", 16),
    ("STOP", 19),
    ("SYS", 31),
    ("TERM", 15),
    ("TRAP", 5),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("USR1", 10),
    ("USR2", 12),
    ("VTALRM", 26),
    ("WINCH", 28),
    ("XCPU", 24),
    ("XFSZ", 25),
];

/// Validates a `STOPSIGNAL` value (name with or without `SIG`, `RTMIN+n`, or a number).
pub fn check_signal(s: &str) -> Result<(), String> {
    let bad = || format!("Invalid signal: {s}");
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(())
        } else {
            Err(bad())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.iter().any(|(n, _)| *n == name) {
        return Ok(());
    }
    for (base, max) in [("RTMIN+", 30), ("RTMAX-", 30)] {
        if let Some(n) = name.strip_prefix(base).and_then(|n| n.parse::<i32>().ok())
            && (0..=max).contains(&n)
        {
            return Ok(());
        }
    }
    if name == "RTMIN" || name == "RTMAX" {
        return Ok(());
    }
    Err(bad())
}

/// Parses a Go duration (`30s`, `1m30s`, `500ms`, `1.5h`) into nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration {s:?}");
    if s == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_end == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Ok(total as i64)
}

/// A `HEALTHCHECK` duration flag: zero or at least 1ms.
pub fn health_duration(flag: &str, v: &Option<String>) -> Result<i64, String> {
    let Some(v) = v else { return Ok(0) };
    let d = parse_duration(v)?;
    if d != 0 && d < 1_000_000 {
        return Err(format!("Interval {flag} cannot be less than 1ms"));
    }
    if d < 0 {
        return Err(format!("Interval {flag} cannot be negative"));
    }
    Ok(d)
}

/// `WORKDIR` relative to the previous one, cleaned.
pub fn join_workdir(current: Option<&str>, new: &str) -> String {
    let joined = if new.starts_with('/') {
        new.to_owned()
    } else {
        format!("/{}/{new}", current.unwrap_or(""))
    };
    crate::dockerignore::clean(&joined)
}

/// Go's `%q` of a string slice: `["a" "b"]`.
pub fn go_quoted(items: &[String]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", parts.join(" "))
}

/// The shell used for shell-form commands and `#(nop)` comments.
pub fn shell_of(cfg: &ContainerConfig) -> Vec<String> {
    cfg.shell
        .clone()
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

/// `created_by` of a metadata step: `/bin/sh -c #(nop)  ENV A=1`.
pub fn nop_comment(cfg: &ContainerConfig, comment: &str) -> String {
    format!("{} #(nop)  {comment}", shell_of(cfg).join(" "))
}

/// The healthcheck config as Docker stores it (zero durations omitted).
pub fn healthcheck_json(
    test: Vec<String>,
    durations: [(&str, i64); 4],
    retries: i64,
) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("Test".into(), serde_json::json!(test));
    for (k, v) in durations {
        if v != 0 {
            m.insert(k.into(), serde_json::json!(v));
        }
    }
    if retries != 0 {
        m.insert("Retries".into(), serde_json::json!(retries));
    }
    serde_json::Value::Object(m)
}

/// Adds labels to a config.
pub fn add_labels(cfg: &mut ContainerConfig, labels: &[(String, String)]) {
    let map = cfg.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in labels {
        map.insert(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_replaces_in_place() {
        let mut env = vec!["PATH=/bin".to_owned(), "A=1".to_owned()];
        set_env(&mut env, "A", "2");
        set_env(&mut env, "B", "x=y");
        assert_eq!(env, vec!["PATH=/bin", "A=2", "B=x=y"]);
        assert_eq!(get_env(&env, "B"), Some("x=y"));
    }

    #[test]
    fn ports_follow_docker() {
        assert_eq!(
            parse_ports(&["80".into(), "53/UDP".into(), "8000-8002".into()]).unwrap(),
            vec!["80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert_eq!(
            parse_ports(&["http".into()]).unwrap_err(),
            "Invalid containerPort: http"
        );
        assert_eq!(
            parse_ports(&["80/xyz".into()]).unwrap_err(),
            "Invalid proto: xyz"
        );
        assert!(parse_ports(&["10-5".into()]).is_err());
    }

    #[test]
    fn signals_and_durations() {
        for ok in ["SIGTERM", "term", "9", "SIGRTMIN+3", "QUIT"] {
            check_signal(ok).unwrap();
        }
        assert_eq!(
            check_signal("SIGFOO").unwrap_err(),
            "Invalid signal: SIGFOO"
        );
        assert!(check_signal("99").is_err());
        assert_eq!(parse_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration("500ms").unwrap(), 500_000_000);
        assert_eq!(parse_duration("1.5h").unwrap(), 5_400_000_000_000);
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(health_duration("--interval", &Some("10us".into())).is_err());
    }

    #[test]
    fn workdir_and_comments() {
        assert_eq!(join_workdir(None, "a"), "/a");
        assert_eq!(join_workdir(Some("/a"), "b/../c"), "/a/c");
        assert_eq!(join_workdir(Some("/a"), "/x/"), "/x");
        assert_eq!(
            go_quoted(&["nginx".into(), "-g".into(), "daemon off;".into()]),
            r#"["nginx" "-g" "daemon off;"]"#
        );
        let cfg = ContainerConfig::default();
        assert_eq!(nop_comment(&cfg, "ENV A=1"), "/bin/sh -c #(nop)  ENV A=1");
    }
}
