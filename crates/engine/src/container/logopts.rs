//! `HostConfig.LogConfig`: checked at create as moby's `ValidateLogOpts` and json-file's `New`
//! do (drivers `json-file` and `none`), and turned into the monitor's [`LogSpec`] at start,
//! with the `attrs` of every entry (`labels`, `labels-regex`, `env`, `env-regex`, `tag`).

use serde_json::{Map, Value};

use super::record::ContainerRecord;
use crate::error::{Error, Result};
use crate::model::LogConfig;
use crate::monitor::protocol::LogSpec;

/// go-units `FromHumanSize`: decimal multiples (`10k` = 10000), optional `b`/`ib` after the unit.
fn from_human_size(s: &str) -> std::result::Result<i64, String> {
    let invalid = || format!("invalid size: '{s}'");
    let Some(sep) = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(invalid());
    };
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let size: f64 = num
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing \"{num}\": invalid syntax"))?;
    if size < 0.0 || !size.is_finite() {
        return Err(invalid());
    }
    if sfx.is_empty() {
        return Ok(size as i64);
    }
    let bad = || format!("invalid suffix: '{}'", sfx.to_lowercase());
    let l = sfx.to_lowercase();
    if l.len() > 3 {
        return Err(bad());
    }
    if l == "b" {
        return Ok(size as i64);
    }
    let mul: f64 = match l.as_bytes()[0] {
        b'k' => 1e3,
        b'm' => 1e6,
        b'g' => 1e9,
        b't' => 1e12,
        b'p' => 1e15,
        _ => return Err(bad()),
    };
    if (l.len() == 2 && &l[1..] != "b") || (l.len() == 3 && &l[1..] != "ib") {
        return Err(bad());
    }
    Ok((size * mul) as i64)
}

/// Validates `LogConfig` as moby's `ValidateLogOpts` and json-file's `New` do, and turns it into
/// what the monitor applies. An empty type means the default, `json-file`.
pub fn log_spec(cfg: &LogConfig) -> Result<LogSpec> {
    let bad = |m: String| Error::InvalidParameter(m);
    let mut spec = LogSpec {
        max_file: 1,
        ..Default::default()
    };
    match cfg.kind.as_str() {
        "none" => {
            spec.none = true;
            return Ok(spec);
        }
        "" | "json-file" => {}
        other => {
            return Err(bad(format!(
                "logger: no log driver named '{other}' is registered"
            )));
        }
    }
    for key in cfg.config.keys() {
        match key.as_str() {
            "max-file" | "max-size" | "compress" | "labels" | "labels-regex" | "env"
            | "env-regex" | "tag" | "mode" | "max-buffer-size" => {}
            other => {
                return Err(bad(format!(
                    "unknown log opt '{other}' for json-file log driver"
                )));
            }
        }
    }
    if let Some(mode) = cfg.config.get("mode")
        && !["", "blocking", "non-blocking"].contains(&mode.as_str())
    {
        return Err(bad(format!("logger: logging mode not supported: {mode}")));
    }
    if let Some(v) = cfg.config.get("max-size") {
        let n = from_human_size(v).map_err(bad)?;
        if n <= 0 {
            return Err(bad("max-size must be a positive number".into()));
        }
        spec.max_size = Some(n as u64);
    }
    if let Some(v) = cfg.config.get("max-file") {
        let n: i64 = v
            .parse()
            .map_err(|_| bad(format!("strconv.Atoi: parsing \"{v}\": invalid syntax")))?;
        if n < 1 {
            return Err(bad("max-file cannot be less than 1".into()));
        }
        spec.max_file = u32::try_from(n).map_err(|_| bad(format!("max-file {v} is too large")))?;
    }
    if let Some(v) = cfg.config.get("compress") {
        spec.compress = match v.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
            "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
            _ => {
                return Err(bad(format!(
                    "strconv.ParseBool: parsing \"{v}\": invalid syntax"
                )));
            }
        };
        if spec.compress && (spec.max_file == 1 || spec.max_size.is_none()) {
            return Err(bad(
                "compress cannot be true when max-file is less than 2 or max-size is not set"
                    .into(),
            ));
        }
    }
    check_attrs(cfg)?;
    Ok(spec)
}

