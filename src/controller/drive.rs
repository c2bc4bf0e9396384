//! One reconcile of any kind, start to end: the lifecycle's gates (see `lifecycle`),
//! the restart check, the budget lane and turn, the kind's own work, errors as
//! conditions with a per-object backoff, and the status written once at the end.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::context::Context;
use super::error::{self, Error, Result};
use super::kind::{self, Kind};
use super::lifecycle::{self, Departing, Departure, Gate, Leaving};
use super::ownership::{Governed, Verdict, describe};
use super::status::{self, StatusDraft};
use super::stores::Cached;
use super::{admission, caches, finalizer, management, task_timing, tasks};
use crate::api::conditions::{self, READY, SYNCED, reason};
use liveplatform::rate_limit::{Caller, Lane};

/// Annotation that pauses reconciliation of an object (value `"true"`).
pub const PAUSE_ANNOTATION: &str = "operatorconnect.io/paused";

pub fn is_paused<K: Kind>(obj: &K) -> bool {
    obj.annotations()
        .get(PAUSE_ANNOTATION)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The annotation that protects an object (or a namespace) from deletion: the chart's
/// ValidatingAdmissionPolicy refuses the DELETE, and an object deleted anyway (the
/// policy not installed) keeps its finalizer and touches nothing on the platform.
pub const PROTECT_ANNOTATION: &str = "operatorconnect.io/protected";

pub fn is_protected<K: Kind>(obj: &K) -> bool {
    obj.annotations()
        .get(PROTECT_ANNOTATION)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A protected object being deleted: `Ready=False` (reason `DeletionProtected`) says
/// how to lift the protection, and nothing is released or deleted until then.
async fn held_by_protection<K: Governed>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    draft: &mut StatusDraft<K>,
) -> Result<Action> {
    let kind = K::kind(&());
    let name = obj.name_any();
    let namespace = obj
        .namespace()
        .map(|ns| format!(" -n {ns}"))
        .unwrap_or_default();
    let message = format!(
        "{kind} {name} is protected ({PROTECT_ANNOTATION}: \"true\"): its deletion waits and nothing is released or deleted on the platform; to go on with the deletion, which cannot be undone on the platform, remove the annotation: kubectl annotate {} {name}{namespace} {PROTECT_ANNOTATION}-",
        kind.to_lowercase()
    );
    let was = conditions::find(draft.conditions(), READY).map(|c| c.reason.clone());
    draft.condition(READY, false, reason::DELETION_PROTECTED, message.clone());
    if was.as_deref() != Some(reason::DELETION_PROTECTED) {
        ctx.event(obj, true, reason::DELETION_PROTECTED, "Delete", message)
            .await;
    }
    status::save(api, obj, draft).await?;
    Ok(Action::await_change())
}

/// Runs one reconcile of `obj` through the shared rules:
/// - a paused object is left alone (`Synced=False`, reason `Paused`);
/// - a protected object being deleted is held (`Ready=False`, `DeletionProtected`);
/// - an object whose spec the platform rejected is not retried until the spec changes;
/// - errors become conditions whose message says what to do, and a per-object
///   backoff (terminal ones wait for a spec change);
/// - the status is written once at the end (and by `logic` wherever it must record an
///   intent first);
/// - an object the watch saw deleted while it ran leaves nothing behind.
pub async fn drive<K, F>(obj: Arc<K>, ctx: Arc<Context>, api: Api<K>, logic: F) -> Result<Action>
where
    K: Governed + Departing + Cached,
    F: AsyncFnOnce(&K, &Context, &Api<K>, &mut StatusDraft<K>) -> Result<Action>,
{
    // Nothing is decided on caches that do not hold their first listing yet (an owner
    // not seen yet must not lose its platform object to a later declaration). After a
    // restart every object's reconcile waits here at once: the rest of the reconcile
    // (kilobytes of state: apiserver requests, the kind's own work) is boxed, so that
    // only reconciles past this point carry it.
    ctx.stores.wait_synced().await;
    if !in_scope(&*obj, &ctx) {
        // Another operator's platform (`--platform-selector`): not ours to touch.
        return Ok(Action::await_change());
    }
    let action = Box::pin(drive_synced(obj.clone(), ctx.clone(), api, logic)).await;
    // The watch forgets a deleted object when it sees it go (`cache_took`); one that
    // went while this reconcile ran (nothing held it: it had no finalizer) would
    // otherwise be remembered again by what the reconcile recorded at its end.
    if !obj.still_cached(&ctx.stores) {
        forget_gone(&ctx, &kind::key(&*obj), &K::kind(&()));
    }
    action
}

async fn drive_synced<K, F>(obj: Arc<K>, ctx: Arc<Context>, api: Api<K>, logic: F) -> Result<Action>
where
    K: Governed + Departing,
    F: AsyncFnOnce(&K, &Context, &Api<K>, &mut StatusDraft<K>) -> Result<Action>,
{
    let key = kind::key(&*obj);
    tracing::debug!(object = %key, "reconcile starts");
    // The watch cache can lag behind our own last status write (an intent saved, then
    // its task id): deciding on such a copy could send a write twice. Such a copy is
    // read again from the apiserver; a current one is used as it is.
    let name = obj.name_any();
    let current = !K::WRITES_TO_PLATFORM
        || ctx
            .memory
            .written
            .is_current(&key, obj.meta().resource_version.as_deref());
    let (obj, from_cache) = if current {
        (obj, true)
    } else {
        ctx.metrics.read_afresh(&K::kind(&()));
        match Box::pin(read_afresh(&api, &name))
            .await
            .map_err(Error::kube(format!("reading {key}")))?
        {
            // The apiserver's copy is the one the cache holds: the cache is current.
            Some(fresh) => {
                let same = fresh.meta().resource_version == obj.meta().resource_version;
                (Arc::new(fresh), same)
            }
            None => {
                ctx.memory.written.forget(&key);
                return Ok(Action::await_change());
            }
        }
    };
    // A turn handed to it while it waited for one (see `admission`): held from here,
    // given back however this reconcile ends.
    let platform = obj.platform_name(&ctx.stores).unwrap_or_default();
    let mut turn = ctx.platform.admission.claim(&platform, &key);
    let mut draft = StatusDraft::of(&*obj);
    let paused = is_paused(&*obj);
    // Ownership is not looked at for a paused object: it is left alone.
    let verdict = (!paused)
        .then(|| obj.verdict(&ctx.ownership, &ctx.stores))
        .flatten();
    let facts = lifecycle::Facts {
        paused,
        conflict: lifecycle::Facts::conflict_of(verdict.as_ref()),
        deleting: finalizer::is_deleting(&*obj),
        has_finalizer: finalizer::has(&*obj),
        protected: is_protected(&*obj),
        only_observes: K::WRITES_TO_PLATFORM && management::observe_only(&*obj, &ctx.stores),
        rejected: rejected_for_this_generation(&mut draft),
    };
    match lifecycle::gate(facts) {
        Gate::Go => {}
        Gate::Pause => {
            draft.condition(
                SYNCED,
                false,
                reason::PAUSED,
                format!(
                    "reconciliation is paused; remove the {PAUSE_ANNOTATION} annotation to resume"
                ),
            );
            Box::pin(status::save(&api, &*obj, &mut draft)).await?;
            return Ok(Action::await_change());
        }
        Gate::HoldInConflict => {
            Box::pin(hold_in_conflict(
                &*obj,
                &ctx,
                &api,
                &mut draft,
                verdict.as_ref(),
            ))
            .await?;
            // Held: not Ready, nothing in flight, nothing scheduled.
            ctx.metrics
                .object(&key, &K::kind(&()), Some((false, false, false)));
            return Ok(Action::await_change());
        }
        Gate::ReleaseInConflict { finalizer } => {
            if finalizer {
                Box::pin(let_go(
                    &*obj,
                    &ctx,
                    &api,
                    "Released",
                    "held in conflict: another object owns what this one names, so nothing on the platform is touched",
                ))
                .await?;
            }
            forget_gone(&ctx, &key, &K::kind(&()));
            return Ok(Action::await_change());
        }
        Gate::HoldProtected => {
            return Box::pin(held_by_protection(&*obj, &ctx, &api, &mut draft)).await;
        }
        Gate::LetGoObserved { finalizer } => {
            if finalizer {
                Box::pin(let_go(
                    &*obj,
                    &ctx,
                    &api,
                    "Orphaned",
                    "managementPolicy is ObserveOnly: the platform is left as it is",
                ))
                .await?;
            }
            forget_gone(&ctx, &key, &K::kind(&()));
            return Ok(Action::await_change());
        }
        Gate::AwaitSpecChange => return Ok(Action::await_change()),
    }
    let customer_orphans = facts.deleting && orphaned_by_its_customer(&ctx, &*obj);
    if let Some(departure) = Leaving::of(
        obj.terms(&draft.status),
        facts.deleting,
        facts.has_finalizer,
        customer_orphans,
    )
    .and_then(lifecycle::departure)
    {
        match departure {
            Departure::AlreadyFree => {}
            Departure::Orphan => {
                let message = format!("deletionPolicy is Orphan: {}", K::ORPHAN_LEAVES);
                Box::pin(let_go(&*obj, &ctx, &api, "Orphaned", &message)).await?;
            }
            Departure::OrphanedWithCustomer => {
                let message = format!(
                    "its OCCustomer is deleted with deletionPolicy Orphan, which orphans its dependents: {}",
                    K::ORPHAN_LEAVES
                );
                Box::pin(let_go(&*obj, &ctx, &api, "Orphaned", &message)).await?;
            }
            Departure::NothingToUndo => Box::pin(finalizer::remove(&api, &*obj)).await?,
        }
        forget_gone(&ctx, &key, &K::kind(&()));
        return Ok(Action::await_change());
    }
    if let Some(due) = checked_before_a_restart(&*obj, &ctx, &key, from_cache, &mut draft) {
        return Ok(Action::requeue(due));
    }
    if let Some(wait) = task_not_due(&*obj, &ctx, &mut draft) {
        // Woken while its task runs (its own finalizer, a related object): the task is
        // looked at when it should be done, not before.
        return Ok(Action::requeue(wait));
    }
    let started = std::time::Instant::now();
    let task_before = K::operation_mut(&mut draft.status)
        .and_then(|op| op.as_ref().and_then(|o| o.task_id.clone()));
    // The object's name goes under `object`: a JSON log line already carries the
    // span's own name ("reconcile") as `name`.
    let span = tracing::info_span!(
        "reconcile",
        kind = K::kind(&()).as_ref(),
        namespace = obj.meta().namespace.as_deref().unwrap_or(""),
        object = %name,
    );
    let lane = lane_of(
        finalizer::is_deleting(&*obj),
        K::reconciled(&draft.status).last_checked.is_some(),
        conditions::is_true_for(draft.conditions(), READY, draft.generation),
    );
    // A person's spec change of an object that was Ready: its first platform call is
    // timed from when the change was first seen.
    let generation = draft.generation.unwrap_or_default();
    let acted_on = conditions::find(draft.conditions(), READY).and_then(|c| c.observed_generation);
    let change = (lane == Lane::Change
        && !finalizer::is_deleting(&*obj)
        && acted_on.is_some_and(|g| g < generation))
    .then(|| {
        (
            K::kind(&()).to_string(),
            ctx.metrics.spec_change_seen(&key, generation),
        )
    });
    // Routine work takes a turn on its platform first; without one it waits as a key
    // and its turn starts it again. A person's lane takes no turn.
    if K::WRITES_TO_PLATFORM && turn.is_none() {
        let budget = ctx
            .stores
            .platform(&platform)
            .map(|p| p.spec.rate_limit.requests_per_second);
        match (lane, budget) {
            (Lane::Change, _) => ctx.platform.admission.leave(&platform, &key),
            (Lane::Routine, Some(per_second)) => {
                match ctx
                    .platform
                    .admission
                    .enter(&platform, per_second, &key, &*obj)
                {
                    admission::Entry::Admitted(taken) => turn = Some(taken),
                    admission::Entry::Waiting => {
                        return Ok(Action::requeue(admission::REFUSED_REQUEUE));
                    }
                }
            }
            // No platform known: the reconcile says so without a call.
            (Lane::Routine, None) => {}
        }
    }
    // From here on the status may be written: the cache's versions are noted.
    ctx.memory.written.reconciling(&key);
    let work = tracing::Instrument::instrument(logic(&obj, &ctx, &api, &mut draft), span);
    // Its calls wait in its lane, in its namespace's share of the platform's budget.
    let caller = Caller::new(lane, obj.meta().namespace.as_deref().unwrap_or(""));
    // The kind's work is boxed: only admitted reconciles carry it (one waiting for a
    // turn is small, see `a_reconcile_waiting_for_a_turn_does_not_carry_its_work`).
    let work = super::events::in_one_reconcile(caller.scope(work));
    let result = Box::pin(crate::metrics::first_call_after(change, work)).await;
    drop(turn);
    if conditions::is_true_for(draft.conditions(), READY, draft.generation) {
        ctx.metrics.spec_change_done(&key);
    }
    let kind_name = K::kind(&()).to_string();
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) if e.verdict().terminal => "rejected",
        Err(_) => "error",
    };
    ctx.metrics
        .reconciled(&kind_name, outcome, started.elapsed());
    let gone = finalizer::is_deleting(&*obj) && !finalizer::has(&*obj)
        || (finalizer::is_deleting(&*obj)
            && matches!(&result, Ok(a) if *a == Action::await_change()));
    let in_flight = K::operation_mut(&mut draft.status).is_some_and(|op| op.is_some());
    if let Some(Some(op)) = K::operation_mut(&mut draft.status)
        && op.task_id.is_some()
        && op.task_id != task_before
    {
        ctx.metrics.task_started(op.action);
    }
    let op_after = K::operation_mut(&mut draft.status).and_then(|op| op.clone());
    let result = match (result, &op_after) {
        // A task runs: the next look comes when tasks like it are usually done.
        (Ok(action), Some(op)) if op.task_id.is_some() && action != Action::await_change() => {
            Ok(Action::requeue(next_look_at_task(&ctx, &platform, op)))
        }
        (result, _) => result,
    };
    let ready = conditions::is_true_for(draft.conditions(), READY, draft.generation);
    let scheduled = result
        .as_ref()
        .map_or(true, |action| *action != Action::await_change());
    ctx.metrics.object(
        &key,
        &kind_name,
        (!gone).then_some((ready, in_flight, scheduled)),
    );
    if ready {
        K::reconciled_mut(&mut draft.status).last_checked =
            Some(jiff::Timestamp::now().to_string());
    }
    match result {
        Ok(action) => {
            ctx.memory.backoff.succeeded(&key);
            draft.condition(
                SYNCED,
                true,
                reason::SUCCEEDED,
                "the last reconcile reached the platform and did what it meant to",
            );
            Box::pin(save_unless_gone(&api, &*obj, &mut draft)).await?;
            remember_written(&ctx, &key, &*obj, &draft, gone, from_cache);
            Ok(action)
        }
        Err(e) => {
            let verdict = e.verdict();
            let advice = e.advice();
            tracing::warn!(object = %key, error = %e, "reconcile failed");
            if verdict.terminal {
                K::reconciled_mut(&mut draft.status).rejected_generation = draft.generation;
            }
            let was = conditions::find(draft.conditions(), SYNCED)
                .map(|c| (c.reason.clone(), c.message.clone()));
            draft.condition(SYNCED, false, verdict.synced_reason, advice.clone());
            if let Some(ready_reason) = verdict.ready_reason {
                draft.condition(READY, false, ready_reason, advice.clone());
            }
            if was != Some((verdict.synced_reason.to_owned(), advice.clone())) {
                Box::pin(ctx.event(&*obj, true, verdict.synced_reason, "Reconcile", advice)).await;
            }
            Box::pin(save_unless_gone(&api, &*obj, &mut draft)).await?;
            remember_written(&ctx, &key, &*obj, &draft, gone, from_cache);
            if verdict.terminal {
                Ok(Action::await_change())
            } else {
                Ok(Action::requeue(
                    ctx.memory.backoff.failed(&key, verdict.retry_after),
                ))
            }
        }
    }
}

