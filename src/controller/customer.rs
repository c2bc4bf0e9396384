//! The life of an `OCCustomer`: validate the tenant; create (or adopt) the consentless
//! lead; put it in its channel; create (or adopt) the customer and follow the task;
//! bring the licence to the spec; publish licence info. On delete: delete its number
//! blocks and wait for them, then delete the service and the lead (or orphan them).

use std::sync::Arc;

use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use kube::runtime::controller::Action;

use super::adoption;
use super::context::Context;
use super::drive;
use super::error::{Error, Result};
use super::finalizer;
use super::kind::CustomerOwned;
use super::platform::drift_requeue;
use super::platforms;
use super::status::{StatusDraft, namespaced_api};
use super::tasks;
use crate::api::common::DeletionPolicy;
use crate::api::conditions::{CHANNEL_ASSIGNED, LICENSED, READY, reason};
use crate::api::customer::{LicenseStatus, LicenseType};
use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};
use crate::liveplatform::model::{
    AssignChannel, ConfigurationType, CreateCustomer, CreateLead, LeadRef, LicenseChange,
    TenantValidation,
};
use crate::liveplatform::{
    Action as PlatformAction, Error as PlatformError, LivePlatformClient, TaskOutcome,
};

type Draft = StatusDraft<OCCustomer>;

pub async fn reconcile(obj: Arc<OCCustomer>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, &*obj);
    drive(obj, ctx, api, async |obj, ctx, api, draft| {
        if finalizer::is_deleting(obj) {
            cleanup(obj, ctx, api, draft).await
        } else {
            apply(obj, ctx, api, draft).await
        }
    })
    .await
}

fn tenant(obj: &OCCustomer) -> String {
    obj.spec.tenant_id.to_ascii_lowercase()
}

async fn apply(
    obj: &OCCustomer,
    ctx: &Context,
    api: &Api<OCCustomer>,
    draft: &mut Draft,
) -> Result<Action> {
    let ns = obj.namespace().unwrap_or_default();
    let Some((client, platform)) =
        platforms::access(ctx, &ns, &obj.spec.platform_ref.name, draft).await?
    else {
        return Ok(Action::requeue(ctx.config.wait_requeue));
    };
    finalizer::add(api, obj).await?;
    if let Some(wait) = lost_upgrade_wait(ctx, draft) {
        return Ok(wait);
    }
    let tenant = tenant(obj);

    // The tenant must exist in Entra ID; asked once, before there is a lead.
    if draft.status.lead_id.is_none()
        && let TenantValidation::Unknown { error } = client.validate_tenant(&tenant).await?
    {
        return Err(Error::Rejected(format!(
            "tenant {tenant} is unknown to Microsoft Entra ID ({error}); check spec.tenantId"
        )));
    }

    // The lead: looked up first (adoption, and safety after a lost answer).
    let lead = match client.get_lead(&tenant).await? {
        Some(lead) => {
            // Neither recorded nor being created by this object: someone else's lead.
            if draft.status.lead_id.is_none()
                && tasks::is(draft, PlatformAction::CreateLead).is_none()
            {
                if !adoption::may_adopt(obj) {
                    let existing = format!("tenant {tenant} (lead {})", lead.id);
                    adoption::refuse(ctx, obj, draft, &existing, "delete this object").await;
                    return Ok(drift_requeue(platform.spec.drift_check_seconds));
                }
                let customer = lead
                    .ump_customer_guid
                    .as_deref()
                    .map(|c| format!(" and its customer {c}"))
                    .unwrap_or_default();
                let what = format!("the lead {} of tenant {tenant}{customer}", lead.id);
                adoption::adopted(ctx, obj, "AdoptLead", &what).await;
            }
            lead
        }
        None => {
            draft.condition(
                READY,
                false,
                reason::CREATING,
                "creating the consentless lead",
            );
            tasks::begin(
                api,
                obj,
                draft,
                PlatformAction::CreateLead,
                vec![tenant.clone()],
            )
            .await?;
            let created = client
                .create_lead(&CreateLead {
                    tenant_id: tenant.clone(),
                    company_name: obj.spec.company_name.clone(),
                })
                .await?;
            ctx.event(
                obj,
                false,
                "LeadCreated",
                "CreateLead",
                format!("created the consentless lead of tenant {tenant}"),
            )
            .await;
            // The answer carries the new lead [chosen]; read it only when it does not.
            match created {
                Some(lead) => lead,
                None => client.get_lead(&tenant).await?.ok_or_else(|| {
                Error::TaskFailed(format!(
                    "the lead of tenant {tenant} was created but the platform does not list it yet"
                ))
            })?,
            }
        }
    };
    if tasks::is(draft, PlatformAction::CreateLead).is_some() {
        tasks::finish(draft);
    }
    draft.status.lead_id = Some(lead.id.clone());
    if !lead.is_active() {
        // Not `Rejected`: that would wait for a spec change, while what changes is the
        // lead on the platform, which is looked at again on the timer below.
        draft.condition(
            READY,
            false,
            reason::LEAD_NOT_ACTIVE,
            format!("the lead of tenant {tenant} is {} on the platform; it must be Active (ask the platform operator); this customer looks again every minute and goes on by itself", lead.status),
        );
        return Ok(Action::requeue(ctx.config.wait_requeue * 6));
    }

    channel(obj, ctx, &client, draft, lead.channel_id).await?;

    // The customer.
    let customer = match lead.ump_customer_guid.clone() {
        Some(guid) => {
            if draft.status.customer_id.is_none()
                && tasks::is(draft, PlatformAction::CreateCustomer).is_none()
            {
                // The lead is this object's, so the customer made from it is too.
                ctx.event(
                    obj,
                    false,
                    "Adopted",
                    "AdoptCustomer",
                    format!("took over customer {guid}, made from the lead of tenant {tenant}"),
                )
                .await;
            }
            if tasks::is(draft, PlatformAction::CreateCustomer).is_some() {
                tasks::finish(draft);
                // The lead shows the customer before the task was seen to end.
                ctx.metrics
                    .task_ended(PlatformAction::CreateCustomer.title(), "succeeded");
                customer_created(ctx, obj, &guid).await;
            }
            guid
        }
        None => match create_customer(obj, ctx, api, &client, draft).await? {
            Some(guid) => guid,
            None => return Ok(Action::requeue(ctx.config.task_poll)),
        },
    };
    draft.status.customer_id = Some(customer.clone());

    if !license(obj, ctx, api, &client, draft, &customer).await? {
        return Ok(Action::requeue(ctx.config.task_poll));
    }

    let was_ready =
        crate::api::conditions::is_true_for(draft.conditions(), READY, draft.generation);
    let message = format!(
        "lead {}, customer {customer}, licence {:?}",
        lead.id, obj.spec.license.type_
    );
    draft.condition(READY, true, reason::AVAILABLE, message.clone());
    if !was_ready {
        ctx.event(obj, false, reason::AVAILABLE, "Reconcile", message)
            .await;
    }
    Ok(drift_requeue(platform.spec.drift_check_seconds))
}

