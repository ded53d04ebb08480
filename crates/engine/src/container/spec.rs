//! The OCI runtime config (`config.json`) for a container, with Docker's defaults: its
//! capability set, seccomp profile (`seccomp.rs`), masked and read-only paths, /dev, /dev/shm,
//! the generated /etc files, binds, tmpfs and cgroup limits.

use std::path::Path;

use serde_json::{Value, json};

use super::record::ContainerRecord;
use crate::error::{Error, Result};
use crate::model::HostConfig;

const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub(crate) const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
pub(crate) const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn cap_name(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// The container's capability set (Docker's default, CapDrop then CapAdd; all when privileged).
pub fn capabilities(hc: &HostConfig) -> Vec<String> {
    if hc.privileged {
        return ALL_CAPS.iter().map(|s| s.to_string()).collect();
    }
    let mut caps: Vec<String> = DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
    for c in hc.cap_drop.iter().flatten() {
        let n = cap_name(c);
        if n == "CAP_ALL" {
            caps.clear();
        } else {
            caps.retain(|x| *x != n);
        }
    }
    for c in hc.cap_add.iter().flatten() {
        let n = cap_name(c);
        if n == "CAP_ALL" {
            caps = ALL_CAPS.iter().map(|s| s.to_string()).collect();
        } else if !caps.contains(&n) {
            caps.push(n);
        }
    }
    caps
}

/// Docker's env: the image's and the user's, `PATH` defaulted, `HOSTNAME`, `TERM` with a tty.
pub fn process_env(rec: &ContainerRecord, hostname: &str) -> Vec<String> {
    let mut env: Vec<String> = vec![];
    let mut set = |kv: &str| {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.to_string());
    };
    set("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    set(&format!("HOSTNAME={hostname}"));
    if rec.config.tty {
        set("TERM=xterm");
    }
    for e in &rec.config.env {
        set(e);
    }
    env
}

fn bind_mount(dest: &str, src: &str, opts: &[&str]) -> Value {
    let mut o = vec!["rbind".to_string()];
    o.extend(opts.iter().map(|s| s.to_string()));
    json!({"destination": dest, "type": "bind", "source": src, "options": o})
}

/// Parses a `-v src:dst[:opts]` bind (named volumes are not binds: `src` must be absolute).
pub fn parse_bind(spec: &str) -> Result<(String, String, bool)> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => {
            return Err(Error::InvalidParameter(format!(
                "invalid volume specification: '{spec}'"
            )));
        }
    };
    if !dst.starts_with('/') {
        return Err(Error::InvalidParameter(format!(
            "invalid volume specification: '{spec}': invalid mount config for type \"bind\": invalid mount path: '{dst}' mount path must be absolute"
        )));
    }
    let ro = opts.split(',').any(|o| o == "ro");
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        if ![
            "ro", "rw", "z", "Z", "rprivate", "private", "rshared", "shared", "rslave", "slave",
            "nocopy",
        ]
        .contains(&o)
        {
            return Err(Error::InvalidParameter(format!("invalid mode: {o}")));
        }
    }
    Ok((src.to_string(), dst.to_string(), ro))
}

