//! Operations on an existing container: state, start, kill, delete, pause/resume, update,
//! stats, processes.

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use crate::cgroups::Stats;
use crate::create::oci_state;
use crate::error::{Context, Error, Result};
use crate::state::{self, FIFO, Record, State};
use crate::{hooks, sys};

/// The container's status, as the OCI state reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// A container known to the runtime (its state directory exists).
pub struct Container {
    dir: PathBuf,
    record: Record,
    console: Option<OwnedFd>,
    /// The seccomp profile was dropped from `record` ([`Container::trim`]); the state file
    /// still has it.
    trimmed: bool,
}

impl Container {
    /// The container's state directory (`<root>/<id>`).
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub(crate) fn from_parts(dir: PathBuf, record: Record, console: Option<OwnedFd>) -> Self {
        Container {
            dir,
            record,
            console,
            trimmed: false,
        }
    }

    pub(crate) fn load(dir: PathBuf, id: &str) -> Result<Self> {
        let record = Record::load(&dir, id)?;
        Ok(Container {
            dir,
            record,
            console: None,
            trimmed: false,
        })
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    pub fn bundle(&self) -> &Path {
        &self.record.bundle
    }

    pub fn spec(&self) -> &oci_spec::runtime::Spec {
        &self.record.spec
    }

    /// The init's host pid while it runs (None once it has exited).
    pub fn pid(&self) -> Option<i32> {
        self.alive().then_some(self.record.pid)
    }

    /// The pty master when `process.terminal` was set and no console socket was given.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.console.take()
    }

    /// The init's host pid as recorded at create (also after it exited).
    pub fn record_pid(&self) -> i32 {
        self.record.pid
    }

    pub(crate) fn record(&self) -> &Record {
        &self.record
    }

    /// Drops the seccomp profile from the spec held in memory: Docker's default profile parses
    /// into ~130 KiB of heap that a long-lived holder (a monitor) would otherwise keep for the
    /// container's life. Only `exec` needs it again, and reads it back from the state file.
    pub fn trim(&mut self) {
        if let Some(linux) = self.record.spec.linux_mut()
            && linux.seccomp().is_some()
        {
            linux.set_seccomp(None);
            self.trimmed = true;
            // a fresh copy packs what stays into the holes the profile left, so the pages
            // the old scattered copy kept can be given back
            self.record = self.record.clone();
        }
    }

