//! The monitor's life: set up, create, serve, reap, record.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_runtime::{CreateOptions, Runtime};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::io::{Client, JsonLog, pipe, read_fd, read_line, resize, set_nonblocking, write_fd};
use super::protocol::*;
use super::user;

/// The body of `berth-monitor RUN_DIR`; returns the process exit code.
pub fn main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() != 2 {
        eprintln!("usage: berth-monitor RUN_DIR");
        return 2;
    }
    let run_dir = PathBuf::from(&args[1]);
    // SAFETY: F_DUPFD_CLOEXEC duplicates our stdout (the daemon's ready pipe) above fd 2.
    let ready_fd = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
    if ready_fd < 0 {
        return 1;
    }
    // SAFETY: ready_fd was just returned by fcntl and is owned by nobody else.
    let mut ready = unsafe { File::from_raw_fd(ready_fd) };
    if let Err(e) = redirect_stdio(&run_dir) {
        let _ = writeln!(ready, "error redirect monitor stdio: {e}");
        return 1;
    }
    // SAFETY: the monitor is single-threaded (no tokio, no helper threads), so fork is sound.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => return 0,
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => {
            let _ = writeln!(ready, "error fork monitor: {e}");
            return 1;
        }
    }
    let _ = nix::unistd::setsid();
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    match Monitor::setup(&run_dir) {
        Ok(mut m) => {
            let _ = writeln!(ready, "ok {}", m.pid);
            drop(ready);
            m.serve();
            m.finish();
            0
        }
        Err(e) => {
            let _ = writeln!(ready, "error {}", e.replace('\n', " "));
            1
        }
    }
}

fn redirect_stdio(run_dir: &Path) -> std::io::Result<()> {
    let null = File::open("/dev/null")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(run_dir.join(LOG_FILE))?;
    // SAFETY: dup2 onto the standard fds of this process.
    unsafe {
        libc::dup2(null.as_raw_fd(), 0);
        libc::dup2(log.as_raw_fd(), 1);
        libc::dup2(log.as_raw_fd(), 2);
    }
    Ok(())
}

struct Output {
    fd: OwnedFd,
    stream: u8,
    open: bool,
}

struct Monitor {
    run_dir: PathBuf,
    spec: MonitorSpec,
    container: Option<berth_runtime::Container>,
    pid: i32,
    listener: UnixListener,
    signals: SignalFd,
    outputs: Vec<Output>,
    stdin: Option<OwnedFd>,
    console: Option<OwnedFd>,
    clients: Vec<Client>,
    log: JsonLog,
    exit_code: Option<i64>,
}

fn mounts_of(spec: &MonitorSpec) -> Vec<berth_image::Mount> {
    spec.rootfs_mounts
        .iter()
        .map(|m| berth_image::Mount {
            fstype: m.fstype.clone(),
            source: m.source.clone(),
            options: m.options.clone(),
        })
        .collect()
}

impl Monitor {
    fn setup(run_dir: &Path) -> Result<Monitor, String> {
        let raw = std::fs::read(run_dir.join(SPEC_FILE))
            .map_err(|e| format!("read monitor spec: {e}"))?;
        let spec: MonitorSpec =
            serde_json::from_slice(&raw).map_err(|e| format!("parse monitor spec: {e}"))?;
        let rootfs = spec.bundle.join("rootfs");
        std::fs::create_dir_all(&rootfs).map_err(|e| format!("create rootfs dir: {e}"))?;
        if !spec.rootfs_mounts.is_empty() {
            berth_image::mount_all(&mounts_of(&spec), &rootfs)
                .map_err(|e| format!("mount rootfs: {e}"))?;
        }
        match Self::create(run_dir, spec.clone(), &rootfs) {
            Ok(m) => Ok(m),
            Err(e) => {
                if !spec.rootfs_mounts.is_empty() {
                    let _ = berth_image::unmount(&rootfs);
                }
                Err(e)
            }
        }
    }

