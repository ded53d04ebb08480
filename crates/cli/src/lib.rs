//! The `berth` command line: Docker's commands and flags, a client of the Docker Engine API only.
//! It owns argument parsing, the HTTP client (UNIX socket, TCP, TLS), output formatting
//! (`--format` templates, tables, progress) and interactive terminals. It must not depend on any
//! other Berth crate: the API types it needs are its own (`types`), so it works against `berthd`
//! and a real dockerd alike.

pub mod args;
pub mod client;
pub mod commands;
pub mod render;
pub mod template;
pub mod tty;
pub mod types;

use clap::{CommandFactory, Parser};

use args::{Action, Cli};
use client::{Client, Endpoint, Host, TlsOptions, transport};
use commands::{Ctx, Outcome, StatusError};

/// Runs the CLI with the process arguments and returns the exit code.
pub fn run() -> i32 {
    run_with(std::env::args_os())
}

/// Runs the CLI with the given arguments (the first is the program name).
pub fn run_with<I, T>(argv: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => 125,
            };
            let _ = e.print();
            return code;
        }
    };
    if cli.version && cli.command.is_none() {
        println!("Berth version {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let Some(command) = cli.command else {
        let _ = Cli::command().print_help();
        return 0;
    };
    let action = Action::from(command);
    let config_dir = commands::auth::config_dir(cli.config.as_deref());
    // Commands that need no daemon.
    match &action {
        Action::Completion(c) => {
            clap_complete::generate(
                c.shell,
                &mut Cli::command(),
                "berth",
                &mut std::io::stdout(),
            );
            return 0;
        }
        Action::Logout(a) => return finish(commands::auth::logout(&config_dir, a)),
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return 1;
        }
    };
    let is_run = matches!(action, Action::Run(_) | Action::Create(_));
    let result = runtime.block_on(async {
        let endpoint = endpoint(
            &cli.host,
            cli.tls,
            cli.tlsverify,
            &cli.tlscacert,
            &cli.tlscert,
            &cli.tlskey,
        )?;
        let pinned = std::env::var("DOCKER_API_VERSION")
            .ok()
            .filter(|v| !v.is_empty());
        let client = match (Client::connect(endpoint, pinned).await, &action) {
            (Ok(c), _) => c,
            // `version` prints the client's half even without a daemon, as docker does.
            (Err(e), Action::Version(a)) => {
                commands::system::version(None, a).await?;
                return Err(e.into());
            }
            (Err(e), _) => return Err(e.into()),
        };
        let ctx = Ctx { client, config_dir };
        dispatch(&ctx, action).await
    });
    // Leave the blocking stdin reader behind instead of waiting for it.
    runtime.shutdown_background();
    tty::restore_saved();
    match result {
        Err(e) if is_run && e.downcast_ref::<StatusError>().is_none() => {
            eprintln!("berth: {e}\n\nRun 'berth run --help' for more information");
            125
        }
        r => finish(r),
    }
}

fn finish(r: Outcome) -> i32 {
    match r {
        Ok(code) => code,
        Err(e) => {
            if let Some(f @ render::FormatError::Parse(_)) = e.downcast_ref::<render::FormatError>()
            {
                eprintln!("{f}");
                return 64;
            }
            if let Some(s) = e.downcast_ref::<StatusError>() {
                if !s.message.is_empty() {
                    eprintln!("{}", s.message);
                }
                return s.code;
            }
            eprintln!("{e}");
            1
        }
    }
}

fn endpoint(
    flag: &Option<String>,
    tls: bool,
    verify: bool,
    ca: &Option<std::path::PathBuf>,
    cert: &Option<std::path::PathBuf>,
    key: &Option<std::path::PathBuf>,
) -> anyhow::Result<Endpoint> {
    let spec = transport::select_host(flag.as_deref(), |k| std::env::var(k).ok());
    let host = Host::parse(&spec)?;
    let env_verify = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty());
    let verify = verify || env_verify;
    let tls_opts = if tls || verify {
        let cert_dir = std::env::var_os("DOCKER_CERT_PATH")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| commands::auth::config_dir(None));
        Some(TlsOptions {
            verify,
            ca: ca.clone().or_else(|| Some(cert_dir.join("ca.pem"))),
            cert: cert.clone().or_else(|| Some(cert_dir.join("cert.pem"))),
            key: key.clone().or_else(|| Some(cert_dir.join("key.pem"))),
        })
    } else {
        None
    };
    Ok(Endpoint::new(host, tls_opts.as_ref())?)
}

