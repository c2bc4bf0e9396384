//! `oc-simulator`: serves the Live Platform simulator (API, identity endpoints and
//! admin side) until SIGINT or SIGTERM. The sandbox, the chart's sandbox mode and the
//! benchmark run it; it is not part of the operator's binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use liveplatform_sim::{Faults, Seed, Simulator};

#[derive(Debug, Parser)]
#[command(
    name = "oc-simulator",
    version,
    about = "A simulator of the Live Platform REST API for Operator Connect"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080", env = "OC_SIM_LISTEN")]
    listen: SocketAddr,
    /// Seed data (JSON); the built-in default when absent.
    #[arg(long, env = "OC_SIM_SEED")]
    seed: Option<PathBuf>,
    /// Initial fault injection settings (JSON); none when absent.
    #[arg(long, env = "OC_SIM_FAULTS")]
    faults: Option<PathBuf>,
    /// Task duration in milliseconds, overriding the seed.
    #[arg(long)]
    task_delay_ms: Option<u64>,
    /// Accept every well-formed tenant id (load tests).
    #[arg(long)]
    accept_any_tenant: bool,
    /// Write the chosen address to this file once listening (for scripts).
    #[arg(long)]
    address_file: Option<PathBuf>,
    /// Log level or filter directive (RUST_LOG wins when set).
    #[arg(long, default_value = "info", env = "OC_LOG_LEVEL")]
    log_level: String,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("waiting for SIGTERM: {0}")]
    Signal(std::io::Error),
}

fn read_json<T: serde::de::DeserializeOwned>(path: &PathBuf) -> Result<T, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| CliError::Parse {
        path: path.clone(),
        source,
    })
}

async fn serve(args: Args) -> Result<(), CliError> {
    let mut seed: Seed = match &args.seed {
        Some(path) => read_json(path)?,
        None => Seed::default(),
    };
    if let Some(ms) = args.task_delay_ms {
        seed.task_delay_ms = ms;
    }
    seed.accept_any_tenant |= args.accept_any_tenant;
    let faults: Faults = match &args.faults {
        Some(path) => read_json(path)?,
        None => Faults::default(),
    };
    // Listening for SIGTERM first: in a container the simulator is process 1, which
    // the kernel spares from a signal it does not handle.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(CliError::Signal)?;
    let sim = Simulator::start(args.listen, seed, faults)
        .await
        .map_err(|source| CliError::Listen {
            addr: args.listen,
            source,
        })?;
    if let Some(path) = &args.address_file {
        std::fs::write(path, sim.addr().to_string()).map_err(|source| CliError::Write {
            path: path.clone(),
            source,
        })?;
    }
    tracing::info!(
        api = %sim.base_url(),
        identity = %sim.identity_base(),
        admin = %sim.admin_url(),
        "Live Platform simulator listening"
    );
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("simulator stopping");
    sim.stop();
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oc-simulator: {e}");
            ExitCode::FAILURE
        }
    }
}
