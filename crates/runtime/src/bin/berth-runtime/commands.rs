//! One function per command: thin adapters onto the library.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use berth_runtime::{Container, CreateOptions, ExecOptions, Runtime, spec};
use oci_spec::runtime::{LinuxResources, Process};

use crate::cli::{Cli, Cmd, CreateArgs, ExecArgs, UpdateArgs};

pub fn run(cli: &Cli) -> Result<i32> {
    if cli.systemd_cgroup {
        bail!("--systemd-cgroup: the systemd cgroup driver is not supported; use cgroupfs");
    }
    let rt = Runtime::new(&cli.root);
    match &cli.cmd {
        Cmd::Spec { bundle, rootless } => spec_cmd(bundle.as_deref(), *rootless),
        Cmd::Create(a) => {
            create(&rt, a, cli.no_pivot, true, false)?;
            Ok(0)
        }
        Cmd::Start { id } => {
            rt.load(id)?.start()?;
            Ok(0)
        }
        Cmd::Run { create: a, detach } => run_cmd(&rt, a, cli.no_pivot, *detach),
        Cmd::State { id } => {
            println!("{}", serde_json::to_string_pretty(&rt.load(id)?.state()?)?);
            Ok(0)
        }
        Cmd::List { format, quiet } => list(&rt, format, *quiet),
        Cmd::Kill { id, signal, all } => {
            rt.load(id)?.kill(parse_signal(signal)?, *all)?;
            Ok(0)
        }
        Cmd::Delete { id, force } => delete(&rt, id, *force),
        Cmd::Exec(a) => exec(&rt, a),
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => ps(&rt, id, format, ps_args),
        Cmd::Pause { id } => {
            rt.load(id)?.pause()?;
            Ok(0)
        }
        Cmd::Resume { id } => {
            rt.load(id)?.resume()?;
            Ok(0)
        }
        Cmd::Update(a) => update(&rt, a),
        Cmd::Events {
            stats,
            interval,
            id,
        } => events(&rt, id, *stats, interval),
        Cmd::Features => {
            println!("{}", serde_json::to_string_pretty(&features())?);
            Ok(0)
        }
    }
}

fn spec_cmd(bundle: Option<&Path>, rootless: bool) -> Result<i32> {
    let dir = bundle.unwrap_or(Path::new("."));
    let path = dir.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let s = serde_json::to_string_pretty(&spec::default_spec(rootless))?;
    std::fs::write(&path, s + "\n").with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}

fn create(
    rt: &Runtime,
    a: &CreateArgs,
    no_pivot: bool,
    detached: bool,
    start: bool,
) -> Result<Container> {
    let bundle = a.bundle.clone();
    if detached && a.console_socket.is_none() {
        let s = spec::load(&bundle)?;
        if s.process().as_ref().and_then(|p| p.terminal()) == Some(true) {
            bail!(
                "cannot allocate tty if berth-runtime will detach without setting console socket"
            );
        }
    }
    let opts = CreateOptions {
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        stdio: None,
        no_pivot,
    };
    Ok(if start {
        rt.run(&a.id, &bundle, &opts)?
    } else {
        rt.create(&a.id, &bundle, &opts)?
    })
}

fn run_cmd(rt: &Runtime, a: &CreateArgs, no_pivot: bool, detach: bool) -> Result<i32> {
    let mut c = create(rt, a, no_pivot, detach, true)?;
    let console = c.take_console();
    if detach {
        return Ok(0);
    }
    let pid = c.record_pid();
    let code = match console {
        Some(master) => crate::tty::copy_until_exit(master, pid)?,
        None => wait_forwarding_signals(pid)?,
    };
    c.delete(true)?;
    Ok(code)
}

/// Waits for our child `pid`, passing on SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/2 to it.
fn wait_forwarding_signals(pid: i32) -> Result<i32> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    set.thread_block()?;
    loop {
        if let Some(code) = try_wait(pid)? {
            return Ok(code);
        }
        let sig = set.wait()?;
        if sig != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        }
    }
}

