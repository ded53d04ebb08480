//! End-to-end: containers that run (run, exec, attach, logs, stop, wait...) against berthd,
//! interactive sessions driven through a real pty (tmux) with a resize and a detach.

mod common;

use common::tmux::Tmux;
use common::{Cleanup, Env, text};

/// `env DOCKER_HOST=... berth ARGS` for a tmux pane, then the exit code and the terminal mode.
fn pane_command(env: &Env, args: &str) -> String {
    format!(
        "env DOCKER_HOST={} DOCKER_CONFIG={} {} {args}; echo EXIT=$?; stty -a | grep -o -- '-\\?icanon' | head -1; sleep 60",
        env.host(),
        env.config_dir().display(),
        common::berth_bin().display()
    )
}

/// `berth run -d --name NAME ARGS...`: the container's ID.
fn run_detached(env: &Env, name: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "-d", "--name", name];
    all.extend_from_slice(args);
    env.berth_ok(&all)
}

/// `berth ARGS` in a new 80x24 tmux pane, once it shows the shell prompt.
fn pane_at_prompt(env: &Env, args: &str) -> Tmux {
    let t = Tmux::start(&pane_command(env, args), 80, 24);
    t.wait_for("/ #");
    t
}

/// Checks the pane's size (80x24 at first), resizes it and waits for the new size.
fn check_resize(t: &Tmux, cols: u16, rows: u16) {
    t.wait_for_size(24, 80);
    t.resize(cols, rows);
    t.wait_for_size(rows, cols);
}

/// Waits for berth to exit with `code` and checks it left the terminal in canonical mode.
fn exits_with_terminal_restored(t: &Tmux, code: i32) {
    let screen = t.wait_for(&format!("EXIT={code}"));
    t.wait_for("icanon");
    assert!(!screen.contains("-icanon"), "terminal left raw:\n{screen}");
}

#[test]
fn run_prints_output_and_exits_with_the_container_code() {
    let env = Env::start();
    let o = env.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo hello; echo oops >&2; exit 7",
    ]);
    let (out, err) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(7),
        "stdout {out} stderr {err}\n{}",
        env.log()
    );
    assert_eq!(out, "hello\n");
    assert_eq!(err, "oops\n");
    let o = env
        .berth()
        .args(["run", "-i", "--rm", "busybox", "cat"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut child = o.expect("spawn berth");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), b"piped\n")
        .expect("write stdin");
    drop(child.stdin.take());
    let o = child.wait_with_output().expect("wait");
    assert_eq!(text(&o).0, "piped\n");
    let o = env.run(&["run", "--rm", "busybox", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(127), "{:?}", text(&o));
}

#[test]
fn detached_container_logs_exec_stop_wait() {
    let env = Env::start();
    let (name, _c) = Cleanup::named(&env, "bl");
    let id = run_detached(
        &env,
        &name,
        &[
            "busybox",
            "sh",
            "-c",
            "echo started; trap 'exit 0' TERM; while true; do sleep 0.1; done",
        ],
    );
    assert_eq!(id.trim().len(), 64);
    let mut logs = String::new();
    for _ in 0..100 {
        logs = env.berth_ok(&["logs", &name]);
        if logs.contains("started") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(logs, "started\n");
    let o = env.run(&[
        "exec",
        "-e",
        "V=x",
        "-w",
        "/tmp",
        &name,
        "sh",
        "-c",
        "echo $V $(pwd); exit 3",
    ]);
    assert_eq!(
        (text(&o).0.as_str(), o.status.code()),
        ("x /tmp\n", Some(3))
    );
    let status = env.berth_ok(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.State}}",
    ]);
    assert_eq!(status, "running\n");
    assert_eq!(
        env.berth_ok(&["stop", "-t", "5", &name]),
        format!("{name}\n")
    );
    assert_eq!(env.berth_ok(&["wait", &name]), "0\n");
    assert_eq!(
        env.berth_ok(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.ExitCode}}",
            &name
        ]),
        "false 0\n"
    );
}

#[test]
fn run_it_in_a_pty_resizes_and_detaches() {
    let env = Env::start();
    let (name, _c) = Cleanup::named(&env, "bi");
    let t = pane_at_prompt(&env, &format!("run -it --name {name} busybox sh"));
    check_resize(&t, 100, 30);
    t.keys(&["C-p", "C-q"]);
    exits_with_terminal_restored(&t, 0);
    assert_eq!(
        env.berth_ok(&["inspect", "-f", "{{.State.Running}}", &name]),
        "true\n"
    );
}