/// Object `name` as the apiserver holds it now, read as a list of one object: a list
/// without a resourceVersion is as consistent as a get, and the operator's identity
/// lists every kind for its watches anyway, so the chart grants no get.
async fn read_afresh<K: Kind>(api: &Api<K>, name: &str) -> kube::Result<Option<K>> {
    let one = kube::api::ListParams::default().fields(&format!("metadata.name={name}"));
    Ok(api.list(&one).await?.items.into_iter().next())
}

/// The lane of the platform's budget a reconcile's calls wait in: a person's change
/// goes ahead of onboarding, task polls and drift checks. A change is an object that
/// was Ready once (it has been checked against the platform) and is not Ready for its
/// generation now (its spec was edited, or drift was found), or one being deleted.
/// Objects that were never Ready are onboarding.
pub fn lane_of(deleting: bool, was_ready_once: bool, ready_now: bool) -> Lane {
    if deleting || (was_ready_once && !ready_now) {
        Lane::Change
    } else {
        Lane::Routine
    }
}

/// An object this process has not reconciled yet (it just started, or became the
/// leader) that is Ready for its generation, has nothing in flight, and was checked
/// against the platform less than a drift interval ago: it makes no call until that
/// check is due, also when a related object wakes it (its customer seen for the first
/// time). Returns how long until then. A change of its own intent (spec, labels,
/// annotations, finalizers, deletion) ends the rest.
fn checked_before_a_restart<K: Governed>(
    obj: &K,
    ctx: &Context,
    key: &str,
    from_cache: bool,
    draft: &mut StatusDraft<K>,
) -> Option<std::time::Duration> {
    if finalizer::is_deleting(obj) {
        return None;
    }
    if let Some(wait) = ctx.memory.resting.remaining(key, caches::intent(obj)) {
        return Some(wait);
    }
    if ctx.memory.written.knows(key) {
        return None;
    }
    // From here on this object is known to this process.
    ctx.memory
        .written
        .decided_on(key, obj.meta().resource_version.clone(), from_cache);
    if !conditions::is_true_for(draft.conditions(), READY, draft.generation)
        || K::operation_mut(&mut draft.status).is_some_and(|op| op.is_some())
    {
        return None;
    }
    let checked = K::reconciled(&draft.status)
        .last_checked
        .as_deref()?
        .parse::<jiff::Timestamp>()
        .ok()?;
    let interval = jiff::SignedDuration::from_secs(obj.drift_seconds(&ctx.stores)?.max(30));
    let due = checked.checked_add(interval).ok()?;
    let wait = std::time::Duration::try_from(jiff::Timestamp::now().duration_until(due)).ok()?;
    (!wait.is_zero()).then(|| {
        tracing::debug!(object = %key, ?wait, "checked before the restart; next check when due");
        ctx.memory.resting.rest(key, wait, caches::intent(obj));
        wait
    })
}

