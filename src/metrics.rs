//! The operator's Prometheus metrics, served as text on the admin port.
//!
//! - `oc_reconciles_total{kind,result}` and `oc_reconcile_duration_seconds{kind}`
//! - `oc_platform_calls_total{action,status}` and `oc_platform_call_duration_seconds{action}`
//! - `oc_platform_retries_total{action}`, `oc_platform_rate_limit_waits_total{action}`
//! - `oc_tasks_started_total{action}`, `oc_task_outcomes_total{action,outcome}`,
//!   `oc_tasks_in_flight` (objects with a write in flight)
//! - `oc_objects{kind,ready}` (objects the operator reconciled, by Ready state)
//! - `oc_leader` (1 while this replica reconciles)
//! - `oc_queue_depth` (objects with a later reconcile scheduled)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use liveplatform::{Action, CallObserver};

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
    pub action: String,
    pub status: String,
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
    tasks_started: Family<ActionLabel, Counter>,
    task_outcomes: Family<OutcomeLabels, Counter>,
    tasks_in_flight: Gauge,
    queue_depth: Gauge,
    objects: Family<ObjectLabels, Gauge>,
    leader: Gauge,
    states: Mutex<ObjectStates>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("oc");
        let m = Self {
            reconciles: Family::default(),
            reconcile_duration: Family::new_with_constructor(
                seconds_histogram as fn() -> Histogram,
            ),
            calls: Family::default(),
            call_duration: Family::new_with_constructor(seconds_histogram as fn() -> Histogram),
            retries: Family::default(),
            rate_limit_waits: Family::default(),
            tasks_started: Family::default(),
            task_outcomes: Family::default(),
            tasks_in_flight: Gauge::default(),
            queue_depth: Gauge::default(),
            objects: Family::default(),
            leader: Gauge::default(),
            states: Mutex::new(ObjectStates::default()),
            registry: Registry::default(),
        };
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
            "Live Platform calls by action and HTTP status (none: no answer)",
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
            "tasks_in_flight",
            "Objects with a platform write in flight",
            m.tasks_in_flight.clone(),
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
            "queue_depth",
            "Objects with a later reconcile scheduled (requeue after a wait, a task poll, a backoff or a drift check)",
            m.queue_depth.clone(),
        );
        Self { registry, ..m }
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
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
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let before = match state {
            Some((ready, in_flight, scheduled)) => states.by_key.insert(
                key.to_owned(),
                (kind.to_owned(), ready, in_flight, scheduled),
            ),
            None => states.by_key.remove(key),
        };
        // The tallies follow each change: counting every object again on every
        // reconcile cost a core at a few thousand objects.
        if let Some(before) = &before {
            states.count(before, -1);
        }
        if let Some((ready, in_flight, scheduled)) = state {
            states.count(&(kind.to_owned(), ready, in_flight, scheduled), 1);
        }
        self.queue_depth.set(states.scheduled);
        self.tasks_in_flight.set(states.in_flight);
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

    pub fn task_started(&self, action: &str) {
        self.tasks_started
            .get_or_create(&ActionLabel {
                action: action.into(),
            })
            .inc();
    }

    pub fn task_ended(&self, action: &str, outcome: &str) {
        self.task_outcomes
            .get_or_create(&OutcomeLabels {
                action: action.into(),
                outcome: outcome.into(),
            })
            .inc();
    }
}

impl CallObserver for Metrics {
    fn call(&self, action: Action, status: Option<u16>, elapsed: Duration) {
        let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
        self.calls
            .get_or_create(&CallLabels {
                action: action.label().into(),
                status,
            })
            .inc();
        self.call_duration
            .get_or_create(&ActionLabel {
                action: action.label().into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    fn retry(&self, action: Action) {
        self.retries
            .get_or_create(&ActionLabel {
                action: action.label().into(),
            })
            .inc();
    }

    fn rate_limit_wait(&self, action: Action, _waited: Duration) {
        self.rate_limit_waits
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
            let states = metrics.states.lock().unwrap();
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
        let states = metrics.states.lock().unwrap();
        assert_eq!(states.ready[&("OCCustomer".to_owned(), true)], 1);
        assert_eq!((states.in_flight, states.scheduled), (1, 1));
    }
}
