//! End-to-end: `berth` against a temporary berthd (build the daemon first:
//! `cargo build -p berth-api --bins`).

mod common;

use common::{Env, text};

#[test]
fn version_and_info_talk_to_the_daemon() {
    let env = Env::bare();
    let v = env.berth_ok(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert!(v.trim().starts_with("1."), "{v}");
    let info = env.berth_ok(&["info", "--format", "{{.OSType}}"]);
    assert_eq!(info.trim(), "linux");
}

#[test]
fn a_daemon_that_is_not_running_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none.sock");
    let o = std::process::Command::new(common::berth_bin())
        .args(["-H", &format!("unix://{}", sock.display()), "ps"])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains(&format!(
            "Cannot connect to the Berth daemon at unix://{}",
            sock.display()
        )),
        "{err}"
    );
    let o = std::process::Command::new(common::berth_bin())
        .args(["-H", &format!("unix://{}", sock.display()), "version"])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(out.starts_with("Client:\n Version:"), "{out}");
    assert!(err.contains("Cannot connect to the Berth daemon"), "{err}");
}

#[test]
fn usage_errors_exit_125() {
    let o = std::process::Command::new(common::berth_bin())
        .args(["ps", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    let o = std::process::Command::new(common::berth_bin())
        .args(["run"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn completions_and_version_need_no_daemon() {
    for shell in ["bash", "zsh", "fish"] {
        let o = std::process::Command::new(common::berth_bin())
            .args(["completion", shell])
            .env("DOCKER_HOST", "unix:///nonexistent.sock")
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert!(o.status.success(), "{shell}: {err}");
        assert!(
            out.contains("berth") && out.contains("run"),
            "{shell} completion:\n{out}"
        );
    }
    let o = std::process::Command::new(common::berth_bin())
        .arg("-v")
        .output()
        .unwrap();
    assert!(text(&o).0.starts_with("Berth version "));
    let o = std::process::Command::new(common::berth_bin())
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).0.contains("--publish"));
}
