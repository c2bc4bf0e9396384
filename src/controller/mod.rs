//! The controllers. Each kind's whole life is in its own file; what every kind shares
//! (conditions, finalizer, per-object backoff, events, the platform clients) is in the
//! other modules and used through [`drive`].

pub mod admission;
pub mod adoption;
mod backoff;
mod caches;
pub mod conclusion;
pub mod context;
mod credentials;
pub mod customer;
pub mod customer_scope;
pub mod dial_plan;
pub mod drift;
pub mod end_user;
pub mod error;
mod events;
pub mod finalizer;
#[cfg(test)]
mod fixtures;
pub mod kind;
pub mod kstatus;
pub mod lifecycle;
pub mod management;
pub mod number_block;
pub mod number_set;
mod numbers;
pub mod ownership;
pub mod plan;
#[cfg(test)]
mod planner_tests;
pub mod platform;
mod platform_clients;
pub mod platforms;
mod referrers;
mod secret_access;
pub mod sip_connection;
pub mod snapshots;
pub mod status;
pub mod stops;
pub mod stores;
pub mod task_timing;
pub mod tasks;
mod tenant_numbers;
mod written;

use std::future::Future;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

pub use context::{Context, OperatorConfig, SecretAccess};
pub use error::{Error, Result};

use crate::api::conditions::{self, READY, SYNCED, reason};
use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCPlatform, OCSipConnection};
use kind::{CustomerOwned, Kind};
use lifecycle::{Departing, Departure, Gate};
use liveplatform::rate_limit::{Caller, Lane};
use ownership::Governed;
use referrers::Referrers;
use status::StatusDraft;

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
///   intent first).
pub async fn drive<K, F>(obj: Arc<K>, ctx: Arc<Context>, api: Api<K>, logic: F) -> Result<Action>
where
    K: Governed + Departing,
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
    Box::pin(drive_synced(obj, ctx, api, logic)).await
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
            let message = verdict
                .as_ref()
                .and_then(|v| v.message(&K::kind(&())))
                .unwrap_or_default();
            Box::pin(hold_in_conflict(&*obj, &ctx, &api, &mut draft, message)).await?;
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
            ctx.metrics.object(&key, &K::kind(&()), None);
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
    if let Some(departure) = obj.leaving(&draft.status).and_then(lifecycle::departure) {
        match departure {
            Departure::AlreadyFree => {}
            Departure::Orphan => {
                let message = format!("deletionPolicy is Orphan: {}", K::ORPHAN_LEAVES);
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
        K::last_checked_mut(&mut draft.status).is_some(),
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
    let result = Box::pin(crate::metrics::first_call_after(change, caller.scope(work))).await;
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
        *K::last_checked_mut(&mut draft.status) = Some(jiff::Timestamp::now().to_string());
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
                *K::rejected_generation_mut(&mut draft.status) = draft.generation;
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
    let checked = K::last_checked_mut(&mut draft.status)
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
    message: String,
) -> Result<()> {
    let was =
        conditions::find(draft.conditions(), READY).map(|c| (c.reason.clone(), c.message.clone()));
    draft.condition(READY, false, reason::CONFLICT, message.clone());
    if was != Some((reason::CONFLICT.to_owned(), message.clone())) {
        tracing::warn!(object = %kind::key(obj), "{message}");
        ctx.event(obj, true, reason::CONFLICT, "Reconcile", message)
            .await;
    }
    save_unless_gone(api, obj, draft).await
}

/// An object that let go of its finalizer: what this process held for it goes too.
fn forget_gone(ctx: &Context, key: &str, kind: &str) {
    ctx.metrics.object(key, kind, None);
    ctx.memory.written.forget(key);
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
    generation.is_some() && *K::rejected_generation_mut(&mut draft.status) == generation
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

fn namespaced<K>(ctx: &Context) -> Api<K>
where
    K: Kind + kube::Resource<Scope = kube::core::NamespaceResourceScope>,
{
    match &ctx.config.watch_namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    }
}

fn log_result<K: Kind>(
    result: std::result::Result<
        (ObjectRef<K>, Action),
        kube::runtime::controller::Error<Error, watcher::Error>,
    >,
) {
    match result {
        Ok((object, action)) => tracing::debug!(%object, ?action, "reconciled"),
        Err(kube::runtime::controller::Error::ObjectNotFound(object)) => {
            tracing::debug!(%object, "object gone")
        }
        Err(e) => tracing::warn!(error = %e, "controller"),
    }
}

/// What number blocks, SIP connections and dial plans read of their customer: its id
/// on the platform (and whether it goes). A change of anything else (its licence, a
/// condition message, licence info) does not reconcile them.
fn customer_id(c: &OCCustomer) -> (bool, Option<String>) {
    (
        c.metadata.deletion_timestamp.is_some(),
        c.status.as_ref().and_then(|s| s.customer_id.clone()),
    )
}

/// What customers read of their platform: its spec, labels (the platform selector),
/// deletion, and whether it is Ready. Its other status writes (a drift check, a
/// changed message) do not reconcile a thousand customers; see
/// [`platform_change_matters_to_customers`].
fn platform_as_customers_see_it(p: &OCPlatform) -> (Option<u64>, bool) {
    let ready = p
        .status
        .as_ref()
        .is_some_and(|s| conditions::is_true_for(&s.conditions, READY, p.metadata.generation));
    (caches::intent(p), ready)
}

/// Whether a platform's change wakes its customers: a change of its intent, or its
/// becoming Ready (customers that failed on a platform that was not usable go on at
/// once). Its becoming not Ready wakes nobody: a customer that calls it then fails
/// by itself, and waking a thousand customers to find that out costs the platform's
/// budget for nothing.
fn platform_change_matters_to_customers(
    before: Option<&(Option<u64>, bool)>,
    now: &(Option<u64>, bool),
) -> bool {
    match before {
        None => true,
        Some((intent, ready)) => *intent != now.0 || (!ready && now.1),
    }
}

/// What end users read of their customer: its id and its licence (an end user
/// becomes Ready by itself once the licence allows it).
fn customer_id_and_licence(c: &OCCustomer) -> ((bool, Option<String>), Option<String>) {
    let status = c.status.as_ref();
    (
        customer_id(c),
        status.and_then(|s| s.license.as_ref().map(|l| l.type_.clone())),
    )
}

/// Tells the ownership ledger of a customer's dependent kind about its watch events,
/// and wakes the customer when a dependent is gone, or changes while the customer
/// itself is being deleted (its deletion waits for them to go): never otherwise. A
/// customer that is not being deleted reads nothing of its dependents, so their
/// arrival or their status writes would only cost it platform reads.
fn dependent_observer<K: CustomerOwned + ownership::Owned + stores::Indexed>(
    ctx: &Arc<Context>,
    wake: futures::channel::mpsc::UnboundedSender<ObjectRef<OCCustomer>>,
) -> impl Fn(&watcher::Event<K>) + Send + Sync + 'static {
    let ledger = observer::<K>(ctx);
    let ctx = ctx.clone();
    move |event| {
        ledger(event);
        let (obj, gone) = match event {
            watcher::Event::Apply(obj) | watcher::Event::InitApply(obj) => (obj, false),
            watcher::Event::Delete(obj) => (obj, true),
            _ => return,
        };
        let ns = obj.namespace().unwrap_or_default();
        let customer_deleting = ctx
            .stores
            .customer(&ns, obj.customer())
            .is_some_and(|c| c.metadata.deletion_timestamp.is_some());
        let customer = ObjectRef::new(obj.customer()).within(&ns);
        if gone || customer_deleting {
            // A closed channel means the controllers stopped; nothing to wake.
            let _ = wake.unbounded_send(customer);
        }
    }
}

/// Maps a customer's dependent to the end users of `store` that name the same
/// customer and may wait for it: a user that stands Ready for its spec with nothing in
/// flight needs nothing a block brings, and is not woken (it would read the platform
/// for nothing each time a block of its customer changes).
fn users_of_customer_of<D: CustomerOwned>(
    ctx: &Arc<Context>,
) -> impl Fn(Arc<D>) -> Vec<ObjectRef<OCEndUser>> + Send + Sync + 'static {
    let ctx = ctx.clone();
    move |dependent| {
        let Some(store) = ctx.stores.users() else {
            return Vec::new();
        };
        ctx.stores
            .users_by_customer
            .of(dependent.meta().namespace.as_deref(), dependent.customer())
            .into_iter()
            .filter(|found| store.get(found).is_some_and(|u| !stands_ready(&u)))
            .collect()
    }
}

