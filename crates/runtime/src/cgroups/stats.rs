//! Resource usage read from the cgroup, in runc's `events --stats` JSON shape.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct CpuUsage {
    /// nanoseconds
    pub total: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Throttling {
    pub periods: u64,
    #[serde(rename = "throttledPeriods")]
    pub throttled_periods: u64,
    #[serde(rename = "throttledTime")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Memory {
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct MemoryEntry {
    pub limit: u64,
    pub usage: u64,
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Pids {
    pub current: u64,
    pub limit: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Blkio {
    #[serde(rename = "ioServiceBytesRecursive", default)]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", default)]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

fn num(dir: &Path, file: &str) -> u64 {
    fs::read_to_string(dir.join(file))
        .ok()
        .and_then(|s| {
            let s = s.trim();
            if s == "max" {
                Some(u64::MAX)
            } else {
                s.parse().ok()
            }
        })
        .unwrap_or(0)
}

fn flat_keyed(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn blkio_v1(file: &Path) -> Vec<BlkioEntry> {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (maj, min) = f.next()?.split_once(':')?;
            Some(BlkioEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: f.next()?.to_string(),
                value: f.next()?.parse().ok()?,
            })
        })
        .collect()
}

pub(super) fn v1(paths: &BTreeMap<String, PathBuf>) -> Stats {
    let mut s = Stats::default();
    if let Some(d) = paths.get("cpuacct") {
        s.cpu.usage.total = num(d, "cpuacct.usage");
        s.cpu.usage.percpu = fs::read_to_string(d.join("cpuacct.usage_percpu"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let st = flat_keyed(d, "cpuacct.stat");
        // USER_HZ ticks to nanoseconds
        s.cpu.usage.user = st.get("user").copied().unwrap_or(0) * 10_000_000;
        s.cpu.usage.kernel = st.get("system").copied().unwrap_or(0) * 10_000_000;
    }
    if let Some(d) = paths.get("cpu") {
        let st = flat_keyed(d, "cpu.stat");
        s.cpu.throttling = Throttling {
            periods: st.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: st.get("throttled_time").copied().unwrap_or(0),
        };
    }
    if let Some(d) = paths.get("memory") {
        s.memory.usage = MemoryEntry {
            limit: num(d, "memory.limit_in_bytes"),
            usage: num(d, "memory.usage_in_bytes"),
            max: num(d, "memory.max_usage_in_bytes"),
            failcnt: num(d, "memory.failcnt"),
        };
        s.memory.swap = MemoryEntry {
            limit: num(d, "memory.memsw.limit_in_bytes"),
            usage: num(d, "memory.memsw.usage_in_bytes"),
            max: num(d, "memory.memsw.max_usage_in_bytes"),
            failcnt: num(d, "memory.memsw.failcnt"),
        };
        s.memory.raw = flat_keyed(d, "memory.stat");
        s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    }
    if let Some(d) = paths.get("pids") {
        s.pids = Pids {
            current: num(d, "pids.current"),
            limit: match num(d, "pids.max") {
                u64::MAX => 0,
                v => v,
            },
        };
    }
    if let Some(d) = paths.get("blkio") {
        s.blkio.io_service_bytes_recursive =
            blkio_v1(&d.join("blkio.throttle.io_service_bytes_recursive"));
        s.blkio.io_serviced_recursive = blkio_v1(&d.join("blkio.throttle.io_serviced_recursive"));
    }
    s
}

pub(super) fn v2(d: &Path) -> Stats {
    let mut s = Stats::default();
    let cpu = flat_keyed(d, "cpu.stat");
    s.cpu.usage.total = cpu.get("usage_usec").copied().unwrap_or(0) * 1000;
    s.cpu.usage.user = cpu.get("user_usec").copied().unwrap_or(0) * 1000;
    s.cpu.usage.kernel = cpu.get("system_usec").copied().unwrap_or(0) * 1000;
    s.cpu.throttling = Throttling {
        periods: cpu.get("nr_periods").copied().unwrap_or(0),
        throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
        throttled_time: cpu.get("throttled_usec").copied().unwrap_or(0) * 1000,
    };
    s.memory.raw = flat_keyed(d, "memory.stat");
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    s.memory.usage = MemoryEntry {
        limit: num(d, "memory.max"),
        usage: num(d, "memory.current"),
        max: num(d, "memory.peak"),
        failcnt: flat_keyed(d, "memory.events")
            .get("max")
            .copied()
            .unwrap_or(0),
    };
    s.memory.swap = MemoryEntry {
        limit: num(d, "memory.swap.max"),
        usage: num(d, "memory.swap.current"),
        ..Default::default()
    };
    s.pids = Pids {
        current: num(d, "pids.current"),
        limit: match num(d, "pids.max") {
            u64::MAX => 0,
            v => v,
        },
    };
    for line in fs::read_to_string(d.join("io.stat"))
        .unwrap_or_default()
        .lines()
    {
        let mut f = line.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|x| x.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_stats_parse_the_control_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        fs::write(
            p.join("cpu.stat"),
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
        )
        .unwrap();
        fs::write(p.join("memory.current"), "4096\n").unwrap();
        fs::write(p.join("memory.max"), "max\n").unwrap();
        fs::write(p.join("pids.current"), "3\n").unwrap();
        fs::write(p.join("pids.max"), "10\n").unwrap();
        fs::write(
            p.join("io.stat"),
            "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
        )
        .unwrap();
        let s = v2(p);
        assert_eq!(s.cpu.usage.total, 1_500_000);
        assert_eq!(s.memory.usage.usage, 4096);
        assert_eq!(s.memory.usage.limit, u64::MAX);
        assert_eq!(s.pids.current, 3);
        assert_eq!(s.pids.limit, 10);
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(s.blkio.io_service_bytes_recursive[1].value, 200);
    }
}
