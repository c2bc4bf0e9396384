//! The life of an `OCNumberBlock`: expand the declared numbers; refuse numbers another
//! block declared first; upload the missing ones in requests of at most the platform's
//! limit, following each task (numbers a task fails are validated for the platform's
//! diagnosis, never before they are sent); release numbers that left the spec
//! (unassigning first when the policy allows); on delete, release everything and keep
//! the finalizer until the release succeeded. One write at a time, recorded before it
//! is sent.
//!
//! Read in this order: this file (the reconcile and what the block owns), `seen`
//! (what is seen: [`Seen`], [`Listing`], and the steps), `planner` (the pure
//! [`plan`]), `act` (the calls that carry a step out) and `requests` (the platform's
//! requests built from the spec).

use super::error::Result;
use super::lifecycle::{Departing, Terms};
use super::number_set::NumberSet;
use super::reconciler::{Reconciler, Work};
use super::status::StatusDraft;
use crate::api::OCNumberBlock;
use crate::api::number_block::OCNumberBlockStatus;

mod act;
mod planner;
mod requests;
mod seen;
mod upload_window;

use act::BlockReconcile;
pub use planner::*;
pub use seen::*;

type Draft = StatusDraft<OCNumberBlock>;

/// A running upload whose expected end is this close is looked at together with
/// those already due: the requests of one window were answered milliseconds apart,
/// and their tasks are looked at in one reconcile, not the first ones in one and the
/// rest in the next.
const DUE_TOGETHER: std::time::Duration = std::time::Duration::from_millis(40);

/// At most this many failed numbers are listed in status.
const FAILED_LISTED: usize = 50;

impl Reconciler for OCNumberBlock {
    type Found = ();
    type Reconcile<'a> = BlockReconcile<'a>;

    /// No customer on the platform: a block that never brought a number there has
    /// nothing to release.
    fn holds_nothing(status: &OCNumberBlockStatus) -> bool {
        owned(status).is_empty()
    }

    async fn reconciling<'a>(
        work: Work<'a, OCNumberBlock>,
        _found: (),
    ) -> Result<BlockReconcile<'a>> {
        let others_own = work.ctx.ownership.blocks.numbers_owned_by_others(
            work.obj,
            &owned(&work.draft.status),
            &work.ctx.stores,
        );
        let mut reconcile = BlockReconcile {
            work,
            seen: Seen::default(),
            others_own,
            due_at_start: Vec::new(),
        };
        // Only the running uploads due when the reconcile began are looked at in it:
        // one that comes due while the next requests wait for the budget is left for
        // the next reconcile, so that a large block's reconcile ends once its uploads
        // are sent.
        reconcile.due_at_start = reconcile.running_due().0;
        Ok(reconcile)
    }
}

impl Departing for OCNumberBlock {
    const ORPHAN_LEAVES: &'static str = "the numbers stay with the customer";

    /// A block that never brought a number to the platform has nothing to release.
    fn terms(&self, status: &OCNumberBlockStatus) -> Option<Terms> {
        Some(Terms {
            policy: self.spec.deletion_policy,
            holds_nothing: owned(status).is_empty() && status.operation.is_none(),
        })
    }

    fn customer_name(&self) -> Option<&str> {
        Some(&self.spec.customer_ref.name)
    }
}

/// Numbers this block has on the platform as far as its status knows.
fn owned(status: &OCNumberBlockStatus) -> NumberSet {
    NumberSet::from_ranges(&status.active)
}
