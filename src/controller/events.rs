//! Kubernetes Events on the operator's objects (`kubectl describe`, `kubectl events`).
//!
//! The same event told again on the same object within a few minutes becomes a series
//! on the first one (its count and last time), as kube-runtime's recorder does. That
//! recorder keeps every event it published for six minutes as a whole `Event` object
//! (about a kilobyte each, in a table that only grows), and scans all of them on each
//! publish: at 300 customers onboarding it held 17 MiB, half of the operator's heap.
//! Here an event is remembered by a hash of what makes it the same (the object, type,
//! reason, action and note) with the name of the Kubernetes Event that tells it, in a
//! table of at most [`REMEMBERED`] entries.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::locked::Locked;

/// How long an event is remembered for a series (kube-runtime's recorder: six minutes).
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

/// At most this many events are remembered at once; beyond it the oldest is forgotten
/// (its next occurrence starts a new Event instead of counting on the old one).
const REMEMBERED: usize = 1024;

tokio::task_local! {
    /// Whether the reconcile running in this task told a Normal event on its object.
    static TOLD: Cell<bool>;
}

/// Runs `work` (one reconcile) so that [`told_in_this_reconcile`] can say whether it
/// told a Normal event on its object.
pub async fn in_one_reconcile<F: Future>(work: F) -> F::Output {
    TOLD.scope(Cell::new(false), work).await
}

/// Whether the running reconcile has told a Normal event on its object: what it did
/// (a lead created, a user provisioned, numbers uploaded) is then told already, and
/// the object becoming Ready in the same reconcile is not told again as `Available`.
pub fn told_in_this_reconcile() -> bool {
    TOLD.try_with(Cell::get).unwrap_or(false)
}

/// What is told: a Warning or not, why, in which action, and what a person should know.
pub struct Told<'a> {
    pub warning: bool,
    pub reason: &'a str,
    pub action: &'a str,
    pub note: String,
}

/// Publishes Events as the operator (its name, and its pod's as the instance).
pub struct Events {
    client: kube::Client,
    controller: String,
    instance: String,
    recent: Locked<Recent>,
}

impl Events {
    pub fn new(client: kube::Client, controller: &str, instance: Option<String>) -> Self {
        Self {
            client,
            controller: controller.to_owned(),
            instance: instance.unwrap_or_else(|| controller.to_owned()),
            recent: Locked::new(Recent::default()),
        }
    }

    /// Creates the Event, or counts it on the same Event told a moment ago.
    pub async fn publish(
        &self,
        regarding: ObjectReference,
        told: Told<'_>,
    ) -> Result<(), kube::Error> {
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        tracing::debug!(
            object = regarding.name.as_deref().unwrap_or_default(),
            reason = told.reason,
            action = told.action,
            "event"
        );
        if !told.warning {
            let _ = TOLD.try_with(|t| t.set(true));
        }
        let key = same_event(&regarding, &told);
        let now = Instant::now();
        let seen = self.recent.lock().seen(key, now);
        if let Some((name, count)) = seen {
            let series = serde_json::json!({"series": EventSeries {
                count,
                last_observed_time: MicroTime(jiff::Timestamp::now()),
            }});
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&series))
                .await
            {
                Ok(_) => return Ok(()),
                // Gone from the apiserver (its events expire) or refused: told anew.
                Err(_) => self.recent.lock().forget(key),
            }
        }
        let event = self.event(regarding, told);
        let name = event.metadata.name.clone().unwrap_or_default();
        api.create(&PostParams::default(), &event).await?;
        self.recent.lock().remember(key, name, now);
        Ok(())
    }

    fn event(&self, regarding: ObjectReference, told: Told<'_>) -> Event {
        let now = jiff::Timestamp::now();
        let object = regarding.name.as_deref().unwrap_or(&self.controller);
        Event {
            metadata: ObjectMeta {
                name: Some(format!("{object}.{:x}", now.as_nanosecond())),
                namespace: regarding.namespace.clone(),
                ..ObjectMeta::default()
            },
            action: Some(told.action.to_owned()),
            reason: Some(told.reason.to_owned()),
            note: Some(within_limit(told.note)),
            type_: Some(if told.warning { "Warning" } else { "Normal" }.to_owned()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        }
    }
}

/// The apiserver refuses an Event whose note is longer than 1 kB: a longer one is cut
/// at a character boundary, its end marked.
fn within_limit(mut note: String) -> String {
    const MAX_NOTE_BYTES: usize = 1024;
    const MARK: &str = " [...]";
    if note.len() > MAX_NOTE_BYTES {
        let mut end = MAX_NOTE_BYTES - MARK.len();
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
        note.push_str(MARK);
    }
    note
}

