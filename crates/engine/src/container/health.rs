//! Health checks: `Config.Healthcheck` (from the request or the image) run as an exec in the
//! container at each interval, Docker's `State.Health` (status, failing streak, the last five
//! results) and its `health_status: ...` events. One task per running container; it ends when the
//! container exits.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::monitor_client;
use super::record::Container;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::exec::ExecConfig;
use crate::monitor::protocol::Request;

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
/// Docker keeps the last five results and 4 KiB of each one's output.
const MAX_LOG: usize = 5;
const MAX_OUTPUT: usize = 4096;
const MIN_DURATION_NS: i64 = 1_000_000;
/// How long a probe killed at its timeout may take to be gone before the check moves on.
const PROBE_KILL_WAIT: Duration = Duration::from_secs(10);

/// `State.Health` in container inspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<HealthResult>,
}

/// One probe's result.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// A parsed `Healthcheck` that runs (not `NONE`).
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub cmd: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: i64,
}

fn duration_field(v: &Value, key: &str) -> Result<i64> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(x) => {
            let n = x.as_i64().ok_or_else(|| {
                Error::InvalidParameter(format!("Healthcheck {key} must be an integer"))
            })?;
            if n != 0 && n < MIN_DURATION_NS {
                return Err(Error::InvalidParameter(format!(
                    "{key} in Healthcheck cannot be less than 1ms"
                )));
            }
            Ok(n)
        }
    }
}

fn or_default(ns: i64, d: Duration) -> Duration {
    if ns > 0 {
        Duration::from_nanos(ns as u64)
    } else {
        d
    }
}

/// The check to run for a container's `Config.Healthcheck`, `None` when there is none or it is
/// `["NONE"]`; Docker's messages for bad values.
pub fn parse(hc: Option<&Value>, shell: &[String]) -> Result<Option<Check>> {
    let Some(v) = hc.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    if !v.is_object() {
        return Err(Error::InvalidParameter(
            "Healthcheck must be an object".into(),
        ));
    }
    let test: Vec<String> = match v.get("Test") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str().map(str::to_owned).ok_or_else(|| {
                    Error::InvalidParameter("Healthcheck Test must be a list of strings".into())
                })
            })
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(Error::InvalidParameter(
                "Healthcheck Test must be a list of strings".into(),
            ));
        }
    };
    let interval = duration_field(v, "Interval")?;
    let timeout = duration_field(v, "Timeout")?;
    let start_period = duration_field(v, "StartPeriod")?;
    let start_interval = duration_field(v, "StartInterval")?;
    let retries = match v.get("Retries") {
        None | Some(Value::Null) => 0,
        Some(x) => x.as_i64().ok_or_else(|| {
            Error::InvalidParameter("Healthcheck Retries must be an integer".into())
        })?,
    };
    if retries < 0 {
        return Err(Error::InvalidParameter(
            "Retries in Healthcheck cannot be negative".into(),
        ));
    }
    let cmd = match test.first().map(String::as_str) {
        None | Some("NONE") => return Ok(None),
        Some("CMD") => test[1..].to_vec(),
        Some("CMD-SHELL") => {
            let line = test[1..].join(" ");
            let mut c = if shell.is_empty() {
                vec!["/bin/sh".to_string(), "-c".to_string()]
            } else {
                shell.to_vec()
            };
            c.push(line);
            c
        }
        Some(other) => {
            return Err(Error::InvalidParameter(format!(
                "unknown Healthcheck Test type '{other}': use CMD, CMD-SHELL or NONE"
            )));
        }
    };
    if cmd.is_empty() || cmd.iter().all(|s| s.is_empty()) {
        return Err(Error::InvalidParameter(
            "Healthcheck Test has no command".into(),
        ));
    }
    Ok(Some(Check {
        cmd,
        interval: or_default(interval, DEFAULT_INTERVAL),
        timeout: or_default(timeout, DEFAULT_TIMEOUT),
        start_period: Duration::from_nanos(start_period.max(0) as u64),
        start_interval: or_default(start_interval, DEFAULT_START_INTERVAL),
        retries: if retries > 0 {
            retries
        } else {
            DEFAULT_RETRIES
        },
    }))
}

/// Moby's merge of the image's check into the container's: an empty `Test` and each zero
/// field come from the image.
pub fn merge_image(mine: Option<Value>, image: Option<&Value>) -> Option<Value> {
    let Some(image) = image.filter(|v| v.is_object()) else {
        return mine;
    };
    let Some(mut mine) = mine.filter(|v| v.is_object()) else {
        return Some(image.clone());
    };
    for key in [
        "Test",
        "Interval",
        "Timeout",
        "StartPeriod",
        "StartInterval",
        "Retries",
    ] {
        let unset = match mine.get(key) {
            None | Some(Value::Null) => true,
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(_) => false,
        };
        if unset && let Some(v) = image.get(key) {
            mine[key] = v.clone();
        }
    }
    Some(mine)
}

