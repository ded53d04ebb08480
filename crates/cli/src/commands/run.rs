//! `run`, `attach` and `start -a`: the docker CLI's sequence (create → on 404 pull and create
//! again → attach hijack → wait with a condition → start → resize → exit with the container's
//! code; 125/126/127 when the engine or the command fails).

use std::os::fd::AsFd;

use anyhow::Result;
use hyper::Response;
use hyper::body::Incoming;

use super::stream::{Ended, pump};
use super::{Ctx, Outcome, StatusError, create, out};
use crate::args::{AttachArgs, RunArgs, StartArgs};
use crate::client::{Client, ClientError, Hijacked, read_body, seg};
use crate::tty::{self, RawGuard};
use crate::types::{ContainerInspect, WaitResponse};

fn run_error(e: impl std::fmt::Display) -> anyhow::Error {
    StatusError::new(
        125,
        format!("berth: {e}\n\nRun 'berth run --help' for more information"),
    )
    .into()
}

/// Docker's `runStartContainerErr`: 127 for a missing command, 126 for one that cannot run.
pub fn start_error_code(message: &str) -> i32 {
    let m = message.trim_start_matches("Error response from daemon: ");
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        127
    } else if m.contains("permission denied") || m.contains("is a directory") {
        126
    } else {
        125
    }
}

/// Opens the attach hijack for the streams asked for.
pub async fn attach_stream(
    client: &Client,
    id: &str,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    detach_keys: Option<&str>,
) -> Result<Hijacked, ClientError> {
    client
        .post(&format!("/containers/{}/attach", seg(id)))
        .flag("stderr", stderr)
        .flag("stdin", stdin)
        .flag("stdout", stdout)
        .query("stream", "1")
        .query_opt("detachKeys", detach_keys)
        .hijack()
        .await
}

/// Sends `POST /containers/{id}/wait` and returns once the headers are in (the body comes at
/// exit), so `start` can follow without a race.
pub async fn wait_request(
    client: &Client,
    id: &str,
    condition: Option<&str>,
) -> Result<Response<Incoming>, ClientError> {
    client
        .post(&format!("/containers/{}/wait", seg(id)))
        .query_opt("condition", condition)
        .send()
        .await
}

/// Reads the exit status from a wait response.
pub async fn wait_status(resp: Response<Incoming>) -> Result<i64> {
    let body = read_body(resp).await?;
    let w: WaitResponse = serde_json::from_slice(&body)?;
    if let Some(e) = w.error.filter(|e| !e.message.is_empty()) {
        anyhow::bail!("{}", e.message);
    }
    Ok(w.status_code)
}

/// Resizes the container's TTY, retrying while it is still starting (as the docker CLI does).
pub async fn resize_container(client: &Client, path: &str, initial: bool) {
    let Some((rows, cols)) = tty::size(std::io::stdout()) else {
        return;
    };
    let attempts = if initial { 10 } else { 1 };
    for i in 0..attempts {
        let r = client
            .post(path)
            .query("h", rows)
            .query("w", cols)
            .ok()
            .await;
        if r.is_ok() {
            return;
        }
        if i + 1 < attempts {
            tokio::time::sleep(std::time::Duration::from_millis(10 * (i + 1) as u64)).await;
        }
    }
}

/// Raw mode when our stdin is a terminal and the container has a TTY.
pub fn raw_if(tty_mode: bool, stdin: bool) -> Result<Option<RawGuard>> {
    let input = std::io::stdin();
    if tty_mode && stdin && tty::is_tty(&input) {
        return Ok(Some(RawGuard::new(input.as_fd())?));
    }
    Ok(None)
}

fn detach_keys(flag: Option<&str>) -> Result<Vec<u8>> {
    tty::parse_detach_keys(flag.unwrap_or(tty::DEFAULT_DETACH_KEYS)).map_err(|e| anyhow::anyhow!(e))
}

/// Forwards SIGINT/SIGTERM/... to the container while attached without a TTY (`--sig-proxy`).
fn spawn_sig_proxy(client: Client, id: String) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let kinds = [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
            (SignalKind::quit(), "SIGQUIT"),
            (SignalKind::user_defined1(), "SIGUSR1"),
            (SignalKind::user_defined2(), "SIGUSR2"),
        ];
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for (kind, name) in kinds {
            let Ok(mut s) = signal(kind) else { continue };
            let tx = tx.clone();
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    let _ = tx.send(name);
                }
            });
        }
        while let Some(name) = rx.recv().await {
            let path = format!("/containers/{}/kill", seg(&id));
            let _ = client.post(&path).query("signal", name).ok().await;
        }
    });
}