/// Whether an end user is Ready for its generation with no write in flight.
fn stands_ready(user: &OCEndUser) -> bool {
    user.status.as_ref().is_some_and(|s| {
        s.operation.is_none()
            && conditions::is_true_for(&s.conditions, READY, user.metadata.generation)
    })
}

/// Maps a customer to the objects of `store` that name it.
/// The objects of kind `K` whose customer is on the OCPlatform that changed, for a
/// change of the platform's `managementPolicy`: objects that observed until now carry
/// out their planned calls at once (and the other way round), not at their next drift
/// check. Their customers are woken by the platform's change of generation already.
fn on_their_platform<K: CustomerOwned>(
    ctx: &Arc<Context>,
    by_customer: fn(&stores::Stores) -> &Referrers<K>,
) -> impl Fn(Arc<OCPlatform>) -> Vec<ObjectRef<K>> + Send + Sync + 'static {
    let ctx = ctx.clone();
    move |platform| {
        let stores = &ctx.stores;
        stores
            .customers_by_platform
            .of(None, &platform.name_any())
            .iter()
            .flat_map(|customer| {
                by_customer(stores).of(customer.namespace.as_deref(), &customer.name)
            })
            .collect()
    }
}

fn owned_by_customer<K: CustomerOwned>(
    ctx: &Arc<Context>,
    by_customer: fn(&stores::Stores) -> &Referrers<K>,
) -> impl Fn(Arc<OCCustomer>) -> Vec<ObjectRef<K>> + Send + Sync + 'static {
    let ctx = ctx.clone();
    move |customer| {
        by_customer(&ctx.stores).of(customer.metadata.namespace.as_deref(), &customer.name_any())
    }
}

