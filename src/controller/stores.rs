//! The controllers' watch caches, one per kind, readable by every reconcile (to resolve
//! a reference without asking the apiserver, and to decide ownership), their indexes
//! of which object names which, and whether all of them hold their first listing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::kind::CustomerOwned;
use super::referrers::{Named, Referrers};
use crate::locked::Locked;

use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCPlatform, OCSipConnection};

/// The watch caches of the running controllers (empty before they start).
pub struct Stores {
    platforms: Locked<Option<Store<OCPlatform>>>,
    customers: Locked<Option<Store<OCCustomer>>>,
    blocks: Locked<Option<Store<OCNumberBlock>>>,
    sites: Locked<Option<Store<OCSipConnection>>>,
    plans: Locked<Option<Store<OCDialPlan>>>,
    users: Locked<Option<Store<OCEndUser>>>,
    /// The customers of each OCPlatform.
    pub customers_by_platform: Referrers<OCCustomer>,
    /// The objects of each customer, one index per kind.
    pub blocks_by_customer: Referrers<OCNumberBlock>,
    pub sites_by_customer: Referrers<OCSipConnection>,
    pub plans_by_customer: Referrers<OCDialPlan>,
    pub users_by_customer: Referrers<OCEndUser>,
    /// The dial plans of each OCSipConnection.
    pub plans_by_site: Referrers<OCDialPlan>,
    /// How many objects each OCPlatform had when last counted, and when.
    counted: Locked<HashMap<String, (Instant, usize)>>,
    synced: tokio::sync::watch::Sender<bool>,
}

/// How long a count of the objects on a platform stands: the drift period it sets
/// changes with thousands of objects, not with one, and counting at every reconcile
/// would go through every customer of the platform each time.
const COUNT_STANDS: Duration = Duration::from_secs(1);

fn platform_of(customer: &OCCustomer) -> Option<Named<'_>> {
    Some((None, &customer.spec.platform_ref.name))
}

fn customer_of<K: CustomerOwned>(obj: &K) -> Option<Named<'_>> {
    Some((obj.meta().namespace.as_deref(), obj.customer()))
}

fn site_of(plan: &OCDialPlan) -> Option<Named<'_>> {
    let site = plan.spec.sip_connection_ref.as_ref()?;
    Some((plan.metadata.namespace.as_deref(), &site.name))
}

impl Default for Stores {
    fn default() -> Self {
        Self {
            platforms: Locked::default(),
            customers: Locked::default(),
            blocks: Locked::default(),
            sites: Locked::default(),
            plans: Locked::default(),
            users: Locked::default(),
            customers_by_platform: Referrers::new(platform_of),
            blocks_by_customer: Referrers::new(customer_of),
            sites_by_customer: Referrers::new(customer_of),
            plans_by_customer: Referrers::new(customer_of),
            users_by_customer: Referrers::new(customer_of),
            plans_by_site: Referrers::new(site_of),
            counted: Locked::default(),
            synced: tokio::sync::watch::Sender::new(false),
        }
    }
}

/// A kind whose watch cache the stores hold.
pub trait Cached: super::kind::Kind {
    /// Whether the cache still holds the object (by namespace and name): its watch has
    /// not seen it deleted. Before the cache is known, it is taken to.
    fn still_cached(&self, stores: &Stores) -> bool;
}

macro_rules! store_access {
    ($($field:ident, $set:ident, $kind:ty;)*) => {
        impl Stores {
            $(
                pub fn $field(&self) -> Option<Store<$kind>> {
                    self.$field.get()
                }

                pub fn $set(&self, store: Store<$kind>) {
                    *self.$field.lock() = Some(store);
                }
            )*
        }

        $(
            impl Cached for $kind {
                fn still_cached(&self, stores: &Stores) -> bool {
                    stores
                        .$field()
                        .is_none_or(|store| store.get(&super::kind::found_by(self)).is_some())
                }
            }
        )*
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
        let Some(store) = self.blocks() else {
            return Vec::new();
        };
        self.blocks_by_customer
            .of(Some(namespace), customer)
            .iter()
            .filter_map(|found| store.get(found))
            .collect()
    }

    /// How many objects are on OCPlatform `name`: the platform, its customers, and
    /// their number blocks, SIP connections, dial plans and end users; counted at most
    /// once a second (see [`COUNT_STANDS`]).
    pub fn objects_on(&self, name: &str) -> usize {
        let now = Instant::now();
        let mut counted = self.counted.lock();
        if let Some((at, count)) = counted.get(name)
            && now.duration_since(*at) < COUNT_STANDS
        {
            return *count;
        }
        let count = 1 + self
            .customers_by_platform
            .of(None, name)
            .iter()
            .map(|customer| {
                let namespace = customer.namespace.as_deref();
                let customer = customer.name.as_str();
                1 + self.blocks_by_customer.count(namespace, customer)
                    + self.sites_by_customer.count(namespace, customer)
                    + self.plans_by_customer.count(namespace, customer)
                    + self.users_by_customer.count(namespace, customer)
            })
            .sum::<usize>();
        counted.insert(name.to_owned(), (now, count));
        count
    }

    /// Learns of a watch event of kind `K`, once its cache holds it: the indexes of
    /// that kind follow it.
    pub fn observed<K: Indexed>(&self, event: &watcher::Event<K>) {
        K::index(self, event);
    }

    /// Whether this operator manages OCPlatform `name` (it passed `--platform-selector`
    /// and is in the cache).
    pub fn manages_platform(&self, name: &str) -> bool {
        self.platform(name).is_some()
    }
}

/// A kind the stores index by what its objects name.
pub trait Indexed: super::kind::Kind {
    /// Brings the indexes of this kind up to date with `event`.
    fn index(stores: &Stores, event: &watcher::Event<Self>);
}

macro_rules! indexed {
    ($($kind:ty: $cache:ident => $($index:ident),+;)*) => {
        $(
            impl Indexed for $kind {
                fn index(stores: &Stores, event: &watcher::Event<Self>) {
                    if let Some(store) = stores.$cache() {
                        $(stores.$index.observed(event, &store);)+
                    }
                }
            }
        )*
    };
}

indexed! {
    OCCustomer: customers => customers_by_platform;
    OCNumberBlock: blocks => blocks_by_customer;
    OCSipConnection: sites => sites_by_customer;
    OCDialPlan: plans => plans_by_customer, plans_by_site;
    OCEndUser: users => users_by_customer;
}
