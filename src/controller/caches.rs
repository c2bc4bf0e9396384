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

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};

use super::kind::Kind;
use crate::locked::Locked;
use crate::telemetry::Readiness;

/// What the cache keeps of an object: not its managed fields, nor the copy of the
/// last applied manifest that `kubectl apply` leaves, which no controller reads.
fn strip<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// What a subscriber of a watch hears: an object as the cache now holds it, or that
/// the object with this uid is gone.
#[derive(Clone)]
enum Heard<K> {
    Applied(Arc<K>),
    Gone(String),
}

/// Passes every change the cache took on to each subscriber, without ever waiting
/// for one.
///
/// kube-runtime's shared reflector waits for its slowest subscriber once that one
/// lags a buffer behind, and a subscriber that looks an object up after it was
/// deleted stops reading for good (its stream answers "not ready" with nothing left
/// to wake it): the cache then stops changing for every controller. At 1,000
/// customers the dependents waited for customer ids the cache never took in. Here a
/// subscriber's backlog is its own: the watch and the cache never wait for it, and
/// the objects it holds are the cache's own `Arc`s (no copies).
struct Fanout<K> {
    subscribers: Locked<Vec<mpsc::UnboundedSender<Heard<K>>>>,
}

impl<K: Kind> Fanout<K> {
    fn new() -> Self {
        Self {
            subscribers: Locked::new(Vec::new()),
        }
    }

    fn subscribe(&self) -> mpsc::UnboundedReceiver<Heard<K>> {
        let (tx, rx) = mpsc::unbounded();
        self.subscribers.lock().push(tx);
        rx
    }

    /// Tells every subscriber what `event` changed in `store` (which already holds
    /// it); a subscriber that went away is forgotten.
    fn publish(&self, event: &watcher::Event<K>, store: &Store<K>) {
        let heard: Vec<Heard<K>> = match event {
            watcher::Event::Apply(obj) => store
                .get(&ObjectRef::from_obj(obj))
                .map(Heard::Applied)
                .into_iter()
                .collect(),
            watcher::Event::Delete(obj) => vec![Heard::Gone(uid(obj))],
            // A new listing replaced the cache: every object is heard again (a
            // subscriber passes on only those that changed for it).
            watcher::Event::InitDone => store.state().into_iter().map(Heard::Applied).collect(),
            watcher::Event::Init | watcher::Event::InitApply(_) => Vec::new(),
        };
        if heard.is_empty() {
            return;
        }
        self.subscribers
            .lock()
            .retain(|tx| heard.iter().all(|h| tx.unbounded_send(h.clone()).is_ok()));
    }
}

fn uid<K: Resource>(obj: &K) -> String {
    obj.meta().uid.clone().unwrap_or_default()
}

/// The one watch of a kind: its cache, and the changes any controller can subscribe
/// to. Subscribe before the watch's driver runs: a subscriber hears the changes from
/// the moment it subscribed.
pub struct Watched<K: Kind> {
    pub store: Store<K>,
    fanout: Arc<Fanout<K>>,
}

impl<K: Kind> Watched<K> {
    /// The objects as they change, passing on only those whose `key` changed since
    /// they were last passed on (and every object the first time).
    ///
    /// What is kept of each object's key is a hash of it, as [`intent`] is a hash: a
    /// subscriber keeps one number per object, not a copy of the key.
    pub fn changes<T>(
        &self,
        key: impl Fn(&K) -> T + Send + 'static,
    ) -> impl Stream<Item = Arc<K>> + Send + 'static
    where
        T: std::hash::Hash,
    {
        self.changes_where(
            move |obj| hash_of(&key(obj)),
            |before, now| before != Some(now),
        )
    }

