//! End to end: `--cgroup-parent` and `--device-cgroup-rule` through the stock docker CLI
//! (cgroup v1 controllers on this machine).

mod common;

use std::path::PathBuf;

use berth_testkit::unique_name;
use common::files::{cleanup, fails_with};
use common::{daemon_with_busybox, inspect_f, run_detached};

/// Removes a test's parent cgroup from every v1 controller when the test ends (Docker leaves
/// the parent; its containers' cgroups are gone by then).
struct ParentCgroup(String);

impl ParentCgroup {
    fn dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir("/sys/fs/cgroup")
            .map(|d| {
                d.flatten()
                    .map(|e| e.path().join(self.0.trim_start_matches('/')))
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for ParentCgroup {
    fn drop(&mut self) {
        for d in self.dirs() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// The cgroup paths of `pid` per v1 controller (`/proc/PID/cgroup`).
fn cgroups_of(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
}

#[test]
fn cgroup_parent_puts_the_container_under_it_and_rm_leaves_only_the_parent() {
    let (d, _t) = daemon_with_busybox();
    let (abs, rel) = (unique_name("cga"), unique_name("cgr"));
    let parents = [
        ParentCgroup(format!("/berth-test-{abs}")),
        ParentCgroup(format!("berth-test-{rel}")),
    ];
    let _c = cleanup(&d, &[&abs, &rel], &[]);
    for (name, parent) in [(&abs, &parents[0]), (&rel, &parents[1])] {
        let id = run_detached(
            &d,
            name,
            &["--cgroup-parent", &parent.0, "busybox", "sleep", "300"],
        );
        let pid = inspect_f(&d, name, "{{.State.Pid}}");
        let want = format!("/{}/{id}", parent.0.trim_start_matches('/'));
        let cg = cgroups_of(&pid);
        for ctrl in ["memory", "pids", "devices"] {
            assert!(
                cg.lines()
                    .any(|l| l.contains(&format!(":{ctrl}:")) && l.ends_with(&want)),
                "{ctrl} not under {want}: {cg}"
            );
        }
        assert_eq!(
            inspect_f(&d, name, "{{.HostConfig.CgroupParent}}"),
            parent.0
        );
        let leaf = PathBuf::from("/sys/fs/cgroup/memory").join(&want[1..]);
        assert!(leaf.is_dir(), "{}", leaf.display());
        d.docker_ok(&["rm", "-f", name]);
        assert!(!leaf.exists(), "{} left after rm", leaf.display());
        assert!(leaf.parent().is_some_and(|p| p.is_dir()), "parent removed");
    }
    for bad in ["/x/../..", "a.slice:docker:b"] {
        fails_with(
            &d,
            &["create", "--cgroup-parent", bad, "busybox", "true"],
            "invalid CgroupParent",
        );
    }
}
