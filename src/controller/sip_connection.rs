//! The life of an `OCSipConnection`: check the SBC against the platform's calling
//! profiles; add the site location (carrier password from a Secret in the object's
//! namespace) or adopt one of the same name; follow the onboarding task; map the SBC
//! and Microsoft 365 deployment states to conditions; modify the site when the spec or
//! the platform drifts; on delete, remove it and follow the cleanup task.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::adoption;
use super::context::Context;
use super::customer_scope::{CustomerScope, customer_scope, namespace_of, without_scope};
use super::drive;
use super::error::{Error, Result};
use super::finalizer;
use super::platform::drift_requeue;
use super::status::{StatusDraft, namespaced_api};
use super::tasks;
use crate::api::OCSipConnection;
use crate::api::conditions::{READY, reason};
use crate::liveplatform::contract::deployment_state::{self, DEPLOYED, FAILED, REMOVING};
use crate::liveplatform::model::{AddSipConnection, ModifySipConnection, SipConnection, TaskId};
use crate::liveplatform::{Action as PlatformAction, Error as PlatformError, TaskOutcome};
use crate::secret::Secret as SecretString;

type Draft = StatusDraft<OCSipConnection>;

pub async fn reconcile(obj: Arc<OCSipConnection>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, &*obj);
    drive(obj, ctx, api, run).await
}