#[test]
fn exec_it_and_attach_in_a_pty() {
    let env = Env::start();
    let (name, _c) = Cleanup::named(&env, "be");
    env.berth_ok(&["run", "-dit", "--name", &name, "busybox", "sh"]);
    let t = pane_at_prompt(&env, &format!("exec -it {name} sh"));
    check_resize(&t, 90, 20);
    t.line("exit 3");
    exits_with_terminal_restored(&t, 3);
    drop(t);
    let t = Tmux::start(&pane_command(&env, &format!("attach {name}")), 80, 24);
    std::thread::sleep(std::time::Duration::from_millis(500));
    t.line("echo attached-$((40+2))");
    t.wait_for("attached-42");
    t.line("exit 4");
    t.wait_for("EXIT=4");
}

#[test]
fn run_behaves_like_docker_run() {
    let env = Env::start();
    for args in [
        &[
            "run",
            "--rm",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "-u",
            "1:1",
            "--hostname",
            "hh",
            "busybox",
            "sh",
            "-c",
            "echo $X $(pwd) $(id -u) $(hostname)",
        ][..],
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 9",
        ][..],
        &["run", "--rm", "busybox", "/nonexistent"][..],
    ] {
        let b = env.run(args);
        let d = env.docker(args);
        assert_eq!(b.status.code(), d.status.code(), "{args:?}");
        assert_eq!(text(&b).0, text(&d).0, "{args:?}");
    }
}

#[test]
fn sigterm_during_run_it_restores_the_terminal() {
    let env = Env::start();
    let (name, _c) = Cleanup::named(&env, "bs");
    let t = pane_at_prompt(&env, &format!("run -it --name {name} busybox sh"));
    let pid = t.pane_pid();
    // The pane runs `sh -c`, whose child is `env` exec'ing berth.
    let children = std::process::Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output()
        .expect("pgrep");
    let berth_pid = String::from_utf8_lossy(&children.stdout).trim().to_string();
    assert!(!berth_pid.is_empty(), "no berth process under the pane");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &berth_pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    exits_with_terminal_restored(&t, 143);
}

#[test]
fn logs_follow_and_container_listing_match_docker() {
    let env = Env::start();
    let (name, _c) = Cleanup::named(&env, "bf");
    run_detached(
        &env,
        &name,
        &[
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo $i; sleep 0.3; done; echo done >&2",
        ],
    );
    let followed = env.run(&["logs", "-f", &name]);
    assert_eq!(
        text(&followed),
        ("1\n2\n3\n".to_string(), "done\n".to_string())
    );
    for args in [
        vec!["logs", &name],
        vec!["logs", "--tail", "1", &name],
        vec!["logs", "-t", &name],
        vec!["container", "logs", "--tail=2", "-t", &name],
        vec![
            "ps",
            "-a",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.Names}} {{.State}} {{.Command}} {{.Image}}",
        ],
        vec![
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}",
            &name,
        ],
        vec!["wait", &name],
    ] {
        env.same_as_docker(&args);
    }
}

#[test]
fn running_container_views_match_docker() {
    let env = Env::start();
    let (name, _c) = Cleanup::named(&env, "bw");
    run_detached(
        &env,
        &name,
        &["-p", "127.0.0.1::80", "busybox", "sleep", "300"],
    );
    let filter = format!("name={name}");
    for args in [
        vec!["top", &name],
        vec!["port", &name],
        vec![
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}}",
            &name,
        ],
        vec![
            "ps",
            "--filter",
            &filter,
            "--format",
            "{{.Names}} {{.State}} {{.Ports}}",
        ],
        vec![
            "ps",
            "-s",
            "--filter",
            &filter,
            "--format",
            "table {{.Names}}\t{{.Size}}\t{{.Mounts}}\t{{.Networks}}",
        ],
        vec![
            "container",
            "ls",
            "--filter",
            &filter,
            "--no-trunc",
            "--format",
            "{{.ID}} {{.Command}}",
        ],
        vec![
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.Pid}} {{json .NetworkSettings.Ports}}",
            &name,
        ],
    ] {
        env.same_as_docker(&args);
    }
    let stats = env.berth_ok(&["stats", "--no-stream", &name]);
    assert!(stats.starts_with("CONTAINER ID   NAME"), "{stats}");
    env.berth_ok(&["pause", &name]);
    assert_eq!(
        env.berth_ok(&["inspect", "-f", "{{.State.Paused}}", &name]),
        "true\n"
    );
    env.berth_ok(&["unpause", &name]);
    assert_eq!(env.berth_ok(&["kill", &name]), format!("{name}\n"));
    assert_eq!(env.berth_ok(&["wait", &name]), "137\n");
}

#[test]
fn start_attach_prints_output_and_exit_code_like_docker() {
    let env = Env::start();
    let (name, _c) = Cleanup::named(&env, "bsa");
    env.berth_ok(&[
        "create",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 5",
    ]);
    let b = env.same_as_docker(&["start", "-a", &name]);
    assert_eq!(
        (text(&b), b.status.code()),
        (("out\n".into(), "err\n".into()), Some(5))
    );
    let o = env.run(&["start", "-ai", &name]);
    assert_eq!(o.status.code(), Some(5), "{:?}", text(&o));
}