async fn channel(
    obj: &OCCustomer,
    ctx: &Context,
    client: &LivePlatformClient,
    draft: &mut Draft,
    have: Option<i64>,
) -> Result<()> {
    let tenant = tenant(obj);
    match (obj.spec.channel_id, have) {
        (Some(want), Some(have)) if want == have => {
            draft.condition(
                CHANNEL_ASSIGNED,
                true,
                reason::AVAILABLE,
                format!("the lead is in channel {want}"),
            );
        }
        (Some(want), _) => {
            client
                .assign_channel(&AssignChannel {
                    lead: LeadRef::MsTenantId(tenant),
                    channel_id: want,
                })
                .await?;
            draft.condition(
                CHANNEL_ASSIGNED,
                true,
                reason::AVAILABLE,
                format!("the lead is in channel {want}"),
            );
            ctx.event(
                obj,
                false,
                "ChannelAssigned",
                "AssignChannel",
                format!("put the lead in channel {want}"),
            )
            .await;
        }
        (None, Some(have)) => {
            client.remove_channel(&tenant).await?;
            draft.condition(
                CHANNEL_ASSIGNED,
                false,
                "NoChannel",
                "spec.channelId is not set; the lead is in no channel",
            );
            ctx.event(
                obj,
                false,
                "ChannelRemoved",
                "RemoveChannel",
                format!("took the lead out of channel {have}"),
            )
            .await;
        }
        (None, None) => {
            draft.condition(
                CHANNEL_ASSIGNED,
                false,
                "NoChannel",
                "spec.channelId is not set; the lead is in no channel",
            );
        }
    }
    draft.status.channel_id = obj.spec.channel_id;
    Ok(())
}

/// Publishes that customer `guid` was created.
async fn customer_created(ctx: &Context, obj: &OCCustomer, guid: &str) {
    ctx.event(
        obj,
        false,
        "CustomerCreated",
        "CreateCustomer",
        format!("created customer {guid}"),
    )
    .await;
}