/// How long until the running task of `obj` is expected to be done, when that is
/// known and still ahead (every kind's first step with a task in flight is to look at
/// it, so nothing else is held back).
fn task_not_due<K: Governed>(
    obj: &K,
    ctx: &Context,
    draft: &mut StatusDraft<K>,
) -> Option<std::time::Duration> {
    let op = K::operation_mut(&mut draft.status)?.clone()?;
    op.task_id.as_ref()?;
    let platform = obj.platform_name(&ctx.stores)?;
    let expected = ctx
        .platform
        .task_timings
        .expected(&platform, op.action.title())?;
    task_timing::until_expected_end(
        expected,
        tasks::task_age(&op)?,
        tasks::age_counted_from(&op),
    )
}

/// When to look at the running task of `op` again (see `task_timing`).
fn next_look_at_task(
    ctx: &Context,
    platform: &str,
    op: &crate::api::common::Operation,
) -> std::time::Duration {
    task_timing::next_look(
        ctx.platform
            .task_timings
            .expected(platform, op.action.title()),
        tasks::task_age(op).unwrap_or_default(),
        tasks::age_counted_from(op),
        ctx.config.task_poll,
    )
}

/// Whether `obj` is on a platform this operator manages (every platform without
/// `--platform-selector`; with it, those the OCPlatform cache holds). An object whose
/// platform is not known yet (its customer does not exist) is in scope: it only waits,
/// without platform calls.
fn in_scope<K: Governed>(obj: &K, ctx: &Context) -> bool {
    ctx.config.platform_selector.is_none()
        || obj
            .platform_name(&ctx.stores)
            .is_none_or(|p| ctx.stores.manages_platform(&p))
}

