//! A temporary `berthd` for end-to-end tests: its own socket, data root and exec root in a temp
//! directory; `/_ping` answered before `start` returns; killed and cleaned up on Drop (its
//! containers' monitors too, and the mounts under its roots).
//!
//! The binaries are found beside the test executable's `target/<profile>` directory (build them
//! first: `cargo build -p berth-api --bins`), or through `BERTHD` / `BERTH_MONITOR`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    pub socket: PathBuf,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub pidfile: PathBuf,
    berthd: PathBuf,
    /// This daemon's own default bridge and its address (tests run side by side).
    pub bridge: String,
    pub bip: String,
    options: Options,
}

/// Extra `berthd` arguments (e.g. more `-H` listeners, TLS flags) and environment variables for
/// [`Daemon::start_with`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// `target/<profile>`: the parent of the `deps` directory the test binary runs from.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    if dir.ends_with("deps") {
        dir.parent().expect("target dir").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// A binary of this workspace: `$ENV` if set, else `target/<profile>/<name>`.
pub fn workspace_bin(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    let p = target_dir().join(name);
    assert!(
        p.exists(),
        "{} not built: run `cargo build -p berth-api --bins` first (or set {env})",
        p.display()
    );
    p
}

/// A /24 in 10.0.0.0/8 picked from the clock and pid: parallel daemons rarely collide.
fn random_bip() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let x = nanos ^ std::process::id().rotate_left(11);
    format!("10.{}.{}.1/24", 100 + (x >> 8) % 150, x % 250)
}

impl Daemon {
    /// Starts a daemon on fresh roots and waits until it answers `/_ping`.
    pub fn start() -> Daemon {
        Daemon::start_with(Options::default())
    }

    /// [`Daemon::start`] with extra arguments and environment for `berthd`.
    pub fn start_with(options: Options) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("berthd-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        let mut d = Daemon {
            child: None,
            socket: root.join("berth.sock"),
            data_root: root.join("data"),
            exec_root: root.join("exec"),
            pidfile: root.join("berthd.pid"),
            dir: Some(dir),
            berthd: workspace_bin("berthd", "BERTHD"),
            bridge: crate::unique_name("bt"),
            bip: random_bip(),
            options,
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        let monitor = workspace_bin("berth-monitor", "BERTH_MONITOR");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("daemon log");
        let child = Command::new(&self.berthd)
            .arg("--data-root")
            .arg(&self.data_root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .arg("--pidfile")
            .arg(&self.pidfile)
            .arg("--monitor-path")
            .arg(monitor)
            .arg("--bridge")
            .arg(&self.bridge)
            .arg("--bip")
            .arg(&self.bip)
            .args(&self.options.args)
            .envs(self.options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn berthd");
        self.child = Some(child);
        self.wait_ready();
    }

    fn log_path(&self) -> PathBuf {
        self.root().join("berthd.log")
    }

    /// The daemon's stderr so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn root(&self) -> &Path {
        self.dir.as_ref().expect("temp dir").path()
    }

    /// `unix:///...`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("berthd exited with {status}: {}", self.log());
            }
            if self.ping() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "berthd did not answer /_ping: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One raw `GET /_ping`; true on `200 OK`.
    pub fn ping(&self) -> bool {
        let Ok(mut s) = UnixStream::connect(&self.socket) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        buf.starts_with("HTTP/1.1 200")
    }

    /// A `docker` command against this daemon (the stock CLI), with its own config dir.
    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.root().join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY");
        c
    }

    /// Runs `docker ARGS` and returns its output.
    pub fn docker_run(&self, args: &[&str]) -> Output {
        self.docker().args(args).output().expect("run docker")
    }

    /// Runs `docker ARGS`, panics (with both outputs and the daemon log) unless it succeeds, and
    /// returns stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker_run(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed ({}):\nstdout: {}\nstderr: {}\ndaemon log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// SIGKILLs the daemon (its containers keep running) without cleaning anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the daemon again on the same roots (after [`Daemon::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Kills every monitor (and so container) started under this daemon's exec root.
    fn kill_monitors(&self) {
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        let needle = self.exec_root.to_string_lossy().into_owned();
        for p in procs.flatten() {
            let name = p.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmdline);
            if cmd.contains("berth-monitor") && cmd.contains(&needle) {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }

    /// Unmounts everything mounted under this daemon's temp directory (deepest first).
    fn unmount_all(&self) {
        let root = self.root().to_string_lossy().into_owned();
        let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
            return;
        };
        let mut points: Vec<String> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|m| m.starts_with(&root))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").arg("-l").arg(&p).status();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if c.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
        self.kill_monitors();
        std::thread::sleep(Duration::from_millis(100));
        let _ = Command::new(&self.berthd)
            .arg("--purge-network")
            .arg("--data-root")
            .arg(&self.data_root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .arg("--bridge")
            .arg(&self.bridge)
            .arg("--bip")
            .arg(&self.bip)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.unmount_all();
        if std::thread::panicking()
            && std::env::var_os("BERTH_KEEP").is_some()
            && let Some(d) = self.dir.take()
        {
            let _ = d.keep();
        }
    }
}
