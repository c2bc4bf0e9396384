//! The life of an `OCEndUser`: provision the user's voice settings on the customer;
//! report what the platform shows for the user (from the paged user list); wait,
//! without error storms, while the customer's licence does not allow end users; on
//! delete, take the line URI and voice off the user.
//!
//! Read in this order: this file (what a user checks before its finalizer, and the
//! block that brings its number), `planner` (what is seen, the steps and the pure
//! [`plan`]), `act` (the calls that carry a step out) and `requests` (the platform's
//! requests built from the spec).

use super::context::Context;
use super::customer_scope::CustomerScope;
use super::error::Result;
use super::lifecycle::{Departing, Terms};
use super::number_set::NumberSet;
use super::numbers::Projection;
use super::reconciler::{Admission, Reconciler, Work};
use super::status::StatusDraft;
use crate::api::conditions::{READY, reason};
use crate::api::customer::LicenseType;
use crate::api::end_user::OCEndUserStatus;
use crate::api::{OCEndUser, OCNumberBlock};

mod act;
mod planner;
mod requests;

pub use act::*;
pub use planner::*;
use requests::*;

type Draft = StatusDraft<OCEndUser>;

pub use crate::api::conditions::reason::{LICENSE_REQUIRED, WAITING_FOR_LICENSE};
const PAGE_SIZE: u32 = 500;

impl Reconciler for OCEndUser {
    /// Whether the customer's licence allows end users.
    type Found = bool;
    type Reconcile<'a> = EndUserReconcile<'a>;

    /// No customer on the platform: the user's voice settings went with it.
    fn holds_nothing(_status: &OCEndUserStatus) -> bool {
        true
    }

    /// A user whose customer's licence allows no end users can hold nothing on the
    /// platform: it takes its finalizer once the licence does.
    async fn admit(
        &self,
        _ctx: &Context,
        _draft: &mut Draft,
        scope: &CustomerScope,
        _deleting: bool,
    ) -> Result<Admission<bool>> {
        let licensed = scope
            .customer
            .status
            .as_ref()
            .and_then(|s| s.license.as_ref())
            .and_then(|l| LicenseType::from_name(&l.type_))
            .is_some_and(LicenseType::allows_end_users);
        Ok(Admission::Go {
            found: licensed,
            finalizer: licensed,
        })
    }

    async fn reconciling<'a>(
        work: Work<'a, OCEndUser>,
        licensed: bool,
    ) -> Result<EndUserReconcile<'a>> {
        let upgrade_declared = work.place.customer.spec.license.type_.allows_end_users();
        let number_pending = line_number_pending(work.ctx, work.obj);
        Ok(EndUserReconcile {
            work,
            seen: Seen::default(),
            licensed,
            upgrade_declared,
            number_pending,
        })
    }
}

/// The number block of the same customer that declares the number of the user's line
/// URI and is on its way to bring it to the platform (creating, updating, or waiting
/// for its task or its customer; the number not refused): provisioning before then
/// fails on the platform ("not an active number of
/// this customer"), so the user waits for the block instead. A number no block
/// declares is left to the platform to judge.
fn line_number_pending(ctx: &Context, obj: &OCEndUser) -> Option<String> {
    let number = line_number(obj.spec.line_uri.as_deref()?)?;
    let ns = obj.metadata.namespace.as_deref()?;
    ctx.stores
        .blocks_of(ns, &obj.spec.customer_ref.name)
        .into_iter()
        .find(|block| brings(block, number))
        .and_then(|block| block.metadata.name.clone())
}

/// Whether `block` is on its way to bring `number` to the platform: it declares it,
/// has no verdict yet or one that comes by itself (a block that is Ready, held,
/// refused or rejected is not waited for), did not refuse it, and has not brought it
/// already (a block on its way with other numbers, say one added to its spec, holds
/// this one active, outside the write in flight).
pub fn brings(block: &OCNumberBlock, number: &str) -> bool {
    let status = block.status.as_ref();
    let on_its_way = status
        .and_then(|s| crate::api::conditions::find(&s.reconcile.conditions, READY))
        .is_none_or(|c| {
            c.status != "True"
                && [
                    reason::CREATING,
                    reason::UPDATING,
                    reason::WAITING_FOR_TASK,
                    reason::WAITING_FOR_CUSTOMER,
                    reason::WAITING_FOR_PLATFORM,
                ]
                .contains(&c.reason.as_str())
        });
    let refused = status.is_some_and(|s| s.failed.iter().any(|f| f.number == number));
    let brought = status.is_some_and(|s| {
        NumberSet::from_ranges(&s.active).contains(number)
            && !s
                .operation
                .as_ref()
                .is_some_and(|op| NumberSet::from_ranges(&op.items).contains(number))
    });
    on_its_way && !refused && !brought && NumberSet::declared(&block.spec).contains(number)
}

/// The number of a line URI (`tel:+14255550101;ext=101` -> `+14255550101`).
fn line_number(uri: &str) -> Option<&str> {
    uri.strip_prefix("tel:")?.split(';').next()
}

/// What a provisioning that ended did to the numbers of the tenant: the number of
/// the line URI it set is assigned, the one the user had before is free. Applied to
/// the tenant's held numbers listing at once, so that a block deciding on assigned
/// numbers (a release that policy Keep holds back) does not decide from before.
async fn record_assignment(
    ctx: &Context,
    scope: &CustomerScope,
    before: Option<&str>,
    after: Option<&str>,
) {
    let freed = before
        .and_then(line_number)
        .filter(|n| Some(*n) != after.and_then(line_number));
    let assigned = after.and_then(line_number);
    if freed.is_none() && assigned.is_none() {
        return;
    }
    ctx.platform
        .numbers
        .project(
            &scope.platform_name(),
            &scope.tenant,
            Projection::Outside,
            |numbers| numbers.assignment(freed, assigned),
        )
        .await;
}

/// Whether this object provisioned the user (or took it over) at some point.
impl Departing for OCEndUser {
    const ORPHAN_LEAVES: &'static str = "the user stays provisioned in Teams";

    /// An end user that never provisioned the user: its voice settings are not its own.
    fn terms(&self, status: &OCEndUserStatus) -> Option<Terms> {
        Some(Terms {
            policy: self.spec.deletion_policy,
            holds_nothing: !claimed(status),
        })
    }

    fn customer_name(&self) -> Option<&str> {
        Some(&self.spec.customer_ref.name)
    }
}

fn claimed(status: &OCEndUserStatus) -> bool {
    status.applied_generation.is_some()
        || status.operation.is_some()
        || status.ownership.owned_since.is_some()
}
