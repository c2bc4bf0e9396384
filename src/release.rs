//! `oc-operator release-finalizers`: after the operator is uninstalled (or stopped),
//! lets its objects go with `deletionPolicy: Orphan` semantics. It removes the
//! operator's finalizer from every object of the six kinds in scope, so deleting them
//! (or their namespace) no longer waits for an operator that is not there, and nothing
//! on the Live Platform is touched: the customers, numbers, sites, dial plans and
//! users stay as they are, and a later `oc-operator` can adopt them again.

use kube::api::{Api, ListParams};
use kube::core::NamespaceResourceScope;

use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCPlatform, OCSipConnection};
use crate::controller::finalizer;
use crate::controller::kind::Kind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("listing {kind}: {source}")]
    List {
        kind: String,
        #[source]
        source: kube::Error,
    },
    /// The finalizer's removal failed (it says which object and why).
    #[error(transparent)]
    Release(#[from] crate::controller::Error),
}

/// Which objects to release.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only this namespace (namespaced kinds; OCPlatforms are left alone then).
    pub namespace: Option<String>,
    /// Only objects already being deleted (waiting on the finalizer).
    pub deleting_only: bool,
    /// Say what would be released, and change nothing.
    pub dry_run: bool,
}

/// One object let go (or that would be, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    pub kind: String,
    /// `namespace/name`, or `name` for OCPlatforms.
    pub object: String,
    pub deleting: bool,
}

/// Releases every object in `scope`: dependents first (end users, dial plans, SIP
/// connections, number blocks), then customers, then platforms.
pub async fn release_finalizers(
    client: &kube::Client,
    scope: &Scope,
) -> Result<Vec<Released>, Error> {
    let mut released = Vec::new();
    released.extend(namespaced::<OCEndUser>(client, scope).await?);
    released.extend(namespaced::<OCDialPlan>(client, scope).await?);
    released.extend(namespaced::<OCSipConnection>(client, scope).await?);
    released.extend(namespaced::<OCNumberBlock>(client, scope).await?);
    released.extend(namespaced::<OCCustomer>(client, scope).await?);
    if scope.namespace.is_none() {
        let api: Api<OCPlatform> = Api::all(client.clone());
        released.extend(release_all(&api, scope, |_| api.clone()).await?);
    }
    Ok(released)
}

async fn namespaced<K>(client: &kube::Client, scope: &Scope) -> Result<Vec<Released>, Error>
where
    K: Kind + kube::Resource<Scope = NamespaceResourceScope>,
{
    let api: Api<K> = match &scope.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    release_all(&api, scope, |ns| match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    })
    .await
}

/// Releases the objects `api` lists; `api_of` gives the Api that patches an object of
/// a namespace (or of none).
async fn release_all<K: Kind>(
    api: &Api<K>,
    scope: &Scope,
    api_of: impl Fn(Option<&str>) -> Api<K>,
) -> Result<Vec<Released>, Error> {
    let kind = K::kind(&()).into_owned();
    let objects = api
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::List {
            kind: kind.clone(),
            source,
        })?;
    let mut released = Vec::new();
    for obj in objects {
        let meta = obj.meta();
        let deleting = finalizer::is_deleting(&obj);
        if !finalizer::has(&obj) || (scope.deleting_only && !deleting) {
            continue;
        }
        let name = meta.name.clone().unwrap_or_default();
        let object = match &meta.namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.clone(),
        };
        if !scope.dry_run {
            // The operator's own removal, guarded by resourceVersion: an object changed
            // meanwhile is reported, not overwritten; run the command again.
            finalizer::remove(&api_of(meta.namespace.as_deref()), &obj).await?;
        }
        released.push(Released {
            kind: kind.clone(),
            object,
            deleting,
        });
    }
    Ok(released)
}
