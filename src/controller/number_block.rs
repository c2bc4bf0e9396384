//! The life of an `OCNumberBlock`: expand the declared numbers; refuse numbers another
//! block declared first; upload the missing ones in requests of at most the platform's
//! limit, following each task; release numbers that left the spec (unassigning first
//! when the policy allows); on delete, release everything and keep the finalizer until
//! the release succeeded. One write at a time, recorded before it is sent.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::adoption;
use super::context::Context;
use super::customer_scope::{CustomerScope, customer_scope, without_scope};
use super::drive;
use super::error::{Error, Result};
use super::finalizer;
use super::number_set::{compress, declared, decompress};
use super::ownership::{Identity, Name};
use super::platform::drift_requeue;
use super::status::{StatusDraft, namespaced_api};
use super::tasks;
use crate::api::OCNumberBlock;
use crate::api::common::DeletionPolicy;
use crate::api::conditions::{NUMBERS_UPLOADED, READY, reason};
use crate::api::number_block::{AssignedNumberPolicy, FailedNumber, NumberCounts};
use crate::liveplatform::contract::MAX_NUMBERS_PER_REQUEST;
use crate::liveplatform::model::{
    NumberOutcome, NumberRecord, ReleaseNumbers, UnassignNumbers, UploadNumbers, ValidateNumbers,
};
use crate::liveplatform::{Action as PlatformAction, Conflict, TaskOutcome};

type Draft = StatusDraft<OCNumberBlock>;

/// At most this many failed numbers are listed in status.
const FAILED_LISTED: usize = 50;
/// Status of numbers of an upload that is still running [chosen, see contract.rs].
const UPLOAD_REQUESTED: &str = "Upload Requested";
const RELEASE_REQUESTED: &str = "Release Requested";

pub async fn reconcile(obj: Arc<OCNumberBlock>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, &*obj);
    drive(obj, ctx, api, run).await
}

async fn run(
    obj: &OCNumberBlock,
    ctx: &Context,
    api: &Api<OCNumberBlock>,
    draft: &mut Draft,
) -> Result<Action> {
    let deleting = finalizer::is_deleting(obj);
    if deleting && (obj.spec.deletion_policy == DeletionPolicy::Orphan || !finalizer::has(obj)) {
        if finalizer::has(obj) {
            ctx.event(
                obj,
                false,
                "Orphaned",
                "Delete",
                "deletionPolicy is Orphan: the numbers stay with the customer",
            )
            .await;
        }
        finalizer::remove(api, obj).await?;
        return Ok(Action::await_change());
    }
    if deleting && owned(draft).is_empty() && tasks::current(draft).is_none() {
        // It never brought a number to the platform: nothing to release.
        finalizer::remove(api, obj).await?;
        return Ok(Action::await_change());
    }
    let Some(scope) = customer_scope(ctx, obj, draft).await? else {
        return without_scope(ctx, api, obj, owned(draft).is_empty()).await;
    };
    if !deleting {
        finalizer::add(api, obj).await?;
    }
    if let Some(wait) = in_flight(obj, ctx, api, draft, &scope).await? {
        return Ok(wait);
    }
    if draft.status.observed_generation != draft.generation {
        // A new spec is planned against a fresh listing, not a shared older one.
        ctx.numbers.invalidate(&scope.tenant).await;
    }
    let records = ctx.numbers.list(&scope.client, &scope.tenant).await?;
    let by_number: HashMap<&str, &NumberRecord> = records
        .iter()
        .map(|r| (r.telephone_number.as_str(), r))
        .collect();
    if deleting {
        return cleanup(obj, ctx, api, draft, &scope, &by_number).await;
    }
    apply(obj, ctx, api, draft, &scope, &by_number).await
}

/// Numbers this block has on the platform as far as its status knows.
fn owned(draft: &Draft) -> BTreeSet<String> {
    decompress(&draft.status.active)
}