/// Holds an object whose platform identity another object owns: `Ready=False` with
/// reason `Conflict` and `message`, an event when that is new; no platform call.
async fn hold_in_conflict<K: Governed>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    draft: &mut StatusDraft<K>,
    verdict: Option<&Verdict>,
) -> Result<()> {
    let kind = K::kind(&());
    let namespace = obj.meta().namespace.as_deref().unwrap_or_default();
    let message = verdict
        .and_then(|v| v.message(&kind, namespace))
        .unwrap_or_default();
    let was =
        conditions::find(draft.conditions(), READY).map(|c| (c.reason.clone(), c.message.clone()));
    draft.condition(READY, false, reason::CONFLICT, message.clone());
    if was != Some((reason::CONFLICT.to_owned(), message.clone())) {
        tracing::warn!(object = %kind::key(obj), "{message}");
        ctx.event(obj, true, reason::CONFLICT, "Reconcile", message)
            .await;
        // The owner's namespace is told who else names what it owns; this object's
        // namespace is not told who the owner is.
        if let Some(Verdict::Conflict {
            owner, identities, ..
        }) = verdict
            && owner.namespace != namespace
        {
            let regarding = ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(kind.to_string()),
                namespace: Some(owner.namespace.clone()),
                name: Some(owner.name.clone()),
                uid: Some(owner.uid.clone()),
                ..ObjectReference::default()
            };
            let note = format!(
                "{kind} {namespace}/{} also names {}, which this object owns; it is held in Conflict and makes no platform call",
                obj.name_any(),
                describe(identities)
            );
            ctx.event_on(regarding, true, reason::CONFLICT, "Reconcile", note)
                .await;
        }
    }
    save_unless_gone(api, obj, draft).await
}

