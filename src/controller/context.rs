//! What every reconcile shares: the Kubernetes client, the operator's settings, the
//! Live Platform clients, caches, backoff and events.

use std::sync::Arc;
use std::time::Duration;

use super::backoff::ObjectBackoff;
use super::events::{Events, Told};
use super::kind::Kind;
use super::numbers::NumbersCache;
use super::ownership::Ownership;
use super::platform_clients::PlatformRegistry;
use super::stores::Stores;
pub use super::written::Written;
use crate::locked::Locked;

/// Objects that were checked before a restart and rest until their drift check is
/// due: key -> (when it is due, the intent it had). A reconcile before then with the
/// same intent (a related object seen for the first time, say) makes no call either.
#[derive(Default)]
pub struct Resting(Locked<std::collections::HashMap<String, (std::time::Instant, Option<u64>)>>);

impl Resting {
    /// Object `key` rests for `wait` with `intent`.
    pub fn rest(&self, key: &str, wait: std::time::Duration, intent: Option<u64>) {
        self.0
            .lock()
            .insert(key.to_owned(), (std::time::Instant::now() + wait, intent));
    }

    /// Forgets object `key` (it is gone).
    pub fn forget(&self, key: &str) {
        self.0.lock().remove(key);
    }

    /// How many objects rest.
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How much longer object `key` rests, if it still does with `intent`; an object
    /// whose intent changed or whose time came is woken for good.
    pub fn remaining(&self, key: &str, intent: Option<u64>) -> Option<std::time::Duration> {
        let mut map = self.0.lock();
        let (due, rested) = *map.get(key)?;
        let now = std::time::Instant::now();
        if rested == intent && now < due {
            return Some(due - now);
        }
        map.remove(key);
        None
    }
}

/// Settings of a running operator.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// Where the operator runs; platform credential Secrets are read only here.
    pub operator_namespace: String,
    /// Watch only this namespace for namespaced kinds (all when `None`).
    pub watch_namespace: Option<String>,
    /// Manage only the OCPlatforms matching this label selector (all when `None`),
    /// so that several operators can share a cluster.
    pub platform_selector: Option<String>,
    /// How often a running task is polled.
    pub task_poll: Duration,
    /// How often an object waiting for another (its customer, its platform) looks again.
    pub wait_requeue: Duration,
    /// First and longest per-object retry delay after an error.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a tenant's numbers listing is reused by the blocks of that customer.
    pub numbers_cache_ttl: Duration,
    /// How long a write whose answer was lost, and that the platform cannot show while
    /// it runs (a licence upgrade), is given to show its effect before it is looked up.
    pub lost_answer_grace: Duration,
    /// Accepted on every platform client: plain http to non-loopback (tests only).
    pub allow_insecure_http: bool,
    /// The hosts an OCPlatform's credentials may be sent to without a Secret labelled
    /// for it (see [`super::endpoint_hosts`]).
    pub endpoint_hosts: super::endpoint_hosts::EndpointHosts,
    /// The federated token (the pod's projected ServiceAccount token) that platforms
    /// with `workloadIdentity` present to the identity endpoint.
    pub federated_token_file: std::path::PathBuf,
    /// Who the operator is and which ClusterRole grants it carrier password Secrets,
    /// so that a Secret it may not read gets a condition naming the missing binding.
    pub secret_access: SecretAccess,
}

/// The operator's identity and its Secret-reading ClusterRole, as the chart sets them.
#[derive(Debug, Clone, Default)]
pub struct SecretAccess {
    /// The operator's ServiceAccount name (in `operator_namespace`), when known.
    pub service_account: Option<String>,
    /// The ClusterRole that grants `get` on Secrets, bound per tenant namespace.
    pub reader_cluster_role: Option<String>,
}

impl OperatorConfig {
    pub fn new(operator_namespace: impl Into<String>) -> Self {
        Self {
            operator_namespace: operator_namespace.into(),
            watch_namespace: None,
            platform_selector: None,
            task_poll: Duration::from_secs(2),
            wait_requeue: Duration::from_secs(10),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            numbers_cache_ttl: Duration::from_secs(2),
            lost_answer_grace: Duration::from_secs(120),
            allow_insecure_http: false,
            endpoint_hosts: Default::default(),
            federated_token_file: liveplatform::contract::DEFAULT_FEDERATED_TOKEN_FILE.into(),
            secret_access: SecretAccess::default(),
        }
    }

