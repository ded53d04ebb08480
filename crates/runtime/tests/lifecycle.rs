//! The container lifecycle through the binary, as containerd's shim drives it.

mod common;

use common::{Ct, ok, stderr};
use serde_json::json;

#[test]
fn run_prints_output_returns_exit_code_and_leaves_nothing() {
    let c = Ct::new(&["sh", "-c", "echo hello; exit 3"], |_| {});
    let out = c.run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello\n",
        "{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(!c.root().join(&c.id).exists(), "state dir left behind");
    assert!(!c.cgroup_dir("memory").exists(), "cgroup left behind");
    assert!(!c.cgroup_dir("pids").exists(), "cgroup left behind");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(c.bundle().to_str().unwrap()),
        "mount leaked to the host"
    );
}

#[test]
fn create_start_state_kill_delete() {
    let c = Ct::new(&["sleep", "100"], |_| {});
    let out = c.create();
    assert!(out.status.success(), "{}", stderr(&out));
    let pid_text = std::fs::read_to_string(c.dir.path().join("init.pid")).unwrap();
    assert!(
        !pid_text.ends_with('\n'),
        "pid file must not end with a newline"
    );
    let pid: i32 = pid_text.parse().unwrap();
    let st = c.state();
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["id"], c.id.as_str());
    assert!(st["ociVersion"].as_str().is_some());
    assert!(st["created"].as_str().unwrap().contains('T'));
    // the init is already in its cgroup before start
    let procs = std::fs::read_to_string(c.cgroup_dir("memory").join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|l| l == pid.to_string()));
    ok(c.rt(&["start", &c.id]));
    assert_eq!(c.status(), "running");
    let start_again = c.rt(&["start", &c.id]);
    assert!(!start_again.status.success());
    let list: serde_json::Value =
        serde_json::from_str(&ok(c.rt(&["list", "--format", "json"]))).unwrap();
    assert_eq!(list[0]["id"], c.id.as_str());
    let table = ok(c.rt(&["list"]));
    assert!(table.starts_with("ID") && table.contains(&c.id));
    let running_delete = c.rt(&["delete", &c.id]);
    assert!(
        !running_delete.status.success(),
        "delete of a running container must need --force"
    );
    ok(c.rt(&["kill", &c.id, "KILL"]));
    c.wait_status("stopped");
    assert_eq!(c.state()["pid"], 0);
    // containerd's shim treats this wording as "process already finished"
    let again = c.rt(&["kill", &c.id, "KILL"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("container not running"),
        "{}",
        stderr(&again)
    );
    ok(c.rt(&["delete", &c.id]));
    assert!(!c.root().join(&c.id).exists());
    assert!(!c.cgroup_dir("memory").exists());
    assert!(!c.cgroup_dir("freezer").exists());
    let gone = c.rt(&["state", &c.id]);
    assert!(!gone.status.success());
    assert!(
        stderr(&gone).contains("does not exist"),
        "{}",
        stderr(&gone)
    );
}

#[test]
fn delete_of_a_created_container_kills_its_init() {
    let c = Ct::new(&["true"], |_| {});
    assert!(c.create().status.success());
    let pid: i32 = std::fs::read_to_string(c.dir.path().join("init.pid"))
        .unwrap()
        .parse()
        .unwrap();
    ok(c.rt(&["delete", &c.id]));
    std::thread::sleep(std::time::Duration::from_millis(50));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "init still alive: {stat}"
    );
    assert!(!c.cgroup_dir("memory").exists());
}

#[test]
fn exec_ps_pause_resume_update_events() {
    let c = Ct::new(&["sleep", "100"], |_| {});
    c.start_detached();
    assert_eq!(ok(c.exec(&["hostname"])), "berth\n");
    let code = c.exec(&["sh", "-c", "exit 7"]).status.code();
    assert_eq!(code, Some(7));
    // exec joins the pid namespace: the init is pid 1 there
    assert_eq!(
        ok(c.exec(&["cat", "/proc/1/cmdline"])),
        "sleep\u{0}100\u{0}"
    );
    let proc_file = c.dir.path().join("process.json");
    std::fs::write(
        &proc_file,
        serde_json::to_vec(&json!({"args": ["sh", "-c", "echo $FOO; pwd; id -u"], "env": ["FOO=bar", "PATH=/bin"], "cwd": "/tmp", "user": {"uid": 65534, "gid": 65534}})).unwrap(),
    )
    .unwrap();
    let out = ok(c.rt(&["exec", "--process", proc_file.to_str().unwrap(), &c.id]));
    assert_eq!(out, "bar\n/tmp\n65534\n");
    let pids: Vec<i32> =
        serde_json::from_str(&ok(c.rt(&["ps", "--format", "json", &c.id]))).unwrap();
    assert_eq!(pids, vec![c.state()["pid"].as_i64().unwrap() as i32]);
    ok(c.rt(&["pause", &c.id]));
    assert_eq!(c.status(), "paused");
    assert_eq!(
        std::fs::read_to_string(c.cgroup_dir("freezer").join("freezer.state"))
            .unwrap()
            .trim(),
        "FROZEN"
    );
    ok(c.rt(&["resume", &c.id]));
    assert_eq!(c.status(), "running");
    let mut child = c
        .cmd(&["update", "--resources", "-", &c.id])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"memory":{"limit":67108864},"pids":{"limit":50}}"#)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(c.cgroup_dir("memory").join("memory.limit_in_bytes"))
            .unwrap()
            .trim(),
        "67108864"
    );
    assert_eq!(
        std::fs::read_to_string(c.cgroup_dir("pids").join("pids.max"))
            .unwrap()
            .trim(),
        "50"
    );
    let ev: serde_json::Value =
        serde_json::from_str(&ok(c.rt(&["events", "--stats", &c.id]))).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 67108864);
    assert_eq!(ev["data"]["pids"]["current"], 1);
    ok(c.rt(&["kill", "--all", &c.id, "9"]));
    c.wait_status("stopped");
    ok(c.rt(&["delete", &c.id]));
}

