//! One kind's ledger: who owns each identity, decided from the watch caches.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use crate::controller::kind::{Kind, found_by};
use crate::controller::number_set::NumberSet;
use crate::controller::stores::Stores;
use crate::locked::Locked;

use super::*;

/// What the check says about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing it names is owned by another object.
    Owner,
    /// `owner` (an object of the same kind) owns `identities`, which this object names
    /// too. `owns_claimed` tells whether the object still owns something it claimed (a
    /// block with numbers of its own), which its deletion must undo.
    Conflict {
        owner: OwnerObject,
        identities: Vec<Identity>,
        owns_claimed: bool,
    },
}

/// The object that owns what another names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerObject {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Verdict {
    /// The `Ready` message of an object of kind `what` in `namespace` held in
    /// conflict. An owner in another namespace is not named: who may read this
    /// object's namespace learns nothing of another's (the owner's own events name the
    /// object held, to whoever may read the owner's namespace).
    pub fn message(&self, what: &str, namespace: &str) -> Option<String> {
        let Verdict::Conflict {
            owner, identities, ..
        } = self
        else {
            return None;
        };
        let (owner, again) = if owner.namespace == namespace {
            let named = format!("{what} {}", owner.name);
            (named.clone(), named)
        } else {
            (
                "an object in another namespace".to_owned(),
                "that object".to_owned(),
            )
        };
        Some(format!(
            "{} is managed by {owner}, which declared it first; this {what} makes no platform call while that object owns it. Delete this object (nothing on the platform is touched) or change it to name something else; it is looked at again when {again} changes or goes",
            describe(identities)
        ))
    }
}

/// One kind's view: what each object names, the claims made by this process, and who
/// waits for whom.
pub struct Ledger<K: Owned> {
    pub(super) state: Locked<LedgerState<K>>,
    pub(super) trigger: Locked<UnboundedSender<ObjectRef<K>>>,
}

/// The numbers `identities` name on `platform`.
pub(super) fn numbers_on<'a>(identities: &'a [Identity], platform: &Name) -> Option<&'a NumberSet> {
    identities.iter().find_map(|i| match i {
        Identity::Numbers {
            platform: p,
            numbers,
        } if p == platform => Some(numbers),
        _ => None,
    })
}

pub(super) struct LedgerState<K: Owned> {
    pub(super) entries: HashMap<Uid, Entry>,
    pub(super) by_identity: HashMap<IndexKey, Vec<Uid>>,
    /// Claims this process granted: uid -> identity -> when.
    pub(super) granted: Granted,
    /// The same for numbers, which are granted as sets.
    pub(super) granted_numbers: GrantedNumbers,
    /// uid of an owner -> the objects held in conflict by it.
    pub(super) waiters: HashMap<Uid, HashSet<ObjectRef<K>>>,
    /// Objects whose watch events came since the entries were last brought up to
    /// date; only these are looked at again (looking at every object on every
    /// decision cost a core at a few thousand objects).
    pub(super) changed: HashMap<Uid, ObjectRef<K>>,
    /// The objects naming each object (see [`Owned::refers_to`]), by uid.
    /// A list per reference, not a table: an object is named by a few objects of a
    /// kind, and a table per customer cost more than its entries. The references
    /// carry no version or uid (the uid is beside them), only what finds the object.
    pub(super) by_reference: HashMap<Reference, Vec<(Uid, ObjectRef<K>)>>,
    /// Every entry must be looked at again: nothing was read yet, or the watch of
    /// this kind or of what entries name (customers) listed everything again.
    pub(super) whole: bool,
}

impl<K: Owned> LedgerState<K> {
    /// The ledger's copy of `uid` when it has one (a new one otherwise).
    fn shared(&self, uid: &str) -> Uid {
        match self.entries.get_key_value(uid) {
            Some((shared, _)) => shared.clone(),
            None => uid.into(),
        }
    }
}

impl<K: Owned> Default for Ledger<K> {
    fn default() -> Self {
        let (sender, _) = unbounded();
        Self {
            state: Locked::new(LedgerState {
                entries: HashMap::new(),
                by_identity: HashMap::new(),
                granted: HashMap::new(),
                granted_numbers: HashMap::new(),
                waiters: HashMap::new(),
                changed: HashMap::new(),
                by_reference: HashMap::new(),
                whole: true,
            }),
            trigger: Locked::new(sender),
        }
    }
}

impl<K: Owned> Ledger<K> {
    /// The stream of objects to reconcile again because their owner changed; a new one
    /// for each run of the controllers.
    pub fn triggers(&self) -> UnboundedReceiver<ObjectRef<K>> {
        let (sender, receiver) = unbounded();
        *self.trigger.lock() = sender;
        receiver
    }

