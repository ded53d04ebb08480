//! Performing the [`Mount`]s a snapshot returns, and undoing them.

use std::path::Path;

use rustix::mount::{self as rmount, MountFlags, UnmountFlags};

use crate::error::Error;
use crate::types::Mount;

/// The kernel refuses mount data longer than a page; longer overlay options use the new mount
/// API with one `lowerdir+` per layer (Linux 6.8+).
const MAX_MOUNT_DATA: usize = 4095;

/// Mounts `mounts` on `target` in order.
pub fn mount_all(mounts: &[Mount], target: &Path) -> Result<(), Error> {
    for m in mounts {
        let err = |e: rustix::io::Errno| Error::Mount {
            target: target.to_owned(),
            source: e.into(),
        };
        if m.fstype == "bind" {
            let ro = m.options.iter().any(|o| o == "ro");
            rmount::mount_bind(m.source.as_str(), target).map_err(err)?;
            if ro {
                rmount::mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "")
                    .map_err(err)?;
            }
            continue;
        }
        let data = m.options.join(",");
        if data.len() <= MAX_MOUNT_DATA {
            let data = std::ffi::CString::new(data)
                .map_err(|_| Error::InvalidArgument("NUL byte in mount options".into()))?;
            rmount::mount(
                m.source.as_str(),
                target,
                m.fstype.as_str(),
                MountFlags::empty(),
                Some(data.as_c_str()),
            )
            .map_err(err)?;
        } else {
            mount_long(m, target).map_err(err)?;
        }
    }
    Ok(())
}

fn mount_long(m: &Mount, target: &Path) -> rustix::io::Result<()> {
    use rustix::mount::{
        FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, fsconfig_create,
        fsconfig_set_string, fsmount, fsopen, move_mount,
    };
    let fs = fsopen(m.fstype.as_str(), FsOpenFlags::FSOPEN_CLOEXEC)?;
    fsconfig_set_string(&fs, "source", m.source.as_str())?;
    for o in &m.options {
        let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
        if k == "lowerdir" {
            for l in v.split(':') {
                fsconfig_set_string(&fs, "lowerdir+", l)?;
            }
        } else {
            fsconfig_set_string(&fs, k, v)?;
        }
    }
    fsconfig_create(&fs)?;
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?;
    move_mount(
        &mnt,
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
}

/// Unmounts `target` (lazily if it is busy).
pub fn unmount(target: &Path) -> Result<(), Error> {
    match rmount::unmount(target, UnmountFlags::empty()) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::BUSY) => {
            rmount::unmount(target, UnmountFlags::DETACH).map_err(|e| Error::Mount {
                target: target.to_owned(),
                source: e.into(),
            })
        }
        Err(e) => Err(Error::Mount {
            target: target.to_owned(),
            source: e.into(),
        }),
    }
}