#[test]
fn spec_and_features() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::BIN)
        .arg("spec")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(v["root"]["path"], "rootfs");
    assert_eq!(v["process"]["args"], json!(["sh"]));
    let again = std::process::Command::new(common::BIN)
        .arg("spec")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "spec must not overwrite config.json"
    );
    let f = std::process::Command::new(common::BIN)
        .arg("features")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&f.stdout).unwrap();
    assert_eq!(v["linux"]["cgroup"]["v1"], true);
    assert!(
        v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .contains(&json!("user"))
    );
}

#[test]
fn bad_config_names_the_field_and_leaves_nothing() {
    let c = Ct::new(&["true"], |v| v["process"]["user"]["uid"] = json!("root"));
    let log = c.dir.path().join("log.json");
    let out = c
        .cmd(&[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "create",
            "--bundle",
            c.bundle().to_str().unwrap(),
            &c.id,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("process.user.uid"),
        "{}",
        stderr(&out)
    );
    let last = std::fs::read_to_string(&log).unwrap();
    let line: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("process.user.uid"));
    assert!(!c.root().join(&c.id).exists());
    assert!(!c.cgroup_dir("memory").exists());

    let c2 = Ct::new(&["true"], |v| v["process"]["cwd"] = json!("relative/dir"));
    let out = c2.run();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("process.cwd"), "{}", stderr(&out));
    assert!(!c2.root().join(&c2.id).exists());

    let c3 = Ct::new(&["/no/such/binary"], |_| {});
    let out = c3.run();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/no/such/binary"), "{}", stderr(&out));
    assert!(!c3.root().join(&c3.id).exists());
    assert!(!c3.cgroup_dir("memory").exists());
}

#[test]
fn systemd_cgroup_is_refused_clearly() {
    let out = std::process::Command::new(common::BIN)
        .args(["--systemd-cgroup", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("systemd"));
}

#[test]
fn run_with_a_terminal_copies_the_pty() {
    let c = Ct::new(&["sh", "-c", "tty; echo through-the-pty; exit 2"], |v| {
        v["process"]["terminal"] = json!(true)
    });
    let out = c.run();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("/dev/pts/0"), "{text} {}", stderr(&out));
    assert!(text.contains("through-the-pty\r\n"), "{text}");
    assert_eq!(out.status.code(), Some(2));
    assert!(!c.root().join(&c.id).exists());
}

/// The parent makes the cgroup after clone, while the init builds its rootfs: when that fails
/// (here the kernel refuses a CFS quota below 1 ms) the init is killed and nothing is left.
#[test]
fn failed_cgroup_placement_kills_the_init_and_leaves_nothing() {
    let c = Ct::new(&["sleep", "30"], |v| {
        v["linux"]["resources"]["cpu"] = json!({"quota": 10, "period": 100000});
    });
    let out = c.create();
    assert!(!out.status.success());
    let err = std::fs::read_to_string(c.dir.path().join("create.err")).unwrap();
    assert!(
        err.contains("cgroup") && err.contains("cpu.cfs_quota_us"),
        "{err}"
    );
    assert!(!c.root().join(&c.id).exists(), "state dir left behind");
    for ctrl in ["memory", "pids", "cpu", "freezer"] {
        assert!(!c.cgroup_dir(ctrl).exists(), "{ctrl} cgroup left behind");
    }
    // the cloned init carries the runtime's command line, id included
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline);
            assert!(
                !cmdline.contains(&c.id),
                "process {:?} left: {cmdline}",
                p.file_name()
            );
        }
    }
}
