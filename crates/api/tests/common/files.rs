//! Helpers of the file-copy tests (`archive.rs`, `archive_volumes.rs`): containers and
//! images removed when a test ends, docker commands whose failure is expected, hand-made
//! tars.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_testkit::daemon::Daemon;

/// Removes the named containers, images and volumes when the test ends, passed or failed.
pub struct Cleanup<'a> {
    d: &'a Daemon,
    containers: Vec<String>,
    images: Vec<String>,
    volumes: Vec<String>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = self.d.docker_run(&["rm", "-f", c]);
        }
        for i in &self.images {
            let _ = self.d.docker_run(&["rmi", "-f", i]);
        }
        for v in &self.volumes {
            let _ = self.d.docker_run(&["volume", "rm", "-f", v]);
        }
    }
}

pub fn cleanup<'a>(d: &'a Daemon, containers: &[&str], images: &[&str]) -> Cleanup<'a> {
    Cleanup {
        d,
        containers: containers.iter().map(|s| s.to_string()).collect(),
        images: images.iter().map(|s| s.to_string()).collect(),
        volumes: vec![],
    }
}

impl Cleanup<'_> {
    /// Also removes these volumes (after the containers).
    pub fn with_volumes(mut self, volumes: &[&str]) -> Self {
        self.volumes = volumes.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// Runs `docker ARGS` (with `stdin` fed to it when given): (success, stderr).
pub fn stderr_of(d: &Daemon, args: &[&str], stdin: Option<&[u8]>) -> (bool, String) {
    let mut cmd = d.docker();
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn docker");
    if let Some(data) = stdin {
        let mut i = child.stdin.take().expect("stdin");
        i.write_all(data).expect("write stdin");
    }
    let out = child.wait_with_output().expect("docker output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `docker ARGS`, asserts it succeeds and returns its stdout as bytes (a tar).
pub fn docker_bytes(d: &Daemon, args: &[&str]) -> Vec<u8> {
    let out = d.docker().args(args).output().expect("run docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `tar -tf`'s listing of `tar` (written to a file in `dir`).
pub fn tar_list(tar: &[u8], dir: &Path) -> String {
    let file = dir.join(format!("{}.tar", berth_testkit::unique_name("list")));
    std::fs::write(&file, tar).expect("write the tar");
    let out = Command::new("tar")
        .arg("-tf")
        .arg(&file)
        .output()
        .expect("run tar");
    assert!(out.status.success(), "not a tar");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `docker cp NAME:PATH -`'s content: the one file in the tar it writes.
pub fn cat_via_cp(d: &Daemon, name: &str, path: &str, dir: &Path) -> String {
    let tar = docker_bytes(d, &["cp", &format!("{name}:{path}"), "-"]);
    let file = dir.join(format!("{}.tar", berth_testkit::unique_name("cat")));
    std::fs::write(&file, tar).expect("write the tar");
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(&file)
        .output()
        .expect("run tar");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts `docker ARGS` fails with a message containing `want`.
pub fn fails_with(d: &Daemon, args: &[&str], want: &str) {
    let (ok, err) = stderr_of(d, args, None);
    assert!(!ok, "docker {args:?} succeeded, expected {want:?}");
    assert!(err.contains(want), "docker {args:?}: {err}");
}

/// Waits (5 s at most) until `docker exec NAME CMD...` succeeds: the container's command got
/// as far as making what CMD reads.
pub fn wait_exec(d: &Daemon, name: &str, cmd: &[&str]) {
    let mut args = vec!["exec", name];
    args.extend_from_slice(cmd);
    for _ in 0..100 {
        if d.docker_run(&args).status.success() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("docker exec {name} {cmd:?} never succeeded");
}

/// `docker run --name NAME busybox sh -c SCRIPT`, to its end.
pub fn run_sh(d: &Daemon, name: &str, script: &str) {
    d.docker_ok(&["run", "--name", name, "busybox", "sh", "-c", script]);
}

/// Starts `NAME` detached, running `setup` then sleeping, and waits until `ready` (a file
/// `setup` makes) can be read in it.
pub fn start_sh(d: &Daemon, name: &str, setup: &str, ready: &str) {
    let script = format!("{setup} && exec sleep 1000");
    d.docker_ok(&["run", "-d", "--name", name, "busybox", "sh", "-c", &script]);
    wait_exec(d, name, &["cat", ready]);
}

/// Runs `script` in a throwaway container with `volume` mounted at `at`.
pub fn in_volume(d: &Daemon, volume: &str, at: &str, script: &str) {
    let mount = format!("{volume}:{at}");
    d.docker_ok(&["run", "--rm", "-v", &mount, "busybox", "sh", "-c", script]);
}

/// A tar written byte by byte, so entries a well-behaved library refuses (`..`, absolute
/// names) can be made. Each entry: (name, type flag, link name, data).
pub fn raw_tar(entries: &[(&str, u8, &str, &[u8])]) -> Vec<u8> {
    let mut out = vec![];
    for (name, kind, link, data) in entries {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = *kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}
