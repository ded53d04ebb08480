//! The command line as Docker spells it: global flags before the command, short forms (`ps`,
//! `rmi`) and long forms (`container ls`, `image rm`) mapped onto one `Action`.

pub mod container;
pub mod image;
pub mod objects;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use container::*;
pub use image::*;
pub use objects::*;

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    about = "A self-sufficient runtime for containers (Docker's command line, served by berthd)",
    disable_version_flag = true,
    subcommand_required = false,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    pub host: Option<String>,
    /// Use TLS; implied by --tlsverify
    #[arg(long)]
    pub tls: bool,
    /// Use TLS and verify the remote
    #[arg(long)]
    pub tlsverify: bool,
    /// Trust certs signed only by this CA
    #[arg(long)]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file
    #[arg(long)]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file
    #[arg(long)]
    pub tlskey: Option<PathBuf>,
    /// Location of client config files
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Enable debug mode
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// Set the logging level
    #[arg(short = 'l', long = "log-level")]
    pub log_level: Option<String>,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// List containers
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Return low-level information on Docker objects
    Inspect(InspectArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(ContainersArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Pause all processes within one or more containers
    Pause(ContainersArgs),
    /// Unpause all processes within one or more containers
    Unpause(ContainersArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(ContainerArg),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// List images
    Images(ImagesArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Build an image from a Dockerfile
    Build(BuildArgs),
    /// Authenticate to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Display system-wide information
    Info(FormatArgs),
    /// Show the Docker version information
    Version(FormatArgs),
    /// Get real time events from the server
    Events(EventsArgs),
    /// Generate shell completions (bash, zsh, fish)
    Completion(CompletionArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage Docker
    #[command(subcommand)]
    System(SystemCommand),
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    Run(RunArgs),
    Create(CreateArgs),
    Start(StartArgs),
    Stop(StopArgs),
    Restart(StopArgs),
    Kill(KillArgs),
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    #[command(visible_aliases = ["ps", "list"])]
    Ls(PsArgs),
    Logs(LogsArgs),
    Exec(ExecArgs),
    Attach(AttachArgs),
    Inspect(ImageInspectArgs),
    Top(TopArgs),
    Stats(StatsArgs),
    Wait(ContainersArgs),
    Rename(RenameArgs),
    Pause(ContainersArgs),
    Unpause(ContainersArgs),
    Update(UpdateArgs),
    Port(PortArgs),
    Cp(CpArgs),
    Diff(ContainerArg),
    Commit(CommitArgs),
    Export(ExportArgs),
    Prune(PruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    Pull(PullArgs),
    Push(PushArgs),
    Tag(TagArgs),
    #[command(visible_aliases = ["rmi", "remove"])]
    Rm(RmiArgs),
    Save(SaveArgs),
    Load(LoadArgs),
    Import(ImportArgs),
    History(HistoryArgs),
    Build(BuildArgs),
    Inspect(ImageInspectArgs),
    Prune(PruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    Create(NetworkCreateArgs),
    #[command(visible_alias = "remove")]
    Rm(NamesArgs),
    Inspect(FormatNamesArgs),
    Connect(NetworkConnectArgs),
    Disconnect(NetworkDisconnectArgs),
    Prune(PruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    Create(VolumeCreateArgs),
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    Inspect(FormatNamesArgs),
    Prune(PruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    Df(DfArgs),
    Prune(PruneArgs),
    Info(FormatArgs),
    Events(EventsArgs),
}

/// What to do, once the spelling (short or long form) is settled.
#[derive(Debug)]
pub enum Action {
    Run(RunArgs),
    Create(CreateArgs),
    Start(StartArgs),
    Stop(StopArgs),
    Restart(StopArgs),
    Kill(KillArgs),
    Rm(RmArgs),
    Ps(PsArgs),
    Logs(LogsArgs),
    Exec(ExecArgs),
    Attach(AttachArgs),
    Inspect(InspectArgs),
    Top(TopArgs),
    Stats(StatsArgs),
    Wait(ContainersArgs),
    Rename(RenameArgs),
    Pause(ContainersArgs),
    Unpause(ContainersArgs),
    Update(UpdateArgs),
    Port(PortArgs),
    Cp(CpArgs),
    Diff(ContainerArg),
    Commit(CommitArgs),
    Export(ExportArgs),
    ContainerPrune(PruneArgs),
    Images(ImagesArgs),
    Pull(PullArgs),
    Push(PushArgs),
    Tag(TagArgs),
    Rmi(RmiArgs),
    Save(SaveArgs),
    Load(LoadArgs),
    Import(ImportArgs),
    History(HistoryArgs),
    Build(BuildArgs),
    ImagePrune(PruneArgs),
    NetworkLs(ListArgs),
    NetworkCreate(NetworkCreateArgs),
    NetworkRm(NamesArgs),
    NetworkConnect(NetworkConnectArgs),
    NetworkDisconnect(NetworkDisconnectArgs),
    NetworkPrune(PruneArgs),
    VolumeLs(ListArgs),
    VolumeCreate(VolumeCreateArgs),
    VolumeRm(VolumeRmArgs),
    VolumePrune(PruneArgs),
    SystemDf(DfArgs),
    SystemPrune(PruneArgs),
    Info(FormatArgs),
    Version(FormatArgs),
    Events(EventsArgs),
    Login(LoginArgs),
    Logout(LogoutArgs),
    Completion(CompletionArgs),
}

fn typed_inspect(kind: &str, a: ImageInspectArgs) -> Action {
    Action::Inspect(InspectArgs {
        format: a.format,
        size: false,
        kind: Some(kind.into()),
        names: a.images,
    })
}

fn typed_inspect_names(kind: &str, a: FormatNamesArgs) -> Action {
    Action::Inspect(InspectArgs {
        format: a.format,
        size: false,
        kind: Some(kind.into()),
        names: a.names,
    })
}

impl From<Command> for Action {
    fn from(c: Command) -> Action {
        use Command as C;
        match c {
            C::Run(a) => Action::Run(a),
            C::Create(a) => Action::Create(a),
            C::Start(a) => Action::Start(a),
            C::Stop(a) => Action::Stop(a),
            C::Restart(a) => Action::Restart(a),
            C::Kill(a) => Action::Kill(a),
            C::Rm(a) => Action::Rm(a),
            C::Ps(a) => Action::Ps(a),
            C::Logs(a) => Action::Logs(a),
            C::Exec(a) => Action::Exec(a),
            C::Attach(a) => Action::Attach(a),
            C::Inspect(a) => Action::Inspect(a),
            C::Top(a) => Action::Top(a),
            C::Stats(a) => Action::Stats(a),
            C::Wait(a) => Action::Wait(a),
            C::Rename(a) => Action::Rename(a),
            C::Pause(a) => Action::Pause(a),
            C::Unpause(a) => Action::Unpause(a),
            C::Update(a) => Action::Update(a),
            C::Port(a) => Action::Port(a),
            C::Cp(a) => Action::Cp(a),
            C::Diff(a) => Action::Diff(a),
            C::Commit(a) => Action::Commit(a),
            C::Export(a) => Action::Export(a),
            C::Images(a) => Action::Images(a),
            C::Pull(a) => Action::Pull(a),
            C::Push(a) => Action::Push(a),
            C::Tag(a) => Action::Tag(a),
            C::Rmi(a) => Action::Rmi(a),
            C::Save(a) => Action::Save(a),
            C::Load(a) => Action::Load(a),
            C::Import(a) => Action::Import(a),
            C::History(a) => Action::History(a),
            C::Build(a) => Action::Build(a),
            C::Login(a) => Action::Login(a),
            C::Logout(a) => Action::Logout(a),
            C::Info(a) => Action::Info(a),
            C::Version(a) => Action::Version(a),
            C::Events(a) => Action::Events(a),
            C::Completion(a) => Action::Completion(a),
            C::Container(c) => c.into(),
            C::Image(c) => c.into(),
            C::Network(c) => match c {
                NetworkCommand::Ls(a) => Action::NetworkLs(a),
                NetworkCommand::Create(a) => Action::NetworkCreate(a),
                NetworkCommand::Rm(a) => Action::NetworkRm(a),
                NetworkCommand::Inspect(a) => typed_inspect_names("network", a),
                NetworkCommand::Connect(a) => Action::NetworkConnect(a),
                NetworkCommand::Disconnect(a) => Action::NetworkDisconnect(a),
                NetworkCommand::Prune(a) => Action::NetworkPrune(a),
            },
            C::Volume(c) => match c {
                VolumeCommand::Ls(a) => Action::VolumeLs(a),
                VolumeCommand::Create(a) => Action::VolumeCreate(a),
                VolumeCommand::Rm(a) => Action::VolumeRm(a),
                VolumeCommand::Inspect(a) => typed_inspect_names("volume", a),
                VolumeCommand::Prune(a) => Action::VolumePrune(a),
            },
            C::System(c) => match c {
                SystemCommand::Df(a) => Action::SystemDf(a),
                SystemCommand::Prune(a) => Action::SystemPrune(a),
                SystemCommand::Info(a) => Action::Info(a),
                SystemCommand::Events(a) => Action::Events(a),
            },
        }
    }
}

impl From<ContainerCommand> for Action {
    fn from(c: ContainerCommand) -> Action {
        use ContainerCommand as C;
        match c {
            C::Run(a) => Action::Run(a),
            C::Create(a) => Action::Create(a),
            C::Start(a) => Action::Start(a),
            C::Stop(a) => Action::Stop(a),
            C::Restart(a) => Action::Restart(a),
            C::Kill(a) => Action::Kill(a),
            C::Rm(a) => Action::Rm(a),
            C::Ls(a) => Action::Ps(a),
            C::Logs(a) => Action::Logs(a),
            C::Exec(a) => Action::Exec(a),
            C::Attach(a) => Action::Attach(a),
            C::Inspect(a) => typed_inspect("container", a),
            C::Top(a) => Action::Top(a),
            C::Stats(a) => Action::Stats(a),
            C::Wait(a) => Action::Wait(a),
            C::Rename(a) => Action::Rename(a),
            C::Pause(a) => Action::Pause(a),
            C::Unpause(a) => Action::Unpause(a),
            C::Update(a) => Action::Update(a),
            C::Port(a) => Action::Port(a),
            C::Cp(a) => Action::Cp(a),
            C::Diff(a) => Action::Diff(a),
            C::Commit(a) => Action::Commit(a),
            C::Export(a) => Action::Export(a),
            C::Prune(a) => Action::ContainerPrune(a),
        }
    }
}

impl From<ImageCommand> for Action {
    fn from(c: ImageCommand) -> Action {
        use ImageCommand as C;
        match c {
            C::Ls(a) => Action::Images(a),
            C::Pull(a) => Action::Pull(a),
            C::Push(a) => Action::Push(a),
            C::Tag(a) => Action::Tag(a),
            C::Rm(a) => Action::Rmi(a),
            C::Save(a) => Action::Save(a),
            C::Load(a) => Action::Load(a),
            C::Import(a) => Action::Import(a),
            C::History(a) => Action::History(a),
            C::Build(a) => Action::Build(a),
            C::Inspect(a) => typed_inspect("image", a),
            C::Prune(a) => Action::ImagePrune(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("berth").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn action(args: &[&str]) -> Action {
        parse(args).command.expect("a command").into()
    }

    #[test]
    fn run_takes_combined_flags_and_trailing_command() {
        let Action::Run(r) = action(&[
            "run",
            "-it",
            "--rm",
            "-e",
            "A=1",
            "--env=B=2",
            "-p",
            "80:80",
            "-p",
            "443:443",
            "-h",
            "box",
            "busybox",
            "ls",
            "-l",
            "--color",
        ]) else {
            panic!()
        };
        assert!(r.opts.interactive && r.opts.tty && r.opts.rm);
        assert_eq!(r.opts.env, ["A=1", "B=2"]);
        assert_eq!(r.opts.publish, ["80:80", "443:443"]);
        assert_eq!(r.opts.hostname.as_deref(), Some("box"));
        assert_eq!(r.opts.image(), "busybox");
        assert_eq!(r.opts.command(), ["ls", "-l", "--color"]);
    }

    #[test]
    fn flags_after_the_image_belong_to_the_command() {
        let Action::Run(r) = action(&["run", "-d", "busybox", "-d", "--rm"]) else {
            panic!()
        };
        assert!(r.detach && !r.opts.rm);
        assert_eq!(r.opts.command(), ["-d", "--rm"]);
        let Action::Exec(e) = action(&["exec", "-it", "web", "sh", "-c", "echo hi"]) else {
            panic!()
        };
        assert!(e.interactive && e.tty);
        assert_eq!(e.container_and_command, ["web", "sh", "-c", "echo hi"]);
    }

    #[test]
    fn long_forms_map_to_the_same_action() {
        assert!(matches!(action(&["container", "ls", "-aq"]), Action::Ps(p) if p.all && p.quiet));
        assert!(matches!(action(&["container", "ps"]), Action::Ps(_)));
        assert!(matches!(action(&["image", "rm", "x"]), Action::Rmi(_)));
        assert!(matches!(action(&["image", "ls"]), Action::Images(_)));
        assert!(matches!(action(&["system", "info"]), Action::Info(_)));
        assert!(
            matches!(action(&["network", "inspect", "n"]), Action::Inspect(i) if i.kind.as_deref() == Some("network"))
        );
        assert!(matches!(action(&["volume", "rm", "-f", "v"]), Action::VolumeRm(v) if v.force));
    }

    #[test]
    fn global_host_and_tls_flags_come_first() {
        let cli = parse(&["-H", "unix:///tmp/x.sock", "--tlsverify", "ps"]);
        assert_eq!(cli.host.as_deref(), Some("unix:///tmp/x.sock"));
        assert!(cli.tlsverify);
        assert!(Cli::try_parse_from(["berth", "ps", "-H", "x"]).is_err());
    }

    #[test]
    fn docker_flag_spellings() {
        let Action::Ps(p) = action(&[
            "ps",
            "--filter",
            "status=exited",
            "-f",
            "name=x",
            "-n=3",
            "--format={{.ID}}",
        ]) else {
            panic!()
        };
        assert_eq!(p.filter, ["status=exited", "name=x"]);
        assert_eq!(p.last, 3);
        assert_eq!(p.format.as_deref(), Some("{{.ID}}"));
        let Action::Run(r) = action(&[
            "run",
            "--sig-proxy=false",
            "--memory-swap",
            "-1",
            "-m",
            "64m",
            "bb",
        ]) else {
            panic!()
        };
        assert!(!r.sig_proxy);
        assert_eq!(r.opts.memory_swap.as_deref(), Some("-1"));
        let Action::Kill(k) = action(&["kill", "-s", "TERM", "a", "b"]) else {
            panic!()
        };
        assert_eq!(k.signal.as_deref(), Some("TERM"));
        assert_eq!(k.containers, ["a", "b"]);
        let Action::Logs(l) = action(&["logs", "-ft", "--tail", "5", "c"]) else {
            panic!()
        };
        assert!(l.follow && l.timestamps && l.tail == "5");
    }

    #[test]
    fn bad_usage_is_an_error() {
        assert!(Cli::try_parse_from(["berth", "ps", "--bogus"]).is_err());
        assert!(Cli::try_parse_from(["berth", "run"]).is_err());
        assert!(Cli::try_parse_from(["berth", "exec", "onlycontainer"]).is_err());
        assert!(Cli::try_parse_from(["berth", "frobnicate"]).is_err());
    }
}
