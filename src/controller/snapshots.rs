//! What this process saw of each tenant's lead and customer a moment ago: the reads
//! and answers of one reconcile serve the next ones of the same customer for a short
//! while (onboarding is a few reconciles seconds apart), instead of asking the
//! platform again for what cannot have changed. A snapshot serves only the object
//! that took it, unchanged since (same generation, labels, annotations; not being
//! deleted): a person who changes the object gets a fresh look. The window is
//! shorter than any drift interval (30 s at least), so a drift check always reads the
//! platform. A write forgets what it may change before it is sent: after a lost
//! answer the platform is looked up, never a snapshot.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use liveplatform::model::{CustomerDetails, Lead};

use crate::locked::Locked;

/// How long a snapshot serves.
pub const WINDOW: Duration = Duration::from_secs(20);

/// Values kept for [`WINDOW`] after they were seen, with the version of the object
/// that saw them.
#[derive(Debug)]
struct Recent<K, V> {
    seen: Locked<HashMap<K, (Instant, Seer, V)>>,
}

/// The version of the object that took a snapshot (see [`seer`]).
pub type Seer = u64;

/// What a snapshot's object must still be for the snapshot to serve it.
pub fn seer<K: kube::Resource>(obj: &K) -> Seer {
    use std::hash::Hasher;
    let meta = obj.meta();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    meta.uid.hash(&mut hasher);
    meta.generation.hash(&mut hasher);
    meta.deletion_timestamp.is_some().hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.labels.hash(&mut hasher);
    hasher.finish()
}

impl<K: Eq + Hash, V: Clone> Recent<K, V> {
    fn new() -> Self {
        Recent {
            seen: Locked::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K, by: Seer) -> Option<V> {
        let mut seen = self.seen.lock();
        match seen.get(key) {
            Some((at, seer, value)) if at.elapsed() < WINDOW => {
                (*seer == by).then(|| value.clone())
            }
            Some(_) => {
                seen.remove(key);
                None
            }
            None => None,
        }
    }

    fn put(&self, key: K, by: Seer, value: V) {
        let mut seen = self.seen.lock();
        seen.retain(|_, (at, _, _)| at.elapsed() < WINDOW);
        seen.insert(key, (Instant::now(), by, value));
    }

    fn forget(&self, key: &K) {
        self.seen.lock().remove(key);
    }
}

/// A platform's name and a tenant or customer id on it.
type On = (String, String);

/// The leads (by platform and tenant) and customers (by platform and customer id)
/// seen in the last moments.
#[derive(Debug)]
pub struct TenantSnapshots {
    leads: Recent<On, Option<Lead>>,
    customers: Recent<On, CustomerDetails>,
}

impl Default for TenantSnapshots {
    fn default() -> Self {
        TenantSnapshots {
            leads: Recent::new(),
            customers: Recent::new(),
        }
    }
}

fn on(platform: &str, id: &str) -> On {
    (platform.to_owned(), id.to_ascii_lowercase())
}

impl TenantSnapshots {
    /// The tenant's lead as last seen by `by`, if seen within the window.
    pub fn lead(&self, platform: &str, tenant: &str, by: Seer) -> Option<Option<Lead>> {
        self.leads.get(&on(platform, tenant), by)
    }

    pub fn saw_lead(&self, platform: &str, tenant: &str, by: Seer, lead: Option<Lead>) {
        self.leads.put(on(platform, tenant), by, lead);
    }

    pub fn forget_lead(&self, platform: &str, tenant: &str) {
        self.leads.forget(&on(platform, tenant));
    }

    /// The customer as last seen by `by`, if seen within the window.
    pub fn customer(&self, platform: &str, guid: &str, by: Seer) -> Option<CustomerDetails> {
        self.customers.get(&on(platform, guid), by)
    }

    pub fn saw_customer(&self, platform: &str, guid: &str, by: Seer, details: CustomerDetails) {
        self.customers.put(on(platform, guid), by, details);
    }

    pub fn forget_customer(&self, platform: &str, guid: &str) {
        self.customers.forget(&on(platform, guid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_serves_within_its_window_and_is_forgotten_on_request() {
        let snapshots = TenantSnapshots::default();
        assert_eq!(snapshots.lead("lp", "T", 1), None);
        snapshots.saw_lead("lp", "T", 1, None);
        assert_eq!(
            snapshots.lead("lp", "t", 1),
            Some(None),
            "tenants compare without case"
        );
        assert_eq!(snapshots.lead("other", "t", 1), None, "per platform");
        assert_eq!(
            snapshots.lead("lp", "t", 2),
            None,
            "the object changed since"
        );
        snapshots.forget_lead("lp", "t");
        assert_eq!(snapshots.lead("lp", "t", 1), None);
    }

    #[test]
    fn an_old_snapshot_is_not_served() {
        let recent: Recent<u8, u8> = Recent::new();
        let old = Instant::now()
            .checked_sub(WINDOW)
            .expect("uptime longer than the window");
        recent.seen.lock().insert(1, (old, 0, 7));
        assert_eq!(recent.get(&1, 0), None);
        recent.put(1, 0, 8);
        assert_eq!(recent.get(&1, 0), Some(8));
    }
}
