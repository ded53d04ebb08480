//! What this host's cgroups can do, read as moby's `pkg/sysinfo` does (the files of the
//! controllers' roots), and moby's create-time checks on it (`verify_resources`): what the
//! host cannot do is dropped with moby's warning, CpusetCpus and CpusetMems must name CPUs and
//! memory nodes there are.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use super::blkio::THROTTLES;
use crate::error::{Error, Result};
use crate::model::HostConfig;

/// The host's cgroup features that decide what a create keeps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SysInfo {
    /// /sys/fs/cgroup is the cgroup v2 unified hierarchy.
    pub unified: bool,
    /// v1 `memory.oom_control` (v2 has no way to disable the OOM killer).
    pub oom_kill_disable: bool,
    /// a cpuset controller.
    pub cpuset: bool,
    /// the CPUs and memory nodes the containers may use (`cpuset.cpus`, `cpuset.mems` of
    /// the root).
    pub cpus: String,
    pub mems: String,
    /// per-device weights: v1 `blkio.weight_device` or BFQ's, v2 the io controller.
    pub blkio_weight_device: bool,
    /// read bps, write bps, read iops, write iops throttles.
    pub blkio_throttle: [bool; 4],
}

/// v1 throttle files, in the order of `SysInfo::blkio_throttle`.
const THROTTLE_FILES: [&str; 4] = [
    "blkio.throttle.read_bps_device",
    "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device",
    "blkio.throttle.write_iops_device",
];

impl SysInfo {
    /// This host's, read once per daemon as moby's `RawSysInfo` (a create stays free of the
    /// reads).
    pub fn host() -> &'static SysInfo {
        static HOST: std::sync::OnceLock<SysInfo> = std::sync::OnceLock::new();
        HOST.get_or_init(SysInfo::read)
    }

    /// This host's (/sys/fs/cgroup), read now.
    pub fn read() -> SysInfo {
        Self::read_at(
            Path::new("/sys/fs/cgroup"),
            Path::new("/sys/devices/system"),
        )
    }

    /// The cgroups mounted at `root`; `system` is sysfs' `devices/system` (the online CPUs
    /// and memory nodes, when the cpuset root does not say).
    pub fn read_at(root: &Path, system: &Path) -> SysInfo {
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
        };
        let list = |p: &Path, what: &str| {
            read(p)
                .filter(|l| !l.is_empty())
                .or_else(|| read(&system.join(what).join("online")))
                .unwrap_or_else(|| "0".into())
        };
        if let Some(ctrls) = read(&root.join("cgroup.controllers")) {
            let has = |c: &str| ctrls.split_whitespace().any(|x| x == c);
            return SysInfo {
                unified: true,
                oom_kill_disable: false,
                cpuset: has("cpuset"),
                cpus: list(&root.join("cpuset.cpus.effective"), "cpu"),
                mems: list(&root.join("cpuset.mems.effective"), "node"),
                blkio_weight_device: has("io"),
                blkio_throttle: [has("io"); 4],
            };
        }
        let blkio = root.join("blkio");
        SysInfo {
            unified: false,
            oom_kill_disable: root.join("memory/memory.oom_control").exists(),
            cpuset: root.join("cpuset/cpuset.mems").exists(),
            cpus: list(&root.join("cpuset/cpuset.cpus"), "cpu"),
            mems: list(&root.join("cpuset/cpuset.mems"), "node"),
            // BFQ's files are on the root only as statistics; its `blkio.bfq.weight_device`
            // is on every level below, where the containers' cgroups are
            blkio_weight_device: [
                "blkio.weight_device",
                "blkio.bfq.weight_device",
                "blkio.bfq.io_serviced",
            ]
            .iter()
            .any(|f| blkio.join(f).exists()),
            blkio_throttle: THROTTLE_FILES.map(|f| blkio.join(f).exists()),
        }
    }
}

/// moby's `parsers.ParseUintListMaximum`: `0-2,4` as a set, no value above `maximum`; the
/// error is moby's text.
pub fn parse_list(val: &str, maximum: u64) -> std::result::Result<BTreeSet<u64>, String> {
    let mut out = BTreeSet::new();
    if val.is_empty() {
        return Ok(out);
    }
    let invalid = || format!("invalid format: {val}");
    let num = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        s.parse::<u64>().map_err(|_| invalid())
    };
    for part in val.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (num(lo)?, num(hi)?),
            None => {
                let v = num(part)?;
                (v, v)
            }
        };
        if hi < lo {
            return Err(invalid());
        }
        if hi > maximum {
            return Err(format!("value of out range, maximum is {maximum}"));
        }
        out.extend(lo..=hi);
    }
    Ok(out)
}

/// moby's `IsCpusetMemsAvailable` with its messages: `requested` (CpusetMems) must name
/// memory nodes the host has.
pub fn check_mems(requested: &str, available: &str) -> std::result::Result<(), String> {
    check_list(requested, available, "mems", "memory nodes")
}

