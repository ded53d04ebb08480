//! The HostConfig fields the model keeps as they came (`HostConfig.extra`): those applied to
//! the OCI spec here (Devices, ShmSize, Sysctls, OomScoreAdj, MemorySwappiness, PidMode,
//! IpcMode and UTSMode `host` (`container:` ones are joined by `shared_ns.rs`), CgroupnsMode
//! `private` (a cgroup namespace of its own; `host`, the default on cgroup v1 as moby's, keeps
//! the host's), CgroupParent, DeviceCgroupRules, the per-device block I/O limits
//! (`blkio.rs`); GroupAdd is checked here and resolved by the monitor in the container's
//! /etc/group; OomKillDisable and CpusetMems go into `spec::linux_resources`; moby's
//! create-time adjustments to what the host's cgroups can do are
//! `sysinfo::verify_resources`), and those this daemon does not implement, which a create
//! refuses by name when they are set rather than ignoring them (a `--device` or a `--link` that silently
//! did nothing would be worse than an error). `VolumesFrom` is a model field, done in
//! `volumes_from.rs`; `Links` are done in `links.rs`.

use std::collections::BTreeMap;

use oci_spec::runtime::LinuxNamespaceType;
use serde_json::{Value, json};

use super::blkio::BlkioDevices;
use super::devices::{Device, DeviceRule, device_rules, devices};
use crate::error::{Error, Result};
use crate::model::HostConfig;

/// Fields a create refuses when set (not null, "", 0, false, [] or {}).
const UNSUPPORTED: &[&str] = &[
    "DeviceRequests",
    "Cgroup",
    "VolumeDriver",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpuCount",
    "StorageOpt",
];

/// Docker's /dev/shm size when ShmSize is 0.
pub(crate) const DEFAULT_SHM: i64 = 64 << 20;

#[derive(Debug, Default, PartialEq)]
pub struct HostOpts {
    pub devices: Vec<Device>,
    pub device_rules: Vec<DeviceRule>,
    pub shm_size: i64,
    pub sysctls: BTreeMap<String, String>,
    pub oom_score_adj: i64,
    pub swappiness: Option<i64>,
    pub host_pid: bool,
    pub host_ipc: bool,
    pub host_uts: bool,
    /// CgroupnsMode `private`: a cgroup namespace of its own.
    pub private_cgroupns: bool,
    pub blkio: BlkioDevices,
}

pub(super) fn unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn int(hc: &HostConfig, key: &str) -> Result<Option<i64>> {
    match hc.extra.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| Error::InvalidParameter(format!("HostConfig.{key}: not an integer"))),
    }
}

pub(super) fn string<'a>(hc: &'a HostConfig, key: &str) -> Result<&'a str> {
    match hc.extra.get(key) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Error::InvalidParameter(format!(
            "HostConfig.{key}: not a string"
        ))),
    }
}

/// `HostConfig.GroupAdd` (`--group-add`): group names or numeric IDs, resolved in the
/// container's /etc/group at start, as Docker does.
pub fn group_add(hc: &HostConfig) -> Result<Vec<String>> {
    let Some(v) = hc.extra.get("GroupAdd").filter(|v| !v.is_null()) else {
        return Ok(vec![]);
    };
    let bad = || Error::InvalidParameter("HostConfig.GroupAdd must be a list of strings".into());
    let mut out = vec![];
    for g in v.as_array().ok_or_else(bad)? {
        let g = g.as_str().ok_or_else(bad)?;
        if g.is_empty() || g.contains(':') || g.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::InvalidParameter(format!(
                "invalid group name {g:?} in GroupAdd"
            )));
        }
        out.push(g.to_string());
    }
    Ok(out)
}

/// `HostConfig.CgroupParent` (`--cgroup-parent`): the cgroup the container's goes under, as
/// dockerd's cgroupfs driver (`filepath.Join(parent, id)`; a relative one is taken from the
/// root, as berth-runtime does). No `..`, no systemd `slice:prefix:name` form, no control
/// characters. None when unset.
pub fn cgroup_parent(hc: &HostConfig) -> Result<Option<String>> {
    let p = string(hc, "CgroupParent")?;
    if p.is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| {
        Err(Error::InvalidParameter(format!(
            "invalid CgroupParent {p:?}: {why}"
        )))
    };
    if p.split('/').any(|c| c == "..") {
        return bad("must not contain '..'");
    }
    if p.contains(':') {
        return bad("systemd slice syntax is not supported (cgroupfs driver)");
    }
    if p.chars().any(|c| c.is_control()) || p.len() > 1024 {
        return bad("not a cgroup path");
    }
    let clean = crate::volumes::clean_path(p);
    Ok(Some(clean.trim_start_matches("./").to_string()))
}

