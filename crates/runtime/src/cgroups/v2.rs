//! cgroup v2: one directory in the unified hierarchy. Device rules need eBPF and are not
//! enforced here (a warning is logged by the caller's config check).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxBlockIo, LinuxResources};

use super::{mkdir_all, write};
use crate::error::{Error, Result};

const WANTED: &[&str] = &["cpu", "cpuset", "io", "memory", "pids"];

/// Creates `root/rel`, enabling the available controllers on every level above it.
pub(super) fn create(root: &Path, rel: &Path) -> Result<PathBuf> {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let dir = root.join(rel);
    let available = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let enable: Vec<String> = available
        .split_whitespace()
        .filter(|c| WANTED.contains(c))
        .map(|c| format!("+{c}"))
        .collect();
    let created = mkdir_all(&dir)?;
    let result = (|| {
        if enable.is_empty() {
            return Ok(());
        }
        let mut level = root.to_path_buf();
        for comp in rel.components() {
            let ctl = level.join("cgroup.subtree_control");
            let current = fs::read_to_string(&ctl).unwrap_or_default();
            let missing: Vec<&String> = enable
                .iter()
                .filter(|c| !current.split_whitespace().any(|x| x == &c[1..]))
                .collect();
            if !missing.is_empty() {
                let line: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                write(&ctl, &line.join(" "))?;
            }
            level.push(comp);
        }
        Ok(())
    })();
    if let Err(e) = result {
        for d in created.iter().rev() {
            let _ = fs::remove_dir(d);
        }
        return Err(e);
    }
    Ok(dir)
}

/// cpu.shares (2..262144) to cpu.weight (1..10000), the formula runc and crun use.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

/// blkio.weight (10..1000) to io.weight (1..10000).
pub(crate) fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w.clamp(10, 1000)) - 10) * 9999 / 990
}

fn limit(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

pub(super) fn apply(dir: &Path, r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit() {
            write(&dir.join("memory.max"), &limit(l))?;
        }
        if let Some(v) = m.reservation() {
            write(&dir.join("memory.low"), &limit(v))?;
        }
        if let Some(s) = m.swap() {
            // OCI's swap is memory+swap; v2's memory.swap.max is swap alone.
            let v = match (s, m.limit()) {
                (s, _) if s < 0 => "max".to_string(),
                (s, Some(l)) if l >= 0 => {
                    if s < l {
                        return Err(Error::Spec(format!(
                            "linux.resources.memory.swap {s} is below memory.limit {l}"
                        )));
                    }
                    (s - l).to_string()
                }
                (s, _) => s.to_string(),
            };
            write(&dir.join("memory.swap.max"), &v)?;
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares() {
            write(&dir.join("cpu.weight"), &shares_to_weight(s).to_string())?;
        }
        if c.quota().is_some() || c.period().is_some() {
            let quota = c
                .quota()
                .filter(|q| *q > 0)
                .map_or("max".into(), |q| q.to_string());
            let period = c.period().unwrap_or(100_000);
            write(&dir.join("cpu.max"), &format!("{quota} {period}"))?;
        }
        if let Some(v) = c.cpus() {
            write(&dir.join("cpuset.cpus"), v)?;
        }
        if let Some(v) = c.mems() {
            write(&dir.join("cpuset.mems"), v)?;
        }
    }
    if let Some(p) = r.pids() {
        write(
            &dir.join("pids.max"),
            &if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            },
        )?;
    }
    if let Some(b) = r.block_io() {
        apply_io(dir, b)?;
    }
    for h in r.hugepage_limits().iter().flatten() {
        let file = dir.join(format!("hugetlb.{}.max", h.page_size()));
        if file.exists() {
            write(&file, &limit(h.limit()))?;
        } else {
            eprintln!(
                "berth-runtime: warning: linux.resources.hugepageLimits ignored: hugetlb is not enabled here"
            );
        }
    }
    if let Some(u) = r.unified() {
        for (k, v) in u {
            if k.contains('/') || k.starts_with('.') {
                return Err(Error::Spec(format!(
                    "linux.resources.unified: bad key {k:?}"
                )));
            }
            write(&dir.join(k), v)?;
        }
    }
    Ok(())
}

/// The io controller: the weight (`io.weight`), per-device weights (BFQ's `io.bfq.weight`, as
/// runc; skipped with a warning where BFQ is absent) and the throttles, one `io.max` line per
/// device with its keys (`MAJ:MIN rbps=N wbps=N riops=N wiops=N`; a 0 rate lifts that limit).
fn apply_io(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    if let Some(w) = b.weight() {
        write(&dir.join("io.weight"), &blkio_to_io_weight(w).to_string())?;
    }
    let weights: Vec<String> = b
        .weight_device()
        .iter()
        .flatten()
        .filter_map(|d| {
            d.weight()
                .map(|w| format!("{}:{} {w}", d.major(), d.minor()))
        })
        .collect();
    if !weights.is_empty() {
        let bfq = dir.join("io.bfq.weight");
        if bfq.exists() {
            write_lines(&bfq, &weights)?;
        } else {
            eprintln!(
                "berth-runtime: warning: linux.resources.blockIO.weightDevice ignored: no io.bfq.weight (the bfq I/O scheduler)"
            );
        }
    }
    let mut max: BTreeMap<(i64, i64), Vec<String>> = BTreeMap::new();
    for (key, list) in [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ] {
        for d in list.iter().flatten() {
            let rate = match d.rate() {
                0 => "max".to_string(),
                r => r.to_string(),
            };
            max.entry((d.major(), d.minor()))
                .or_default()
                .push(format!("{key}={rate}"));
        }
    }
    if !max.is_empty() {
        let lines: Vec<String> = max
            .iter()
            .map(|((major, minor), keys)| format!("{major}:{minor} {}", keys.join(" ")))
            .collect();
        write_lines(&dir.join("io.max"), &lines)?;
    }
    Ok(())
}