/// The numbers this block has on the platform and owns: a number that another block
/// owns (see `ownership`) is never released or unassigned by this one.
fn mine(obj: &OCNumberBlock, ctx: &Context, draft: &Draft, platform: &str) -> BTreeSet<String> {
    let platform: Name = platform.into();
    let identity = |number: &String| Identity::Number {
        platform: platform.clone(),
        number: number.as_str().into(),
    };
    let owned = owned(draft);
    let identities: Vec<Identity> = owned.iter().map(identity).collect();
    let others = ctx
        .ownership
        .blocks
        .owned_by_others(obj, &identities, &ctx.stores);
    owned
        .into_iter()
        .filter(|number| !others.contains(&identity(number)))
        .collect()
}

/// Follows a write in flight. `Some(action)` while it is not over.
async fn in_flight(
    obj: &OCNumberBlock,
    ctx: &Context,
    api: &Api<OCNumberBlock>,
    draft: &mut Draft,
    scope: &CustomerScope,
) -> Result<Option<Action>> {
    let Some(op) = tasks::current(draft) else {
        return Ok(None);
    };
    let items: BTreeSet<String> = decompress(&op.items);
    let waiting = |draft: &mut Draft, what: String| {
        draft.condition(READY, false, reason::WAITING_FOR_TASK, what);
        Ok(Some(Action::requeue(ctx.config.task_poll)))
    };
    let Some(task) = op.task_id.clone() else {
        // The answer was lost: look the numbers up (a fresh full listing, Get Customer
        // Numbers V2) before writing anything again; the shared listing is stale too.
        ctx.numbers.invalidate(&scope.tenant).await;
        let records = scope.client.numbers_v2(&scope.tenant).await?;
        let mine: Vec<&NumberRecord> = records
            .iter()
            .filter(|r| items.contains(&r.telephone_number))
            .collect();
        if op.action == PlatformAction::UploadNumbers.title() {
            if let Some(job) = mine
                .iter()
                .find_map(|r| r.upload_to_account_job_id.clone().filter(|j| !j.is_empty()))
            {
                tasks::started(
                    api,
                    obj,
                    draft,
                    &crate::liveplatform::model::TaskId(job.clone()),
                )
                .await?;
                return waiting(
                    draft,
                    format!("following upload task {job}, found after its answer was lost"),
                );
            }
        } else if op.action == PlatformAction::ReleaseNumbers.title()
            && mine
                .iter()
                .any(|r| r.acquired_number_status == RELEASE_REQUESTED)
        {
            return waiting(
                draft,
                "a release whose answer was lost is still running".into(),
            );
        }
        // An unassign whose answer was lost: writing it again is harmless, so the plan
        // below decides from what the listing shows.
        tasks::finish(draft);
        return Ok(None);
    };
    match scope.poll(ctx, &op.action, &task).await? {
        TaskOutcome::StillRunning(t) => waiting(
            draft,
            format!("{} (task {task}, {})", op.action, t.status.as_str()),
        ),
        outcome => {
            tasks::finish(draft);
            ctx.numbers.invalidate(&scope.tenant).await;
            match outcome {
                TaskOutcome::Succeeded(_) => {
                    ctx.event(
                        obj,
                        false,
                        "TaskSucceeded",
                        &op.action,
                        format!(
                            "{} of {} numbers succeeded (task {task})",
                            op.action,
                            items.len()
                        ),
                    )
                    .await;
                    Ok(None)
                }
                TaskOutcome::PartlyFailed { failed, .. } => {
                    record_failures(draft, failed.iter());
                    ctx.event(
                        obj,
                        true,
                        "NumbersFailed",
                        &op.action,
                        format!(
                            "{} of {} numbers failed (task {task})",
                            failed.len(),
                            items.len()
                        ),
                    )
                    .await;
                    Ok(None)
                }
                TaskOutcome::Failed(t) => {
                    if op.action == PlatformAction::UploadNumbers.title() {
                        let outcomes = t.number_outcomes();
                        if !outcomes.is_empty() {
                            record_failures(draft, outcomes.iter().filter(|o| !o.succeeded()));
                            ctx.event(
                                obj,
                                true,
                                "NumbersFailed",
                                &op.action,
                                format!("the upload failed (task {task}): {}", t.error_summary()),
                            )
                            .await;
                            return Ok(None);
                        }
                    }
                    Err(Error::TaskFailed(format!(
                        "{} failed (task {task}): {}",
                        op.action,
                        t.error_summary()
                    )))
                }
                TaskOutcome::StillRunning(_) => Ok(None),
            }
        }
    }
}

