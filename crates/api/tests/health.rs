//! End to end: health checks run as execs, their state in inspect and ps, their events.

mod common;

use std::time::{Duration, Instant};

use berth_testkit::unique_name;
use common::daemon_with_busybox;

/// Polls `State.Health.Status` until it is `want` (or a minute passed).
fn wait_health(d: &berth_testkit::daemon::Daemon, name: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = d.docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", name]);
        if s.trim() == want || Instant::now() > deadline {
            return s.trim().to_string();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn passing_check_makes_the_container_healthy() {
    let (d, _t) = daemon_with_busybox();
    let start = chrono::Utc::now().timestamp().to_string();
    let name = unique_name("hok");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "echo probe-ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(wait_health(&d, &name, "healthy"), "healthy", "{}", d.log());
    let out = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Health.FailingStreak}} {{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}",
        &name,
    ]);
    assert_eq!(out.trim(), "0 0 probe-ok");
    let cfg = d.docker_ok(&[
        "inspect",
        "-f",
        "{{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}",
        &name,
    ]);
    assert_eq!(cfg.trim(), r#"["CMD-SHELL","echo probe-ok"] 1s"#);
    let ps = d.docker_ok(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ]);
    assert!(ps.trim().ends_with("(healthy)"), "{ps}");
    let until = (chrono::Utc::now().timestamp() + 1).to_string();
    let ev = d.docker_ok(&[
        "events",
        "--since",
        &start,
        "--until",
        &until,
        "--filter",
        &format!("container={name}"),
        "--format",
        "{{.Action}}",
    ]);
    assert!(ev.lines().any(|l| l == "health_status: healthy"), "{ev}");

    // the log keeps the last five results
    std::thread::sleep(Duration::from_secs(6));
    let n = d.docker_ok(&["inspect", "-f", "{{len .State.Health.Log}}", &name]);
    assert_eq!(n.trim(), "5");
    d.docker_ok(&["rm", "-f", &name]);
}

#[test]
fn failing_check_makes_the_container_unhealthy_after_retries() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("hbad");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "echo failing; exit 3",
        "--health-interval",
        "1s",
        "--health-retries",
        "3",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(
        wait_health(&d, &name, "unhealthy"),
        "unhealthy",
        "{}",
        d.log()
    );
    let out = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Health.FailingStreak}} {{len .State.Health.Log}} {{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}",
        &name,
    ]);
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(f.len(), 4, "{out}");
    let streak: i64 = f[0].parse().expect("streak");
    assert!(streak >= 3, "{out}");
    assert_eq!(f[1..], ["3", "3", "failing"][..], "{out}");
    let ps = d.docker_ok(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ]);
    assert!(ps.trim().ends_with("(unhealthy)"), "{ps}");

    // a check not due yet shows as starting; NONE disables the image's or none at all
    let slow = unique_name("hslow");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &slow,
        "--health-cmd",
        "true",
        "--health-interval",
        "1h",
        "busybox",
        "sleep",
        "300",
    ]);
    let ps = d.docker_ok(&[
        "ps",
        "--filter",
        &format!("name={slow}"),
        "--format",
        "{{.Status}}",
    ]);
    assert!(ps.trim().ends_with("(health: starting)"), "{ps}");
    let plain = unique_name("hnone");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &plain,
        "--no-healthcheck",
        "busybox",
        "sleep",
        "300",
    ]);
    let h = d.docker_ok(&["inspect", "-f", "{{json .State.Health}}", &plain]);
    assert_eq!(h.trim(), "null");

    let bad = d.docker_run(&[
        "run",
        "-d",
        "--health-cmd",
        "true",
        "--health-retries",
        "-1",
        "busybox",
        "true",
    ]);
    assert!(!bad.status.success());
    let by_health = |h: &str| {
        d.docker_ok(&[
            "ps",
            "--filter",
            &format!("health={h}"),
            "--format",
            "{{.Names}}",
        ])
    };
    let l = by_health("unhealthy");
    assert!(
        l.contains(&name) && !l.contains(&slow) && !l.contains(&plain),
        "{l}"
    );
    let l = by_health("starting");
    assert!(l.contains(&slow) && !l.contains(&name), "{l}");
    let l = by_health("none");
    assert!(l.contains(&plain) && !l.contains(&name), "{l}");
    let bad = d.docker_run(&["ps", "--filter", "health=sick"]);
    assert!(!bad.status.success());
    d.docker_ok(&["rm", "-f", &name, &slow, &plain]);
}

