//! Interop with Docker itself: Debian's dockerd (started here on temporary roots, no bridge,
//! no iptables) loads and runs what Berth saves, and Berth loads and mounts what Docker saves.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_image::{mount_all, unmount};
use common::*;

struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Dockerd {
    fn start() -> Dockerd {
        let dir = tempfile::Builder::new()
            .prefix("berth-dockerd-")
            .tempdir()
            .unwrap();
        let p = dir.path();
        let log = std::fs::File::create(p.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(p.join("data"))
            .arg("--exec-root")
            .arg(p.join("exec"))
            .arg("--pidfile")
            .arg(p.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", p.join("docker.sock").display()))
            .args([
                "--bridge",
                "none",
                "--iptables=false",
                "--ip6tables=false",
                "--storage-driver",
                "overlay2",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let d = Dockerd { child, dir };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if d.docker(&["version"]).status.success() {
                return d;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "dockerd did not start: {}",
            std::fs::read_to_string(d.dir.path().join("dockerd.log")).unwrap_or_default()
        );
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new(docker_cli())
            .arg("-H")
            .arg(format!(
                "unix://{}",
                self.dir.path().join("docker.sock").display()
            ))
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn docker_cli() -> PathBuf {
    let debian = PathBuf::from("/usr/bin/docker");
    if debian.exists() {
        debian
    } else {
        PathBuf::from("docker")
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        unmount_under(self.dir.path());
    }
}

/// Lazily unmounts whatever dockerd left mounted under `root`, deepest first.
fn unmount_under(root: &Path) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| Path::new(p).starts_with(root))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = rustix::mount::unmount(p, rustix::mount::UnmountFlags::DETACH);
    }
}

#[test]
fn docker_loads_and_runs_what_berth_saves_and_berth_mounts_what_docker_saves() {
    let dockerd = Dockerd::start();
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "berth-interop:1");
    let saved = dir.path().join("saved.tar");
    s.save(&["berth-interop:1"], std::fs::File::create(&saved).unwrap())
        .unwrap();
    let out = dockerd.ok(&["load", "-i", saved.to_str().unwrap()]);
    assert!(out.contains("Loaded image: berth-interop:1"), "{out}");
    let id = dockerd.ok(&["inspect", "--format", "{{.Id}}", "berth-interop:1"]);
    assert_eq!(id.trim(), s.resolve("berth-interop:1").unwrap().id);
    let out = dockerd.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "berth-interop:1",
        "echo",
        "hi from berth's image",
    ]);
    assert_eq!(out.trim(), "hi from berth's image");

    // Docker's own image (a commit on top of ours), saved by Docker, loaded by Berth.
    let name = berth_testkit::unique_name("berthx");
    dockerd.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        &name,
        "berth-interop:1",
        "sh",
        "-c",
        "echo docker-made > /made; rm /etc/group",
    ]);
    dockerd.ok(&["commit", &name, "docker-made:1"]);
    dockerd.ok(&["rm", &name]);
    let dsaved = dir.path().join("docker-saved.tar");
    dockerd.ok(&["save", "-o", dsaved.to_str().unwrap(), "docker-made:1"]);
    let out = s.load(std::fs::File::open(&dsaved).unwrap()).unwrap();
    assert_eq!(out, vec!["Loaded image: docker-made:1"]);
    let did = dockerd.ok(&["inspect", "--format", "{{.Id}}", "docker-made:1"]);
    assert_eq!(s.resolve("docker-made:1").unwrap().id, did.trim());
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    mount_all(
        &s.prepare(&berth_testkit::unique_name("c"), "docker-made:1")
            .unwrap(),
        &mnt,
    )
    .unwrap();
    let made = std::fs::read_to_string(mnt.join("made"));
    let group_gone = !mnt.join("etc/group").exists();
    let run = Command::new("chroot")
        .arg(&mnt)
        .args(["/bin/busybox", "cat", "/made"])
        .output();
    unmount(&mnt).unwrap();
    assert_eq!(made.unwrap(), "docker-made\n");
    assert!(group_gone, "the whiteout of /etc/group did not apply");
    assert_eq!(
        String::from_utf8_lossy(&run.unwrap().stdout),
        "docker-made\n"
    );
}