/// Moby's `handleProbeResult`: the new state after one result; `in_start_period` failures do not
/// count against a container that has not yet been healthy.
pub fn record(h: &mut Health, r: HealthResult, retries: i64, in_start_period: bool) {
    if r.exit_code == 0 {
        h.failing_streak = 0;
        h.status = HEALTHY.into();
    } else if !(in_start_period && h.status != HEALTHY) {
        h.failing_streak += 1;
        if h.failing_streak >= retries {
            h.status = UNHEALTHY.into();
        }
    }
    h.log.push(r);
    if h.log.len() > MAX_LOG {
        let extra = h.log.len() - MAX_LOG;
        h.log.drain(..extra);
    }
}

/// `docker ps --filter health=...`: `starting`, `healthy`, `unhealthy`, or `none` for a container
/// without a check.
pub fn filter_matches(rec: &super::record::ContainerRecord, vals: &[String]) -> Result<bool> {
    for v in vals {
        if ![STARTING, HEALTHY, UNHEALTHY, "none"].contains(&v.as_str()) {
            return Err(Error::InvalidParameter(format!(
                "Unrecognised filter value for health: {v}"
            )));
        }
    }
    let status = rec
        .state
        .health
        .as_ref()
        .map_or("none", |h| h.status.as_str());
    Ok(vals.iter().any(|v| v == status))
}

/// The payload of a multiplexed stream (8-byte headers), as one string capped at 4 KiB.
fn demux(raw: &[u8]) -> String {
    let mut out = Vec::new();
    let mut rest = raw;
    while rest.len() >= 8 {
        let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + len).min(rest.len());
        out.extend_from_slice(&rest[8..end]);
        rest = &rest[end..];
    }
    out.truncate(MAX_OUTPUT);
    String::from_utf8_lossy(&out).into_owned()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl Engine {
    /// Starts the container's health checker if its config has a check, with the status back to
    /// `starting` (as moby, after a start, a restart or a re-adoption by a restarted daemon).
    pub(crate) fn start_health(self: &Arc<Self>, c: &Arc<Container>) {
        let (hc, shell) = {
            let r = c.rec();
            let shell: Vec<String> = r
                .config
                .extra
                .get("Shell")
                .and_then(|s| serde_json::from_value(s.clone()).ok())
                .unwrap_or_default();
            (r.config.healthcheck.clone(), shell)
        };
        let check = match parse(hc.as_ref(), &shell) {
            Ok(Some(check)) => check,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(container = %c.id, "health check not run: {e}");
                return;
            }
        };
        {
            let mut r = c.rec();
            let h = r.state.health.get_or_insert_with(Health::default);
            h.status = STARTING.into();
            h.failing_streak = 0;
        }
        let _ = self.persist(c);
        let engine = Arc::downgrade(self);
        let c = c.clone();
        let exits = c.lifecycle.borrow().exits;
        let mut lc = c.lifecycle.subscribe();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            loop {
                let in_start = started.elapsed() < check.start_period;
                let starting = c
                    .rec()
                    .state
                    .health
                    .as_ref()
                    .is_some_and(|h| h.status == STARTING);
                let wait = if in_start && starting {
                    check.start_interval
                } else {
                    check.interval
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = lc.wait_for(|l| l.exits != exits || !l.running || l.removed) => return,
                }
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                {
                    let l = c.lifecycle.borrow();
                    if l.exits != exits || !l.running || l.removed {
                        return;
                    }
                }
                if c.rec().state.paused {
                    continue;
                }
                let in_start = started.elapsed() < check.start_period;
                let result = engine.probe(&c, &check).await;
                if c.lifecycle.borrow().exits != exits {
                    return;
                }
                let (old, new) = {
                    let mut r = c.rec();
                    let h = r.state.health.get_or_insert_with(Health::default);
                    let old = h.status.clone();
                    record(h, result, check.retries, in_start);
                    (old, h.status.clone())
                };
                let _ = engine.persist(&c);
                if old != new {
                    engine.container_event(&c, &format!("health_status: {new}"), &[]);
                }
            }
        });
    }

    /// Runs the check once as an exec in the container.
    async fn probe(self: &Arc<Self>, c: &Arc<Container>, check: &Check) -> HealthResult {
        let start = now();
        let fail = |code: i64, output: String| HealthResult {
            start: start.clone(),
            end: now(),
            exit_code: code,
            output,
        };
        let config = ExecConfig {
            attach_stdout: true,
            attach_stderr: true,
            cmd: Some(check.cmd.clone()),
            ..Default::default()
        };
        let id = match self.create_exec(&c.id, config) {
            Ok(id) => id,
            Err(e) => return fail(-1, e.to_string()),
        };
        let res = match self.start_exec(&id, Some(false)).await {
            Ok(mut es) => {
                let mut buf = Vec::new();
                match tokio::time::timeout(check.timeout, es.stream.read_to_end(&mut buf)).await {
                    Ok(_) => {
                        self.exec_finished(&id);
                        let code = self
                            .execs
                            .lock()
                            .get(&id)
                            .and_then(|e| e.exit_code)
                            .unwrap_or(-1);
                        fail(code, demux(&buf))
                    }
                    Err(_) => {
                        // as moby cancels the probe: kill it, wait (bounded) for its end so
                        // dying probes do not pile up, and collect its exit
                        let kill = Request::KillExec {
                            id: id.clone(),
                            signal: libc::SIGKILL,
                        };
                        let run_dir = self.config().container_run_dir(&c.id);
                        let _ = monitor_client::request(&run_dir, &kill).await;
                        let _ = tokio::time::timeout(
                            PROBE_KILL_WAIT,
                            tokio::io::copy(&mut es.stream, &mut tokio::io::sink()),
                        )
                        .await;
                        self.exec_finished(&id);
                        fail(
                            -1,
                            format!(
                                "Health check exceeded timeout ({})",
                                humantime(check.timeout)
                            ),
                        )
                    }
                }
            }
            Err(e) => fail(-1, e.to_string()),
        };
        self.execs.lock().remove(&id);
        res
    }
}