fn record_failures<'a>(draft: &mut Draft, failures: impl Iterator<Item = &'a NumberOutcome>) {
    for f in failures {
        draft
            .status
            .failed
            .retain(|x| x.number != f.telephone_number);
        draft.status.failed.push(FailedNumber {
            number: f.telephone_number.clone(),
            reason: f.error_code.clone().unwrap_or_default(),
            message: f.error_message.clone(),
        });
    }
    draft.status.failed.sort_by(|a, b| a.number.cmp(&b.number));
}

async fn apply(
    obj: &OCNumberBlock,
    ctx: &Context,
    api: &Api<OCNumberBlock>,
    draft: &mut Draft,
    scope: &CustomerScope,
    records: &HashMap<&str, &NumberRecord>,
) -> Result<Action> {
    // A new spec gets a new chance for numbers that failed before.
    if draft.status.observed_generation != draft.generation {
        draft.status.failed.clear();
    }
    let declared = declared(&obj.spec);
    let failed: BTreeSet<String> = draft
        .status
        .failed
        .iter()
        .map(|f| f.number.clone())
        .collect();
    let owned = mine(obj, ctx, draft, &scope.platform.name_any());

    // Declared numbers the tenant already has that this block never brought: taken
    // over only on request.
    let existing: Vec<String> = declared
        .iter()
        .filter(|n| records.contains_key(n.as_str()) && !owned.contains(*n))
        .cloned()
        .collect();
    if !existing.is_empty() {
        let what = format!(
            "numbers {} of tenant {}",
            compress(&existing).join(", "),
            scope.tenant
        );
        if !adoption::may_adopt(obj) {
            adoption::refuse(ctx, obj, draft, &what, "remove them from the spec").await;
            return Ok(drift_requeue(scope.drift_seconds()));
        }
        let mut active = owned.clone();
        active.extend(existing.iter().cloned());
        draft.status.active = compress(&active);
        adoption::adopted(ctx, obj, "AdoptNumbers", &what).await;
    }
    let owned: BTreeSet<String> = owned.into_iter().chain(existing).collect();

    let removed: Vec<String> = owned
        .difference(&declared)
        .filter(|n| records.contains_key(n.as_str()))
        .cloned()
        .collect();
    let (assigned, releasable): (Vec<String>, Vec<String>) = removed
        .iter()
        .cloned()
        .partition(|n| records.get(n.as_str()).is_some_and(|r| r.is_assigned()));
    let unassign = obj.spec.assigned_number_policy == AssignedNumberPolicy::Unassign;
    let to_upload: Vec<String> = declared
        .iter()
        .filter(|n| !records.contains_key(n.as_str()) && !failed.contains(*n))
        .cloned()
        .collect();

    if unassign && !assigned.is_empty() {
        return write(
            obj,
            ctx,
            api,
            draft,
            scope,
            PlatformAction::UnassignNumbers,
            assigned,
        )
        .await;
    }
    let releasable: Vec<String> = releasable
        .into_iter()
        .filter(|n| records.get(n.as_str()).is_some_and(|r| r.is_active()))
        .collect();
    if !releasable.is_empty() {
        return write(
            obj,
            ctx,
            api,
            draft,
            scope,
            PlatformAction::ReleaseNumbers,
            releasable,
        )
        .await;
    }
    if !to_upload.is_empty() {
        return write(
            obj,
            ctx,
            api,
            draft,
            scope,
            PlatformAction::UploadNumbers,
            to_upload,
        )
        .await;
    }

    // Nothing to write: report.
    let retained: Vec<String> = if unassign { Vec::new() } else { assigned };
    let mut active: BTreeSet<String> = declared
        .iter()
        .filter(|n| records.get(n.as_str()).is_some_and(|r| r.is_active()))
        .cloned()
        .collect();
    active.extend(retained.iter().cloned());
    draft.status.active = compress(&active);
    draft.status.failed.truncate(FAILED_LISTED);
    draft.status.counts = Some(NumberCounts {
        declared: declared.len() as i64,
        active: active.len() as i64,
        uploading: declared
            .iter()
            .filter(|n| {
                records
                    .get(n.as_str())
                    .is_some_and(|r| r.acquired_number_status == UPLOAD_REQUESTED)
            })
            .count() as i64,
        failed: failed.len() as i64,
        releasing: owned
            .iter()
            .filter(|n| {
                records
                    .get(n.as_str())
                    .is_some_and(|r| r.acquired_number_status == RELEASE_REQUESTED)
            })
            .count() as i64,
        retained: retained.len() as i64,
    });
    let waiting = declared.len() - failed.len().min(declared.len())
        > active.len() - retained.len().min(active.len());
    if waiting {
        draft.condition(
            NUMBERS_UPLOADED,
            false,
            reason::WAITING_FOR_TASK,
            "numbers are still being processed by the platform",
        );
        draft.condition(
            READY,
            false,
            reason::WAITING_FOR_TASK,
            "numbers are still being processed by the platform",
        );
        return Ok(Action::requeue(ctx.config.task_poll));
    }
    if !failed.is_empty() {
        let list: Vec<String> = draft
            .status
            .failed
            .iter()
            .take(5)
            .map(|f| match &f.message {
                // What the platform says, such as which tenant holds the number.
                Some(message) => format!("{} ({}): {message}", f.number, f.reason),
                None => format!("{} ({})", f.number, f.reason),
            })
            .collect();
        let message = format!(
            "{} of {} numbers were refused by the platform: {}{}; remove them from the spec or fix the cause, then change the spec to retry",
            failed.len(),
            declared.len(),
            list.join("; "),
            if failed.len() > 5 { ", ..." } else { "" }
        );
        draft.condition(NUMBERS_UPLOADED, false, "PartlyFailed", message.clone());
        draft.condition(READY, false, reason::REJECTED, message);
        return Ok(Action::await_change());
    }
    draft.condition(
        NUMBERS_UPLOADED,
        true,
        reason::AVAILABLE,
        format!("all {} declared numbers are active", declared.len()),
    );
    if !retained.is_empty() {
        draft.condition(
            READY,
            false,
            "NumbersAssigned",
            format!(
                "numbers {} left the spec but are assigned in Teams, so they stay; unassign them or set assignedNumberPolicy: Unassign",
                compress(&retained).join(", ")
            ),
        );
        return Ok(Action::requeue(ctx.config.wait_requeue * 6));
    }
    let was_ready =
        crate::api::conditions::is_true_for(draft.conditions(), READY, draft.generation);
    draft.condition(
        READY,
        true,
        reason::AVAILABLE,
        format!("{} numbers active", active.len()),
    );
    if !was_ready {
        ctx.event(
            obj,
            false,
            reason::AVAILABLE,
            "Reconcile",
            format!("{} numbers active", active.len()),
        )
        .await;
    }
    Ok(drift_requeue(scope.drift_seconds()))
}

