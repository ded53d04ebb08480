//! `create` and the first half of `run`: flags → create body, `POST /containers/create`, and on
//! "No such image" a pull and a second create, as the docker CLI does.

use anyhow::{Result, anyhow, bail};
use hyper::StatusCode;
use serde_json::json;

use super::opts::{self, VolumeSpec};
use super::{Ctx, image};
use crate::args::ContainerOptions;
use crate::client::{ClientError, seg};
use crate::types::{CreateBody, CreateResponse, EndpointSettings, HealthConfig};

fn env_lookup(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// Builds the create body from the flags. `attach` says whether the CLI will attach (run in the
/// foreground); `console` is the terminal size for `-t`.
pub fn body(o: &ContainerOptions, attach: bool, console: [u16; 2]) -> Result<CreateBody> {
    let mut b = CreateBody::default();
    let c = &mut b.config;
    let h = &mut b.host_config;
    c.image = o.image().to_string();
    if !o.command().is_empty() {
        c.cmd = Some(o.command().to_vec());
    }
    c.hostname = o.hostname.clone().unwrap_or_default();
    if let Some((host, domain)) = c.hostname.clone().split_once('.') {
        c.hostname = host.to_string();
        c.domainname = domain.to_string();
    }
    c.user = o.user.clone().unwrap_or_default();
    c.working_dir = o.workdir.clone().unwrap_or_default();
    if let Some(w) = o.workdir.as_ref().filter(|w| !w.starts_with('/')) {
        bail!("the working directory '{w}' is invalid, it needs to be an absolute path");
    }
    c.tty = o.tty;
    c.open_stdin = o.interactive;
    for s in &o.attach {
        if !["stdin", "stdout", "stderr"].contains(&s.to_lowercase().as_str()) {
            bail!(
                "invalid argument \"{s}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
            );
        }
    }
    let wants = |s: &str| o.attach.iter().any(|a| a.eq_ignore_ascii_case(s));
    if attach {
        if o.attach.is_empty() {
            c.attach_stdout = true;
            c.attach_stderr = true;
            c.attach_stdin = o.interactive;
        } else {
            c.attach_stdin = wants("stdin");
            c.attach_stdout = wants("stdout");
            c.attach_stderr = wants("stderr");
        }
        c.stdin_once = c.attach_stdin;
    }
    for file in &o.env_file {
        c.env.extend(opts::read_kv_file(file, env_lookup)?);
    }
    c.env
        .extend(o.env.iter().map(|e| opts::env_value(e, env_lookup)));
    let mut labels = Vec::new();
    for file in &o.label_file {
        labels.extend(opts::read_kv_file(file, |_| None)?);
    }
    labels.extend(o.label.iter().cloned());
    c.labels = opts::labels(&labels);
    if let Some(e) = &o.entrypoint {
        c.entrypoint = Some(vec![e.clone()]);
    }
    c.stop_signal = o.stop_signal.clone().unwrap_or_default();
    c.stop_timeout = o.stop_timeout;
    if o.no_healthcheck {
        c.healthcheck = Some(HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        });
    } else if o.health_cmd.is_some() || o.health_interval.is_some() || o.health_retries.is_some() {
        let d = |v: &Option<String>| {
            v.as_deref()
                .map(opts::duration_ns)
                .transpose()
                .map(Option::unwrap_or_default)
        };
        c.healthcheck = Some(HealthConfig {
            test: o
                .health_cmd
                .iter()
                .flat_map(|cmd| ["CMD-SHELL".to_string(), cmd.clone()])
                .collect(),
            interval: d(&o.health_interval)?,
            timeout: d(&o.health_timeout)?,
            start_period: d(&o.health_start_period)?,
            retries: o.health_retries.unwrap_or(0),
        });
    }
    for p in &o.expose {
        let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
        let (a, b) = port.split_once('-').unwrap_or((port, port));
        let (a, b): (u16, u16) = (
            a.parse()
                .map_err(|_| anyhow!("invalid range format for --expose: {p}"))?,
            b.parse()
                .map_err(|_| anyhow!("invalid range format for --expose: {p}"))?,
        );
        for port in a..=b {
            c.exposed_ports.insert(format!("{port}/{proto}"), json!({}));
        }
    }
    for p in &o.publish {
        for (port, binding) in opts::publish(p)? {
            c.exposed_ports.insert(port.clone(), json!({}));
            h.port_bindings.entry(port).or_default().push(binding);
        }
    }
    h.publish_all_ports = o.publish_all;
    for v in &o.volume {
        match opts::volume(v)? {
            VolumeSpec::Anonymous(path) => {
                c.volumes.insert(path, json!({}));
            }
            VolumeSpec::Bind(b) => h.binds.push(b),
        }
    }
    for m in &o.mount {
        h.mounts.push(opts::mount(m)?);
    }
    for t in &o.tmpfs {
        let (path, options) = t.split_once(':').unwrap_or((t, ""));
        if !path.starts_with('/') {
            bail!("invalid tmpfs mount path: '{path}' mount path must be absolute");
        }
        h.tmpfs.insert(path.to_string(), options.to_string());
    }
    h.network_mode = o.network.clone().unwrap_or_else(|| "default".into());
    if !o.network_alias.is_empty() {
        let net = o.network.clone().unwrap_or_else(|| "default".into());
        if net == "default" || net == "bridge" || net == "host" || net == "none" {
            bail!("network-scoped aliases are only supported for user-defined networks");
        }
        b.networking_config.endpoints_config.insert(
            net,
            EndpointSettings {
                aliases: o.network_alias.clone(),
            },
        );
    }
    let h = &mut b.host_config;
    h.restart_policy = opts::restart(&o.restart)?;
    h.auto_remove = o.rm;
    if o.rm && h.restart_policy.name != "no" {
        bail!("Conflicting options: --restart and --rm");
    }
    h.cap_add = o.cap_add.clone();
    h.cap_drop = o.cap_drop.clone();
    h.dns = o.dns.clone();
    h.extra_hosts = o
        .add_host
        .iter()
        .map(|a| opts::add_host(a))
        .collect::<Result<_>>()?;
    h.privileged = o.privileged;
    h.readonly_rootfs = o.read_only;
    h.security_opt = o.security_opt.clone();
    if o.init {
        h.init = Some(true);
    }
    let ram = |s: &str| {
        crate::render::human::ram_in_bytes(s).map_err(|e| anyhow!("invalid argument \"{s}\": {e}"))
    };
    if let Some(m) = &o.memory {
        h.memory = ram(m)?;
    }
    if let Some(s) = &o.memory_swap {
        h.memory_swap = if s == "-1" { -1 } else { ram(s)? };
    }
    if let Some(cpus) = o.cpus {
        if !(0.0..=1e6).contains(&cpus) {
            bail!("invalid argument \"{cpus}\" for \"--cpus\" flag: range is 0 to 1000000");
        }
        h.nano_cpus = (cpus * 1e9) as i64;
    }
    h.cpu_shares = o.cpu_shares.unwrap_or(0);
    h.pids_limit = o.pids_limit;
    h.ulimits = o
        .ulimit
        .iter()
        .map(|u| opts::ulimit(u))
        .collect::<Result<_>>()?;
    if o.tty {
        h.console_size = console;
    }
    if !["missing", "always", "never"].contains(&o.pull.as_str()) {
        bail!(
            "invalid pull option: '{}': must be one of \"always\", \"missing\" or \"never\"",
            o.pull
        );
    }
    Ok(b)
}

