//! The life of an `OCEndUser`: provision the user's voice settings on the customer;
//! report what the platform shows for the user (from the paged user list); wait,
//! without error storms, while the customer's licence does not allow end users; on
//! delete, take the line URI and voice off the user.

use std::sync::Arc;

use kube::api::Api;
use kube::runtime::controller::Action;

use super::adoption;
use super::context::Context;
use super::customer_scope::{CustomerScope, customer_scope, without_scope};
use super::drive;
use super::error::Result;
use super::finalizer;
use super::platform::drift_requeue;
use super::status::{StatusDraft, namespaced_api};
use super::tasks;
use crate::api::OCEndUser;
use crate::api::conditions::{READY, reason};
use crate::api::customer::LicenseType;
use crate::liveplatform::model::{EndUser, ProvisionEndUser};
use crate::liveplatform::{Action as PlatformAction, Error as PlatformError, TaskOutcome};

type Draft = StatusDraft<OCEndUser>;

/// Condition reason while the customer's licence does not allow end users.
pub const LICENSE_REQUIRED: &str = "LicenseRequired";
const PAGE_SIZE: u32 = 500;

pub async fn reconcile(obj: Arc<OCEndUser>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, &*obj);
    drive(obj, ctx, api, run).await
}

fn license_wait(draft: &mut Draft, ctx: &Context, scope: &CustomerScope) -> Result<Action> {
    draft.condition(
        READY,
        false,
        LICENSE_REQUIRED,
        format!(
            "OCCustomer {} has an OcEssentials licence; end users need OcEssentialsPlus or OcPro: upgrade the customer's spec.license.type, and this user follows by itself",
            scope.customer.metadata.name.as_deref().unwrap_or_default()
        ),
    );
    Ok(Action::requeue(ctx.config.wait_requeue * 3))
}

async fn run(
    obj: &OCEndUser,
    ctx: &Context,
    api: &Api<OCEndUser>,
    draft: &mut Draft,
) -> Result<Action> {
    if finalizer::let_go_if_orphaned(api, obj, obj.spec.deletion_policy).await? {
        return Ok(Action::await_change());
    }
    let deleting = finalizer::is_deleting(obj);
    let claimed = draft.status.applied_generation.is_some()
        || draft.status.operation.is_some()
        || draft.status.owned_since.is_some();
    if deleting && !claimed {
        // It never provisioned the user: the user's voice settings are not its own.
        finalizer::remove(api, obj).await?;
        return Ok(Action::await_change());
    }
    let Some(scope) = customer_scope(ctx, obj, draft).await? else {
        // No customer on the platform: the user's voice settings went with it.
        return without_scope(ctx, api, obj, true).await;
    };
    let licensed = scope
        .customer
        .status
        .as_ref()
        .and_then(|s| s.license.as_ref())
        .is_some_and(|l| l.type_ != format!("{:?}", LicenseType::OcEssentials));
    if !licensed {
        if deleting {
            // Never provisioned under this licence: nothing to take back.
            finalizer::remove(api, obj).await?;
            return Ok(Action::await_change());
        }
        return license_wait(draft, ctx, &scope);
    }
    if !deleting {
        finalizer::add(api, obj).await?;
    }

    if let Some(op) = tasks::is(draft, PlatformAction::ProvisionEndUser) {
        if let Some(task) = op.task_id {
            match scope.poll(ctx, &op.action, &task).await? {
                TaskOutcome::StillRunning(_) => {
                    draft.condition(
                        READY,
                        false,
                        reason::WAITING_FOR_TASK,
                        format!("provisioning {} (task {task})", obj.spec.sip_address),
                    );
                    return Ok(Action::requeue(ctx.config.task_poll));
                }
                TaskOutcome::Failed(t) => {
                    tasks::finish(draft);
                    return Err(super::Error::TaskFailed(format!(
                        "provisioning {} failed (task {task}): {}",
                        obj.spec.sip_address,
                        t.error_summary()
                    )));
                }
                _ => {
                    tasks::finish(draft);
                    if deleting {
                        ctx.event(
                            obj,
                            false,
                            "VoiceRemoved",
                            "ProvisionEndUser",
                            "took the line URI and voice off the user",
                        )
                        .await;
                        finalizer::remove(api, obj).await?;
                        return Ok(Action::await_change());
                    }
                    ctx.event(
                        obj,
                        false,
                        "Provisioned",
                        "ProvisionEndUser",
                        format!("provisioned {} (task {task})", obj.spec.sip_address),
                    )
                    .await;
                }
            }
        } else {
            // The answer was lost: the user list below shows what the platform has.
            tasks::finish(draft);
        }
    }

    let reported = match find_user(&scope, &obj.spec.sip_address).await {
        Ok(user) => user,
        Err(PlatformError::LicenseRequired { .. }) => return license_wait(draft, ctx, &scope),
        Err(e) => return Err(e.into()),
    };
    if let Some(user) = reported
        .as_ref()
        .filter(|u| !claimed && is_voice_enabled(u))
    {
        // Voice settings that no object in the cluster provisioned: taken over only on
        // request.
        let existing = format!(
            "voice settings for user {} of tenant {} (line URI {})",
            obj.spec.sip_address,
            scope.tenant,
            user.line_uri.as_deref().unwrap_or("none")
        );
        if !adoption::may_adopt(obj) {
            adoption::refuse(ctx, obj, draft, &existing, "delete this object").await;
            return Ok(drift_requeue(scope.drift_seconds()));
        }
        adoption::adopted(ctx, obj, "AdoptUser", &existing).await;
        if reported_matches(user, &settings(obj)) {
            // Taken over as it is: the spec is already applied, nothing to send.
            draft.status.applied_generation = draft.generation;
        }
    }
    if let Some(user) = &reported {
        draft.status.object_id = user.object_id.clone();
        draft.status.line_uri = user.line_uri.clone();
        draft.status.enterprise_voice_enabled = Some(user.enterprise_voice_enabled);
        draft.status.online_voice_routing_policy = user.online_voice_routing_policy.clone();
    }
    let body = if deleting { removal() } else { settings(obj) };
    let spec_changed = draft.status.applied_generation != draft.generation;
    let matches = reported
        .as_ref()
        .is_some_and(|u| reported_matches(u, &body));
    if deleting && (reported.is_none() || matches) {
        finalizer::remove(api, obj).await?;
        return Ok(Action::await_change());
    }
    if !matches || (spec_changed && !deleting) {
        draft.condition(
            READY,
            false,
            if deleting {
                reason::DELETING
            } else {
                reason::UPDATING
            },
            format!("provisioning {}", obj.spec.sip_address),
        );
        tasks::begin(
            api,
            obj,
            draft,
            PlatformAction::ProvisionEndUser,
            vec![obj.spec.sip_address.clone()],
        )
        .await?;
        let task = match scope
            .client
            .provision_end_user(&scope.customer_id, &obj.spec.sip_address, &body)
            .await
        {
            Ok(task) => task,
            Err(PlatformError::LicenseRequired { .. }) => {
                tasks::finish(draft);
                return license_wait(draft, ctx, &scope);
            }
            Err(e) => return Err(e.into()),
        };
        draft.status.applied_generation = draft.generation;
        tasks::started(api, obj, draft, &task).await?;
        return Ok(Action::requeue(ctx.config.task_poll));
    }
    let was_ready =
        crate::api::conditions::is_true_for(draft.conditions(), READY, draft.generation);
    let message = format!(
        "{} is provisioned{}",
        obj.spec.sip_address,
        obj.spec
            .line_uri
            .as_deref()
            .map(|l| format!(" with {l}"))
            .unwrap_or_default()
    );
    draft.condition(READY, true, reason::AVAILABLE, message.clone());
    if !was_ready {
        ctx.event(obj, false, reason::AVAILABLE, "Reconcile", message)
            .await;
    }
    Ok(drift_requeue(scope.drift_seconds()))
}

