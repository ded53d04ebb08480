//! End to end: `POST /containers/{id}/wait?condition=` (not-running, next-exit, removed) and
//! Docker's 400 for any other condition.

mod common;

use std::time::{Duration, Instant};

use berth_testkit::daemon::Daemon;
use berth_testkit::unique_name;
use common::{daemon_with_busybox, http};

/// `POST PATH` with no body: (status, body).
fn post(d: &Daemon, path: &str) -> (u16, String) {
    http::json(d, "POST", path, "")
}

/// Starts a wait in a thread; the returned handle yields (status, body, time taken).
fn wait_async(d: &Daemon, path: String) -> std::thread::JoinHandle<(u16, String, Duration)> {
    let socket = d.socket.clone();
    std::thread::spawn(move || {
        let t = Instant::now();
        let (status, body) = http::request_at(&socket, "POST", &path, "application/json", b"");
        (status, body, t.elapsed())
    })
}

#[test]
fn wait_conditions_behave_as_dockers() {
    let (d, _t) = daemon_with_busybox();
    let done = unique_name("wdone");
    let out = d.docker_run(&["run", "--name", &done, "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));

    // a bad condition is refused before the container is even looked up
    let (status, body) = post(&d, &format!("/containers/{done}/wait?condition=bogus"));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(r#"invalid condition: \"bogus\""#), "{body}");
    let (status, body) = post(&d, "/containers/no-such-thing/wait?condition=later");
    assert_eq!(status, 400, "{body}");
    // before API 1.30 there was no condition: ignored
    let (status, body) = post(
        &d,
        &format!("/v1.29/containers/{done}/wait?condition=bogus"),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""StatusCode":3"#), "{body}");

    // not-running on a stopped container answers at once
    let (status, body) = post(
        &d,
        &format!("/containers/{done}/wait?condition=not-running"),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""StatusCode":3"#), "{body}");

    // next-exit on a stopped container waits for the next run's exit
    let next = wait_async(&d, format!("/containers/{done}/wait?condition=next-exit"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!next.is_finished(), "next-exit returned for an old exit");
    d.docker_ok(&["start", &done]);
    let (status, body, _) = next.join().unwrap();
    assert_eq!(status, 200);
    assert!(body.contains(r#""StatusCode":3"#), "{body}");

    // removed: only when the container is gone
    let run = unique_name("wrun");
    d.docker_ok(&["run", "-d", "--name", &run, "busybox", "sleep", "300"]);
    let removed = wait_async(&d, format!("/containers/{run}/wait?condition=removed"));
    d.docker_ok(&["kill", &run]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!removed.is_finished(), "removed returned before the remove");
    d.docker_ok(&["rm", &run]);
    let (status, body, _) = removed.join().unwrap();
    assert_eq!(status, 200);
    assert!(body.contains(r#""StatusCode":137"#), "{body}");
}
