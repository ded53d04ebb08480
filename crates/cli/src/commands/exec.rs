//! `exec`: inspect → `POST /containers/{c}/exec` → `POST /exec/{id}/start` (hijacked unless
//! `-d`) → resize → `GET /exec/{id}/json` for the exit code.

use anyhow::Result;

use super::run::{raw_if, resize_container};
use super::stream::{Ended, pump};
use super::{Ctx, Outcome, StatusError, create, opts};
use crate::args::ExecArgs;
use crate::client::seg;
use crate::tty;
use crate::types::{CreateResponse, ExecConfig, ExecInspect, ExecStart};

pub async fn exec(ctx: &Ctx, a: &ExecArgs) -> Outcome {
    let container = &a.container_and_command[0];
    let cmd = a.container_and_command[1..].to_vec();
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(opts::read_kv_file(f, lookup)?);
    }
    env.extend(a.env.iter().map(|e| opts::env_value(e, lookup)));
    let keys = tty::parse_detach_keys(a.detach_keys.as_deref().unwrap_or(tty::DEFAULT_DETACH_KEYS))
        .map_err(|e| anyhow::anyhow!(e))?;
    create::inspect(ctx, container).await?;
    if a.tty && a.interactive && !a.detach && !tty::is_tty(std::io::stdin()) {
        return Err(StatusError::new(1, "the input device is not a TTY").into());
    }
    let console = if a.tty {
        tty::size(std::io::stdout()).map(|(r, c)| [r, c])
    } else {
        None
    };
    let config = ExecConfig {
        user: a.user.clone().unwrap_or_default(),
        privileged: a.privileged,
        tty: a.tty,
        console_size: console,
        attach_stdin: a.interactive && !a.detach,
        attach_stdout: !a.detach,
        attach_stderr: !a.detach,
        detach: a.detach,
        detach_keys: a.detach_keys.clone().unwrap_or_default(),
        env,
        working_dir: a.workdir.clone().unwrap_or_default(),
        cmd,
    };
    let client = &ctx.client;
    let created: CreateResponse = client
        .post(&format!("/containers/{}/exec", seg(container)))
        .json(&config)?
        .json_response()
        .await?;
    let start_path = format!("/exec/{}/start", seg(&created.id));
    let start = ExecStart {
        detach: a.detach,
        tty: a.tty,
        console_size: console,
    };
    if a.detach {
        client.post(&start_path).json(&start)?.ok().await?;
        return Ok(0);
    }
    let io = client.post(&start_path).json(&start)?.hijack().await?;
    let stdin = config.attach_stdin;
    let _raw = raw_if(a.tty, stdin)?;
    let resize_path = format!("/exec/{}/resize", seg(&created.id));
    if a.tty {
        resize_container(client, &resize_path, true).await;
    }
    let ended = pump(io, a.tty, stdin, Some(keys), |_, _| {
        resize_container(client, &resize_path, false)
    })
    .await;
    drop(_raw);
    match ended? {
        Ended::Detached => return Ok(0),
        Ended::Terminated => return Ok(143),
        Ended::Closed => {}
    }
    exit_code(ctx, &created.id).await
}

async fn exit_code(ctx: &Ctx, id: &str) -> Result<i32> {
    // The stream can close a moment before the daemon records the exit code.
    for _ in 0..50 {
        let i: ExecInspect = ctx
            .client
            .get(&format!("/exec/{}/json", seg(id)))
            .json_response()
            .await?;
        if let (false, Some(code)) = (i.running, i.exit_code) {
            return Ok(code as i32);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Ok(0)
}
