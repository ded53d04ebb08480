//! The OCI runtime library: turns a bundle (config.json + rootfs) into an isolated, limited
//! process. Owns namespaces, cgroups, rootfs setup, seccomp and capabilities. Uses nothing of
//! Berth's other crates, and no async runtime: it is sync, spawns no threads or helpers, and
//! must be called from a single-threaded process (it clones the caller).
//!
//! Public API (what the engine calls; all errors are `berth_runtime::Error`):
//! ```text
//! Runtime::new(root: impl Into<PathBuf>) -> Runtime
//! Runtime::create(&self, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<Container>
//! Runtime::run(&self, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<Container>
//!     // create + start without the exec fifo round trip
//! Runtime::load(&self, id: &str) -> Result<Container>
//! Runtime::list(&self) -> Result<Vec<State>>
//! CreateOptions { pid_file: Option<PathBuf>, console_socket: Option<PathBuf>,
//!                 preserve_fds: u32, stdio: Option<[RawFd; 3]> }
//! Container::id(&self) -> &str
//! Container::pid(&self) -> Option<i32>            // None once the init exited
//! Container::record_pid(&self) -> i32             // the init's pid as created
//! Container::status(&self) -> Status              // Created | Running | Paused | Stopped
//! Container::state(&self) -> Result<State>        // OCI state JSON (serde)
//! Container::take_console(&mut self) -> Option<OwnedFd>   // pty master without console socket
//! Container::start(&mut self) -> Result<()>
//! Container::kill(&self, signal: i32, all: bool) -> Result<()>
//! Container::delete(self, force: bool) -> Result<()>      // cgroup + state dir removed
//! Container::pause(&self) / resume(&self) -> Result<()>
//! Container::update(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<()>
//! Container::stats(&self) -> Result<Stats>        // runc `events --stats` shape (serde)
//! Container::processes(&self) -> Result<Vec<i32>>
//! Container::exec(&self, process: &oci_spec::runtime::Process, opts: &ExecOptions)
//!     -> Result<ExecHandle>                       // ExecHandle { pid, console }, child of caller
//! ExecOptions { pid_file, console_socket, preserve_fds: u32, stdio: Option<[RawFd; 3]> }
//! spec::load(bundle: &Path) -> Result<Spec>; spec::validate(&Spec, bundle) -> Result<PathBuf>;
//! spec::default_spec(rootless: bool) -> Spec; load_process(path: &Path) -> Result<Process>
//! ```

mod cgroups;
mod channel;
mod container;
mod create;
pub mod error;
mod exec;
mod hooks;
mod init;
mod namespaces;
mod rootfs;
mod seccomp;
mod security;
pub mod spec;
mod state;
mod sys;

use std::os::fd::RawFd;
use std::path::PathBuf;

pub use cgroups::Stats;
pub use container::{Container, Status};
pub use error::{Error, Result};
pub use exec::{ExecHandle, ExecOptions, load_process};
pub use state::State;

/// Default state root of the `berth-runtime` binary.
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";

/// A state root holding one directory per container.
#[derive(Debug, Clone)]
pub struct Runtime {
    root: PathBuf,
}

/// How to create a container.
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    /// Write the init's host pid here (no trailing newline, as containerd expects).
    pub pid_file: Option<PathBuf>,
    /// runc's console socket: the pty master is sent over it with SCM_RIGHTS. Without it, a
    /// terminal's master is returned by `Container::take_console`.
    pub console_socket: Option<PathBuf>,
    /// Pass fds 3..3+N to the container process.
    pub preserve_fds: u32,
    /// fds to install as the init's 0, 1, 2 (else the caller's are inherited).
    pub stdio: Option<[RawFd; 3]>,
    /// runc's --no-pivot: move the rootfs over / and chroot instead of pivot_root (for roots
    /// on a ramfs, where pivot_root is not possible). Less isolating: avoid it otherwise.
    pub no_pivot: bool,
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Runtime { root: root.into() }
    }

    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// Creates the container; its init is a child of the caller and waits until `start`.
    pub fn create(
        &self,
        id: &str,
        bundle: &std::path::Path,
        opts: &CreateOptions,
    ) -> Result<Container> {
        create::create(self, id, bundle, opts, false)
    }

    /// create + start in one step: the init execs as soon as it is set up (no exec fifo round
    /// trip). Poststart hooks have run when this returns.
    pub fn run(
        &self,
        id: &str,
        bundle: &std::path::Path,
        opts: &CreateOptions,
    ) -> Result<Container> {
        create::create(self, id, bundle, opts, true)
    }

    pub fn load(&self, id: &str) -> Result<Container> {
        if !state::valid_id(id) {
            return Err(Error::InvalidId(id.to_string()));
        }
        Container::load(self.root.join(id), id)
    }

    /// The state of every container under the root, sorted by id.
    pub fn list(&self) -> Result<Vec<State>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Error::io(format!("read {}", self.root.display()), e)),
        };
        let mut out = vec![];
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if let Ok(c) = self.load(&id)
                && let Ok(s) = c.state()
            {
                out.push(s);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

impl Container {
    /// Runs an extra process in the container; it is a child of the caller.
    pub fn exec(
        &self,
        process: &oci_spec::runtime::Process,
        opts: &ExecOptions,
    ) -> Result<ExecHandle> {
        exec::exec(self, process, opts)
    }
}
