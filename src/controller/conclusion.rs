//! The end of a reconcile: what its planner's [`Outcome`] writes into the object's
//! conditions, the event an object becoming Ready gets when nothing else told why,
//! and when it is reconciled again (a task's next poll, a recheck, its drift check).

use kube::api::Api;

use super::context::Context;
use super::error::Result;
use super::finalizer;
use super::ownership::Governed;
use super::plan::{Also, Next, Outcome};
use super::status::StatusDraft;
use super::{adoption, drift, management};

/// Writes the outcome into the draft's conditions (an event when the object becomes
/// Ready) and says when to reconcile again. An object whose planner undid its platform
/// side ([`Outcome::Gone`]) loses its finalizer here, the one place a kind's deletion
/// ends.
pub async fn conclude<K: Governed>(
    ctx: &Context,
    api: &Api<K>,
    obj: &K,
    draft: &mut StatusDraft<K>,
    outcome: Outcome,
) -> Result<kube::runtime::controller::Action> {
    use crate::api::conditions::{self, READY, reason};
    use kube::runtime::controller::Action;

    let drift_seconds = obj
        .drift_seconds(&ctx.stores)
        .unwrap_or(crate::api::platform::DEFAULT_DRIFT_SECONDS);

    let set_also = |draft: &mut StatusDraft<K>, also: Vec<Also>| {
        for a in also {
            draft.condition(a.type_, a.status, a.reason, a.message);
        }
    };
    let observe_only = management::observe_only(obj, &ctx.stores);
    management::record(draft, observe_only, &outcome);
    // Waiting for a spec change is the only outcome that holds the object until then.
    K::reconciled_mut(&mut draft.status).rejected_generation = match &outcome {
        Outcome::Wait(wait) if wait.next == Next::SpecChange => draft.generation,
        _ => None,
    };
    Ok(match outcome {
        Outcome::Wait(wait) => {
            set_also(draft, wait.also);
            draft.condition(READY, false, wait.reason, wait.message);
            match wait.next {
                Next::Task => Action::requeue(ctx.config.task_poll),
                Next::After(after) => Action::requeue(after),
                Next::Shortly => Action::requeue(ctx.config.wait_requeue),
                Next::Recheck => Action::requeue(ctx.config.recheck()),
                Next::Drift => drift::drift_requeue(drift_seconds),
                Next::SpecChange => Action::await_change(),
            }
        }
        Outcome::Ready(report) => {
            set_also(draft, report.also);
            let was_ready = conditions::is_true_for(draft.conditions(), READY, draft.generation);
            draft.condition(READY, true, reason::AVAILABLE, report.message.clone());
            // Told when nothing else told what made it Ready (a repaired drift, a
            // platform answering again, an object found as its spec asks).
            if !was_ready && !super::events::told_in_this_reconcile() {
                ctx.event(obj, false, reason::AVAILABLE, "Reconcile", report.message)
                    .await;
            }
            drift::drift_requeue(drift_seconds)
        }
        Outcome::Refuse { existing, advice } => {
            adoption::refuse(ctx, obj, draft, &existing, advice).await;
            drift::drift_requeue(drift_seconds)
        }
        Outcome::Gone => {
            finalizer::remove(api, obj).await?;
            Action::await_change()
        }
        Outcome::Planned(actions) => {
            let message = management::changes_planned_message(&actions);
            let was = conditions::find(draft.conditions(), READY)
                .map(|c| (c.reason.clone(), c.message.clone()));
            draft.condition(READY, false, reason::CHANGES_PLANNED, message.clone());
            if was != Some((reason::CHANGES_PLANNED.to_owned(), message.clone())) {
                ctx.event(obj, false, reason::CHANGES_PLANNED, "Plan", message)
                    .await;
            }
            // Looked at again like a Ready object: the platform may come to match.
            drift::drift_requeue(drift_seconds)
        }
    })
}
