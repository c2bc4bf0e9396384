//! The ledgers of every kind together ([`Ownership`]), and what wakes the objects that
//! wait for an owner.

use std::collections::HashMap;

use kube::ResourceExt;
use kube::runtime::watcher;

use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};
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
