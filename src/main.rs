//! The `oc-operator` command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use oc_operator::controller::{self, Context, OperatorConfig};
use oc_operator::telemetry::{self, LogFormat};

// Only for measuring allocators side by side (bench/README.md, "Memory").
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "oc-operator",
    version,
    about = "Microsoft Teams Operator Connect customers as Kubernetes resources"
)]
struct Cli {
    /// Log format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "json",
        env = "OC_LOG_FORMAT"
    )]
    log_format: LogFormat,
    /// Log level or filter directive (RUST_LOG wins when set).
    #[arg(long, global = true, default_value = "info", env = "OC_LOG_LEVEL")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the controllers against the cluster of the current kubeconfig (or the
    /// in-cluster service account).
    Run(RunArgs),
    /// Print the CustomResourceDefinitions of every kind as YAML.
    Crds(CrdsArgs),
    /// After the operator is uninstalled (or stopped): remove its finalizer from every
    /// object in scope, so they and their namespaces can be deleted without it. Nothing
    /// on the Live Platform is touched (deletionPolicy Orphan).
    ReleaseFinalizers(ReleaseArgs),
    /// Read a Live Platform set up by hand and write the manifests that declare it:
    /// a folder per customer (customer, number blocks with contiguous runs as ranges,
    /// SIP connections with carrier password Secret stubs to fill in, dial plans,
    /// optionally end users), a kustomization.yaml in each, and the OCPlatform. Every
    /// object carries the adoption opt-in and matches the platform, so applying them
    /// makes no platform write. Only reads; the same platform gives the same bytes.
    Import(ImportArgs),
    /// Say what the operator would do for a folder of manifests on a live platform,
    /// without a cluster and without one write, like a Terraform plan. Every object is
    /// taken as managementPolicy: ObserveOnly and reconciled once by the operator's own
    /// controllers (the same reads, the same planners) against an in-memory copy of
    /// the manifests; each object's first platform call is printed instead of made.
    /// Calls that depend on an earlier one's answer (a new customer's id) show once
    /// that call is made. Manifests carry no status, so what the platform already holds
    /// is taken as theirs (as with operatorconnect.io/adopt). Exits 0 when the platform
    /// matches, 2 when calls are planned.
    Plan(PlanArgs),
}

/// How `import` and `plan` connect to a platform: the service provider's Entra
/// application.
#[derive(Debug, clap::Args)]
struct CredentialArgs {
    /// The application (client) id of the platform's credentials.
    #[arg(long, env = "OC_CLIENT_ID")]
    client_id: String,
    /// A file holding the client secret (else OC_CLIENT_SECRET).
    #[arg(long, conflicts_with = "client_secret")]
    client_secret_file: Option<PathBuf>,
    /// The client secret (prefer --client-secret-file; never echoed).
    #[arg(long, env = "OC_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
}