async fn dispatch(ctx: &Ctx, action: Action) -> Outcome {
    use commands::*;
    match action {
        Action::Run(a) => run::run(ctx, &a).await,
        Action::Create(a) => create::run(ctx, &a.opts).await,
        Action::Start(a) => run::start(ctx, &a).await,
        Action::Stop(a) => container::stop(ctx, &a, "stop").await,
        Action::Restart(a) => container::stop(ctx, &a, "restart").await,
        Action::Kill(a) => container::kill(ctx, &a).await,
        Action::Rm(a) => container::rm(ctx, &a).await,
        Action::Ps(a) => ps::ps(ctx, &a).await,
        Action::Logs(a) => container::logs(ctx, &a).await,
        Action::Exec(a) => exec::exec(ctx, &a).await,
        Action::Attach(a) => run::attach(ctx, &a).await,
        Action::Inspect(a) => container::inspect(ctx, &a).await,
        Action::Top(a) => container::top(ctx, &a).await,
        Action::Stats(a) => ps::stats(ctx, &a).await,
        Action::Wait(a) => container::wait(ctx, &a).await,
        Action::Rename(a) => container::rename(ctx, &a).await,
        Action::Pause(a) => container::simple(ctx, &a.containers, "pause").await,
        Action::Unpause(a) => container::simple(ctx, &a.containers, "unpause").await,
        Action::Update(a) => container::update(ctx, &a).await,
        Action::Port(a) => container::port(ctx, &a).await,
        Action::Cp(a) => cp::cp(ctx, &a).await,
        Action::Diff(a) => container::diff(ctx, &a).await,
        Action::Commit(a) => container::commit(ctx, &a).await,
        Action::Export(a) => container::export(ctx, &a).await,
        Action::ContainerPrune(a) => container::prune(ctx, &a, "containers").await,
        Action::Images(a) => image::images(ctx, &a).await,
        Action::Pull(a) => image::pull(ctx, &a).await,
        Action::Push(a) => image::push(ctx, &a).await,
        Action::Tag(a) => image::tag(ctx, &a).await,
        Action::Rmi(a) => image::rmi(ctx, &a).await,
        Action::Save(a) => image::save(ctx, &a).await,
        Action::Load(a) => image::load(ctx, &a).await,
        Action::Import(a) => image::import(ctx, &a).await,
        Action::History(a) => image::history(ctx, &a).await,
        Action::Build(a) => build::build(ctx, &a).await,
        Action::ImagePrune(a) => container::prune(ctx, &a, "images").await,
        Action::NetworkLs(a) => network::ls(ctx, &a).await,
        Action::NetworkCreate(a) => network::create(ctx, &a).await,
        Action::NetworkRm(a) => network::rm(ctx, &a).await,
        Action::NetworkConnect(a) => network::connect(ctx, &a).await,
        Action::NetworkDisconnect(a) => network::disconnect(ctx, &a).await,
        Action::NetworkPrune(a) => container::prune(ctx, &a, "networks").await,
        Action::VolumeLs(a) => volume::ls(ctx, &a).await,
        Action::VolumeCreate(a) => volume::create(ctx, &a).await,
        Action::VolumeRm(a) => volume::rm(ctx, &a).await,
        Action::VolumePrune(a) => container::prune(ctx, &a, "volumes").await,
        Action::SystemDf(a) => system::df(ctx, &a).await,
        Action::SystemPrune(a) => system::system_prune(ctx, &a).await,
        Action::Info(a) => system::info(ctx, &a).await,
        Action::Version(a) => system::version(Some(ctx), &a).await,
        Action::Events(a) => system::events(ctx, &a).await,
        Action::Login(a) => auth::login(ctx, &a).await,
        Action::Logout(_) | Action::Completion(_) => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
