//! One platform object, one owner.
//!
//! Every object names a platform identity: a customer its tenant, a number block its
//! numbers, a SIP connection its site, a dial plan its dial plan on a site, an end user
//! its SIP address. Several objects (in one namespace or in many) may name the same
//! one by mistake; exactly one of them owns it, and the others are held in `Conflict`
//! and make no platform call at all, not even on delete.
//!
//! Who owns an identity is decided from the watch caches, the same way after every
//! restart:
//! 1. an object that claimed it (recorded a platform id or a write in its status, which
//!    stamps `status.ownedSince`) comes before one that did not; among those, the
//!    earlier claim wins;
//! 2. among objects that claimed nothing yet, the older `creationTimestamp` wins;
//! 3. ties go to the smaller uid.
//!
//! A claim made by this process is known here the moment the check passes, before its
//! status write reaches the cache, so two objects reconciled at once cannot both pass.
//! No decision is taken before every watch cache holds its first listing.
//!
//! An object held in `Conflict` waits for its owner: any change of the owner (its
//! deletion above all) reconciles the waiting objects again, through a trigger of
//! their controller; nothing is retried on a timer.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use kube::ResourceExt;
use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::kind::{CustomerOwned, Kind, found_by};
use super::number_set::NumberSet;
use super::stores::Stores;
use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};
use crate::locked::Locked;

/// A shared name: the identities of a large block repeat their platform, and one
/// identity is held in several maps, so copies share one allocation.
pub type Name = Arc<str>;

/// An object named in another's spec: its kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    kind: std::borrow::Cow<'static, str>,
    namespace: String,
    name: String,
}

impl Reference {
    /// Object `name` of kind `K` in `namespace`.
    pub fn to<K: Kind>(namespace: &str, name: &str) -> Self {
        Self {
            kind: K::kind(&()),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// `obj` itself, as others name it.
    pub fn of<K: Kind + kube::Resource<Scope = NamespaceResourceScope>>(obj: &K) -> Self {
        Self::to::<K>(
            obj.meta().namespace.as_deref().unwrap_or_default(),
            obj.meta().name.as_deref().unwrap_or_default(),
        )
    }
}

/// The customer `obj` names.
fn customer_reference<K: CustomerOwned>(obj: &K) -> Reference {
    Reference::to::<OCCustomer>(&obj.namespace().unwrap_or_default(), obj.customer())
}

/// What an object manages on a platform. Names are compared as the platform compares
/// them (tenants, sites, dial plans and SIP addresses without regard to case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    /// A lead and its customer.
    Tenant { platform: Name, tenant: Name },
    /// Telephone numbers, held as ranges: a block names all its numbers as one
    /// identity, and two such identities meet where their numbers overlap (see
    /// [`numbers_beaten`]).
    Numbers { platform: Name, numbers: NumberSet },
    /// A site location of a customer, by name.
    Site {
        platform: Name,
        tenant: Name,
        site: Name,
    },
    /// A dial plan of a site (`None`: the customer's own, single-site plan).
    DialPlan {
        platform: Name,
        tenant: Name,
        site: Option<Name>,
        dial_plan: Name,
    },
    /// The voice settings of one Teams user.
    User {
        platform: Name,
        tenant: Name,
        sip: Name,
    },
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Tenant { platform, tenant } => {
                write!(f, "tenant {tenant} on OCPlatform {platform}")
            }
            Identity::Numbers { numbers, .. } if numbers.len() == 1 => {
                write!(f, "number {numbers}")
            }
            Identity::Numbers { numbers, .. } => write!(f, "numbers {numbers}"),
            Identity::Site { tenant, site, .. } => write!(f, "site {site} of tenant {tenant}"),
            Identity::DialPlan {
                tenant,
                site,
                dial_plan,
                ..
            } => match site {
                Some(site) => write!(f, "dial plan {dial_plan} of site {site} of tenant {tenant}"),
                None => write!(f, "dial plan {dial_plan} of tenant {tenant}"),
            },
            Identity::User { tenant, sip, .. } => write!(f, "user {sip} of tenant {tenant}"),
        }
    }
}

/// Names several identities for a message: numbers together as ranges, the rest one
/// by one.
pub fn describe(identities: &[Identity]) -> String {
    let mut numbers = NumberSet::new();
    let mut parts: Vec<String> = Vec::new();
    for identity in identities {
        match identity {
            Identity::Numbers { numbers: n, .. } => numbers.add(n),
            other => parts.push(other.to_string()),
        }
    }
    if !numbers.is_empty() {
        parts.push(
            Identity::Numbers {
                platform: Name::from(""),
                numbers,
            }
            .to_string(),
        );
    }
    parts.join(", ")
}

/// A kind that owns platform objects.
pub trait Owned: Kind + kube::Resource<Scope = NamespaceResourceScope> {
    /// The platform identities this object names, resolved through the caches (empty
    /// while what it refers to is not known yet).
    fn identities(&self, stores: &Stores) -> Vec<Identity>;

    /// Which of `identities` the status claims (see the module's comment): all of
    /// them once it records a platform id or a write in flight.
    fn claimed(&self, identities: &[Identity]) -> Vec<Identity> {
        if self.status().is_some_and(Self::records_claim) {
            identities.to_vec()
        } else {
            Vec::new()
        }
    }

    /// What `identities` depends on besides the object itself, so that they are
    /// computed again when it changes.
    fn depends_on(&self, stores: &Stores) -> Vec<(String, Option<i64>)>;

    /// The objects this one names in its spec (its customer, a dial plan's SIP
    /// connection), whose changes change its identities: when one of them appears,
    /// goes or changes, the objects naming it are looked at again, and only they.
    fn refers_to(&self) -> Vec<Reference> {
        Vec::new()
    }

    /// The ledger of this kind.
    fn ledger(ownership: &Ownership) -> &Ledger<Self>;

    /// Tells the ledgers of a watch event of this kind: its own, and those of the
    /// kinds whose objects name it.
    fn observed(ownership: &Ownership, event: &watcher::Event<Self>) {
        Self::ledger(ownership).observed(event)
    }