async fn run(
    obj: &OCSipConnection,
    ctx: &Context,
    api: &Api<OCSipConnection>,
    draft: &mut Draft,
) -> Result<Action> {
    if finalizer::let_go_if_orphaned(api, obj, obj.spec.deletion_policy).await? {
        return Ok(Action::await_change());
    }
    let deleting = finalizer::is_deleting(obj);
    let Some(scope) = customer_scope(ctx, obj, draft).await? else {
        let never_added = draft.status.site_location_id.is_none();
        return without_scope(ctx, api, obj, never_added).await;
    };
    if deleting {
        return cleanup(obj, ctx, api, draft, &scope).await;
    }
    check_sbc(obj, &scope)?;
    finalizer::add(api, obj).await?;

    // An add whose answer was lost: the site found by name below is this object's own.
    let mut added_unseen = false;
    if let Some(op) = tasks::current(draft) {
        match op.task_id {
            Some(task) => match scope.poll(ctx, &op.action, &task).await? {
                TaskOutcome::StillRunning(t) => {
                    draft.condition(
                        READY,
                        false,
                        reason::WAITING_FOR_TASK,
                        format!("{} (task {task}, {})", op.action, t.status.as_str()),
                    );
                    return Ok(Action::requeue(ctx.config.task_poll));
                }
                TaskOutcome::Failed(t) => {
                    tasks::finish(draft);
                    ctx.event(obj, true, "TaskFailed", &op.action, t.error_summary())
                        .await;
                }
                _ => {
                    tasks::finish(draft);
                    ctx.event(
                        obj,
                        false,
                        "TaskSucceeded",
                        &op.action,
                        format!("{} finished (task {task})", op.action),
                    )
                    .await;
                }
            },
            // The answer was lost: the site is looked up by name below.
            None => {
                added_unseen = op.action == PlatformAction::AddSipConnection.title();
                tasks::finish(draft);
            }
        }
    }

    let site = match draft.status.site_location_id.clone() {
        Some(id) => match scope.client.get_sip_connection(&id).await {
            Ok(site) => Some((id, site)),
            Err(PlatformError::NotFound { .. }) => {
                ctx.event(
                    obj,
                    true,
                    "SiteMissing",
                    "Drift",
                    format!("site location {id} is gone from the platform; adding it again"),
                )
                .await;
                draft.status.site_location_id = None;
                None
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (id, site) = match site {
        Some(found) => found,
        None => match find_by_name(obj, &scope).await? {
            Some(id) => {
                if !added_unseen {
                    let existing = format!(
                        "site {} (site location {id}) of tenant {}",
                        obj.spec.site_name, scope.tenant
                    );
                    if !adoption::may_adopt(obj) {
                        adoption::refuse(ctx, obj, draft, &existing, "choose another siteName")
                            .await;
                        return Ok(drift_requeue(scope.drift_seconds()));
                    }
                    adoption::adopted(ctx, obj, "AdoptSite", &existing).await;
                }
                draft.status.site_location_id = Some(id.clone());
                let site = scope.client.get_sip_connection(&id).await?;
                if !added_unseen && !drifted(obj, &site) {
                    // Taken over as it is: the spec is already applied, nothing to send.
                    draft.status.applied_generation = draft.generation;
                }
                (id, site)
            }
            None => return add(obj, ctx, api, draft, &scope).await,
        },
    };

    draft.status.sbc_deployment_state = site
        .sbc_deployment_state
        .map(|s| deployment_state::name(s).to_owned());
    draft.status.m365_deployment_state = site
        .m365_deployment_state
        .map(|s| deployment_state::name(s).to_owned());
    if !site.pending_tasks.is_empty() {
        draft.condition(
            READY,
            false,
            reason::WAITING_FOR_TASK,
            format!("the platform runs tasks on site location {id}"),
        );
        return Ok(Action::requeue(ctx.config.task_poll));
    }
    let spec_changed = draft.status.applied_generation != draft.generation;
    if spec_changed || drifted(obj, &site) {
        return modify(obj, ctx, api, draft, &scope, &id).await;
    }
    let (sbc, m365) = (
        site.sbc_deployment_state.unwrap_or(-1),
        site.m365_deployment_state.unwrap_or(-1),
    );
    if sbc == FAILED || m365 == FAILED {
        return Err(Error::Rejected(format!(
            "the deployment of site location {id} failed (SBC {}, Microsoft 365 {}); fix the script parameters or the SBC, which modifies the site",
            deployment_state::name(sbc),
            deployment_state::name(m365)
        )));
    }
    if sbc != DEPLOYED || m365 != DEPLOYED {
        draft.condition(
            READY,
            false,
            reason::WAITING_FOR_TASK,
            format!("site location {id} is {}", deployment_state::name(sbc)),
        );
        return Ok(Action::requeue(ctx.config.task_poll));
    }
    let was_ready =
        crate::api::conditions::is_true_for(draft.conditions(), READY, draft.generation);
    let message = format!("site location {id} is deployed on SBC {}", obj.spec.sbc_id);
    draft.condition(READY, true, reason::AVAILABLE, message.clone());
    if !was_ready {
        ctx.event(obj, false, reason::AVAILABLE, "Reconcile", message)
            .await;
    }
    Ok(drift_requeue(scope.drift_seconds()))
}

/// Refuses, before any call, an SBC that no calling profile of the platform maps.
fn check_sbc(obj: &OCSipConnection, scope: &CustomerScope) -> Result<()> {
    let known: Vec<String> = scope
        .platform
        .status
        .iter()
        .flat_map(|s| s.calling_profiles.iter())
        .flat_map(|p| p.sbcs.iter().map(|s| s.id.clone()))
        .collect();
    if known.is_empty() {
        return Err(Error::Dependency(format!(
            "OCPlatform {} has not published its calling profiles yet",
            scope.platform.metadata.name.as_deref().unwrap_or_default()
        )));
    }
    if !known.contains(&obj.spec.sbc_id) {
        let mut known = known;
        known.sort();
        known.dedup();
        return Err(Error::InvalidSpec(format!(
            "SBC {} is not mapped by any calling profile of OCPlatform {}; use one of {}",
            obj.spec.sbc_id,
            scope.platform.metadata.name.as_deref().unwrap_or_default(),
            known.join(", ")
        )));
    }
    Ok(())
}

/// The id of the customer's site location named like this object's site, if any.
async fn find_by_name(obj: &OCSipConnection, scope: &CustomerScope) -> Result<Option<String>> {
    let services = scope.client.list_services(true).await?;
    Ok(services
        .into_iter()
        .filter(|s| s.ump_customer_guid.eq_ignore_ascii_case(&scope.customer_id))
        .flat_map(|s| s.site_location)
        .find(|site| {
            site.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&obj.spec.site_name))
        })
        .and_then(|site| site.id))
}

/// Whether the platform's site differs from the spec in what Get SIP Connection shows.
fn drifted(obj: &OCSipConnection, site: &SipConnection) -> bool {
    let info = site.sbc_info.clone().unwrap_or_default();
    site.site_name.as_deref() != Some(obj.spec.site_name.as_str())
        || info.sbc_id.as_deref() != Some(obj.spec.sbc_id.as_str())
        || (obj.spec.cac_profile.is_some() && info.cac_profile != obj.spec.cac_profile)
        || info.flag_configure_sbc != obj.spec.configure_sbc
}

async fn carrier_password(ctx: &Context, obj: &OCSipConnection) -> Result<Option<SecretString>> {
    let Some(reference) = &obj.spec.carrier_password_secret_ref else {
        return Ok(None);
    };
    let ns = namespace_of(obj);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let secret = secrets
        .get_opt(&reference.name)
        .await
        .map_err(Error::kube(format!(
            "reading Secret {ns}/{}",
            reference.name
        )))?
        .ok_or_else(|| {
            Error::Dependency(format!(
                "Secret {ns}/{} (the carrier password) does not exist",
                reference.name
            ))
        })?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&reference.key))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::Dependency(format!(
                "Secret {ns}/{} has no (or an empty) key {}",
                reference.name, reference.key
            ))
        })?;
    Ok(Some(SecretString::new(value)))
}

