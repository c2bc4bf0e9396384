//! What a ledger knows of one object ([`Entry`]), how it ranks for an identity, and how
//! the objects naming an identity or a number are found and compared.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::controller::number_set::NumberSet;
use crate::controller::stores::Stores;

use super::*;

/// How an object ranks for one identity: the smaller, the stronger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Rank {
    pub(super) unclaimed: bool,
    /// The time of the claim (seconds and nanoseconds); zero when unclaimed.
    pub(super) claimed_at: (i64, i32),
    pub(super) created: (i64, i32),
    pub(super) uid: String,
}

pub(super) fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse::<jiff::Timestamp>().ok()
}

pub(super) fn pair(t: jiff::Timestamp) -> (i64, i32) {
    (t.as_second(), t.subsec_nanosecond())
}

/// What the ledger knows of one object.
pub(super) struct Entry {
    pub(super) resource_version: Option<String>,
    /// Whether the object may act (see [`Owned::takes_part`]); one that may not
    /// names no identity here.
    pub(super) takes_part: bool,
    pub(super) depends_on: Vec<(String, Option<i64>)>,
    pub(super) refers_to: Vec<Reference>,
    pub(super) identities: Vec<Identity>,
    /// What of `identities` the status claims (a few at most: a list, not a set,
    /// which would cost a table per object).
    pub(super) claimed: Vec<Identity>,
    pub(super) owned_since: Option<(i64, i32)>,
    pub(super) created: (i64, i32),
    /// `namespace/name`.
    pub(super) key: String,
}

impl Entry {
    pub(super) fn of<K: Owned>(obj: &K, stores: &Stores) -> Self {
        // Kept for as long as the object lives: no room beyond what they hold.
        let takes_part = obj.takes_part(stores);
        let mut identities = if takes_part {
            obj.identities(stores)
        } else {
            Vec::new()
        };
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
            takes_part,
            depends_on,
            refers_to,
            identities,
            claimed,
            owned_since,
            created,
            key: key_name(obj),
        }
    }

    /// Whether this entry still describes `obj` (same version, same customer and site,
    /// and it may still act or not).
    pub(super) fn is_current<K: Owned>(&self, obj: &K, stores: &Stores) -> bool {
        self.resource_version == obj.meta().resource_version
            && self.depends_on == obj.depends_on(stores)
            && self.takes_part == obj.takes_part(stores)
    }

    /// When the status says the object claimed what it claimed: `ownedSince`, or its
    /// creation for a claim made before `ownedSince` existed.
    pub(super) fn persisted_claim(&self) -> (i64, i32) {
        self.owned_since.unwrap_or(self.created)
    }

    pub(super) fn rank_at(&self, uid: &str, claimed_at: Option<(i64, i32)>) -> Rank {
        Rank {
            unclaimed: claimed_at.is_none(),
            claimed_at: claimed_at.unwrap_or_default(),
            created: self.created,
            uid: uid.to_owned(),
        }
    }

    /// How the object ranks for `identity` (not numbers), with the claims granted by
    /// this process.
    pub(super) fn rank(&self, uid: &str, identity: &Identity, granted: &Granted) -> Rank {
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
    pub(super) fn numbers(&self, platform: &Name) -> Option<&NumberSet> {
        numbers_on(&self.identities, platform)
    }

    /// How the object ranks for each part of `within` (numbers it names on
    /// `platform`): the parts it claimed, each by the earliest claim (granted here or
    /// recorded in status), and the unclaimed rest.
    pub(super) fn number_ranks(
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

/// An object's uid, shared by every table of a ledger that names the object (at a few
/// thousand objects, a copy per table cost more than the entries).
pub(super) type Uid = Arc<str>;

/// Appends `item` to a list that stays short (an object's identities and claims, the
/// few objects naming one identity or one customer): grown one place at a time, not
/// doubled, while it is short, since most such lists hold one or two items and a
/// doubled list would keep room for four.
pub(super) fn push_short<T>(list: &mut Vec<T>, item: T) {
    if list.len() == list.capacity() {
        list.reserve_exact(if list.len() < 8 { 1 } else { list.len() });
    }
    list.push(item);
}

/// Claims granted by this process: uid -> each identity with when (an object names
/// a few identities: a list per object, not a table).
pub(super) type Granted = HashMap<Uid, Vec<(Identity, jiff::Timestamp)>>;

/// Numbers granted to one object at one time.
pub(super) struct NumberClaim {
    pub(super) platform: Name,
    pub(super) numbers: NumberSet,
    pub(super) at: jiff::Timestamp,
}

/// Number claims this process granted: uid -> its claims, oldest first.
pub(super) type GrantedNumbers = HashMap<Uid, Vec<NumberClaim>>;

/// How the ledger finds the objects that name an identity: by the identity itself, or,
/// for numbers, by the stretches of numbers they fall in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum IndexKey {
    Exact(Identity),
    /// Numbers of one platform whose keys share their bits above [`STRETCH_BITS`].
    Stretch(Name, u64),
}

/// A stretch holds 16,384 consecutive numbers: a block of 505,000 numbers is found
/// under about 31 keys, one of 100 numbers under one or two.
pub(super) const STRETCH_BITS: u32 = 14;

/// The stretches of numbers `numbers` falls in.
pub(super) fn stretches(numbers: &NumberSet) -> BTreeSet<u64> {
    numbers
        .key_ranges()
        .flat_map(|r| (r.start() >> STRETCH_BITS)..=(r.end() >> STRETCH_BITS))
        .collect()
}

/// Where `identity` is found in the index.
pub(super) fn index_keys(identity: &Identity) -> Vec<IndexKey> {
    match identity {
        Identity::Numbers { platform, numbers } => stretches(numbers)
            .into_iter()
            .map(|s| IndexKey::Stretch(platform.clone(), s))
            .collect(),
        other => vec![IndexKey::Exact(other.clone())],
    }
}

/// Keeps the number claims granted to one object to the numbers it names now, and
/// grants it those it had not been granted yet, at `now`.
pub(super) fn grant_numbers(
    claims: &mut Vec<NumberClaim>,
    named: &[(Name, NumberSet)],
    now: jiff::Timestamp,
) {
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
pub(super) fn numbers_beaten<K: Owned>(
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
pub(super) fn strongest_other<K: Owned>(
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
