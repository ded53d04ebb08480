//! Per-device block I/O limits of a HostConfig: `BlkioWeightDevice` (`--blkio-weight-device`,
//! `{Path, Weight}`) and the throttles `BlkioDeviceReadBps`, `BlkioDeviceWriteBps`,
//! `BlkioDeviceReadIOps`, `BlkioDeviceWriteIOps` (`--device-read-bps` ..., `{Path, Rate}`).
//! Each path is resolved to its block device's major:minor as moby's
//! `getBlkioThrottleDevices` does, at create (a bad one is a 400 there, not a failed start) and
//! again at every start (device numbers are the host's of the moment); `hostopts.rs` puts them
//! into the OCI `linux.resources.blockIO`.

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::model::HostConfig;

/// The HostConfig throttle keys and their OCI `blockIO` names, in `BlkioDevices::throttles`
/// order.
pub const THROTTLES: [(&str, &str); 4] = [
    ("BlkioDeviceReadBps", "throttleReadBpsDevice"),
    ("BlkioDeviceWriteBps", "throttleWriteBpsDevice"),
    ("BlkioDeviceReadIOps", "throttleReadIOPSDevice"),
    ("BlkioDeviceWriteIOps", "throttleWriteIOPSDevice"),
];

/// More entries than any host has block devices: a bound on what a request makes us stat.
const MAX_ENTRIES: usize = 256;

/// One device's limit: its numbers and the rate or weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceLimit {
    pub major: u64,
    pub minor: u64,
    pub value: u64,
}

#[derive(Debug, Default, PartialEq)]
pub struct BlkioDevices {
    pub weights: Vec<DeviceLimit>,
    /// read bps, write bps, read iops, write iops (`THROTTLES`).
    pub throttles: [Vec<DeviceLimit>; 4],
}

impl BlkioDevices {
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty() && self.throttles.iter().all(Vec::is_empty)
    }
}

/// moby's error for a failed stat (Go's `os.PathError`: `stat PATH: lowercase reason`).
fn stat_error(path: &str, e: &std::io::Error) -> String {
    let why = match e.raw_os_error() {
        Some(libc::ENOENT) => "no such file or directory".to_string(),
        Some(libc::ENOTDIR) => "not a directory".to_string(),
        Some(libc::EACCES) => "permission denied".to_string(),
        Some(libc::ELOOP) => "too many levels of symbolic links".to_string(),
        _ => e.to_string(),
    };
    format!("stat {path}: {why}")
}

/// The major:minor of the block device at `path` (symlinks followed, as stat(2)).
fn block_device(key: &str, path: &str) -> Result<(u64, u64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let bad = |m: String| Error::InvalidParameter(m);
    if !path.starts_with('/') || path.contains('\0') {
        return Err(bad(format!(
            "invalid device path {path:?} in {key}: must be an absolute path"
        )));
    }
    let md = std::fs::metadata(path).map_err(|e| bad(stat_error(path, &e)))?;
    if !md.file_type().is_block_device() {
        return Err(bad(format!(
            "invalid device {path} in {key}: not a block device"
        )));
    }
    let rdev = md.rdev();
    Ok((u64::from(libc::major(rdev)), u64::from(libc::minor(rdev))))
}

/// The entries of one list: (Path, the number under `field`).
fn entries(hc: &HostConfig, key: &str, field: &str) -> Result<Vec<(String, u64)>> {
    let Some(v) = hc.extra.get(key).filter(|v| !super::hostopts::unset(v)) else {
        return Ok(vec![]);
    };
    let bad = || {
        Error::InvalidParameter(format!(
            "HostConfig.{key} must be a list of {{\"Path\": string, \"{field}\": non-negative integer}}"
        ))
    };
    let list = v.as_array().ok_or_else(bad)?;
    if list.len() > MAX_ENTRIES {
        return Err(Error::InvalidParameter(format!(
            "too many devices in HostConfig.{key}"
        )));
    }
    list.iter()
        .map(|e| {
            let path = e.get("Path").and_then(Value::as_str).ok_or_else(bad)?;
            let n = match e.get(field) {
                None | Some(Value::Null) => 0,
                Some(n) => n.as_u64().ok_or_else(bad)?,
            };
            Ok((path.to_string(), n))
        })
        .collect()
}

