//! runc's `rootfsParentMountPrivate`: pivot_root(2) fails when the mount holding the new root
//! is shared (the case with `rootfsPropagation: rshared`), and a bind of the rootfs onto itself
//! would propagate back to the host. The mount that contains the rootfs is made private when
//! it is shared, in the container's mount namespace only.

use std::path::{Path, PathBuf};

/// The mount point containing `path` (the longest mount point that is `path` or one of its
/// parents) and whether it is shared, from a mountinfo text.
pub(crate) fn containing_mount(mountinfo: &str, path: &Path) -> Option<(PathBuf, bool)> {
    let mut best: Option<(PathBuf, bool)> = None;
    for line in mountinfo.lines() {
        let mut fields = line.split(' ');
        let Some(point) = fields.nth(4) else {
            continue;
        };
        let point = PathBuf::from(unescape(point));
        if !path.starts_with(&point) {
            continue;
        }
        // optional fields run from the 7th field to the "-" separator
        let shared = fields
            .skip(1)
            .take_while(|f| *f != "-")
            .any(|f| f.starts_with("shared:"));
        if best
            .as_ref()
            .is_none_or(|(b, _)| point.as_os_str().len() >= b.as_os_str().len())
        {
            best = Some((point, shared));
        }
    }
    best
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Makes the mount containing `rootfs` private if it is shared.
pub(crate) fn make_parent_private(rootfs: &Path) -> Result<(), String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("read /proc/self/mountinfo: {e}"))?;
    if let Some((point, true)) = containing_mount(&info, rootfs) {
        crate::sys::mount(None, &point, None, libc::MS_PRIVATE, None)
            .map_err(|e| format!("make {} private: {e}", point.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:25 / /run rw,nosuid shared:5 - tmpfs tmpfs rw
41 30 0:40 / /run/berth/containers/abc/bundle/rootfs rw,relatime - overlay overlay rw,lowerdir=/l
42 22 0:41 / /mnt/with\\040space rw master:3 - tmpfs tmpfs rw
";

    #[test]
    fn the_longest_containing_mount_wins_and_its_sharing_is_read() {
        assert_eq!(
            containing_mount(INFO, Path::new("/run/berth/containers/abc/bundle/rootfs")),
            Some((
                PathBuf::from("/run/berth/containers/abc/bundle/rootfs"),
                false
            ))
        );
        assert_eq!(
            containing_mount(INFO, Path::new("/run/berth/x")),
            Some((PathBuf::from("/run"), true))
        );
        assert_eq!(
            containing_mount(INFO, Path::new("/srv/bundle/rootfs")),
            Some((PathBuf::from("/"), true))
        );
        // path components, not string prefixes
        assert_eq!(
            containing_mount(INFO, Path::new("/runner/rootfs")),
            Some((PathBuf::from("/"), true))
        );
        assert_eq!(
            containing_mount(INFO, Path::new("/mnt/with space/r")),
            Some((PathBuf::from("/mnt/with space"), false))
        );
    }
}
