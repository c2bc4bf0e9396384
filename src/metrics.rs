//! The operator's Prometheus metrics, served as text on the admin port. Every family
//! carries the `operatorconnect_` prefix; `action` is always the API reference's
//! action in snake case (`upload_numbers`), in call and task families alike.
//! docs/operating.md lists each with its labels, and a test compares that list with
//! what a live operator serves.
//!
//! - `operatorconnect_build_info{version}`
//! - `operatorconnect_reconciles_total{kind,result}`, `operatorconnect_reconcile_duration_seconds{kind}`,
//!   `operatorconnect_objects_read_afresh_total{kind}`
//! - `operatorconnect_platform_calls_total{platform,action,status}`,
//!   `operatorconnect_platform_call_duration_seconds{action}`
//! - `operatorconnect_platform_retries_total{action}`, `operatorconnect_platform_rate_limit_waits_total{action}`
//! - `operatorconnect_platform_budget_requests_per_second{platform}`, `operatorconnect_platform_budget_burst{platform}`,
//!   `operatorconnect_platform_calls_waiting{platform}`, `operatorconnect_reconciles_waiting_for_a_turn{platform}`
//! - `operatorconnect_tasks_started_total{action}`, `operatorconnect_task_outcomes_total{action,outcome}`,
//!   `operatorconnect_task_duration_seconds{action}` (on the platform, buckets up to 4.5 h)
//! - `operatorconnect_objects{kind,ready}`, `operatorconnect_objects_with_write_in_flight`,
//!   `operatorconnect_objects_scheduled`
//! - `operatorconnect_leader`
//! - `process_*` (see `process_metrics`)

use std::cell::Cell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::common::WriteAction;
use crate::locked::Locked;
use liveplatform::{Action, CallObserver};

/// The prefix of every family of the operator's own.
pub const PREFIX: &str = "operatorconnect";

tokio::task_local! {
    /// In a reconcile that acts on a person's spec change: the kind, and when the
    /// change was first seen; taken by the reconcile's first platform call.
    static FIRST_CALL: Cell<Option<(String, Instant)>>;
}

