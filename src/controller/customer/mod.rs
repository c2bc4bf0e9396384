//! The life of an `OCCustomer`: validate the tenant; create (or adopt) the consentless
//! lead; put it in its channel; create (or adopt) the customer and follow the task;
//! bring the licence to the spec; publish licence info. On delete: delete its
//! dependents and wait for them, then delete the service and the lead (or orphan them).
//!
//! Read in this order: this file (where a customer works, and what it does before its
//! finalizer), `seen` (what is seen: [`Seen`], [`Known`], the steps), `planner` (the
//! pure [`plan`] and [`plan_deletion`]), `act` (the looks and what is settled) and
//! `writes` (the writes and their requests).

use kube::ResourceExt;

use super::context::Context;
use super::customer_scope::Unscoped;
use super::error::Result;
use super::finalizer;
use super::lifecycle::{Departing, Terms};
use super::platforms;
use super::reconciler::{Reconciler, Scoped, Work};
use super::status::StatusDraft;
use crate::api::OCCustomer;
use crate::api::customer::OCCustomerStatus;
use liveplatform::LivePlatformClient;

mod act;
mod planner;
mod seen;
mod writes;

pub use act::CustomerReconcile;
pub use planner::*;
pub use seen::*;
use writes::*;

type Draft = StatusDraft<OCCustomer>;

impl Departing for OCCustomer {
    const ORPHAN_LEAVES: &'static str = "the lead and the customer stay on the platform";

    /// Its planner decides its deletion: dependents go first.
    fn terms(&self, _status: &OCCustomerStatus) -> Option<Terms> {
        None
    }
}

/// A customer works on its platform; one being deleted works with what its
/// conclusion needs of it (the client is found again by the write that needs it).
impl Scoped for OCCustomer {
    type Place = Option<LivePlatformClient>;

    async fn place(
        &self,
        ctx: &Context,
        draft: &mut Draft,
    ) -> Result<std::result::Result<Option<LivePlatformClient>, Unscoped>> {
        if finalizer::is_deleting(self) {
            return Ok(Ok(None));
        }
        let ns = self.namespace().unwrap_or_default();
        Ok(
            match platforms::access(ctx, &ns, &self.spec.platform_ref.name, draft).await? {
                Some((client, _)) => Ok(Some(client)),
                None => Err(Unscoped::Platform),
            },
        )
    }
}

impl Reconciler for OCCustomer {
    type Found = ();
    type Reconcile<'a> = CustomerReconcile<'a>;

    /// A customer is never without its place while it is deleted.
    fn holds_nothing(_status: &OCCustomerStatus) -> bool {
        false
    }

    async fn reconciling<'a>(
        work: Work<'a, OCCustomer>,
        _found: (),
    ) -> Result<CustomerReconcile<'a>> {
        let client = work.place.clone();
        let mut reconcile = CustomerReconcile {
            work,
            client,
            seen: Seen::default(),
        };
        if !reconcile.work.deleting {
            reconcile.seen = held(&reconcile.known());
        }
        Ok(reconcile)
    }
}
