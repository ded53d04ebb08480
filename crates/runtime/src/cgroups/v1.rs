//! cgroup v1: one directory per controller hierarchy.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, LinuxWeightDevice};

use super::{mkdir_all, write};
use crate::error::{Error, Result};

/// The controllers a container joins (cpuset only when asked for: it needs copying of
/// cpus/mems into every new level).
const CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "memory", "pids", "blkio", "devices", "freezer",
];

/// controller → mount point for `wanted`: the usual `/sys/fs/cgroup/<controller>` when it is
/// a cgroup v1 mount of that controller (its real directory, after symlinks, is named after
/// the controllers it holds, e.g. `cpu,cpuacct`), else from /proc/self/mountinfo. Reading
/// mountinfo costs in proportion to the host's mounts (every running container's overlay
/// with its long options), so the common layout is checked without it.
fn mounts_of(wanted: &[&str]) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    for c in wanted {
        let Some(real) = resolve_leaf(&Path::new(super::CGROUP_ROOT).join(c)) else {
            return mounts();
        };
        let named = real
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.split(',').any(|x| x == *c));
        let is_v1 = rustix::fs::statfs(&real).is_ok_and(|s| s.f_type == CGROUP_SUPER_MAGIC);
        let is_root = real.parent() == Some(Path::new(super::CGROUP_ROOT));
        if !(named && is_v1 && is_root) {
            return mounts();
        }
        out.insert(c.to_string(), real);
    }
    Ok(out)
}

const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;

/// `p` with its last component resolved when it is a symlink to a sibling (`cpu` ->
/// `cpu,cpuacct`): one readlink instead of canonicalize's one per component. Anything else
/// goes through canonicalize.
fn resolve_leaf(p: &Path) -> Option<PathBuf> {
    match fs::read_link(p) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Some(p.to_path_buf()),
        Ok(t)
            if t.components().count() == 1
                && !t.as_os_str().as_encoded_bytes().starts_with(b".") =>
        {
            Some(p.with_file_name(t))
        }
        _ => fs::canonicalize(p).ok(),
    }
}

/// controller → mount point, from /proc/self/mountinfo (read once).
fn mounts() -> Result<BTreeMap<String, PathBuf>> {
    let info = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::Cgroup(format!("read /proc/self/mountinfo: {e}")))?;
    let mut out = BTreeMap::new();
    for line in info.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut post = post.split(' ');
        if post.next() != Some("cgroup") {
            continue;
        }
        let super_opts = post.nth(1).unwrap_or("");
        let Some(mnt) = pre.split(' ').nth(4) else {
            continue;
        };
        for opt in super_opts.split(',') {
            out.entry(opt.to_string())
                .or_insert_with(|| PathBuf::from(mnt));
        }
    }
    Ok(out)
}

/// controller → directory of the container's cgroup (nothing is created yet).
pub(super) fn locate(
    rel: &Path,
    wants_cpuset: bool,
    wants_hugetlb: bool,
) -> Result<BTreeMap<String, PathBuf>> {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let mut wanted: Vec<&str> = CONTROLLERS.to_vec();
    if wants_cpuset {
        wanted.push("cpuset");
    }
    if wants_hugetlb {
        wanted.push("hugetlb");
    }
    let mounts = mounts_of(&wanted)?;
    Ok(wanted
        .into_iter()
        .filter_map(|c| mounts.get(c).map(|m| (c.to_string(), m.join(rel))))
        .collect())
}

