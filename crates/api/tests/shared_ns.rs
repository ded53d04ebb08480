//! End to end: `--pid`, `--ipc` and `--uts` `container:NAME` (joining another container's
//! namespaces) through the stock docker CLI.

mod common;

use berth_testkit::unique_name;
use common::files::{cleanup, fails_with, wait_exec};
use common::http::{json, message};
use common::{daemon_with_busybox, inspect_f, run_detached};

/// `POST /containers/create` of busybox with more JSON fields; returns the ID.
fn create_api(d: &berth_testkit::daemon::Daemon, fields: &str) -> String {
    let body = format!(r#"{{"Image":"busybox",{fields}}}"#);
    let (code, resp) = json(d, "POST", "/containers/create", &body);
    assert_eq!(code, 201, "{resp}");
    let v: serde_json::Value = serde_json::from_str(&resp).unwrap();
    v["Id"].as_str().unwrap().to_string()
}

#[test]
fn pid_and_uts_container_modes_join_the_other_containers_namespaces() {
    let (d, _t) = daemon_with_busybox();
    let a = unique_name("nsa");
    let _c = cleanup(&d, &[&a], &[]);
    run_detached(
        &d,
        &a,
        &["--hostname", "donorhost", "busybox", "sleep", "3131"],
    );
    let ps = d.docker_ok(&[
        "run",
        "--rm",
        "--pid",
        &format!("container:{a}"),
        "busybox",
        "ps",
    ]);
    assert!(ps.contains("sleep 3131"), "{ps}");
    let own = d.docker_ok(&["run", "--rm", "busybox", "ps"]);
    assert!(!own.contains("sleep 3131"), "{own}");
    // the CLI has no --uts container:, the API takes it (as podman's)
    let id = create_api(
        &d,
        &format!(r#""Cmd":["hostname"],"HostConfig":{{"UTSMode":"container:{a}"}}"#),
    );
    let host = d.docker_ok(&["start", "-a", &id]);
    d.docker_ok(&["rm", &id]);
    assert_eq!(host, "donorhost\n");
    // the donor's hostname is left as it was
    assert_eq!(d.docker_ok(&["exec", &a, "hostname"]), "donorhost\n");
    assert_eq!(
        inspect_f(&d, &a, "{{.HostConfig.IpcMode}}"),
        "private",
        "moby's default IPC mode"
    );
}

#[test]
fn ipc_container_mode_shares_the_namespace_and_dev_shm_of_a_shareable_donor() {
    let (d, _t) = daemon_with_busybox();
    let (s, p) = (unique_name("nss"), unique_name("nsp"));
    let _c = cleanup(&d, &[&s, &p], &[]);
    let id = run_detached(
        &d,
        &s,
        &[
            "--ipc",
            "shareable",
            "busybox",
            "sh",
            "-c",
            "echo shared > /dev/shm/f; exec sleep 300",
        ],
    );
    wait_exec(&d, &s, &["test", "-f", "/dev/shm/f"]);
    let donor_ns = d.docker_ok(&["exec", &s, "readlink", "/proc/self/ns/ipc"]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--ipc",
        &format!("container:{s}"),
        "busybox",
        "sh",
        "-c",
        "readlink /proc/self/ns/ipc; cat /dev/shm/f; echo back > /dev/shm/g",
    ]);
    assert_eq!(out, format!("{donor_ns}shared\n"));
    assert_eq!(d.docker_ok(&["exec", &s, "cat", "/dev/shm/g"]), "back\n");
    // the donor's /dev/shm is a tmpfs on the host side while it runs, gone when it stops
    let shm = d.root().join("exec/containers").join(&id).join("shm");
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&format!(" {} ", shm.display()))
    };
    assert!(mounted(), "no host-side shm at {}", shm.display());
    // a private container cannot be joined (moby's hint); `none` has no /dev/shm
    run_detached(&d, &p, &["busybox", "sleep", "300"]);
    fails_with(
        &d,
        &[
            "run",
            "--rm",
            "--ipc",
            &format!("container:{p}"),
            "busybox",
            "true",
        ],
        "non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
    );
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--ipc",
        "none",
        "busybox",
        "sh",
        "-c",
        "grep -c ' /dev/shm ' /proc/mounts; readlink /proc/self/ns/ipc",
    ]);
    assert!(out.starts_with("0\n"), "{out}");
    assert_ne!(out.lines().nth(1), donor_ns.lines().next());
    d.docker_ok(&["stop", "-t", "1", &s]);
    assert!(!mounted(), "shm still mounted after stop");
    // `host`: the host's /dev/shm, as moby binds it
    let host_file = std::path::PathBuf::from("/dev/shm").join(unique_name("berth-ipc"));
    std::fs::write(&host_file, "host shm\n").unwrap();
    let seen = d.docker_run(&[
        "run",
        "--rm",
        "--ipc",
        "host",
        "busybox",
        "cat",
        &host_file.to_string_lossy(),
    ]);
    let _ = std::fs::remove_file(&host_file);
    assert_eq!(
        String::from_utf8_lossy(&seen.stdout),
        "host shm\n",
        "{seen:?}"
    );
}

#[test]
fn joining_a_stopped_or_unknown_container_fails_with_dockers_errors() {
    let (d, _t) = daemon_with_busybox();
    let c = unique_name("nsc");
    let _c = cleanup(&d, &[&c], &[]);
    d.docker_ok(&["create", "--name", &c, "busybox", "true"]);
    let before = d.docker_ok(&["ps", "-aq"]);
    fails_with(
        &d,
        &[
            "run",
            "--rm",
            "--pid",
            &format!("container:{c}"),
            "busybox",
            "true",
        ],
        &format!("cannot join PID of a non running container: {c}"),
    );
    let uts = create_api(
        &d,
        &format!(r#""HostConfig":{{"UTSMode":"container:{c}"}}"#),
    );
    fails_with(
        &d,
        &["start", &uts],
        &format!("cannot join UTS of a non running container: {c}"),
    );
    d.docker_ok(&["rm", &uts]);
    fails_with(
        &d,
        &["create", "--pid", "container:nosuchbox", "busybox", "true"],
        "No such container: nosuchbox",
    );
    fails_with(
        &d,
        &["create", "--ipc", "container:", "busybox", "true"],
        "invalid IpcMode",
    );
    // the statuses: 400 for an unknown container at create, 409 for a stopped one at start
    let body = r#"{"Image":"busybox","HostConfig":{"IpcMode":"container:nosuchbox"}}"#;
    let (code, resp) = json(&d, "POST", "/containers/create", body);
    assert_eq!(
        (code, message(&resp).as_str()),
        (400, "No such container: nosuchbox")
    );
    let id = create_api(
        &d,
        &format!(r#""HostConfig":{{"PidMode":"container:{c}"}}"#),
    );
    let (code, resp) = json(&d, "POST", &format!("/containers/{id}/start"), "");
    assert_eq!(code, 409, "{resp}");
    d.docker_ok(&["rm", &id]);
    // the failed `run --rm`s go away (the daemon removes them after the start's error)
    let left = common::poll(
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(100),
        || d.docker_ok(&["ps", "-aq"]),
        |l| *l == before,
    );
    assert_eq!(left, before);
}
