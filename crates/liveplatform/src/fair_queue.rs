//! The line in front of the platform's budget: who gets the next free call.
//!
//! Two lanes, a person's change ([`Lane::Change`]) before everything else
//! ([`Lane::Routine`]). Within a lane the namespaces share the calls fairly (start-time
//! fair queuing): every call gets a virtual finish tag, one more than the later of
//! the lane's clock (the tag of the last call served) and its namespace's last tag,
//! and the lowest tag goes first, ties by arrival. A namespace with a thousand calls
//! queued holds tags far ahead of the clock, so a call of another namespace that joins
//! now is served after at most one call of each namespace with calls waiting, not
//! behind the whole backlog; namespaces that all have calls waiting take turns.
//!
//! The queue only orders; waiting for the bucket is the rate limiter's. Each place
//! has a [`Notify`] that is woken when the place becomes the first in line.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use tokio::sync::Notify;

/// Which lane of the budget a call waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    /// A person's change to an object that was Ready (or its deletion): served first.
    Change,
    /// Everything else: onboarding, task polls, drift checks, probes.
    Routine,
}

/// Who a call is made for: its lane and the namespace whose share of the budget it
/// uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    pub lane: Lane,
    /// The namespace of the object the call serves; empty for calls that serve no
    /// namespace (a platform's own probes).
    pub namespace: Arc<str>,
}

tokio::task_local! {
    static CALLER: Caller;
}

impl Caller {
    pub fn new(lane: Lane, namespace: &str) -> Self {
        Self {
            lane,
            namespace: Arc::from(namespace),
        }
    }

    /// The caller of the calls made by the current task: the one [`Caller::scope`]
    /// set, else a routine call of no namespace.
    pub fn current() -> Caller {
        CALLER
            .try_with(Caller::clone)
            .unwrap_or_else(|_| Caller::new(Lane::Routine, ""))
    }

    /// Runs `work` with every platform call it makes made as this caller.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CALLER.scope(self, work).await
    }
}

/// A call's place in line; the smallest is served next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    lane: Lane,
    finish: u64,
    arrival: u64,
}

/// The calls waiting for the budget, in the order they are served.
#[derive(Debug, Default)]
pub struct FairQueue {
    waiting: BTreeMap<Place, Arc<Notify>>,
    /// Per lane, the finish tag of the last call served.
    clock: HashMap<Lane, u64>,
    /// Per lane and namespace, the finish tag of its last call in line, while it is
    /// ahead of the lane's clock.
    last: HashMap<(Lane, Arc<str>), u64>,
    arrivals: u64,
}

impl FairQueue {
    /// Puts a call of `caller` in line; the [`Notify`] is woken when it becomes first.
    pub fn join(&mut self, caller: &Caller) -> (Place, Arc<Notify>) {
        let clock = self.clock.get(&caller.lane).copied().unwrap_or(0);
        let last = self
            .last
            .entry((caller.lane, caller.namespace.clone()))
            .or_insert(0);
        let finish = (*last).max(clock) + 1;
        *last = finish;
        self.arrivals += 1;
        let place = Place {
            lane: caller.lane,
            finish,
            arrival: self.arrivals,
        };
        let notify = Arc::new(Notify::new());
        self.waiting.insert(place, notify.clone());
        (place, notify)
    }

    /// Whether `place` is served next.
    pub fn is_first(&self, place: Place) -> bool {
        self.waiting.keys().next() == Some(&place)
    }

    /// How many calls wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// `place` got its call: the lane's clock moves up to it and the next in line is
    /// woken.
    pub fn served(&mut self, place: Place) {
        self.leave(place);
        let clock = self.clock.entry(place.lane).or_insert(0);
        *clock = (*clock).max(place.finish);
        let clock = *clock;
        // A namespace whose last tag the clock has reached is as if it had none.
        self.last
            .retain(|(lane, _), finish| *lane != place.lane || *finish > clock);
    }