/// The OCI mount of a `HostConfig.Mounts` bind or tmpfs (volumes come resolved through
/// `volume_mounts`), with moby's options: the bind's propagation (rprivate by default), `ro`,
/// `bind` instead of `rbind` for `NonRecursive`; tmpfs `nosuid,nodev,noexec` then its size, mode
/// and options.
fn spec_mount(m: &crate::model::Mount) -> Result<Option<Value>> {
    let dst = crate::volumes::clean_path(&m.target);
    match m.kind.as_str() {
        "bind" => {
            let b = m.bind_options.clone().unwrap_or_default();
            // checked at create already; the source may have gone since (moby checks again)
            if !Path::new(&m.source).exists() {
                if !b.create_mountpoint {
                    return Err(Error::InvalidParameter(format!(
                        "invalid mount config for type \"bind\": bind source path does not exist: {}",
                        m.source
                    )));
                }
                std::fs::create_dir_all(&m.source)
                    .map_err(|e| Error::io(format!("create bind source {}", m.source), e))?;
            }
            let mut o = vec![if b.non_recursive { "bind" } else { "rbind" }.to_string()];
            o.push(if b.propagation.is_empty() {
                "rprivate".into()
            } else {
                b.propagation
            });
            if m.read_only {
                o.push("ro".into());
            }
            Ok(Some(
                json!({"destination": dst, "type": "bind", "source": m.source, "options": o}),
            ))
        }
        "tmpfs" => {
            let mut o: Vec<String> = vec!["nosuid".into(), "nodev".into(), "noexec".into()];
            let data = tmpfs_options(m).map_err(Error::InvalidParameter)?;
            o.extend(data.split(',').filter(|s| !s.is_empty()).map(str::to_owned));
            Ok(Some(
                json!({"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": o}),
            ))
        }
        _ => Ok(None),
    }
}

/// moby's `setMounts`: a shared bind needs the rootfs rshared (so mounts made in the
/// container reach the host and back), a slave bind rslave (the runtime's default too), so
/// that host mounts made later below its source reach the container.
fn rootfs_propagation(hc: &HostConfig) -> Option<&'static str> {
    let props: Vec<&str> = hc
        .mounts
        .iter()
        .flatten()
        .filter(|m| m.kind == "bind")
        .filter_map(|m| m.bind_options.as_ref())
        .map(|o| o.propagation.as_str())
        .collect();
    if props.iter().any(|p| *p == "shared" || *p == "rshared") {
        Some("rshared")
    } else if props.iter().any(|p| *p == "slave" || *p == "rslave") {
        Some("rslave")
    } else {
        None
    }
}

/// moby's `ConvertTmpfsOptions`: `ro`, `mode=<octal>`, `size=<n>[kmg]` (the largest unit that
/// divides evenly) and the `exec`/`noexec` options, comma-joined.
pub fn tmpfs_options(m: &crate::model::Mount) -> std::result::Result<String, String> {
    let mut raw: Vec<String> = vec![];
    if m.read_only {
        raw.push("ro".into());
    }
    let t = m.tmpfs_options.clone().unwrap_or_default();
    if t.mode != 0 {
        raw.push(format!("mode={:o}", t.mode));
    }
    if t.size_bytes < 0 {
        return Err(format!("invalid tmpfs size: {}", t.size_bytes));
    }
    if t.size_bytes != 0 {
        let (mut size, mut suffix) = (t.size_bytes, "");
        for (s, d) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
            if size % d == 0 {
                size /= d;
                suffix = s;
                break;
            }
        }
        raw.push(format!("size={size}{suffix}"));
    }
    for opt in t.options.iter().flatten() {
        match opt.as_slice() {
            [k] | [k, _] if k == "exec" || k == "noexec" => raw.push(opt.join("=")),
            [k] | [k, _] => return Err(format!("invalid option: {k}")),
            _ => return Err("invalid option array length".into()),
        }
    }
    Ok(raw.join(","))
}