    /// The objects as they change, passing on those for which `matters(before, now)`
    /// holds, where `before` is their `key` when last heard (`None` the first time)
    /// and `now` is their `key` now.
    pub fn changes_where<T>(
        &self,
        key: impl Fn(&K) -> T + Send + 'static,
        matters: impl Fn(Option<&T>, &T) -> bool + Send + 'static,
    ) -> impl Stream<Item = Arc<K>> + Send + 'static
    where
        T: Send + 'static,
    {
        // By a hash of the uid: a number per object rather than a copy of its uid.
        let mut last: HashMap<u64, T> = HashMap::new();
        self.fanout.subscribe().filter_map(move |heard| {
            let passed = match heard {
                Heard::Applied(obj) => {
                    let now = key(&obj);
                    // Hashed as the uid `Heard::Gone` carries, without a copy of it.
                    let uid = hash_of(obj.meta().uid.as_deref().unwrap_or_default());
                    let passes = matters(last.get(&uid), &now);
                    last.insert(uid, now);
                    passes.then_some(obj)
                }
                Heard::Gone(uid) => {
                    last.remove(&hash_of(&uid));
                    None
                }
            };
            futures::future::ready(passed)
        })
    }

    /// The controller of this kind: it reconciles an object when what the reconcile
    /// answers to changed (see [`intent`]).
    ///
    /// Its requests name the object by namespace and name alone. kube's own trigger
    /// (`for_shared_stream`'s stream) would name it by an `ObjectRef` with its uid and
    /// version and give as the reason a second one with the kind's five API names, and
    /// the controller's queue keeps each request twice until the object's next check:
    /// about a kilobyte per object, 3 MiB of the heap at 1,000 customers (6,000
    /// objects).
    pub fn controller(&self) -> Controller<K> {
        Controller::for_shared_stream(futures::stream::pending(), self.store.clone())
            .reconcile_on(self.changes(intent).map(|obj| super::kind::found_by(&*obj)))
    }
}

/// What a subscriber keeps of a key or a uid (and what [`intent`] is).
fn hash_of<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    use std::hash::Hasher;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// A hash of what a reconcile answers to besides the platform: everything but the
/// status (see the module's comment).
pub fn intent<K: Resource>(obj: &K) -> Option<u64> {
    let meta = obj.meta();
    Some(hash_of(&(
        meta.generation,
        meta.deletion_timestamp.is_some(),
        &meta.finalizers,
        &meta.annotations,
        &meta.labels,
    )))
}

