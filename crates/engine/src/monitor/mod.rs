//! The per-container monitor: a small single-threaded process (no tokio) that mounts the
//! container's rootfs, creates the container through berth-runtime (so the init is its child),
//! holds its stdio or pty, writes the json-file log, serves attach/start/kill/resize on a UNIX
//! socket, reaps the init, and records the exit code in the run directory. It outlives the
//! daemon: a daemon restart re-adopts it through the socket.
//!
//! `berth-monitor RUN_DIR` reads `RUN_DIR/monitor.json` ([`protocol::MonitorSpec`]), forks
//! (the parent exits at once; the child starts a new session), and answers on its stdout:
//! `ok <init-pid>` once the container is created (waiting for `Start`), or `error <message>`.

pub mod protocol;

mod io;
mod run;
mod user;

pub use run::main;
