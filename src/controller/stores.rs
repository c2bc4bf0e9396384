//! The controllers' watch caches, one per kind, readable by every reconcile (to resolve
//! a reference without asking the apiserver, and to decide ownership), and whether all
//! of them hold their first listing.

use std::sync::{Arc, RwLock};

use kube::runtime::reflector::{ObjectRef, Store};

use super::kind::CustomerOwned;

use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCPlatform, OCSipConnection};

/// The watch caches of the running controllers (empty before they start).
pub struct Stores {
    platforms: RwLock<Option<Store<OCPlatform>>>,
    customers: RwLock<Option<Store<OCCustomer>>>,
    blocks: RwLock<Option<Store<OCNumberBlock>>>,
    sites: RwLock<Option<Store<OCSipConnection>>>,
    plans: RwLock<Option<Store<OCDialPlan>>>,
    users: RwLock<Option<Store<OCEndUser>>>,
    synced: tokio::sync::watch::Sender<bool>,
}

impl Default for Stores {
    fn default() -> Self {
        Self {
            platforms: RwLock::default(),
            customers: RwLock::default(),
            blocks: RwLock::default(),
            sites: RwLock::default(),
            plans: RwLock::default(),
            users: RwLock::default(),
            synced: tokio::sync::watch::Sender::new(false),
        }
    }
}

fn read<T: Clone>(slot: &RwLock<Option<T>>) -> Option<T> {
    // A store handle is replaced whole; a poisoned lock still holds a valid one.
    slot.read().unwrap_or_else(|e| e.into_inner()).clone()
}

fn write<T>(slot: &RwLock<Option<T>>, value: T) {
    *slot.write().unwrap_or_else(|e| e.into_inner()) = Some(value);
}

macro_rules! store_access {
    ($($field:ident, $set:ident, $kind:ty;)*) => {
        impl Stores {
            $(
                pub fn $field(&self) -> Option<Store<$kind>> {
                    read(&self.$field)
                }

                pub fn $set(&self, store: Store<$kind>) {
                    write(&self.$field, store);
                }
            )*
        }
    };
}

store_access! {
    platforms, set_platforms, OCPlatform;
    customers, set_customers, OCCustomer;
    blocks, set_blocks, OCNumberBlock;
    sites, set_sites, OCSipConnection;
    plans, set_plans, OCDialPlan;
    users, set_users, OCEndUser;
}

impl Stores {
    /// Whether every cache holds its first full listing (since the controllers last
    /// started).
    pub fn synced(&self) -> bool {
        *self.synced.borrow()
    }

    pub fn set_synced(&self, synced: bool) {
        self.synced.send_replace(synced);
    }

    /// Resolves once every cache holds its first full listing.
    pub async fn wait_synced(&self) {
        let mut receiver = self.synced.subscribe();
        // The sender lives as long as `self`: waiting cannot fail while we borrow it.
        let _ = receiver.wait_for(|synced| *synced).await;
    }

    /// OCPlatform `name` as cached (only the platforms `--platform-selector` selects).
    pub fn platform(&self, name: &str) -> Option<Arc<OCPlatform>> {
        self.platforms()?.get(&ObjectRef::new(name))
    }

    /// OCCustomer `namespace/name` as cached.
    pub fn customer(&self, namespace: &str, name: &str) -> Option<Arc<OCCustomer>> {
        self.customers()?
            .get(&ObjectRef::new(name).within(namespace))
    }

    /// OCSipConnection `namespace/name` as cached.
    pub fn site(&self, namespace: &str, name: &str) -> Option<Arc<OCSipConnection>> {
        self.sites()?.get(&ObjectRef::new(name).within(namespace))
    }

    /// The number blocks of customer `customer` in `namespace`.
    pub fn blocks_of(&self, namespace: &str, customer: &str) -> Vec<Arc<OCNumberBlock>> {
        self.blocks()
            .map(|store| store.state())
            .unwrap_or_default()
            .into_iter()
            .filter(|b| b.metadata.namespace.as_deref() == Some(namespace))
            .filter(|b| b.spec.customer_ref.name == customer)
            .collect()
    }

    /// How many objects are on OCPlatform `name`: the platform, its customers, and
    /// their number blocks, SIP connections, dial plans and end users.
    pub fn objects_on(&self, name: &str) -> usize {
        use std::collections::HashSet;
        let customers: HashSet<(String, String)> = self
            .customers()
            .map(|s| s.state())
            .unwrap_or_default()
            .iter()
            .filter(|c| c.spec.platform_ref.name == name)
            .map(|c| {
                (
                    c.metadata.namespace.clone().unwrap_or_default(),
                    c.metadata.name.clone().unwrap_or_default(),
                )
            })
            .collect();
        fn of<K: CustomerOwned>(
            store: Option<Store<K>>,
            customers: &HashSet<(String, String)>,
        ) -> usize {
            store
                .map(|s| s.state())
                .unwrap_or_default()
                .iter()
                .filter(|o| {
                    let key = (
                        o.meta().namespace.clone().unwrap_or_default(),
                        o.customer().to_owned(),
                    );
                    customers.contains(&key)
                })
                .count()
        }
        1 + customers.len()
            + of(self.blocks(), &customers)
            + of(self.sites(), &customers)
            + of(self.plans(), &customers)
            + of(self.users(), &customers)
    }

    /// Whether this operator manages OCPlatform `name` (it passed `--platform-selector`
    /// and is in the cache).
    pub fn manages_platform(&self, name: &str) -> bool {
        self.platform(name).is_some()
    }
}