    /// The watch cache of this kind.
    fn store(stores: &Stores) -> Option<Store<Self>>;
}

/// The platform and tenant of the customer an object names, from the cache.
fn customer_of<K: CustomerOwned>(obj: &K, stores: &Stores) -> Option<Arc<OCCustomer>> {
    stores.customer(&obj.namespace().unwrap_or_default(), obj.customer())
}

fn customer_dependency<K: CustomerOwned>(obj: &K, stores: &Stores) -> (String, Option<i64>) {
    match customer_of(obj, stores) {
        Some(c) => (c.uid().unwrap_or_default(), c.metadata.generation),
        None => (String::new(), None),
    }
}

fn platform_and_tenant(customer: &OCCustomer) -> (Name, Name) {
    (
        customer.spec.platform_ref.name.as_str().into(),
        customer.spec.tenant_id.to_ascii_lowercase().into(),
    )
}

impl Owned for OCCustomer {
    fn identities(&self, _stores: &Stores) -> Vec<Identity> {
        let (platform, tenant) = platform_and_tenant(self);
        vec![Identity::Tenant { platform, tenant }]
    }

    fn depends_on(&self, _stores: &Stores) -> Vec<(String, Option<i64>)> {
        Vec::new()
    }

    fn ledger(ownership: &Ownership) -> &Ledger<Self> {
        &ownership.customers
    }

    fn observed(ownership: &Ownership, event: &watcher::Event<Self>) {
        ownership.customer_observed(event)
    }

    fn store(stores: &Stores) -> Option<Store<Self>> {
        stores.customers()
    }
}

impl Owned for OCNumberBlock {
    fn identities(&self, stores: &Stores) -> Vec<Identity> {
        let Some(customer) = customer_of(self, stores) else {
            return Vec::new();
        };
        let platform: Name = customer.spec.platform_ref.name.as_str().into();
        let mut numbers = NumberSet::declared(&self.spec);
        if let Some(status) = &self.status {
            numbers.add(&NumberSet::from_ranges(&status.active));
        }
        if numbers.is_empty() {
            return Vec::new();
        }
        vec![Identity::Numbers { platform, numbers }]
    }

    /// A block claims the numbers it brought to the platform (or is bringing).
    fn claimed(&self, identities: &[Identity]) -> Vec<Identity> {
        let Some(status) = &self.status else {
            return Vec::new();
        };
        let mut brought = NumberSet::from_ranges(&status.active);
        if let Some(op) = &status.operation {
            brought.add(&NumberSet::from_ranges(&op.items));
        }
        identities
            .iter()
            .filter_map(|i| match i {
                Identity::Numbers { platform, numbers } => Some(Identity::Numbers {
                    platform: platform.clone(),
                    numbers: numbers.intersection(&brought),
                }),
                _ => None,
            })
            .filter(|i| matches!(i, Identity::Numbers { numbers, .. } if !numbers.is_empty()))
            .collect()
    }

    fn depends_on(&self, stores: &Stores) -> Vec<(String, Option<i64>)> {
        vec![customer_dependency(self, stores)]
    }

    fn refers_to(&self) -> Vec<Reference> {
        vec![customer_reference(self)]
    }

    fn ledger(ownership: &Ownership) -> &Ledger<Self> {
        &ownership.blocks
    }

    fn store(stores: &Stores) -> Option<Store<Self>> {
        stores.blocks()
    }
}

impl Owned for OCSipConnection {
    fn identities(&self, stores: &Stores) -> Vec<Identity> {
        let Some(customer) = customer_of(self, stores) else {
            return Vec::new();
        };
        let (platform, tenant) = platform_and_tenant(&customer);
        vec![Identity::Site {
            platform,
            tenant,
            site: self.spec.site_name.to_ascii_lowercase().into(),
        }]
    }

    fn depends_on(&self, stores: &Stores) -> Vec<(String, Option<i64>)> {
        vec![customer_dependency(self, stores)]
    }

    fn refers_to(&self) -> Vec<Reference> {
        vec![customer_reference(self)]
    }

    fn ledger(ownership: &Ownership) -> &Ledger<Self> {
        &ownership.sites
    }

    fn observed(ownership: &Ownership, event: &watcher::Event<Self>) {
        ownership.site_observed(event)
    }

    fn store(stores: &Stores) -> Option<Store<Self>> {
        stores.sites()
    }
}

/// The SIP connection a dial plan names, from the cache.
fn site_of(plan: &OCDialPlan, stores: &Stores) -> Option<Arc<OCSipConnection>> {
    let reference = plan.spec.sip_connection_ref.as_ref()?;
    stores.site(&plan.namespace().unwrap_or_default(), &reference.name)
}

impl Owned for OCDialPlan {
    fn identities(&self, stores: &Stores) -> Vec<Identity> {
        let Some(customer) = customer_of(self, stores) else {
            return Vec::new();
        };
        let site = match &self.spec.sip_connection_ref {
            None => None,
            Some(_) => match site_of(self, stores) {
                Some(site) => Some(site.spec.site_name.to_ascii_lowercase().into()),
                None => return Vec::new(),
            },
        };
        let (platform, tenant) = platform_and_tenant(&customer);
        vec![Identity::DialPlan {
            platform,
            tenant,
            site,
            dial_plan: self.spec.dial_plan_id.to_ascii_lowercase().into(),
        }]
    }

    fn depends_on(&self, stores: &Stores) -> Vec<(String, Option<i64>)> {
        let site = site_of(self, stores)
            .map(|s| (s.uid().unwrap_or_default(), s.metadata.generation))
            .unwrap_or_default();
        vec![customer_dependency(self, stores), site]
    }

    fn refers_to(&self) -> Vec<Reference> {
        let ns = self.namespace().unwrap_or_default();
        let mut references = vec![customer_reference(self)];
        references.extend(
            self.spec
                .sip_connection_ref
                .as_ref()
                .map(|site| Reference::to::<OCSipConnection>(&ns, &site.name)),
        );
        references
    }

    fn ledger(ownership: &Ownership) -> &Ledger<Self> {
        &ownership.plans
    }

    fn store(stores: &Stores) -> Option<Store<Self>> {
        stores.plans()
    }
}

