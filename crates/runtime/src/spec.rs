//! Reading and checking config.json: one clear error naming the field, before anything is made.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};

/// Reads `<bundle>/config.json`. Errors name the JSON path of the bad field.
pub fn load(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let data = fs::read(&path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    // plain serde first (tracking the path costs a large config, e.g. one with Docker's seccomp
    // profile, about twice the time); on error parse again to name the field
    if let Ok(spec) = serde_json::from_slice::<Spec>(&data) {
        return Ok(spec);
    }
    let de = &mut serde_json::Deserializer::from_slice(&data);
    let spec: Spec = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        Error::Spec(format!("field {field}: {}", e.inner()))
    })?;
    Ok(spec)
}

/// Checks what serde cannot: required parts, absolute paths, namespace rules, unsupported fields.
pub fn validate(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let bad = |m: String| Err(Error::Spec(m));
    if spec.version().is_empty() {
        return bad("ociVersion is missing".into());
    }
    let Some(root) = spec.root() else {
        return bad("root is missing".into());
    };
    let rootfs = bundle.join(root.path());
    let rootfs = match rootfs.canonicalize() {
        Ok(p) if p.is_dir() => p,
        _ => return bad(format!("root.path {}: not a directory", rootfs.display())),
    };
    if rootfs == Path::new("/") {
        return bad("root.path must not be the host's /".into());
    }
    let Some(process) = spec.process() else {
        return bad("process is missing".into());
    };
    validate_process(process, "process")?;
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            return bad(format!(
                "mounts[{i}].destination {}: must be an absolute path",
                m.destination().display()
            ));
        }
    }
    let Some(linux) = spec.linux() else {
        return bad("linux is missing".into());
    };
    let mut seen = HashSet::new();
    let mut has_mount = false;
    let mut new_user = false;
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        if !seen.insert(ns.typ()) {
            return bad(format!(
                "linux.namespaces[{i}]: duplicate {} namespace",
                ns.typ()
            ));
        }
        if ns.typ() == LinuxNamespaceType::Mount {
            if ns.path().is_some() {
                return bad(format!(
                    "linux.namespaces[{i}]: joining a mount namespace by path is not supported"
                ));
            }
            has_mount = true;
        }
        if ns.typ() == LinuxNamespaceType::User && ns.path().is_none() {
            new_user = true;
        }
        if let Some(p) = ns.path()
            && !p.exists()
        {
            return bad(format!(
                "linux.namespaces[{i}].path {}: does not exist",
                p.display()
            ));
        }
    }
    if !has_mount {
        return bad("linux.namespaces: a mount namespace is required".into());
    }
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        && linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if new_user && !has_maps {
        return bad(
            "linux.uidMappings and linux.gidMappings are required with a new user namespace".into(),
        );
    }
    if !new_user && (linux.uid_mappings().is_some() && !seen.contains(&LinuxNamespaceType::User)) {
        return bad("linux.uidMappings given without a user namespace".into());
    }
    if let Some(r) = linux.resources() {
        for h in r.hugepage_limits().iter().flatten() {
            let ok = h.page_size().len() <= 8
                && h.page_size().ends_with('B')
                && h.page_size().chars().all(|c| c.is_ascii_alphanumeric());
            if !ok {
                return bad(format!(
                    "linux.resources.hugepageLimits: bad pageSize {:?}",
                    h.page_size()
                ));
            }
        }
        if r.rdma().as_ref().is_some_and(|h| !h.is_empty()) {
            return bad("linux.resources.rdma is not supported".into());
        }
        if r.network().as_ref().is_some_and(|n| {
            n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty())
        }) {
            return bad("linux.resources.network (net_cls/net_prio) is not supported".into());
        }
    }
    if linux.intel_rdt().is_some() {
        return bad("linux.intelRdt is not supported".into());
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return bad("linux.netDevices is not supported".into());
    }
    if linux.time_offsets().as_ref().is_some_and(|d| !d.is_empty()) {
        return bad("linux.timeOffsets is not supported".into());
    }
    // a joined namespace (a CRI pod's netns) is still the container's own, not the host's
    let own = |t: LinuxNamespaceType| linux.namespaces().iter().flatten().any(|n| n.typ() == t);
    for (k, _) in linux.sysctl().iter().flatten() {
        check_sysctl(k, own)?;
    }
    crate::rootfs::mountopts::root_propagation(linux.rootfs_propagation().as_deref())
        .map_err(Error::Spec)?;
    Ok(rootfs)
}

