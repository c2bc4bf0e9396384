//! `oc-dev`: the developer tools of oc-operator, apart from the binary that ships.
//!
//! - `oc-dev sandbox`: a local control plane, the Live Platform simulator, the
//!   operator and `examples/`, until Ctrl-C (README's first command).
//!
//! The load benchmark is this crate's example `load` (bench/load.rs).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use oc_operator::telemetry::{self, LogFormat};

mod sandbox;

#[derive(Debug, Parser)]
#[command(name = "oc-dev", about = "Developer tools of oc-operator")]
struct Cli {
    /// Log level or filter directive (RUST_LOG wins when set).
    #[arg(long, global = true, default_value = "warn", env = "OC_LOG_LEVEL")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sandbox: a local control plane, the simulator, the operator and
    /// `examples/`, until interrupted.
    Sandbox,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging(LogFormat::Text, &cli.log_level);
    let result = match cli.command {
        Command::Sandbox => {
            sandbox::run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oc-dev: {e}");
            ExitCode::FAILURE
        }
    }
}