pub fn try_wait(pid: i32) -> Result<Option<i32>> {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    match waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG))? {
        WaitStatus::Exited(_, c) => Ok(Some(c)),
        WaitStatus::Signaled(_, s, _) => Ok(Some(128 + s as i32)),
        _ => Ok(None),
    }
}

fn list(rt: &Runtime, format: &str, quiet: bool) -> Result<i32> {
    let states = rt.list()?;
    if quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    match format {
        "json" => println!("{}", serde_json::to_string(&states)?),
        "table" => {
            println!(
                "{:<12} {:<8} {:<10} {:<40} {:<31} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for s in &states {
                println!(
                    "{:<12} {:<8} {:<10} {:<40} {:<31} root",
                    s.id,
                    s.pid,
                    s.status,
                    s.bundle.display(),
                    s.created
                );
            }
        }
        other => bail!("invalid format option {other:?}: use table or json"),
    }
    Ok(0)
}

fn delete(rt: &Runtime, id: &str, force: bool) -> Result<i32> {
    match rt.load(id) {
        Ok(c) => c.delete(force)?,
        // runc: deleting a missing container with --force is not an error
        Err(berth_runtime::Error::NotFound(_)) if force => {}
        Err(e) => return Err(e.into()),
    }
    Ok(0)
}

pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if n <= 0 || n > 64 {
            bail!("invalid signal {s:?}");
        }
        return Ok(n);
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    let sig: nix::sys::signal::Signal =
        name.parse().map_err(|_| anyhow!("unknown signal {s:?}"))?;
    Ok(sig as i32)
}

fn exec(rt: &Runtime, a: &ExecArgs) -> Result<i32> {
    let c = rt.load(&a.id)?;
    let mut p: Process = match &a.process {
        Some(path) => berth_runtime::load_process(path)?,
        None => {
            if a.args.is_empty() {
                bail!("exec: no command given (args or --process)");
            }
            let mut p = c.spec().process().clone().unwrap_or_default();
            p.set_args(Some(a.args.clone()));
            p.set_terminal(Some(a.tty));
            p
        }
    };
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(a.env.iter().cloned());
        p.set_env(Some(env));
    }
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u.parse()?, g.parse()?),
            None => (u.parse()?, 0),
        };
        let mut user = p.user().clone();
        user.set_uid(uid);
        user.set_gid(gid);
        p.set_user(user);
    }
    if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.caps.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.caps {
            let n = name.trim_start_matches("CAP_");
            let cap: oci_spec::runtime::Capability = n
                .parse()
                .map_err(|_| anyhow!("unknown capability {name}"))?;
            for set in [
                caps.bounding().clone(),
                caps.effective().clone(),
                caps.permitted().clone(),
            ] {
                let _ = set;
            }
            let add = |s: &Option<HashSet<_>>| {
                let mut s = s.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
        }
        p.set_capabilities(Some(caps));
    }
    let terminal = p.terminal() == Some(true);
    if terminal && a.detach && a.console_socket.is_none() {
        bail!("cannot allocate tty if berth-runtime will detach without setting console socket");
    }
    let opts = ExecOptions {
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        stdio: None,
    };
    let mut h = c.exec(&p, &opts)?;
    if a.detach {
        return Ok(0);
    }
    match h.console.take() {
        Some(master) => crate::tty::copy_until_exit(master, h.pid),
        None => wait_forwarding_signals(h.pid),
    }
}

fn ps(rt: &Runtime, id: &str, format: &str, ps_args: &[String]) -> Result<i32> {
    let c = rt.load(id)?;
    let pids = c.processes()?;
    match format {
        "json" => {
            println!("{}", serde_json::to_string(&pids)?);
            Ok(0)
        }
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                ps_args.to_vec()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .context("run ps")?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or("");
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .ok_or_else(|| anyhow!("ps output has no PID column"))?;
            println!("{header}");
            for l in lines {
                if let Some(p) = l
                    .split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok())
                    && pids.contains(&p)
                {
                    println!("{l}");
                }
            }
            Ok(0)
        }
        other => bail!("invalid format option {other:?}: use table or json"),
    }
}

