//! runc's command-line surface (flags and names as runc spells them).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "berth-runtime",
    version,
    about = "Berth's OCI runtime (runc-compatible command line)"
)]
pub struct Cli {
    /// root directory for storage of container state
    #[arg(long, global = true, default_value = berth_runtime::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// log file for errors (containerd's shim passes <bundle>/log.json)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// use systemd for cgroups (not supported)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// enable debug output
    #[arg(long, global = true)]
    pub debug: bool,
    /// accepted for runc compatibility
    #[arg(long = "no-pivot", global = true, hide = true)]
    pub no_pivot: bool,
    /// accepted for runc compatibility
    #[arg(long = "no-new-keyring", global = true, hide = true)]
    pub no_new_keyring: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// path to the root of the bundle directory
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// create a new specification file (config.json)
    Spec {
        #[arg(long, short = 'b')]
        bundle: Option<PathBuf>,
        #[arg(long)]
        rootless: bool,
    },
    /// create a container
    Create(CreateArgs),
    /// start a created container
    Start { id: String },
    /// create and run a container
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// detach from the container's process
        #[arg(long, short = 'd')]
        detach: bool,
    },
    /// output the state of a container
    State { id: String },
    /// list containers
    List {
        #[arg(long, short = 'f', default_value = "table")]
        format: String,
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// send a signal to a container's init (or all its processes)
    Kill {
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
        #[arg(long, short = 'a')]
        all: bool,
    },
    /// delete a container
    Delete {
        id: String,
        #[arg(long, short = 'f')]
        force: bool,
    },
    /// run a new process inside a container
    Exec(ExecArgs),
    /// list the processes of a container
    Ps {
        #[arg(long, short = 'f', default_value = "table")]
        format: String,
        id: String,
        /// arguments for ps(1)
        #[arg(trailing_var_arg = true)]
        ps_args: Vec<String>,
    },
    /// freeze a container's processes
    Pause { id: String },
    /// thaw a paused container
    Resume { id: String },
    /// change a container's resource limits
    Update(UpdateArgs),
    /// print container events (resource stats)
    Events {
        #[arg(long)]
        stats: bool,
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// print the runtime's supported features (OCI features JSON)
    Features,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// path to a process.json
    #[arg(long, short = 'p')]
    pub process: Option<PathBuf>,
    #[arg(long, short = 't')]
    pub tty: bool,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long, short = 'd')]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// UID[:GID]
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    #[arg(long = "additional-gids", short = 'g')]
    pub additional_gids: Vec<u32>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long = "cap", short = 'c')]
    pub caps: Vec<String>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// a LinuxResources JSON file, or - for stdin
    #[arg(long, short = 'r')]
    pub resources: Option<PathBuf>,
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    pub id: String,
}