/// Reads and checks the fields (moby's messages where moby has one); `hostname` is the
/// Config.Hostname the client asked for.
pub fn parse(hc: &HostConfig, hostname: &str) -> Result<HostOpts> {
    let bad = |m: String| Err(Error::InvalidParameter(m));
    group_add(hc)?;
    cgroup_parent(hc)?;
    for key in UNSUPPORTED {
        if let Some(v) = hc.extra.get(*key)
            && !unset(v)
        {
            return bad(format!("HostConfig.{key} is not supported by this daemon"));
        }
    }
    // moby's refusal on Linux (Windows-only QoS)
    if ["IOMaximumBandwidth", "IOMaximumIOps"]
        .iter()
        .any(|k| hc.extra.get(*k).is_some_and(|v| !unset(v)))
    {
        return bad(
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps"
                .into(),
        );
    }
    match string(hc, "UsernsMode")? {
        "" | "host" => {}
        other => {
            return bad(format!(
                "HostConfig.UsernsMode {other:?} is not supported by this daemon"
            ));
        }
    }
    let private_cgroupns = match string(hc, "CgroupnsMode")? {
        "" | "host" => false,
        "private" => true,
        other => return bad(format!("invalid cgroup namespace mode: {other}")),
    };
    if !matches!(
        hc.extra.get("OomKillDisable"),
        None | Some(Value::Null | Value::Bool(_))
    ) {
        return bad("HostConfig.OomKillDisable: not a boolean".into());
    }
    string(hc, "CpusetMems")?;
    match string(hc, "Runtime")? {
        "" | "runc" | "berth" => {}
        other => return bad(format!("unknown or invalid runtime name: {other}")),
    }
    match string(hc, "Isolation")? {
        "" | "default" => {}
        other => {
            return bad(format!(
                "Invalid isolation: {other:?} - linux only supports 'default'"
            ));
        }
    }
    let mut o = HostOpts {
        devices: devices(hc)?,
        device_rules: device_rules(hc)?,
        shm_size: int(hc, "ShmSize")?.unwrap_or(0),
        private_cgroupns,
        blkio: super::blkio::parse(hc)?,
        ..Default::default()
    };
    if o.shm_size < 0 {
        return bad("SHM size can not be less than 0".into());
    }
    o.oom_score_adj = int(hc, "OomScoreAdj")?.unwrap_or(0);
    if !(-1000..=1000).contains(&o.oom_score_adj) {
        return bad(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            o.oom_score_adj
        ));
    }
    o.swappiness = match int(hc, "MemorySwappiness")? {
        None | Some(-1) => None,
        Some(v @ 0..=100) => Some(v),
        Some(v) => {
            return bad(format!(
                "Invalid value: {v}, valid memory swappiness range is 0-100"
            ));
        }
    };
    use super::shared_ns::NsMode;
    let mode = |key: &str, extra: &[&str]| -> Result<bool> {
        Ok(NsMode::parse(key, string(hc, key)?, extra)? == NsMode::Host)
    };
    o.host_pid = mode("PidMode", &[])?;
    o.host_ipc = mode("IpcMode", &["private", "shareable", "none"])?;
    o.host_uts = mode("UTSMode", &[])?;
    if o.host_uts && !hostname.is_empty() {
        return bad("Conflicting options: hostname and the UTS mode".into());
    }
    if let Some(v) = hc.extra.get("Sysctls").filter(|v| !v.is_null()) {
        let map = v
            .as_object()
            .ok_or_else(|| Error::InvalidParameter("HostConfig.Sysctls: not an object".into()))?;
        for (k, v) in map {
            let v = v.as_str().ok_or_else(|| {
                Error::InvalidParameter(format!("HostConfig.Sysctls {k}: not a string"))
            })?;
            // the IPC and network ones, as Docker (not the UTS ones: hostname and domainname
            // have their own fields)
            let ok = match berth_runtime::spec::sysctl_namespace(k) {
                Some(LinuxNamespaceType::Ipc) => !o.host_ipc,
                Some(LinuxNamespaceType::Network) => hc.network_mode != "host",
                _ => false,
            };
            if !ok || v.chars().any(char::is_control) {
                return bad(format!(
                    "sysctl {k:?} is not allowed: not in a namespace of the container's own"
                ));
            }
            o.sysctls.insert(k.clone(), v.to_string());
        }
    }
    Ok(o)
}

