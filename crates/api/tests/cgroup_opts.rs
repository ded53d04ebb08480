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

#[test]
fn device_cgroup_rules_let_the_container_make_and_open_those_devices_only() {
    let (d, _t) = daemon_with_busybox();
    // 1:99 is a memory-device number no driver serves: once the cgroup lets an open through,
    // it reaches the driver (ENXIO); else the cgroup refuses it (EPERM). Docker's defaults let
    // any node be made (`c *:* m`), not opened.
    let run = |rule: Option<&str>, op: &str| {
        let mut args = vec!["run", "--rm"];
        if let Some(r) = rule {
            args.extend_from_slice(&["--device-cgroup-rule", r]);
        }
        let script = format!("mknod /tmp/n c 1 99 && echo made && {op}");
        args.extend_from_slice(&["busybox", "sh", "-c", &script]);
        let o = d.docker_run(&args);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(out, "made\n", "{o:?}");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let expect = |err: String, want: &str| assert!(err.contains(want), "want {want:?}: {err}");
    let (write, read) = ("echo x > /tmp/n", "cat /tmp/n");
    let denied = "Operation not permitted";
    let reached = "No such device or address";
    expect(run(None, write), denied);
    expect(run(None, read), denied);
    expect(run(Some("c 1:99 rwm"), write), reached);
    // read only, by a wildcard minor
    expect(run(Some("c 1:* r"), read), reached);
    expect(run(Some("c 1:* r"), write), denied);
    // another major's rule does not cover it
    expect(run(Some("c 2:99 rw"), read), denied);
    let name = unique_name("dcr");
    let _c = cleanup(&d, &[&name], &[]);
    d.docker_ok(&[
        "create",
        "--name",
        &name,
        "--device-cgroup-rule",
        "c 1:99 rwm",
        "busybox",
        "true",
    ]);
    assert_eq!(
        inspect_f(&d, &name, "{{json .HostConfig.DeviceCgroupRules}}"),
        "[\"c 1:99 rwm\"]"
    );
    // the CLI checks the syntax itself; the daemon does too, with moby's message
    let body = r#"{"Image":"busybox","HostConfig":{"DeviceCgroupRules":["c 1:3 rwx"]}}"#;
    let (code, resp) = common::http::json(&d, "POST", "/containers/create", body);
    assert_eq!(code, 400, "{resp}");
    assert_eq!(
        common::http::message(&resp),
        "invalid device cgroup rule format: 'c 1:3 rwx'"
    );
}