/// Starts one write of at most the platform's per-request limit, recording the intent
/// first and the task id right after.
async fn write(
    obj: &OCNumberBlock,
    ctx: &Context,
    api: &Api<OCNumberBlock>,
    draft: &mut Draft,
    scope: &CustomerScope,
    action: PlatformAction,
    mut numbers: Vec<String>,
) -> Result<Action> {
    numbers.truncate(MAX_NUMBERS_PER_REQUEST);
    if action == PlatformAction::UploadNumbers {
        numbers = validated(obj, ctx, draft, scope, numbers).await?;
        if numbers.is_empty() {
            // Everything in this chunk was refused; plan again without it.
            return Ok(Action::requeue(ctx.config.task_poll));
        }
    }
    let items = compress(&numbers);
    let what = format!("{} ({} numbers)", action.title(), numbers.len());
    draft.condition(
        READY,
        false,
        if action == PlatformAction::UploadNumbers {
            reason::CREATING
        } else {
            reason::UPDATING
        },
        what.clone(),
    );
    if action == PlatformAction::UploadNumbers {
        // Keep tracking what this block brings to the platform.
        let mut active = owned(draft);
        active.extend(numbers.iter().cloned());
        draft.status.active = compress(&active);
    }
    tasks::begin(api, obj, draft, action, items).await?;
    let sent = match action {
        PlatformAction::UploadNumbers => {
            let mut body = UploadNumbers::new(
                obj.spec.calling_profile_id.clone(),
                usage(obj),
                numbers.clone(),
            );
            body.capabilities = obj
                .spec
                .capabilities
                .iter()
                .map(|c| capability(*c))
                .collect();
            body.civic_address_id = obj.spec.civic_address_id.clone();
            body.location_id = obj.spec.location_id.clone();
            scope.client.upload_numbers(&scope.tenant, &body).await
        }
        PlatformAction::ReleaseNumbers => {
            scope
                .client
                .release_numbers(&scope.tenant, &ReleaseNumbers::Numbers(numbers.clone()))
                .await
        }
        _ => {
            scope
                .client
                .unassign_numbers(
                    &scope.tenant,
                    &UnassignNumbers {
                        telephone_numbers: numbers.clone(),
                    },
                )
                .await
        }
    };
    ctx.numbers.invalidate(&scope.tenant).await;
    let task = match sent {
        Ok(task) => task,
        Err(e) => {
            // Refused: nothing happened, so the intent goes. Unknown: it stays, and the
            // next reconcile looks the numbers up before writing again.
            if state_changed(action, &e) {
                // The platform's numbers are not what the listing said (assigned in
                // Teams, busy, already there): look again rather than give up.
                tasks::finish(draft);
                return Err(Error::TaskFailed(format!(
                    "{e}; the numbers changed on the platform, so the operator lists them again"
                )));
            }
            if !matches!(e, crate::liveplatform::Error::OutcomeUnknown { .. }) {
                tasks::finish(draft);
                if action == PlatformAction::UploadNumbers {
                    let mut active = owned(draft);
                    for n in &numbers {
                        active.remove(n);
                    }
                    draft.status.active = compress(&active);
                }
            }
            return Err(e.into());
        }
    };
    tasks::started(api, obj, draft, &task).await?;
    ctx.event(
        obj,
        false,
        "TaskStarted",
        action.title(),
        format!("{what}: task {task}"),
    )
    .await;
    draft.condition(
        READY,
        false,
        reason::WAITING_FOR_TASK,
        format!("{what}: task {task}"),
    );
    Ok(Action::requeue(ctx.config.task_poll))
}

