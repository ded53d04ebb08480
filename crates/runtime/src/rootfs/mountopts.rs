//! config.json mount options → mount(2) flags, propagation flags and the fs data string.

use libc::c_ulong;

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct MountOpts {
    pub flags: c_ulong,
    /// flags to clear (an explicit "rw", "suid", ... after a default)
    pub propagation: Vec<c_ulong>,
    pub data: Vec<String>,
    pub bind: bool,
    pub recursive: bool,
}

pub(crate) fn parse(options: &[String]) -> Result<MountOpts, String> {
    let mut o = MountOpts::default();
    for opt in options {
        let (set, clear): (c_ulong, c_ulong) = match opt.as_str() {
            "defaults" => (0, 0),
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "nosuid" => (libc::MS_NOSUID, 0),
            "suid" => (0, libc::MS_NOSUID),
            "nodev" => (libc::MS_NODEV, 0),
            "dev" => (0, libc::MS_NODEV),
            "noexec" => (libc::MS_NOEXEC, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "bind" => {
                o.bind = true;
                (0, 0)
            }
            "rbind" => {
                o.bind = true;
                o.recursive = true;
                (0, 0)
            }
            "private" => prop(&mut o, libc::MS_PRIVATE),
            "rprivate" => prop(&mut o, libc::MS_PRIVATE | libc::MS_REC),
            "shared" => prop(&mut o, libc::MS_SHARED),
            "rshared" => prop(&mut o, libc::MS_SHARED | libc::MS_REC),
            "slave" => prop(&mut o, libc::MS_SLAVE),
            "rslave" => prop(&mut o, libc::MS_SLAVE | libc::MS_REC),
            "unbindable" => prop(&mut o, libc::MS_UNBINDABLE),
            "runbindable" => prop(&mut o, libc::MS_UNBINDABLE | libc::MS_REC),
            "tmpcopyup" => return Err("mount option tmpcopyup is not supported".into()),
            "idmap" | "ridmap" => return Err(format!("mount option {opt} is not supported")),
            other => {
                o.data.push(other.to_string());
                (0, 0)
            }
        };
        o.flags = (o.flags | set) & !clear;
    }
    Ok(o)
}

fn prop(o: &mut MountOpts, f: c_ulong) -> (c_ulong, c_ulong) {
    o.propagation.push(f);
    (0, 0)
}

/// rootfsPropagation → flags for the mount of `/` made before setting up the rootfs.
pub(crate) fn root_propagation(s: Option<&str>) -> Result<c_ulong, String> {
    Ok(match s.unwrap_or("") {
        "" | "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        other => {
            return Err(format!(
                "linux.rootfsPropagation {other:?} is not a propagation mode"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> MountOpts {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn options_become_flags_and_data() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
        let o = p(&["rbind", "ro", "rprivate"]);
        assert!(o.bind && o.recursive);
        assert_eq!(o.flags, libc::MS_RDONLY);
        assert_eq!(o.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
        assert_eq!(p(&["ro", "rw"]).flags, 0);
        assert!(parse(&["idmap".to_string()]).is_err());
        assert!(root_propagation(Some("bogus")).is_err());
    }
}
