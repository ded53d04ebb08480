//! `berthd`: the Berth daemon. Parses Docker's daemon flags, opens the engine, serves the API.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use berth_api::listen::{Bound, Host, TlsFlags};
use berth_api::tls::TlsFiles;
use berth_engine::{Engine, EngineConfig};
use clap::Parser;
use tokio_rustls::rustls::ServerConfig;

#[derive(Parser, Debug)]
#[command(name = "berthd", about = "Berth daemon: serves the Docker Engine API")]
struct Args {
    /// Persistent state.
    #[arg(long, default_value = "/var/lib/berth")]
    data_root: PathBuf,
    /// Runtime state (monitor sockets, bundles).
    #[arg(long, default_value = "/run/berth")]
    exec_root: PathBuf,
    /// Where to listen: unix:///path.sock or tcp://host:port (repeatable).
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
    /// Path to the init binary mounted at /dev/init for `--init` (default: docker-init or
    /// tini-static from PATH).
    #[arg(long, value_name = "PATH")]
    init_path: Option<PathBuf>,
    /// Path to seccomp profile. Use "unconfined" to disable the default seccomp profile
    #[arg(long, value_name = "PATH", default_value = "builtin")]
    seccomp_profile: String,
    /// Use TLS; implied by --tlsverify. `--tls=false` allows plain TCP.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tls: Option<bool>,
    /// Use TLS and require client certificates signed by --tlscacert.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tlsverify: Option<bool>,
    /// Trust certs signed only by this CA.
    #[arg(long, value_name = "PATH")]
    tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file.
    #[arg(long, value_name = "PATH")]
    tlscert: Option<PathBuf>,
    /// Path to TLS key file.
    #[arg(long, value_name = "PATH")]
    tlskey: Option<PathBuf>,
}

/// The `-H` addresses, checked against the TLS flags, and the TLS configuration if any.
struct Listeners {
    /// Each host, and whether it is open to anyone who reaches it (dockerd warns about those).
    hosts: Vec<(Host, bool)>,
    tls: Option<Arc<ServerConfig>>,
}

impl Listeners {
    /// Everything is checked before anything is bound or written: a bad address, plain TCP
    /// without `--tls=false`, a missing or unreadable certificate all stop the start here.
    fn from_args(args: &Args) -> anyhow::Result<Listeners> {
        let flags = TlsFlags {
            tls: args.tls,
            tlsverify: args.tlsverify,
        };
        let mut hosts = Vec::new();
        for h in &args.hosts {
            let host = h.parse::<Host>()?;
            let open = flags.check(&host)?;
            hosts.push((host, open));
        }
        let tls = if flags.enabled() {
            Some(berth_api::tls::server_config(&TlsFiles {
                verify: flags.verify(),
                ca: args.tlscacert.clone(),
                cert: args.tlscert.clone(),
                key: args.tlskey.clone(),
            })?)
        } else {
            None
        };
        Ok(Listeners { hosts, tls })
    }

    /// Binds every host; warns about the open ones and then pauses a second, as dockerd.
    async fn bind(&self) -> anyhow::Result<Vec<Bound>> {
        let mut bound = Vec::new();
        for (host, open) in &self.hosts {
            if *open {
                tracing::warn!(
                    %host,
                    "Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network."
                );
                tracing::warn!(
                    %host,
                    "Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!"
                );
            }
            bound.push(berth_api::listen::bind(host, self.tls.as_ref()).await?);
        }
        if self.hosts.iter().any(|(_, open)| *open) {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        Ok(bound)
    }
}

/// dockerd's `docker info` notices for each bound TCP address reachable without TLS, or with
/// TLS but without client verification.
fn info_warnings(bound: &[Bound], verify: bool) -> Vec<String> {
    const REST: &str = ".\n         Access to the remote API is equivalent to root access on the host. Refer\n         to the 'Docker daemon attack surface' section in the documentation for\n         more information: https://docs.docker.com/go/attack-surface/\nIn future versions this will be a hard failure preventing the daemon from starting! Learn more at: https://docs.docker.com/go/api-security/";
    bound
        .iter()
        .filter_map(|b| {
            let address = b.address();
            let addr = address.strip_prefix("tcp://")?;
            match b {
                Bound::Tcp(_) => Some(format!(
                    "[DEPRECATION NOTICE]: API is accessible on http://{addr} without encryption{REST}"
                )),
                Bound::Tls(_) if !verify => Some(format!(
                    "[DEPRECATION NOTICE]: API is accessible on https://{addr} without TLS client verification{REST}"
                )),
                _ => None,
            }
        })
        .collect()
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
    let listeners = Listeners::from_args(&args)?;
    let verify = TlsFlags {
        tls: args.tls,
        tlsverify: args.tlsverify,
    }
    .verify();
    if let Some(p) = &args.init_path {
        let meta = std::fs::metadata(p).with_context(|| format!("--init-path {}", p.display()))?;
        if !meta.is_file() {
            bail!("--init-path {}: not a regular file", p.display());
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
    config.init_path = args.init_path;
    config.seccomp =
        berth_engine::container::seccomp::DaemonSeccomp::from_flag(&args.seccomp_profile)?;
    if !args.purge_network {
        if let Some(dir) = args.pidfile.parent() {
            std::fs::create_dir_all(dir).context("create pidfile directory")?;
        }
        std::fs::write(&args.pidfile, format!("{}\n", std::process::id()))
            .with_context(|| format!("write {}", args.pidfile.display()))?;
    }
    berth_api::memory::limit_arenas();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.purge_network {
        return rt
            .block_on(berth_engine::network::purge(&config))
            .context("purge network");
    }
    let served = rt.block_on(async move {
        // Listeners first, as dockerd: a port in use fails the start before the engine opens.
        let bound = listeners.bind().await?;
        let mut config = config;
        config.info_warnings = info_warnings(&bound, verify);
        let engine = Engine::open(config).await.context("open engine")?;
        // Every address is logged before any is served, so whoever sees the daemon answer
        // finds all of them in the log.
        for b in &bound {
            tracing::info!("API listen on {}", b.address());
        }
        // The UNIX sockets are removed on the way out, as Go's listeners do for dockerd.
        let sockets: Vec<PathBuf> = bound
            .iter()
            .filter_map(|b| match b {
                Bound::Unix(_, path) => Some(path.clone()),
                _ => None,
            })
            .collect();
        tokio::spawn(berth_api::memory::trim_when_idle());
        let mut tasks = tokio::task::JoinSet::new();
        for b in bound {
            let engine = engine.clone();
            let addr = b.address();
            tasks.spawn(async move {
                berth_api::serve_bound(engine, b)
                    .await
                    .with_context(|| format!("serve {addr}"))
            });
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let ended = tokio::select! {
            r = tasks.join_next() => r.map(|r| r.map_err(anyhow::Error::from).and_then(|r| r)),
            _ = term.recv() => None,
            _ = tokio::signal::ctrl_c() => None,
        };
        for path in &sockets {
            let _ = std::fs::remove_file(path);
        }
        ended.unwrap_or(Ok(()))
    });
    let _ = std::fs::remove_file(&args.pidfile);
    served
}