impl CredentialArgs {
    /// The client secret from its file, or as given.
    fn secret(&self) -> Result<liveplatform::secret::Secret, CliError> {
        let secret = match (&self.client_secret_file, &self.client_secret) {
            (Some(path), _) => std::fs::read_to_string(path)
                .map_err(|source| CliError::Read {
                    path: path.clone(),
                    source,
                })?
                .trim()
                .to_owned(),
            (None, Some(secret)) => secret.clone(),
            (None, None) => return Err(CliError::NoClientSecret),
        };
        Ok(liveplatform::secret::Secret::new(secret))
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PlanOutput {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
struct PlanArgs {
    /// A manifest file, or a folder of them (read recursively: every .yaml and .yml);
    /// repeat for several. It must hold the OCPlatform.
    #[arg(long = "filename", short = 'f', required = true)]
    filenames: Vec<PathBuf>,
    #[command(flatten)]
    credentials: CredentialArgs,
    /// The namespace of manifests that name none.
    #[arg(long, short = 'n', default_value = "default")]
    namespace: String,
    /// `text` for people, `json` (a list of objects with their planned actions and
    /// conditions) for a pipeline that checks a pull request.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    output: PlanOutput,
    /// Allow plain http to a platform that is not on loopback (tests only).
    #[arg(long, hide = true)]
    allow_insecure_http: bool,
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The OCPlatform manifest to connect with (baseUrl, identityBaseUrl,
    /// serviceProviderTenantId, rateLimit); written to OUT/platform.yaml with the
    /// imported namespaces allowed.
    #[arg(long)]
    platform: PathBuf,
    #[command(flatten)]
    credentials: CredentialArgs,
    /// The folder to write into.
    #[arg(long)]
    out: PathBuf,
    /// Only this Microsoft tenant (repeat for several; default: every customer).
    #[arg(long = "tenant")]
    tenants: Vec<String>,
    /// Put every customer in this one namespace (default: a namespace per customer,
    /// named after its short name).
    #[arg(long)]
    namespace: Option<String>,
    /// Prefix of the per-customer namespaces.
    #[arg(long, default_value = "")]
    namespace_prefix: String,
    /// Import the end users with voice settings too.
    #[arg(long)]
    include_end_users: bool,
    /// The dial plan read on every site.
    #[arg(long, default_value = "CustDialPlan")]
    dial_plan_id: String,
    /// deletionPolicy of every object: Orphan (default: deleting a manifest leaves the
    /// platform as it is) or Delete.
    #[arg(long, default_value = "Orphan", value_parser = ["Orphan", "Delete"])]
    deletion_policy: String,
    /// Annotate every object and namespace operatorconnect.io/protected: "true".
    #[arg(long)]
    protect: bool,
    /// Write the OCPlatform with managementPolicy: ObserveOnly: applied, every object
    /// on it reads and compares and writes nothing (status.plannedActions says what it
    /// would do) until the platform is switched to Manage.
    #[arg(long)]
    observe_only: bool,
    /// Allow plain http to a platform that is not on loopback (tests only).
    #[arg(long, hide = true)]
    allow_insecure_http: bool,
    /// No progress bar on stderr.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
struct ReleaseArgs {
    /// Only objects of this namespace (OCPlatforms are then left alone).
    #[arg(long, short = 'n', conflicts_with = "all_namespaces")]
    namespace: Option<String>,
    /// Every namespace, and the OCPlatforms.
    #[arg(long, short = 'A')]
    all_namespaces: bool,
    /// Only objects already being deleted (stuck on the finalizer).
    #[arg(long)]
    deleting_only: bool,
    /// Print what would be released; change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The operator's own namespace: platform credential Secrets are read only here.
    #[arg(
        long,
        env = "OC_OPERATOR_NAMESPACE",
        default_value = "oc-operator-system"
    )]
    operator_namespace: String,
    /// Watch only this namespace for namespaced kinds (default: all namespaces).
    #[arg(long, env = "OC_WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// Manage only the OCPlatforms matching this label selector (and the objects on
    /// them), so that several operators can share a cluster.
    #[arg(long, env = "OC_PLATFORM_SELECTOR")]
    platform_selector: Option<String>,
    /// Address of the admin endpoints (`/healthz`, `/readyz`, `/metrics`).
    #[arg(long, env = "OC_PROBE_LISTEN", default_value = "0.0.0.0:8081")]
    probe_listen: SocketAddr,
    /// Elect a leader on a Lease in the operator namespace; only the leader reconciles
    /// (needed with more than one replica).
    #[arg(long, env = "OC_LEADER_ELECT")]
    leader_elect: bool,
    /// Name of the leader Lease.
    #[arg(long, env = "OC_LEASE_NAME", default_value = "oc-operator-leader")]
    lease_name: String,
    /// Seconds a Lease holds without renewal.
    #[arg(long, env = "OC_LEASE_SECONDS", default_value_t = 15)]
    lease_seconds: u64,
    /// Seconds between polls of a running platform task.
    #[arg(long, env = "OC_TASK_POLL_SECONDS", default_value_t = 2)]
    task_poll_seconds: u64,
    /// The ClusterRole that grants `get` on Secrets in tenant namespaces (the chart's
    /// `<release>-secret-reader`): named in the condition of an object whose Secret
    /// the operator may not read.
    #[arg(long, env = "OC_SECRET_READER_CLUSTER_ROLE")]
    secret_reader_cluster_role: Option<String>,
    /// The operator's ServiceAccount (the chart sets it from the pod spec): named in
    /// the same conditions.
    #[arg(long, env = "OC_SERVICE_ACCOUNT")]
    service_account: Option<String>,
    /// The federated token file that OCPlatforms with `workloadIdentity` present (the
    /// pod's projected ServiceAccount token; Azure Workload Identity names it in
    /// AZURE_FEDERATED_TOKEN_FILE). Re-read at every token request.
    #[arg(long, env = "AZURE_FEDERATED_TOKEN_FILE", default_value = liveplatform::contract::DEFAULT_FEDERATED_TOKEN_FILE)]
    federated_token_file: PathBuf,
    /// Seconds between looks at a missing dependency (customer, platform).
    #[arg(long, env = "OC_WAIT_SECONDS", default_value_t = 10)]
    wait_seconds: u64,
    /// The hosts (comma-separated; `*.domain` for every host under a domain) that an
    /// OCPlatform's `baseUrl` and `identityBaseUrl` may name for the operator to send
    /// them its credentials. A platform elsewhere gets them only if its credentials
    /// Secret is labelled `operatorconnect.io/platform=<its name>`.
    #[arg(long, env = "OC_ALLOWED_ENDPOINT_HOSTS", default_value = oc_operator::controller::endpoint_hosts::ENTRA_ID_HOST)]
    allowed_endpoint_hosts: String,
}

#[derive(Debug, clap::Args)]
struct CrdsArgs {
    /// Write one file a CRD into this folder (`<plural>.<group>.yaml`) instead of
    /// printing them.
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("connecting to Kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Apiserver(#[from] oc_operator::apiserver_client::Error),
    #[error(transparent)]
    Lease(#[from] oc_operator::lease::Error),
    #[error(transparent)]
    Release(#[from] oc_operator::release::Error),
    #[error("say which objects: --namespace <ns> or --all-namespaces")]
    NoScope,
    #[error(transparent)]
    Import(#[from] oc_operator::import::Error),
    #[error(transparent)]
    Plan(#[from] oc_operator::offline::Error),
    #[error("give the client secret: --client-secret-file <file> or OC_CLIENT_SECRET")]
    NoClientSecret,
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rendering the plan as JSON: {0}")]
    Json(serde_json::Error),
    #[error("rendering the CRDs: {0}")]
    Crds(#[from] serde_yaml_ng::Error),
    #[error("writing to standard output: {0}")]
    Stdout(std::io::Error),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn crds(args: CrdsArgs) -> Result<(), CliError> {
    let Some(dir) = args.out_dir else {
        let yaml = oc_operator::api::crds_yaml()?;
        return write_stdout(yaml.as_bytes());
    };
    std::fs::create_dir_all(&dir).map_err(|source| CliError::Write {
        path: dir.clone(),
        source,
    })?;
    for (file, yaml) in oc_operator::api::crd_files()? {
        let path = dir.join(file);
        std::fs::write(&path, yaml).map_err(|source| CliError::Write { path, source })?;
    }
    Ok(())
}

/// Writes to standard output. A reader that closes the pipe early (`| head`,
/// `| grep -q`) has all it wanted: that ends the output, it is not a failure.
fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Stdout(e)),
        _ => Ok(()),
    }
}

async fn run(args: RunArgs) -> Result<(), CliError> {
    let client = oc_operator::apiserver_client::connect().await?;
    let mut config = OperatorConfig::new(args.operator_namespace);
    config.watch_namespace = args.namespace;
    config.platform_selector = args.platform_selector;
    config.task_poll = std::time::Duration::from_secs(args.task_poll_seconds.max(1));
    config.wait_requeue = std::time::Duration::from_secs(args.wait_seconds.max(1));
    config.federated_token_file = args.federated_token_file;
    config.endpoint_hosts =
        controller::endpoint_hosts::EndpointHosts::parse(&args.allowed_endpoint_hosts);
    config.secret_access = controller::SecretAccess {
        service_account: args.service_account,
        reader_cluster_role: args.secret_reader_cluster_role,
    };
    tracing::info!(operator_namespace = %config.operator_namespace, watch_namespace = ?config.watch_namespace, "oc-operator starting");
    let ctx = Context::new(client.clone(), config);
    let readiness = ctx.readiness.clone();
    let listener = tokio::net::TcpListener::bind(args.probe_listen)
        .await
        .map_err(|source| CliError::Listen {
            addr: args.probe_listen,
            source,
        })?;
    let admin = tokio::spawn(telemetry::serve_admin(
        listener,
        readiness.clone(),
        ctx.metrics.clone(),
    ));
    // Ready once every kind can be listed with the operator's own identity (CRDs
    // installed, RBAC granted) and, while this replica leads, once the controllers'
    // caches have synced; a standby is ready too.
    client.apiserver_version().await?;
    tokio::spawn(controller::await_api_access(
        ctx.clone(),
        std::time::Duration::from_secs(5),
    ));
    let result = if args.leader_elect {
        let lease = oc_operator::lease::LeaseConfig {
            namespace: ctx.config.operator_namespace.clone(),
            name: args.lease_name,
            identity: std::env::var("POD_NAME")
                .unwrap_or_else(|_| format!("oc-operator-{}", std::process::id())),
            duration: std::time::Duration::from_secs(args.lease_seconds.max(2)),
            grace: std::time::Duration::from_secs((args.lease_seconds / 3).max(1)),
        };
        oc_operator::lease::lead(client, lease, shutdown_signal(), move |stop| {
            controller::run(ctx, async move {
                let _ = stop.await;
            })
        })
        .await
        .map_err(CliError::from)
    } else {
        controller::run(ctx, shutdown_signal()).await;
        Ok(())
    };
    readiness.set_api_access(false);
    admin.abort();
    result
}

async fn plan(args: PlanArgs) -> Result<ExitCode, CliError> {
    let options = oc_operator::offline::Options {
        paths: args.filenames,
        client_secret: args.credentials.secret()?,
        client_id: args.credentials.client_id,
        namespace: args.namespace,
        allow_insecure_http: args.allow_insecure_http,
    };
    let plans = oc_operator::offline::plan(&options).await?;
    let text = match args.output {
        PlanOutput::Text => oc_operator::offline::render(&plans),
        PlanOutput::Json => serde_json::to_string_pretty(&plans).map_err(CliError::Json)? + "\n",
    };
    write_stdout(text.as_bytes())?;
    Ok(if oc_operator::offline::has_changes(&plans) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

async fn import(args: ImportArgs) -> Result<(), CliError> {
    let options = oc_operator::import::Options {
        platform_file: args.platform,
        client_secret: args.credentials.secret()?,
        client_id: args.credentials.client_id,
        out: args.out.clone(),
        selection: oc_operator::import::snapshot::Selection {
            tenants: args.tenants,
            dial_plan_id: args.dial_plan_id,
            include_end_users: args.include_end_users,
        },
        namespace: args.namespace,
        namespace_prefix: args.namespace_prefix,
        deletion_policy: args.deletion_policy,
        protect: args.protect,
        observe_only: args.observe_only,
        allow_insecure_http: args.allow_insecure_http,
        progress: !args.quiet,
    };
    let summary = oc_operator::import::run(&options).await?;
    println!("imported {summary} into {}", args.out.display());
    Ok(())
}

async fn release_finalizers(args: ReleaseArgs) -> Result<(), CliError> {
    if args.namespace.is_none() && !args.all_namespaces {
        return Err(CliError::NoScope);
    }
    let client = oc_operator::apiserver_client::connect().await?;
    let scope = oc_operator::release::Scope {
        namespace: args.namespace,
        deleting_only: args.deleting_only,
        dry_run: args.dry_run,
    };
    let released = oc_operator::release::release_finalizers(&client, &scope).await?;
    let verb = if scope.dry_run {
        "would release"
    } else {
        "released"
    };
    let mut out = String::new();
    for r in &released {
        let state = if r.deleting {
            " (being deleted: it goes now)"
        } else {
            ""
        };
        out.push_str(&format!("{verb} {} {}{state}\n", r.kind, r.object));
    }
    out.push_str(&format!(
        "{} object(s); the Live Platform was not touched\n",
        released.len()
    ));
    write_stdout(out.as_bytes())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging(cli.log_format, &cli.log_level);
    let result = match cli.command {
        Command::Crds(args) => crds(args),
        Command::Run(args) => run(args).await,
        Command::ReleaseFinalizers(args) => release_finalizers(args).await,
        Command::Import(args) => import(args).await,
        Command::Plan(args) => match plan(args).await {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "oc-operator failed");
            eprintln!("oc-operator: {e}");
            ExitCode::FAILURE
        }
    }
}