/// Whether a listed user has voice settings (a line URI or Enterprise Voice): what
/// provisioning manages.
fn is_voice_enabled(user: &EndUser) -> bool {
    user.enterprise_voice_enabled || user.line_uri.as_deref().is_some_and(|l| !l.is_empty())
}

/// The user as the platform lists it (paging through), if listed.
async fn find_user(scope: &CustomerScope, sip: &str) -> Result<Option<EndUser>, PlatformError> {
    let wanted = sip.trim_start_matches("sip:").to_ascii_lowercase();
    let mut page = 1;
    loop {
        let users = scope
            .client
            .list_end_users(&scope.customer_id, page, PAGE_SIZE)
            .await?;
        let count = users.data.len();
        if let Some(user) = users.data.into_iter().find(|u| {
            let address = u
                .sip_address
                .as_deref()
                .or(u.user_principal_name.as_deref())
                .unwrap_or_default();
            address
                .trim_start_matches("sip:")
                .eq_ignore_ascii_case(&wanted)
        }) {
            return Ok(Some(user));
        }
        if count == 0 || i64::from(page) >= users.total_pages {
            return Ok(None);
        }
        page += 1;
    }
}

fn settings(obj: &OCEndUser) -> ProvisionEndUser {
    let s = &obj.spec;
    let address = s.address.clone().unwrap_or_default();
    ProvisionEndUser {
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        city: address.city,
        department: s.department.clone(),
        office: s.office.clone(),
        postal_code: address.postal_code,
        state_or_province: address.state_or_province,
        street_address: address.street_address,
        usage_location: s.usage_location.clone(),
        enterprise_voice_enabled: Some(s.enterprise_voice_enabled),
        teams_calling_policy: s.teams_calling_policy.clone(),
        online_voice_routing_policy: s.online_voice_routing_policy.clone(),
        hosted_voice_mail: s.hosted_voicemail,
        line_uri: s.line_uri.clone(),
    }
}

/// What deleting an end user sends: no line URI, voice off.
fn removal() -> ProvisionEndUser {
    ProvisionEndUser {
        enterprise_voice_enabled: Some(false),
        ..Default::default()
    }
}

/// Whether the listed user shows the settings the platform reports back.
fn reported_matches(user: &EndUser, body: &ProvisionEndUser) -> bool {
    user.line_uri == body.line_uri
        && Some(user.enterprise_voice_enabled) == body.enterprise_voice_enabled
        && (body.online_voice_routing_policy.is_none()
            || user.online_voice_routing_policy == body.online_voice_routing_policy)
        && (body.teams_calling_policy.is_none()
            || user.teams_calling_policy == body.teams_calling_policy)
        && (body.usage_location.is_none() || user.usage_location == body.usage_location)
}
