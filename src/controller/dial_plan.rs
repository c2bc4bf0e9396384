//! The life of an `OCDialPlan`: read the dial plan of the site (or of the customer, for
//! a single-site customer), send only the rules to add and to remove, report rules
//! others added (and remove them under `unmanagedRules: Remove`); on delete, delete the
//! dial plan. Every write is computed from a fresh read, so a lost answer is simply
//! read again.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::api::Api;
use kube::runtime::controller::Action;

use super::adoption;
use super::context::Context;
use super::customer_scope::{CustomerScope, customer_scope, namespace_of, without_scope};
use super::drive;
use super::error::Result;
use super::finalizer;
use super::platform::drift_requeue;
use super::status::{StatusDraft, namespaced_api};
use crate::api::OCDialPlan;
use crate::api::conditions::{READY, reason};
use crate::api::dial_plan::UnmanagedRules;
use crate::liveplatform::Error as PlatformError;
use crate::liveplatform::model::{DialPlanRule, ModifyDialPlan};

type Draft = StatusDraft<OCDialPlan>;

pub async fn reconcile(obj: Arc<OCDialPlan>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, &*obj);
    drive(obj, ctx, api, run).await
}

async fn run(
    obj: &OCDialPlan,
    ctx: &Context,
    api: &Api<OCDialPlan>,
    draft: &mut Draft,
) -> Result<Action> {
    if finalizer::let_go_if_orphaned(api, obj, obj.spec.deletion_policy).await? {
        return Ok(Action::await_change());
    }
    let deleting = finalizer::is_deleting(obj);
    let claimed = !draft.status.managed_rules.is_empty() || draft.status.owned_since.is_some();
    if deleting && !claimed {
        // It never wrote to the dial plan: nothing on the platform is its own.
        finalizer::remove(api, obj).await?;
        return Ok(Action::await_change());
    }
    let scope = customer_scope(ctx, obj, draft).await?;
    let site = match &scope {
        Some(scope) => site_of(obj, ctx, scope, draft).await?,
        None => None,
    };
    let (Some(scope), Some(site)) = (scope, site) else {
        // No customer or site on the platform: the dial plan went with them.
        return without_scope(ctx, api, obj, true).await;
    };
    draft.status.site_location_id = Some(site.clone());
    let id = &obj.spec.dial_plan_id;
    if deleting {
        draft.condition(
            READY,
            false,
            reason::DELETING,
            format!("deleting dial plan {id}"),
        );
        match scope
            .client
            .delete_dial_plan(&scope.customer_id, &site, id)
            .await
        {
            Ok(_) | Err(PlatformError::NotFound { .. }) => {
                ctx.event(
                    obj,
                    false,
                    "DialPlanDeleted",
                    "DeleteDialPlan",
                    format!("deleted dial plan {id} of site {site}"),
                )
                .await;
                finalizer::remove(api, obj).await?;
                return Ok(Action::await_change());
            }
            Err(e) => return Err(e.into()),
        }
    }
    finalizer::add(api, obj).await?;

    let plans = scope
        .client
        .get_dial_plan(&scope.customer_id, &site, id)
        .await?;
    let current: Vec<DialPlanRule> = plans
        .into_iter()
        .filter(|p| p.dial_plan_id.eq_ignore_ascii_case(id))
        .flat_map(|p| p.rule_dto)
        .collect();
    if !claimed && !current.is_empty() {
        // Rules that no object in the cluster put there: taken over only on request.
        let existing = format!(
            "dial plan {id} with {} rules on site {site} of tenant {}",
            current.len(),
            scope.tenant
        );
        if !adoption::may_adopt(obj) {
            adoption::refuse(ctx, obj, draft, &existing, "use another dialPlanId").await;
            return Ok(drift_requeue(scope.drift_seconds()));
        }
        adoption::adopted(ctx, obj, "AdoptDialPlan", &existing).await;
    }
    let wanted: BTreeMap<&str, DialPlanRule> = obj
        .spec
        .rules
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                DialPlanRule {
                    name: r.name.clone(),
                    prefix: r.prefix.clone(),
                    tag: r.tag.clone(),
                },
            )
        })
        .collect();
    let managed = &draft.status.managed_rules;
    let mut remove = Vec::new();
    let mut unmanaged = Vec::new();
    for rule in &current {
        match wanted.get(rule.name.as_str()) {
            Some(want) if want == rule => {}
            Some(_) => remove.push(rule.clone()),
            // Declared before and dropped from the spec since: ours to remove.
            None if managed.contains(&rule.name) => remove.push(rule.clone()),
            None if obj.spec.unmanaged_rules == UnmanagedRules::Remove => remove.push(rule.clone()),
            None => unmanaged.push(rule.name.clone()),
        }
    }
    let add: Vec<DialPlanRule> = wanted
        .values()
        .filter(|w| !current.contains(w))
        .cloned()
        .collect();
    if !add.is_empty() || !remove.is_empty() {
        // Recorded first, so that a rule added here is known as ours even if the answer
        // is lost.
        let mut names: Vec<String> = draft
            .status
            .managed_rules
            .iter()
            .chain(
                wanted
                    .keys()
                    .map(|k| (*k).to_owned())
                    .collect::<Vec<_>>()
                    .iter(),
            )
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        draft.status.managed_rules = names;
        super::status::save(api, obj, draft).await?;
        let body = ModifyDialPlan {
            dial_plan_id: id.clone(),
            add: add.clone(),
            remove: remove.clone(),
        };
        scope
            .client
            .modify_dial_plan(&scope.customer_id, &site, &body)
            .await?;
        ctx.event(
            obj,
            false,
            "RulesChanged",
            "ModifyDialPlan",
            format!(
                "dial plan {id}: added {}, removed {} rules",
                add.len(),
                remove.len()
            ),
        )
        .await;
        // Read back on the next pass, which also confirms the change.
        draft.condition(
            READY,
            false,
            reason::UPDATING,
            format!("changed the rules of dial plan {id}"),
        );
        return Ok(Action::requeue(ctx.config.task_poll));
    }
    unmanaged.sort();
    draft.status.managed_rules = wanted.keys().map(|k| (*k).to_owned()).collect();
    draft.status.rule_count = Some(current.len() as i64);
    draft.status.unmanaged_rules = unmanaged.clone();
    let message = if unmanaged.is_empty() {
        format!("dial plan {id} holds the {} declared rules", wanted.len())
    } else {
        format!(
            "dial plan {id} holds the {} declared rules; rules {} were added by others and are kept (unmanagedRules: Keep)",
            wanted.len(),
            unmanaged.join(", ")
        )
    };
    let was_ready =
        crate::api::conditions::is_true_for(draft.conditions(), READY, draft.generation);
    draft.condition(READY, true, reason::AVAILABLE, message.clone());
    if !was_ready {
        ctx.event(obj, false, reason::AVAILABLE, "Reconcile", message)
            .await;
    }
    Ok(drift_requeue(scope.drift_seconds()))
}

/// The site location the dial plan is on, or `None` with a waiting condition.
async fn site_of(
    obj: &OCDialPlan,
    ctx: &Context,
    scope: &CustomerScope,
    draft: &mut Draft,
) -> Result<Option<String>> {
    let Some(reference) = &obj.spec.sip_connection_ref else {
        return Ok(Some(scope.customer_id.clone()));
    };
    let ns = namespace_of(obj);
    // From the watch cache (no apiserver read).
    let site = ctx.stores.site(&ns, &reference.name);
    match site.and_then(|s| s.status.as_ref().and_then(|st| st.site_location_id.clone())) {
        Some(id) => Ok(Some(id)),
        None => {
            draft.condition(
                READY,
                false,
                reason::WAITING_FOR_DEPENDENCY,
                format!(
                    "waiting for OCSipConnection {} to have a site location on the platform",
                    reference.name
                ),
            );
            Ok(None)
        }
    }
}