/// An object that let go of its finalizer, or that the watch saw deleted: what this
/// process held for it goes too (its gauges, a spec change's start, its backoff, the
/// versions it wrote, its rest).
pub(super) fn forget_gone(ctx: &Context, key: &str, kind: &str) {
    ctx.metrics.object(key, kind, None);
    ctx.memory.forget(key);
}

/// Whether `obj` belongs to an OCCustomer that is being deleted with
/// `deletionPolicy: Orphan` (as the cache holds it).
fn orphaned_by_its_customer<K: Departing>(ctx: &Context, obj: &K) -> bool {
    let Some(customer) = obj.customer_name() else {
        return false;
    };
    let namespace = obj.meta().namespace.as_deref().unwrap_or_default();
    ctx.stores.customer(namespace, customer).is_some_and(|c| {
        c.metadata.deletion_timestamp.is_some()
            && c.spec.deletion_policy == crate::api::common::DeletionPolicy::Orphan
    })
}

/// A deleted object lets go of its finalizer without touching the platform, and says
/// why in an event (`reason`).
async fn let_go<K: Governed>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    reason: &str,
    message: &str,
) -> Result<()> {
    ctx.event(obj, false, reason, "Delete", message).await;
    finalizer::remove(api, obj).await?;
    Ok(())
}

