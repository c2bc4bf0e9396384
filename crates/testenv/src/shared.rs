//! One control plane per test process, started on first use with the project's CRDs
//! installed, and stopped (folder removed) when the process exits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use super::{ControlPlane, Error};

/// The control plane shared by a test process.
#[derive(Debug)]
pub struct Shared {
    kubeconfig: PathBuf,
    bin: PathBuf,
    dir: PathBuf,
}

static PLANE: OnceLock<Mutex<Option<ControlPlane>>> = OnceLock::new();
static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();

extern "C" fn stop_at_exit() {
    if let Some(plane) = PLANE.get()
        && let Some(mut plane) = plane.lock().unwrap_or_else(|p| p.into_inner()).take()
    {
        plane.stop();
    }
}

/// The shared control plane, started (and the CRDs of `crds/` installed) on first
/// call. An error is returned to every caller, so each test says why it cannot run.
pub fn shared() -> Result<&'static Shared, String> {
    SHARED
        .get_or_init(|| start().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

fn start() -> Result<Shared, Error> {
    let bin = super::binaries()?;
    let plane = ControlPlane::start(&bin)?;
    let shared = Shared {
        kubeconfig: plane.kubeconfig().to_owned(),
        bin,
        dir: plane.dir().to_owned(),
    };
    let _ = PLANE.set(Mutex::new(Some(plane)));
    // SAFETY: registering a plain extern "C" function with no captured state.
    unsafe {
        libc::atexit(stop_at_exit);
    }
    shared.install_crds()?;
    Ok(shared)
}

impl Shared {
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The folder with the components' logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of one of the pinned binaries (`kubeconform`, `helm`, ...).
    pub fn binary(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// A `kubectl` bound to the control plane as admin.
    pub fn kubectl(&self) -> Command {
        super::tool(&self.bin, "kubectl", &self.kubeconfig)
    }

    /// A `helm` bound to the control plane as admin.
    pub fn helm(&self) -> Command {
        super::tool(&self.bin, "helm", &self.kubeconfig)
    }

    /// A client that acts as `user` (for example `system:serviceaccount:ns:name`)
    /// through impersonation: what that identity's RBAC allows, and nothing else.
    pub async fn client_as(&self, user: &str) -> Result<kube::Client, Error> {
        super::client_from(&self.kubeconfig, Some(user)).await
    }

    /// The admin client configuration, for a client with layers of a test's own.
    pub async fn config(&self) -> Result<kube::Config, Error> {
        super::config_from(&self.kubeconfig).await
    }

    /// A new admin client; make one per test (a client belongs to one runtime).
    pub async fn client(&self) -> Result<kube::Client, Error> {
        super::client_from(&self.kubeconfig, None).await
    }

    fn install_crds(&self) -> Result<(), Error> {
        super::install_crds(|| self.kubectl())
    }
}
