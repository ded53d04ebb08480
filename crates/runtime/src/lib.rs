//! The OCI runtime library: turns a bundle (config.json + rootfs) into an isolated, limited
//! process. Owns namespaces, cgroups, rootfs setup, seccomp and capabilities. Uses nothing of
//! Berth's other crates, and no async runtime: it is sync, spawns no threads or helpers, and
//! must be called from a single-threaded process (it clones the caller).
//!
//! Public API (what the engine calls):
//! ```text
//! Runtime::new(root: impl Into<PathBuf>) -> Runtime
//! Runtime::create(&self, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<Container>
//! Runtime::load(&self, id: &str) -> Result<Container>
//! Runtime::list(&self) -> Result<Vec<State>>
//! Container::{id, pid, state, status, start, kill, delete, pause, resume, update, stats,
//!             processes, exec, take_console}
//! spec::{load, validate, default_spec}
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
        create::create(self, id, bundle, opts)
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