/// Whether the spec of this generation was rejected (`status.rejectedGeneration`).
fn rejected_for_this_generation<K: Kind>(draft: &mut StatusDraft<K>) -> bool {
    let generation = draft.generation;
    generation.is_some() && K::reconciled(&draft.status).rejected_generation == generation
}

async fn save_unless_gone<K: Kind>(
    api: &Api<K>,
    obj: &K,
    draft: &mut StatusDraft<K>,
) -> Result<()> {
    match status::save(api, obj, draft).await {
        Err(Error::Kube { source, .. }) if error::is_not_found(&source) => Ok(()),
        other => other,
    }
}

/// Remembers how this reconcile left the object: the resourceVersion of its last
/// status write, or the copy it decided on when it wrote nothing (the cache's own
/// copy, `from_cache`, or one read afresh); forgets an object that is gone (see
/// [`written::Written`]).
fn remember_written<K: Kind>(
    ctx: &Context,
    key: &str,
    obj: &K,
    draft: &StatusDraft<K>,
    gone: bool,
    from_cache: bool,
) {
    if gone {
        ctx.memory.written.forget(key);
        return;
    }
    match &draft.written {
        Some(version) => ctx.memory.written.wrote(key, version.clone()),
        None => ctx
            .memory
            .written
            .decided_on(key, obj.meta().resource_version.clone(), from_cache),
    }
}

