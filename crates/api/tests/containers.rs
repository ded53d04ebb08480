//! End to end: container lifecycle through the stock docker CLI.

mod common;

use berth_testkit::unique_name;
use common::daemon_with_busybox;
use common::files::fails_with;

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

#[test]
fn detached_container_logs_follow_and_stop() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("det");
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "trap 'echo bye; exit 3' TERM; echo started; while true; do sleep 0.1; done",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let state = d.docker_ok(&["inspect", "-f", "{{.State.Status}} {{.Name}}", &id[..12]]);
    assert_eq!(state.trim(), format!("running /{name}"));
    let follower = d
        .docker()
        .args(["logs", "-f", &name])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    d.docker_ok(&["stop", "-t", "5", &name]);
    let out = follower.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "started\nbye\n");
    let state = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        &name,
    ]);
    assert_eq!(state.trim(), "exited 3");
    let ps = d.docker_ok(&[
        "ps",
        "-a",
        "--filter",
        "status=exited",
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    assert!(ps.contains(&format!("{name} Exited (3)")), "{ps}");
    let ps = d.docker_ok(&["ps", "--format", "{{.Names}}"]);
    assert!(!ps.contains(&name), "{ps}");
    d.docker_ok(&["rm", &name]);
    let gone = d.docker_run(&["inspect", &name]);
    assert!(!gone.status.success());
}

#[test]
fn names_are_unique_and_running_containers_need_force() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("dup");
    d.docker_ok(&["run", "-d", "--name", &name, "busybox", "sleep", "60"]);
    let again = d.docker_run(&["create", "--name", &name, "busybox", "true"]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains(&format!("The container name \"/{name}\" is already in use")),
        "{err}"
    );
    let rm = d.docker_run(&["rm", &name]);
    let err = String::from_utf8_lossy(&rm.stderr);
    assert!(
        err.contains("You cannot remove a running container"),
        "{err}"
    );
    let renamed = unique_name("ren");
    d.docker_ok(&["rename", &name, &renamed]);
    d.docker_ok(&["pause", &renamed]);
    let st = d.docker_ok(&["inspect", "-f", "{{.State.Status}}", &renamed]);
    assert_eq!(st.trim(), "paused");
    d.docker_ok(&["unpause", &renamed]);
    d.docker_ok(&["rm", "-f", &renamed]);
    let ps = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!ps.contains(&renamed), "{ps}");
}

#[test]
fn bad_input_gets_dockers_status_and_message() {
    let (d, _t) = daemon_with_busybox();
    let out = d.docker_run(&["run", "--rm", "nosuchimage-xyz:1", "true"]);
    assert!(!out.status.success());
    let out = d.docker_run(&["inspect", "--type", "container", "nosuch"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container: nosuch"));
    let out = d.docker_run(&["create", "--name", "a b", "busybox", "true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid container name"));
    let out = d.docker_run(&["run", "--rm", "busybox", "/nonexistent"]);
    assert_eq!(
        out.status.code(),
        Some(127),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = d.docker_run(&["kill", "-s", "BOGUS", "nosuch"]);
    assert!(!out.status.success());
}

#[test]
fn on_failure_restart_policy_retries_then_gives_up() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("rp");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo try; exit 1",
    ]);
    let mut state = String::new();
    for _ in 0..100 {
        state = d.docker_ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
            &name,
        ]);
        if state.trim() == "2 exited 1" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(state.trim(), "2 exited 1");
    assert_eq!(d.docker_ok(&["logs", &name]), "try\ntry\ntry\n");
    let bad = d.docker_run(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert!(!bad.status.success());
    d.docker_ok(&["rm", &name]);
}

#[test]
fn ps_filters_before_since_publish_and_expose_as_dockers() {
    let (d, _t) = daemon_with_busybox();
    let [a, b, c] = ["fa", "fb", "fc"].map(unique_name);
    d.docker_ok(&[
        "create", "--name", &a, "--expose", "7000", "busybox", "true",
    ]);
    d.docker_ok(&[
        "create",
        "--name",
        &b,
        "-p",
        "127.0.0.1::8080/udp",
        "busybox",
        "true",
    ]);
    d.docker_ok(&[
        "create",
        "--name",
        &c,
        "-p",
        "127.0.0.1::9000",
        "busybox",
        "true",
    ]);
    let names = |filter: &str| -> Vec<String> {
        d.docker_ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])
            .lines()
            .map(str::to_owned)
            .collect()
    };
    // newest first, as Docker lists them; the named container itself is left out
    assert_eq!(names(&format!("before={c}")), vec![b.clone(), a.clone()]);
    assert_eq!(names(&format!("since={a}")), vec![c.clone(), b.clone()]);
    assert_eq!(names(&format!("since={b}")), vec![c.clone()]);
    // publish: the container port (tcp unless said), a range; expose: ExposedPorts
    assert_eq!(names("publish=9000"), vec![c.clone()]);
    assert_eq!(names("publish=8080/udp"), vec![b.clone()]);
    assert!(names("publish=8080").is_empty());
    assert_eq!(names("publish=8000-9000"), vec![c.clone()]);
    assert_eq!(names("expose=7000/tcp"), vec![a.clone()]);
    // without -a, stopped containers stay hidden as in Docker
    let out = d.docker_ok(&["ps", "--filter", &format!("since={a}"), "-q"]);
    assert!(out.trim().is_empty(), "{out}");
    // bad values: Docker's status and a message naming them
    let out = d.docker_run(&["ps", "-a", "--filter", "before=nosuchcontainer"]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("No such container: nosuchcontainer"),
        "{}",
        common::stderr(&out)
    );
    let out = d.docker_run(&["ps", "-a", "--filter", "publish=80/icmp"]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("error while looking up for publish 80/icmp"),
        "{}",
        common::stderr(&out)
    );
    for n in [&a, &b, &c] {
        d.docker_ok(&["rm", n]);
    }
}