/// Reads and resolves the five lists.
pub fn parse(hc: &HostConfig) -> Result<BlkioDevices> {
    let mut out = BlkioDevices::default();
    for (path, weight) in entries(hc, "BlkioWeightDevice", "Weight")? {
        // the CLI's rule; 0 leaves the device's weight as it is (runc skips it)
        if weight != 0 && !(10..=1000).contains(&weight) {
            return Err(Error::InvalidParameter(format!(
                "invalid weight for device {path}: {weight} (range of blkio weight is from 10 to 1000)"
            )));
        }
        let (major, minor) = block_device("BlkioWeightDevice", &path)?;
        if weight != 0 {
            out.weights.push(DeviceLimit {
                major,
                minor,
                value: weight,
            });
        }
    }
    for (i, (key, _)) in THROTTLES.iter().enumerate() {
        for (path, rate) in entries(hc, key, "Rate")? {
            let (major, minor) = block_device(key, &path)?;
            out.throttles[i].push(DeviceLimit {
                major,
                minor,
                value: rate,
            });
        }
    }
    Ok(out)
}

/// Puts the limits into the spec's `linux.resources.blockIO` (made when absent).
pub fn apply(b: &BlkioDevices, spec: &mut Value) {
    if b.is_empty() {
        return;
    }
    let io = &mut spec["linux"]["resources"]["blockIO"];
    if !io.is_object() {
        *io = json!({});
    }
    if !b.weights.is_empty() {
        io["weightDevice"] = b
            .weights
            .iter()
            .map(|d| json!({"major": d.major, "minor": d.minor, "weight": d.value}))
            .collect();
    }
    for (i, (_, oci)) in THROTTLES.iter().enumerate() {
        if !b.throttles[i].is_empty() {
            io[*oci] = b.throttles[i]
                .iter()
                .map(|d| json!({"major": d.major, "minor": d.minor, "rate": d.value}))
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::hostopts::tests::hc;

    /// A block device of this host (its major:minor), if it has one.
    fn some_block_device() -> Option<(String, u64, u64)> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        std::fs::read_dir("/dev").ok()?.flatten().find_map(|e| {
            let md = std::fs::metadata(e.path()).ok()?;
            md.file_type().is_block_device().then(|| {
                let r = md.rdev();
                (
                    e.path().to_string_lossy().into_owned(),
                    u64::from(libc::major(r)),
                    u64::from(libc::minor(r)),
                )
            })
        })
    }

    #[test]
    fn paths_resolve_to_block_devices_and_go_into_the_spec() {
        let Some((dev, major, minor)) = some_block_device() else {
            eprintln!("no block device in /dev: skipped");
            return;
        };
        let b = parse(&hc(json!({
            "BlkioWeightDevice": [{"Path": dev, "Weight": 300}, {"Path": dev, "Weight": 0}],
            "BlkioDeviceReadBps": [{"Path": dev, "Rate": 1048576}],
            "BlkioDeviceWriteIOps": [{"Path": dev, "Rate": 100}],
            "BlkioDeviceWriteBps": [],
        })))
        .unwrap();
        let mut spec = json!({"linux": {"resources": {"blockIO": {"weight": 500}}}});
        apply(&b, &mut spec);
        assert_eq!(
            spec["linux"]["resources"]["blockIO"],
            json!({"weight": 500,
                "weightDevice": [{"major": major, "minor": minor, "weight": 300}],
                "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]})
        );
        let e = |v: Value| parse(&hc(v)).unwrap_err().to_string();
        assert!(
            e(json!({"BlkioWeightDevice": [{"Path": dev, "Weight": 5}]}))
                .contains("range of blkio weight is from 10 to 1000")
        );
    }

    #[test]
    fn bad_devices_are_named() {
        let e = |v: Value| parse(&hc(v)).unwrap_err().to_string();
        assert_eq!(
            e(json!({"BlkioDeviceReadBps": [{"Path": "/dev/berth-no-such", "Rate": 1}]})),
            "stat /dev/berth-no-such: no such file or directory"
        );
        assert_eq!(
            e(json!({"BlkioDeviceWriteBps": [{"Path": "/dev/null", "Rate": 1}]})),
            "invalid device /dev/null in BlkioDeviceWriteBps: not a block device"
        );
        assert!(
            e(json!({"BlkioDeviceReadIOps": [{"Path": "dev/sda", "Rate": 1}]}))
                .contains("must be an absolute path")
        );
        assert!(
            e(json!({"BlkioDeviceReadIOps": [{"Path": "/dev/null", "Rate": -1}]}))
                .contains("must be a list")
        );
        assert!(
            e(json!({"BlkioDeviceReadIOps": {"Path": "/dev/null"}})).contains("must be a list")
        );
        let many: Vec<Value> = (0..300)
            .map(|_| json!({"Path": "/dev/null", "Rate": 1}))
            .collect();
        assert!(e(json!({ "BlkioDeviceReadBps": many })).contains("too many devices"));
        assert!(
            parse(&hc(json!({"BlkioDeviceReadBps": null})))
                .unwrap()
                .is_empty()
        );
    }
}
