//! What `drive` asks of every kind before its own logic runs ([`Governed`]).

use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};
use crate::controller::kind::Kind;
use crate::controller::stores::Stores;

use super::*;

/// What `drive` asks of every kind before its own logic runs.
pub trait Governed: Kind {
    /// The OCPlatform the object is on, when known (what `--platform-selector` scopes).
    fn platform_name(&self, stores: &Stores) -> Option<String>;

    /// Whether the object owns what it names; `None` while that cannot be decided.
    fn verdict(&self, ownership: &Ownership, stores: &Stores) -> Option<Verdict>;

    /// How often its platform checks Ready objects for drift, when known: its
    /// `driftCheckSeconds`, or longer when that many objects would take more than
    /// their share of the platform's budget (see [`crate::controller::drift::drift_seconds`]).
    fn drift_seconds(&self, stores: &Stores) -> Option<i64> {
        let name = self.platform_name(stores)?;
        let platform = stores.platform(&name)?;
        Some(crate::controller::drift::drift_seconds(
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