/// Whether every kind can be listed in the operator's scope with its identity (CRDs
/// installed, RBAC granted): what `/readyz` reports.
pub async fn can_list_everything(ctx: &Context) -> bool {
    async fn one<K>(api: Api<K>) -> bool
    where
        K: Kind,
    {
        api.list(&kube::api::ListParams::default().limit(1))
            .await
            .is_ok()
    }
    let (a, b, c, d, e, f) = futures::join!(
        one(Api::<OCPlatform>::all(ctx.client.clone())),
        one(namespaced::<OCCustomer>(ctx)),
        one(namespaced::<OCNumberBlock>(ctx)),
        one(namespaced::<OCSipConnection>(ctx)),
        one(namespaced::<OCDialPlan>(ctx)),
        one(namespaced::<OCEndUser>(ctx)),
    );
    a && b && c && d && e && f
}

/// Marks `/readyz`'s API access once every kind can be listed, checking again every
/// `every` until then (each failed check is logged).
pub async fn await_api_access(ctx: Arc<Context>, every: std::time::Duration) {
    while !can_list_everything(&ctx).await {
        tracing::warn!("not ready: some kinds cannot be listed (CRDs installed? RBAC granted?)");
        tokio::time::sleep(every).await;
    }
    ctx.readiness.set_api_access(true);
}

/// Tells the indexes and the ownership ledger of `K` about every watch event of its
/// kind.
fn observer<K: ownership::Owned + stores::Indexed>(
    ctx: &Arc<Context>,
) -> impl Fn(&watcher::Event<K>) + Send + Sync + 'static {
    let ctx = ctx.clone();
    move |event| {
        cache_took(&ctx, event);
        ctx.stores.observed(event);
        K::observed(&ctx.ownership, event)
    }
}

/// Tells [`written::Written`] which versions the cache of `K` took. Only a watch
/// event's: the objects of a new listing reach the cache together at its end, so a
/// write seen in one is left to a read afresh.
fn cache_took<K: Kind>(ctx: &Context, event: &watcher::Event<K>) {
    if let watcher::Event::Apply(obj) = event
        && let Some(version) = obj.meta().resource_version.as_deref()
    {
        ctx.memory.written.cached(&kind::key(obj), version);
    }
}