/// Creates the customer, or follows its creation. `None` while the task runs.
async fn create_customer(
    obj: &OCCustomer,
    ctx: &Context,
    api: &Api<OCCustomer>,
    client: &LivePlatformClient,
    draft: &mut Draft,
) -> Result<Option<String>> {
    let tenant = tenant(obj);
    if let Some(op) = tasks::is(draft, PlatformAction::CreateCustomer) {
        match op.task_id {
            Some(task) => {
                match tasks::poll(ctx, &obj.spec.platform_ref.name, client, &op.action, &task)
                    .await?
                {
                    TaskOutcome::StillRunning(_) => {
                        draft.condition(
                            READY,
                            false,
                            reason::WAITING_FOR_TASK,
                            format!("creating the customer (task {task})"),
                        );
                        return Ok(None);
                    }
                    TaskOutcome::Succeeded(t) | TaskOutcome::PartlyFailed { task: t, .. } => {
                        tasks::finish(draft);
                        let guid = t.output_str("ump_customer_guid").map(str::to_owned);
                        if let Some(guid) = &guid {
                            customer_created(ctx, obj, guid).await;
                        }
                        return Ok(guid);
                    }
                    TaskOutcome::Failed(t) => {
                        tasks::finish(draft);
                        return Err(Error::TaskFailed(format!(
                            "creating the customer failed (task {task}): {}",
                            t.error_summary()
                        )));
                    }
                }
            }
            // The answer was lost. The lead shows no customer yet (checked by the
            // caller); a job that is still running makes the platform refuse a second
            // request, which is handled below, so asking again is safe.
            None => tasks::finish(draft),
        }
    }
    draft.condition(
        READY,
        false,
        reason::CREATING,
        "creating the customer from the lead",
    );
    tasks::begin(
        api,
        obj,
        draft,
        PlatformAction::CreateCustomer,
        vec![tenant.clone()],
    )
    .await?;
    let request = CreateCustomer {
        configuration: match obj.spec.configuration_type {
            crate::api::customer::ConfigurationType::TenantType => ConfigurationType::TenantType,
            crate::api::customer::ConfigurationType::IpGroupType => ConfigurationType::IpGroupType,
        },
        customer_short_name: obj.spec.short_name.clone(),
        customer_full_name: obj.spec.full_name.clone(),
        ms_tenant_id: tenant,
        script_parameters: obj
            .spec
            .script_parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect(),
    };
    match client.create_customer(&request).await {
        Ok(task) => {
            tasks::started(api, obj, draft, &task).await?;
            draft.condition(
                READY,
                false,
                reason::WAITING_FOR_TASK,
                format!("creating the customer (task {task})"),
            );
            Ok(None)
        }
        Err(PlatformError::Validation { fields, .. })
            if fields.values().flatten().any(|m| {
                m.contains("already being created") || m.contains("already exists for this lead")
            }) =>
        {
            // A creation started before (its answer lost) is still running or has just
            // finished: the lead shows the customer on the next look.
            tasks::finish(draft);
            draft.condition(
                READY,
                false,
                reason::WAITING_FOR_TASK,
                "the customer is being created by an earlier request",
            );
            Ok(None)
        }
        Err(e) => {
            if !matches!(e, PlatformError::OutcomeUnknown { .. }) {
                tasks::finish(draft);
            }
            Err(e.into())
        }
    }
}

/// A licence upgrade whose answer was lost shows on the platform only once its task
/// ends, and a second request would be refused while it runs. Until the grace is over
/// nothing is read or written, and status says why; `Some(action)` while it lasts.
fn lost_upgrade_wait(ctx: &Context, draft: &mut Draft) -> Option<Action> {
    let op = tasks::is(draft, PlatformAction::UpgradeLicense)?;
    if op.task_id.is_some() {
        return None;
    }
    let sent = op.started_at.parse::<jiff::Timestamp>().ok()?;
    let over = sent
        .checked_add(jiff::SignedDuration::try_from(ctx.config.lost_answer_grace).ok()?)
        .ok()?;
    let remaining = jiff::Timestamp::now().duration_until(over);
    let remaining = std::time::Duration::try_from(remaining).ok()?;
    if remaining.is_zero() {
        return None;
    }
    let message = format!(
        "a licence upgrade was sent at {sent} but its answer was lost, and the platform cannot show a running upgrade; the operator looks again at the licence at {over} (in {} s) and sends it again only if it did not happen",
        remaining.as_secs()
    );
    draft.condition(LICENSED, false, reason::WAITING_FOR_TASK, message.clone());
    draft.condition(READY, false, reason::WAITING_FOR_TASK, message);
    Some(Action::requeue(remaining))
}

