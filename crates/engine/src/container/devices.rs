//! Devices of a container's HostConfig: `Devices` (host device nodes given to the container)
//! and `DeviceCgroupRules` (extra device cgroup rules), read and checked as moby does;
//! `hostopts.rs` applies them to the spec.

use crate::error::{Error, Result};
use crate::model::HostConfig;

/// A host device given to the container (`--device HOST[:CONTAINER[:PERMS]]`).
#[derive(Debug, PartialEq)]
pub struct Device {
    pub path: String,
    /// `c` or `b`.
    pub kind: &'static str,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The device cgroup access: a subset of `rwm`.
    pub access: String,
}

/// One `--device-cgroup-rule`: type `a`, `b` or `c`, major and minor (None for `*`), access.
#[derive(Debug, PartialEq)]
pub struct DeviceRule {
    pub kind: String,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

/// `HostConfig.Devices` as moby's `WithDevices`: each host path must be a device node now (it is
/// read again at every start); the container path defaults to the host's, the cgroup access to
/// `rwm`.
pub(super) fn devices(hc: &HostConfig) -> Result<Vec<Device>> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Some(v) = hc
        .extra
        .get("Devices")
        .filter(|v| !super::hostopts::unset(v))
    else {
        return Ok(vec![]);
    };
    let bad = |m: String| Error::InvalidParameter(m);
    let list = v
        .as_array()
        .ok_or_else(|| bad("HostConfig.Devices: not a list".into()))?;
    let mut out = vec![];
    for d in list {
        let field = |k: &str| d.get(k).and_then(|x| x.as_str()).unwrap_or("");
        let host = field("PathOnHost");
        let inside = Some(field("PathInContainer"))
            .filter(|p| !p.is_empty())
            .unwrap_or(host);
        let access = Some(field("CgroupPermissions"))
            .filter(|p| !p.is_empty())
            .unwrap_or("rwm");
        if !access.chars().all(|c| "rwm".contains(c)) {
            return Err(bad(format!("invalid device mode: {access}")));
        }
        if !host.starts_with('/')
            || !inside.starts_with('/')
            || inside.split('/').any(|c| c == "..")
        {
            return Err(bad(format!("invalid device path: {host:?} -> {inside:?}")));
        }
        let gather = |why: String| {
            bad(format!(
                "error gathering device information while adding custom device {host:?}: {why}"
            ))
        };
        let md = std::fs::metadata(host).map_err(|e| gather(e.to_string()))?;
        let kind = if md.file_type().is_char_device() {
            "c"
        } else if md.file_type().is_block_device() {
            "b"
        } else {
            return Err(gather("not a device node".into()));
        };
        let rdev = md.rdev();
        out.push(Device {
            path: inside.to_string(),
            kind,
            major: libc::major(rdev) as u64,
            minor: libc::minor(rdev) as u64,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            access: access.to_string(),
        });
    }
    Ok(out)
}

/// `HostConfig.DeviceCgroupRules` as moby's `WithDevices`: each `TYPE MAJOR:MINOR ACCESS`
/// matching `^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`, with moby's messages.
pub(super) fn device_rules(hc: &HostConfig) -> Result<Vec<DeviceRule>> {
    let Some(v) = hc.extra.get("DeviceCgroupRules").filter(|v| !v.is_null()) else {
        return Ok(vec![]);
    };
    let bad = |m: String| Error::InvalidParameter(m);
    let list = v
        .as_array()
        .ok_or_else(|| bad("HostConfig.DeviceCgroupRules must be a list of strings".into()))?;
    let mut out = vec![];
    for r in list {
        let r = r
            .as_str()
            .ok_or_else(|| bad("HostConfig.DeviceCgroupRules must be a list of strings".into()))?;
        let format = || bad(format!("invalid device cgroup rule format: '{r}'"));
        let parts: Vec<&str> = r.split(' ').collect();
        let [kind, numbers, access] = parts.as_slice() else {
            return Err(format());
        };
        let (major, minor) = numbers.split_once(':').ok_or_else(format)?;
        let number = |n: &str, which: &str| -> Result<Option<i64>> {
            if n == "*" {
                return Ok(None);
            }
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format());
            }
            n.parse().map(Some).map_err(|_| {
                bad(format!(
                    "invalid {which} value in device cgroup rule format: '{r}'"
                ))
            })
        };
        let (major, minor) = (number(major, "major")?, number(minor, "minor")?);
        if !["a", "b", "c"].contains(kind)
            || !(1..=3).contains(&access.len())
            || !access.chars().all(|c| "rwm".contains(c))
        {
            return Err(format());
        }
        out.push(DeviceRule {
            kind: kind.to_string(),
            major,
            minor,
            access: access.to_string(),
        });
    }
    Ok(out)
}
