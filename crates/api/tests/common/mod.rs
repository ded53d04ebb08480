//! Shared helpers for the end-to-end tests: a daemon with busybox loaded, docker commands and
//! their output, polling for a state, raw HTTP (`http`), volumes and images made here
//! (`volumes`), file copies (`files`).

#![allow(dead_code)]

pub mod files;
pub mod http;
pub mod volumes;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use berth_testkit::daemon::Daemon;

/// A fresh daemon with `busybox:latest` loaded through `docker load`.
pub fn daemon_with_busybox() -> (Daemon, tempfile::TempDir) {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let tar = berth_testkit::images::busybox_archive(dir.path(), "busybox:latest").unwrap();
    let out = d.docker_ok(&["load", "-i", tar.to_str().unwrap()]);
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    (d, dir)
}

/// A command's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `docker run -d --name NAME ARGS...` (flags, image, command); returns the container's ID.
pub fn run_detached(d: &Daemon, name: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "-d", "--name", name];
    all.extend_from_slice(args);
    d.docker_ok(&all).trim().to_string()
}

/// `docker run -d --name NAME --health-cmd CHECK --health-interval 1s FLAGS... busybox sleep
/// 300`: a container that lives long enough for its checks.
pub fn run_with_check(d: &Daemon, name: &str, check: &str, flags: &[&str]) {
    let mut args = vec!["--health-cmd", check, "--health-interval", "1s"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sleep", "300"]);
    run_detached(d, name, &args);
}

/// `docker inspect -f FORMAT NAME`, trimmed.
pub fn inspect_f(d: &Daemon, name: &str, format: &str) -> String {
    d.docker_ok(&["inspect", "-f", format, name])
        .trim()
        .to_string()
}

/// Calls `probe` every `every` until `done` accepts its value or `timeout` passed; returns the
/// last value (for the caller's assertion and its message).
pub fn poll<T>(
    timeout: Duration,
    every: Duration,
    mut probe: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let v = probe();
        if done(&v) || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(every);
    }
}

/// Polls `State.Health.Status` until it is `want`; fails the test (with the daemon's log) when
/// a minute passed first.
pub fn expect_health(d: &Daemon, name: &str, want: &str) {
    let status = poll(
        Duration::from_secs(60),
        Duration::from_millis(200),
        || inspect_f(d, name, "{{.State.Health.Status}}"),
        |s| s == want,
    );
    assert_eq!(status, want, "health of {name}\n{}", d.log());
}

/// `State.Health.Log` (empty while there is none).
pub fn health_log(d: &Daemon, name: &str) -> Vec<serde_json::Value> {
    let out = inspect_f(d, name, "{{json .State.Health.Log}}");
    serde_json::from_str(&out).unwrap_or_default()
}

/// A file of the container's cgroup (v1: `/sys/fs/cgroup/CTRL/berth/ID/FILE`), trimmed.
pub fn cgroup_file(ctrl: &str, id: &str, file: &str) -> String {
    let p = format!("/sys/fs/cgroup/{ctrl}/berth/{id}/{file}");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {p}: {e}"))
        .trim()
        .to_string()
}

/// Installs docker-py for this user when it is missing (PyPI is reachable here).
pub fn ensure_docker_py() {
    let ok = Command::new("python3")
        .args(["-c", "import docker"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let st = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "docker"])
            .status()
            .expect("run pip");
        assert!(st.success(), "pip install docker failed");
    }
}