/// Applies the options to an OCI spec made for the defaults.
pub fn apply(o: &HostOpts, spec: &mut Value) {
    let shm = if o.shm_size > 0 {
        o.shm_size
    } else {
        DEFAULT_SHM
    };
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            if m["destination"] == "/dev/shm"
                && let Some(opts) = m["options"].as_array_mut()
            {
                opts.retain(|x| !x.as_str().is_some_and(|s| s.starts_with("size=")));
                opts.push(json!(format!("size={shm}")));
            }
        }
    }
    let drop: Vec<&str> = [
        (o.host_pid, "pid"),
        (o.host_ipc, "ipc"),
        (o.host_uts, "uts"),
    ]
    .into_iter()
    .filter_map(|(host, t)| host.then_some(t))
    .collect();
    if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| !n["type"].as_str().is_some_and(|t| drop.contains(&t)));
    }
    if o.host_uts
        && let Some(s) = spec.as_object_mut()
    {
        s.remove("hostname");
    }
    if !o.sysctls.is_empty() {
        spec["linux"]["sysctl"] = json!(o.sysctls);
    }
    for d in &o.devices {
        push(
            &mut spec["linux"]["devices"],
            json!({"path": d.path, "type": d.kind, "major": d.major, "minor": d.minor,
                "fileMode": d.mode, "uid": d.uid, "gid": d.gid}),
        );
        push(
            &mut spec["linux"]["resources"]["devices"],
            json!({"allow": true, "type": d.kind, "major": d.major, "minor": d.minor,
                "access": d.access}),
        );
    }
    for r in &o.device_rules {
        // moby: -1 for `*`
        push(
            &mut spec["linux"]["resources"]["devices"],
            json!({"allow": true, "type": r.kind, "major": r.major.unwrap_or(-1),
                "minor": r.minor.unwrap_or(-1), "access": r.access}),
        );
    }
    if o.oom_score_adj != 0 {
        spec["process"]["oomScoreAdj"] = json!(o.oom_score_adj);
    }
    if let Some(s) = o.swappiness {
        spec["linux"]["resources"]["memory"]["swappiness"] = json!(s);
    }
    if o.private_cgroupns {
        push(&mut spec["linux"]["namespaces"], json!({"type": "cgroup"}));
    }
    super::blkio::apply(&o.blkio, spec);
}