/// Brings the licence to the spec; `false` while an upgrade task runs.
async fn license(
    obj: &OCCustomer,
    ctx: &Context,
    api: &Api<OCCustomer>,
    client: &LivePlatformClient,
    draft: &mut Draft,
    customer: &str,
) -> Result<bool> {
    if let Some(op) = tasks::is(draft, PlatformAction::UpgradeLicense) {
        if let Some(task) = op.task_id {
            match tasks::poll(ctx, &obj.spec.platform_ref.name, client, &op.action, &task).await? {
                TaskOutcome::StillRunning(_) => {
                    draft.condition(
                        LICENSED,
                        false,
                        reason::WAITING_FOR_TASK,
                        format!("upgrading the licence (task {task})"),
                    );
                    draft.condition(
                        READY,
                        false,
                        reason::UPDATING,
                        format!("upgrading the licence (task {task})"),
                    );
                    return Ok(false);
                }
                TaskOutcome::Failed(t) => {
                    tasks::finish(draft);
                    return Err(Error::TaskFailed(format!(
                        "the licence upgrade failed (task {task}): {}",
                        t.error_summary()
                    )));
                }
                _ => {
                    tasks::finish(draft);
                    ctx.event(
                        obj,
                        false,
                        "LicenseUpgraded",
                        "UpgradeLicense",
                        "the licence upgrade finished",
                    )
                    .await;
                }
            }
        } else {
            // A lost answer whose grace is over (see `lost_upgrade_wait`): the licence
            // read below shows whether it happened, and the upgrade is sent again only
            // if it did not.
            tasks::finish(draft);
        }
    }
    let details = client.get_customer(customer, false).await?;
    draft.status.default_domain = details.ms_default_domain.clone();
    let code = details.service.license_type.unwrap_or(-1);
    let have = LicenseType::from_code(code).ok_or_else(|| {
        Error::Rejected(format!(
            "customer {customer} has licence type {code}, which the operator does not manage"
        ))
    })?;
    let want = obj.spec.license.type_;
    let want_count = obj.spec.license.count;
    let have_count = details.service.licensed_users_count;
    match (want, have) {
        (LicenseType::OcEssentials, LicenseType::OcEssentials) => {}
        (LicenseType::OcEssentials, other) => {
            return Err(Error::Rejected(format!(
                "customer {customer} has licence {other:?}; a licence cannot go back to OcEssentials, so set spec.license.type to OcEssentialsPlus or OcPro"
            )));
        }
        (want, LicenseType::OcEssentials) => {
            let count = want_count.unwrap_or(1);
            draft.condition(
                READY,
                false,
                reason::UPDATING,
                format!("upgrading the licence to {want:?}"),
            );
            tasks::begin(
                api,
                obj,
                draft,
                PlatformAction::UpgradeLicense,
                vec![format!("{want:?}:{count}")],
            )
            .await?;
            let task = client
                .upgrade_license(
                    customer,
                    &LicenseChange {
                        upgrade_to_license: want.code(),
                        license_count: count,
                    },
                )
                .await?;
            tasks::started(api, obj, draft, &task).await?;
            draft.condition(
                LICENSED,
                false,
                reason::WAITING_FOR_TASK,
                format!("upgrading the licence (task {task})"),
            );
            return Ok(false);
        }
        (want, have) if want != have || (want_count.is_some() && want_count != have_count) => {
            let count = want_count.or(have_count).unwrap_or(1);
            client
                .change_license(
                    customer,
                    &LicenseChange {
                        upgrade_to_license: want.code(),
                        license_count: count,
                    },
                )
                .await?;
            ctx.event(
                obj,
                false,
                "LicenseChanged",
                "ChangeLicense",
                format!("licence changed from {have:?} to {want:?} x{count}"),
            )
            .await;
        }
        _ => {}
    }
    let info = client.license_info(customer, 1).await?;
    let latest = info
        .into_iter()
        .max_by(|a, b| a.last_update.cmp(&b.last_update));
    draft.status.license = Some(LicenseStatus {
        type_: format!("{want:?}"),
        count: want_count,
        currently_licensed: latest.as_ref().and_then(|l| l.currently_licensed),
        managed_service_numbers: latest.as_ref().and_then(|l| l.managed_service_numbers),
        last_update: latest.and_then(|l| l.last_update),
    });
    draft.condition(
        LICENSED,
        true,
        reason::AVAILABLE,
        format!(
            "licence {want:?}{}",
            want_count.map(|c| format!(" x{c}")).unwrap_or_default()
        ),
    );
    Ok(true)
}