    /// Learns of a watch event of this kind: a changed or deleted object reconciles
    /// the objects waiting for it; a deleted one loses the claims granted to it.
    pub fn observed(&self, event: &watcher::Event<K>) {
        let (obj, deleted) = match event {
            watcher::Event::Apply(obj) => (obj, false),
            watcher::Event::Delete(obj) => (obj, true),
            // A new listing: the cache was replaced whole.
            watcher::Event::InitDone => {
                self.look_at_everything();
                return;
            }
            _ => return,
        };
        let Some(uid) = obj.uid() else {
            return;
        };
        let waiting = {
            let mut state = self.state.lock();
            if deleted {
                state.granted.remove(uid.as_str());
                state.granted_numbers.remove(uid.as_str());
            }
            let uid = state.shared(&uid);
            state.changed.insert(uid.clone(), found_by(obj));
            state.waiters.remove(&uid)
        };
        if let Some(waiting) = waiting {
            let sender = self.trigger.lock().clone();
            for waiter in waiting {
                // A closed channel means the controllers stopped; nothing to wake.
                let _ = sender.unbounded_send(waiter);
            }
        }
    }

    /// Every entry is looked at again before the next decision (what they depend on
    /// changed).
    pub fn look_at_everything(&self) {
        self.state.lock().whole = true;
    }

    /// The objects naming `reference` are looked at again before the next decision
    /// (it appeared, went or changed). At 10,000 customers onboarding, looking at
    /// every object instead, once for each customer created, cost the operator most
    /// of a core.
    pub fn look_at_referrers(&self, reference: &Reference) {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        if let Some(referrers) = state.by_reference.get(reference) {
            for (uid, object) in referrers {
                state.changed.insert(uid.clone(), object.clone());
            }
        }
    }

    /// Decides whether `obj` owns what it names; when it does, the claim is granted at
    /// once (see the module's comment). `None` while the caches are not synced.
    pub fn check(&self, obj: &K, stores: &Stores) -> Option<Verdict> {
        let store = K::store(stores)?;
        if !stores.synced() {
            return None;
        }
        let uid = obj.uid()?;
        let mut guard = self.state.lock();
        let state = &mut *guard;
        refresh(state, &store, stores);
        let uid = state.shared(&uid);
        // This object as the reconcile read it, which may be newer than the cache.
        let fresh;
        let me = match state.entries.get(&uid) {
            Some(cached) if cached.is_current(obj, stores) => cached,
            _ => {
                fresh = Entry::of(obj, stores);
                &fresh
            }
        };
        let mut foreign: Vec<(Identity, Uid)> = Vec::new();
        let mut owns_claimed = false;
        for identity in &me.identities {
            if let Identity::Numbers { platform, numbers } = identity {
                let beaten = numbers_beaten(state, &uid, me, platform, numbers);
                let mut lost = NumberSet::new();
                for (owner, numbers) in beaten {
                    lost.add(&numbers);
                    let platform = platform.clone();
                    foreign.push((Identity::Numbers { platform, numbers }, owner));
                }
                owns_claimed |= me
                    .number_ranks(&uid, platform, numbers, &state.granted_numbers)
                    .iter()
                    .any(|(part, rank)| !rank.unclaimed && !part.is_subset(&lost));
                continue;
            }
            let my_rank = me.rank(&uid, identity, &state.granted);
            match strongest_other(state, &uid, identity) {
                Some((their_rank, other)) if their_rank < my_rank => {
                    foreign.push((identity.clone(), other));
                }
                _ => owns_claimed |= !my_rank.unclaimed,
            }
        }
        if foreign.is_empty() {
            let now = jiff::Timestamp::now();
            let mine: HashSet<Identity> = me
                .identities
                .iter()
                .filter(|i| !matches!(i, Identity::Numbers { .. }))
                .cloned()
                .collect();
            let my_numbers: Vec<(Name, NumberSet)> = me
                .identities
                .iter()
                .filter_map(|i| match i {
                    Identity::Numbers { platform, numbers } => {
                        Some((platform.clone(), numbers.clone()))
                    }
                    _ => None,
                })
                .collect();
            // An object naming no numbers (or nothing else) keeps no empty list.
            if my_numbers.is_empty() {
                state.granted_numbers.remove(&uid);
            } else {
                let claims = state.granted_numbers.entry(uid.clone()).or_default();
                grant_numbers(claims, &my_numbers, now);
            }
            if mine.is_empty() {
                state.granted.remove(&uid);
            } else {
                let granted = state.granted.entry(uid).or_default();
                granted.retain(|(identity, _)| mine.contains(identity));
                for identity in mine {
                    if !granted.iter().any(|(i, _)| *i == identity) {
                        push_short(granted, (identity, now));
                    }
                }
            }
            return Some(Verdict::Owner);
        }
        // Held: wait for every owner, and keep no claim on what they own.
        if let Some(granted) = state.granted.get_mut(&uid) {
            granted.retain(|(identity, _)| !foreign.iter().any(|(i, _)| i == identity));
        }
        if let Some(claims) = state.granted_numbers.get_mut(&uid) {
            for (identity, _) in &foreign {
                if let Identity::Numbers { numbers, .. } = identity {
                    for claim in claims.iter_mut() {
                        claim.numbers.subtract(numbers);
                    }
                }
            }
            claims.retain(|claim| !claim.numbers.is_empty());
        }
        let me_ref = found_by(obj);
        for (_, owner) in &foreign {
            state
                .waiters
                .entry(owner.clone())
                .or_default()
                .insert(me_ref.clone());
        }
        let first_owner = foreign[0].1.clone();
        let (namespace, name) = state
            .entries
            .get(&first_owner)
            .and_then(|e| e.key.split_once('/'))
            .unwrap_or_default();
        let owner = OwnerObject {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: first_owner.to_string(),
        };
        let identities = foreign
            .into_iter()
            .filter(|(_, o)| *o == first_owner)
            .map(|(i, _)| i)
            .collect();
        Some(Verdict::Conflict {
            owner,
            identities,
            owns_claimed,
        })
    }