/// Appends to a JSON list, making it when absent.
fn push(list: &mut Value, v: Value) {
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(a) = list.as_array_mut() {
        a.push(v);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A HostConfig whose kept-as-is fields (`extra`) are `extra`'s; the other HostConfig
    /// tests of this crate use it too.
    pub(crate) fn hc(extra: Value) -> HostConfig {
        HostConfig {
            extra: extra.as_object().cloned().unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn the_clis_defaults_are_accepted_and_change_nothing() {
        let h = hc(
            json!({"Devices": [], "GroupAdd": null, "Links": null, "CgroupParent": "",
            "OomKillDisable": false, "CpusetMems": "", "MemorySwappiness": -1, "ShmSize": 0,
            "OomScoreAdj": 0, "PidMode": "", "IpcMode": "", "UTSMode": "", "UsernsMode": "",
            "CgroupnsMode": "", "Isolation": "", "BlkioDeviceReadBps": [], "CpuCount": 0}),
        );
        assert_eq!(parse(&h, "").unwrap(), HostOpts::default());
    }

    #[test]
    fn set_fields_are_applied_or_refused_by_name() {
        let o = parse(
            &hc(
                json!({"ShmSize": 1048576, "PidMode": "host", "OomScoreAdj": 300,
                "Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"},
                "MemorySwappiness": 10}),
            ),
            "",
        )
        .unwrap();
        let mut spec = json!({"hostname": "h", "process": {},
            "mounts": [{"destination": "/dev/shm", "options": ["nosuid", "size=67108864"]}],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "uts"}], "resources": {}}});
        apply(&o, &mut spec);
        assert_eq!(
            spec["mounts"][0]["options"],
            json!(["nosuid", "size=1048576"])
        );
        assert_eq!(spec["linux"]["namespaces"], json!([{"type": "uts"}]));
        assert_eq!(spec["hostname"], "h");
        assert_eq!(spec["process"]["oomScoreAdj"], 300);
        assert_eq!(spec["linux"]["sysctl"]["kernel.shmmax"], "1000");
        assert_eq!(spec["linux"]["resources"]["memory"]["swappiness"], 10);
        let e = |v: Value, host: &str| parse(&hc(v), host).unwrap_err().to_string();
        assert!(
            e(json!({"Devices": [{"PathOnHost": "/etc/hostname"}]}), "")
                .contains("not a device node")
        );
        assert!(
            e(
                json!({"Devices": [{"PathOnHost": "/dev/null", "CgroupPermissions": "rx"}]}),
                ""
            )
            .contains("invalid device mode")
        );
        let o = parse(
            &hc(json!({"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n2"}]})),
            "",
        )
        .unwrap();
        let d = &o.devices[0];
        assert_eq!((d.kind, d.major, d.minor), ("c", 1, 3));
        assert_eq!((d.path.as_str(), d.access.as_str()), ("/dev/n2", "rwm"));
        assert!(e(json!({"GroupAdd": ["a b"]}), "").contains("invalid group name"));
        assert!(e(json!({"GroupAdd": [5]}), "").contains("list of strings"));
        assert!(e(json!({"ShmSize": -1}), "").contains("SHM size can not be less than 0"));
        assert!(e(json!({"OomScoreAdj": 1001}), "").contains("range for oom score adj"));
        assert!(e(json!({"MemorySwappiness": 101}), "").contains("swappiness range is 0-100"));
        assert!(e(json!({"PidMode": "container:"}), "").contains("invalid PidMode"));
        assert!(e(json!({"IpcMode": "bogus"}), "").contains("invalid IpcMode"));
        assert!(e(json!({"UTSMode": "host"}), "myhost").contains("Conflicting options"));
        assert!(e(json!({"Sysctls": {"kernel.panic": "1"}}), "").contains("kernel.panic"));
        assert!(
            e(
                json!({"Sysctls": {"kernel.shmmax": "1"}, "IpcMode": "host"}),
                ""
            )
            .contains("not allowed")
        );
        assert!(e(json!({"ShmSize": "big"}), "").contains("not an integer"));
    }

    #[test]
    fn device_cgroup_rules_parse_as_mobys() {
        let o = parse(
            &hc(json!({"DeviceCgroupRules": ["c 1:3 rwm", "a *:* r", "b 8:* mw"]})),
            "",
        )
        .unwrap();
        let r = &o.device_rules;
        assert_eq!(
            (
                r[0].kind.as_str(),
                r[0].major,
                r[0].minor,
                r[0].access.as_str()
            ),
            ("c", Some(1), Some(3), "rwm")
        );
        assert_eq!((r[1].major, r[1].minor), (None, None));
        assert_eq!((r[2].major, r[2].minor), (Some(8), None));
        let mut spec = json!({"linux": {"resources": {"devices": [{"allow": false}]}}});
        apply(&o, &mut spec);
        assert_eq!(
            spec["linux"]["resources"]["devices"][2],
            json!({"allow": true, "type": "a", "major": -1, "minor": -1, "access": "r"})
        );
        let e = |v: Value| parse(&hc(v), "").unwrap_err().to_string();
        for bad in [
            "x 1:3 rwm",
            "c 1:3",
            "c 1 rwm",
            "c 1:3 rwx",
            "c 1:3 rwmr",
            "c -1:3 r",
            "c  1:3 r",
            "c 1:3 r ",
        ] {
            assert_eq!(
                e(json!({ "DeviceCgroupRules": [bad] })),
                format!("invalid device cgroup rule format: '{bad}'")
            );
        }
        assert!(
            e(json!({"DeviceCgroupRules": ["c 99999999999999999999:1 r"]}))
                .contains("invalid major value")
        );
        assert!(e(json!({"DeviceCgroupRules": "c 1:3 r"})).contains("list of strings"));
    }

    #[test]
    fn cgroupns_private_adds_the_namespace() {
        let o = parse(&hc(json!({"CgroupnsMode": "private"})), "").unwrap();
        assert!(o.private_cgroupns);
        let mut spec = json!({"linux": {"namespaces": [{"type": "pid"}]}});
        apply(&o, &mut spec);
        assert_eq!(
            spec["linux"]["namespaces"],
            json!([{"type": "pid"}, {"type": "cgroup"}])
        );
        assert!(
            !parse(&hc(json!({"CgroupnsMode": "host"})), "")
                .unwrap()
                .private_cgroupns
        );
        assert_eq!(
            parse(&hc(json!({"CgroupnsMode": "bogus"})), "")
                .unwrap_err()
                .to_string(),
            "invalid cgroup namespace mode: bogus"
        );
    }

    #[test]
    fn windows_only_qos_is_refused_with_mobys_message() {
        assert!(
            parse(&hc(json!({"IOMaximumIOps": 10})), "")
                .unwrap_err()
                .to_string()
                .starts_with("Invalid QoS settings: linux does not support Maximum IO")
        );
    }

    #[test]
    fn cgroup_parents_are_paths_without_escapes() {
        let p = |v: Value| cgroup_parent(&hc(json!({ "CgroupParent": v })));
        assert_eq!(p(json!("/a/b/")).unwrap().as_deref(), Some("/a/b"));
        assert_eq!(p(json!("rel//x")).unwrap().as_deref(), Some("rel/x"));
        assert_eq!(p(json!("")).unwrap(), None);
        for bad in ["/a/../b", "..", "a.slice:docker:x", "a\nb"] {
            let e = p(json!(bad)).unwrap_err().to_string();
            assert!(e.contains("invalid CgroupParent"), "{bad}: {e}");
        }
        assert!(
            p(json!(3))
                .unwrap_err()
                .to_string()
                .contains("not a string")
        );
    }
}
