//! The controllers' own watch streams: their caches, when those have synced, and which
//! changes of an object start its reconcile.
//!
//! `/readyz` of the leading replica waits for every controller's first full listing.
//! kube-runtime's `Store::wait_until_ready` cannot tell us: the controller itself
//! waits on that signal, and it wakes only one waiter, so a second one may sleep
//! forever (and could steal the controller's wake-up). Instead each controller is
//! built on its own watch stream, which marks its kind synced when the first listing
//! is complete.
//!
//! An object's status is the operator's own output. A change of the status alone (the
//! operator's last write) does not reconcile the object again: that would double the
//! platform reads of every reconcile, and a platform value that changes on every read
//! would keep an object reconciling forever. Its spec (generation), labels,
//! annotations (pause), finalizers and deletion do; so do requeues, drift checks and
//! changes of related objects.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use futures::TryStreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::store::Writer;
use kube::runtime::utils::PredicateConfig;
use kube::runtime::{Controller, WatchStreamExt, watcher};

use super::kind::Kind;
use crate::telemetry::Readiness;

/// A hash of what a reconcile answers to besides the platform: everything but the
/// status (see the module's comment).
fn intent<K: Resource>(obj: &K) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let meta = obj.meta();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    meta.deletion_timestamp.is_some().hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.labels.hash(&mut hasher);
    Some(hasher.finish())
}

/// The kinds whose first listing has not completed yet; when none is left, the
/// readiness learns that the caches have synced.
#[derive(Clone)]
pub struct CacheSync {
    pending: Arc<Mutex<BTreeSet<String>>>,
    readiness: Readiness,
    on_synced: Arc<dyn Fn() + Send + Sync>,
}

impl CacheSync {
    /// `on_synced` runs once, when every cache holds its first listing.
    pub fn new(readiness: Readiness, on_synced: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            pending: Arc::default(),
            readiness,
            on_synced: Arc::new(on_synced),
        }
    }

    /// A controller for `api`, whose cache counts toward this sync; `on_event` sees
    /// every watch event once the cache holds it.
    pub fn controller<K: Kind>(
        &self,
        api: Api<K>,
        wc: watcher::Config,
        on_event: impl Fn(&watcher::Event<K>) + Send + Sync + 'static,
    ) -> Controller<K> {
        let kind = K::kind(&()).into_owned();
        self.lock().insert(kind.clone());
        let writer = Writer::<K>::default();
        let reader = writer.as_reader();
        let sync = self.clone();
        let stream = watcher(api, wc)
            .reflect(writer)
            // After `reflect`: the store holds the listing when it is marked.
            .inspect_ok(move |event| {
                if matches!(event, watcher::Event::InitDone) {
                    sync.listed(&kind);
                }
                on_event(event);
            })
            .applied_objects()
            .predicate_filter(intent, PredicateConfig::default());
        Controller::for_stream(stream, reader)
    }

    fn listed(&self, kind: &str) {
        let mut pending = self.lock();
        if pending.remove(kind) && pending.is_empty() {
            self.readiness.set_caches_synced();
            (self.on_synced)();
            tracing::info!("watch caches synced");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // A panic while holding this lock leaves a set that is still valid.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::intent;
    use crate::api::{OCCustomer, OCCustomerStatus};

    fn customer() -> OCCustomer {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "operatorconnect.io/v1alpha1",
            "kind": "OCCustomer",
            "metadata": {"name": "contoso", "namespace": "contoso", "generation": 1},
            "spec": {
                "platformRef": {"name": "p"},
                "tenantId": "8d2c5e4f-9a1b-4c3d-8e7f-0a1b2c3d4e5f",
                "companyName": "Contoso", "shortName": "contoso", "fullName": "Contoso Ltd",
                "license": {"type": "OcEssentials"}
            }
        }))
        .expect("a valid customer")
    }

    #[test]
    fn a_status_change_alone_is_not_a_reason_to_reconcile() {
        let before = customer();
        let mut after = before.clone();
        after.status = Some(OCCustomerStatus {
            customer_id: Some("guid".into()),
            ..OCCustomerStatus::default()
        });
        after.metadata.resource_version = Some("2".into());
        assert_eq!(intent(&before), intent(&after));
    }

    #[test]
    fn spec_pause_finalizers_labels_and_deletion_are() {
        let base = customer();
        let changes: [fn(&mut OCCustomer); 5] = [
            |c| c.metadata.generation = Some(2),
            |c| {
                c.metadata.annotations =
                    Some([("operatorconnect.io/paused".to_owned(), "true".to_owned())].into())
            },
            |c| c.metadata.finalizers = Some(vec!["operatorconnect.io/cleanup".into()]),
            |c| c.metadata.labels = Some([("team".to_owned(), "voice".to_owned())].into()),
            |c| {
                c.metadata.deletion_timestamp =
                    Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                        jiff::Timestamp::UNIX_EPOCH,
                    ))
            },
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = base.clone();
            change(&mut changed);
            assert_ne!(intent(&base), intent(&changed), "change {i}");
        }
    }
}
