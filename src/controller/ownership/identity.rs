//! What an object names on the platform ([`Identity`]), how each kind names it
//! ([`Owned`]), and how objects refer to each other ([`Reference`]).

use std::fmt;
use std::sync::Arc;

use kube::ResourceExt;
use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;

use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};
use crate::controller::kind::{CustomerOwned, Kind};
use crate::controller::number_set::NumberSet;
use crate::controller::stores::Stores;

use super::*;

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
pub(super) fn customer_reference<K: CustomerOwned>(obj: &K) -> Reference {
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

    /// Whether the object may act at all, and so take part in ownership: an object
    /// that may not act claims nothing and never wins, whatever its age. A customer
    /// may act when its OCPlatform is known and allows its namespace; a dependent when
    /// its customer may act and has claimed its tenant (which only the tenant's owner
    /// does). Without this, a namespace the platform refuses, or a copy of a tenant
    /// held in `Conflict`, would squat what it names: an older object wins among
    /// objects that claimed nothing.
    fn takes_part(&self, stores: &Stores) -> bool;

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
pub(super) fn customer_of<K: CustomerOwned>(obj: &K, stores: &Stores) -> Option<Arc<OCCustomer>> {
    stores.customer(&obj.namespace().unwrap_or_default(), obj.customer())
}

/// Whether `customer` may act: its OCPlatform is in the cache and allows its
/// namespace.
pub(super) fn customer_may_act(customer: &OCCustomer, stores: &Stores) -> bool {
    stores
        .platform(&customer.spec.platform_ref.name)
        .is_some_and(|p| {
            p.spec
                .allows_namespace(&customer.namespace().unwrap_or_default())
        })
}

/// Whether `customer` claimed its tenant: it recorded a lead, a customer id or a
/// write in flight, which only the tenant's owner does.
pub(super) fn customer_claimed(customer: &OCCustomer) -> bool {
    customer
        .status
        .as_ref()
        .is_some_and(OCCustomer::records_claim)
}

/// Whether a dependent of a customer takes part in ownership (see
/// [`Owned::takes_part`]).
pub(super) fn dependent_takes_part<K: CustomerOwned>(obj: &K, stores: &Stores) -> bool {
    customer_of(obj, stores).is_some_and(|c| customer_claimed(&c) && customer_may_act(&c, stores))
}

pub(super) fn customer_dependency<K: CustomerOwned>(
    obj: &K,
    stores: &Stores,
) -> (String, Option<i64>) {
    match customer_of(obj, stores) {
        Some(c) => (c.uid().unwrap_or_default(), c.metadata.generation),
        None => (String::new(), None),
    }
}

pub(super) fn platform_and_tenant(customer: &OCCustomer) -> (Name, Name) {
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

    fn takes_part(&self, stores: &Stores) -> bool {
        customer_may_act(self, stores)
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

    fn takes_part(&self, stores: &Stores) -> bool {
        dependent_takes_part(self, stores)
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

    fn takes_part(&self, stores: &Stores) -> bool {
        dependent_takes_part(self, stores)
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
pub(super) fn site_of(plan: &OCDialPlan, stores: &Stores) -> Option<Arc<OCSipConnection>> {
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

    fn takes_part(&self, stores: &Stores) -> bool {
        dependent_takes_part(self, stores)
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

    fn takes_part(&self, stores: &Stores) -> bool {
        dependent_takes_part(self, stores)
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
