//! Resolving Docker's `User` (`name`, `uid`, `uid:gid`, `name:group`) against the container's
//! own `/etc/passwd` and `/etc/group`, read without following links out of the rootfs.

use std::path::Path;

/// (uid, gid, additional gids) for `user` inside `rootfs`.
pub fn resolve(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), String> {
    if user.is_empty() {
        return Ok((0, 0, vec![]));
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = read_in_root(rootfs, "etc/passwd");
    let (uid, mut gid, name) = if let Ok(n) = u.parse::<u32>() {
        let entry = find(&passwd, |f| f.get(2) == Some(&u));
        let gid = entry
            .as_ref()
            .and_then(|f| f.get(3).and_then(|g| g.parse().ok()))
            .unwrap_or(0);
        (n, gid, entry.and_then(|f| f.first().map(|s| s.to_string())))
    } else {
        let f = find(&passwd, |f| f.first() == Some(&u)).ok_or_else(|| {
            format!("unable to find user {u}: no matching entries in passwd file")
        })?;
        let uid = f.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
        let gid = f.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
        (uid, gid, Some(u.to_string()))
    };
    let group = read_in_root(rootfs, "etc/group");
    if let Some(g) = g {
        gid = if let Ok(n) = g.parse::<u32>() {
            n
        } else {
            find(&group, |f| f.first() == Some(&g))
                .and_then(|f| f.get(2).and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?
        };
    }
    let mut extra = vec![];
    if let Some(name) = name {
        for line in group.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 4
                && f[3].split(',').any(|m| m == name)
                && let Ok(id) = f[2].parse::<u32>()
                && id != gid
            {
                extra.push(id);
            }
        }
    }
    Ok((uid, gid, extra))
}

/// Docker's `GroupAdd`: each a numeric ID or a group of the rootfs's /etc/group.
pub fn resolve_groups(rootfs: &Path, groups: &[String]) -> Result<Vec<u32>, String> {
    if groups.is_empty() {
        return Ok(vec![]);
    }
    let group = read_in_root(rootfs, "etc/group");
    groups
        .iter()
        .map(|g| {
            if let Ok(n) = g.parse::<u32>() {
                return Ok(n);
            }
            find(&group, |f| f.first() == Some(&g.as_str()))
                .and_then(|f| f.get(2).and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    format!("Unable to find group {g}: no matching entries in group file")
                })
        })
        .collect()
}

fn find<'a>(file: &'a str, pred: impl Fn(&Vec<&'a str>) -> bool) -> Option<Vec<&'a str>> {
    file.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| pred(f))
}

/// Reads a small file inside `root`, refusing symlinks on the way (a hostile image must not make
/// the monitor read host files).
fn read_in_root(root: &Path, rel: &str) -> String {
    let mut p = root.to_path_buf();
    for part in rel.split('/') {
        p.push(part);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => return String::new(),
            Ok(_) => {}
            Err(_) => return String::new(),
        }
    }
    std::fs::read_to_string(&p).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_resolve() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nstaff:x:50:nobody\n",
        )
        .unwrap();
        assert_eq!(resolve(dir.path(), "").unwrap(), (0, 0, vec![]));
        assert_eq!(
            resolve(dir.path(), "nobody").unwrap(),
            (65534, 65534, vec![50])
        );
        assert_eq!(
            resolve(dir.path(), "1000:staff").unwrap(),
            (1000, 50, vec![])
        );
        assert_eq!(
            resolve(dir.path(), "65534").unwrap(),
            (65534, 65534, vec![50])
        );
        assert!(
            resolve(dir.path(), "ghost")
                .unwrap_err()
                .contains("unable to find user ghost")
        );
        let groups = |g: &[&str]| {
            resolve_groups(
                dir.path(),
                &g.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            groups(&["staff", "1234", "root"]).unwrap(),
            vec![50, 1234, 0]
        );
        assert!(
            groups(&["wheel"])
                .unwrap_err()
                .contains("Unable to find group wheel")
        );
    }
}