    fn create(run_dir: &Path, spec: MonitorSpec, rootfs: &Path) -> Result<Monitor, String> {
        set_user(&spec, rootfs)?;
        let log = JsonLog::open(&spec.log_path).map_err(|e| format!("open log: {e}"))?;
        let mut outputs = vec![];
        let mut stdin = None;
        let mut child_ends: Vec<OwnedFd> = vec![];
        let null = File::open("/dev/null").map_err(|e| format!("open /dev/null: {e}"))?;
        let mut stdio: Option<[RawFd; 3]> = None;
        if !spec.tty {
            let (out_r, out_w) = pipe().map_err(|e| format!("pipe: {e}"))?;
            let (err_r, err_w) = pipe().map_err(|e| format!("pipe: {e}"))?;
            let in_fd = if spec.open_stdin {
                let (in_r, in_w) = pipe().map_err(|e| format!("pipe: {e}"))?;
                stdin = Some(in_w);
                let fd = in_r.as_raw_fd();
                child_ends.push(in_r);
                fd
            } else {
                null.as_raw_fd()
            };
            stdio = Some([in_fd, out_w.as_raw_fd(), err_w.as_raw_fd()]);
            child_ends.push(out_w);
            child_ends.push(err_w);
            outputs.push(Output {
                fd: out_r,
                stream: 1,
                open: true,
            });
            outputs.push(Output {
                fd: err_r,
                stream: 2,
                open: true,
            });
        }
        let rt = Runtime::new(&spec.runtime_root);
        let opts = CreateOptions {
            stdio,
            ..Default::default()
        };
        let mut container = rt
            .create(&spec.id, &spec.bundle, &opts)
            .map_err(|e| e.to_string())?;
        drop(child_ends);
        let rest = (|| -> Result<_, String> {
            let mut console = None;
            if spec.tty {
                let master = container
                    .take_console()
                    .ok_or("the runtime returned no terminal for a tty container")?;
                if let Some((h, w)) = spec.console_size {
                    let _ = resize(master.as_raw_fd(), h, w);
                }
                if spec.open_stdin {
                    stdin = Some(master.try_clone().map_err(|e| format!("dup pty: {e}"))?);
                }
                outputs.push(Output {
                    fd: master.try_clone().map_err(|e| format!("dup pty: {e}"))?,
                    stream: 1,
                    open: true,
                });
                console = Some(master);
            }
            for o in &outputs {
                set_nonblocking(o.fd.as_raw_fd());
            }
            let pid = container.pid().ok_or("the container's init is gone")?;
            let mut mask = SigSet::empty();
            mask.add(Signal::SIGCHLD);
            mask.add(Signal::SIGTERM);
            mask.thread_block()
                .map_err(|e| format!("block signals: {e}"))?;
            let signals =
                SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
                    .map_err(|e| format!("signalfd: {e}"))?;
            // bind through the run directory's fd: the full path may exceed sun_path's 108 bytes
            let dir =
                File::open(run_dir).map_err(|e| format!("open {}: {e}", run_dir.display()))?;
            let sock = socket_path(&dir);
            let _ = std::fs::remove_file(&sock);
            let listener = UnixListener::bind(&sock)
                .map_err(|e| format!("bind {}: {e}", run_dir.join(SOCKET_FILE).display()))?;
            Ok((console, pid, signals, listener))
        })();
        let (console, pid, signals, listener) = match rest {
            Ok(r) => r,
            Err(e) => {
                let _ = container.delete(true);
                return Err(e);
            }
        };
        let _ = std::fs::write(run_dir.join(PID_FILE), std::process::id().to_string());
        let mut m = Monitor {
            run_dir: run_dir.to_path_buf(),
            spec,
            container: Some(container),
            pid,
            listener,
            signals,
            outputs,
            stdin,
            console,
            clients: vec![],
            log,
            exit_code: None,
        };
        m.reap();
        Ok(m)
    }

