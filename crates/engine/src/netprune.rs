//! `POST /networks/prune`: removes user-defined networks no container is attached to, with
//! Docker's `label`, `label!` and `until` filters.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use crate::Engine;
use crate::container::inspect::parse_filters;
use crate::error::{Error, Result};

/// Docker's `until`: a Unix timestamp, an RFC 3339 time, or a duration back from now (`24h`).
pub fn parse_until(
    s: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>> {
    let bad = || Error::InvalidParameter(format!("invalid until filter value: {s}"));
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    if let Ok(secs) = s.parse::<f64>() {
        let whole = secs.trunc() as i64;
        let nanos = (secs.fract() * 1e9) as u32;
        return chrono::DateTime::from_timestamp(whole, nanos).ok_or_else(bad);
    }
    // a Go duration: one or more <number><unit> groups
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut groups = 0;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push('s');
            chars.next();
        }
        let scale = match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            _ => return Err(bad()),
        };
        let n: f64 = num.parse().map_err(|_| bad())?;
        total += n * scale;
        num.clear();
        groups += 1;
    }
    if groups == 0 || !num.is_empty() {
        return Err(bad());
    }
    let d = chrono::Duration::milliseconds((total * 1000.0) as i64);
    now.checked_sub_signed(d).ok_or_else(bad)
}

/// Whether `labels` pass every `label` (`key` or `key=value`) and no `label!` filter.
pub fn labels_match(
    labels: &BTreeMap<String, String>,
    filters: &HashMap<String, Vec<String>>,
) -> bool {
    let has = |f: &str| match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(f),
    };
    let want = filters.get("label").into_iter().flatten().all(|f| has(f));
    let refuse = filters.get("label!").into_iter().flatten().any(|f| has(f));
    want && !refuse
}

impl Engine {
    /// Removes the unused user-defined networks passing `filters`; answers Docker's
    /// `{"NetworksDeleted": [...]}`.
    pub async fn prune_networks(&self, filters: &str) -> Result<Value> {
        let filters = parse_filters(filters)?;
        for k in filters.keys() {
            if !matches!(k.as_str(), "label" | "label!" | "until") {
                return Err(Error::InvalidParameter(format!("invalid filter '{k}'")));
            }
        }
        let now = chrono::Utc::now();
        let until = filters
            .get("until")
            .into_iter()
            .flatten()
            .map(|u| parse_until(u, now))
            .collect::<Result<Vec<_>>>()?;
        let mut deleted = vec![];
        let net = self.net()?;
        self.undo_all_prelaunches().await;
        for n in net.list() {
            if n.default || !labels_match(&n.labels, &filters) {
                continue;
            }
            if !until.is_empty() {
                let created = chrono::DateTime::parse_from_rfc3339(&n.created)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .ok();
                if !created.is_some_and(|c| until.iter().all(|u| c < *u)) {
                    continue;
                }
            }
            if !net.endpoints(&n.id)?.is_empty() {
                continue;
            }
            // a container may join between the check and the removal: the manager then refuses
            if self.remove_network(&n.id).await.is_ok() {
                deleted.push(n.name);
            }
        }
        self.events.publish(
            "network",
            "prune",
            "",
            [("reclaimed".to_string(), "0".to_string())].into(),
        );
        Ok(json!({ "NetworksDeleted": deleted }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_accepts_docker_forms_and_rejects_garbage() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-02T00:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        assert_eq!(
            parse_until("24h", now).expect("24h").to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_until("1h30m", now).expect("1h30m").to_rfc3339(),
            "2026-01-01T22:30:00+00:00"
        );
        assert_eq!(parse_until("0", now).expect("0").timestamp(), 0);
        assert!(parse_until("2026-01-01T00:00:00Z", now).is_ok());
        for bad in ["", "h", "5x", "1h5", "-"] {
            assert!(parse_until(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_filter_like_docker() {
        let labels: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
        let f = |k: &str, v: &str| -> HashMap<String, Vec<String>> {
            [(k.to_string(), vec![v.to_string()])].into()
        };
        assert!(labels_match(&labels, &f("label", "a")));
        assert!(labels_match(&labels, &f("label", "a=1")));
        assert!(!labels_match(&labels, &f("label", "a=2")));
        assert!(!labels_match(&labels, &f("label!", "a")));
        assert!(labels_match(&labels, &f("label!", "b")));
    }
}