/// Validates numbers before they are uploaded; the refused ones are recorded as failed
/// (with what the platform says to do) and left out.
async fn validated(
    obj: &OCNumberBlock,
    ctx: &Context,
    draft: &mut Draft,
    scope: &CustomerScope,
    numbers: Vec<String>,
) -> Result<Vec<String>> {
    let check = scope
        .client
        .validate_numbers(&ValidateNumbers {
            telephone_numbers: numbers.clone(),
            ms_tenant_id: scope.tenant.clone(),
        })
        .await?;
    let refused: Vec<NumberOutcome> = check
        .telephone_numbers
        .iter()
        .filter(|n| !n.validation_result.eq_ignore_ascii_case("Success"))
        .map(|n| {
            let detail: Vec<String> = n
                .validation_detail
                .iter()
                .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned))
                .collect();
            let message = [
                detail.join("; "),
                n.action_required.clone().unwrap_or_default(),
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(": ");
            NumberOutcome {
                telephone_number: n.telephone_number.clone(),
                status: "Failed".into(),
                error_code: Some("validation_failed".into()),
                error_message: Some(message).filter(|m| !m.is_empty()),
            }
        })
        .collect();
    if refused.is_empty() {
        return Ok(numbers);
    }
    let refused_numbers: BTreeSet<String> =
        refused.iter().map(|f| f.telephone_number.clone()).collect();
    ctx.event(
        obj,
        true,
        "NumbersRefused",
        "ValidateNumbers",
        format!(
            "{} numbers failed validation: {}",
            refused.len(),
            compress(&refused_numbers).join(", ")
        ),
    )
    .await;
    record_failures(draft, refused.iter());
    Ok(numbers
        .into_iter()
        .filter(|n| !refused_numbers.contains(n))
        .collect())
}

