//! The ledgers of every kind together ([`Ownership`]), and what wakes the objects that
//! wait for an owner.

use std::collections::HashMap;

use kube::ResourceExt;
use kube::runtime::watcher;

use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCPlatform, OCSipConnection};
use crate::locked::Locked;

use super::*;

/// The ledgers of every kind that owns platform objects.
#[derive(Default)]
pub struct Ownership {
    pub customers: Ledger<OCCustomer>,
    pub blocks: Ledger<OCNumberBlock>,
    pub sites: Ledger<OCSipConnection>,
    pub plans: Ledger<OCDialPlan>,
    pub users: Ledger<OCEndUser>,
    /// The generation of every customer seen, and whether it had claimed its tenant,
    /// by uid (see `customer_observed`).
    customer_generations: Locked<HashMap<String, (Option<i64>, bool)>>,
    /// The generation of every OCPlatform seen, by name (see `platform_observed`).
    platform_generations: Locked<HashMap<String, Option<i64>>>,
}

impl Ownership {
    pub fn ledger<K: Owned>(&self) -> &Ledger<K> {
        K::ledger(self)
    }

    /// Learns of a watch event of OCCustomer. What a dependent names on the platform
    /// depends on its customer (its uid and spec, and whether it claimed its tenant):
    /// when a customer appears, goes, changes its spec or claims, the entries of the
    /// objects naming it are looked at again (every entry after a new listing of
    /// customers).
    pub fn customer_observed(&self, event: &watcher::Event<OCCustomer>) {
        self.customers.observed(event);
        let changed = match event {
            watcher::Event::Apply(c) => {
                let key = c.uid().unwrap_or_default();
                let seen = (c.metadata.generation, customer_claimed(c));
                let mut known = self.customer_generations.lock();
                (known.insert(key, seen) != Some(seen)).then_some(c)
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

    /// Learns of a watch event of OCPlatform: which namespaces may act on a platform
    /// decides which objects take part in ownership (see [`Owned::takes_part`]), so
    /// every entry of every kind is looked at again when a platform appears, goes or
    /// changes its spec, and after a new listing of platforms. Platforms are few and
    /// change rarely; their status writes change nothing here.
    pub fn platform_observed(&self, event: &watcher::Event<OCPlatform>) {
        let changed = match event {
            watcher::Event::Apply(p) => {
                let mut known = self.platform_generations.lock();
                known.insert(p.name_any(), p.metadata.generation) != Some(p.metadata.generation)
            }
            watcher::Event::Delete(p) => {
                self.platform_generations.lock().remove(&p.name_any());
                true
            }
            watcher::Event::InitDone => true,
            _ => false,
        };
        if changed {
            self.customers.look_at_everything();
            self.blocks.look_at_everything();
            self.sites.look_at_everything();
            self.plans.look_at_everything();
            self.users.look_at_everything();
        }
    }
}