/// moby's `ParseLogTag` for the placeholders Docker documents (`{{.ID}}`, `{{.FullID}}`,
/// `{{.Name}}`, `{{.ImageID}}`, `{{.ImageFullID}}`, `{{.ImageName}}`, `{{.DaemonName}}`,
/// `{{.Command}}`); `None` checks the template only.
fn render_tag(tag: &str, rec: Option<&ContainerRecord>) -> Result<String> {
    let mut out = String::new();
    let mut rest = tag;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find("}}") else {
            return Err(Error::InvalidParameter(format!(
                "template: log-tag:1: unclosed action in {tag:?}"
            )));
        };
        let field = rest[open + 2..open + close].trim();
        let image_id = |r: &ContainerRecord| {
            r.image_id
                .strip_prefix("sha256:")
                .unwrap_or(&r.image_id)
                .to_string()
        };
        let v = match (field, rec) {
            (
                ".ID" | ".FullID" | ".Name" | ".ImageID" | ".ImageFullID" | ".ImageName"
                | ".DaemonName" | ".Command",
                None,
            ) => String::new(),
            (".ID", Some(r)) => r.id[..12.min(r.id.len())].to_string(),
            (".FullID", Some(r)) => r.id.clone(),
            (".Name", Some(r)) => r.name.clone(),
            (".ImageID", Some(r)) => image_id(r).chars().take(12).collect(),
            (".ImageFullID", Some(r)) => image_id(r),
            (".ImageName", Some(r)) => r.image.clone(),
            (".DaemonName", Some(_)) => "docker".into(),
            (".Command", Some(r)) => {
                let mut c = vec![r.path.clone()];
                c.extend(r.args.iter().cloned());
                c.join(" ")
            }
            (other, _) => {
                return Err(Error::InvalidParameter(format!(
                    "template: log-tag:1: can't evaluate field {} in log tag {tag:?}",
                    other.trim_start_matches('.')
                )));
            }
        };
        out.push_str(&v);
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn compile(re: &str) -> Result<regex::Regex> {
    regex::Regex::new(re)
        .map_err(|e| Error::InvalidParameter(format!("error parsing regexp {re:?}: {e}")))
}

/// Checks what only a container can tell (regexes, the tag template) at create.
pub fn check_attrs(cfg: &LogConfig) -> Result<()> {
    for k in ["labels-regex", "env-regex"] {
        if let Some(re) = cfg.config.get(k).filter(|r| !r.is_empty()) {
            compile(re)?;
        }
    }
    if let Some(t) = cfg.config.get("tag") {
        render_tag(t, None)?;
    }
    Ok(())
}

/// moby's `Info.ExtraAttributes` plus the tag: the `attrs` of every log entry.
fn attrs(rec: &ContainerRecord) -> Result<Option<Map<String, Value>>> {
    let cfg = &rec.host_config.log_config.config;
    let labels = &rec.config.labels;
    let env: Vec<(&str, &str)> = rec
        .config
        .env
        .iter()
        .filter_map(|e| e.split_once('='))
        .collect();
    let mut out = Map::new();
    for l in cfg.get("labels").into_iter().flat_map(|v| v.split(',')) {
        if let Some(v) = labels.get(l) {
            out.insert(l.to_string(), Value::String(v.clone()));
        }
    }
    if let Some(re) = cfg.get("labels-regex").filter(|r| !r.is_empty()) {
        let re = compile(re)?;
        for (k, v) in labels.iter().filter(|(k, _)| re.is_match(k)) {
            out.insert(k.clone(), Value::String(v.clone()));
        }
    }
    for name in cfg.get("env").into_iter().flat_map(|v| v.split(',')) {
        if let Some((k, v)) = env.iter().rev().find(|(k, _)| *k == name) {
            out.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    if let Some(re) = cfg.get("env-regex").filter(|r| !r.is_empty()) {
        let re = compile(re)?;
        for (k, v) in env.iter().filter(|(k, _)| re.is_match(k)) {
            out.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    if let Some(t) = cfg.get("tag") {
        let tag = render_tag(t, Some(rec))?;
        if !tag.is_empty() {
            out.insert("tag".into(), Value::String(tag));
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// What the monitor of this container applies: rotation and the entries' `attrs`.
pub fn monitor_spec(rec: &ContainerRecord) -> Result<LogSpec> {
    let mut spec = log_spec(&rec.host_config.log_config)?;
    if !spec.none {
        spec.attrs = attrs(rec)?;
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_parse_as_go_units_does() {
        assert_eq!(from_human_size("10k"), Ok(10_000));
        assert_eq!(from_human_size("1.5MB"), Ok(1_500_000));
        assert_eq!(from_human_size("2 KiB"), Ok(2_000));
        assert_eq!(from_human_size("42"), Ok(42));
        assert_eq!(from_human_size("abc"), Err("invalid size: 'abc'".into()));
        assert_eq!(from_human_size("1kx"), Err("invalid suffix: 'kx'".into()));
    }

    #[test]
    fn tag_templates_render_dockers_fields() {
        assert!(render_tag("{{.Name}}/{{.ID}}", None).is_ok());
        assert!(render_tag("{{.Nope}}", None).is_err());
        assert!(render_tag("{{.Name", None).is_err());
        assert_eq!(render_tag("plain", None).unwrap(), "plain");
    }

    #[test]
    fn log_config_becomes_the_monitors_spec() {
        let cfg = |kind: &str, opts: &[(&str, &str)]| LogConfig {
            kind: kind.into(),
            config: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let s = log_spec(&cfg("json-file", &[("max-size", "1m"), ("max-file", "3")])).unwrap();
        assert_eq!(
            (s.max_size, s.max_file, s.none),
            (Some(1_000_000), 3, false)
        );
        assert!(log_spec(&cfg("none", &[])).unwrap().none);
        assert!(log_spec(&cfg("", &[])).unwrap().max_size.is_none());
        assert!(log_spec(&cfg("json-file", &[("max-file", "0")])).is_err());
    }
}