/// A refusal caused by the numbers' state on the platform rather than by the spec.
fn state_changed(action: PlatformAction, error: &crate::liveplatform::Error) -> bool {
    let crate::liveplatform::Error::Validation { fields, .. } = error else {
        return false;
    };
    let messages: Vec<&String> = fields.values().flatten().collect();
    match action {
        PlatformAction::ReleaseNumbers | PlatformAction::UnassignNumbers => !messages.is_empty(),
        _ => matches!(
            error.conflict(),
            Some(Conflict::OperationRunning | Conflict::AlreadyAcquired)
        ),
    }
}

async fn cleanup(
    obj: &OCNumberBlock,
    ctx: &Context,
    api: &Api<OCNumberBlock>,
    draft: &mut Draft,
    scope: &CustomerScope,
    records: &HashMap<&str, &NumberRecord>,
) -> Result<Action> {
    let mine = mine(obj, ctx, draft, &scope.platform.name_any());
    let left: Vec<&NumberRecord> = mine
        .iter()
        .filter_map(|n| records.get(n.as_str()).copied())
        .collect();
    if left.is_empty() {
        ctx.event(
            obj,
            false,
            "Released",
            "Delete",
            "every number of the block is released",
        )
        .await;
        finalizer::remove(api, obj).await?;
        return Ok(Action::await_change());
    }
    draft.status.active = compress(left.iter().map(|r| &r.telephone_number));
    let assigned: Vec<String> = left
        .iter()
        .filter(|r| r.is_assigned())
        .map(|r| r.telephone_number.clone())
        .collect();
    if !assigned.is_empty() {
        if obj.spec.assigned_number_policy == AssignedNumberPolicy::Unassign {
            return write(
                obj,
                ctx,
                api,
                draft,
                scope,
                PlatformAction::UnassignNumbers,
                assigned,
            )
            .await;
        }
        draft.condition(
            READY,
            false,
            reason::DELETING,
            format!(
                "numbers {} are assigned in Teams and policy Keep leaves them; unassign them or set assignedNumberPolicy: Unassign, and the release goes on",
                compress(&assigned).join(", ")
            ),
        );
        return Ok(Action::requeue(ctx.config.wait_requeue));
    }
    let active: Vec<String> = left
        .iter()
        .filter(|r| r.is_active())
        .map(|r| r.telephone_number.clone())
        .collect();
    if active.is_empty() {
        draft.condition(
            READY,
            false,
            reason::DELETING,
            "waiting for the platform to finish processing the numbers",
        );
        return Ok(Action::requeue(ctx.config.task_poll));
    }
    write(
        obj,
        ctx,
        api,
        draft,
        scope,
        PlatformAction::ReleaseNumbers,
        active,
    )
    .await
}

fn usage(obj: &OCNumberBlock) -> crate::liveplatform::model::Usage {
    use crate::api::number_block::Usage as U;
    use crate::liveplatform::model::Usage as P;
    match obj.spec.usage {
        U::CallingUserAssignment => P::CallingUserAssignment,
        U::ConferenceAssignment => P::ConferenceAssignment,
        U::FirstPartyAppAssignment => P::FirstPartyAppAssignment,
        U::ThirdPartyAppAssignment => P::ThirdPartyAppAssignment,
    }
}

fn capability(c: crate::api::number_block::Capability) -> crate::liveplatform::model::Capability {
    use crate::api::number_block::Capability as C;
    use crate::liveplatform::model::Capability as P;
    match c {
        C::InboundCalling => P::InboundCalling,
        C::OutboundCalling => P::OutboundCalling,
        C::Office365 => P::Office365,
        C::UserAssignment => P::UserAssignment,
        C::FirstPartyAppAssignment => P::FirstPartyAppAssignment,
        C::ConferenceAssignment => P::ConferenceAssignment,
        C::TollFree => P::TollFree,
    }
}
