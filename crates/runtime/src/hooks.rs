//! OCI hooks: run with the container state on stdin, each with its optional timeout.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};
use crate::state::State;

pub(crate) fn run_all(hooks: Option<&Vec<Hook>>, state: &State) -> Result<()> {
    for h in hooks.into_iter().flatten() {
        run(h, state)?;
    }
    Ok(())
}

pub(crate) fn run(h: &Hook, state: &State) -> Result<()> {
    let path = h.path().display().to_string();
    let herr = |msg: String| Error::Hook {
        path: path.clone(),
        msg,
    };
    let mut cmd = Command::new(h.path());
    if let Some(args) = h.args()
        && let Some((first, rest)) = args.split_first()
    {
        use std::os::unix::process::CommandExt;
        cmd.arg0(first);
        cmd.args(rest);
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| herr(format!("start: {e}")))?;
    let json = serde_json::to_vec(state).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        // a hook that does not read its stdin is fine
        let _ = stdin.write_all(&json);
    }
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(herr(format!("wait: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(herr(format!(
                "timed out after {}s",
                h.timeout().unwrap_or(0)
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut stderr);
        }
        return Err(herr(format!("{status}: {}", stderr.trim())));
    }
    Ok(())
}