impl Owned for OCEndUser {
    fn identities(&self, stores: &Stores) -> Vec<Identity> {
        let Some(customer) = customer_of(self, stores) else {
            return Vec::new();
        };
        let (platform, tenant) = platform_and_tenant(&customer);
        vec![Identity::User {
            platform,
            tenant,
            sip: self
                .spec
                .sip_address
                .trim_start_matches("sip:")
                .to_ascii_lowercase()
                .into(),
        }]
    }

    fn depends_on(&self, stores: &Stores) -> Vec<(String, Option<i64>)> {
        vec![customer_dependency(self, stores)]
    }

    fn refers_to(&self) -> Vec<Reference> {
        vec![customer_reference(self)]
    }

    fn ledger(ownership: &Ownership) -> &Ledger<Self> {
        &ownership.users
    }

    fn store(stores: &Stores) -> Option<Store<Self>> {
        stores.users()
    }
}

/// What the check says about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing it names is owned by another object.
    Owner,
    /// `owner` (`Kind namespace/name`) owns `identities`, which this object names too.
    /// `owns_claimed` tells whether the object still owns something it claimed (a
    /// block with numbers of its own), which its deletion must undo.
    Conflict {
        owner: String,
        identities: Vec<Identity>,
        owns_claimed: bool,
    },
}

impl Verdict {
    /// The `Ready` message of an object held in conflict.
    pub fn message(&self, what: &str) -> Option<String> {
        let Verdict::Conflict {
            owner, identities, ..
        } = self
        else {
            return None;
        };
        Some(format!(
            "{} is managed by {owner}, which declared it first; this {what} makes no platform call while that object owns it. Delete this object (nothing on the platform is touched) or change it to name something else; it is looked at again when {owner} changes or goes",
            describe(identities)
        ))
    }
}

/// How an object ranks for one identity: the smaller, the stronger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    unclaimed: bool,
    /// The time of the claim (seconds and nanoseconds); zero when unclaimed.
    claimed_at: (i64, i32),
    created: (i64, i32),
    uid: String,
}

fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse::<jiff::Timestamp>().ok()
}

fn pair(t: jiff::Timestamp) -> (i64, i32) {
    (t.as_second(), t.subsec_nanosecond())
}

/// One kind's view: what each object names, the claims made by this process, and who
/// waits for whom.
pub struct Ledger<K: Owned> {
    state: Locked<LedgerState<K>>,
    trigger: Locked<UnboundedSender<ObjectRef<K>>>,
}

/// What the ledger knows of one object.
struct Entry {
    resource_version: Option<String>,
    depends_on: Vec<(String, Option<i64>)>,
    refers_to: Vec<Reference>,
    identities: Vec<Identity>,
    /// What of `identities` the status claims (a few at most: a list, not a set,
    /// which would cost a table per object).
    claimed: Vec<Identity>,
    owned_since: Option<(i64, i32)>,
    created: (i64, i32),
    name: String,
}

impl Entry {
    fn of<K: Owned>(obj: &K, stores: &Stores) -> Self {
        // Kept for as long as the object lives: no room beyond what they hold.
        let mut identities = obj.identities(stores);
        identities.shrink_to_fit();
        let mut claimed = obj.claimed(&identities);
        claimed.shrink_to_fit();
        let mut depends_on = obj.depends_on(stores);
        depends_on.shrink_to_fit();
        let mut refers_to = obj.refers_to();
        refers_to.shrink_to_fit();
        let created = obj
            .meta()
            .creation_timestamp
            .as_ref()
            .map(|t| pair(t.0))
            .unwrap_or((i64::MAX, 0));
        let owned_since = obj
            .status()
            .and_then(K::owner)
            .and_then(|owner| owner.owned_since.as_deref())
            .and_then(parse_time)
            .map(pair);
        Self {
            resource_version: obj.meta().resource_version.clone(),
            depends_on,
            refers_to,
            identities,
            claimed,
            owned_since,
            created,
            name: format!("{} {}", K::kind(&()), key_name(obj)),
        }
    }

    /// Whether this entry still describes `obj` (same version, same customer and site).
    fn is_current<K: Owned>(&self, obj: &K, stores: &Stores) -> bool {
        self.resource_version == obj.meta().resource_version
            && self.depends_on == obj.depends_on(stores)
    }

    /// When the status says the object claimed what it claimed: `ownedSince`, or its
    /// creation for a claim made before `ownedSince` existed.
    fn persisted_claim(&self) -> (i64, i32) {
        self.owned_since.unwrap_or(self.created)
    }

    fn rank_at(&self, uid: &str, claimed_at: Option<(i64, i32)>) -> Rank {
        Rank {
            unclaimed: claimed_at.is_none(),
            claimed_at: claimed_at.unwrap_or_default(),
            created: self.created,
            uid: uid.to_owned(),
        }
    }

    /// How the object ranks for `identity` (not numbers), with the claims granted by
    /// this process.
    fn rank(&self, uid: &str, identity: &Identity, granted: &Granted) -> Rank {
        let here = granted
            .get(uid)
            .and_then(|g| g.iter().find(|(i, _)| i == identity))
            .map(|(_, at)| pair(*at));
        let persisted = self
            .claimed
            .contains(identity)
            .then(|| self.persisted_claim());
        let claimed_at = match (here, persisted) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.rank_at(uid, claimed_at)
    }

    /// The numbers it names on `platform`.
    fn numbers(&self, platform: &Name) -> Option<&NumberSet> {
        numbers_on(&self.identities, platform)
    }

