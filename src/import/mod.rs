//! `oc-operator import`: reads a Live Platform that was set up by hand (or by
//! scripts) and writes the manifests that declare it, so that a provider moves into
//! Git without one write. Every object carries the adoption opt-in
//! (`operatorconnect.io/adopt`), and matches the platform as it is: applied, each is
//! taken over as it is and the operator writes nothing. Reads only, within the
//! platform's budget; the same platform always gives the same bytes.

pub mod ranges;
pub mod render;
pub mod snapshot;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::api::OCPlatform;
use crate::controller::platforms;
use liveplatform::secret::Secret;
use liveplatform::{Credentials, LivePlatformClient};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an OCPlatform manifest: {source}")]
    Manifest {
        path: PathBuf,
        #[source]
        source: serde_yaml_ng::Error,
    },
    #[error("the OCPlatform of {0} has no metadata.name")]
    Unnamed(PathBuf),
    #[error("connecting to the platform: {0}")]
    Connect(#[from] crate::controller::Error),
    #[error("reading the platform: {0}")]
    Platform(#[from] liveplatform::Error),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What to import and how to lay it out.
#[derive(Debug, Clone)]
pub struct Options {
    /// The OCPlatform manifest to connect with (endpoints, budget) and to write.
    pub platform_file: PathBuf,
    pub client_id: String,
    pub client_secret: Secret,
    pub out: PathBuf,
    pub selection: snapshot::Selection,
    pub namespace: Option<String>,
    pub namespace_prefix: String,
    pub deletion_policy: String,
    pub protect: bool,
    /// Write the OCPlatform observing only (see `Layout::observe_only`).
    pub observe_only: bool,
    pub allow_insecure_http: bool,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub customers: usize,
    pub number_blocks: usize,
    pub numbers: usize,
    pub sip_connections: usize,
    pub dial_plans: usize,
    pub end_users: usize,
    pub files: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} customers, {} number blocks ({} numbers), {} SIP connections, {} dial plans, {} end users in {} files",
            self.customers,
            self.number_blocks,
            self.numbers,
            self.sip_connections,
            self.dial_plans,
            self.end_users,
            self.files
        )
    }
}

pub async fn run(options: &Options) -> Result<Summary, Error> {
    let path = &options.platform_file;
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    let platform: OCPlatform =
        serde_yaml_ng::from_str(&text).map_err(|source| Error::Manifest {
            path: path.clone(),
            source,
        })?;
    let name = platform
        .metadata
        .name
        .clone()
        .ok_or_else(|| Error::Unnamed(path.clone()))?;
    let credentials =
        Credentials::with_secret(options.client_id.clone(), options.client_secret.clone());
    let config =
        platforms::client_config(&platform.spec, credentials, options.allow_insecure_http)?;
    let client = LivePlatformClient::new(config)?;
    let customers = snapshot::read(&client, &options.selection, |done, total, tenant| {
        if options.progress {
            draw_progress(done, total, tenant);
        }
    })
    .await?;
    if options.progress {
        eprintln!();
    }
    let mut platform_spec = serde_json::to_value(&platform.spec).unwrap_or_default();
    if let Some(spec) = platform_spec.as_object_mut() {
        spec.remove("allowedNamespaces");
    }
    let layout = render::Layout {
        platform: name,
        platform_spec,
        namespace: options.namespace.clone(),
        namespace_prefix: options.namespace_prefix.clone(),
        deletion_policy: options.deletion_policy.clone(),
        protect: options.protect,
        observe_only: options.observe_only,
        dial_plan_id: options.selection.dial_plan_id.clone(),
    };
    let files = render::render(&customers, &layout);
    for (file, contents) in &files {
        write(&options.out.join(file), contents)?;
    }
    let count = |kind: &str| {
        files
            .values()
            .map(|t| t.matches(&format!("\nkind: {kind}\n")).count())
            .sum::<usize>()
    };
    Ok(Summary {
        customers: customers.len(),
        number_blocks: count("OCNumberBlock"),
        numbers: customers.iter().map(|c| c.numbers.len()).sum(),
        sip_connections: count("OCSipConnection"),
        dial_plans: count("OCDialPlan"),
        end_users: count("OCEndUser"),
        files: files.len(),
    })
}

fn write(path: &Path, contents: &str) -> Result<(), Error> {
    let fail = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, contents).map_err(fail)
}

/// `[#########           ] 45/100 customers (tenant ...)`, redrawn in place.
fn draw_progress(done: usize, total: usize, tenant: &str) {
    const WIDTH: usize = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let bar = format!("{}{}", "#".repeat(filled), " ".repeat(WIDTH - filled));
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r[{bar}] {done}/{total} customers (tenant {tenant})");
    let _ = err.flush();
}
