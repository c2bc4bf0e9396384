//! One watch per kind, shared: its cache, when the caches have synced, and which
//! changes of an object start its reconcile. Every controller that reads a kind (its
//! own, or a related one that triggers it) subscribes to that kind's one watch
//! stream; nothing opens a second watch of the same type.
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

use std::collections::HashMap;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, ReflectHandle, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};

use super::kind::Kind;
use crate::telemetry::Readiness;

/// How many changes a subscriber may lag behind its watch before the watch waits.
const SUBSCRIBER_BUFFER: usize = 1024;

/// What the cache keeps of an object: not its managed fields, nor the copy of the
/// last applied manifest that `kubectl apply` leaves, which no controller reads.
fn strip<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// The one watch of a kind: its cache, and a subscription any controller can share.
///
/// The subscription held here is itself a reader of the watch's broadcast: the
/// consumers made from it (`changes`, `controller`) each get their own, and this one
/// must be dropped once they are made. A reader that never reads holds the watch up
/// once it lags [`SUBSCRIBER_BUFFER`] changes behind, and the cache stops changing:
/// at 100 customers with the whole workload, dependents waited for customers that
/// were long Ready.
pub struct Watched<K: Kind> {
    pub store: Store<K>,
    subscription: Option<ReflectHandle<K>>,
}

impl<K: Kind> Watched<K> {
    /// The objects as they change, passing on only those whose `key` changed since
    /// they were last passed on (and every object the first time).
    pub fn changes<T>(
        &self,
        key: impl Fn(&K) -> T + Send + 'static,
    ) -> impl Stream<Item = std::sync::Arc<K>> + Send + 'static
    where
        T: PartialEq + Send + 'static,
    {
        let mut last: HashMap<String, T> = HashMap::new();
        futures::stream::iter(self.subscription.clone())
            .flatten()
            .filter(move |obj| {
                let uid = obj.meta().uid.clone().unwrap_or_default();
                let now = key(obj);
                let changed = last.get(&uid) != Some(&now);
                if changed {
                    last.insert(uid, now);
                }
                futures::future::ready(changed)
            })
    }

    /// The controller of this kind: it reconciles an object when what the reconcile
    /// answers to changed (see [`intent`]).
    pub fn controller(&self) -> Controller<K> {
        Controller::for_shared_stream(self.changes(intent), self.store.clone())
    }
}

/// A hash of what a reconcile answers to besides the platform: everything but the
/// status (see the module's comment).
pub fn intent<K: Resource>(obj: &K) -> Option<u64> {
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

    /// The one watch of `api`: its cache (managed fields and the last-applied
    /// annotation stripped), and the stream that drives it and every subscriber,
    /// which must be polled for as long as the controllers run. `on_event` sees every
    /// watch event once the cache holds it.
    pub fn watch<K: Kind>(
        &self,
        api: Api<K>,
        wc: watcher::Config,
        on_event: impl Fn(&watcher::Event<K>) + Send + Sync + 'static,
    ) -> (Watched<K>, BoxFuture<'static, ()>) {
        let kind = K::kind(&()).into_owned();
        self.lock().insert(kind.clone());
        let (reader, writer) = reflector::store_shared::<K>(SUBSCRIBER_BUFFER);
        let subscription = writer.subscribe();
        if subscription.is_none() {
            tracing::error!(kind = %kind, "the cache is not shared; no controller will be triggered");
        }
        let sync = self.clone();
        let driver = watcher(api, wc)
            .default_backoff()
            .modify(strip)
            .reflect_shared(writer)
            // After `reflect`: the store holds the listing when it is marked.
            .for_each(move |event| {
                match &event {
                    Ok(event) => {
                        if matches!(event, watcher::Event::InitDone) {
                            sync.listed(&kind);
                        }
                        on_event(event);
                    }
                    Err(e) => tracing::warn!(kind = %kind, error = %e, "watch failed; retrying"),
                }
                futures::future::ready(())
            })
            .boxed();
        (
            Watched {
                store: reader,
                subscription,
            },
            driver,
        )
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