    /// How the object ranks for each part of `within` (numbers it names on
    /// `platform`): the parts it claimed, each by the earliest claim (granted here or
    /// recorded in status), and the unclaimed rest.
    fn number_ranks(
        &self,
        uid: &str,
        platform: &Name,
        within: &NumberSet,
        granted: &GrantedNumbers,
    ) -> Vec<(NumberSet, Rank)> {
        let mut claims: Vec<((i64, i32), &NumberSet)> = granted
            .get(uid)
            .into_iter()
            .flatten()
            .filter(|claim| claim.platform == *platform)
            .map(|claim| (pair(claim.at), &claim.numbers))
            .collect();
        if let Some(claimed) = self.claimed.iter().find_map(|i| match i {
            Identity::Numbers {
                platform: p,
                numbers,
            } if p == platform => Some(numbers),
            _ => None,
        }) {
            claims.push((self.persisted_claim(), claimed));
        }
        claims.sort_by_key(|(at, _)| *at);
        let mut rest = within.clone();
        let mut ranks = Vec::new();
        for (at, numbers) in claims {
            let part = rest.intersection(numbers);
            if !part.is_empty() {
                rest.subtract(&part);
                ranks.push((part, self.rank_at(uid, Some(at))));
            }
        }
        if !rest.is_empty() {
            ranks.push((rest, self.rank_at(uid, None)));
        }
        ranks
    }
}

/// The numbers `identities` name on `platform`.
fn numbers_on<'a>(identities: &'a [Identity], platform: &Name) -> Option<&'a NumberSet> {
    identities.iter().find_map(|i| match i {
        Identity::Numbers {
            platform: p,
            numbers,
        } if p == platform => Some(numbers),
        _ => None,
    })
}

/// An object's uid, shared by every table of a ledger that names the object (at a few
/// thousand objects, a copy per table cost more than the entries).
type Uid = Arc<str>;

/// Appends `item` to a list that stays short (an object's identities and claims, the
/// few objects naming one identity or one customer): grown one place at a time, not
/// doubled, while it is short, since most such lists hold one or two items and a
/// doubled list would keep room for four.
fn push_short<T>(list: &mut Vec<T>, item: T) {
    if list.len() == list.capacity() {
        list.reserve_exact(if list.len() < 8 { 1 } else { list.len() });
    }
    list.push(item);
}

/// Claims granted by this process: uid -> each identity with when (an object names
/// a few identities: a list per object, not a table).
type Granted = HashMap<Uid, Vec<(Identity, jiff::Timestamp)>>;

/// Numbers granted to one object at one time.
struct NumberClaim {
    platform: Name,
    numbers: NumberSet,
    at: jiff::Timestamp,
}

/// Number claims this process granted: uid -> its claims, oldest first.
type GrantedNumbers = HashMap<Uid, Vec<NumberClaim>>;

/// How the ledger finds the objects that name an identity: by the identity itself, or,
/// for numbers, by the stretches of numbers they fall in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum IndexKey {
    Exact(Identity),
    /// Numbers of one platform whose keys share their bits above [`STRETCH_BITS`].
    Stretch(Name, u64),
}

/// A stretch holds 16,384 consecutive numbers: a block of 505,000 numbers is found
/// under about 31 keys, one of 100 numbers under one or two.
const STRETCH_BITS: u32 = 14;

/// The stretches of numbers `numbers` falls in.
fn stretches(numbers: &NumberSet) -> BTreeSet<u64> {
    numbers
        .key_ranges()
        .flat_map(|r| (r.start() >> STRETCH_BITS)..=(r.end() >> STRETCH_BITS))
        .collect()
}

/// Where `identity` is found in the index.
fn index_keys(identity: &Identity) -> Vec<IndexKey> {
    match identity {
        Identity::Numbers { platform, numbers } => stretches(numbers)
            .into_iter()
            .map(|s| IndexKey::Stretch(platform.clone(), s))
            .collect(),
        other => vec![IndexKey::Exact(other.clone())],
    }
}

