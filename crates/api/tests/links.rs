//! End to end: `--link NAME[:ALIAS]` through the stock docker CLI, on the default bridge
//! (legacy links: /etc/hosts and variables) and on a user-defined network (the alias resolves
//! from the linking container only).

mod common;

use berth_testkit::unique_name;
use common::files::{cleanup, fails_with};
use common::{daemon_with_busybox, inspect_f, run_detached};

#[test]
fn legacy_links_on_the_default_bridge_give_hosts_entries_and_variables() {
    let (d, _t) = daemon_with_busybox();
    let (a, b, c) = (unique_name("lka"), unique_name("lkb"), unique_name("lkc"));
    let _c = cleanup(&d, &[&b, &c, &a], &[]);
    let a_id = run_detached(
        &d,
        &a,
        &[
            "-e", "PASS=s3", "--expose", "5432", "busybox", "sleep", "300",
        ],
    );
    let ip = inspect_f(&d, &a, "{{.NetworkSettings.IPAddress}}");
    assert!(!ip.is_empty());
    let out = d.docker_ok(&[
        "run",
        "--name",
        &b,
        "--link",
        &format!("{a}:db"),
        "busybox",
        "sh",
        "-c",
        "grep -w db /etc/hosts; env | grep ^DB_ | sort; ping -c 1 -W 3 db >/dev/null && echo reached",
    ]);
    let want = format!(
        "{ip}\tdb {} {a}\nDB_ENV_PASS=s3\nDB_NAME=/{b}/db\nDB_PORT=tcp://{ip}:5432\n\
         DB_PORT_5432_TCP=tcp://{ip}:5432\nDB_PORT_5432_TCP_ADDR={ip}\nDB_PORT_5432_TCP_PORT=5432\n\
         DB_PORT_5432_TCP_PROTO=tcp\nreached\n",
        &a_id[..12]
    );
    assert_eq!(out, want, "{}", d.log());
    assert_eq!(
        inspect_f(&d, &b, "{{json .HostConfig.Links}}"),
        format!("[\"/{a}:/{b}/db\"]")
    );
    // kept by ID: the link survives the target's rename
    let renamed = unique_name("lkr");
    d.docker_ok(&["rename", &a, &renamed]);
    assert_eq!(
        inspect_f(&d, &b, "{{json .HostConfig.Links}}"),
        format!("[\"/{renamed}:/{b}/db\"]")
    );
    d.docker_ok(&["rename", &renamed, &a]);
    // a stopped target fails the start with moby's message
    d.docker_ok(&["stop", "-t", "0", &a]);
    fails_with(
        &d,
        &["start", &b],
        &format!("Cannot link to a non running container: /{a} AS /{b}/db"),
    );
    d.docker_ok(&["create", "--name", &c, "busybox", "true"]);
    fails_with(
        &d,
        &["create", "--link", "nosuchbox:x", "busybox", "true"],
        "could not get container for nosuchbox: No such container: nosuchbox",
    );
    fails_with(
        &d,
        &[
            "create",
            "--network",
            "host",
            "--link",
            &format!("{c}:x"),
            "busybox",
            "true",
        ],
        "conflicting options: host type networking can't be used with links",
    );
    fails_with(
        &d,
        &["create", "--link", &format!("{c}:a:b"), "busybox", "true"],
        "bad format for links",
    );
    // a removed target takes the link with it: B starts without it
    d.docker_ok(&["rm", &a]);
    assert_eq!(inspect_f(&d, &b, "{{json .HostConfig.Links}}"), "null");
    let o = d.docker_run(&["start", "-a", &b]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "", "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad address 'db'"),
        "{o:?}"
    );
}

#[test]
fn a_link_on_a_user_network_is_an_alias_only_the_linking_container_resolves() {
    let (d, _t) = daemon_with_busybox();
    let (net, t) = (unique_name("lkn"), unique_name("lkt"));
    let _c = cleanup(&d, &[&t], &[]);
    let pid = std::process::id();
    let subnet = format!("172.{}.{}.0/24", 20 + pid % 10, (pid / 10) % 250);
    d.docker_ok(&["network", "create", "--subnet", &subnet, &net]);
    run_detached(&d, &t, &["--network", &net, "busybox", "sleep", "300"]);
    let ip = inspect_f(
        &d,
        &t,
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
    );
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        &net,
        "--link",
        &format!("{t}:talias"),
        "busybox",
        "sh",
        "-c",
        "ping -c 1 -W 3 talias | head -1",
    ]);
    assert!(out.contains(&format!("({ip})")), "{out}");
    let other = d.docker_run(&[
        "run",
        "--rm",
        "--network",
        &net,
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "1",
        "talias",
    ]);
    assert!(!other.status.success(), "talias resolved without the link");
    // inspect shows it on the endpoint, as given, and not in HostConfig (moby's link graph is
    // the default bridge's)
    let l = unique_name("lkl");
    d.docker_ok(&[
        "create",
        "--name",
        &l,
        "--network",
        &net,
        "--link",
        &format!("{t}:talias"),
        "busybox",
        "true",
    ]);
    let f = format!("{{{{json (index .NetworkSettings.Networks \"{net}\").Links}}}}");
    assert_eq!(inspect_f(&d, &l, &f), format!("[\"{t}:talias\"]"));
    assert_eq!(inspect_f(&d, &l, "{{json .HostConfig.Links}}"), "null");
    d.docker_ok(&["rm", &l]);
    d.docker_ok(&["rm", "-f", &t]);
    d.docker_ok(&["network", "rm", &net]);
}