/// `POST /containers/create`, pulling on "No such image" per `--pull`, printing warnings.
pub async fn create(ctx: &Ctx, o: &ContainerOptions, body: &CreateBody) -> Result<String> {
    let image = o.image();
    if o.pull == "always" {
        image::pull_quietly(ctx, image, o.platform.as_deref(), o.quiet).await?;
    }
    let send = || {
        ctx.client
            .post("/containers/create")
            .query_opt("name", o.name.as_deref())
            .query_opt("platform", o.platform.as_deref())
            .json(body)
    };
    let created: CreateResponse = match send()?.json_response().await {
        Err(ClientError::Api { status, .. })
            if status == StatusCode::NOT_FOUND.as_u16() && o.pull == "missing" =>
        {
            let reference = image::normalize(image);
            eprintln!("Unable to find image '{reference}' locally");
            image::pull_quietly(ctx, image, o.platform.as_deref(), o.quiet).await?;
            send()?.json_response().await?
        }
        r => r?,
    };
    for w in created.warnings.iter().flatten() {
        eprintln!("WARNING: {w}");
    }
    Ok(created.id)
}

/// `berth create`: prints the new container's ID.
pub async fn run(ctx: &Ctx, o: &ContainerOptions) -> super::Outcome {
    let console = crate::tty::size(std::io::stdout()).map_or([0, 0], |(r, c)| [r, c]);
    let body = body(o, false, console).map_err(|e| super::StatusError::new(125, format!("{e}")))?;
    let id = create(ctx, o, &body)
        .await
        .map_err(|e| super::StatusError::new(125, format!("{e}")))?;
    super::out(&format!("{id}\n"));
    Ok(0)
}