/// HostConfig fields beyond the model's: --device, --shm-size, --pid/--ipc host, --sysctl,
/// --oom-score-adj and --memory-swappiness reach the container; fields this daemon does not
/// implement (--cpu-rt-runtime, ...) are refused by name instead of ignored.
#[test]
fn devices_shm_size_pid_host_sysctls_and_refused_host_options() {
    let (d, _t) = daemon_with_busybox();
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--shm-size",
        "8m",
        "--sysctl",
        "kernel.shmmax=12345678",
        "--sysctl",
        "net.ipv4.ip_unprivileged_port_start=99",
        "--oom-score-adj",
        "345",
        "busybox",
        "sh",
        "-c",
        "df -k /dev/shm | tail -1; cat /proc/sys/kernel/shmmax \
         /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/self/oom_score_adj",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().nth(1),
        Some("8192"),
        "/dev/shm size: {out}"
    );
    assert_eq!(&lines[1..], ["12345678", "99", "345"], "{out}");
    // a host device under another name, with the cgroup letting it be read
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/zero:/dev/myzero:r",
        "busybox",
        "sh",
        "-c",
        "head -c 5 /dev/myzero | wc -c; stat -c '%t:%T %F' /dev/myzero",
    ]);
    assert_eq!(out, "5\n1:5 character special file\n");
    // the cgroup permissions: /dev/kmsg (not among the devices every container may use)
    // opened for writing only when `w` is given
    for (perms, want) in [("r", "denied\n"), ("rw", "opened\n")] {
        let dev = format!("/dev/kmsg:/dev/k:{perms}");
        let out = d.docker_ok(&[
            "run",
            "--rm",
            "--device",
            &dev,
            "busybox",
            "sh",
            "-c",
            "(exec 3>/dev/k) 2>/dev/null && echo opened || echo denied",
        ]);
        assert_eq!(out, want, "--device {dev}");
    }
    // no device beyond those every container may use: a node made with mknod cannot be
    // opened, but for a privileged container
    for (flags, want) in [(vec![], "denied\n"), (vec!["--privileged"], "opened\n")] {
        let mut a = vec!["run", "--rm"];
        a.extend(flags.iter().copied());
        a.extend([
            "busybox",
            "sh",
            "-c",
            "mknod /dev/k c 1 11 && (exec 3>/dev/k) 2>/dev/null && echo opened || echo denied",
        ]);
        assert_eq!(d.docker_ok(&a), want, "{flags:?}");
    }
    // the host's pid namespace: the host's init is there
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--pid",
        "host",
        "busybox",
        "cat",
        "/proc/1/comm",
    ]);
    let host_init = std::fs::read_to_string("/proc/1/comm").unwrap();
    assert_eq!(out, host_init);
    let out = d.docker_ok(&["run", "--rm", "busybox", "cat", "/proc/1/comm"]);
    assert_eq!(out, "cat\n", "a private pid namespace by default");
    let inspect = d.docker_ok(&[
        "create",
        "--shm-size",
        "8m",
        "--pid",
        "host",
        "busybox",
        "true",
    ]);
    let shown = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.ShmSize}} {{.HostConfig.PidMode}}",
        inspect.trim(),
    ]);
    assert_eq!(shown.trim(), "8388608 host");
    d.docker_ok(&["rm", inspect.trim()]);
    for (args, want) in [
        (
            vec!["--device", "/etc/hostname"],
            "error gathering device information while adding custom device \"/etc/hostname\": not a device node",
        ),
        (
            vec!["--cpu-rt-runtime", "1000"],
            "HostConfig.CpuRealtimeRuntime is not supported",
        ),
        (
            vec!["--oom-score-adj", "1001"],
            "range for oom score adj is [-1000, 1000]",
        ),
    ] {
        let mut a = vec!["create"];
        a.extend(args.iter().copied());
        a.extend(["busybox", "true"]);
        let o = d.docker_run(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(want), "{args:?}: {err}");
    }
    // what the CLI checks itself, from an API client: a host-wide sysctl
    let (code, resp) = common::http::json(
        &d,
        "POST",
        "/containers/create",
        r#"{"Image":"busybox","HostConfig":{"Sysctls":{"kernel.panic":"1"}}}"#,
    );
    assert_eq!(code, 400, "{resp}");
    assert!(
        common::http::message(&resp).contains("sysctl \"kernel.panic\" is not allowed"),
        "{resp}"
    );
    let ps = d.docker_ok(&["ps", "-aq"]);
    assert!(ps.trim().is_empty(), "containers left: {ps}");
}

#[test]
fn group_add_gives_the_process_more_groups() {
    let (d, _t) = daemon_with_busybox();
    let groups = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["busybox", "id", "-G"]);
        let out = d.docker_ok(&all);
        out.split_whitespace().map(str::to_string).collect()
    };
    // a name of the image's /etc/group and a number, beside the user's own group
    let g = groups(&["--group-add", "nogroup", "--group-add", "4321"]);
    for want in ["0", "65534", "4321"] {
        assert!(g.iter().any(|x| x == want), "{want} missing: {g:?}");
    }
    let g = groups(&["-u", "nobody", "--group-add", "4321"]);
    assert_eq!(g, ["65534", "4321"]);
    // an unknown group fails the start with Docker's message; a malformed one the create
    fails_with(
        &d,
        &[
            "run",
            "--rm",
            "--group-add",
            "nosuchgroup",
            "busybox",
            "true",
        ],
        "Unable to find group nosuchgroup",
    );
    fails_with(
        &d,
        &["create", "--group-add", "a b", "busybox", "true"],
        "invalid group name",
    );
}
