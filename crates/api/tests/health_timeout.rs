//! End to end: a health probe that outlives its timeout is killed and reaped, and recorded as
//! Docker does (`Health check exceeded timeout (1s)`, exit code -1).

mod common;

use std::time::Duration;

use berth_testkit::unique_name;
use common::{daemon_with_busybox, health_log, inspect_f, poll, run_with_check};

#[test]
fn a_probe_past_its_timeout_is_killed_and_recorded() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("hto");
    run_with_check(
        &d,
        &name,
        "sleep 30",
        &["--health-timeout", "1s", "--health-retries", "1"],
    );
    let log = poll(
        Duration::from_secs(15),
        Duration::from_millis(100),
        || health_log(&d, &name),
        |l| l.len() >= 3,
    );
    assert!(log.len() >= 3, "{log:?}\n{}", d.log());
    for r in &log {
        assert_eq!(r["ExitCode"], -1, "{r}");
        assert_eq!(r["Output"], "Health check exceeded timeout (1s)", "{r}");
    }
    assert_eq!(
        inspect_f(&d, &name, "{{.State.Health.Status}}"),
        "unhealthy"
    );
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