fn parse_bytes(s: &str) -> Result<i64> {
    if s == "-1" {
        return Ok(-1);
    }
    let s = s.trim().to_ascii_lowercase();
    let (num, mult) = match s.trim_end_matches('b').chars().last() {
        Some('k') => (&s[..s.find('k').unwrap_or(s.len())], 1i64 << 10),
        Some('m') => (&s[..s.find('m').unwrap_or(s.len())], 1 << 20),
        Some('g') => (&s[..s.find('g').unwrap_or(s.len())], 1 << 30),
        _ => (s.trim_end_matches('b'), 1),
    };
    let n: i64 = num.parse().map_err(|_| anyhow!("invalid size {s:?}"))?;
    Ok(n * mult)
}

fn update(rt: &Runtime, a: &UpdateArgs) -> Result<i32> {
    use oci_spec::runtime::LinuxPids;
    let c = rt.load(&a.id)?;
    let mut r: LinuxResources = match &a.resources {
        Some(p) => {
            let mut data = Vec::new();
            if p == Path::new("-") {
                std::io::stdin().read_to_end(&mut data)?;
            } else {
                data = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
            }
            let de = &mut serde_json::Deserializer::from_slice(&data);
            serde_path_to_error::deserialize(de)
                .map_err(|e| anyhow!("resources: field {}: {}", e.path(), e.inner()))?
        }
        None => LinuxResources::default(),
    };
    if a.memory.is_some() || a.memory_reservation.is_some() || a.memory_swap.is_some() {
        let mut m = (*r.memory()).unwrap_or_default();
        if let Some(v) = &a.memory {
            m.set_limit(Some(parse_bytes(v)?));
        }
        if let Some(v) = &a.memory_reservation {
            m.set_reservation(Some(parse_bytes(v)?));
        }
        if let Some(v) = &a.memory_swap {
            m.set_swap(Some(parse_bytes(v)?));
        }
        r.set_memory(Some(m));
    }
    if a.cpu_shares.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
    {
        let mut cpu = r.cpu().clone().unwrap_or_default();
        if a.cpu_shares.is_some() {
            cpu.set_shares(a.cpu_shares);
        }
        if a.cpu_quota.is_some() {
            cpu.set_quota(a.cpu_quota);
        }
        if a.cpu_period.is_some() {
            cpu.set_period(a.cpu_period);
        }
        if a.cpuset_cpus.is_some() {
            cpu.set_cpus(a.cpuset_cpus.clone());
        }
        if a.cpuset_mems.is_some() {
            cpu.set_mems(a.cpuset_mems.clone());
        }
        r.set_cpu(Some(cpu));
    }
    if let Some(l) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(l);
        r.set_pids(Some(p));
    }
    if let Some(w) = a.blkio_weight {
        let mut b = r.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    c.update(&r)?;
    Ok(0)
}

fn events(rt: &Runtime, id: &str, once: bool, interval: &str) -> Result<i32> {
    let c = rt.load(id)?;
    let secs: f64 = interval
        .trim_end_matches('s')
        .parse()
        .map_err(|_| anyhow!("invalid --interval {interval:?} (e.g. 5s)"))?;
    loop {
        let st = c.stats()?;
        let ev = serde_json::json!({"type": "stats", "id": id, "data": st});
        println!("{ev}");
        if once || c.status() == berth_runtime::Status::Stopped {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.1)));
    }
}

fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand", "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave", "strictatime", "suid", "sync", "unbindable"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"],
            "capabilities": all_caps(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false}
        },
        "annotations": {"io.github.berth.runtime": "berth-runtime"}
    })
}

fn all_caps() -> Vec<String> {
    let mut v: Vec<String> = caps::all().into_iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}