/// Writes each line with its own write(2) on one open file: the kernel parses each write as
/// one entry (a plain file, as in the tests, gets them all).
fn write_lines(path: &Path, lines: &[String]) -> Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::Cgroup(format!("open {}: {e}", path.display())))?;
    for l in lines {
        f.write_all(format!("{l}\n").as_bytes())
            .map_err(|e| Error::Cgroup(format!("write {l:?} to {}: {e}", path.display())))?;
    }
    Ok(())
}

pub(super) fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    write(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
    for _ in 0..1000 {
        let ev = fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
        let want = if frozen { "frozen 1" } else { "frozen 0" };
        if ev.is_empty() || ev.lines().any(|l| l.trim() == want) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(Error::Cgroup(
        "cgroup did not reach the requested freezer state".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap().trim().to_string()
    }

    #[test]
    fn v2_create_enables_controllers_on_each_level_and_writes_limits() {
        let root = tempfile::tempdir().unwrap();
        fs::write(
            root.path().join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids\n",
        )
        .unwrap();
        let dir = create(root.path(), Path::new("/berth/c1")).unwrap();
        assert_eq!(dir, root.path().join("berth/c1"));
        assert_eq!(
            read(&root.path().join("cgroup.subtree_control")),
            "+cpuset +cpu +io +memory +pids"
        );
        assert_eq!(
            read(&root.path().join("berth/cgroup.subtree_control")),
            "+cpuset +cpu +io +memory +pids"
        );
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64 << 20)
                    .swap(128 << 20)
                    .reservation(1 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(1024u64)
                    .quota(50_000i64)
                    .period(100_000u64)
                    .cpus("0")
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(20).build().unwrap())
            .build()
            .unwrap();
        apply(&dir, &r).unwrap();
        assert_eq!(read(&dir.join("memory.max")), (64u64 << 20).to_string());
        assert_eq!(
            read(&dir.join("memory.swap.max")),
            (64u64 << 20).to_string()
        );
        assert_eq!(read(&dir.join("memory.low")), (1u64 << 20).to_string());
        assert_eq!(read(&dir.join("cpu.weight")), "39");
        assert_eq!(read(&dir.join("cpu.max")), "50000 100000");
        assert_eq!(read(&dir.join("cpuset.cpus")), "0");
        assert_eq!(read(&dir.join("pids.max")), "20");
    }

    #[test]
    fn v2_rejects_swap_below_limit_and_bad_unified_keys() {
        let root = tempfile::tempdir().unwrap();
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64 << 20)
                    .swap(1 << 20)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert!(apply(root.path(), &r).is_err());
        let mut u = std::collections::HashMap::new();
        u.insert("../escape".to_string(), "1".to_string());
        let r = LinuxResourcesBuilder::default().unified(u).build().unwrap();
        assert!(apply(root.path(), &r).is_err());
    }

    #[test]
    fn v2_throttles_go_to_io_max_one_line_per_device_and_weights_to_bfq() {
        use oci_spec::runtime::{
            LinuxBlockIoBuilder, LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder,
        };
        let dir = tempfile::tempdir().unwrap();
        let t = |major: i64, minor: i64, rate: u64| {
            LinuxThrottleDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .rate(rate)
                .build()
                .unwrap()
        };
        let weight = LinuxWeightDeviceBuilder::default()
            .major(8)
            .minor(0)
            .weight(300u16)
            .build()
            .unwrap();
        let io = LinuxBlockIoBuilder::default()
            .weight(1000u16)
            .weight_device(vec![weight])
            .throttle_read_bps_device(vec![t(8, 0, 1_048_576), t(254, 0, 0)])
            .throttle_write_bps_device(vec![t(8, 0, 2_097_152)])
            .throttle_read_iops_device(vec![t(254, 0, 100)])
            .throttle_write_iops_device(vec![t(8, 0, 50)])
            .build()
            .unwrap();
        let r = LinuxResourcesBuilder::default()
            .block_io(io)
            .build()
            .unwrap();
        // no BFQ here: the device weight is skipped, the rest written
        apply(dir.path(), &r).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("io.max")).unwrap(),
            "8:0 rbps=1048576 wbps=2097152 wiops=50\n254:0 rbps=max riops=100\n"
        );
        assert_eq!(read(&dir.path().join("io.weight")), "10000");
        assert!(!dir.path().join("io.bfq.weight").exists());
        fs::write(dir.path().join("io.bfq.weight"), "default 100\n").unwrap();
        apply(dir.path(), &r).unwrap();
        assert_eq!(read(&dir.path().join("io.bfq.weight")), "8:0 300");
    }

    #[test]
    fn weight_conversions_match_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
    }
}
