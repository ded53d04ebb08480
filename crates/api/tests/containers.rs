//! End to end: container lifecycle through the stock docker CLI.

mod common;

use berth_testkit::unique_name;
use common::daemon_with_busybox;

#[test]
fn run_rm_echo_prints_and_leaves_nothing() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("rm");
    let out = d.docker_ok(&["run", "--rm", "--name", &name, "busybox", "echo", "hi"]);
    assert_eq!(out, "hi\n");
    let ps = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!ps.contains(&name), "{ps}");
}

#[test]
fn exit_code_of_the_container_is_the_clis() {
    let (d, _t) = daemon_with_busybox();
    let out = d.docker_run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", d.log());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
}
