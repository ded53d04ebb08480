//! Query-string helpers with moby's rules (`1`, `true`, `yes` are true; empty, `0`, `false`,
//! `no`, `none` are false).

use std::collections::HashMap;

use crate::error::ApiError;

pub type Q = HashMap<String, String>;

pub fn flag(q: &Q, key: &str) -> bool {
    q.get(key).is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        !(v.is_empty() || v == "0" || v == "false" || v == "no" || v == "none")
    })
}

pub fn int(q: &Q, key: &str) -> Result<Option<i64>, ApiError> {
    match q.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}"))),
    }
}

pub fn str<'a>(q: &'a Q, key: &str) -> &'a str {
    q.get(key).map(String::as_str).unwrap_or("")
}

/// A Docker timestamp parameter: Unix seconds (`1700000000.5`) or RFC 3339.
pub fn time(q: &Q, key: &str) -> Result<f64, ApiError> {
    let v = str(q, key);
    if v.is_empty() {
        return Ok(0.0);
    }
    if let Ok(f) = v.parse::<f64>() {
        return Ok(f);
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp() as f64 + t.timestamp_subsec_nanos() as f64 / 1e9)
        .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}")))
}

/// The `h` and `w` of a resize (0 when absent): rows and columns of a terminal.
pub fn terminal_size(q: &Q) -> Result<(u16, u16), ApiError> {
    let h = int(q, "h")?.unwrap_or(0);
    let w = int(q, "w")?.unwrap_or(0);
    match (u16::try_from(h), u16::try_from(w)) {
        (Ok(h), Ok(w)) => Ok((h, w)),
        _ => Err(ApiError::bad_request("invalid terminal size")),
    }
}
