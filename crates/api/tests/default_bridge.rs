//! The default network `bridge` follows the daemon's `--bridge`/`--bip` on an existing data
//! root, as dockerd's does: re-made when no container is attached to it, and a start refused
//! with the attached containers named when some are.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::daemon::{Daemon, workspace_bin};
use berth_testkit::unique_name;
use common::daemon_with_busybox;

/// A /24 in 10.0.0.0/8 that no host route or address uses (as the daemon kit picks them).
fn free_bip() -> String {
    let routes = sh("ip -4 route show table all; ip -4 -o addr");
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let x = nanos ^ std::process::id().rotate_left(7);
        let prefix = format!("10.{}.{}.", 100 + (x >> 9) % 150, (x >> 1) % 250);
        if !routes.contains(&prefix) {
            return format!("{prefix}1/24");
        }
    }
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn nft_tables() -> String {
    sh("nft list tables")
}

/// (subnet, gateway, bridge) of the daemon's `bridge` network.
fn default_network(d: &Daemon) -> String {
    d.docker_ok(&[
        "network",
        "inspect",
        "-f",
        r#"{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}} {{index .Options "com.docker.network.bridge.name"}}"#,
        "bridge",
    ])
    .trim()
    .to_string()
}

/// What `--bip a.b.c.1/24` makes of the default network.
fn expected(bridge: &str, bip: &str) -> String {
    let (gw, _) = bip.split_once('/').unwrap();
    let subnet = format!("{}.0/24", gw.rsplit_once('.').unwrap().0);
    format!("{subnet} {gw} {bridge}")
}

fn addr_prefix(bip: &str) -> String {
    bip.rsplit_once('.').unwrap().0.to_string() + "."
}

#[test]
fn the_default_bridge_follows_new_flags_on_an_existing_data_root() {
    let (mut d, _t) = daemon_with_busybox();
    let (old_bridge, old_bip) = (d.bridge.clone(), d.bip.clone());
    assert_eq!(default_network(&d), expected(&old_bridge, &old_bip));
    let old_id = d.docker_ok(&["network", "inspect", "-f", "{{.Id}}", "bridge"]);

    // Another bridge and subnet.
    d.bridge = unique_name("bt");
    d.bip = free_bip();
    d.restart();
    assert_eq!(default_network(&d), expected(&d.bridge, &d.bip));
    assert_ne!(
        d.docker_ok(&["network", "inspect", "-f", "{{.Id}}", "bridge"]),
        old_id
    );
    let links = sh("ip -br link show type bridge");
    assert!(
        !links.contains(&old_bridge),
        "{old_bridge} is left:\n{links}"
    );
    let addr = sh(&format!("ip -4 -br addr show dev {}", d.bridge));
    assert!(addr.contains(&d.bip), "{addr}");
    let tables = nft_tables();
    assert!(
        !tables.contains(&format!("berth_{old_bridge}\n")),
        "the former rules are left:\n{tables}"
    );
    assert!(tables.contains(&format!("berth_{}", d.bridge)), "{tables}");
    let ip = d.docker_ok(&[
        "run", "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "eth0",
    ]);
    assert!(ip.contains(&addr_prefix(&d.bip)), "{ip}");

    // Only the subnet changes.
    d.bip = free_bip();
    d.restart();
    assert_eq!(default_network(&d), expected(&d.bridge, &d.bip));
    let ip = d.docker_ok(&[
        "run", "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "eth0",
    ]);
    assert!(ip.contains(&addr_prefix(&d.bip)), "{ip}");
}

/// Starts berthd on `d`'s roots with other bridge flags and returns (exit success, output);
/// a daemon still running after 20 s is killed and reported as a success.
fn start_with(d: &Daemon, bridge: &str, bip: &str) -> (bool, String) {
    let log = d.root().join(format!("{}.log", unique_name("refused")));
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(workspace_bin("berthd", "BERTHD"))
        .arg("--data-root")
        .arg(&d.data_root)
        .arg("--exec-root")
        .arg(&d.exec_root)
        .arg("-H")
        .arg(format!("unix://{}", d.socket.display()))
        .arg("--pidfile")
        .arg(&d.pidfile)
        .arg("--monitor-path")
        .arg(workspace_bin("berth-monitor", "BERTH_MONITOR"))
        .args(["--bridge", bridge, "--bip", bip])
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    (status.is_none_or(|s| s.success()), out)
}

#[test]
fn a_default_bridge_with_running_containers_is_kept_and_the_error_names_them() {
    let (mut d, _t) = daemon_with_busybox();
    let web = unique_name("web");
    let db = unique_name("db");
    for n in [&web, &db] {
        d.docker_ok(&["run", "-d", "--name", n, "busybox", "sleep", "1000"]);
    }
    let (old_bridge, old_bip) = (d.bridge.clone(), d.bip.clone());
    // The daemon dies; its containers run on.
    d.kill();
    let (new_bridge, new_bip) = (unique_name("bt"), free_bip());
    let (ok, out) = start_with(&d, &new_bridge, &new_bip);
    assert!(
        !ok,
        "the daemon started with containers on the former bridge:\n{out}"
    );
    for want in [
        web.as_str(),
        db.as_str(),
        "default network cannot change",
        old_bridge.as_str(),
        new_bridge.as_str(),
    ] {
        assert!(out.contains(want), "{want} missing from:\n{out}");
    }
    // Nothing was changed: no new bridge or table, and the former settings still start.
    assert!(!sh("ip -br link show type bridge").contains(&new_bridge));
    assert!(!nft_tables().contains(&format!("berth_{new_bridge}")));
    d.restart();
    assert_eq!(default_network(&d), expected(&old_bridge, &old_bip));
    for n in [&web, &db] {
        assert_eq!(
            d.docker_ok(&["inspect", "-f", "{{.State.Running}}", n])
                .trim(),
            "true"
        );
        d.docker_ok(&["exec", n, "true"]);
    }
    // Once they are gone, the change goes through.
    d.docker_ok(&["rm", "-f", &web, &db]);
    d.bridge = new_bridge;
    d.bip = new_bip;
    d.restart();
    assert_eq!(default_network(&d), expected(&d.bridge, &d.bip));
}