/// Go's `time.Duration` string for whole and fractional seconds (`30s`, `1.5s`, `500ms`).
fn humantime(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        let s = d.as_secs_f64();
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_follows_docker() {
        let v = json!({"Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000i64, "Retries": 2});
        let c = parse(Some(&v), &[]).expect("parse").expect("a check");
        assert_eq!(c.cmd, ["/bin/sh", "-c", "true"]);
        assert_eq!(c.interval, Duration::from_secs(1));
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.retries, 2);
        let v = json!({"Test": ["CMD", "ls", "/"]});
        let c = parse(Some(&v), &[]).expect("parse").expect("a check");
        assert_eq!(c.cmd, ["ls", "/"]);
        assert_eq!(c.retries, DEFAULT_RETRIES);
        assert_eq!(
            parse(Some(&json!({"Test": ["NONE"]})), &[]).expect("none"),
            None
        );
        assert_eq!(parse(None, &[]).expect("absent"), None);
        for bad in [
            json!({"Test": ["WHAT", "x"]}),
            json!({"Test": ["CMD"]}),
            json!({"Test": "true"}),
            json!({"Test": ["CMD", "x"], "Interval": 5}),
            json!({"Test": ["CMD", "x"], "Retries": -1}),
            json!({"Test": ["CMD", "x"], "Timeout": "1s"}),
        ] {
            assert!(parse(Some(&bad), &[]).is_err(), "{bad}");
        }
    }

    fn result(code: i64) -> HealthResult {
        HealthResult {
            exit_code: code,
            ..Default::default()
        }
    }

    #[test]
    fn image_check_fills_what_the_container_leaves_unset() {
        let img = json!({"Test": ["CMD", "true"], "Interval": 5_000_000_000i64, "Retries": 4});
        let mine = json!({"Interval": 1_000_000_000i64});
        let m = merge_image(Some(mine), Some(&img)).expect("merged");
        assert_eq!(m["Test"], json!(["CMD", "true"]));
        assert_eq!(m["Interval"], json!(1_000_000_000i64));
        assert_eq!(m["Retries"], json!(4));
        let none = json!({"Test": ["NONE"]});
        let m = merge_image(Some(none), Some(&img)).expect("merged");
        assert_eq!(m["Test"], json!(["NONE"]));
        assert_eq!(merge_image(None, Some(&img)), Some(img));
    }

    #[test]
    fn results_move_the_status_like_moby() {
        let mut h = Health {
            status: STARTING.into(),
            ..Default::default()
        };
        record(&mut h, result(1), 2, true);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 0));
        record(&mut h, result(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 1));
        record(&mut h, result(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), (UNHEALTHY, 2));
        record(&mut h, result(0), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), (HEALTHY, 0));
        for _ in 0..6 {
            record(&mut h, result(0), 2, false);
        }
        assert_eq!(h.log.len(), MAX_LOG);
    }

    #[test]
    fn demux_joins_frames_and_caps_output() {
        let mut raw = vec![1, 0, 0, 0, 0, 0, 0, 3];
        raw.extend_from_slice(b"ab\n");
        raw.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 2]);
        raw.extend_from_slice(b"e\n");
        assert_eq!(demux(&raw), "ab\ne\n");
        let mut big = vec![1, 0, 0, 0, 0, 0, 0x20, 0];
        big.extend(std::iter::repeat_n(b'x', 0x2000));
        assert_eq!(demux(&big).len(), MAX_OUTPUT);
    }
}
