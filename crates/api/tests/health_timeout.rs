//! End to end: a health probe that outlives its timeout is killed and reaped, and recorded as
//! Docker does (`Health check exceeded timeout (1s)`, exit code -1).

mod common;

use std::time::Duration;

use berth_testkit::daemon::Daemon;
use berth_testkit::unique_name;
use common::daemon_with_busybox;

fn health_log(d: &Daemon, name: &str) -> Vec<serde_json::Value> {
    let out = d.docker_ok(&["inspect", "-f", "{{json .State.Health.Log}}", name]);
    serde_json::from_str(out.trim()).unwrap_or_default()
}

#[test]
fn a_probe_past_its_timeout_is_killed_and_recorded() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("hto");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "1s",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    let mut log = vec![];
    for _ in 0..150 {
        log = health_log(&d, &name);
        if log.len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(log.len() >= 3, "{log:?}\n{}", d.log());
    for r in &log {
        assert_eq!(r["ExitCode"], -1, "{r}");
        assert_eq!(r["Output"], "Health check exceeded timeout (1s)", "{r}");
    }
    let status = d.docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", &name]);
    assert_eq!(status.trim(), "unhealthy");
    // killed probes do not pile up: at most the one running now is left, and no zombie
    let procs = d.docker_ok(&["exec", &name, "sh", "-c", "cat /proc/[0-9]*/stat"]);
    let probes = d.docker_ok(&["top", &name]);
    let running = probes.lines().filter(|l| l.ends_with("sleep 30")).count();
    assert!(running <= 1, "{running} probes still running:\n{probes}");
    let zombies: Vec<&str> = procs
        .lines()
        .filter(|l| {
            l.rsplit_once(") ")
                .is_some_and(|(_, r)| r.starts_with("Z "))
        })
        .collect();
    assert!(zombies.is_empty(), "{zombies:?}");
    d.docker_ok(&["rm", "-f", &name]);
}
