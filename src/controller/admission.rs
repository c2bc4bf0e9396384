//! Admission to a platform's budget: how many routine reconciles (onboarding, task
//! polls, drift checks) of one platform run at once.
//!
//! The controllers start every reconcile that is due. Without a bound, a thousand
//! customers onboarding park thousands of reconciles in front of the budget, each
//! with its future alive, and the line grows so long that what a reconcile read has
//! expired (the platform's snapshot and answer windows) before its next call goes.
//! Here a routine reconcile first takes a turn: while fewer than the platform's
//! limit hold one, it runs; otherwise it waits as a key (not as a future) in a queue
//! where namespaces take turns, its reconcile ends at once, and when a turn comes
//! free it is reserved for the first waiting object and that object's reconcile is
//! started again through its controller. A person's change and deletions take no
//! turn: they keep their lane (see `liveplatform::rate_limit`).
//!
//! The limit is two seconds of the platform's budget ([`limit`]): each admitted
//! reconcile has at most one call waiting, so no call waits in line for much longer
//! than that, and the line never runs empty while objects wait.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use kube::runtime::reflector::{ObjectRef, Store};

use super::kind::Kind;
use crate::locked::Locked;

/// How many seconds of a platform's budget the admitted routine reconciles may have
/// waiting in line at most (one call each).
const ADMITTED_SECONDS_OF_BUDGET: f64 = 2.0;

/// Never fewer turns than this, however small the budget.
const FEWEST_TURNS: usize = 2;

/// How long a turn handed to a waiting object is kept for it. Its reconcile starts
/// within milliseconds; the turn comes back after this only if it never does (the
/// object went away between the hand-over and its reconcile).
const RESERVED_FOR: Duration = Duration::from_secs(30);

/// A reconcile refused a turn is requeued this late, as a safety net only: its turn
/// starts it again sooner.
pub const REFUSED_REQUEUE: Duration = Duration::from_secs(60);

/// The number of routine reconciles of a platform with a budget of `per_second`
/// requests a second that may run at once.
pub fn limit(per_second: f64) -> usize {
    let turns = (per_second.max(0.0) * ADMITTED_SECONDS_OF_BUDGET).ceil();
    // A budget is at most a few thousand requests a second; the cast cannot overflow.
    (turns as usize).max(FEWEST_TURNS)
}

/// The turns of every platform, and how a waiting object's reconcile is started
/// again. Cheap to clone (shared).
#[derive(Clone)]
pub struct Admission {
    inner: Arc<Inner>,
}

struct Inner {
    gates: Locked<HashMap<String, Gate>>,
    /// Per kind, its controller's wake-up channel and its cache ([`Admission::turns`]).
    wakes: Locked<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    /// Told how many reconciles wait for a turn on a platform whenever that changes.
    on_waiting: WaitingObserver,
    /// The id of the next gate made.
    next_gate: AtomicU64,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission").finish_non_exhaustive()
    }
}

/// Told `(platform, objects waiting)`.
type WaitingObserver = Box<dyn Fn(&str, usize) + Send + Sync>;

/// The controller of kind `K`: where a waiting object is sent when its turn comes,
/// and the cache that tells whether it is still there.
struct Wake<K: Kind> {
    sender: UnboundedSender<ObjectRef<K>>,
    store: Store<K>,
}

/// Starts a waiting object's reconcile again; false when it cannot (the object is
/// gone, or its controller stopped), and the turn goes to the next.
type Starter = Box<dyn FnOnce() -> bool + Send>;

struct Waiter {
    key: String,
    start: Starter,
}

/// One platform's turns.
#[derive(Default)]
struct Gate {
    /// Which gate of the platform's name this is: a platform deleted and declared
    /// again gets a new gate, and a turn of the old one gives nothing back to it.
    id: u64,
    limit: usize,
    /// Turns taken: reconciles running, and turns reserved for a woken object.
    held: usize,
    /// Namespaces with objects waiting, in the order they get their next turn.
    rotation: VecDeque<String>,
    waiting: HashMap<String, VecDeque<Waiter>>,
    waiting_keys: HashSet<String>,
    /// Turns handed to a waiting object whose reconcile has not claimed it yet.
    reserved: HashMap<String, Instant>,
}

