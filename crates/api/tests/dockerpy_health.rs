//! docker-py (PyPI `docker`) against berthd: update, health checks and network prune
//! (`tests/py/health_update.py`).

mod common;

use std::process::Command;

use berth_testkit::unique_name;
use common::daemon_with_busybox;

/// Installs docker-py for this user when it is missing (PyPI is reachable here).
fn ensure_docker_py() {
    let ok = Command::new("python3")
        .args(["-c", "import docker"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let st = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "docker"])
            .status()
            .expect("run pip");
        assert!(st.success(), "pip install docker failed");
    }
}

#[test]
fn docker_py_update_health_and_network_prune() {
    ensure_docker_py();
    let (d, _t) = daemon_with_busybox();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/health_update.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(unique_name("pyh"))
        .env("DOCKER_HOST", d.host())
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "docker-py health/update failed:\n{}\n{}\ndaemon log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("docker-py health/update ok"));
}
