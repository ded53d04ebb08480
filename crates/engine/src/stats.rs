//! `stats` (Docker's JSON from the container's cgroups, with `precpu_stats` and `online_cpus`)
//! and `top` (the container's processes, `ps`-style).

use serde_json::{Value, json};

use crate::Engine;
use crate::error::{Error, Result};

fn system_cpu_usage() -> u64 {
    // /proc/stat's first line in USER_HZ ticks, as nanoseconds (what dockerd reports)
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = s
        .lines()
        .next()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(7)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    ticks * (1_000_000_000 / 100)
}

fn online_cpus() -> u64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1)
}

/// Docker's per-interface figures from `/proc/<pid>/net/dev` (the container's netns), loopback
/// left out as dockerd does (it reports the endpoints' interfaces only).
fn net_dev(pid: i32) -> Option<Value> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    let mut nets = serde_json::Map::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        if v.len() < 12 {
            continue;
        }
        nets.insert(
            name.to_string(),
            json!({
                "rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
                "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11],
            }),
        );
    }
    Some(Value::Object(nets))
}

/// A sample of the container's cgroups (None when it is not running).
pub struct Sample {
    pub stats: Option<berth_runtime::Stats>,
    /// `networks`: None for `none` and `host` (no interface of its own), as dockerd omits it.
    pub networks: Option<Value>,
    pub system: u64,
    pub read: String,
}

impl Engine {
    pub fn sample(&self, id: &str) -> Sample {
        let rt = berth_runtime::Runtime::new(self.config().runtime_root());
        let loaded = rt.load(id).ok();
        let stats = loaded.as_ref().and_then(|c| c.stats().ok());
        let own_net = self
            .containers
            .get(id)
            .is_ok_and(|c| !matches!(c.rec().host_config.network_mode.as_str(), "none" | "host"));
        let networks = loaded
            .and_then(|c| c.pid())
            .filter(|_| own_net)
            .and_then(net_dev)
            .filter(|n| n.as_object().is_some_and(|o| !o.is_empty()));
        Sample {
            stats,
            networks,
            system: system_cpu_usage(),
            read: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        }
    }

    /// One stats object in Docker's shape, from this sample and the previous one.
    pub fn stats_json(&self, id: &str, name: &str, cur: &Sample, pre: Option<&Sample>) -> Value {
        let cpu = |s: Option<&Sample>| -> Value {
            match s.and_then(|s| s.stats.as_ref().map(|st| (s, st))) {
                Some((s, st)) => json!({
                    "cpu_usage": {
                        "total_usage": st.cpu.usage.total,
                        "percpu_usage": st.cpu.usage.percpu,
                        "usage_in_kernelmode": st.cpu.usage.kernel,
                        "usage_in_usermode": st.cpu.usage.user,
                    },
                    "system_cpu_usage": s.system,
                    "online_cpus": online_cpus(),
                    "throttling_data": {
                        "periods": st.cpu.throttling.periods,
                        "throttled_periods": st.cpu.throttling.throttled_periods,
                        "throttled_time": st.cpu.throttling.throttled_time,
                    },
                }),
                None => json!({
                    "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                    "system_cpu_usage": 0, "online_cpus": 0,
                    "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
                }),
            }
        };
        let st = cur.stats.clone().unwrap_or_default();
        let limit = if st.memory.usage.limit == 0 || st.memory.usage.limit >= (1 << 62) {
            crate::system::mem_total() as u64
        } else {
            st.memory.usage.limit
        };
        let mut v = json!({
            "read": cur.read,
            "preread": pre.map(|p| p.read.clone()).unwrap_or_else(|| crate::model::ZERO_TIME.to_string()),
            "pids_stats": {"current": st.pids.current, "limit": st.pids.limit},
            "blkio_stats": {
                "io_service_bytes_recursive": st.blkio.io_service_bytes_recursive.iter().map(|e| json!({"major": e.major, "minor": e.minor, "op": e.op, "value": e.value})).collect::<Vec<_>>(),
                "io_serviced_recursive": st.blkio.io_serviced_recursive.iter().map(|e| json!({"major": e.major, "minor": e.minor, "op": e.op, "value": e.value})).collect::<Vec<_>>(),
                "io_queue_recursive": null, "io_service_time_recursive": null, "io_wait_time_recursive": null,
                "io_merged_recursive": null, "io_time_recursive": null, "sectors_recursive": null,
            },
            "num_procs": 0,
            "storage_stats": {},
            "cpu_stats": cpu(Some(cur)),
            "precpu_stats": cpu(pre),
            "memory_stats": {
                "usage": st.memory.usage.usage,
                "max_usage": st.memory.usage.max,
                "stats": st.memory.raw,
                "failcnt": st.memory.usage.failcnt,
                "limit": limit,
            },
            "name": format!("/{name}"),
            "id": id,
        });
        if let Some(n) = &cur.networks {
            v["networks"] = n.clone();
        }
        v
    }

    /// The container's (id, name, running) for stats.
    pub fn stats_target(&self, name: &str) -> Result<(String, String, bool)> {
        let c = self.containers.get(name)?;
        let r = c.rec();
        Ok((r.id.clone(), r.name.clone(), r.state.running))
    }

    /// `docker top`: `ps -ef` columns for the container's processes.
    pub fn top(&self, name: &str) -> Result<Value> {
        let c = self.containers.get(name)?;
        if !c.rec().state.running {
            return Err(Error::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let rt = berth_runtime::Runtime::new(self.config().runtime_root());
        let pids = rt
            .load(&c.id)
            .and_then(|x| x.processes())
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut rows = vec![];
        for pid in pids {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1))
                .unwrap_or("0")
                .to_string();
            let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
                .unwrap_or_default();
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| {
                    b.split(|c| *c == 0)
                        .filter(|s| !s.is_empty())
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            rows.push(json!([
                uid,
                pid.to_string(),
                ppid,
                "0",
                "-",
                "?",
                "00:00:00",
                cmd
            ]));
        }
        Ok(
            json!({"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], "Processes": rows}),
        )
    }
}