/// What [`Admission::enter`] decided.
pub enum Entry {
    /// Run now, holding this turn.
    Admitted(Turn),
    /// Wait: the reconcile ends, and the object is started again when its turn comes.
    Waiting,
}

/// A routine reconcile's turn on a platform; given back when dropped.
pub struct Turn {
    admission: Admission,
    platform: String,
    gate: u64,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.admission.give_back(&self.platform, self.gate);
    }
}

impl Admission {
    /// `on_waiting(platform, n)` is told whenever the number of objects waiting for a
    /// turn on `platform` changes.
    pub fn new(on_waiting: impl Fn(&str, usize) + Send + Sync + 'static) -> Self {
        Self {
            inner: Arc::new(Inner {
                gates: Locked::new(HashMap::new()),
                wakes: Locked::new(HashMap::new()),
                on_waiting: Box::new(on_waiting),
                next_gate: AtomicU64::new(0),
            }),
        }
    }

    /// The objects of kind `K` whose turn came: their controller reconciles them
    /// (`Controller::reconcile_on`). `store` is that kind's cache. A second call (the
    /// controllers started again) replaces the first.
    pub fn turns<K: Kind>(&self, store: Store<K>) -> UnboundedReceiver<ObjectRef<K>> {
        let (sender, receiver) = unbounded();
        self.inner
            .wakes
            .lock()
            .insert(TypeId::of::<K>(), Box::new(Wake { sender, store }));
        receiver
    }

    /// The turn reserved for `key` when it waited, if its turn came: the reconcile
    /// starting now holds it.
    pub fn claim(&self, platform: &str, key: &str) -> Option<Turn> {
        let mut gates = self.inner.gates.lock();
        let gate = gates.get_mut(platform)?;
        gate.reserved.remove(key)?;
        Some(Turn {
            admission: self.clone(),
            platform: platform.to_owned(),
            gate: gate.id,
        })
    }

    /// A routine reconcile of `obj` (key `key`) asks for a turn on `platform`, whose
    /// budget is `per_second` requests a second. It runs now when a turn is free and
    /// no object waits; otherwise it waits in its namespace's queue (keeping its
    /// place if it already waits there).
    pub fn enter<K: Kind>(&self, platform: &str, per_second: f64, key: &str, obj: &K) -> Entry {
        let start = self.starter(obj);
        let namespace = obj.meta().namespace.clone().unwrap_or_default();
        let waiting = {
            let mut gates = self.inner.gates.lock();
            let gate = gates.entry(platform.to_owned()).or_insert_with(|| Gate {
                id: self.inner.next_gate.fetch_add(1, Ordering::Relaxed),
                ..Gate::default()
            });
            gate.limit = limit(per_second);
            gate.expire(Instant::now());
            if gate.waiting_keys.contains(key) {
                return Entry::Waiting;
            }
            if gate.held < gate.limit && gate.waiting_keys.is_empty() {
                gate.held += 1;
                return Entry::Admitted(Turn {
                    admission: self.clone(),
                    platform: platform.to_owned(),
                    gate: gate.id,
                });
            }
            gate.push(namespace, key.to_owned(), start);
            gate.hand_out();
            gate.waiting_keys.len()
        };
        (self.inner.on_waiting)(platform, waiting);
        Entry::Waiting
    }

    /// `key` no longer waits for a turn (its reconcile goes ahead in a person's lane).
    pub fn leave(&self, platform: &str, key: &str) {
        let waiting = {
            let mut gates = self.inner.gates.lock();
            let Some(gate) = gates.get_mut(platform) else {
                return;
            };
            if !gate.remove(key) {
                return;
            }
            gate.waiting_keys.len()
        };
        (self.inner.on_waiting)(platform, waiting);
    }