/// Runs `work` (a reconcile) so that its first platform call records how long after
/// `since` (the spec change was first seen) it came; without a change, as it is.
pub async fn first_call_after<F: std::future::Future>(
    change: Option<(String, Instant)>,
    work: F,
) -> F::Output {
    match change {
        Some(change) => FIRST_CALL.scope(Cell::new(Some(change)), work).await,
        None => work.await,
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindResult {
    pub kind: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub platform: String,
    pub action: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlatformLabel {
    pub platform: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub action: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectLabels {
    pub kind: String,
    pub ready: String,
}

fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Platform tasks take seconds to hours: 1 s to 16,384 s (4.5 h).
fn task_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 15))
}

/// Per object: its kind, Ready, a write in flight, a later reconcile scheduled.
type ObjectState = (String, bool, bool, bool);

/// Every object's last state, and the tallies the gauges show.
#[derive(Debug, Default)]
struct ObjectStates {
    by_key: HashMap<String, ObjectState>,
    /// Objects by kind and readiness.
    ready: HashMap<(String, bool), i64>,
    in_flight: i64,
    scheduled: i64,
}

impl ObjectStates {
    fn count(&mut self, (kind, ready, in_flight, scheduled): &ObjectState, by: i64) {
        *self.ready.entry((kind.clone(), *ready)).or_default() += by;
        self.in_flight += i64::from(*in_flight) * by;
        self.scheduled += i64::from(*scheduled) * by;
    }
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<KindResult, Counter>,
    reconcile_duration: Family<KindLabel, Histogram, fn() -> Histogram>,
    calls: Family<CallLabels, Counter>,
    call_duration: Family<ActionLabel, Histogram, fn() -> Histogram>,
    retries: Family<ActionLabel, Counter>,
    rate_limit_waits: Family<ActionLabel, Counter>,
    budget_per_second: Family<PlatformLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    budget_burst: Family<PlatformLabel, Gauge>,
    calls_waiting: Family<PlatformLabel, Gauge>,
    objects_read_afresh: Family<KindLabel, Counter>,
    reconciles_waiting: Family<PlatformLabel, Gauge>,
    tasks_started: Family<ActionLabel, Counter>,
    task_outcomes: Family<OutcomeLabels, Counter>,
    task_duration: Family<ActionLabel, Histogram, fn() -> Histogram>,
    objects_writing: Gauge,
    objects_scheduled: Gauge,
    build_info: Family<BuildLabels, Gauge>,
    spec_change_latency: Family<KindLabel, Histogram, fn() -> Histogram>,
    /// Per object: the generation of a spec change not yet acted on, first seen when.
    spec_changes: Locked<HashMap<String, (i64, Instant)>>,
    objects: Family<ObjectLabels, Gauge>,
    leader: Gauge,
    states: Locked<ObjectStates>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut root = Registry::default();
        let m = Self {
            reconciles: Family::default(),
            reconcile_duration: Family::new_with_constructor(
                seconds_histogram as fn() -> Histogram,
            ),
            calls: Family::default(),
            call_duration: Family::new_with_constructor(seconds_histogram as fn() -> Histogram),
            retries: Family::default(),
            rate_limit_waits: Family::default(),
            budget_per_second: Family::default(),
            budget_burst: Family::default(),
            calls_waiting: Family::default(),
            reconciles_waiting: Family::default(),
            objects_read_afresh: Family::default(),
            tasks_started: Family::default(),
            task_outcomes: Family::default(),
            task_duration: Family::new_with_constructor(task_histogram as fn() -> Histogram),
            objects_writing: Gauge::default(),
            objects_scheduled: Gauge::default(),
            build_info: Family::default(),
            spec_change_latency: Family::new_with_constructor(
                seconds_histogram as fn() -> Histogram,
            ),
            spec_changes: Locked::new(HashMap::new()),
            objects: Family::default(),
            leader: Gauge::default(),
            states: Locked::new(ObjectStates::default()),
            registry: Registry::default(),
        };
        root.register_collector(Box::new(crate::process_metrics::ProcessCollector));
        let registry = root.sub_registry_with_prefix(PREFIX);
        registry.register(
            "build_info",
            "The operator's version; always 1",
            m.build_info.clone(),
        );
        m.build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .set(1);
        registry.register(
            "reconciles",
            "Reconciles by kind and result",
            m.reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration by kind",
            m.reconcile_duration.clone(),
        );
        registry.register(
            "platform_calls",
            "Live Platform calls by platform, action and HTTP status (none: no answer)",
            m.calls.clone(),
        );
        registry.register(
            "platform_call_duration_seconds",
            "Live Platform call latency by action",
            m.call_duration.clone(),
        );
        registry.register(
            "platform_retries",
            "Calls the client tried again, by action",
            m.retries.clone(),
        );
        registry.register(
            "platform_rate_limit_waits",
            "Waits for the rate limiter or a Retry-After, by action",
            m.rate_limit_waits.clone(),
        );
        registry.register(
            "platform_budget_requests_per_second",
            "The requests a second each platform allows the operator (spec.rateLimit)",
            m.budget_per_second.clone(),
        );
        registry.register(
            "platform_budget_burst",
            "The burst each platform allows the operator (spec.rateLimit)",
            m.budget_burst.clone(),
        );
        registry.register(
            "platform_calls_waiting",
            "Calls waiting for each platform's budget, as the last call that took its turn saw them",
            m.calls_waiting.clone(),
        );
        // Every kind counts from zero from the start: the family is served (and a
        // rate over it defined) before the first read afresh, which may never come.
        for kind in crate::api::kinds() {
            let _created = m.objects_read_afresh.get_or_create(&KindLabel {
                kind: kind.into_owned(),
            });
        }
        registry.register(
            "objects_read_afresh",
            "Reconciles that read their object from the apiserver first, because the watch cache had not shown the operator's last status write of it yet, by kind",
            m.objects_read_afresh.clone(),
        );
        registry.register(
            "reconciles_waiting_for_a_turn",
            "Routine reconciles waiting for a turn on each platform (admission to its budget)",
            m.reconciles_waiting.clone(),
        );
        registry.register(
            "tasks_started",
            "Platform tasks started, by action",
            m.tasks_started.clone(),
        );
        registry.register(
            "task_outcomes",
            "Platform tasks seen to their end, by action and outcome",
            m.task_outcomes.clone(),
        );
        registry.register(
            "task_duration_seconds",
            "How long platform tasks ran on the platform (created to completed), by action",
            m.task_duration.clone(),
        );
        registry.register(
            "objects_with_write_in_flight",
            "Objects with a platform write in flight (its intent recorded, or its task followed)",
            m.objects_writing.clone(),
        );
        registry.register(
            "objects",
            "Objects reconciled, by kind and Ready state",
            m.objects.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica reconciles (holds the Lease, or runs without election)",
            m.leader.clone(),
        );
        registry.register(
            "spec_change_to_first_call_seconds",
            "From a person's spec change of a Ready object (first seen by the operator) to the first platform call acting on it, by kind",
            m.spec_change_latency.clone(),
        );
        registry.register(
            "objects_scheduled",
            "Objects with a later reconcile scheduled (after a wait, a task poll, a backoff or a drift check)",
            m.objects_scheduled.clone(),
        );
        Self {
            registry: root,
            ..m
        }
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// A reconcile of `kind` read its object from the apiserver before deciding.
    pub fn read_afresh(&self, kind: &str) {
        self.objects_read_afresh
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    pub fn reconciled(&self, kind: &str, result: &str, took: Duration) {
        self.reconciles
            .get_or_create(&KindResult {
                kind: kind.into(),
                result: result.into(),
            })
            .inc();
        self.reconcile_duration
            .get_or_create(&KindLabel { kind: kind.into() })
            .observe(took.as_secs_f64());
    }

    /// Records an object's state after a reconcile (`None` when it is gone):
    /// `(ready, write in flight, later reconcile scheduled)`.
    pub fn object(&self, key: &str, kind: &str, state: Option<(bool, bool, bool)>) {
        let mut states = self.states.lock();
        let before = match state {
            Some((ready, in_flight, scheduled)) => states.by_key.insert(
                key.to_owned(),
                (kind.to_owned(), ready, in_flight, scheduled),
            ),
            None => {
                self.spec_change_done(key);
                states.by_key.remove(key)
            }
        };
        // The tallies follow each change: counting every object again on every
        // reconcile cost a core at a few thousand objects.
        if let Some(before) = &before {
            states.count(before, -1);
        }
        if let Some((ready, in_flight, scheduled)) = state {
            states.count(&(kind.to_owned(), ready, in_flight, scheduled), 1);
        }
        self.objects_scheduled.set(states.scheduled);
        self.objects_writing.set(states.in_flight);
        for ready in [true, false] {
            let n = states
                .ready
                .get(&(kind.to_owned(), ready))
                .copied()
                .unwrap_or(0);
            self.objects
                .get_or_create(&ObjectLabels {
                    kind: kind.into(),
                    ready: ready.to_string(),
                })
                .set(n);
        }
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// A platform task of `action` was started.
    pub fn task_started(&self, action: WriteAction) {
        self.tasks_started
            .get_or_create(&ActionLabel {
                action: action.platform().label().into(),
            })
            .inc();
    }

    /// A platform task of `action` ended with `outcome`, having run `took` on the
    /// platform when its times are known.
    pub fn task_ended(&self, action: WriteAction, outcome: &str, took: Option<Duration>) {
        let action = action.platform().label();
        self.task_outcomes
            .get_or_create(&OutcomeLabels {
                action: action.into(),
                outcome: outcome.into(),
            })
            .inc();
        if let Some(took) = took {
            self.task_duration
                .get_or_create(&ActionLabel {
                    action: action.into(),
                })
                .observe(took.as_secs_f64());
        }
    }

    /// A reconcile of `key` acts on a spec change to `generation`: when it was first
    /// seen (now, for its first reconcile).
    pub fn spec_change_seen(&self, key: &str, generation: i64) -> Instant {
        let mut changes = self.spec_changes.lock();
        let entry = changes
            .entry(key.to_owned())
            .or_insert((generation, Instant::now()));
        if entry.0 != generation {
            *entry = (generation, Instant::now());
        }
        entry.1
    }

    /// The change of `key` was acted on (or the object is gone): forget it.
    /// How many objects the gauges and the spec-change clock hold.
    pub fn objects_held(&self) -> (usize, usize) {
        (
            self.states.lock().by_key.len(),
            self.spec_changes.lock().len(),
        )
    }

    pub fn spec_change_done(&self, key: &str) {
        self.spec_changes.lock().remove(key);
    }

    /// The budget platform `platform` allows (its client was built or rebuilt).
    pub fn platform_budget(&self, platform: &str, per_second: f64, burst: u32) {
        let label = PlatformLabel {
            platform: platform.into(),
        };
        self.budget_per_second.get_or_create(&label).set(per_second);
        self.budget_burst
            .get_or_create(&label)
            .set(i64::from(burst));
    }

    /// How many routine reconciles wait for a turn on `platform` now.
    pub fn reconciles_waiting(&self, platform: &str, n: usize) {
        self.reconciles_waiting
            .get_or_create(&PlatformLabel {
                platform: platform.into(),
            })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Platform `platform` is gone: its budget is no longer shown (its calls stay
    /// counted).
    pub fn platform_gone(&self, platform: &str) {
        let label = PlatformLabel {
            platform: platform.into(),
        };
        self.budget_per_second.remove(&label);
        self.budget_burst.remove(&label);
        self.calls_waiting.remove(&label);
        self.reconciles_waiting.remove(&label);
    }
}

/// The calls of one platform's client, counted with the platform's name.
#[derive(Debug)]
pub struct PlatformCalls {
    pub platform: String,
    pub metrics: std::sync::Arc<Metrics>,
}

impl CallObserver for PlatformCalls {
    fn call(&self, action: Action, status: Option<u16>, elapsed: Duration) {
        // The first call of a reconcile acting on a spec change.
        if let Ok(Some((kind, since))) = FIRST_CALL.try_with(Cell::take) {
            self.metrics
                .spec_change_latency
                .get_or_create(&KindLabel { kind })
                .observe(since.elapsed().as_secs_f64());
        }
        let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
        self.metrics
            .calls
            .get_or_create(&CallLabels {
                platform: self.platform.clone(),
                action: action.label().into(),
                status,
            })
            .inc();
        self.metrics
            .call_duration
            .get_or_create(&ActionLabel {
                action: action.label().into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    fn waiting(&self, calls: usize) {
        self.metrics
            .calls_waiting
            .get_or_create(&PlatformLabel {
                platform: self.platform.clone(),
            })
            .set(i64::try_from(calls).unwrap_or(i64::MAX));
    }

    fn retry(&self, action: Action) {
        self.metrics
            .retries
            .get_or_create(&ActionLabel {
                action: action.label().into(),
            })
            .inc();
    }

    fn rate_limit_wait(&self, action: Action, _waited: Duration) {
        self.metrics
            .rate_limit_waits
            .get_or_create(&ActionLabel {
                action: action.label().into(),
            })
            .inc();
    }
}

#[cfg(test)]
mod object_tally_tests {
    use super::*;

    #[test]
    fn every_kind_is_served_a_read_afresh_count_before_any_read() {
        let text = Metrics::new().encode();
        for kind in crate::api::kinds() {
            let line = format!("operatorconnect_objects_read_afresh_total{{kind=\"{kind}\"}} 0");
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
    }

    #[test]
    fn the_tallies_follow_every_change_as_a_recount_would() {
        let metrics = Metrics::new();
        type Change = (&'static str, &'static str, Option<(bool, bool, bool)>);
        let changes: [Change; 7] = [
            ("a", "OCCustomer", Some((false, true, true))),
            ("b", "OCCustomer", Some((false, false, true))),
            ("c", "OCNumberBlock", Some((true, false, true))),
            ("a", "OCCustomer", Some((true, false, true))),
            ("b", "OCCustomer", None),
            ("d", "OCNumberBlock", Some((false, true, false))),
            ("c", "OCNumberBlock", Some((true, false, false))),
        ];
        for (key, kind, state) in changes {
            metrics.object(key, kind, state);
            let states = metrics.states.lock();
            let mut recount = ObjectStates::default();
            for state in states.by_key.values() {
                recount.count(state, 1);
            }
            recount.ready.retain(|_, n| *n != 0);
            let mut tallied = states.ready.clone();
            tallied.retain(|_, n| *n != 0);
            assert_eq!(tallied, recount.ready, "after {key}");
            assert_eq!(states.in_flight, recount.in_flight, "after {key}");
            assert_eq!(states.scheduled, recount.scheduled, "after {key}");
        }
        let states = metrics.states.lock();
        assert_eq!(states.ready[&("OCCustomer".to_owned(), true)], 1);
        assert_eq!((states.in_flight, states.scheduled), (1, 1));
    }
}