    fn serve(&mut self) {
        let mut buf = vec![0u8; 32 * 1024];
        let mut drain_rounds = 0;
        loop {
            if self.exit_code.is_some() {
                if self.outputs.iter().all(|o| !o.open) || drain_rounds > 2 {
                    return;
                }
                drain_rounds += 1;
            }
            let mut fds = vec![
                libc::pollfd {
                    fd: self.signals.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.listener.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            for o in &self.outputs {
                fds.push(libc::pollfd {
                    fd: if o.open { o.fd.as_raw_fd() } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            for c in &self.clients {
                let fd = if c.reading && !c.dead {
                    c.stream.as_raw_fd()
                } else {
                    -1
                };
                fds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            let timeout = if self.exit_code.is_some() { 100 } else { -1 };
            // SAFETY: `fds` is a valid array of pollfd structs for its length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                continue;
            }
            if fds[0].revents != 0 {
                self.on_signals();
            }
            if fds[1].revents != 0 {
                self.accept();
            }
            let nout = self.outputs.len();
            for i in 0..nout {
                if fds[2 + i].revents != 0 {
                    self.on_output(i, &mut buf);
                }
            }
            for i in 0..self.clients.len().min(fds.len() - 2 - nout) {
                if fds[2 + nout + i].revents != 0 {
                    self.on_client(i, &mut buf);
                }
            }
            self.clients.retain(|c| !c.dead);
        }
    }

    fn on_signals(&mut self) {
        while let Ok(Some(info)) = self.signals.read_signal() {
            if info.ssi_signo == libc::SIGTERM as u32
                && let Some(c) = &self.container
            {
                let _ = c.kill(libc::SIGKILL, true);
            }
        }
        self.reap();
    }

    /// Reaps every exited child; the init's status becomes the exit code.
    fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => {
                    if pid.as_raw() == self.pid {
                        self.exit_code = Some(code as i64);
                    }
                }
                Ok(WaitStatus::Signaled(pid, sig, _)) => {
                    if pid.as_raw() == self.pid {
                        self.exit_code = Some(128 + sig as i64);
                    }
                }
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    fn on_output(&mut self, i: usize, buf: &mut [u8]) {
        let fd = self.outputs[i].fd.as_raw_fd();
        let stream = self.outputs[i].stream;
        loop {
            match read_fd(fd, buf) {
                Ok(0) => {
                    self.outputs[i].open = false;
                    return;
                }
                Ok(n) => {
                    let data = &buf[..n];
                    self.log.write(stream, data);
                    let tty = self.spec.tty;
                    for c in &mut self.clients {
                        c.send(tty, stream, data);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.outputs[i].open = false;
                    return;
                }
            }
        }
    }

    fn on_client(&mut self, i: usize, buf: &mut [u8]) {
        let fd = self.clients[i].stream.as_raw_fd();
        match read_fd(fd, buf) {
            Ok(0) | Err(_) => {
                // half-close: keep writing to it, stop reading
                self.clients[i].reading = false;
                if self.clients[i].stdin && self.spec.stdin_once && !self.spec.tty {
                    self.stdin = None;
                }
            }
            Ok(n) => {
                if self.clients[i].stdin
                    && let Some(s) = &self.stdin
                    && write_fd(s, &buf[..n]).is_err()
                {
                    self.stdin = None;
                }
            }
        }
    }

    fn accept(&mut self) {
        let Ok((mut s, _)) = self.listener.accept() else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
        let req = match read_line(&mut s).map_err(|e| e.to_string()).and_then(|l| {
            serde_json::from_str::<Request>(&l).map_err(|e| format!("bad request: {e}"))
        }) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(s, "error {e}");
                return;
            }
        };
        let _ = s.set_read_timeout(None);
        match self.handle(req, &mut s) {
            Ok(Some(client)) => {
                let _ = s.write_all(b"ok\n");
                self.clients.push(Client {
                    stream: s,
                    ..client
                });
            }
            Ok(None) => {
                let _ = s.write_all(b"ok\n");
            }
            Err(e) => {
                let _ = writeln!(s, "error {}", e.replace('\n', " "));
            }
        }
        self.reap();
    }

    /// Runs one request; `Some` keeps the connection as a client.
    fn handle(&mut self, req: Request, s: &mut UnixStream) -> Result<Option<Client>, String> {
        let blank = |s: &UnixStream| -> Result<UnixStream, String> {
            s.try_clone().map_err(|e| e.to_string())
        };
        let c = self.container.as_mut().ok_or("the container is gone")?;
        match req {
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => Ok(Some(Client {
                stream: blank(s)?,
                stdin: stdin && self.spec.open_stdin,
                stdout,
                stderr,
                reading: true,
                dead: false,
                watch: false,
            })),
            Request::Watch => Ok(Some(Client {
                stream: blank(s)?,
                stdin: false,
                stdout: false,
                stderr: false,
                reading: false,
                dead: false,
                watch: true,
            })),
            Request::Start => c.start().map(|_| None).map_err(|e| e.to_string()),
            Request::Kill { signal, all } => {
                c.kill(signal, all).map(|_| None).map_err(|e| e.to_string())
            }
            Request::Pause => c.pause().map(|_| None).map_err(|e| e.to_string()),
            Request::Resume => c.resume().map(|_| None).map_err(|e| e.to_string()),
            Request::Resize { height, width } => match &self.console {
                Some(m) => resize(m.as_raw_fd(), height, width)
                    .map(|_| None)
                    .map_err(|e| e.to_string()),
                None => Err("the container has no terminal".into()),
            },
        }
    }

    /// Cleans up the container and tells everyone how it ended.
    fn finish(mut self) {
        self.log.flush_partial();
        if let Some(c) = self.container.take() {
            let _ = c.delete(true);
        }
        if !self.spec.rootfs_mounts.is_empty() {
            let _ = berth_image::unmount(&self.spec.bundle.join("rootfs"));
        }
        let rec = ExitRecord {
            exit_code: self.exit_code.unwrap_or(255),
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            error: String::new(),
        };
        let line = serde_json::to_string(&rec).unwrap_or_default();
        let _ =
            crate::container::fsutil::write_atomic(&self.run_dir.join(EXIT_FILE), line.as_bytes());
        let _ = std::fs::remove_file(self.run_dir.join(SOCKET_FILE));
        let _ = std::fs::remove_file(self.run_dir.join(PID_FILE));
        for c in &mut self.clients {
            if c.watch {
                let _ = writeln!(c.stream, "{line}");
            }
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(self.run_dir.join(PID_FILE));
    }
}

/// `/proc/self/fd/N/monitor.sock`: a short path to the socket in the directory `dir`.
pub fn socket_path(dir: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}/{SOCKET_FILE}", dir.as_raw_fd()))
}

/// Puts the resolved user into the bundle's config.json (names need the mounted rootfs).
fn set_user(spec: &MonitorSpec, rootfs: &Path) -> Result<(), String> {
    if spec.user.is_empty() {
        return Ok(());
    }
    let (uid, gid, extra) = user::resolve(rootfs, &spec.user)?;
    let path = spec.bundle.join("config.json");
    let raw = std::fs::read(&path).map_err(|e| format!("read config.json: {e}"))?;
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| format!("parse config.json: {e}"))?;
    cfg["process"]["user"] = serde_json::json!({"uid": uid, "gid": gid, "additionalGids": extra});
    std::fs::write(&path, cfg.to_string()).map_err(|e| format!("write config.json: {e}"))
}