    /// The platform is gone: its gate, with the objects waiting at it, is dropped.
    /// Turns still held give nothing back to a gate made later under the same name.
    pub fn forget(&self, platform: &str) {
        self.inner.gates.lock().remove(platform);
    }

    fn give_back(&self, platform: &str, id: u64) {
        let waiting = {
            let mut gates = self.inner.gates.lock();
            let Some(gate) = gates.get_mut(platform).filter(|gate| gate.id == id) else {
                return;
            };
            gate.held = gate.held.saturating_sub(1);
            gate.expire(Instant::now());
            gate.hand_out();
            gate.waiting_keys.len()
        };
        (self.inner.on_waiting)(platform, waiting);
    }

    /// How `obj`'s reconcile is started again when its turn comes.
    fn starter<K: Kind>(&self, obj: &K) -> Starter {
        let reference = ObjectRef::from_obj(obj);
        let wake = self
            .inner
            .wakes
            .lock()
            .get(&TypeId::of::<K>())
            .and_then(|w| w.downcast_ref::<Wake<K>>())
            .map(|w| (w.sender.clone(), w.store.clone()));
        Box::new(move || match wake {
            Some((sender, store)) => {
                store.get(&reference).is_some() && sender.unbounded_send(reference).is_ok()
            }
            None => false,
        })
    }
}

impl Gate {
    fn push(&mut self, namespace: String, key: String, start: Starter) {
        self.waiting_keys.insert(key.clone());
        let queue = self.waiting.entry(namespace.clone()).or_default();
        if queue.is_empty() {
            self.rotation.push_back(namespace);
        }
        queue.push_back(Waiter { key, start });
    }

    /// Takes `key` out of the queues; false if it was not waiting.
    fn remove(&mut self, key: &str) -> bool {
        if !self.waiting_keys.remove(key) {
            return false;
        }
        let mut emptied = None;
        for (namespace, queue) in &mut self.waiting {
            if let Some(at) = queue.iter().position(|w| w.key == key) {
                queue.remove(at);
                if queue.is_empty() {
                    emptied = Some(namespace.clone());
                }
                break;
            }
        }
        if let Some(namespace) = emptied {
            self.waiting.remove(&namespace);
            self.rotation.retain(|n| *n != namespace);
        }
        true
    }

    /// The next waiting object: the first of the namespace whose turn it is.
    fn next(&mut self) -> Option<Waiter> {
        let namespace = self.rotation.pop_front()?;
        let queue = self.waiting.get_mut(&namespace)?;
        let waiter = queue.pop_front()?;
        if queue.is_empty() {
            self.waiting.remove(&namespace);
        } else {
            self.rotation.push_back(namespace);
        }
        self.waiting_keys.remove(&waiter.key);
        Some(waiter)
    }

    /// Hands the free turns to the objects waiting longest, namespaces taking turns.
    fn hand_out(&mut self) {
        while self.held < self.limit {
            let Some(waiter) = self.next() else {
                return;
            };
            // Reserved before its reconcile can start and claim it.
            self.reserved.insert(waiter.key.clone(), Instant::now());
            self.held += 1;
            if !(waiter.start)() {
                self.reserved.remove(&waiter.key);
                self.held -= 1;
            }
        }
    }

