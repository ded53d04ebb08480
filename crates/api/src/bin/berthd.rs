//! `berthd`: the Berth daemon. Parses Docker's daemon flags, opens the engine, serves the API.

use std::path::PathBuf;

use anyhow::{Context, bail};
use berth_engine::{Engine, EngineConfig};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "berthd", about = "Berth daemon: serves the Docker Engine API")]
struct Args {
    /// Persistent state.
    #[arg(long, default_value = "/var/lib/berth")]
    data_root: PathBuf,
    /// Runtime state (monitor sockets, bundles).
    #[arg(long, default_value = "/run/berth")]
    exec_root: PathBuf,
    /// Where to listen: unix:///path.sock (tcp:// needs TLS, not available yet).
    #[arg(
        short = 'H',
        long = "host",
        default_value = "unix:///run/berth/berth.sock"
    )]
    hosts: Vec<String>,
    #[arg(long, default_value = "/run/berth/berthd.pid")]
    pidfile: PathBuf,
    /// Bridge of the default network; `none` for no default network.
    #[arg(short = 'b', long, default_value = "berth0")]
    bridge: String,
    /// Address and prefix of the default bridge (`172.18.0.1/16`).
    #[arg(long)]
    bip: Option<String>,
    /// Remove every network, firewall rule and bridge of this data root, then exit.
    #[arg(long, hide = true)]
    purge_network: bool,
    /// The monitor binary (default: `berth-monitor` beside this executable).
    #[arg(long)]
    monitor_path: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BERTHD_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut sockets = Vec::new();
    for h in &args.hosts {
        if let Some(p) = h.strip_prefix("unix://") {
            sockets.push(PathBuf::from(p));
        } else if h.starts_with("tcp://") {
            bail!(
                "{h}: TCP listeners need TLS (--tlsverify), which this daemon does not serve yet"
            );
        } else {
            bail!("{h}: unsupported host address (expected unix:///path)");
        }
    }
    let monitor_path = match args.monitor_path {
        Some(p) => p,
        None => std::env::current_exe()
            .context("locate berthd")?
            .with_file_name("berth-monitor"),
    };
    let mut config = EngineConfig::new(args.data_root, args.exec_root, monitor_path);
    config.bridge = (args.bridge != "none").then_some(args.bridge);
    config.bip = args.bip;
    if !args.purge_network {
        if let Some(dir) = args.pidfile.parent() {
            std::fs::create_dir_all(dir).context("create pidfile directory")?;
        }
        std::fs::write(&args.pidfile, format!("{}\n", std::process::id()))
            .with_context(|| format!("write {}", args.pidfile.display()))?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.purge_network {
        return rt
            .block_on(berth_engine::network::purge(&config))
            .context("purge network");
    }
    rt.block_on(async move {
        let engine = Engine::open(config).await.context("open engine")?;
        let mut tasks = tokio::task::JoinSet::new();
        for sock in sockets {
            let engine = engine.clone();
            tasks.spawn(async move {
                berth_api::serve_unix(engine, &sock)
                    .await
                    .with_context(|| format!("serve {}", sock.display()))
            });
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tasks.join_next() => { if let Some(r) = r { r??; } }
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_file(&args.pidfile);
    Ok(())
}