/// The namespace a sysctl belongs to (runc's rules): IPC for the System V IPC and mqueue keys,
/// network for `net.*`, UTS for the host and domain names; `None` for a malformed name or one
/// that would change the host.
pub fn sysctl_namespace(k: &str) -> Option<LinuxNamespaceType> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if !sysctl_name(k) {
        return None;
    }
    if IPC.contains(&k) || k.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if k.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if k == "kernel.hostname" || k == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

/// A dotted name a /proc/sys path can be made of.
fn sysctl_name(k: &str) -> bool {
    !(k.is_empty() || k.contains('/') || k.split('.').any(|p| p.is_empty() || p == ".."))
}

/// Only namespaced sysctls may be set, and only when the container has that namespace: any
/// other key would change the host (runc's rules).
fn check_sysctl(k: &str, has_ns: impl Fn(LinuxNamespaceType) -> bool) -> Result<()> {
    let bad = |why: &str| Err(Error::Spec(format!("linux.sysctl {k:?}: {why}")));
    if !sysctl_name(k) {
        return bad("not a sysctl name");
    }
    match sysctl_namespace(k) {
        Some(ns) if has_ns(ns) => Ok(()),
        Some(LinuxNamespaceType::Ipc) => bad("needs an ipc namespace"),
        Some(LinuxNamespaceType::Network) => bad("needs a network namespace"),
        Some(_) => bad("needs a uts namespace"),
        None => bad("not namespaced: it would change the host"),
    }
}

pub(crate) fn validate_process(p: &oci_spec::runtime::Process, field: &str) -> Result<()> {
    let args = p.args().as_deref().unwrap_or(&[]);
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::Spec(format!("{field}.args must not be empty")));
    }
    if !p.cwd().is_absolute() {
        return Err(Error::Spec(format!(
            "{field}.cwd {:?}: must be an absolute path",
            p.cwd()
        )));
    }
    for e in p.env().iter().flatten() {
        if !e.contains('=') {
            return Err(Error::Spec(format!("{field}.env {e:?}: not KEY=value")));
        }
    }
    Ok(())
}

/// The config.json that `berth-runtime spec` writes (runc's defaults).
pub fn default_spec(rootless: bool) -> Spec {
    let mut spec = if rootless {
        Spec::rootless(
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        )
    } else {
        Spec::default()
    };
    spec.set_hostname(Some("berth".into()));
    if let Some(root) = spec.root_mut() {
        root.set_path(PathBuf::from("rootfs"));
        root.set_readonly(Some(true));
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_field_is_named() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("config.json"),
            r#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":"zero","gid":0},"args":["sh"]}}"#,
        )
        .unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("process.user.uid"), "{err}");
    }

    #[test]
    fn only_namespaced_sysctls_pass() {
        let all = |_: LinuxNamespaceType| true;
        let none = |_: LinuxNamespaceType| false;
        assert!(check_sysctl("net.ipv4.ip_forward", all).is_ok());
        assert!(check_sysctl("kernel.shmmax", all).is_ok());
        assert!(check_sysctl("fs.mqueue.msg_max", all).is_ok());
        assert!(check_sysctl("net.ipv4.ip_forward", none).is_err());
        assert!(
            check_sysctl("kernel.panic", all)
                .unwrap_err()
                .to_string()
                .contains("host")
        );
        assert!(check_sysctl("net/../kernel", all).is_err());
    }

    #[test]
    fn validation_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("rootfs")).unwrap();
        let mut spec = default_spec(false);
        assert!(validate(&spec, dir.path()).is_ok());
        spec.process_mut()
            .as_mut()
            .unwrap()
            .set_cwd("relative".into());
        let err = validate(&spec, dir.path()).unwrap_err().to_string();
        assert!(err.contains("process.cwd"), "{err}");
        let mut v = serde_json::to_value(default_spec(false)).unwrap();
        v["linux"]["resources"]["hugepageLimits"] =
            serde_json::json!([{"pageSize": "../2MB", "limit": 1}]);
        let spec: Spec = serde_json::from_value(v).unwrap();
        let err = validate(&spec, dir.path()).unwrap_err().to_string();
        assert!(err.contains("hugepageLimits"), "{err}");
        let mut spec = default_spec(false);
        spec.root_mut().as_mut().unwrap().set_path("missing".into());
        assert!(
            validate(&spec, dir.path())
                .unwrap_err()
                .to_string()
                .contains("root.path")
        );
    }
}