/// What happens after an error that `drive` could not turn into status (the status
/// write itself failed): try again after a while.
pub fn error_policy<K: Kind>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = kind::key(&*obj);
    tracing::warn!(object = %key, error = %error, "reconcile error");
    Action::requeue(ctx.memory.backoff.failed(&key, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persons_change_to_an_object_that_was_ready_goes_first() {
        // (being deleted, was Ready once, Ready for its generation now) -> lane
        let table = [
            ((false, false, false), Lane::Routine), // onboarding
            ((false, true, true), Lane::Routine),   // a drift check of a Ready object
            ((false, true, false), Lane::Change),   // edited, or drift found
            ((true, false, false), Lane::Change),   // deleted while onboarding
            ((true, true, true), Lane::Change),     // deleted once Ready
        ];
        for ((deleting, was_ready_once, ready_now), lane) in table {
            assert_eq!(
                lane_of(deleting, was_ready_once, ready_now),
                lane,
                "deleting={deleting} was_ready_once={was_ready_once} ready_now={ready_now}"
            );
        }
    }
}

#[cfg(test)]
mod future_size_tests {
    use super::*;
    use crate::api::{OCCustomer, OCNumberBlock};
    use crate::controller::{OperatorConfig, fixtures, reconciler};

    /// A context whose client points nowhere: the futures are built, never run.
    fn context() -> Arc<Context> {
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("a url"));
        let client = kube::Client::try_from(config).expect("a client");
        Context::new(client, OperatorConfig::new("oc-system"))
    }

    /// After a restart every object's reconcile is alive at once, waiting for the
    /// caches: until then each is small (800 bytes; 6 KiB and more with the rest of
    /// `drive` inline).
    #[tokio::test]
    async fn a_reconcile_that_has_not_started_its_work_is_small() {
        let ctx = context();
        let customer = Arc::new(fixtures::customer("ns", "x"));
        let block: OCNumberBlock = serde_json::from_value(serde_json::json!({
            "apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCNumberBlock",
            "metadata": {"name": "x", "namespace": "ns"},
            "spec": {"customerRef": {"name": "c"}, "callingProfileId": "p", "numbers": ["+12065550100"],
                     "usage": "CallingUserAssignment", "capabilities": ["InboundCalling"]}
        }))
        .expect("a valid block");
        let sizes = [
            (
                "customer",
                std::mem::size_of_val(&reconciler::reconcile(customer, ctx.clone())),
            ),
            (
                "number block",
                std::mem::size_of_val(&reconciler::reconcile(Arc::new(block), ctx.clone())),
            ),
        ];
        for (kind, size) in sizes {
            assert!(size <= 1024, "a {kind} reconcile's future is {size} bytes");
        }
    }

    /// Past the caches' wait, a reconcile may still wait before it is admitted (reading
    /// its object again when the cache lags behind its own last write, saving a pause
    /// or a conflict): at the heap's peak of 300 customers onboarding, reconciles past
    /// that wait held 15 MiB with their kind's work inline. Until a turn admits it, one
    /// carries only `drive`'s own state, not its kind's work (boxed when it is
    /// admitted), nor the apiserver requests it makes (each boxed while it runs).
    #[tokio::test]
    async fn a_reconcile_waiting_for_a_turn_does_not_carry_its_work() {
        let ctx = context();
        let customer = Arc::new(fixtures::customer("ns", "x"));
        let api: Api<OCCustomer> = Api::namespaced(ctx.client.clone(), "ns");
        // A kind's work as large as the largest one (a customer's plan and its calls).
        let work = async |_: &OCCustomer,
                          _: &Context,
                          _: &Api<OCCustomer>,
                          _: &mut StatusDraft<OCCustomer>|
               -> Result<Action> {
            let state = [1u8; 16 * 1024];
            tokio::task::yield_now().await;
            Ok(Action::requeue(std::time::Duration::from_secs(u64::from(
                std::hint::black_box(state)[0],
            ))))
        };
        let size = std::mem::size_of_val(&drive_synced(customer, ctx, api, work));
        assert!(
            size <= 4096,
            "a reconcile past the caches' wait is {size} bytes"
        );
    }
}
