//! End to end: push to and pull from a local registry (Debian's docker-registry).

mod common;

use berth_testkit::registry::Registry;
use berth_testkit::unique_name;
use common::daemon_with_busybox;

#[test]
fn push_then_pull_and_run_from_a_local_registry() {
    let (d, _t) = daemon_with_busybox();
    let reg = Registry::start().unwrap();
    let image = format!("{}/{}:1", reg.host(), unique_name("bb"));
    d.docker_ok(&["tag", "busybox", &image]);
    let out = d.docker_ok(&["push", &image]);
    assert!(out.contains("digest: sha256:"), "{out}");
    d.docker_ok(&["rmi", &image]);
    let out = d.docker_ok(&["pull", &image]);
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {image}"))
            || out.contains("Image is up to date"),
        "{out}"
    );
    let out = d.docker_ok(&["run", "--rm", &image, "echo", "pulled"]);
    assert_eq!(out, "pulled\n");
    let missing = d.docker_run(&["pull", &format!("{}/nosuch:1", reg.host())]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("not found") || err.contains("manifest unknown"),
        "{err}"
    );
}

#[test]
fn run_pulls_a_missing_image_first() {
    let (d, _t) = daemon_with_busybox();
    let reg = Registry::start().unwrap();
    let image = format!("{}/{}:2", reg.host(), unique_name("auto"));
    d.docker_ok(&["tag", "busybox", &image]);
    d.docker_ok(&["push", &image]);
    d.docker_ok(&["rmi", &image]);
    let out = d.docker_run(&["run", "--rm", &image, "echo", "auto"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "auto\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