    /// The container's seccomp profile, from the state file when [`Container::trim`] dropped it.
    pub(crate) fn seccomp(&self) -> Result<Option<oci_spec::runtime::LinuxSeccomp>> {
        let record = if self.trimmed {
            &Record::load(&self.dir, &self.record.id)?
        } else {
            &self.record
        };
        Ok(record
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().clone()))
    }

    fn alive(&self) -> bool {
        match state::proc_start(self.record.pid) {
            Some((start, zombie)) => {
                !zombie && (self.record.start_time == 0 || start == self.record.start_time)
            }
            None => false,
        }
    }

    pub fn status(&self) -> Status {
        if !self.alive() {
            return Status::Stopped;
        }
        if self.dir.join(FIFO).exists() {
            return Status::Created;
        }
        if self.record.cgroup.is_frozen() {
            return Status::Paused;
        }
        Status::Running
    }

    pub fn state(&self) -> Result<State> {
        let status = self.status();
        let pid = if status == Status::Stopped {
            0
        } else {
            self.record.pid
        };
        let r = &self.record;
        Ok(oci_state(
            &r.id,
            &status.to_string(),
            pid,
            &r.bundle,
            &r.rootfs,
            &r.created,
            &r.spec,
        ))
    }

    fn bad_state(&self, status: Status, op: &'static str) -> Error {
        Error::BadState {
            id: self.record.id.clone(),
            status: status.to_string(),
            op,
        }
    }

    /// Lets the created init exec the user's program, then runs poststart hooks.
    pub fn start(&mut self) -> Result<()> {
        let status = self.status();
        if status != Status::Created {
            return Err(self.bad_state(status, "start"));
        }
        self.wait_fifo()?;
        self.run_poststart();
        Ok(())
    }

    /// poststart hooks; failures are logged, not fatal (OCI spec).
    pub(crate) fn run_poststart(&self) {
        if let Some(h) = self.record.spec.hooks()
            && let Some(ps) = h.poststart()
            && let Ok(st) = self.state()
            && let Err(e) = hooks::run_all(Some(ps), &st)
        {
            eprintln!("berth-runtime: {e}");
        }
    }

    /// Reads the init's byte from the exec fifo without hanging if the init died meanwhile.
    fn wait_fifo(&self) -> Result<()> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        use std::os::unix::fs::OpenOptionsExt;
        let fifo = self.dir.join(FIFO);
        let mut f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .ctx(|| format!("open {}", fifo.display()))?;
        let dead = || Error::Init("container init exited before start".into());
        loop {
            let mut fds = [PollFd::new(&f, PollFlags::IN)];
            let t = Timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000,
            };
            match poll(&mut fds, Some(&t)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::io("poll exec fifo", e.into())),
            }
            let rev = fds[0].revents();
            if rev.contains(PollFlags::IN) {
                let mut b = [0u8; 1];
                let n = f.read(&mut b).ctx(|| "read exec fifo".into())?;
                let _ = fs::remove_file(&fifo);
                return if n == 1 { Ok(()) } else { Err(dead()) };
            }
            if rev.contains(PollFlags::HUP) || !self.alive() {
                return Err(dead());
            }
        }
    }

    /// Sends `signal` to the init, or with `all` to every process of the container.
    pub fn kill(&self, signal: i32, all: bool) -> Result<()> {
        let status = self.status();
        if all {
            let pids = self.record.cgroup.pids()?;
            for p in pids {
                let _ = sys::kill(p, signal);
            }
            if status == Status::Paused && signal == libc::SIGKILL {
                let _ = self.record.cgroup.freeze(false);
            }
            return Ok(());
        }
        if status == Status::Stopped {
            return Err(Error::NotRunning(self.record.id.clone()));
        }
        sys::kill(self.record.pid, signal).ctx(|| format!("kill {}", self.record.pid))
    }

    /// Removes the container: its cgroup and state directory. A running container needs `force`
    /// (it is killed first).
    pub fn delete(self, force: bool) -> Result<()> {
        let status = self.status();
        match status {
            Status::Stopped => {}
            Status::Created => self.kill_and_wait()?,
            Status::Running | Status::Paused if force => self.kill_and_wait()?,
            _ => return Err(self.bad_state(status, "delete (not stopped; use --force)")),
        }
        // stray processes (a forked child of the init) die with the container
        if !self.record.cgroup.pids()?.is_empty() {
            self.kill_and_wait()?;
        }
        self.record.cgroup.remove()?;
        if let Some(h) = self.record.spec.hooks()
            && let Some(ps) = h.poststop()
        {
            let mut st = self.state()?;
            st.status = "stopped".into();
            if let Err(e) = hooks::run_all(Some(ps), &st) {
                eprintln!("berth-runtime: {e}");
            }
        }
        fs::remove_dir_all(&self.dir).ctx(|| format!("remove {}", self.dir.display()))
    }

    fn kill_and_wait(&self) -> Result<()> {
        let cg = &self.record.cgroup;
        for p in cg.pids()? {
            let _ = sys::kill(p, libc::SIGKILL);
        }
        if self.alive() {
            let _ = sys::kill(self.record.pid, libc::SIGKILL);
        }
        if cg.is_frozen() {
            let _ = cg.freeze(false);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // reap the init if it is our own child (library use)
            let _ = sys::try_wait(self.record.pid);
            if !self.alive() && cg.pids()?.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Other(format!(
                    "container {} did not die after SIGKILL",
                    self.record.id
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn pause(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Running && status != Status::Created {
            return Err(self.bad_state(status, "pause"));
        }
        self.record.cgroup.freeze(true)
    }

    pub fn resume(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Paused {
            return Err(self.bad_state(status, "resume"));
        }
        self.record.cgroup.freeze(false)
    }

    /// Changes the cgroup limits of a live container.
    pub fn update(&self, resources: &LinuxResources) -> Result<()> {
        let status = self.status();
        if status == Status::Stopped {
            return Err(self.bad_state(status, "update"));
        }
        self.record.cgroup.apply(resources, false)
    }

    pub fn stats(&self) -> Result<Stats> {
        self.record.cgroup.stats()
    }

    /// Host pids of every process in the container.
    pub fn processes(&self) -> Result<Vec<i32>> {
        self.record.cgroup.pids()
    }

    pub(crate) fn require_live(&self, op: &'static str) -> Result<Status> {
        let s = self.status();
        if s == Status::Stopped || s == Status::Paused {
            return Err(self.bad_state(s, op));
        }
        Ok(s)
    }
}