/// `GET /containers/{name}/json` decoded.
pub async fn inspect(ctx: &Ctx, name: &str) -> Result<crate::types::ContainerInspect, ClientError> {
    ctx.client
        .get(&format!("/containers/{}/json", seg(name)))
        .json_response()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Action, Cli};
    use clap::Parser;

    fn opts(args: &[&str]) -> ContainerOptions {
        let cli = Cli::try_parse_from(["berth", "run"].iter().chain(args)).unwrap();
        match Action::from(cli.command.unwrap()) {
            Action::Run(r) => r.opts,
            _ => unreachable!(),
        }
    }

    #[test]
    fn body_carries_docker_fields() {
        let o = opts(&[
            "-it",
            "--rm",
            "--name",
            "x",
            "-e",
            "A=1",
            "-p",
            "8080:80",
            "-v",
            "/data",
            "-v",
            "/h:/c:ro",
            "-m",
            "64m",
            "--cpus",
            "1.5",
            "--pids-limit",
            "20",
            "-l",
            "k=v",
            "--ulimit",
            "nofile=10:20",
            "--hostname",
            "box.example",
            "--health-cmd",
            "true",
            "--health-interval",
            "5s",
            "--tmpfs",
            "/run:size=1m",
            "busybox",
            "sh",
        ]);
        let b = serde_json::to_value(body(&o, true, [40, 100]).unwrap()).unwrap();
        assert_eq!(b["Image"], "busybox");
        assert_eq!(b["Cmd"], json!(["sh"]));
        assert_eq!(b["Tty"], true);
        assert_eq!(b["OpenStdin"], true);
        assert_eq!(b["AttachStdin"], true);
        assert_eq!(b["StdinOnce"], true);
        assert_eq!(b["Env"], json!(["A=1"]));
        assert_eq!(b["Hostname"], "box");
        assert_eq!(b["Domainname"], "example");
        assert_eq!(b["Labels"], json!({"k": "v"}));
        assert_eq!(b["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(b["Volumes"], json!({"/data": {}}));
        assert_eq!(
            b["Healthcheck"],
            json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64})
        );
        let h = &b["HostConfig"];
        assert_eq!(
            h["PortBindings"],
            json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]})
        );
        assert_eq!(h["Binds"], json!(["/h:/c:ro"]));
        assert_eq!(h["Memory"], 64 * 1024 * 1024);
        assert_eq!(h["NanoCpus"], 1_500_000_000i64);
        assert_eq!(h["PidsLimit"], 20);
        assert_eq!(h["AutoRemove"], true);
        assert_eq!(
            h["Ulimits"],
            json!([{"Name": "nofile", "Soft": 10, "Hard": 20}])
        );
        assert_eq!(h["ConsoleSize"], json!([40, 100]));
        assert_eq!(h["Tmpfs"], json!({"/run": "size=1m"}));
    }

    #[test]
    fn detached_runs_do_not_attach() {
        let b =
            serde_json::to_value(body(&opts(&["-i", "busybox"]), false, [0, 0]).unwrap()).unwrap();
        assert_eq!(b["AttachStdout"], false);
        assert_eq!(b["OpenStdin"], true);
        assert_eq!(b["StdinOnce"], false);
        assert!(b.get("Cmd").is_none());
    }

    #[test]
    fn conflicting_or_bad_flags_are_refused() {
        assert!(body(&opts(&["--rm", "--restart", "always", "bb"]), true, [0, 0]).is_err());
        assert!(body(&opts(&["-w", "rel", "bb"]), true, [0, 0]).is_err());
        assert!(body(&opts(&["-m", "lots", "bb"]), true, [0, 0]).is_err());
        assert!(body(&opts(&["--network-alias", "a", "bb"]), true, [0, 0]).is_err());
        assert!(body(&opts(&["--pull", "sometimes", "bb"]), true, [0, 0]).is_err());
        assert!(body(&opts(&["-a", "stdfoo", "bb"]), true, [0, 0]).is_err());
    }
}