    /// Turns reserved for objects whose reconcile never came come back.
    fn expire(&mut self, now: Instant) {
        let before = self.reserved.len();
        self.reserved
            .retain(|_, at| now.saturating_duration_since(*at) < RESERVED_FOR);
        self.held = self.held.saturating_sub(before - self.reserved.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::OCCustomer;
    use crate::controller::fixtures::customer;
    use futures::StreamExt;
    use kube::runtime::reflector;
    use kube::runtime::watcher;

    /// An admission whose customers' cache holds `objects`, with the wake-ups of
    /// their controller.
    fn admission(
        objects: &[OCCustomer],
    ) -> (
        Admission,
        UnboundedReceiver<ObjectRef<OCCustomer>>,
        reflector::store::Writer<OCCustomer>,
    ) {
        let (store, mut writer) = reflector::store::<OCCustomer>();
        for obj in objects {
            writer.apply_watcher_event(&watcher::Event::Apply(obj.clone()));
        }
        let admission = Admission::new(|_, _| {});
        let woken = admission.turns(store);
        (admission, woken, writer)
    }

    fn key(c: &OCCustomer) -> String {
        super::super::kind::key(c)
    }

    fn admitted(entry: Entry) -> Turn {
        match entry {
            Entry::Admitted(turn) => turn,
            Entry::Waiting => panic!("expected a turn"),
        }
    }

    /// Each of `objects` asks for a turn on platform `p` (a budget of one request a
    /// second: two turns), in order; the turns of those admitted.
    fn enter_all(admission: &Admission, objects: &[OCCustomer]) -> Vec<Option<Turn>> {
        objects
            .iter()
            .map(|obj| match admission.enter("p", 1.0, &key(obj), obj) {
                Entry::Admitted(turn) => Some(turn),
                Entry::Waiting => None,
            })
            .collect()
    }

    fn names(woken: &mut UnboundedReceiver<ObjectRef<OCCustomer>>) -> Vec<String> {
        let mut names = Vec::new();
        while let Ok(r) = woken.try_recv() {
            names.push(r.name);
        }
        names
    }

    #[test]
    fn the_limit_is_two_seconds_of_budget_and_never_below_two() {
        assert_eq!(limit(20.0), 40);
        assert_eq!(limit(200.0), 400);
        assert_eq!(limit(2.5), 5);
        assert_eq!(limit(0.1), 2);
    }

    #[test]
    fn reconciles_beyond_the_limit_wait_and_get_their_turn_in_order() {
        // A budget of one request a second: two turns.
        let objects: Vec<_> = (0..4).map(|i| customer("a", &format!("c{i}"))).collect();
        let (admission, mut woken, _writer) = admission(&objects);
        let first = admitted(admission.enter("p", 1.0, &key(&objects[0]), &objects[0]));
        let second = admitted(admission.enter("p", 1.0, &key(&objects[1]), &objects[1]));
        for obj in &objects[2..] {
            assert!(matches!(
                admission.enter("p", 1.0, &key(obj), obj),
                Entry::Waiting
            ));
        }
        // Asking again keeps the place; nothing is woken while both turns are held.
        assert!(matches!(
            admission.enter("p", 1.0, &key(&objects[3]), &objects[3]),
            Entry::Waiting
        ));
        assert!(names(&mut woken).is_empty());
        drop(first);
        assert_eq!(names(&mut woken), ["c2"]);
        // c3 may not jump the line while c2 holds its reserved turn...
        assert!(admission.claim("p", &key(&objects[3])).is_none());
        let third = admission.claim("p", &key(&objects[2])).expect("c2's turn");
        // ...and no turn is free until another is given back.
        drop(third);
        assert_eq!(names(&mut woken), ["c3"]);
        drop(second);
        assert!(names(&mut woken).is_empty());
        // Once c3 claims and gives back, the platform is free again.
        drop(admission.claim("p", &key(&objects[3])).expect("c3's turn"));
        let again = admission.enter("p", 1.0, &key(&objects[0]), &objects[0]);
        assert!(matches!(again, Entry::Admitted(_)));
    }

    #[test]
    fn namespaces_take_turns() {
        let bulk: Vec<_> = (0..5).map(|i| customer("bulk", &format!("b{i}"))).collect();
        let solo = customer("solo", "s");
        let mut all = bulk.clone();
        all.push(solo.clone());
        let (admission, mut woken, _writer) = admission(&all);
        let turns: Vec<_> = bulk[..2]
            .iter()
            .map(|b| admitted(admission.enter("p", 1.0, &key(b), b)))
            .collect();
        for b in &bulk[2..] {
            let _ = admission.enter("p", 1.0, &key(b), b);
        }
        let _ = admission.enter("p", 1.0, &key(&solo), &solo);
        drop(turns);
        // Each woken object runs and gives its turn back, which wakes the next.
        let mut order = Vec::new();
        loop {
            let now = names(&mut woken);
            if now.is_empty() {
                break;
            }
            for name in now {
                let obj = all
                    .iter()
                    .find(|o| o.metadata.name.as_deref() == Some(&name));
                let obj = obj.expect("a known object");
                order.push(name);
                drop(admission.claim("p", &key(obj)));
            }
        }
        // The solo namespace's object goes second, not behind the bulk's backlog.
        assert_eq!(order, ["b2", "s", "b3", "b4"]);
    }

    #[test]
    fn a_gone_object_or_one_that_left_does_not_keep_a_turn() {
        let objects: Vec<_> = (0..4).map(|i| customer("a", &format!("c{i}"))).collect();
        // c2 is not in the cache (deleted while it waited).
        let cached = [objects[0].clone(), objects[1].clone(), objects[3].clone()];
        let (admission, mut woken, _writer) = admission(&cached);
        let mut turns = enter_all(&admission, &objects);
        assert!(turns[2].is_none() && turns[3].is_none());
        // c3 went ahead in a person's lane: it no longer waits.
        admission.leave("p", &key(&objects[3]));
        drop(turns.remove(0));
        assert!(names(&mut woken).is_empty());
        // The turn is free: a new reconcile runs at once.
        let newcomer = customer("a", "c9");
        assert!(matches!(
            admission.enter("p", 1.0, &key(&newcomer), &newcomer),
            Entry::Admitted(_)
        ));
    }

    #[test]
    fn a_reserved_turn_never_claimed_comes_back() {
        let objects: Vec<_> = (0..3).map(|i| customer("a", &format!("c{i}"))).collect();
        let (admission, mut woken, _writer) = admission(&objects);
        let mut turns = enter_all(&admission, &objects);
        drop(turns.remove(0));
        assert_eq!(names(&mut woken), ["c2"]);
        {
            let mut gates = admission.inner.gates.lock();
            let gate = gates.get_mut("p").expect("gate");
            assert_eq!(gate.held, 2);
            gate.expire(Instant::now() + RESERVED_FOR);
            assert_eq!(gate.held, 1);
        }
        assert!(admission.claim("p", &key(&objects[2])).is_none());
    }

    #[test]
    fn a_forgotten_platform_keeps_no_gate_and_its_old_turns_give_nothing_back() {
        let objects: Vec<_> = (0..3).map(|i| customer("a", &format!("c{i}"))).collect();
        let (admission, mut woken, _writer) = admission(&objects);
        let mut old_turns = enter_all(&admission, &objects);
        admission.forget("p");
        assert!(admission.inner.gates.lock().is_empty());
        // Declared again under the same name: a new gate, with its own two turns.
        let again = enter_all(&admission, &objects);
        assert!(again[0].is_some() && again[1].is_some() && again[2].is_none());
        // A turn of the old gate comes back: the new gate's count is unchanged.
        drop(old_turns.remove(0));
        assert_eq!(admission.inner.gates.lock()["p"].held, 2);
        assert!(names(&mut woken).is_empty());
    }

    #[tokio::test]
    async fn a_woken_object_arrives_on_its_controllers_stream() {
        let objects: Vec<_> = (0..3).map(|i| customer("a", &format!("c{i}"))).collect();
        let (admission, mut woken, _writer) = admission(&objects);
        let mut turns = enter_all(&admission, &objects);
        drop(turns.remove(0));
        let next = woken.next().await.expect("a wake-up");
        assert_eq!(next.name, "c2");
        assert_eq!(next.namespace.as_deref(), Some("a"));
    }
}