#[test]
fn slow_check_times_out_and_counts_as_a_failure() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("hslow");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "sleep 3",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(
        wait_health(&d, &name, "unhealthy"),
        "unhealthy",
        "{}",
        d.log()
    );
    let out = d.docker_ok(&[
        "inspect",
        "-f",
        "{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}",
        &name,
    ]);
    assert_eq!(out.trim(), "-1 Health check exceeded timeout (300ms)");
    d.docker_ok(&["rm", "-f", &name]);
}

#[test]
fn image_healthcheck_is_inherited_and_can_be_overridden() {
    let (d, _t) = daemon_with_busybox();
    let ctx = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nHEALTHCHECK --interval=1s --retries=2 CMD [\"echo\", \"from-image\"]\n",
    )
    .expect("write Dockerfile");
    let tag = unique_name("himg");
    let out = d
        .docker()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", &tag])
        .arg(ctx.path())
        .output()
        .expect("docker build");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let inherit = unique_name("hinh");
    d.docker_ok(&["run", "-d", "--name", &inherit, &tag, "sleep", "300"]);
    assert_eq!(
        wait_health(&d, &inherit, "healthy"),
        "healthy",
        "{}",
        d.log()
    );
    let o = d.docker_ok(&[
        "inspect",
        "-f",
        "{{(index .State.Health.Log 0).Output}}",
        &inherit,
    ]);
    assert_eq!(o.trim(), "from-image");

    // a longer interval from the CLI keeps the image's command
    let slow = unique_name("hover");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &slow,
        "--health-interval",
        "1h",
        &tag,
        "sleep",
        "300",
    ]);
    let cfg = d.docker_ok(&[
        "inspect",
        "-f",
        "{{json .Config.Healthcheck.Test}} {{.State.Health.Status}}",
        &slow,
    ]);
    assert_eq!(cfg.trim(), r#"["CMD","echo","from-image"] starting"#);

    let off = unique_name("hoff");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &off,
        "--no-healthcheck",
        &tag,
        "sleep",
        "300",
    ]);
    let h = d.docker_ok(&["inspect", "-f", "{{json .State.Health}}", &off]);
    assert_eq!(h.trim(), "null");
    d.docker_ok(&["rm", "-f", &inherit, &slow, &off]);
}

#[test]
fn health_checks_resume_after_a_daemon_restart() {
    let (mut d, _t) = daemon_with_busybox();
    let name = unique_name("hres");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "cat /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "busybox",
        "sh",
        "-c",
        "echo fine > /tmp/ok; sleep 300",
    ]);
    assert_eq!(wait_health(&d, &name, "healthy"), "healthy", "{}", d.log());
    d.restart();
    // the re-adopted container's checks run again: break it and it turns unhealthy
    d.docker_ok(&["exec", &name, "rm", "/tmp/ok"]);
    assert_eq!(
        wait_health(&d, &name, "unhealthy"),
        "unhealthy",
        "{}",
        d.log()
    );
    d.docker_ok(&["exec", &name, "sh", "-c", "echo back > /tmp/ok"]);
    assert_eq!(wait_health(&d, &name, "healthy"), "healthy", "{}", d.log());
    let log = d.docker_ok(&["inspect", "-f", "{{json .State.Health.Log}}", &name]);
    let log: serde_json::Value = serde_json::from_str(&log).expect("log json");
    let last = log.as_array().and_then(|l| l.last()).expect("a result");
    assert_eq!(last["Output"], "back\n", "{log}");
    assert_eq!(last["ExitCode"], 0, "{log}");
    d.docker_ok(&["rm", "-f", &name]);
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("hstart");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "exit 1",
        "--health-interval",
        "1s",
        "--health-start-period",
        "1h",
        "--health-start-interval",
        "1s",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = d.docker_ok(&["inspect", "-f", "{{len .State.Health.Log}}", &name]);
        if n.trim().parse::<usize>().unwrap_or(0) >= 2 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{(index .State.Health.Log 0).ExitCode}}",
        &name,
    ]);
    assert_eq!(out.trim(), "starting 0 1");
    d.docker_ok(&["rm", "-f", &name]);
}