async fn add(
    obj: &OCSipConnection,
    ctx: &Context,
    api: &Api<OCSipConnection>,
    draft: &mut Draft,
    scope: &CustomerScope,
) -> Result<Action> {
    let password = carrier_password(ctx, obj).await?;
    let mut params = serde_json::Map::new();
    for (k, v) in &obj.spec.script_parameters {
        params.insert(k.clone(), v.clone().into());
    }
    if let Some(cac) = &obj.spec.cac_profile {
        params
            .entry("CacProfile")
            .or_insert_with(|| cac.clone().into());
    }
    let body = AddSipConnection {
        site_location_name: obj.spec.site_name.clone(),
        ovoc_customer_type: obj.spec.customer_type.platform_value().to_owned(),
        sbc_id: obj.spec.sbc_id.clone(),
        sbc_onboarding_script: obj.spec.onboarding_script.clone(),
        sbc_cleanup_script: obj.spec.cleanup_script.clone(),
        script_parameters: params,
        carrier_password: password,
    };
    draft.condition(
        READY,
        false,
        reason::CREATING,
        format!("adding site location {}", obj.spec.site_name),
    );
    draft.status.applied_generation = draft.generation;
    tasks::begin(
        api,
        obj,
        draft,
        PlatformAction::AddSipConnection,
        vec![obj.spec.site_name.clone()],
    )
    .await?;
    let added = scope
        .client
        .add_sip_connection(&scope.customer_id, &body)
        .await?;
    draft.status.site_location_id = Some(added.site_location_id.clone());
    tasks::started(api, obj, draft, &TaskId(added.task_id.clone())).await?;
    ctx.event(
        obj,
        false,
        "SiteAdded",
        "AddSipConnection",
        format!(
            "added site location {} (task {})",
            added.site_location_id, added.task_id
        ),
    )
    .await;
    draft.condition(
        READY,
        false,
        reason::WAITING_FOR_TASK,
        format!(
            "onboarding site location {} (task {})",
            added.site_location_id, added.task_id
        ),
    );
    Ok(Action::requeue(ctx.config.task_poll))
}

