//! End to end: exec and tty through the stock docker CLI.

mod common;

use std::io::Write;
use std::process::Stdio;

use berth_testkit::unique_name;
use common::{daemon_with_busybox, run_detached};

#[test]
fn exec_runs_in_the_container_and_returns_its_exit_code() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("ex");
    run_detached(
        &d,
        &name,
        &["busybox", "sh", "-c", "echo inside > /marker; sleep 60"],
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    let out = d.docker_ok(&["exec", &name, "cat", "/marker"]);
    assert_eq!(out, "inside\n");
    let out = d.docker_run(&["exec", &name, "sh", "-c", "echo e >&2; exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "e\n");
    let out = d.docker_ok(&[
        "exec",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        &name,
        "sh",
        "-c",
        "echo $FOO $(pwd)",
    ]);
    assert_eq!(out, "bar /tmp\n");
    let out = d.docker_ok(&[
        "exec",
        "-t",
        &name,
        "sh",
        "-c",
        "tty >/dev/null && echo tty",
    ]);
    assert_eq!(out.replace('\r', ""), "tty\n");
    let missing = d.docker_run(&["exec", &name, "/nope"]);
    assert!(!missing.status.success());
    d.docker_ok(&["rm", "-f", &name]);
    let out = d.docker_run(&["exec", &name, "true"]);
    assert!(!out.status.success());
}

#[test]
fn stdin_reaches_exec_and_run_and_output_continues_after_half_close() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("in");
    run_detached(&d, &name, &["busybox", "sleep", "60"]);
    let mut child = d
        .docker()
        .args(["exec", "-i", &name, "sh", "-c", "cat; sleep 0.3; echo done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"piped\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped\ndone\n");
    let mut child = d
        .docker()
        .args([
            "run",
            "--rm",
            "-i",
            "busybox",
            "sh",
            "-c",
            "wc -l; sleep 0.2; echo end",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a\nb\nc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\nend\n");
    d.docker_ok(&["rm", "-f", &name]);
}

#[test]
fn run_with_a_tty_gets_a_terminal() {
    let (d, _t) = daemon_with_busybox();
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-t",
        "busybox",
        "sh",
        "-c",
        "tty >/dev/null && echo yes; stty size",
    ]);
    let out = out.replace('\r', "");
    assert!(out.starts_with("yes\n"), "{out}");
}