/// Deletes the customer's objects of kind `K`; `Some((what, names))` while some remain.
async fn delete_dependents<K: CustomerOwned>(
    ctx: &Context,
    obj: &OCCustomer,
) -> Result<Option<(&'static str, Vec<String>)>> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let all = api
        .list(&kube::api::ListParams::default())
        .await
        .map_err(Error::kube(format!(
            "listing the {} of OCCustomer {ns}/{}",
            K::WHAT,
            obj.name_any()
        )))?;
    let mine: Vec<K> = all
        .items
        .into_iter()
        .filter(|d| d.customer() == obj.name_any())
        .collect();
    if mine.is_empty() {
        return Ok(None);
    }
    for dependent in mine
        .iter()
        .filter(|d| d.meta().deletion_timestamp.is_none())
    {
        match api
            .delete(&dependent.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(e) if super::error::is_not_found(&e) => {}
            Err(e) => {
                return Err(Error::kube(format!(
                    "deleting {} {ns}/{}",
                    K::kind(&()),
                    dependent.name_any()
                ))(e));
            }
        }
    }
    Ok(Some((K::WHAT, mine.iter().map(|d| d.name_any()).collect())))
}

/// Deletes dependents in order (end users, dial plans, SIP connections, number
/// blocks), one kind at a time; `false` while any remain.
async fn dependents_gone(ctx: &Context, obj: &OCCustomer, draft: &mut Draft) -> Result<bool> {
    let mut waiting = delete_dependents::<OCEndUser>(ctx, obj).await?;
    if waiting.is_none() {
        waiting = delete_dependents::<OCDialPlan>(ctx, obj).await?;
    }
    if waiting.is_none() {
        waiting = delete_dependents::<OCSipConnection>(ctx, obj).await?;
    }
    if waiting.is_none() {
        waiting = delete_dependents::<OCNumberBlock>(ctx, obj).await?;
    }
    match waiting {
        Some((what, names)) => {
            draft.condition(
                READY,
                false,
                reason::DELETING,
                format!(
                    "waiting for {what} {} to undo their work and go",
                    names.join(", ")
                ),
            );
            Ok(false)
        }
        None => Ok(true),
    }
}

async fn cleanup(
    obj: &OCCustomer,
    ctx: &Context,
    api: &Api<OCCustomer>,
    draft: &mut Draft,
) -> Result<Action> {
    if obj.spec.deletion_policy == DeletionPolicy::Orphan {
        ctx.event(
            obj,
            false,
            "Orphaned",
            "Delete",
            "deletionPolicy is Orphan: the lead and the customer stay on the platform",
        )
        .await;
        finalizer::remove(api, obj).await?;
        return Ok(Action::await_change());
    }
    if !finalizer::has(obj) {
        return Ok(Action::await_change());
    }
    // Dependents go first: users, dial plans, sites, then numbers are released.
    if !dependents_gone(ctx, obj, draft).await? {
        return Ok(Action::requeue(ctx.config.task_poll));
    }
    if draft.status.lead_id.is_none() && tasks::is(draft, PlatformAction::CreateLead).is_none() {
        // It never created or took over a lead: nothing on the platform is its own.
        finalizer::remove(api, obj).await?;
        return Ok(Action::await_change());
    }
    let ns = obj.namespace().unwrap_or_default();
    let Some((client, _)) = platforms::access(ctx, &ns, &obj.spec.platform_ref.name, draft).await?
    else {
        draft.condition(READY, false, reason::DELETING, "cannot reach the platform to delete the service and the lead; the finalizer stays until it can");
        return Ok(Action::requeue(ctx.config.wait_requeue));
    };
    draft.condition(
        READY,
        false,
        reason::DELETING,
        "deleting the service and the lead",
    );
    let tenant = tenant(obj);
    let lead = client.get_lead(&tenant).await?;
    let customer = lead
        .as_ref()
        .and_then(|l| l.ump_customer_guid.clone())
        .or_else(|| draft.status.customer_id.clone());
    if let Some(customer) = customer {
        match client.delete_service(&customer).await {
            Ok(_) | Err(PlatformError::NotFound { .. }) => {
                ctx.event(
                    obj,
                    false,
                    "ServiceDeleted",
                    "DeleteService",
                    format!("deleted customer {customer}"),
                )
                .await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if lead.is_some() {
        match client.delete_lead(&tenant).await {
            Ok(_) | Err(PlatformError::NotFound { .. }) => {
                ctx.event(
                    obj,
                    false,
                    "LeadDeleted",
                    "DeleteLead",
                    format!("deleted the lead of tenant {tenant}"),
                )
                .await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    finalizer::remove(api, obj).await?;
    Ok(Action::await_change())
}
