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

#[test]
fn an_exec_that_cannot_start_reports_on_its_stream_with_mobys_codes() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("exf");
    run_detached(&d, &name, &["busybox", "sleep", "60"]);
    // attached: the stream carries the failure, the CLI exits with the exec's code
    let out = d.docker_run(&["exec", &name, "nonexist"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        common::stderr(&out)
    );
    assert!(
        text.contains("OCI runtime exec failed") && text.contains("executable file not found"),
        "{text}"
    );
    // a file that is not executable: 126
    d.docker_ok(&["exec", &name, "sh", "-c", "echo x > /plain"]);
    let out = d.docker_run(&["exec", &name, "/plain"]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    // detached: the error itself, a 400
    let out = d.docker_run(&["exec", "-d", &name, "nonexist"]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("executable file not found"),
        "{}",
        common::stderr(&out)
    );
    // docker-py (what compose uses) gets the exit code and the message as output
    common::ensure_docker_py();
    let script = format!(
        "import docker\nc = docker.DockerClient(base_url='{}')\nr = c.containers.get('{name}').exec_run(['nonexist'])\nprint(r.exit_code)\nprint(r.output.decode())",
        d.host()
    );
    let py = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&py.stdout);
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert!(
        text.starts_with("127\n") && text.contains("executable file not found"),
        "{text}"
    );
    d.docker_ok(&["rm", "-f", &name]);
}