async fn modify(
    obj: &OCSipConnection,
    ctx: &Context,
    api: &Api<OCSipConnection>,
    draft: &mut Draft,
    scope: &CustomerScope,
    id: &str,
) -> Result<Action> {
    let body = ModifySipConnection {
        site_location_id: id.to_owned(),
        sbc_id: Some(obj.spec.sbc_id.clone()),
        sbc_site_name: Some(obj.spec.site_name.clone()),
        cac_profile: obj.spec.cac_profile.clone(),
        enable_cac: Some(obj.spec.enable_cac),
        flag_configure_sbc: Some(obj.spec.configure_sbc),
        flag_carrier_registration: Some(obj.spec.carrier_registration),
    };
    draft.condition(
        READY,
        false,
        reason::UPDATING,
        format!("modifying site location {id}"),
    );
    tasks::begin(
        api,
        obj,
        draft,
        PlatformAction::ModifySipConnection,
        vec![id.to_owned()],
    )
    .await?;
    let task = scope
        .client
        .modify_sip_connection(&scope.customer_id, &body)
        .await?;
    // The spec of this generation is now being applied.
    draft.status.applied_generation = draft.generation;
    tasks::started(api, obj, draft, &task).await?;
    ctx.event(
        obj,
        false,
        "SiteModified",
        "ModifySipConnection",
        format!("modifying site location {id} (task {task})"),
    )
    .await;
    Ok(Action::requeue(ctx.config.task_poll))
}

async fn cleanup(
    obj: &OCSipConnection,
    ctx: &Context,
    api: &Api<OCSipConnection>,
    draft: &mut Draft,
    scope: &CustomerScope,
) -> Result<Action> {
    // Only a site this object added (or took over) is removed; after an add whose
    // answer was lost, the site is found by name.
    let id = match draft.status.site_location_id.clone() {
        Some(id) => Some(id),
        None if tasks::is(draft, PlatformAction::AddSipConnection).is_some() => {
            find_by_name(obj, scope).await?
        }
        None => None,
    };
    let Some(id) = id else {
        finalizer::remove(api, obj).await?;
        return Ok(Action::await_change());
    };
    let site = match scope.client.get_sip_connection(&id).await {
        Ok(site) => site,
        Err(PlatformError::NotFound { .. }) => {
            ctx.event(
                obj,
                false,
                "SiteRemoved",
                "DeleteSipConnection",
                format!("site location {id} is removed"),
            )
            .await;
            finalizer::remove(api, obj).await?;
            return Ok(Action::await_change());
        }
        Err(e) => return Err(e.into()),
    };
    if site.sbc_deployment_state == Some(REMOVING) || !site.pending_tasks.is_empty() {
        draft.condition(
            READY,
            false,
            reason::DELETING,
            format!("the platform is removing site location {id}"),
        );
        return Ok(Action::requeue(ctx.config.task_poll));
    }
    if let Some(op) = tasks::is(draft, PlatformAction::DeleteSipConnection) {
        if let Some(task) = op.task_id
            && let TaskOutcome::Failed(t) = scope.poll(ctx, &op.action, &task).await?
        {
            tasks::finish(draft);
            return Err(Error::TaskFailed(format!(
                "removing site location {id} failed (task {task}): {}",
                t.error_summary()
            )));
        }
        tasks::finish(draft);
    }
    draft.condition(
        READY,
        false,
        reason::DELETING,
        format!("removing site location {id}"),
    );
    tasks::begin(
        api,
        obj,
        draft,
        PlatformAction::DeleteSipConnection,
        vec![id.clone()],
    )
    .await?;
    let deleted = scope.client.delete_sip_connection(&id).await?;
    if let Some(task) = deleted.sbc_cleanup_task_id {
        tasks::started(api, obj, draft, &TaskId(task)).await?;
    }
    Ok(Action::requeue(ctx.config.task_poll))
}
