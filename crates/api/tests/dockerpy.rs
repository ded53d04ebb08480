//! docker-py (PyPI `docker`) against berthd: the Python scenarios in `tests/py/`.

mod common;

use std::process::Command;

use berth_testkit::unique_name;
use common::{daemon_with_busybox, ensure_docker_py};

/// Runs `tests/py/<script>` against a fresh daemon with busybox loaded, with a unique name
/// prefix as its argument, and checks that it succeeds and prints `done`.
fn run_scenario(script: &str, prefix: &str, done: &str) {
    ensure_docker_py();
    let (d, _t) = daemon_with_busybox();
    let path = format!("{}/tests/py/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(path)
        .arg(unique_name(prefix))
        .env("DOCKER_HOST", d.host())
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "docker-py {script} failed:\n{}\n{}\ndaemon log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(done));
}

#[test]
fn docker_py_scenario_runs_against_berthd() {
    run_scenario("scenario.py", "py", "docker-py scenario ok");
}

/// Update, health checks and network prune.
#[test]
fn docker_py_update_health_and_network_prune() {
    run_scenario("health_update.py", "pyh", "docker-py health/update ok");
}