/// Creates the directories of `paths` (cpuset levels get their parent's cpus and mems).
/// Nothing is left behind on error.
pub(super) fn make(paths: &BTreeMap<String, PathBuf>) -> Result<()> {
    let mut created: Vec<PathBuf> = vec![];
    let mut done: Vec<&PathBuf> = vec![];
    let result = (|| {
        for (c, dir) in paths {
            if done.contains(&dir) {
                continue;
            }
            done.push(dir);
            let new = mkdir_all(dir)?;
            created.extend(new.iter().cloned());
            if c == "cpuset" {
                for d in &new {
                    init_cpuset(d)?;
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        for d in created.iter().rev() {
            let _ = fs::remove_dir(d);
        }
        return Err(e);
    }
    Ok(())
}

fn init_cpuset(dir: &Path) -> Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let v = fs::read_to_string(parent.join(f))
            .map_err(|e| Error::Cgroup(format!("read {}: {e}", parent.join(f).display())))?;
        write(&dir.join(f), v.trim())?;
    }
    Ok(())
}

fn opt_write(dir: Option<&PathBuf>, file: &str, value: impl ToString) -> Result<()> {
    match dir {
        Some(d) => write(&d.join(file), &value.to_string()),
        None => Err(Error::Cgroup(format!(
            "cannot set {file}: its controller is not mounted"
        ))),
    }
}

pub(super) fn apply(
    paths: &BTreeMap<String, PathBuf>,
    r: &LinuxResources,
    creating: bool,
) -> Result<()> {
    if let Some(m) = r.memory() {
        let dir = paths.get("memory");
        let limit = m.limit();
        let swap = m.swap();
        // memsw must stay >= limit: order the two writes so each step is valid.
        let memsw_exists = dir.is_some_and(|d| d.join("memory.memsw.limit_in_bytes").exists());
        let set_limit = |v: i64| opt_write(dir, "memory.limit_in_bytes", v);
        let set_swap = |v: i64| opt_write(dir, "memory.memsw.limit_in_bytes", v);
        match (limit, swap) {
            (Some(l), Some(s)) if memsw_exists => {
                if set_limit(l).is_err() {
                    set_swap(s)?;
                    set_limit(l)?;
                } else {
                    set_swap(s)?;
                }
            }
            (Some(l), _) => set_limit(l)?,
            (None, Some(s)) if memsw_exists => set_swap(s)?,
            _ => {}
        }
        if let Some(v) = m.reservation() {
            opt_write(dir, "memory.soft_limit_in_bytes", v)?;
        }
        if let Some(v) = m.swappiness() {
            if v > 100 {
                return Err(Error::Spec(format!(
                    "linux.resources.memory.swappiness {v} is above 100"
                )));
            }
            opt_write(dir, "memory.swappiness", v)?;
        }
        if m.disable_oom_killer() == Some(true) {
            opt_write(dir, "memory.oom_control", 1)?;
        }
    }
    if let Some(c) = r.cpu() {
        let dir = paths.get("cpu");
        if let Some(v) = c.shares() {
            opt_write(dir, "cpu.shares", v)?;
        }
        if let Some(v) = c.period() {
            opt_write(dir, "cpu.cfs_period_us", v)?;
        }
        if let Some(v) = c.quota() {
            opt_write(dir, "cpu.cfs_quota_us", v)?;
        }
        if let Some(v) = c.realtime_period() {
            opt_write(dir, "cpu.rt_period_us", v)?;
        }
        if let Some(v) = c.realtime_runtime() {
            opt_write(dir, "cpu.rt_runtime_us", v)?;
        }
        if let Some(v) = c.cpus() {
            opt_write(paths.get("cpuset"), "cpuset.cpus", v)?;
        }
        if let Some(v) = c.mems() {
            opt_write(paths.get("cpuset"), "cpuset.mems", v)?;
        }
    }
    if let Some(p) = r.pids() {
        let v = if p.limit() > 0 {
            p.limit().to_string()
        } else {
            "max".to_string()
        };
        opt_write(paths.get("pids"), "pids.max", v)?;
    }
    if let Some(b) = r.block_io() {
        let dir = paths.get("blkio");
        if let Some(w) = b.weight() {
            let file = if dir.is_some_and(|d| d.join("blkio.weight").exists()) {
                "blkio.weight"
            } else {
                "blkio.bfq.weight"
            };
            opt_write(dir, file, w)?;
        }
        apply_weight_devices(dir, b.weight_device().as_deref().unwrap_or_default())?;
        let throttles = [
            (
                "blkio.throttle.read_bps_device",
                b.throttle_read_bps_device(),
            ),
            (
                "blkio.throttle.write_bps_device",
                b.throttle_write_bps_device(),
            ),
            (
                "blkio.throttle.read_iops_device",
                b.throttle_read_iops_device(),
            ),
            (
                "blkio.throttle.write_iops_device",
                b.throttle_write_iops_device(),
            ),
        ];
        for (file, list) in throttles {
            for d in list.iter().flatten() {
                opt_write(
                    dir,
                    file,
                    format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                )?;
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        match paths.get("hugetlb") {
            Some(d) => write(
                &d.join(format!("hugetlb.{}.limit_in_bytes", h.page_size())),
                &h.limit().to_string(),
            )?,
            // this host's hybrid layout keeps hugetlb in the cgroup2 mount, out of reach of v1
            None => eprintln!(
                "berth-runtime: warning: linux.resources.hugepageLimits ignored: no v1 hugetlb controller"
            ),
        }
    }
    if creating || r.devices().is_some() {
        apply_devices(paths.get("devices"), r.devices().as_deref().unwrap_or(&[]))?;
    }
    Ok(())
}

/// Per-device weights, as runc: CFQ's `blkio.weight_device` where the kernel has it, else
/// BFQ's, which takes a device's weight only when BFQ schedules that device.
fn apply_weight_devices(dir: Option<&PathBuf>, devices: &[LinuxWeightDevice]) -> Result<()> {
    let weights: Vec<String> = devices
        .iter()
        .filter_map(|d| {
            d.weight()
                .map(|w| format!("{}:{} {w}", d.major(), d.minor()))
        })
        .collect();
    if weights.is_empty() {
        return Ok(());
    }
    let cfq = dir.is_some_and(|d| d.join("blkio.weight_device").exists());
    let file = if cfq {
        "blkio.weight_device"
    } else {
        "blkio.bfq.weight_device"
    };
    for w in weights {
        opt_write(dir, file, w).map_err(|e| match e {
            Error::Cgroup(m) if !cfq => Error::Cgroup(format!(
                "{m} (a device weight needs the device's I/O scheduler to be bfq)"
            )),
            e => e,
        })?;
    }
    Ok(())
}

/// Device rules: config rules in order, then the devices every container may use (as runc).
/// The kernel parses each write(2) as one rule, so each file is opened once for all of them.
fn apply_devices(dir: Option<&PathBuf>, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    use std::io::Write;
    let Some(dir) = dir else { return Ok(()) };
    let mut open: [Option<fs::File>; 2] = [None, None];
    for rule in rules.iter().chain(default_rules().iter()) {
        let (slot, name) = if rule.allow() {
            (0, "devices.allow")
        } else {
            (1, "devices.deny")
        };
        let path = dir.join(name);
        let line = rule_line(rule);
        let err =
            |e: std::io::Error| Error::Cgroup(format!("write {line:?} to {}: {e}", path.display()));
        let f = match &mut open[slot] {
            Some(f) => f,
            empty => empty.insert(
                fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(err)?,
            ),
        };
        // one write(2) per rule: `write_all` of a short line is a single call
        f.write_all(line.as_bytes()).map_err(err)?;
    }
    Ok(())
}

pub(crate) fn rule_line(rule: &LinuxDeviceCgroup) -> String {
    let t = match rule.typ() {
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::P) => "c",
        Some(LinuxDeviceType::A) | None => "a",
    };
    let n = |v: Option<i64>| {
        v.filter(|v| *v >= 0)
            .map_or("*".to_string(), |v| v.to_string())
    };
    if t == "a" && rule.major().is_none() && rule.minor().is_none() {
        return format!("a *:* {}", rule.access().as_deref().unwrap_or("rwm"));
    }
    format!(
        "{t} {}:{} {}",
        n(rule.major()),
        n(rule.minor()),
        rule.access().as_deref().unwrap_or("rwm")
    )
}

fn rule(
    t: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true);
    r.set_typ(Some(t));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

pub(crate) fn default_rules() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    vec![
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),
        rule(C, Some(1), Some(5), "rwm"),
        rule(C, Some(1), Some(7), "rwm"),
        rule(C, Some(1), Some(8), "rwm"),
        rule(C, Some(1), Some(9), "rwm"),
        rule(C, Some(5), Some(0), "rwm"),
        rule(C, Some(5), Some(1), "rwm"),
        rule(C, Some(5), Some(2), "rwm"),
        rule(C, Some(136), None, "rwm"),
        rule(C, Some(10), Some(200), "rwm"),
    ]
}

pub(super) fn freeze(paths: &BTreeMap<String, PathBuf>, frozen: bool) -> Result<()> {
    let dir = paths
        .get("freezer")
        .ok_or_else(|| Error::Cgroup("the freezer controller is not mounted".into()))?;
    let want = if frozen { "FROZEN" } else { "THAWED" };
    for _ in 0..1000 {
        write(&dir.join("freezer.state"), want)?;
        let now = fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
        if now.trim() == want {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(Error::Cgroup(format!("freezer did not reach {want}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_symlinks_resolve_like_canonicalize() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        fs::create_dir(root.join("cpu,cpuacct")).unwrap();
        fs::create_dir(root.join("memory")).unwrap();
        fs::create_dir(root.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("cpu,cpuacct", root.join("cpu")).unwrap();
        std::os::unix::fs::symlink("../x/../elsewhere", root.join("odd")).unwrap();
        std::os::unix::fs::symlink(root.join("memory"), root.join("abs")).unwrap();
        for name in ["cpu", "memory", "abs"] {
            let p = root.join(name);
            assert_eq!(resolve_leaf(&p), p.canonicalize().ok(), "{name}");
        }
        assert_eq!(resolve_leaf(&root.join("odd")), None, "dangling through x");
        assert_eq!(resolve_leaf(&root.join("missing")), None);
    }

    #[test]
    fn blkio_device_limits_go_to_their_files() {
        use oci_spec::runtime::{
            LinuxBlockIoBuilder, LinuxResourcesBuilder, LinuxThrottleDeviceBuilder,
            LinuxWeightDeviceBuilder,
        };
        let d = tempfile::tempdir().unwrap();
        let paths: BTreeMap<String, PathBuf> =
            [("blkio".to_string(), d.path().to_path_buf())].into();
        let rate = |r: u64| {
            vec![
                LinuxThrottleDeviceBuilder::default()
                    .major(254)
                    .minor(0)
                    .rate(r)
                    .build()
                    .unwrap(),
            ]
        };
        let w = LinuxWeightDeviceBuilder::default()
            .major(7)
            .minor(3)
            .weight(300u16)
            .build()
            .unwrap();
        let r = LinuxResourcesBuilder::default()
            .block_io(
                LinuxBlockIoBuilder::default()
                    .weight_device(vec![w])
                    .throttle_read_bps_device(rate(1_048_576))
                    .throttle_write_bps_device(rate(2_097_152))
                    .throttle_read_iops_device(rate(100))
                    .throttle_write_iops_device(rate(50))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let read = |f: &str| fs::read_to_string(d.path().join(f)).unwrap();
        apply(&paths, &r, false).unwrap();
        assert_eq!(read("blkio.throttle.read_bps_device"), "254:0 1048576");
        assert_eq!(read("blkio.throttle.write_bps_device"), "254:0 2097152");
        assert_eq!(read("blkio.throttle.read_iops_device"), "254:0 100");
        assert_eq!(read("blkio.throttle.write_iops_device"), "254:0 50");
        // no CFQ file: BFQ's
        assert_eq!(read("blkio.bfq.weight_device"), "7:3 300");
        fs::write(d.path().join("blkio.weight_device"), "").unwrap();
        apply(&paths, &r, false).unwrap();
        assert_eq!(read("blkio.weight_device"), "7:3 300");
    }

    #[test]
    fn device_rules_render_like_the_kernel_expects() {
        assert_eq!(
            rule_line(&rule(LinuxDeviceType::C, Some(1), Some(3), "rwm")),
            "c 1:3 rwm"
        );
        assert_eq!(
            rule_line(&rule(LinuxDeviceType::C, Some(136), None, "rwm")),
            "c 136:* rwm"
        );
        let mut deny_all = LinuxDeviceCgroup::default();
        deny_all.set_access(Some("rwm".into()));
        assert_eq!(rule_line(&deny_all), "a *:* rwm");
    }
}