/// Runs every controller until `shutdown` resolves; running reconciles finish first.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let wc = watcher::Config::default().any_semantic();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    };

    // Leading from here: `/readyz` waits for every controller's first listing.
    ctx.readiness.set_leading(true);
    ctx.stores.set_synced(false);
    let synced = ctx.clone();
    let caches = caches::CacheSync::new(ctx.readiness.clone(), move || {
        synced.stores.set_synced(true)
    });

    let platform_wc = match &ctx.config.platform_selector {
        Some(selector) => wc.clone().labels(selector),
        None => wc.clone(),
    };

    // One watch per kind; every controller below subscribes to these.
    let (platforms_watched, platform_watch) =
        caches.watch(Api::<OCPlatform>::all(ctx.client.clone()), platform_wc, {
            let ctx = ctx.clone();
            move |event| platforms::observed(&ctx, event)
        });
    let platform_store = platforms_watched.store.clone();
    ctx.stores.set_platforms(platform_store.clone());
    let (wake_customers, customer_wakes) = futures::channel::mpsc::unbounded();
    let (customers_watched, customer_watch) =
        caches.watch(namespaced::<OCCustomer>(&ctx), wc.clone(), {
            let ctx = ctx.clone();
            move |event| {
                cache_took(&ctx, event);
                ctx.stores.observed(event);
                ctx.ownership.customer_observed(event)
            }
        });
    let customer_store = customers_watched.store.clone();
    ctx.stores.set_customers(customer_store.clone());
    let (blocks_watched, block_watch) = caches.watch(
        namespaced::<OCNumberBlock>(&ctx),
        wc.clone(),
        dependent_observer(&ctx, wake_customers.clone()),
    );
    let block_store = blocks_watched.store.clone();
    ctx.stores.set_blocks(block_store.clone());
    let (sites_watched, site_watch) = caches.watch(
        namespaced::<OCSipConnection>(&ctx),
        wc.clone(),
        dependent_observer(&ctx, wake_customers.clone()),
    );
    let site_store = sites_watched.store.clone();
    ctx.stores.set_sites(site_store.clone());
    let (plans_watched, plan_watch) = caches.watch(
        namespaced::<OCDialPlan>(&ctx),
        wc.clone(),
        dependent_observer(&ctx, wake_customers.clone()),
    );
    let plan_store = plans_watched.store.clone();
    ctx.stores.set_plans(plan_store.clone());
    let (users_watched, user_watch) = caches.watch(
        namespaced::<OCEndUser>(&ctx),
        wc.clone(),
        dependent_observer(&ctx, wake_customers),
    );
    let user_store = users_watched.store.clone();
    ctx.stores.set_users(user_store.clone());
    let watches = [
        platform_watch,
        customer_watch,
        block_watch,
        site_watch,
        plan_watch,
        user_watch,
    ];

    // OCPlatform: also when its credentials Secret (in the operator's namespace)
    // changes; each such Secret is watched by name (see `credentials`).
    let secret_wakes = credentials::platform_wakes(
        ctx.client.clone(),
        ctx.config.operator_namespace.clone(),
        platforms_watched.changes(|p| {
            p.spec
                .credentials_secret_ref
                .as_ref()
                .map(|r| r.name.clone())
        }),
        platform_store.clone(),
    );
    let platforms = platforms_watched
        .controller()
        .reconcile_on(secret_wakes)
        .graceful_shutdown_on(stopped())
        .run(platform::reconcile, error_policy, ctx.clone())
        .for_each(|r| async move { log_result(r) });

    // OCCustomer: when a dependent appears, starts to go or is gone (deletion waits
    // for them; see `dependent_observer`), never for a dependent's status write; and
    // when its platform changes.
    let on_platform = ctx.clone();
    let customers = customers_watched
        .controller()
        .reconcile_on(ctx.platform.admission.turns(customer_store.clone()))
        .reconcile_on(ctx.ownership.customers.triggers())
        .reconcile_on(customer_wakes)
        .watches_shared_stream(
            platforms_watched.changes_where(
                platform_as_customers_see_it,
                platform_change_matters_to_customers,
            ),
            move |platform| {
                on_platform
                    .stores
                    .customers_by_platform
                    .of(None, &platform.name_any())
            },
        )
        .graceful_shutdown_on(stopped())
        .run(customer::reconcile, error_policy, ctx.clone())
        .for_each(|r| async move { log_result(r) });

    // Number blocks, SIP connections, dial plans and end users: also when what they
    // read of their customer changes (its id, its licence: an end user becomes Ready
    // by itself once the licence allows it); dial plans also when their SIP
    // connection's site id changes.
    let blocks = blocks_watched
        .controller()
        .reconcile_on(ctx.platform.admission.turns(block_store.clone()))
        .reconcile_on(ctx.ownership.blocks.triggers())
        .watches_shared_stream(
            customers_watched.changes(customer_id),
            owned_by_customer(&ctx, |s| &s.blocks_by_customer),
        )
        .watches_shared_stream(
            platforms_watched.changes(|p| p.spec.management_policy),
            on_their_platform(&ctx, |s| &s.blocks_by_customer),
        )
        .graceful_shutdown_on(stopped())
        .run(number_block::reconcile, error_policy, ctx.clone())
        .for_each(|r| async move { log_result(r) });
    let sites = sites_watched
        .controller()
        .reconcile_on(ctx.platform.admission.turns(site_store.clone()))
        .reconcile_on(ctx.ownership.sites.triggers())
        .watches_shared_stream(
            customers_watched.changes(customer_id),
            owned_by_customer(&ctx, |s| &s.sites_by_customer),
        )
        .watches_shared_stream(
            platforms_watched.changes(|p| p.spec.management_policy),
            on_their_platform(&ctx, |s| &s.sites_by_customer),
        )
        .graceful_shutdown_on(stopped())
        .run(sip_connection::reconcile, error_policy, ctx.clone())
        .for_each(|r| async move { log_result(r) });
    let on_site = ctx.clone();
    let plans = plans_watched
        .controller()
        .reconcile_on(ctx.platform.admission.turns(plan_store.clone()))
        .reconcile_on(ctx.ownership.plans.triggers())
        .watches_shared_stream(
            customers_watched.changes(customer_id),
            owned_by_customer(&ctx, |s| &s.plans_by_customer),
        )
        .watches_shared_stream(
            platforms_watched.changes(|p| p.spec.management_policy),
            on_their_platform(&ctx, |s| &s.plans_by_customer),
        )
        .watches_shared_stream(
            sites_watched.changes(|s| {
                (
                    s.metadata.generation,
                    s.metadata.deletion_timestamp.is_some(),
                    s.status.as_ref().and_then(|st| st.site_location_id.clone()),
                )
            }),
            move |site| {
                on_site
                    .stores
                    .plans_by_site
                    .of(site.metadata.namespace.as_deref(), &site.name_any())
            },
        )
        .graceful_shutdown_on(stopped())
        .run(dial_plan::reconcile, error_policy, ctx.clone())
        .for_each(|r| async move { log_result(r) });
    // End users: also when a number block of their customer becomes Ready (or stops
    // being), which may bring their line URI's number.
    let users = users_watched
        .controller()
        .reconcile_on(ctx.platform.admission.turns(user_store.clone()))
        .reconcile_on(ctx.ownership.users.triggers())
        .watches_shared_stream(
            customers_watched.changes(customer_id_and_licence),
            owned_by_customer(&ctx, |s| &s.users_by_customer),
        )
        .watches_shared_stream(
            platforms_watched.changes(|p| p.spec.management_policy),
            on_their_platform(&ctx, |s| &s.users_by_customer),
        )
        .watches_shared_stream(
            blocks_watched.changes(|b| {
                b.status.as_ref().is_some_and(|s| {
                    conditions::is_true_for(&s.conditions, READY, b.metadata.generation)
                })
            }),
            users_of_customer_of(&ctx),
        )
        .graceful_shutdown_on(stopped())
        .run(end_user::reconcile, error_policy, ctx.clone())
        .for_each(|r| async move { log_result(r) });

    ctx.metrics.set_leader(true);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    // Each watch and each controller is a task of its own: a busy controller never
    // holds up a watch, and they share the cores. The tasks go with this future (a
    // lost lease, a stopped test operator), not only with the shutdown signal.
    let watch_count = watches.len();
    let mut tasks: Vec<credentials::AbortOnDrop> = watches
        .into_iter()
        .chain([
            platforms.boxed(),
            customers.boxed(),
            blocks.boxed(),
            sites.boxed(),
            plans.boxed(),
            users.boxed(),
        ])
        .map(|task| credentials::AbortOnDrop(tokio::spawn(task)))
        .collect();
    let (watch_tasks, controller_tasks) = tasks.split_at_mut(watch_count);
    // The watches run as long as the controllers; they end with them.
    futures::future::select(
        futures::future::join_all(controller_tasks.iter_mut().map(|t| &mut t.0)),
        futures::future::select_all(watch_tasks.iter_mut().map(|t| &mut t.0)),
    )
    .await;
    drop(tasks);
    ctx.readiness.set_leading(false);
    ctx.metrics.set_leader(false);
    tracing::info!("controllers stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_wake_when_their_platform_changes_its_intent_or_becomes_ready() {
        // (before, now) -> wakes its customers
        let table = [
            (None, (Some(1), false), true),                   // first seen
            (Some((Some(1), false)), (Some(1), true), true),  // became Ready
            (Some((Some(1), true)), (Some(1), false), false), // stopped being Ready
            (Some((Some(1), true)), (Some(1), true), false),  // another status write
            (Some((Some(1), true)), (Some(2), true), true),   // spec or labels changed
            (Some((Some(1), true)), (Some(2), false), true),  // changed and not Ready
        ];
        for (before, now, wakes) in table {
            assert_eq!(
                platform_change_matters_to_customers(before.as_ref(), &now),
                wakes,
                "{before:?} -> {now:?}"
            );
        }
    }

    #[test]
    fn only_end_users_that_may_wait_for_a_block_are_woken_by_one() {
        let user = |generation: i64, status: serde_json::Value| -> OCEndUser {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCEndUser",
                "metadata": {"name": "u", "namespace": "n", "generation": generation},
                "spec": {"customerRef": {"name": "c"}, "sipAddress": "u@c.com"},
                "status": status,
            }))
            .expect("an end user")
        };
        let ready = |generation: i64| {
            serde_json::json!([{"type": "Ready", "status": "True", "reason": "Available", "message": "",
                                "lastTransitionTime": "2026-12-04T00:00:00Z", "observedGeneration": generation}])
        };
        let waiting = serde_json::json!([{"type": "Ready", "status": "False", "reason": "WaitingForDependency",
                                          "message": "", "lastTransitionTime": "2026-12-04T00:00:00Z", "observedGeneration": 1}]);
        let op = serde_json::json!({"action": "Provision Customer End User", "startedAt": "2026-12-04T00:00:00Z", "taskId": "t"});
        // (user, stands Ready: not woken)
        let table = [
            (
                "Ready for its spec",
                user(1, serde_json::json!({"conditions": ready(1)})),
                true,
            ),
            (
                "Ready for an older spec",
                user(2, serde_json::json!({"conditions": ready(1)})),
                false,
            ),
            (
                "waiting for a block",
                user(1, serde_json::json!({"conditions": waiting})),
                false,
            ),
            (
                "Ready with a write in flight",
                user(
                    1,
                    serde_json::json!({"conditions": ready(1), "operation": op}),
                ),
                false,
            ),
            ("never reconciled", user(1, serde_json::json!({})), false),
        ];
        for (name, user, stands) in table {
            assert_eq!(stands_ready(&user), stands, "{name}");
        }
    }

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
                std::mem::size_of_val(&customer::reconcile(customer, ctx.clone())),
            ),
            (
                "number block",
                std::mem::size_of_val(&number_block::reconcile(Arc::new(block), ctx.clone())),
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