    /// `place` leaves the line (served, or its caller gave up); if it was first, the
    /// next in line is woken.
    pub fn leave(&mut self, place: Place) {
        let was_first = self.is_first(place);
        self.waiting.remove(&place);
        if was_first && let Some(next) = self.waiting.values().next() {
            next.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(lane: Lane, namespace: &str) -> Caller {
        Caller::new(lane, namespace)
    }

    /// Serves every call in line; returns the namespaces in the order served.
    fn serve_all(queue: &mut FairQueue, places: &[(Place, &str)]) -> Vec<String> {
        let mut order = Vec::new();
        while let Some(first) = queue.waiting.keys().next().copied() {
            queue.served(first);
            let (_, namespace) = places.iter().find(|(p, _)| *p == first).unwrap();
            order.push((*namespace).to_owned());
        }
        order
    }

    #[test]
    fn a_call_of_another_namespace_goes_before_a_backlog() {
        let mut queue = FairQueue::default();
        let mut places = Vec::new();
        for _ in 0..100 {
            places.push((queue.join(&caller(Lane::Routine, "bulk")).0, "bulk"));
        }
        // Ten of the backlog are served, then another namespace's call joins.
        for _ in 0..10 {
            let first = queue.waiting.keys().next().copied().unwrap();
            queue.served(first);
        }
        places.push((queue.join(&caller(Lane::Routine, "other")).0, "other"));
        let order = serve_all(&mut queue, &places);
        assert_eq!(order.len(), 91);
        let at = order.iter().position(|n| n == "other").unwrap();
        assert!(at <= 1, "served {at}th after the backlog: {order:?}");
    }

    #[test]
    fn namespaces_with_calls_waiting_take_turns() {
        let mut queue = FairQueue::default();
        let mut places = Vec::new();
        for _ in 0..5 {
            places.push((queue.join(&caller(Lane::Routine, "a")).0, "a"));
        }
        for _ in 0..5 {
            places.push((queue.join(&caller(Lane::Routine, "b")).0, "b"));
        }
        let order = serve_all(&mut queue, &places);
        assert_eq!(order, ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"]);
    }

    #[test]
    fn a_change_goes_before_every_routine_call() {
        let mut queue = FairQueue::default();
        let mut places = Vec::new();
        for _ in 0..5 {
            places.push((queue.join(&caller(Lane::Routine, "a")).0, "routine"));
        }
        places.push((queue.join(&caller(Lane::Change, "a")).0, "change"));
        let order = serve_all(&mut queue, &places);
        assert_eq!(order[0], "change");
    }

    #[test]
    fn a_namespace_that_had_the_budget_to_itself_is_not_held_back_for_it() {
        // "b" used every call while nobody else waited; once "a" has calls waiting
        // too they take turns, "a" is not owed the calls "b" had.
        let mut queue = FairQueue::default();
        for _ in 0..50 {
            let (place, _) = queue.join(&caller(Lane::Routine, "b"));
            queue.served(place);
        }
        let mut places = Vec::new();
        for _ in 0..3 {
            places.push((queue.join(&caller(Lane::Routine, "a")).0, "a"));
            places.push((queue.join(&caller(Lane::Routine, "b")).0, "b"));
        }
        let order = serve_all(&mut queue, &places);
        assert_eq!(order, ["a", "b", "a", "b", "a", "b"]);
        assert!(queue.last.is_empty(), "{:?}", queue.last);
    }

    #[tokio::test]
    async fn the_next_in_line_is_woken_when_the_first_leaves() {
        let mut queue = FairQueue::default();
        let (first, _) = queue.join(&caller(Lane::Routine, "a"));
        let (second, woken) = queue.join(&caller(Lane::Routine, "a"));
        assert!(!queue.is_first(second));
        // The first gives up without being served.
        queue.leave(first);
        assert!(queue.is_first(second));
        tokio::time::timeout(std::time::Duration::from_secs(5), woken.notified())
            .await
            .expect("the second was woken");
        queue.served(second);
        assert!(queue.is_empty());
    }
}
