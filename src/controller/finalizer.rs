//! The operator's finalizer: added before anything is created on the platform, removed
//! only when the platform side is undone (or orphaned).

use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::error::{Error, Result};
use super::kind::Kind;

pub const FINALIZER: &str = "operatorconnect.io/cleanup";

pub fn has<K: Kind>(obj: &K) -> bool {
    obj.meta()
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

pub fn is_deleting<K: Kind>(obj: &K) -> bool {
    obj.meta().deletion_timestamp.is_some()
}

/// Writes the finalizer list; returns the object's new resourceVersion (`None` when
/// the object is gone). The patch carries the object's `resourceVersion`, so a
/// concurrent change is refused (409) rather than overwritten.
async fn write<K: Kind>(
    api: &Api<K>,
    obj: &K,
    finalizers: Vec<String>,
    what: &str,
) -> Result<Option<String>> {
    let name = obj.meta().name.clone().unwrap_or_default();
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": obj.meta().resource_version}});
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(written) => Ok(written.meta().resource_version.clone()),
        Err(e) if super::error::is_not_found(&e) => Ok(None),
        Err(e) => Err(Error::kube(format!("{what} of {} {name}", K::kind(&())))(e)),
    }
}

/// The finalizer was put on: the object's resourceVersion after it (`None` when the
/// object was gone).
pub struct PutOn(pub Option<String>);

/// Adds the finalizer if missing; `Some` when it did. The caller then stops: the
/// finalizer's own watch event reconciles the object again, so the platform is not
/// asked twice (once now, once for that event).
pub async fn add<K: Kind>(api: &Api<K>, obj: &K) -> Result<Option<PutOn>> {
    if has(obj) || is_deleting(obj) {
        return Ok(None);
    }
    let mut list = obj.meta().finalizers.clone().unwrap_or_default();
    list.push(FINALIZER.to_owned());
    let version = write(api, obj, list, "adding the finalizer").await?;
    Ok(Some(PutOn(version)))
}

/// Removes the finalizer; the object then goes.
pub async fn remove<K: Kind>(api: &Api<K>, obj: &K) -> Result<()> {
    if !has(obj) {
        return Ok(());
    }
    let list: Vec<String> = obj
        .meta()
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    write(api, obj, list, "removing the finalizer").await?;
    Ok(())
}
