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

/// The body of `berth-monitor RUN_DIR` and of `berth-monitor --standby EXEC_ROOT`; returns
/// the process exit code.
pub fn main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let standby = match args.as_slice() {
        [_, flag, _] if flag == "--standby" => true,
        [_, _] => false,
        _ => {
            eprintln!("usage: berth-monitor RUN_DIR | berth-monitor --standby EXEC_ROOT");
            return 2;
        }
    };
    // SAFETY: F_DUPFD_CLOEXEC duplicates our stdout (the daemon's ready pipe) above fd 2.
    let ready_fd = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
    if ready_fd < 0 {
        return 1;
    }
    // SAFETY: ready_fd was just returned by fcntl and is owned by nobody else.
    let mut ready = unsafe { File::from_raw_fd(ready_fd) };
    // a standby forks before it knows its container: the daemon reaps the parent at once and
    // hands the run directory over later, on stdin
    let mut run_dir = PathBuf::from(&args[1]);
    if !standby && let Err(e) = redirect_stdio(&run_dir) {
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
    if standby {
        // the daemon going away (EOF) ends an unused standby
        let Some(dir) = read_assignment() else {
            return 0;
        };
        run_dir = dir;
        set_cmdline(&args[0], &run_dir);
        if let Err(e) = redirect_stdio(&run_dir) {
            let _ = writeln!(ready, "error redirect monitor stdio: {e}");
            return 1;
        }
    }
    // the run directory is the monitor's working directory: it names the container for `ps`
    // and /proc readers whatever the command line says
    let run_dir = std::path::absolute(&run_dir).unwrap_or(run_dir);
    if let Err(e) = std::env::set_current_dir(&run_dir) {
        let _ = writeln!(ready, "error enter {}: {e}", run_dir.display());
        return 1;
    }
    match Monitor::setup(&run_dir) {
        Ok(mut m) => {
            let _ = writeln!(ready, "ok {}", m.pid);
            drop(ready);
            release_setup_memory();
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

/// Rewrites this process's command line (what `ps` and /proc/PID/cmdline show) to
/// `MONITOR RUN_DIR`, as if it had been spawned for its container. The kernel shows the
/// memory between the stat fields arg_start and arg_end; the daemon made it long enough with
/// a placeholder argument. Does nothing when the new line does not fit.
fn set_cmdline(argv0: &std::ffi::OsStr, run_dir: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // fields after the command name in parentheses; arg_start and arg_end are fields 48, 49
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (Some(start), Some(end)) = (
        fields.get(45).and_then(|f| f.parse::<usize>().ok()),
        fields.get(46).and_then(|f| f.parse::<usize>().ok()),
    ) else {
        return;
    };
    let mut line = argv0.as_bytes().to_vec();
    line.push(0);
    line.extend_from_slice(run_dir.as_os_str().as_bytes());
    line.push(0);
    if end <= start || line.len() > end - start {
        return;
    }
    line.resize(end - start, 0);
    // SAFETY: [start, end) is this process's own argv strings area on its initial stack,
    // mapped writable; std copied the arguments at startup and no reference into it is held.
    // The write keeps every byte inside the area and NUL-terminated.
    unsafe { std::ptr::copy_nonoverlapping(line.as_ptr(), start as *mut u8, line.len()) };
}

/// A standby's wait for its container: one line on stdin naming an absolute run directory.
/// The daemon writes the line and closes the pipe, so reading past it takes nothing else;
/// one read usually gets the whole line (a byte at a time was ~90 syscalls).
fn read_assignment() -> Option<PathBuf> {
    let mut line: Vec<u8> = Vec::with_capacity(256);
    loop {
        if line.len() > 4096 {
            return None;
        }
        line.reserve(256);
        let spare = line.spare_capacity_mut();
        // SAFETY: read writes at most spare.len() bytes into memory owned by `line`.
        let n = unsafe { libc::read(0, spare.as_mut_ptr().cast(), spare.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        let Ok(n @ 1..) = usize::try_from(n) else {
            return None;
        };
        let old = line.len();
        // SAFETY: read initialised n bytes of the spare capacity, right after the old length.
        unsafe { line.set_len(old + n) };
        if let Some(i) = line[old..].iter().position(|&b| b == b'\n') {
            line.truncate(old + i);
            break;
        }
    }
    let dir =
        PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(line));
    dir.is_absolute().then_some(dir)
}

/// Gives back what the setup (runtime create, JSON) used: free heap and the dead part of the
/// stack. An idle monitor then holds little more than its own small state.
fn release_setup_memory() {
    release_dead_stack();
    // last, so the buffers used above are given back too
    // SAFETY: malloc_trim only returns free memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Zero-fills (MADV_DONTNEED) the stack pages below the current frame: the runtime's create
/// went deep, the monitor's loop stays shallow.
fn release_dead_stack() {
    let marker = 0u8;
    let sp = std::ptr::addr_of!(marker) as usize;
    let start = {
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return;
        };
        let Some(start) = maps
            .lines()
            .find(|l| l.ends_with("[stack]"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|r| r.split_once('-'))
            .and_then(|(start, _)| usize::from_str_radix(start, 16).ok())
        else {
            return;
        };
        start
    };
    // a page of margin below this frame for madvise itself and what follows
    let end = (sp.saturating_sub(4096)) & !4095;
    if end > start {
        // SAFETY: the range lies below the live stack frames (the stack grows down from sp and
        // nothing is stored below it); MADV_DONTNEED zero-fills those pages on next use.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
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

/// The pipes of a process without a tty: the child's ends (closed once it runs), the fds it
/// gets as 0-2, and the monitor's ends. Empty for a tty process, whose pty comes from the
/// runtime.
struct Pipes {
    child_ends: Vec<OwnedFd>,
    fds: Option<[RawFd; 3]>,
    stdin: Option<OwnedFd>,
    outputs: Vec<Output>,
}

fn pipes(tty: bool, open_stdin: bool, null: &File) -> Result<Pipes, String> {
    let mut p = Pipes {
        child_ends: vec![],
        fds: None,
        stdin: None,
        outputs: vec![],
    };
    if tty {
        return Ok(p);
    }
    let (out_r, out_w) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let (err_r, err_w) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let in_fd = if open_stdin {
        let (in_r, in_w) = pipe().map_err(|e| format!("pipe: {e}"))?;
        p.stdin = Some(in_w);
        let fd = in_r.as_raw_fd();
        p.child_ends.push(in_r);
        fd
    } else {
        null.as_raw_fd()
    };
    p.fds = Some([in_fd, out_w.as_raw_fd(), err_w.as_raw_fd()]);
    p.child_ends.push(out_w);
    p.child_ends.push(err_w);
    p.outputs.push(Output {
        fd: out_r,
        stream: 1,
        open: true,
    });
    p.outputs.push(Output {
        fd: err_r,
        stream: 2,
        open: true,
    });
    Ok(p)
}

/// Takes a tty process's pty master: sizes it, reads its output from it and, with stdin open,
/// writes input to it. Returns the master, kept for resizes.
fn adopt_console(
    master: OwnedFd,
    size: Option<(u16, u16)>,
    open_stdin: bool,
    stdin: &mut Option<OwnedFd>,
    outputs: &mut Vec<Output>,
) -> Result<OwnedFd, String> {
    if let Some((h, w)) = size {
        let _ = resize(master.as_raw_fd(), h, w);
    }
    if open_stdin {
        *stdin = Some(master.try_clone().map_err(|e| format!("dup pty: {e}"))?);
    }
    outputs.push(Output {
        fd: master.try_clone().map_err(|e| format!("dup pty: {e}"))?,
        stream: 1,
        open: true,
    });
    Ok(master)
}

/// A process the monitor serves: the container's init (index 0) or an exec.
struct Session {
    exec_id: Option<String>,
    pid: i32,
    tty: bool,
    stdin_once: bool,
    outputs: Vec<Output>,
    stdin: Option<OwnedFd>,
    console: Option<OwnedFd>,
    clients: Vec<Client>,
    exit_code: Option<i64>,
    drain_rounds: u32,
}

impl Session {
    fn finished(&self) -> bool {
        self.exit_code.is_some() && (self.outputs.iter().all(|o| !o.open) || self.drain_rounds > 2)
    }
}

struct Monitor {
    run_dir: PathBuf,
    spec: MonitorSpec,
    container: Option<berth_runtime::Container>,
    pid: i32,
    listener: UnixListener,
    signals: SignalFd,
    mask: SigSet,
    sessions: Vec<Session>,
    log: JsonLog,
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
        for (dst, dir) in &spec.copy_up {
            copy_up(&rootfs, dst, dir)?;
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
        let log = JsonLog::open(&spec.log_path, &spec.log).map_err(|e| format!("open log: {e}"))?;
        let null = File::open("/dev/null").map_err(|e| format!("open /dev/null: {e}"))?;
        let Pipes {
            child_ends,
            fds: stdio,
            mut stdin,
            mut outputs,
        } = pipes(spec.tty, spec.open_stdin, &null)?;
        let rt = Runtime::new(&spec.runtime_root);
        let opts = CreateOptions {
            stdio,
            ..Default::default()
        };
        let mut container = rt
            .create(&spec.id, &spec.bundle, &opts)
            .map_err(|e| e.to_string())?;
        // the monitor lives as long as the container: keep no seccomp profile in memory
        container.trim();
        drop(child_ends);
        let rest = (|| -> Result<_, String> {
            let mut console = None;
            if spec.tty {
                let master = container
                    .take_console()
                    .ok_or("the runtime returned no terminal for a tty container")?;
                console = Some(adopt_console(
                    master,
                    spec.console_size,
                    spec.open_stdin,
                    &mut stdin,
                    &mut outputs,
                )?);
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
        let main = Session {
            exec_id: None,
            pid,
            tty: spec.tty,
            stdin_once: spec.stdin_once,
            outputs,
            stdin,
            console,
            clients: vec![],
            exit_code: None,
            drain_rounds: 0,
        };
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        mask.add(Signal::SIGTERM);
        let mut m = Monitor {
            run_dir: run_dir.to_path_buf(),
            spec,
            container: Some(container),
            pid,
            listener,
            signals,
            mask,
            sessions: vec![main],
            log,
        };
        m.reap();
        Ok(m)
    }

    fn serve(&mut self) {
        // above malloc's mmap threshold (128 KiB): the buffer is fresh zero pages, and only
        // those a read fills become the monitor's memory (a 32 KiB heap buffer was partly
        // zeroed by calloc: 4 KiB more private memory in every idle monitor, measured)
        let mut buf = vec![0u8; 160 * 1024];
        loop {
            self.finish_execs();
            if self.sessions[0].finished() {
                return;
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
            // (session, Some(output) | None + client index)
            let mut owners: Vec<(usize, bool, usize)> = vec![];
            let mut draining = false;
            for (si, sess) in self.sessions.iter_mut().enumerate() {
                if sess.exit_code.is_some() {
                    draining = true;
                    sess.drain_rounds += 1;
                }
                for (oi, o) in sess.outputs.iter().enumerate() {
                    fds.push(libc::pollfd {
                        fd: if o.open { o.fd.as_raw_fd() } else { -1 },
                        events: libc::POLLIN,
                        revents: 0,
                    });
                    owners.push((si, true, oi));
                }
                for (ci, c) in sess.clients.iter().enumerate() {
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
                    owners.push((si, false, ci));
                }
            }
            let timeout = if draining { 100 } else { -1 };
            // SAFETY: `fds` is a valid array of pollfd structs for its length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                continue;
            }
            for (i, (si, is_out, idx)) in owners.iter().enumerate() {
                if fds[2 + i].revents == 0 {
                    continue;
                }
                if *is_out {
                    self.on_output(*si, *idx, &mut buf);
                } else {
                    self.on_client(*si, *idx, &mut buf);
                }
            }
            for sess in &mut self.sessions {
                sess.clients.retain(|c| !c.dead);
            }
            if fds[0].revents != 0 {
                self.on_signals();
            }
            if fds[1].revents != 0 {
                self.accept();
            }
        }
    }

    /// Ends exec sessions whose process exited and whose output is drained.
    fn finish_execs(&mut self) {
        let mut i = 1;
        while i < self.sessions.len() {
            if !self.sessions[i].finished() {
                i += 1;
                continue;
            }
            let mut sess = self.sessions.remove(i);
            let rec = ExitRecord {
                exit_code: sess.exit_code.unwrap_or(255),
                finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                error: String::new(),
            };
            if let Some(id) = &sess.exec_id {
                let line = serde_json::to_string(&rec).unwrap_or_default();
                let _ = crate::container::fsutil::write_atomic_in_place(
                    &self.run_dir.join(exec_exit_file(id)),
                    line.as_bytes(),
                );
            }
            for c in &mut sess.clients {
                let _ = c.stream.shutdown(std::net::Shutdown::Both);
            }
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

    /// Reaps every exited child; a session's process status becomes its exit code.
    fn reap(&mut self) {
        loop {
            let (pid, code) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid.as_raw(), code as i64),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid.as_raw(), 128 + sig as i64),
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            if let Some(s) = self.sessions.iter_mut().find(|s| s.pid == pid) {
                s.exit_code = Some(code);
            }
        }
    }

    fn on_output(&mut self, si: usize, oi: usize, buf: &mut [u8]) {
        let sess = &mut self.sessions[si];
        let fd = sess.outputs[oi].fd.as_raw_fd();
        let stream = sess.outputs[oi].stream;
        loop {
            match read_fd(fd, buf) {
                Ok(0) => {
                    sess.outputs[oi].open = false;
                    return;
                }
                Ok(n) => {
                    let data = &buf[..n];
                    if si == 0 {
                        self.log.write(stream, data);
                    }
                    let tty = sess.tty;
                    for c in &mut sess.clients {
                        c.send(tty, stream, data);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    sess.outputs[oi].open = false;
                    return;
                }
            }
        }
    }

    fn on_client(&mut self, si: usize, ci: usize, buf: &mut [u8]) {
        let sess = &mut self.sessions[si];
        let Some(client) = sess.clients.get_mut(ci) else {
            return;
        };
        let fd = client.stream.as_raw_fd();
        match read_fd(fd, buf) {
            Ok(0) | Err(_) => {
                // half-close: keep writing to it, stop reading
                client.reading = false;
                if client.stdin && sess.stdin_once && !sess.tty {
                    sess.stdin = None;
                }
            }
            Ok(n) => {
                if client.stdin
                    && let Some(s) = &sess.stdin
                    && write_fd(s, &buf[..n]).is_err()
                {
                    sess.stdin = None;
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
        if let Request::Exec(spec) = req {
            match self.exec(spec, &s) {
                Ok(sess) => {
                    let _ = s.write_all(b"ok\n");
                    self.sessions.push(sess);
                }
                Err(e) => {
                    let _ = writeln!(s, "error {}", e.replace('\n', " "));
                }
            }
            self.reap();
            return;
        }
        match self.handle(req, &mut s) {
            Ok(Some(client)) => {
                let _ = s.write_all(b"ok\n");
                self.sessions[0].clients.push(Client {
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

    /// Starts an exec'd process; the connection `s` becomes its attach client.
    fn exec(&mut self, spec: ExecSpec, s: &UnixStream) -> Result<Session, String> {
        let c = self.container.as_ref().ok_or("the container is gone")?;
        if spec.cmd.is_empty() {
            return Err("No exec command specified".into());
        }
        let mut process = c
            .spec()
            .process()
            .clone()
            .ok_or("the container has no process")?;
        let mut env = process.env().clone().unwrap_or_default();
        for e in &spec.env {
            let key = e.split('=').next().unwrap_or(e);
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        process.set_env(Some(env));
        process.set_args(Some(spec.cmd.clone()));
        process.set_terminal(Some(spec.tty));
        process.set_console_size(None);
        if !spec.working_dir.is_empty() {
            process.set_cwd(spec.working_dir.clone().into());
        }
        if !spec.user.is_empty() {
            let (uid, gid, extra) = user::resolve(&self.spec.bundle.join("rootfs"), &spec.user)?;
            let mut u = process.user().clone();
            u.set_uid(uid);
            u.set_gid(gid);
            u.set_additional_gids(Some(extra));
            process.set_user(u);
        }
        let null = File::open("/dev/null").map_err(|e| format!("open /dev/null: {e}"))?;
        let Pipes {
            child_ends,
            fds: stdio,
            mut stdin,
            mut outputs,
        } = pipes(spec.tty, spec.stdin, &null)?;
        let opts = berth_runtime::ExecOptions {
            stdio,
            ..Default::default()
        };
        // the exec'd process must not inherit the monitor's blocked signals
        let _ = self.mask.thread_unblock();
        let handle = c.exec(&process, &opts);
        let _ = self.mask.thread_block();
        let mut handle = handle.map_err(|e| e.to_string())?;
        drop(child_ends);
        let mut console = None;
        if spec.tty {
            let master = handle
                .console
                .take()
                .ok_or("the runtime returned no terminal for a tty exec")?;
            console = Some(adopt_console(
                master,
                spec.console_size,
                spec.stdin,
                &mut stdin,
                &mut outputs,
            )?);
        }
        for o in &outputs {
            set_nonblocking(o.fd.as_raw_fd());
        }
        let client = Client {
            stream: s.try_clone().map_err(|e| e.to_string())?,
            stdin: spec.stdin,
            stdout: true,
            stderr: true,
            reading: true,
            dead: false,
            watch: false,
        };
        Ok(Session {
            exec_id: Some(spec.id),
            pid: handle.pid,
            tty: spec.tty,
            stdin_once: true,
            outputs,
            stdin,
            console,
            clients: vec![client],
            exit_code: None,
            drain_rounds: 0,
        })
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
                stdin: stdin && self.sessions[0].stdin.is_some(),
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
            // single-threaded: the exit cannot be reaped before the watch is registered
            Request::StartWatch => {
                c.start().map_err(|e| e.to_string())?;
                Ok(Some(Client {
                    stream: blank(s)?,
                    stdin: false,
                    stdout: false,
                    stderr: false,
                    reading: false,
                    dead: false,
                    watch: true,
                }))
            }
            Request::Kill { signal, all } => {
                c.kill(signal, all).map(|_| None).map_err(|e| e.to_string())
            }
            Request::Pause => c.pause().map(|_| None).map_err(|e| e.to_string()),
            Request::Resume => c.resume().map(|_| None).map_err(|e| e.to_string()),
            Request::Resize { height, width } => match &self.sessions[0].console {
                Some(m) => resize(m.as_raw_fd(), height, width)
                    .map(|_| None)
                    .map_err(|e| e.to_string()),
                None => Err("the container has no terminal".into()),
            },
            Request::ResizeExec { id, height, width } => {
                let sess = self
                    .sessions
                    .iter()
                    .find(|s| s.exec_id.as_deref() == Some(id.as_str()))
                    .ok_or_else(|| format!("exec {id} is not running"))?;
                match &sess.console {
                    Some(m) => resize(m.as_raw_fd(), height, width)
                        .map(|_| None)
                        .map_err(|e| e.to_string()),
                    None => Err("the exec has no terminal".into()),
                }
            }
            Request::KillExec { id, signal } => {
                let sess = self
                    .sessions
                    .iter()
                    .find(|s| s.exec_id.as_deref() == Some(id.as_str()) && s.exit_code.is_none())
                    .ok_or_else(|| format!("exec {id} is not running"))?;
                // SAFETY: kill(2) on our own child (reaped by `reap`) and on its group if any.
                unsafe {
                    libc::kill(-sess.pid, signal);
                    libc::kill(sess.pid, signal);
                }
                Ok(None)
            }
            Request::Exec(_) => Err("unexpected exec".into()),
        }
    }

    /// Cleans up the container and tells everyone how it ended.
    fn finish(mut self) {
        self.log.flush_partial();
        if let Some(c) = self.container.take() {
            let _ = c.delete(true);
        }
        // The rootfs is detached at once, but a reference is kept until the clients are told:
        // the last unmount of an overlay syncs its upper filesystem (a journal commit, slow
        // under I/O load), and that cost is paid when `_rootfs` drops, after the exit is
        // known. The path no longer reaches the overlay, so the daemon may reuse it at once.
        let _rootfs = (!self.spec.rootfs_mounts.is_empty())
            .then(|| detach_keeping_reference(&self.spec.bundle.join("rootfs")))
            .flatten();
        let rec = ExitRecord {
            exit_code: self.sessions[0].exit_code.unwrap_or(255),
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            error: String::new(),
        };
        let line = serde_json::to_string(&rec).unwrap_or_default();
        let _ = crate::container::fsutil::write_atomic_in_place(
            &self.run_dir.join(EXIT_FILE),
            line.as_bytes(),
        );
        let _ = std::fs::remove_file(self.run_dir.join(SOCKET_FILE));
        let _ = std::fs::remove_file(self.run_dir.join(PID_FILE));
        for c in self.sessions.iter_mut().flat_map(|s| s.clients.iter_mut()) {
            if c.watch {
                let _ = writeln!(c.stream, "{line}");
            }
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(self.run_dir.join(PID_FILE));
    }
}

/// Lazily unmounts `target` and returns an `O_PATH` descriptor of it, which holds the mount
/// (and its filesystem) until dropped. Without the descriptor, a plain unmount.
fn detach_keeping_reference(target: &Path) -> Option<OwnedFd> {
    let fd = rustix::fs::open(
        target,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    );
    match fd {
        Ok(fd) => {
            let _ = rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH);
            Some(fd)
        }
        Err(_) => {
            let _ = berth_image::unmount(target);
            None
        }
    }
}

/// Copies the image's content at `dst` (inside `rootfs`) into a new volume, as Docker does.
/// A path that goes through a symlink is skipped: it could point out of the rootfs.
fn copy_up(rootfs: &Path, dst: &str, dir: &Path) -> Result<(), String> {
    let mut p = rootfs.to_path_buf();
    for part in dst.split('/').filter(|s| !s.is_empty()) {
        if part == ".." {
            return Ok(());
        }
        p.push(part);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => return Ok(()),
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    if !p.is_dir() {
        return Ok(());
    }
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", p.display()))
        .arg(dir)
        .status()
        .map_err(|e| format!("copy image content into volume: {e}"))?;
    if !status.success() {
        return Err(format!(
            "copy image content at {dst} into its volume failed"
        ));
    }
    Ok(())
}

/// `/proc/self/fd/N/monitor.sock`: a short path to the socket in the directory `dir`.
pub fn socket_path(dir: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}/{SOCKET_FILE}", dir.as_raw_fd()))
}

/// Puts the resolved user into the bundle's config.json (names need the mounted rootfs).
fn set_user(spec: &MonitorSpec, rootfs: &Path) -> Result<(), String> {
    if spec.user.is_empty() && spec.group_add.is_empty() {
        return Ok(());
    }
    let (uid, gid, mut extra) = user::resolve(rootfs, &spec.user)?;
    for g in user::resolve_groups(rootfs, &spec.group_add)? {
        if !extra.contains(&g) {
            extra.push(g);
        }
    }
    let path = spec.bundle.join("config.json");
    let raw = std::fs::read(&path).map_err(|e| format!("read config.json: {e}"))?;
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| format!("parse config.json: {e}"))?;
    cfg["process"]["user"] = serde_json::json!({"uid": uid, "gid": gid, "additionalGids": extra});
    std::fs::write(&path, cfg.to_string()).map_err(|e| format!("write config.json: {e}"))
}