struct LedgerState<K: Owned> {
    entries: HashMap<Uid, Entry>,
    by_identity: HashMap<IndexKey, Vec<Uid>>,
    /// Claims this process granted: uid -> identity -> when.
    granted: Granted,
    /// The same for numbers, which are granted as sets.
    granted_numbers: GrantedNumbers,
    /// uid of an owner -> the objects held in conflict by it.
    waiters: HashMap<Uid, HashSet<ObjectRef<K>>>,
    /// Objects whose watch events came since the entries were last brought up to
    /// date; only these are looked at again (looking at every object on every
    /// decision cost a core at a few thousand objects).
    changed: HashMap<Uid, ObjectRef<K>>,
    /// The objects naming each object (see [`Owned::refers_to`]), by uid.
    /// A list per reference, not a table: an object is named by a few objects of a
    /// kind, and a table per customer cost more than its entries. The references
    /// carry no version or uid (the uid is beside them), only what finds the object.
    by_reference: HashMap<Reference, Vec<(Uid, ObjectRef<K>)>>,
    /// Every entry must be looked at again: nothing was read yet, or the watch of
    /// this kind or of what entries name (customers) listed everything again.
    whole: bool,
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
        let owner = state
            .entries
            .get(&first_owner)
            .map(|e| e.name.clone())
            .unwrap_or_else(|| format!("{} with uid {first_owner}", K::kind(&())));
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

/// Keeps the number claims granted to one object to the numbers it names now, and
/// grants it those it had not been granted yet, at `now`.
fn grant_numbers(claims: &mut Vec<NumberClaim>, named: &[(Name, NumberSet)], now: jiff::Timestamp) {
    for claim in claims.iter_mut() {
        match named
            .iter()
            .find(|(platform, _)| *platform == claim.platform)
        {
            Some((_, numbers)) => claim.numbers = claim.numbers.intersection(numbers),
            None => claim.numbers = NumberSet::new(),
        }
    }
    claims.retain(|claim| !claim.numbers.is_empty());
    for (platform, numbers) in named {
        let mut new = numbers.clone();
        for claim in claims.iter().filter(|c| c.platform == *platform) {
            new.subtract(&claim.numbers);
        }
        if !new.is_empty() {
            claims.push(NumberClaim {
                platform: platform.clone(),
                numbers: new,
                at: now,
            });
        }
    }
}

/// The parts of `numbers` (which the object `uid`, described by `me`, names on
/// `platform`) that another object ranks above it for, by that object's uid: the
/// other objects are found through the stretches the numbers fall in, and compared
/// part by part (a part of each being claimed at one time, or unclaimed).
fn numbers_beaten<K: Owned>(
    state: &LedgerState<K>,
    uid: &str,
    me: &Entry,
    platform: &Name,
    numbers: &NumberSet,
) -> Vec<(Uid, NumberSet)> {
    let candidates: BTreeSet<&Uid> = stretches(numbers)
        .into_iter()
        .filter_map(|s| {
            state
                .by_identity
                .get(&IndexKey::Stretch(platform.clone(), s))
        })
        .flatten()
        .filter(|other| &***other != uid)
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let mine = me.number_ranks(uid, platform, numbers, &state.granted_numbers);
    let mut beaten = Vec::new();
    for other in candidates {
        let Some(entry) = state.entries.get(other) else {
            continue;
        };
        let Some(theirs) = entry.numbers(platform) else {
            continue;
        };
        let overlap = numbers.intersection(theirs);
        if overlap.is_empty() {
            continue;
        }
        let mut lost = NumberSet::new();
        for (their_part, their_rank) in
            entry.number_ranks(other, platform, &overlap, &state.granted_numbers)
        {
            for (my_part, my_rank) in &mine {
                if their_rank < *my_rank {
                    lost.add(&their_part.intersection(my_part));
                }
            }
        }
        if !lost.is_empty() {
            beaten.push((other.clone(), lost));
        }
    }
    beaten
}

/// The strongest object other than `uid` that names `identity` (not numbers), and its
/// uid.
fn strongest_other<K: Owned>(
    state: &LedgerState<K>,
    uid: &str,
    identity: &Identity,
) -> Option<(Rank, Uid)> {
    state
        .by_identity
        .get(&IndexKey::Exact(identity.clone()))
        .into_iter()
        .flatten()
        .filter(|other| &***other != uid)
        .filter_map(|other| {
            state
                .entries
                .get(other)
                .map(|e| (e.rank(other, identity, &state.granted), other.clone()))
        })
        .min_by(|a, b| a.0.cmp(&b.0))
}

/// `namespace/name`.
fn key_name<K: Kind>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

/// Brings the entries up to date with the cache: every object after a new listing or
/// a change of what entries depend on, otherwise only the objects whose watch events
/// came since the last time.
fn refresh<K: Owned>(state: &mut LedgerState<K>, store: &Store<K>, stores: &Stores) {
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

fn forget_entry<K: Owned>(state: &mut LedgerState<K>, uid: &str) {
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

fn update_entry<K: Owned>(state: &mut LedgerState<K>, uid: Uid, obj: &K, stores: &Stores) {
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

fn unindex(by_identity: &mut HashMap<IndexKey, Vec<Uid>>, uid: &str, identities: &[Identity]) {
    for key in identities.iter().flat_map(index_keys) {
        if let Some(uids) = by_identity.get_mut(&key) {
            uids.retain(|u| &**u != uid);
            if uids.is_empty() {
                by_identity.remove(&key);
            }
        }
    }
}

/// The ledgers of every kind that owns platform objects.
#[derive(Default)]
pub struct Ownership {
    pub customers: Ledger<OCCustomer>,
    pub blocks: Ledger<OCNumberBlock>,
    pub sites: Ledger<OCSipConnection>,
    pub plans: Ledger<OCDialPlan>,
    pub users: Ledger<OCEndUser>,
    /// The generation of every customer seen, by uid (see `customer_observed`).
    customer_generations: Locked<HashMap<String, Option<i64>>>,
}

impl Ownership {
    pub fn ledger<K: Owned>(&self) -> &Ledger<K> {
        K::ledger(self)
    }

    /// Learns of a watch event of OCCustomer. What a dependent names on the platform
    /// depends on its customer (its uid and spec): when a customer appears, goes or
    /// changes its spec, the entries of the objects naming it are looked at again
    /// (every entry after a new listing of customers).
    pub fn customer_observed(&self, event: &watcher::Event<OCCustomer>) {
        self.customers.observed(event);
        let changed = match event {
            watcher::Event::Apply(c) => {
                let key = c.uid().unwrap_or_default();
                let mut known = self.customer_generations.lock();
                (known.insert(key, c.metadata.generation) != Some(c.metadata.generation))
                    .then_some(c)
            }
            watcher::Event::Delete(c) => {
                let key = c.uid().unwrap_or_default();
                self.customer_generations.lock().remove(&key);
                Some(c)
            }
            watcher::Event::InitDone => {
                self.blocks.look_at_everything();
                self.sites.look_at_everything();
                self.plans.look_at_everything();
                self.users.look_at_everything();
                None
            }
            _ => None,
        };
        if let Some(customer) = changed {
            let customer = Reference::of(customer);
            self.blocks.look_at_referrers(&customer);
            self.sites.look_at_referrers(&customer);
            self.plans.look_at_referrers(&customer);
            self.users.look_at_referrers(&customer);
        }
    }

    /// Learns of a watch event of OCSipConnection: the dial plans naming it are looked
    /// at again (every plan after a new listing of SIP connections).
    pub fn site_observed(&self, event: &watcher::Event<OCSipConnection>) {
        self.sites.observed(event);
        match event {
            watcher::Event::Apply(site) | watcher::Event::Delete(site) => {
                self.plans.look_at_referrers(&Reference::of(site));
            }
            watcher::Event::InitDone => self.plans.look_at_everything(),
            _ => {}
        }
    }
}

/// What `drive` asks of every kind before its own logic runs.
pub trait Governed: Kind {
    /// The OCPlatform the object is on, when known (what `--platform-selector` scopes).
    fn platform_name(&self, stores: &Stores) -> Option<String>;

    /// Whether the object owns what it names; `None` while that cannot be decided.
    fn verdict(&self, ownership: &Ownership, stores: &Stores) -> Option<Verdict>;

    /// How often its platform checks Ready objects for drift, when known: its
    /// `driftCheckSeconds`, or longer when that many objects would take more than
    /// their share of the platform's budget (see [`super::drift::drift_seconds`]).
    fn drift_seconds(&self, stores: &Stores) -> Option<i64> {
        let name = self.platform_name(stores)?;
        let platform = stores.platform(&name)?;
        Some(super::drift::drift_seconds(
            &platform.spec,
            stores.objects_on(&name),
        ))
    }
}

impl Governed for crate::api::OCPlatform {
    fn platform_name(&self, _stores: &Stores) -> Option<String> {
        self.metadata.name.clone()
    }

    /// An OCPlatform is cluster-scoped and owns nothing on the platform.
    fn verdict(&self, _ownership: &Ownership, _stores: &Stores) -> Option<Verdict> {
        Some(Verdict::Owner)
    }
}

impl Governed for OCCustomer {
    fn platform_name(&self, _stores: &Stores) -> Option<String> {
        Some(self.spec.platform_ref.name.clone())
    }

    fn verdict(&self, ownership: &Ownership, stores: &Stores) -> Option<Verdict> {
        ownership.ledger::<Self>().check(self, stores)
    }
}

macro_rules! governed_through_customer {
    ($($kind:ty),*) => {
        $(
            impl Governed for $kind {
                fn platform_name(&self, stores: &Stores) -> Option<String> {
                    customer_of(self, stores).map(|c| c.spec.platform_ref.name.clone())
                }

                fn verdict(&self, ownership: &Ownership, stores: &Stores) -> Option<Verdict> {
                    ownership.ledger::<Self>().check(self, stores)
                }
            }
        )*
    };
}

governed_through_customer!(OCNumberBlock, OCSipConnection, OCDialPlan, OCEndUser);

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use kube::runtime::reflector::store::Writer;
    use serde_json::json;

    const TENANT: &str = "8d2c5e4f-9a1b-4c3d-8e7f-0a1b2c3d4e5f";

    /// How an object stands when the check runs.
    struct Declared {
        name: &'static str,
        namespace: &'static str,
        platform: &'static str,
        tenant: &'static str,
        /// Seconds after the epoch.
        created: i64,
        /// `status.ownedSince`, seconds after the epoch.
        owned_since: Option<i64>,
        /// `status.leadId` recorded.
        claimed: bool,
    }

    const fn declared(name: &'static str, created: i64) -> Declared {
        Declared {
            name,
            namespace: "a",
            platform: "p",
            tenant: TENANT,
            created,
            owned_since: None,
            claimed: false,
        }
    }

    fn at(seconds: i64) -> String {
        jiff::Timestamp::from_second(seconds)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    fn customer(d: &Declared) -> OCCustomer {
        let mut status = json!({});
        if d.claimed {
            status["leadId"] = json!("lead-1");
        }
        if let Some(since) = d.owned_since {
            status["ownedSince"] = json!(at(since));
        }
        serde_json::from_value(json!({
            "apiVersion": "operatorconnect.io/v1alpha1",
            "kind": "OCCustomer",
            "metadata": {
                "name": d.name, "namespace": d.namespace, "uid": format!("uid-{}", d.name),
                "resourceVersion": "1", "generation": 1, "creationTimestamp": at(d.created),
            },
            "spec": {
                "platformRef": {"name": d.platform},
                "tenantId": d.tenant,
                "companyName": "Contoso", "shortName": "contoso", "fullName": "Contoso Ltd",
                "license": {"type": "OcEssentials"}
            },
            "status": status,
        }))
        .expect("a valid customer")
    }

    fn block(name: &str, created: i64, numbers: &[&str], active: &[&str]) -> OCNumberBlock {
        serde_json::from_value(json!({
            "apiVersion": "operatorconnect.io/v1alpha1",
            "kind": "OCNumberBlock",
            "metadata": {
                "name": name, "namespace": "a", "uid": format!("uid-{name}"),
                "resourceVersion": "1", "generation": 1, "creationTimestamp": at(created),
            },
            "spec": {
                "customerRef": {"name": "c"},
                "numbers": numbers,
                "callingProfileId": "a3f1e2d4-6b7c-4d8e-9f0a-1b2c3d4e5f60",
                "usage": "CallingUserAssignment",
            },
            "status": {"active": active, "ownedSince": if active.is_empty() { json!(null) } else { json!(at(created)) }},
        }))
        .expect("a valid block")
    }

    fn stores_with(customers: &[OCCustomer], blocks: &[OCNumberBlock]) -> Stores {
        let stores = Stores::default();
        let (reader, mut writer) = kube::runtime::reflector::store::<OCCustomer>();
        for c in customers {
            writer.apply_watcher_event(&watcher::Event::Apply(c.clone()));
        }
        stores.set_customers(reader);
        let (reader, mut writer): (_, Writer<OCNumberBlock>) = kube::runtime::reflector::store();
        for b in blocks {
            writer.apply_watcher_event(&watcher::Event::Apply(b.clone()));
        }
        stores.set_blocks(reader);
        stores.set_synced(true);
        stores
    }

    fn owner_of(verdict: &Verdict) -> Option<&str> {
        match verdict {
            Verdict::Owner => None,
            Verdict::Conflict { owner, .. } => Some(owner),
        }
    }

    #[test]
    fn who_owns_a_tenant() {
        // (case, objects, the object checked, the owner it is held by)
        let cases: Vec<(&str, Vec<Declared>, usize, Option<&str>)> = vec![
            (
                "the older of two that claimed nothing",
                vec![declared("first", 10), declared("second", 20)],
                1,
                Some("OCCustomer a/first"),
            ),
            (
                "the older one is the owner",
                vec![declared("first", 10), declared("second", 20)],
                0,
                None,
            ),
            (
                "a claim beats an older object that claimed nothing (after a restart too)",
                vec![
                    declared("older", 10),
                    Declared {
                        owned_since: Some(30),
                        claimed: true,
                        ..declared("claimer", 20)
                    },
                ],
                0,
                Some("OCCustomer a/claimer"),
            ),
            (
                "the earlier claim wins, whatever the creation order",
                vec![
                    Declared {
                        owned_since: Some(50),
                        claimed: true,
                        ..declared("older", 10)
                    },
                    Declared {
                        owned_since: Some(40),
                        claimed: true,
                        ..declared("newer", 20)
                    },
                ],
                0,
                Some("OCCustomer a/newer"),
            ),
            (
                "claims recorded before ownedSince existed rank by creation",
                vec![
                    Declared {
                        claimed: true,
                        ..declared("older", 10)
                    },
                    Declared {
                        claimed: true,
                        ..declared("newer", 20)
                    },
                ],
                1,
                Some("OCCustomer a/older"),
            ),
            (
                "across namespaces",
                vec![
                    Declared {
                        namespace: "owner",
                        owned_since: Some(15),
                        claimed: true,
                        ..declared("contoso", 10)
                    },
                    Declared {
                        namespace: "intruder",
                        ..declared("contoso", 20)
                    },
                ],
                1,
                Some("OCCustomer owner/contoso"),
            ),
            (
                "tenants compare without regard to case",
                vec![
                    declared("first", 10),
                    Declared {
                        tenant: "8D2C5E4F-9A1B-4C3D-8E7F-0A1B2C3D4E5F",
                        ..declared("second", 20)
                    },
                ],
                1,
                Some("OCCustomer a/first"),
            ),
            (
                "the same tenant on another platform is another customer",
                vec![
                    declared("first", 10),
                    Declared {
                        platform: "q",
                        ..declared("second", 20)
                    },
                ],
                1,
                None,
            ),
        ];
        for (case, objects, checked, want) in cases {
            // Distinct uids across namespaces.
            let customers: Vec<OCCustomer> = objects
                .iter()
                .map(|d| {
                    let mut c = customer(d);
                    c.metadata.uid = Some(format!("uid-{}-{}", d.namespace, d.name));
                    c
                })
                .collect();
            let stores = stores_with(&customers, &[]);
            let ledger = Ledger::<OCCustomer>::default();
            let verdict = ledger
                .check(&customers[checked], &stores)
                .expect("decidable");
            assert_eq!(owner_of(&verdict), want, "{case}: {verdict:?}");
        }
    }

    #[test]
    fn a_short_list_keeps_no_room_beyond_its_items() {
        let mut list = Vec::new();
        for n in 0..8 {
            push_short(&mut list, n);
            assert_eq!(list.capacity(), list.len());
        }
        for n in 8..100 {
            push_short(&mut list, n);
        }
        assert_eq!(list, (0..100).collect::<Vec<_>>());
        assert!(list.capacity() < 2 * list.len());
    }

    #[test]
    fn every_table_naming_an_object_shares_one_copy_of_its_uid() {
        let c = customer(&declared("first", 10));
        let stores = stores_with(std::slice::from_ref(&c), &[]);
        let ledger = Ledger::<OCCustomer>::default();
        assert_eq!(ledger.check(&c, &stores), Some(Verdict::Owner));
        let state = ledger.state.lock();
        let (uid, _) = state.entries.iter().next().expect("an entry");
        let indexed = state
            .by_identity
            .values()
            .flatten()
            .next()
            .expect("indexed");
        let (granted, _) = state.granted.iter().next().expect("granted");
        assert!(Arc::ptr_eq(uid, indexed) && Arc::ptr_eq(uid, granted));
        // The entry, the index, the claim granted: three holders, one allocation.
        assert_eq!(Arc::strong_count(uid), 3);
    }

    #[test]
    fn nothing_is_decided_before_the_caches_are_synced() {
        let c = customer(&declared("first", 10));
        let stores = stores_with(std::slice::from_ref(&c), &[]);
        stores.set_synced(false);
        assert_eq!(Ledger::<OCCustomer>::default().check(&c, &stores), None);
    }

    #[test]
    fn a_claim_granted_here_holds_before_its_status_reaches_the_cache() {
        // "late" is older but arrives in the cache after "early" passed the check.
        let early = customer(&declared("early", 20));
        let late = customer(&declared("late", 10));
        let ledger = Ledger::<OCCustomer>::default();
        let stores = stores_with(std::slice::from_ref(&early), &[]);
        assert_eq!(ledger.check(&early, &stores), Some(Verdict::Owner));
        let stores = stores_with(&[early.clone(), late.clone()], &[]);
        let verdict = ledger.check(&late, &stores).expect("decidable");
        assert_eq!(owner_of(&verdict), Some("OCCustomer a/early"));
        assert_eq!(ledger.check(&early, &stores), Some(Verdict::Owner));
    }

    #[test]
    fn a_customers_change_looks_again_at_the_objects_naming_it_and_only_them() {
        let c = customer(&Declared {
            name: "c",
            ..declared("c", 1)
        });
        let d = customer(&Declared {
            name: "d",
            ..declared("d", 2)
        });
        let of_c = block("of-c", 10, &["+14255550100"], &[]);
        let mut of_d = block("of-d", 11, &["+14255550200"], &[]);
        of_d.spec.customer_ref.name = "d".into();
        let stores = stores_with(&[c.clone(), d.clone()], &[of_c.clone(), of_d.clone()]);
        let ownership = Ownership::default();
        // The first decision reads every block.
        assert_eq!(ownership.blocks.check(&of_c, &stores), Some(Verdict::Owner));
        let changed = |ownership: &Ownership| {
            let state = ownership.blocks.state.lock();
            let mut names: Vec<String> = state.changed.values().map(|o| o.name.clone()).collect();
            names.sort();
            (names, state.whole)
        };
        assert_eq!(changed(&ownership), (vec![], false));
        // Customer d seen for the first time, then again unchanged, then changed.
        ownership.customer_observed(&watcher::Event::Apply(d.clone()));
        assert_eq!(changed(&ownership), (vec!["of-d".to_owned()], false));
        assert_eq!(ownership.blocks.check(&of_c, &stores), Some(Verdict::Owner));
        ownership.customer_observed(&watcher::Event::Apply(d.clone()));
        assert_eq!(changed(&ownership), (vec![], false));
        let mut d2 = d.clone();
        d2.metadata.generation = Some(2);
        ownership.customer_observed(&watcher::Event::Apply(d2));
        assert_eq!(changed(&ownership), (vec!["of-d".to_owned()], false));
        // A new listing of customers: every block.
        ownership.customer_observed(&watcher::Event::InitDone);
        assert!(changed(&ownership).1);
    }

    #[test]
    fn a_block_is_held_for_the_numbers_another_owns_and_keeps_its_own() {
        let c = customer(&Declared {
            name: "c",
            ..declared("c", 1)
        });
        let first = block(
            "first",
            10,
            &["+14255550100", "+14255550101"],
            &["+14255550100-+14255550101"],
        );
        let second = block(
            "second",
            20,
            &["+14255550101", "+14255550102"],
            &["+14255550102"],
        );
        let stores = stores_with(std::slice::from_ref(&c), &[first.clone(), second.clone()]);
        let ledger = Ledger::<OCNumberBlock>::default();
        assert_eq!(ledger.check(&first, &stores), Some(Verdict::Owner));
        let numbers = |n: &[&str]| Identity::Numbers {
            platform: "p".into(),
            numbers: n.iter().collect(),
        };
        assert_eq!(
            ledger.check(&second, &stores),
            Some(Verdict::Conflict {
                owner: "OCNumberBlock a/first".into(),
                identities: vec![numbers(&["+14255550101"])],
                owns_claimed: true,
            })
        );
        let others = ledger.numbers_owned_by_others(
            &second,
            &["+14255550101", "+14255550102"].iter().collect(),
            &stores,
        );
        assert_eq!(others.to_ranges(), ["+14255550101"]);
    }

    fn ranged_block(
        name: &str,
        created: i64,
        start: &str,
        end: &str,
        active: &[&str],
    ) -> OCNumberBlock {
        let mut b = block(name, created, &[], active);
        b.spec.numbers.clear();
        b.spec.ranges = vec![
            serde_json::from_value(json!({"start": start, "end": end})).expect("a valid range"),
        ];
        b
    }

    #[test]
    fn blocks_meet_where_their_ranges_overlap_however_large() {
        let c = customer(&declared("c", 1));
        // 100,000 numbers claimed, and a later block that reaches into them across a
        // stretch boundary and beyond their end.
        let large = ranged_block(
            "large",
            10,
            "+14250000000",
            "+14250099999",
            &["+14250000000-+14250099999"],
        );
        let late = ranged_block("late", 20, "+14250099990", "+14250100009", &[]);
        let apart = ranged_block("apart", 30, "+14250100010", "+14250100019", &[]);
        let stores = stores_with(
            std::slice::from_ref(&c),
            &[large.clone(), late.clone(), apart.clone()],
        );
        let ledger = Ledger::<OCNumberBlock>::default();
        assert_eq!(ledger.check(&apart, &stores), Some(Verdict::Owner));
        let verdict = ledger.check(&late, &stores).expect("decidable");
        let Verdict::Conflict {
            owner, identities, ..
        } = &verdict
        else {
            panic!("not held: {verdict:?}");
        };
        assert_eq!(owner, "OCNumberBlock a/large");
        assert_eq!(describe(identities), "numbers +14250099990-+14250099999");
        assert_eq!(ledger.check(&large, &stores), Some(Verdict::Owner));
    }

    #[test]
    fn numbers_granted_later_rank_by_when_they_were_granted() {
        let c = customer(&declared("c", 1));
        let first = block("first", 10, &["+14255550100"], &[]);
        let second = block("second", 20, &["+14255550101"], &[]);
        let stores = stores_with(std::slice::from_ref(&c), &[first.clone(), second.clone()]);
        let ledger = Ledger::<OCNumberBlock>::default();
        assert_eq!(ledger.check(&first, &stores), Some(Verdict::Owner));
        assert_eq!(ledger.check(&second, &stores), Some(Verdict::Owner));
        // The older block then declares the younger one's number too: the younger
        // one's grant came first, so the older one is held for that number alone.
        let mut grown = first.clone();
        grown
            .spec
            .numbers
            .push(serde_json::from_value(json!("+14255550101")).expect("a number"));
        grown.metadata.resource_version = Some("2".into());
        let stores = stores_with(std::slice::from_ref(&c), &[grown.clone(), second.clone()]);
        ledger.observed(&watcher::Event::Apply(grown.clone()));
        let verdict = ledger.check(&grown, &stores).expect("decidable");
        assert_eq!(
            verdict,
            Verdict::Conflict {
                owner: "OCNumberBlock a/second".into(),
                identities: vec![Identity::Numbers {
                    platform: "p".into(),
                    numbers: ["+14255550101"].iter().collect(),
                }],
                owns_claimed: true,
            }
        );
        assert_eq!(ledger.check(&second, &stores), Some(Verdict::Owner));
    }

    #[tokio::test]
    async fn a_held_object_is_woken_when_its_owner_changes_or_goes() {
        let owner = customer(&declared("owner", 10));
        let copy = customer(&declared("copy", 20));
        let stores = stores_with(&[owner.clone(), copy.clone()], &[]);
        let ledger = Ledger::<OCCustomer>::default();
        let mut woken = ledger.triggers();
        assert!(matches!(
            ledger.check(&copy, &stores),
            Some(Verdict::Conflict { .. })
        ));
        // Another object's change wakes nobody.
        ledger.observed(&watcher::Event::Apply(copy.clone()));
        ledger.observed(&watcher::Event::Delete(owner.clone()));
        assert_eq!(woken.next().await, Some(ObjectRef::from_obj(&copy)));
        drop(ledger);
        assert_eq!(woken.next().await, None, "woken more than once");
    }

    #[test]
    fn messages_name_numbers_as_ranges() {
        let n = |x: &[&str]| Identity::Numbers {
            platform: "p".into(),
            numbers: x.iter().collect(),
        };
        assert_eq!(
            describe(&[n(&["+14255550101", "+14255550100"]), n(&["+14255550200"])]),
            "numbers +14255550100-+14255550101, +14255550200"
        );
        assert_eq!(describe(&[n(&["+14255550101"])]), "number +14255550101");
        let verdict = Verdict::Conflict {
            owner: "OCCustomer owner/contoso".into(),
            identities: vec![Identity::Tenant {
                platform: "p".into(),
                tenant: TENANT.into(),
            }],
            owns_claimed: false,
        };
        let message = verdict.message("OCCustomer").unwrap_or_default();
        assert!(
            message.contains("OCCustomer owner/contoso") && message.contains(TENANT),
            "{message}"
        );
    }
}
