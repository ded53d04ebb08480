//! Shared helpers for the end-to-end tests: a daemon with busybox loaded.

#![allow(dead_code)]

pub mod files;

use berth_testkit::daemon::Daemon;

/// A fresh daemon with `busybox:latest` loaded through `docker load`.
pub fn daemon_with_busybox() -> (Daemon, tempfile::TempDir) {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let tar = berth_testkit::images::busybox_archive(dir.path(), "busybox:latest").unwrap();
    let out = d.docker_ok(&["load", "-i", tar.to_str().unwrap()]);
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    (d, dir)
}