/// What makes two events the same one told again.
fn same_event(regarding: &ObjectReference, told: &Told<'_>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    regarding.uid.hash(&mut hasher);
    regarding.kind.hash(&mut hasher);
    regarding.namespace.hash(&mut hasher);
    regarding.name.hash(&mut hasher);
    told.warning.hash(&mut hasher);
    told.reason.hash(&mut hasher);
    told.action.hash(&mut hasher);
    told.note.hash(&mut hasher);
    hasher.finish()
}

/// The events told in the last [`SERIES_WINDOW`], at most [`REMEMBERED`] of them.
#[derive(Default)]
struct Recent {
    by_key: HashMap<u64, Remembered>,
}

struct Remembered {
    /// The Kubernetes Event that tells it.
    name: String,
    /// How often it was told (the Event's series count once above one).
    count: i32,
    last: Instant,
}

impl Recent {
    /// The Event that told this one within the window and the count it reaches now,
    /// or `None` when it is to be told anew.
    fn seen(&mut self, key: u64, now: Instant) -> Option<(String, i32)> {
        let entry = self.by_key.get_mut(&key)?;
        if now.duration_since(entry.last) >= SERIES_WINDOW {
            self.by_key.remove(&key);
            return None;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        Some((entry.name.clone(), entry.count))
    }

    fn remember(&mut self, key: u64, name: String, now: Instant) {
        if self.by_key.len() >= REMEMBERED && !self.by_key.contains_key(&key) {
            self.by_key
                .retain(|_, e| now.duration_since(e.last) < SERIES_WINDOW);
            if self.by_key.len() >= REMEMBERED
                && let Some(oldest) = self
                    .by_key
                    .iter()
                    .min_by_key(|(_, e)| e.last)
                    .map(|(k, _)| *k)
            {
                self.by_key.remove(&oldest);
            }
        }
        self.by_key.insert(
            key,
            Remembered {
                name,
                count: 1,
                last: now,
            },
        );
    }

    fn forget(&mut self, key: u64) {
        self.by_key.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("OCCustomer".into()),
            namespace: Some("ns".into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            ..ObjectReference::default()
        }
    }

    fn told(note: &str) -> Told<'_> {
        Told {
            warning: true,
            reason: "PlatformError",
            action: "Reconcile",
            note: note.to_owned(),
        }
    }

    #[test]
    fn the_same_event_again_counts_on_the_first_and_another_note_is_a_new_event() {
        let mut recent = Recent::default();
        let now = Instant::now();
        let first = same_event(&reference("a"), &told("the platform answered 503"));
        assert_eq!(recent.seen(first, now), None);
        recent.remember(first, "a.1".into(), now);
        let later = now + Duration::from_secs(10);
        assert_eq!(recent.seen(first, later), Some(("a.1".into(), 2)));
        assert_eq!(recent.seen(first, later), Some(("a.1".into(), 3)));
        // Another note, or another object: not the same event.
        let other_note = same_event(&reference("a"), &told("the tenant is unknown"));
        let other_object = same_event(&reference("b"), &told("the platform answered 503"));
        assert_eq!(recent.seen(other_note, later), None);
        assert_eq!(recent.seen(other_object, later), None);
        // Past the window it is told anew.
        let much_later = later + SERIES_WINDOW;
        assert_eq!(recent.seen(first, much_later), None);
    }

    #[test]
    fn a_note_longer_than_the_apiserver_takes_is_cut_at_a_character() {
        let long = "é".repeat(700);
        let cut = within_limit(long);
        assert!(cut.len() <= 1024, "{} bytes", cut.len());
        assert!(cut.ends_with(" [...]"));
        assert_eq!(within_limit("short".into()), "short");
    }

    #[test]
    fn no_more_than_the_bound_is_remembered_and_the_oldest_goes_first() {
        let mut recent = Recent::default();
        let start = Instant::now();
        for i in 0..(REMEMBERED as u64 * 3) {
            recent.remember(i, format!("e.{i}"), start + Duration::from_millis(i));
        }
        assert_eq!(recent.by_key.len(), REMEMBERED);
        let newest = REMEMBERED as u64 * 3 - 1;
        let now = start + Duration::from_secs(5);
        assert!(recent.seen(newest, now).is_some());
        assert!(recent.seen(0, now).is_none(), "the oldest was forgotten");
    }
}