pub async fn run(ctx: &Ctx, a: &RunArgs) -> Outcome {
    let o = &a.opts;
    let attach = !a.detach;
    let console = tty::size(std::io::stdout()).map_or([0, 0], |(r, c)| [r, c]);
    let body = create::body(o, attach, console).map_err(run_error)?;
    if o.tty && attach && o.interactive && !tty::is_tty(std::io::stdin()) {
        return Err(StatusError::new(1, "the input device is not a TTY").into());
    }
    let keys = detach_keys(a.detach_keys.as_deref()).map_err(run_error)?;
    let id = create::create(ctx, o, &body).await.map_err(run_error)?;
    let client = &ctx.client;
    let mut hijack = None;
    if attach {
        let c = &body.config;
        let s = attach_stream(
            client,
            &id,
            c.attach_stdin,
            c.attach_stdout,
            c.attach_stderr,
            a.detach_keys.as_deref(),
        )
        .await
        .map_err(run_error)?;
        hijack = Some(s);
    }
    let condition = if o.rm { "removed" } else { "next-exit" };
    let wait = wait_request(client, &id, Some(condition))
        .await
        .map_err(run_error)?;
    let start = client
        .post(&format!("/containers/{}/start", seg(&id)))
        .ok()
        .await;
    if let Err(e) = start {
        let code = start_error_code(&e.to_string());
        drop(hijack);
        if o.rm {
            // Docker waits for the removal; bounded here so a daemon that keeps the failed
            // container cannot hang us.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), read_body(wait)).await;
        }
        return Err(StatusError::new(
            code,
            format!("berth: {e}\n\nRun 'berth run --help' for more information"),
        )
        .into());
    }
    let Some(io) = hijack else {
        out(&format!("{id}\n"));
        return Ok(0);
    };
    let _raw = raw_if(o.tty, body.config.attach_stdin)?;
    let resize_path = format!("/containers/{}/resize", seg(&id));
    if o.tty {
        resize_container(client, &resize_path, true).await;
    } else if a.sig_proxy {
        spawn_sig_proxy(client.clone(), id.clone());
    }
    let ended = pump(io, o.tty, body.config.attach_stdin, Some(keys), |_, _| {
        resize_container(client, &resize_path, false)
    })
    .await;
    drop(_raw);
    match ended {
        Ok(Ended::Detached) => return Ok(0),
        Ok(Ended::Terminated) => return Ok(143),
        Ok(Ended::Closed) => {}
        Err(e) => eprintln!("{e}"),
    }
    let code = wait_status(wait).await.map_err(run_error)?;
    Ok(code as i32)
}

/// The end of `attach` and `start -a`: pumps the streams until they end (following window
/// resizes), restores the terminal, then exits 0 when detached, 143 when terminated, else with
/// the container's code.
async fn pump_until_exit(
    client: &Client,
    c: &ContainerInspect,
    io: Hijacked,
    stdin: bool,
    keys: Vec<u8>,
    raw: Option<RawGuard>,
    wait: Response<Incoming>,
) -> Outcome {
    let resize_path = format!("/containers/{}/resize", seg(&c.id));
    let ended = pump(io, c.config.tty, stdin, Some(keys), |_, _| {
        resize_container(client, &resize_path, false)
    })
    .await;
    drop(raw);
    match ended? {
        Ended::Detached => Ok(0),
        Ended::Terminated => Ok(143),
        Ended::Closed => Ok(wait_status(wait).await? as i32),
    }
}

/// `attach`: stream a running container's stdio until it exits or the user detaches.
pub async fn attach(ctx: &Ctx, a: &AttachArgs) -> Outcome {
    let c = create::inspect(ctx, &a.container).await?;
    if !c.state.running {
        anyhow::bail!("You cannot attach to a stopped container, start it first");
    }
    if c.state.paused {
        anyhow::bail!("You cannot attach to a paused container, unpause it first");
    }
    let keys = detach_keys(a.detach_keys.as_deref())?;
    let stdin = c.config.open_stdin && !a.no_stdin;
    if c.config.tty && stdin && !tty::is_tty(std::io::stdin()) {
        anyhow::bail!("the input device is not a TTY");
    }
    let client = &ctx.client;
    let io = attach_stream(client, &c.id, stdin, true, true, a.detach_keys.as_deref()).await?;
    let wait = wait_request(client, &c.id, None).await?;
    let raw = raw_if(c.config.tty, stdin)?;
    let resize_path = format!("/containers/{}/resize", seg(&c.id));
    if c.config.tty {
        resize_container(client, &resize_path, false).await;
    } else if a.sig_proxy {
        spawn_sig_proxy(client.clone(), c.id.clone());
    }
    pump_until_exit(client, &c, io, stdin, keys, raw, wait).await
}

/// `start [-a [-i]]`.
pub async fn start(ctx: &Ctx, a: &StartArgs) -> Outcome {
    let client = &ctx.client;
    if !a.attach && !a.interactive {
        return super::for_each(&a.containers, |name| async move {
            client
                .post(&format!("/containers/{}/start", seg(&name)))
                .ok()
                .await?;
            Ok(Some(name))
        })
        .await;
    }
    if a.containers.len() > 1 {
        anyhow::bail!("you cannot start and attach multiple containers at once");
    }
    let c = create::inspect(ctx, &a.containers[0]).await?;
    let stdin = a.interactive && c.config.open_stdin;
    let keys = detach_keys(a.detach_keys.as_deref())?;
    let io = attach_stream(client, &c.id, stdin, true, true, a.detach_keys.as_deref()).await?;
    let wait = wait_request(client, &c.id, Some("next-exit")).await?;
    if let Err(e) = client
        .post(&format!("/containers/{}/start", seg(&c.id)))
        .ok()
        .await
    {
        return Err(StatusError::new(start_error_code(&e.to_string()), e.to_string()).into());
    }
    let raw = raw_if(c.config.tty, stdin)?;
    let resize_path = format!("/containers/{}/resize", seg(&c.id));
    if c.config.tty {
        resize_container(client, &resize_path, true).await;
    }
    pump_until_exit(client, &c, io, stdin, keys, raw, wait).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_failures_map_to_docker_codes() {
        assert_eq!(
            start_error_code(
                "Error response from daemon: failed to create task: exec: \"nope\": executable file not found in $PATH"
            ),
            127
        );
        assert_eq!(
            start_error_code("exec /bin/x: no such file or directory"),
            127
        );
        assert_eq!(start_error_code("exec /etc: permission denied"), 126);
        assert_eq!(start_error_code("cgroup failure"), 125);
    }
}