    /// How often something that should wake an object by itself (a watched change)
    /// is checked anyway, as a safety net: six waits.
    pub fn recheck(&self) -> Duration {
        self.wait_requeue * 6
    }
}

/// Shared state of all controllers, in parts: the cluster as the watches show it
/// (`stores`, `ownership`), what is held of each Live Platform (`platform`), and what
/// this process remembers of each object between its reconciles (`memory`).
pub struct Context {
    pub client: kube::Client,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// `/readyz`: set once every kind can be listed with the operator's identity.
    pub readiness: crate::telemetry::Readiness,
    pub config: OperatorConfig,
    events: Events,
    /// The watch caches of every kind.
    pub stores: Stores,
    /// Who owns which platform object (see `ownership`).
    pub ownership: Ownership,
    /// What is held of each Live Platform.
    pub platform: PlatformState,
    /// What this process remembers of each object.
    pub memory: ObjectMemory,
}

/// What the operator holds of each Live Platform it calls.
pub struct PlatformState {
    /// One client per OCPlatform (its token, its budget).
    pub clients: PlatformRegistry,
    /// Turns of routine reconciles on each platform (see `admission`).
    pub admission: super::admission::Admission,
    /// How long tasks take, by platform and action (when to look at one again).
    pub task_timings: super::task_timing::TaskTimings,
    /// Leads and customers seen a moment ago (see `snapshots`).
    pub snapshots: super::snapshots::TenantSnapshots,
    /// Tenants' numbers listings, kept current by the operator's writes (see
    /// `numbers`).
    pub numbers: NumbersCache,
}

/// What this process remembers of each object between its reconciles, by key.
pub struct ObjectMemory {
    /// Failures in a row, for the next retry's delay.
    pub backoff: ObjectBackoff,
    /// Whether the watch cache holds the operator's last status write of each object.
    pub written: Written,
    /// Objects resting after a restart until their drift check is due.
    pub resting: Resting,
}

impl ObjectMemory {
    /// Forgets everything remembered of object `key`: it is gone.
    pub fn forget(&self, key: &str) {
        self.backoff.succeeded(key);
        self.written.forget(key);
        self.resting.forget(key);
    }

    /// How many objects each structure remembers: (backoff, written, resting).
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.backoff.len(), self.written.len(), self.resting.len())
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub fn new(client: kube::Client, config: OperatorConfig) -> Arc<Self> {
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let waiting = metrics.clone();
        Arc::new(Self {
            platform: PlatformState {
                clients: PlatformRegistry::default(),
                admission: super::admission::Admission::new(move |platform, n| {
                    waiting.reconciles_waiting(platform, n)
                }),
                task_timings: Default::default(),
                snapshots: Default::default(),
                numbers: NumbersCache::new(config.numbers_cache_ttl),
            },
            memory: ObjectMemory {
                backoff: ObjectBackoff::new(config.backoff_base, config.backoff_max),
                written: Written::default(),
                resting: Resting::default(),
            },
            metrics,
            readiness: crate::telemetry::Readiness::default(),
            events: Events::new(
                client.clone(),
                "oc-operator",
                std::env::var("POD_NAME").ok(),
            ),
            stores: Stores::default(),
            ownership: Ownership::default(),
            client,
            config,
        })
    }

    /// Publishes a Kubernetes Event on `obj`. Failures are logged, never fatal.
    pub async fn event<K: Kind>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        action: &str,
        note: impl Into<String>,
    ) {
        self.event_on(obj.object_ref(&()), warning, reason, action, note)
            .await
    }

    /// Publishes a Kubernetes Event on the object `regarding` names. Failures are
    /// logged, never fatal.
    pub async fn event_on(
        &self,
        regarding: k8s_openapi::api::core::v1::ObjectReference,
        warning: bool,
        reason: &str,
        action: &str,
        note: impl Into<String>,
    ) {
        let told = Told {
            warning,
            reason,
            action,
            note: note.into(),
        };
        let object = format!(
            "{}/{}",
            regarding.namespace.as_deref().unwrap_or_default(),
            regarding.name.as_deref().unwrap_or_default()
        );
        if let Err(e) = self.events.publish(regarding, told).await {
            tracing::warn!(object = %object, error = %e, "could not publish an event");
        }
    }
}
