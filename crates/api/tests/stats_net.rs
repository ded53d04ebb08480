//! End to end: per-interface network figures in stats (`networks` in the JSON, NET I/O in
//! `docker stats`), read from the container's network namespace; absent for `none` and `host`.

mod common;

use berth_testkit::daemon::Daemon;
use berth_testkit::unique_name;
use common::{daemon_with_busybox, http, run_detached};

/// A one-shot stats object over raw HTTP (the body of a `Connection: close` response).
fn stats_json(d: &Daemon, name: &str) -> serde_json::Value {
    let path = format!("/containers/{name}/stats?stream=false");
    let (status, body) = http::json(d, "GET", &path, "");
    assert_eq!(status, 200, "{body}");
    let start = body.find('{').unwrap();
    let end = body.rfind('}').unwrap();
    serde_json::from_str(&body[start..=end]).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn stats_report_the_containers_interfaces() {
    let (d, _t) = daemon_with_busybox();
    let gateway = d.bip.split('/').next().unwrap().to_string();
    let name = unique_name("snet");
    run_detached(
        &d,
        &name,
        &[
            "busybox",
            "sh",
            "-c",
            &format!("ping -c 5 -i 0.2 {gateway} && echo pinged; sleep 300"),
        ],
    );
    for _ in 0..50 {
        if d.docker_ok(&["logs", &name]).contains("pinged") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        d.docker_ok(&["logs", &name]).contains("pinged"),
        "{}",
        d.log()
    );

    let v = stats_json(&d, &name);
    let nets = v["networks"].as_object().expect("networks in stats");
    assert_eq!(nets.keys().collect::<Vec<_>>(), vec!["eth0"], "{v}");
    let eth0 = &nets["eth0"];
    for k in [
        "rx_bytes",
        "rx_packets",
        "rx_errors",
        "rx_dropped",
        "tx_bytes",
        "tx_packets",
        "tx_errors",
        "tx_dropped",
    ] {
        assert!(eth0[k].is_u64(), "{k} missing: {eth0}");
    }
    // five echo requests out, five replies in (at least; ARP too)
    assert!(eth0["tx_packets"].as_u64().unwrap() >= 5, "{eth0}");
    assert!(eth0["rx_packets"].as_u64().unwrap() >= 5, "{eth0}");
    assert!(eth0["rx_bytes"].as_u64().unwrap() >= 5 * 98, "{eth0}");

    let netio = d.docker_ok(&["stats", "--no-stream", "--format", "{{.NetIO}}", &name]);
    let (rx, tx) = netio.trim().split_once(" / ").expect("NET I/O column");
    assert_ne!(rx, "0B", "{netio}");
    assert_ne!(tx, "0B", "{netio}");

    // no interface of its own: no `networks` key, as dockerd omits it
    for mode in ["none", "host"] {
        let other = unique_name("snet");
        d.docker_ok(&[
            "run",
            "-d",
            "--network",
            mode,
            "--name",
            &other,
            "busybox",
            "sleep",
            "300",
        ]);
        let v = stats_json(&d, &other);
        assert!(v.get("networks").is_none(), "{mode}: {v}");
        assert!(v["memory_stats"]["usage"].as_u64().unwrap() > 0, "{v}");
        d.docker_ok(&["rm", "-f", &other]);
    }
    d.docker_ok(&["rm", "-f", &name]);
}