    /// Which of `numbers` another object owns rather than `obj` (a number a block
    /// holds in its status but that another block owns is not the block's to release).
    pub fn numbers_owned_by_others(
        &self,
        obj: &K,
        numbers: &NumberSet,
        stores: &Stores,
    ) -> NumberSet {
        let (Some(store), Some(uid)) = (K::store(stores), obj.uid()) else {
            return NumberSet::new();
        };
        let mut state = self.state.lock();
        refresh(&mut state, &store, stores);
        let me = Entry::of(obj, stores);
        let mut others = NumberSet::new();
        let platforms: Vec<Name> = me
            .identities
            .iter()
            .filter_map(|i| match i {
                Identity::Numbers { platform, .. } => Some(platform.clone()),
                _ => None,
            })
            .collect();
        for platform in platforms {
            for (_, beaten) in numbers_beaten(&state, &uid, &me, &platform, numbers) {
                others.add(&beaten);
            }
        }
        others
    }
}

/// `namespace/name`.
pub(super) fn key_name<K: Kind>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

/// Brings the entries up to date with the cache: every object after a new listing or
/// a change of what entries depend on, otherwise only the objects whose watch events
/// came since the last time.
pub(super) fn refresh<K: Owned>(state: &mut LedgerState<K>, store: &Store<K>, stores: &Stores) {
    if std::mem::take(&mut state.whole) {
        state.changed.clear();
        let objects: HashMap<Uid, Arc<K>> = store
            .state()
            .into_iter()
            .filter_map(|o| o.uid().map(|uid| (state.shared(&uid), o)))
            .collect();
        let gone: Vec<Uid> = state
            .entries
            .keys()
            .filter(|uid| !objects.contains_key(*uid))
            .cloned()
            .collect();
        for uid in gone {
            forget_entry(state, &uid);
        }
        for (uid, obj) in objects {
            update_entry(state, uid, &obj, stores);
        }
        return;
    }
    for (uid, object) in std::mem::take(&mut state.changed) {
        match store.get(&object) {
            Some(obj) if obj.uid().as_deref() == Some(&*uid) => {
                update_entry(state, uid, &obj, stores)
            }
            // Deleted (or re-created under a new uid, which has its own event).
            _ => forget_entry(state, &uid),
        }
    }
}

pub(super) fn forget_entry<K: Owned>(state: &mut LedgerState<K>, uid: &str) {
    if let Some(entry) = state.entries.remove(uid) {
        unindex(&mut state.by_identity, uid, &entry.identities);
        for reference in &entry.refers_to {
            if let Some(referrers) = state.by_reference.get_mut(reference) {
                referrers.retain(|(referrer, _)| &**referrer != uid);
                if referrers.is_empty() {
                    state.by_reference.remove(reference);
                }
            }
        }
    }
}

pub(super) fn update_entry<K: Owned>(
    state: &mut LedgerState<K>,
    uid: Uid,
    obj: &K,
    stores: &Stores,
) {
    if state
        .entries
        .get(&uid)
        .is_some_and(|entry| entry.is_current(obj, stores))
    {
        return;
    }
    let entry = Entry::of(obj, stores);
    forget_entry(state, &uid);
    for reference in &entry.refers_to {
        let referrers = state.by_reference.entry(reference.clone()).or_default();
        // `forget_entry` above removed this object's earlier place.
        push_short(referrers, (uid.clone(), found_by(obj)));
    }
    for key in entry.identities.iter().flat_map(index_keys) {
        let uids = state.by_identity.entry(key).or_default();
        if !uids.contains(&uid) {
            push_short(uids, uid.clone());
        }
    }
    state.entries.insert(uid, entry);
}

pub(super) fn unindex(
    by_identity: &mut HashMap<IndexKey, Vec<Uid>>,
    uid: &str,
    identities: &[Identity],
) {
    for key in identities.iter().flat_map(index_keys) {
        if let Some(uids) = by_identity.get_mut(&key) {
            uids.retain(|u| &**u != uid);
            if uids.is_empty() {
                by_identity.remove(&key);
            }
        }
    }
}
