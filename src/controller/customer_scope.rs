//! What an object that belongs to a customer (`spec.customerRef`) works with: the
//! OCCustomer, its platform id and tenant, and the platform client. Shared by number
//! blocks, SIP connections, dial plans and end users.

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::context::Context;
use super::error::Result;
use super::finalizer;
use super::kind::{CustomerOwned, Kind};
use super::platforms;
use super::status::StatusDraft;
use super::tasks;
use crate::api::common::WriteAction;
use crate::api::conditions::{self, READY, reason};
use crate::api::{OCCustomer, OCPlatform};
use liveplatform::{LivePlatformClient, TaskOutcome};

pub struct CustomerScope {
    pub client: LivePlatformClient,
    pub platform: OCPlatform,
    pub customer: OCCustomer,
    /// The customer's id on the platform (`umpCustomerGuid`).
    pub customer_id: String,
    /// The customer's tenant, lower case.
    pub tenant: String,
}

impl CustomerScope {
    /// Whether the operator created the customer on the platform (see
    /// `OCCustomerStatus::created_by_operator`).
    pub fn created_by_operator(&self) -> bool {
        self.customer
            .status
            .as_ref()
            .is_some_and(|s| s.created_by_operator)
    }

    /// The name of the customer's OCPlatform.
    pub fn platform_name(&self) -> String {
        self.platform.metadata.name.clone().unwrap_or_default()
    }

    /// One look at the task `task` of `action` (see [`tasks::poll`]).
    pub async fn poll(
        &self,
        ctx: &Context,
        action: WriteAction,
        task: &str,
    ) -> Result<TaskOutcome> {
        tasks::poll(ctx, &self.platform_name(), &self.client, action, task).await
    }
}

/// Why an object has no scope yet; its `Ready=False` condition says so to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unscoped {
    /// What it waits for (its customer, its customer's platform id, its SIP
    /// connection's site) is watched: the change wakes it. It is looked at again
    /// only as a safety net, after [`Next::Recheck`](super::plan::Next::Recheck).
    Watched,
    /// Its platform cannot be used yet (credentials, selector): looked at again
    /// shortly.
    Platform,
}

/// The scope of `obj`, through the customer it names, or why there is none, with
/// `Ready=False` saying what it waits for (and no platform call).
pub async fn customer_scope<K: CustomerOwned>(
    ctx: &Context,
    obj: &K,
    draft: &mut StatusDraft<K>,
) -> Result<std::result::Result<CustomerScope, Unscoped>> {
    let namespace = &namespace_of(obj);
    let name = obj.customer();
    // From the watch cache (no apiserver read).
    let customer = ctx.stores.customer(namespace, name).map(|c| (*c).clone());
    let Some(customer) = customer else {
        draft.condition(
            READY,
            false,
            reason::WAITING_FOR_CUSTOMER,
            format!("OCCustomer {name} does not exist; create it or fix customerRef"),
        );
        return Ok(Err(Unscoped::Watched));
    };
    // The platform first: an object in a namespace the platform does not allow is
    // told so, like its customer, rather than to wait for a customer id that never
    // comes.
    let Some((client, platform)) =
        platforms::access(ctx, namespace, &customer.spec.platform_ref.name, draft).await?
    else {
        return Ok(Err(Unscoped::Platform));
    };
    let Some(customer_id) = customer.status.as_ref().and_then(|s| s.customer_id.clone()) else {
        draft.condition(
            READY,
            false,
            reason::WAITING_FOR_CUSTOMER,
            no_customer_id(&customer),
        );
        return Ok(Err(Unscoped::Watched));
    };
    let tenant = customer.spec.tenant_id.to_ascii_lowercase();
    Ok(Ok(CustomerScope {
        client,
        platform,
        customer,
        customer_id,
        tenant,
    }))
}

/// Why `customer` has no id on the platform yet, for its dependents' `Ready`.
fn no_customer_id(customer: &OCCustomer) -> String {
    let name = customer.name_any();
    if held_in_conflict(customer) {
        format!(
            "OCCustomer {name} is held in Conflict: another object manages its tenant, so this object makes no platform call either; see the customer's Ready condition"
        )
    } else {
        format!("OCCustomer {name} is not a customer on the platform yet")
    }
}

/// Whether `customer` says it is held in conflict (another object owns its tenant).
pub fn held_in_conflict(customer: &OCCustomer) -> bool {
    customer
        .status
        .as_ref()
        .is_some_and(|s| conditions::has_reason(&s.reconcile.conditions, READY, reason::CONFLICT))
}

/// What an object without a scope does: one being deleted whose platform side is
/// already gone (`nothing_on_platform`) lets go of its finalizer; anything else waits,
/// for a watched change (see [`Unscoped`]) or for its platform.
pub async fn without_scope<K: Kind>(
    ctx: &Context,
    api: &Api<K>,
    obj: &K,
    why: Unscoped,
    nothing_on_platform: bool,
) -> Result<Action> {
    if finalizer::is_deleting(obj) && nothing_on_platform {
        finalizer::remove(api, obj).await?;
        return Ok(Action::await_change());
    }
    Ok(Action::requeue(match why {
        Unscoped::Watched => ctx.config.recheck(),
        Unscoped::Platform => ctx.config.wait_requeue,
    }))
}

/// The namespace of `obj`.
pub fn namespace_of<K: Kind>(obj: &K) -> String {
    obj.namespace().unwrap_or_default()
}
