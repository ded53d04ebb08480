//! End to end: events, stats, top, system df, prune.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use berth_testkit::unique_name;
use common::{daemon_with_busybox, run_detached};

#[test]
fn events_stream_carries_the_lifecycle_with_legacy_keys() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("ev");
    let mut ev = d
        .docker()
        .args([
            "events",
            "--format",
            "{{json .}}",
            "--filter",
            &format!("container={name}"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    d.docker_ok(&["run", "--rm", "--name", &name, "busybox", "true"]);
    let mut reader = BufReader::new(ev.stdout.take().unwrap());
    let mut actions = vec![];
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["status"], v["Action"], "{line}");
        assert_eq!(v["from"], "busybox", "{line}");
        actions.push(v["Action"].as_str().unwrap().to_string());
        if v["Action"] == "destroy" {
            break;
        }
        line.clear();
    }
    let _ = ev.kill();
    let _ = ev.wait();
    for a in ["create", "start", "die", "destroy"] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let since = d.docker_ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &now.to_string(),
        "--filter",
        "event=die",
        "--format",
        "{{.Actor.Attributes.exitCode}}",
    ]);
    assert!(since.lines().any(|l| l == "0"), "{since}");
    // an unknown filter key is Docker's 400; a swarm one matches nothing here
    let out = d.docker_run(&[
        "events",
        "--since",
        "0",
        "--until",
        &now.to_string(),
        "--filter",
        "colour=red",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid filter 'colour'"), "{err}");
    let none = d.docker_ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &now.to_string(),
        "--filter",
        "service=web",
    ]);
    assert!(none.is_empty(), "{none}");
}

#[test]
fn stats_top_df_and_prune() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("st");
    run_detached(
        &d,
        &name,
        &["busybox", "sh", "-c", "while true; do :; done"],
    );
    let out = d.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.CPUPerc}} {{.MemUsage}}",
        &name,
    ]);
    assert!(out.starts_with(&name), "{out}");
    let cpu: f64 = out
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(cpu > 1.0, "a busy loop should show CPU: {out}");
    let top = d.docker_ok(&["top", &name]);
    assert!(top.contains("PID") && top.contains("sh -c"), "{top}");
    let df = d.docker_ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(
        df.contains("Images 1") && df.contains("Containers 1"),
        "{df}"
    );
    d.docker_ok(&["kill", &name]);
    d.docker_ok(&["wait", &name]);
    let stopped = unique_name("pr");
    d.docker_ok(&["create", "--name", &stopped, "busybox", "true"]);
    let pruned = d.docker_ok(&["container", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn image_commands_work_against_the_store() {
    let (d, _t) = daemon_with_busybox();
    let tag = format!("{}:v1", unique_name("img"));
    d.docker_ok(&["tag", "busybox", &tag]);
    let list = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        list.contains(&tag) && list.contains("busybox:latest"),
        "{list}"
    );
    let id = d.docker_ok(&["image", "inspect", "-f", "{{.Id}}", &tag]);
    assert!(id.starts_with("sha256:"), "{id}");
    let hist = d.docker_ok(&["history", "-q", &tag]);
    assert!(!hist.trim().is_empty());
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("saved.tar");
    d.docker_ok(&["save", "-o", tar.to_str().unwrap(), &tag]);
    let out = d.docker_ok(&["rmi", &tag]);
    assert!(out.contains(&format!("Untagged: {tag}")), "{out}");
    let out = d.docker_ok(&["load", "-i", tar.to_str().unwrap()]);
    assert!(out.contains(&tag), "{out}");
    let name = unique_name("user");
    d.docker_ok(&["create", "--name", &name, "busybox", "true"]);
    let busy = d.docker_run(&["rmi", id.trim()]);
    let err = String::from_utf8_lossy(&busy.stderr);
    assert!(
        err.contains("must be forced") && err.contains("stopped container"),
        "{err}"
    );
    let missing = d.docker_run(&["image", "inspect", "nosuch:1"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such image"));
}
