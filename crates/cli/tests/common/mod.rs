//! Shared helpers for the end-to-end tests: a temporary berthd with a busybox image loaded, and
//! runners for `berth` and the stock `docker` CLI against it.

#![allow(dead_code)]

pub mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use berth_testkit::daemon::Daemon;

pub struct Env {
    daemon: Option<Daemon>,
    host: String,
    pub dir: tempfile::TempDir,
}

pub fn berth_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

/// Output as text, both streams, for assertions.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

impl Env {
    /// A daemon with `busybox:latest` loaded through `berth load`.
    pub fn start() -> Env {
        let env = Env::bare();
        let archive = berth_testkit::images::busybox_archive(env.dir.path(), "busybox:latest")
            .expect("busybox archive");
        env.berth_ok(&["load", "-i", archive.to_str().expect("utf-8 path")]);
        env
    }

    /// A daemon with no image: a temporary berthd, or the daemon `BERTH_E2E_HOST` names (another
    /// berthd, or a real dockerd) when set.
    pub fn bare() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("BERTH_E2E_HOST") {
            Ok(host) if !host.is_empty() => Env {
                daemon: None,
                host,
                dir,
            },
            _ => {
                let daemon = Daemon::start();
                let host = daemon.host();
                Env {
                    daemon: Some(daemon),
                    host,
                    dir,
                }
            }
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The daemon's log so far, for assertion messages.
    pub fn log(&self) -> String {
        self.daemon.as_ref().map(Daemon::log).unwrap_or_default()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn berth(&self) -> Command {
        let mut c = Command::new(berth_bin());
        c.env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.config_dir())
            .env_remove("BERTH_HOST")
            .env_remove("DOCKER_API_VERSION")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.berth().args(args).output().expect("run berth")
    }

    /// Runs `berth ARGS`; panics with both outputs and the daemon log unless it succeeds.
    pub fn berth_ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let (out, err) = text(&o);
        assert!(
            o.status.success(),
            "berth {args:?} failed ({}):\nstdout: {out}\nstderr: {err}\ndaemon log:\n{}",
            o.status,
            self.log()
        );
        out
    }

    /// The stock docker CLI against the same daemon, with its own config dir.
    pub fn docker_cmd(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .stdin(Stdio::null());
        c
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd().args(args).output().expect("run docker")
    }

    /// Runs `ARGS` with berth and with the docker CLI; asserts the same output and exit code
    /// and returns berth's output.
    pub fn same_as_docker(&self, args: &[&str]) -> Output {
        let (b, d) = (self.run(args), self.docker(args));
        assert_eq!(
            (text(&b), b.status.code()),
            (text(&d), d.status.code()),
            "{args:?}"
        );
        b
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Removes containers at the end of a test whatever happens.
pub struct Cleanup<'a>(pub &'a Env, pub Vec<String>);

impl<'a> Cleanup<'a> {
    /// A unique container name from `prefix`, removed when the guard drops.
    pub fn named(env: &'a Env, prefix: &str) -> (String, Cleanup<'a>) {
        let name = berth_testkit::unique_name(prefix);
        (name.clone(), Cleanup(env, vec![name]))
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for name in &self.1 {
            let _ = self.0.run(&["rm", "-f", name]);
        }
    }
}

pub fn write(p: &Path, s: &str) {
    std::fs::write(p, s).expect("write file");
}
