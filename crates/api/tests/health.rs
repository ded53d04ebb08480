//! End to end: health checks run as execs, their state in inspect and ps, their events.

mod common;

use std::time::Duration;

use berth_testkit::daemon::Daemon;
use berth_testkit::unique_name;
use common::{
    daemon_with_busybox, expect_health, health_log, inspect_f, poll, run_detached, run_with_check,
    stderr,
};

/// `docker ps`'s STATUS column for `name` (ends with the health in parentheses).
fn ps_status(d: &Daemon, name: &str) -> String {
    d.docker_ok(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ])
}

#[test]
fn passing_check_makes_the_container_healthy() {
    let (d, _t) = daemon_with_busybox();
    let start = chrono::Utc::now().timestamp().to_string();
    let name = unique_name("hok");
    run_with_check(&d, &name, "echo probe-ok", &["--health-retries", "2"]);
    expect_health(&d, &name, "healthy");
    let out = inspect_f(
        &d,
        &name,
        "{{.State.Health.FailingStreak}} {{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}",
    );
    assert_eq!(out, "0 0 probe-ok");
    let cfg = inspect_f(
        &d,
        &name,
        "{{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}",
    );
    assert_eq!(cfg, r#"["CMD-SHELL","echo probe-ok"] 1s"#);
    let ps = ps_status(&d, &name);
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
    assert_eq!(inspect_f(&d, &name, "{{len .State.Health.Log}}"), "5");
    d.docker_ok(&["rm", "-f", &name]);
}

#[test]
fn failing_check_makes_the_container_unhealthy_after_retries() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("hbad");
    run_with_check(
        &d,
        &name,
        "echo failing; exit 3",
        &["--health-retries", "3"],
    );
    expect_health(&d, &name, "unhealthy");
    let out = inspect_f(
        &d,
        &name,
        "{{.State.Health.FailingStreak}} {{len .State.Health.Log}} {{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}",
    );
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(f.len(), 4, "{out}");
    let streak: i64 = f[0].parse().expect("streak");
    assert!(streak >= 3, "{out}");
    assert_eq!(f[1..], ["3", "3", "failing"][..], "{out}");
    let ps = ps_status(&d, &name);
    assert!(ps.trim().ends_with("(unhealthy)"), "{ps}");

    // a check not due yet shows as starting; NONE disables the image's or none at all
    let slow = unique_name("hslow");
    run_detached(
        &d,
        &slow,
        &[
            "--health-cmd",
            "true",
            "--health-interval",
            "1h",
            "busybox",
            "sleep",
            "300",
        ],
    );
    let ps = ps_status(&d, &slow);
    assert!(ps.trim().ends_with("(health: starting)"), "{ps}");
    let plain = unique_name("hnone");
    run_detached(&d, &plain, &["--no-healthcheck", "busybox", "sleep", "300"]);
    assert_eq!(inspect_f(&d, &plain, "{{json .State.Health}}"), "null");

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
    run_with_check(
        &d,
        &name,
        "sleep 3",
        &["--health-timeout", "300ms", "--health-retries", "1"],
    );
    expect_health(&d, &name, "unhealthy");
    let out = inspect_f(
        &d,
        &name,
        "{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}",
    );
    assert_eq!(out, "-1 Health check exceeded timeout (300ms)");
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
    assert!(out.status.success(), "{}", stderr(&out));

    let inherit = unique_name("hinh");
    run_detached(&d, &inherit, &[&tag, "sleep", "300"]);
    expect_health(&d, &inherit, "healthy");
    let o = inspect_f(&d, &inherit, "{{(index .State.Health.Log 0).Output}}");
    assert_eq!(o, "from-image");

    // a longer interval from the CLI keeps the image's command
    let slow = unique_name("hover");
    run_detached(
        &d,
        &slow,
        &["--health-interval", "1h", &tag, "sleep", "300"],
    );
    let cfg = inspect_f(
        &d,
        &slow,
        "{{json .Config.Healthcheck.Test}} {{.State.Health.Status}}",
    );
    assert_eq!(cfg, r#"["CMD","echo","from-image"] starting"#);

    let off = unique_name("hoff");
    run_detached(&d, &off, &["--no-healthcheck", &tag, "sleep", "300"]);
    assert_eq!(inspect_f(&d, &off, "{{json .State.Health}}"), "null");
    d.docker_ok(&["rm", "-f", &inherit, &slow, &off]);
}

#[test]
fn health_checks_resume_after_a_daemon_restart() {
    let (mut d, _t) = daemon_with_busybox();
    let name = unique_name("hres");
    run_detached(
        &d,
        &name,
        &[
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
        ],
    );
    expect_health(&d, &name, "healthy");
    d.restart();
    // the re-adopted container's checks run again: break it and it turns unhealthy
    d.docker_ok(&["exec", &name, "rm", "/tmp/ok"]);
    expect_health(&d, &name, "unhealthy");
    d.docker_ok(&["exec", &name, "sh", "-c", "echo back > /tmp/ok"]);
    expect_health(&d, &name, "healthy");
    let log = health_log(&d, &name);
    let last = log.last().expect("a result");
    assert_eq!(last["Output"], "back\n", "{log:?}");
    assert_eq!(last["ExitCode"], 0, "{log:?}");
    d.docker_ok(&["rm", "-f", &name]);
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("hstart");
    run_with_check(
        &d,
        &name,
        "exit 1",
        &[
            "--health-start-period",
            "1h",
            "--health-start-interval",
            "1s",
            "--health-retries",
            "1",
        ],
    );
    poll(
        Duration::from_secs(60),
        Duration::from_millis(200),
        || health_log(&d, &name).len(),
        |n| *n >= 2,
    );
    let out = inspect_f(
        &d,
        &name,
        "{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{(index .State.Health.Log 0).ExitCode}}",
    );
    assert_eq!(out, "starting 0 1");
    d.docker_ok(&["rm", "-f", &name]);
}
