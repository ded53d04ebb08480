//! `berth-runtime`: runc's command line over the berth-runtime library, so that containerd's
//! runc shim (and through it Kubernetes) can use Berth in place of runc.

mod cli;
mod commands;
mod log;
mod tty;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let log = log::Log::new(cli.log.clone(), cli.log_format.clone());
    match commands::run(&cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = format!("{e:#}");
            log.error(&msg);
            eprintln!("berth-runtime: {msg}");
            std::process::exit(1);
        }
    }
}