/// The kinds whose first listing has not completed yet; when none is left, the
/// readiness learns that the caches have synced.
#[derive(Clone)]
pub struct CacheSync {
    pending: Arc<Locked<BTreeSet<String>>>,
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
    /// annotation stripped), and the future that drives it and tells every
    /// subscriber, which must be polled for as long as the controllers run.
    /// `on_event` sees every watch event once the cache holds it.
    pub fn watch<K: Kind>(
        &self,
        api: Api<K>,
        wc: watcher::Config,
        on_event: impl Fn(&watcher::Event<K>) + Send + Sync + 'static,
    ) -> (Watched<K>, BoxFuture<'static, ()>) {
        let kind = K::kind(&()).into_owned();
        self.pending.lock().insert(kind.clone());
        let (reader, writer) = reflector::store::<K>();
        let fanout = Arc::new(Fanout::new());
        let sync = self.clone();
        let cache = reader.clone();
        let publisher = fanout.clone();
        let driver = watcher(api, wc)
            .default_backoff()
            .modify(strip)
            .reflect(writer)
            // After `reflect`: the store holds the change when it is marked and told.
            .for_each(move |event| {
                match &event {
                    Ok(event) => {
                        if matches!(event, watcher::Event::InitDone) {
                            sync.listed(&kind);
                        }
                        publisher.publish(event, &cache);
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
                fanout,
            },
            driver,
        )
    }

    fn listed(&self, kind: &str) {
        let mut pending = self.pending.lock();
        if pending.remove(kind) && pending.is_empty() {
            self.readiness.set_caches_synced();
            (self.on_synced)();
            tracing::info!("watch caches synced");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Fanout, Watched, intent};
    use crate::api::{OCCustomer, OCCustomerStatus};
    use futures::StreamExt;
    use kube::runtime::{reflector, watcher};
    use std::sync::Arc;

    fn customer() -> OCCustomer {
        crate::controller::fixtures::customer("contoso", "contoso")
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

    /// A cache with a fan-out, fed the way `CacheSync::watch` feeds them.
    struct Fed {
        watched: Watched<OCCustomer>,
        writer: reflector::store::Writer<OCCustomer>,
    }

    impl Fed {
        fn new() -> Self {
            let (store, writer) = reflector::store::<OCCustomer>();
            Self {
                watched: Watched {
                    store,
                    fanout: Arc::new(Fanout::new()),
                },
                writer,
            }
        }

        fn feed(&mut self, event: watcher::Event<OCCustomer>) {
            self.writer.apply_watcher_event(&event);
            self.watched.fanout.publish(&event, &self.watched.store);
        }
    }

    fn version(name: &str, uid: &str, version: u32) -> OCCustomer {
        let mut c = customer();
        c.metadata.name = Some(name.into());
        c.metadata.uid = Some(uid.into());
        c.metadata.resource_version = Some(version.to_string());
        c
    }

    #[tokio::test]
    async fn a_subscriber_that_never_reads_holds_up_neither_the_cache_nor_the_others() {
        let mut fed = Fed::new();
        let _idle = fed.watched.changes(|c| c.metadata.resource_version.clone());
        let busy = fed.watched.changes(|c| c.metadata.resource_version.clone());
        // Far more changes than kube-runtime's shared reflector buffers (1,024).
        for v in 0..5_000 {
            fed.feed(watcher::Event::Apply(version("contoso", "u1", v)));
        }
        let seen = fed.watched.store.state();
        assert_eq!(seen[0].metadata.resource_version.as_deref(), Some("4999"));
        let heard: Vec<_> = busy.take(5_000).collect().await;
        assert_eq!(heard.len(), 5_000);
    }

    #[tokio::test]
    async fn an_object_deleted_before_it_is_read_is_still_heard_and_the_stream_goes_on() {
        let mut fed = Fed::new();
        let mut heard = fed.watched.changes(|c| c.metadata.resource_version.clone());
        fed.feed(watcher::Event::Apply(version("contoso", "u1", 1)));
        fed.feed(watcher::Event::Delete(version("contoso", "u1", 2)));
        fed.feed(watcher::Event::Apply(version("fabrikam", "u2", 3)));
        // Re-created under the same uid with the same key: heard again (its old key
        // was forgotten with the deletion).
        fed.feed(watcher::Event::Apply(version("contoso", "u1", 1)));
        let names: Vec<_> = (&mut heard)
            .take(3)
            .map(|c| c.metadata.name.clone().unwrap_or_default())
            .collect()
            .await;
        assert_eq!(names, ["contoso", "fabrikam", "contoso"]);
    }

    #[tokio::test]
    async fn only_changes_of_the_key_are_passed_on_and_a_new_listing_is_heard_whole() {
        let mut fed = Fed::new();
        let mut heard = fed.watched.changes(intent);
        fed.feed(watcher::Event::Apply(version("contoso", "u1", 1)));
        // A status write (new resource version, same intent): not passed on.
        fed.feed(watcher::Event::Apply(version("contoso", "u1", 2)));
        fed.feed(watcher::Event::Init);
        fed.feed(watcher::Event::InitApply(version("contoso", "u1", 2)));
        fed.feed(watcher::Event::InitApply(version("fabrikam", "u2", 3)));
        fed.feed(watcher::Event::InitDone);
        let first = heard
            .next()
            .await
            .map(|c| c.metadata.resource_version.clone());
        assert_eq!(first, Some(Some("1".to_owned())));
        let second = heard.next().await.map(|c| c.metadata.name.clone());
        assert_eq!(second, Some(Some("fabrikam".to_owned())));
        drop(fed);
        assert!(heard.next().await.is_none(), "nothing else was passed on");
    }
}