/// The OCI `linux.resources` of a HostConfig, as moby builds them (`getMemoryResources` with
/// OomKillDisable, `getCPUResources` with CpusetMems, `getPidsLimit`, blkio weight; the
/// per-device blkio limits need the devices resolved, `blkio.rs`): used for the bundle at start and for
/// `update` on a running container, so both apply the same rules. Zero means "not set";
/// `MemorySwap` -1 and `PidsLimit` <= 0 mean unlimited (passed on, so an update lifts a limit).
pub fn linux_resources(hc: &HostConfig) -> Value {
    let mut r = json!({});
    let mut memory = json!({});
    if hc.memory > 0 {
        memory["limit"] = json!(hc.memory);
    }
    if hc.memory_reservation > 0 {
        memory["reservation"] = json!(hc.memory_reservation);
    }
    if hc.memory_swap != 0 {
        memory["swap"] = json!(hc.memory_swap);
    }
    if hc.extra.get("OomKillDisable") == Some(&Value::Bool(true)) {
        memory["disableOOMKiller"] = json!(true);
    }
    if memory.as_object().is_some_and(|o| !o.is_empty()) {
        r["memory"] = memory;
    }
    let mut cpu = json!({});
    if hc.cpu_shares > 0 {
        cpu["shares"] = json!(hc.cpu_shares);
    }
    if hc.nano_cpus > 0 {
        cpu["period"] = json!(100_000);
        cpu["quota"] = json!(hc.nano_cpus * 100_000 / 1_000_000_000);
    } else {
        if hc.cpu_quota != 0 {
            cpu["quota"] = json!(hc.cpu_quota);
        }
        if hc.cpu_period > 0 {
            cpu["period"] = json!(hc.cpu_period);
        }
    }
    if !hc.cpuset_cpus.is_empty() {
        cpu["cpus"] = json!(hc.cpuset_cpus);
    }
    if let Some(mems) = super::hostopts::string(hc, "CpusetMems")
        .ok()
        .filter(|m| !m.is_empty())
    {
        cpu["mems"] = json!(mems);
    }
    if cpu.as_object().is_some_and(|o| !o.is_empty()) {
        r["cpu"] = cpu;
    }
    if let Some(p) = hc.pids_limit {
        r["pids"] = json!({"limit": if p > 0 { p } else { -1 }});
    }
    if hc.blkio_weight > 0 {
        r["blockIO"] = json!({"weight": hc.blkio_weight});
    }
    r
}