/// moby's `IsCpusetCpusAvailable` with its messages: `requested` (CpusetCpus) must name CPUs
/// the host has.
pub fn check_cpus(requested: &str, available: &str) -> std::result::Result<(), String> {
    check_list(requested, available, "cpus", "CPUs")
}

fn check_list(
    requested: &str,
    available: &str,
    key: &str,
    what: &str,
) -> std::result::Result<(), String> {
    let avail = parse_list(available, u64::from(u32::MAX)).unwrap_or_default();
    let maximum = avail.iter().copied().max().unwrap_or(0).max(8192);
    let want = parse_list(requested, maximum)
        .map_err(|e| format!("Invalid value {requested} for cpuset {key}: {e}"))?;
    if want.iter().any(|n| !avail.contains(n)) {
        return Err(format!(
            "Requested {what} are not available - requested {requested}, available: {available}"
        ));
    }
    Ok(())
}

/// moby's create-time part of `verifyPlatformContainerResources` and `adaptContainerSettings`
/// for these fields, on the host's cgroups `sys`: what they cannot do (and the Windows-only
/// CpuPercent) is dropped from `hc` with moby's warning (the create response's `Warnings`,
/// which the CLI prints), CpusetCpus and CpusetMems must name CPUs and memory nodes there
/// are, and OomKillDisable and CgroupnsMode get moby's defaults (false; `host` on cgroup v1,
/// `private` on v2). Returns the warnings.
pub fn verify_resources(hc: &mut HostConfig, sys: &SysInfo) -> Result<Vec<String>> {
    let mut warnings = vec![];
    let mut warn = |w: &str| warnings.push(w.to_string());
    let oom_kill_disable = hc.extra.get("OomKillDisable") == Some(&Value::Bool(true));
    if oom_kill_disable && !sys.oom_kill_disable {
        warn("Your kernel does not support OomKillDisable. OomKillDisable discarded.");
        hc.extra.insert("OomKillDisable".into(), Value::Bool(false));
    } else if oom_kill_disable && hc.memory == 0 {
        warn(
            "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.",
        );
    }
    let mems = super::hostopts::string(hc, "CpusetMems")?.to_string();
    if (!hc.cpuset_cpus.is_empty() || !mems.is_empty()) && !sys.cpuset {
        warn("Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.");
        hc.cpuset_cpus.clear();
        hc.extra.insert("CpusetMems".into(), json!(""));
    } else {
        check_cpus(&hc.cpuset_cpus, &sys.cpus).map_err(Error::InvalidParameter)?;
        check_mems(&mems, &sys.mems).map_err(Error::InvalidParameter)?;
    }
    let set = |hc: &HostConfig, key: &str| {
        hc.extra
            .get(key)
            .is_some_and(|v| !super::hostopts::unset(v))
    };
    if set(hc, "BlkioWeightDevice") && !sys.blkio_weight_device {
        warn(
            "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.",
        );
        hc.extra.insert("BlkioWeightDevice".into(), json!([]));
    }
    let throttle_warnings = [
        "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.",
        "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.",
        "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.",
        "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.",
    ];
    for (i, (key, _)) in THROTTLES.iter().enumerate() {
        if set(hc, key) && !sys.blkio_throttle[i] {
            warn(throttle_warnings[i]);
            hc.extra.insert((*key).into(), json!([]));
        }
    }
    if hc
        .extra
        .get("CpuPercent")
        .is_some_and(|v| !super::hostopts::unset(v))
    {
        warn("linux does not support CPU percent. Percent discarded.");
        hc.extra.insert("CpuPercent".into(), json!(0));
    }
    if hc.extra.get("OomKillDisable").is_none_or(Value::is_null) {
        // moby's `adaptContainerSettings`: inspect shows false, not null
        hc.extra.insert("OomKillDisable".into(), Value::Bool(false));
    }
    if super::hostopts::string(hc, "CgroupnsMode")?.is_empty() {
        let mode = if sys.unified { "private" } else { "host" };
        hc.extra.insert("CgroupnsMode".into(), json!(mode));
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::hostopts::tests::hc;

    #[test]
    fn verify_resources_discards_what_the_host_cannot_do_with_mobys_warnings() {
        let v1 = SysInfo {
            oom_kill_disable: true,
            cpuset: true,
            mems: "0".into(),
            blkio_weight_device: true,
            blkio_throttle: [true; 4],
            ..Default::default()
        };
        let mut h = hc(json!({"OomKillDisable": true, "CpusetMems": "0"}));
        let w = verify_resources(&mut h, &v1).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("OOM killer is disabled for the container, but no memory"));
        assert_eq!(h.extra["CgroupnsMode"], "host");
        assert_eq!(h.extra["OomKillDisable"], true);
        h.memory = 64 << 20;
        assert!(verify_resources(&mut h, &v1).unwrap().is_empty());
        let mut h = hc(json!({"CpusetMems": "1"}));
        assert!(
            verify_resources(&mut h, &v1)
                .unwrap_err()
                .to_string()
                .contains("Requested memory nodes are not available - requested 1, available: 0")
        );
        let v2 = SysInfo {
            unified: true,
            ..Default::default()
        };
        let dev = json!([{"Path": "/dev/x", "Rate": 1}]);
        let mut h = hc(json!({"OomKillDisable": true, "CpusetMems": "0",
            "BlkioDeviceWriteIOps": dev, "BlkioWeightDevice": [{"Path": "/dev/x", "Weight": 10}],
            "CgroupnsMode": "host"}));
        h.memory = 64 << 20;
        h.cpuset_cpus = "0".into();
        let w = verify_resources(&mut h, &v2).unwrap();
        assert_eq!(
            w,
            [
                "Your kernel does not support OomKillDisable. OomKillDisable discarded.",
                "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.",
                "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.",
                "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.",
            ]
        );
        assert_eq!(h.extra["OomKillDisable"], false);
        assert_eq!(
            (h.cpuset_cpus.as_str(), &h.extra["CpusetMems"]),
            ("", &json!(""))
        );
        assert_eq!(h.extra["BlkioWeightDevice"], json!([]));
        assert_eq!(h.extra["CgroupnsMode"], "host");
        let mut h = hc(json!({"CpuPercent": 50}));
        assert_eq!(
            verify_resources(&mut h, &v1).unwrap(),
            ["linux does not support CPU percent. Percent discarded."]
        );
        assert_eq!(h.extra["CpuPercent"], 0);
        let mut h = hc(json!({}));
        verify_resources(&mut h, &v2).unwrap();
        assert_eq!(h.extra["CgroupnsMode"], "private");
        assert_eq!(h.extra["OomKillDisable"], false);
    }

    #[test]
    fn mems_are_checked_as_mobys() {
        assert_eq!(
            parse_list("0-2,4", 8192)
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            vec![0, 1, 2, 4]
        );
        assert!(check_mems("0", "0").is_ok());
        assert!(check_mems("1,3", "0-3").is_ok());
        assert_eq!(
            check_mems("0-3", "0").unwrap_err(),
            "Requested memory nodes are not available - requested 0-3, available: 0"
        );
        for bad in ["x", "1-", "-1", "2-1", "1,,2", "+1"] {
            assert_eq!(
                check_mems(bad, "0").unwrap_err(),
                format!("Invalid value {bad} for cpuset mems: invalid format: {bad}")
            );
        }
        assert_eq!(
            check_cpus("1-2", "0-1").unwrap_err(),
            "Requested CPUs are not available - requested 1-2, available: 0-1"
        );
        assert_eq!(
            check_cpus("a", "0-1").unwrap_err(),
            "Invalid value a for cpuset cpus: invalid format: a"
        );
        assert_eq!(
            check_mems("0-4000000000", "0").unwrap_err(),
            "Invalid value 0-4000000000 for cpuset mems: value of out range, maximum is 8192"
        );
    }

    fn touch(p: &Path, s: &str) {
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(p, s).unwrap();
    }

    #[test]
    fn v1_features_come_from_the_controllers_roots() {
        let t = tempfile::tempdir().unwrap();
        let (root, system) = (t.path().join("cg"), t.path().join("system"));
        touch(
            &root.join("memory/memory.oom_control"),
            "oom_kill_disable 0\n",
        );
        touch(&root.join("cpuset/cpuset.mems"), "0-1\n");
        touch(&root.join("cpuset/cpuset.cpus"), "0-7\n");
        touch(&root.join("blkio/blkio.throttle.read_bps_device"), "");
        touch(&root.join("blkio/blkio.bfq.io_serviced"), "");
        let s = SysInfo::read_at(&root, &system);
        assert!(!s.unified && s.oom_kill_disable && s.cpuset && s.blkio_weight_device);
        assert_eq!((s.cpus.as_str(), s.mems.as_str()), ("0-7", "0-1"));
        assert_eq!(s.blkio_throttle, [true, false, false, false]);
        let bare = SysInfo::read_at(&t.path().join("none"), &system);
        assert!(!bare.oom_kill_disable && !bare.cpuset && !bare.blkio_weight_device);
        assert_eq!((bare.cpus.as_str(), bare.mems.as_str()), ("0", "0"));
    }

    #[test]
    fn v2_features_come_from_the_root_controllers() {
        let t = tempfile::tempdir().unwrap();
        let (root, system) = (t.path().join("cg"), t.path().join("system"));
        touch(
            &root.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        );
        touch(&system.join("node/online"), "0-3\n");
        touch(&system.join("cpu/online"), "0-1\n");
        let s = SysInfo::read_at(&root, &system);
        assert!(s.unified && !s.oom_kill_disable && s.cpuset && s.blkio_weight_device);
        assert_eq!(s.blkio_throttle, [true; 4]);
        assert_eq!((s.cpus.as_str(), s.mems.as_str()), ("0-1", "0-3"));
        touch(&root.join("cgroup.controllers"), "memory pids\n");
        touch(&root.join("cpuset.mems.effective"), "0\n");
        let s = SysInfo::read_at(&root, &system);
        assert!(!s.cpuset && !s.blkio_weight_device);
        assert_eq!(s.mems, "0");
    }
}