/// moby's `verifyPlatformContainerResources` rules on memory and blkio, shared by create and
/// update (`update` allows a swap limit without a memory limit, create does not).
pub fn check_memory_and_blkio(hc: &HostConfig, update: bool) -> Result<()> {
    let bad = |m: &str| Err(Error::InvalidParameter(m.to_string()));
    if hc.memory > 0 && hc.memory < MIN_MEMORY {
        return bad("Minimum memory limit allowed is 6MB");
    }
    if hc.memory > 0 && hc.memory_swap > 0 && hc.memory_swap < hc.memory {
        return bad("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    if hc.memory == 0 && hc.memory_swap > 0 && !update {
        return bad(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        );
    }
    if hc.memory_reservation < 0 {
        return bad("invalid MemoryReservation: must not be negative");
    }
    if hc.memory_reservation > 0 && hc.memory_reservation < MIN_MEMORY {
        return bad("Minimum memory reservation allowed is 6MB");
    }
    if hc.memory > 0 && hc.memory_reservation > 0 && hc.memory < hc.memory_reservation {
        return bad(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        );
    }
    if hc.blkio_weight > 0 && !(10..=1000).contains(&hc.blkio_weight) {
        return bad("Range of blkio weight is from 10 to 1000");
    }
    Ok(())
}

/// Docker's smallest memory limit and reservation (moby `linuxMinMemory`).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// The container's `config.json`. `etc_dir` holds the generated hosts, hostname, resolv.conf;
/// `volume_mounts` are (source dir, destination, read-only) already resolved by the engine.
pub fn oci_config(
    rec: &ContainerRecord,
    etc_dir: &Path,
    volume_mounts: &[(String, String, bool)],
    netns: Option<&Path>,
    init: Option<&Path>,
    seccomp: &super::seccomp::DaemonSeccomp,
    joins: &super::shared_ns::Joins,
) -> Result<Value> {
    let cfg = &rec.config;
    let hc = &rec.host_config;
    let hostname = if cfg.hostname.is_empty() {
        rec.id[..12].to_string()
    } else {
        cfg.hostname.clone()
    };
    let mut args = vec![rec.path.clone()];
    args.extend(rec.args.iter().cloned());
    if hc.init == Some(true) {
        args.splice(0..0, ["/dev/init".to_string(), "--".to_string()]);
    }
    let caps = capabilities(hc);
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]}),
    ];
    if hc.init == Some(true) {
        // as dockerd does with docker-init: the binary read-only at /dev/init, run as pid 1
        let init =
            init.ok_or_else(|| Error::InvalidParameter("no init binary found for --init".into()))?;
        mounts.push(bind_mount(
            "/dev/init",
            &init.to_string_lossy(),
            &["rprivate", "ro"],
        ));
    }
    for f in ["hosts", "hostname", "resolv.conf"] {
        let src = etc_dir.join(f);
        if src.exists() {
            mounts.push(bind_mount(
                &format!("/etc/{f}"),
                &src.to_string_lossy(),
                &["rprivate"],
            ));
        }
    }
    let mut user = vec![];
    for (src, dst, ro) in volume_mounts {
        let opts: &[&str] = if *ro {
            &["rprivate", "ro"]
        } else {
            &["rprivate"]
        };
        user.push(bind_mount(dst, src, opts));
    }
    for (dst, opts) in hc.tmpfs.iter().flatten() {
        let mut o: Vec<String> = vec!["nosuid".into(), "nodev".into(), "noexec".into()];
        o.extend(opts.split(',').filter(|s| !s.is_empty()).map(str::to_owned));
        user.push(json!({"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": o}));
    }
    for m in hc.mounts.iter().flatten() {
        if let Some(v) = spec_mount(m)? {
            user.push(v);
        }
    }
    // as moby's `sortMounts`: a parent before what is mounted below it
    user.sort_by_key(|m| {
        m["destination"]
            .as_str()
            .map(|d| crate::volumes::clean_path(d).matches('/').count())
            .unwrap_or(0)
    });
    mounts.extend(user);
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    match (hc.network_mode.as_str(), netns) {
        ("host", _) => {}
        (_, Some(p)) => namespaces.push(json!({"type": "network", "path": p})),
        _ => namespaces.push(json!({"type": "network"})),
    }
    let mut resources = linux_resources(hc);
    if !hc.privileged {
        // as Docker's default spec: every device denied, then the runtime's defaults (null,
        // zero, full, random, urandom, tty, console, ptmx, pts, tun) and `--device`s allowed;
        // without it a container could mknod and open any host device
        resources["devices"] = json!([{"allow": false, "access": "rwm"}]);
    }
    let security =
        super::seccomp::parse_security_opts(hc.security_opt.as_deref().unwrap_or_default())?;
    let mut rlimits = vec![];
    for u in hc.ulimits.iter().flatten() {
        let name = u.get("Name").and_then(|v| v.as_str()).unwrap_or_default();
        let soft = u.get("Soft").and_then(|v| v.as_i64()).unwrap_or(0);
        let hard = u.get("Hard").and_then(|v| v.as_i64()).unwrap_or(0);
        if name.is_empty() {
            return Err(Error::InvalidParameter("ulimit without a name".into()));
        }
        rlimits.push(json!({"type": format!("RLIMIT_{}", name.to_ascii_uppercase()), "soft": soft, "hard": hard}));
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "cgroupsPath": match super::hostopts::cgroup_parent(hc)? {
            Some(parent) => format!("{}/{}", parent.trim_end_matches('/'), rec.id),
            None => format!("/berth/{}", rec.id),
        },
        "resources": resources,
    });
    if let Some(p) = rootfs_propagation(hc) {
        linux["rootfsPropagation"] = json!(p);
    }
    if !hc.privileged {
        let or_default = |v: &Option<Vec<String>>, d: &[&str]| -> Vec<String> {
            v.clone()
                .unwrap_or_else(|| d.iter().map(|p| p.to_string()).collect())
        };
        linux["maskedPaths"] = json!(or_default(&hc.masked_paths, MASKED));
        linux["readonlyPaths"] = json!(or_default(&hc.readonly_paths, READONLY));
    }
    if let Some(s) = super::seccomp::linux_seccomp(hc, &caps, seccomp)? {
        linux["seccomp"] = s;
    }
    let opts = super::hostopts::parse(hc, &cfg.hostname)?;
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": cfg.tty,
            "consoleSize": hc.console_size.map(|[h, w]| json!({"height": h, "width": w})),
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": process_env(rec, &hostname),
            "cwd": if cfg.working_dir.is_empty() { "/".to_string() } else { cfg.working_dir.clone() },
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": rlimits,
            "noNewPrivileges": security.no_new_privileges,
        },
        "root": {"path": "rootfs", "readonly": hc.readonly_rootfs},
        "hostname": hostname,
        "mounts": mounts,
        "linux": linux,
    });
    super::hostopts::apply(&opts, &mut spec);
    super::shared_ns::apply(joins, &mut spec);
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_follow_mobys_rules() {
        let hc = HostConfig {
            memory_swap: 128 << 20,
            pids_limit: Some(0),
            memory_reservation: 16 << 20,
            blkio_weight: 300,
            nano_cpus: 1_500_000_000,
            cpuset_cpus: "0".into(),
            extra: json!({"OomKillDisable": true, "CpusetMems": "0"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..Default::default()
        };
        let r = linux_resources(&hc);
        assert_eq!(
            r["memory"],
            json!({"swap": 128 << 20, "reservation": 16 << 20, "disableOOMKiller": true})
        );
        assert_eq!(r["pids"]["limit"], -1);
        assert_eq!(r["blockIO"]["weight"], 300);
        assert_eq!(
            r["cpu"],
            json!({"period": 100_000, "quota": 150_000, "cpus": "0", "mems": "0"})
        );
        assert!(
            linux_resources(&HostConfig::default())
                .as_object()
                .unwrap()
                .is_empty()
        );
        assert!(check_memory_and_blkio(&hc, true).is_ok());
        assert!(check_memory_and_blkio(&hc, false).is_err());
    }

    fn mount(j: &str) -> crate::model::Mount {
        serde_json::from_str(j).unwrap()
    }

    #[test]
    fn tmpfs_options_read_like_mobys() {
        let m = mount(
            r#"{"Type":"tmpfs","Target":"/t","ReadOnly":true,"TmpfsOptions":{"SizeBytes":1048576,"Mode":1016,"Options":[["exec"]]}}"#,
        );
        assert_eq!(tmpfs_options(&m).unwrap(), "ro,mode=1770,size=1m,exec");
        let m = mount(r#"{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1000}}"#);
        assert_eq!(tmpfs_options(&m).unwrap(), "size=1000");
        let m = mount(r#"{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":3221225472}}"#);
        assert_eq!(tmpfs_options(&m).unwrap(), "size=3g");
        let m =
            mount(r#"{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"Options":[["a","b","c"]]}}"#);
        assert_eq!(
            tmpfs_options(&m).unwrap_err(),
            "invalid option array length"
        );
        let m = mount(r#"{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":-1}}"#);
        assert!(tmpfs_options(&m).is_err());
    }

    #[test]
    fn bind_mounts_carry_propagation_and_recursion() {
        let m = mount(
            r#"{"Type":"bind","Source":"/tmp","Target":"/d/","ReadOnly":true,"BindOptions":{"Propagation":"rshared","NonRecursive":true}}"#,
        );
        assert_eq!(
            spec_mount(&m).unwrap().unwrap(),
            json!({"destination": "/d", "type": "bind", "source": "/tmp", "options": ["bind", "rshared", "ro"]})
        );
        let m = mount(r#"{"Type":"bind","Source":"/tmp","Target":"/d"}"#);
        assert_eq!(
            spec_mount(&m).unwrap().unwrap()["options"],
            json!(["rbind", "rprivate"])
        );
        assert!(
            spec_mount(&mount(r#"{"Type":"volume","Target":"/v"}"#))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn binds_parse_and_bad_ones_are_named() {
        assert_eq!(
            parse_bind("/a:/b:ro").unwrap(),
            ("/a".into(), "/b".into(), true)
        );
        assert!(
            parse_bind("/a")
                .unwrap_err()
                .to_string()
                .contains("invalid volume specification")
        );
        assert!(
            parse_bind("/a:rel")
                .unwrap_err()
                .to_string()
                .contains("must be absolute")
        );
        assert!(
            parse_bind("/a:/b:bogus")
                .unwrap_err()
                .to_string()
                .contains("invalid mode: bogus")
        );
    }
}
