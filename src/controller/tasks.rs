//! Task tracking, the "nothing lost" rules of every kind:
//! 1. the intent is recorded in `status.operation` (and saved) before a write whose
//!    answer could be lost;
//! 2. the task id is recorded the moment the platform answers, and saved with the
//!    status write that ends the reconcile (or the next intent, whichever comes
//!    first): a process stopped in between leaves an intent without a task id, which
//!    rule 4 resolves with one look-up, where saving it at once cost every task a
//!    status write of its own;
//! 3. the task is polled to its end on later reconciles;
//! 4. an intent without a task id (the answer was lost, or the operator stopped) is
//!    resolved by looking the platform up before anything is written again.

use kube::api::Api;

use super::context::Context;
use super::error::Result;
use super::kind::Kind;
use super::status::{StatusDraft, save};
use super::task_timing::Since;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

use crate::api::common::{Operation, WriteAction};
use liveplatform::model::{
    ChannelAssigned, ChannelRemoved, SipConnectionAdded, SipConnectionDeleted, TaskId,
};
use liveplatform::rate_limit::{Caller, Lane};
use liveplatform::{Admitted, LivePlatformClient, TaskOutcome};

/// The write in flight, if any.
pub fn current<K: Kind>(draft: &mut StatusDraft<K>) -> Option<Operation> {
    K::operation_mut(&mut draft.status).and_then(|op| op.clone())
}

/// The action of the write in flight, which a look at its task needs. Only asked
/// while a write is in flight; anything else is an operator bug, said as such rather
/// than looked at again and again.
pub fn action_in_flight<K: Kind>(draft: &mut StatusDraft<K>) -> Result<WriteAction> {
    current(draft).map(|op| op.action).ok_or_else(|| {
        super::error::Error::TaskFailed(
            "a task was to be looked at with no write in flight; this is a bug of the operator, please report it"
                .to_owned(),
        )
    })
}

/// Whether the write in flight is `action`.
pub fn is<K: Kind>(draft: &mut StatusDraft<K>, action: WriteAction) -> Option<Operation> {
    current(draft).filter(|op| op.action == action)
}

/// Records and saves the intent to perform `action` on `items`.
pub async fn begin<K: Kind>(
    api: &Api<K>,
    obj: &K,
    draft: &mut StatusDraft<K>,
    action: WriteAction,
    items: Vec<String>,
) -> Result<()> {
    if let Some(slot) = K::operation_mut(&mut draft.status) {
        *slot = Some(Operation {
            action,
            started_at: MicroTime(jiff::Timestamp::now()),
            generation: draft.generation,
            task_id: None,
            accepted_at: None,
            items,
        });
    }
    save(api, obj, draft).await
}

/// Saves what the draft records of a write that starts no task and keeps no intent
/// (a dial plan's rules it is about to own), before the write is sent: a process
/// stopped meanwhile knows them, and the next reconcile reads the platform again.
pub async fn record_before<K: Kind>(
    api: &Api<K>,
    obj: &K,
    draft: &mut StatusDraft<K>,
) -> Result<()> {
    save(api, obj, draft).await
}

/// Records and saves the task id of the write in flight.
pub async fn started<K: Kind>(
    api: &Api<K>,
    obj: &K,
    draft: &mut StatusDraft<K>,
    task: &TaskId,
) -> Result<()> {
    accepted(draft, task);
    save(api, obj, draft).await
}

/// Records the task id of the write in flight in the draft only.
fn accepted<K: Kind>(draft: &mut StatusDraft<K>, task: &TaskId) {
    if let Some(Some(op)) = K::operation_mut(&mut draft.status) {
        op.task_id = Some(task.0.clone());
        op.accepted_at = Some(MicroTime(jiff::Timestamp::now()));
    }
}

/// The write protocol, written once: waits for the platform's budget to admit the
/// write ([`admit`]), records and saves the intent to perform `action` on `items`,
/// sends the write, and, when the platform answers with a task, records its id
/// together with what `record` takes from the answer (a new site's id, the
/// generation applied) in the draft, saved with the status write that ends the
/// reconcile or with the next intent (rule 2 above). A write the platform refused is over
/// (the intent is cleared); a write whose outcome is unknown, or refused because an
/// earlier task on the object still runs (maybe one whose answer was lost), keeps its
/// intent, so that the next reconcile looks the platform up before anything is
/// written again. The outer error is a failed status write; the inner one is the
/// platform's answer.
#[allow(clippy::too_many_arguments)]
pub async fn send<K: Kind, T: Answer>(
    api: &Api<K>,
    obj: &K,
    draft: &mut StatusDraft<K>,
    client: &LivePlatformClient,
    action: WriteAction,
    items: Vec<String>,
    write: impl Future<Output = liveplatform::Result<T>>,
    record: impl FnOnce(&T, &mut StatusDraft<K>),
) -> Result<liveplatform::Result<T>> {
    let admitted = admit(api, obj, draft, client, action).await?;
    send_admitted(api, obj, draft, admitted, (action, items), write, record).await
}

/// Waits until the platform's budget admits `action`. The intent is recorded once the
/// budget admits the write, not before it waits in line: a process stopped meanwhile
/// leaves no intent whose write never left, which its successor would have to look
/// up. A validated tenant is saved before a routine write waits (see
/// [`StatusDraft::save_before_waiting`]), so that a stop meanwhile does not make its
/// successor validate the tenant again. Everything else the draft holds waits for the
/// intent's status write: a write's answer (a new lead's id, a task's output) is
/// covered by that write's recorded intent or task, which a successor looks up; what
/// a platform read told (a customer's licence, an object found by a look-up) costs a
/// successor stopped during the wait that one read again, rarer and cheaper than a
/// status write before every routine write; and a condition is not worth a write of
/// its own (at 1,000 customers onboarding, saving every draft before its wait cost
/// the apiserver about five writes per customer). A person's change goes
/// ahead of the line and saves once. So a change to the draft that holds only
/// together with the write's intent (numbers an upload brings) is made after this,
/// and saved with the intent by [`send_admitted`].
pub async fn admit<K: Kind>(
    api: &Api<K>,
    obj: &K,
    draft: &mut StatusDraft<K>,
    client: &LivePlatformClient,
    action: WriteAction,
) -> Result<Admitted> {
    if let Some(admitted) = client.admit_now(action.platform()) {
        return Ok(admitted);
    }
    if Caller::current().lane == Lane::Routine && draft.must_save_before_waiting() {
        save(api, obj, draft).await?;
    }
    Ok(client.admit(action.platform()).await)
}

/// [`send`] of a write of `action` on `items` the budget has admitted ([`admit`]).
pub async fn send_admitted<K: Kind, T: Answer>(
    api: &Api<K>,
    obj: &K,
    draft: &mut StatusDraft<K>,
    admitted: Admitted,
    (action, items): (WriteAction, Vec<String>),
    write: impl Future<Output = liveplatform::Result<T>>,
    record: impl FnOnce(&T, &mut StatusDraft<K>),
) -> Result<liveplatform::Result<T>> {
    begin(api, obj, draft, action, items).await?;
    match admitted.run(write).await {
        Ok(answer) => {
            record(&answer, draft);
            if let Some(task) = answer.task() {
                accepted(draft, &task);
            }
            Ok(Ok(answer))
        }
        Err(e) => {
            if !keeps_intent(&e) {
                finish(draft);
            }
            Ok(Err(e))
        }
    }
}

/// Whether a write that failed with `e` keeps its intent: its outcome is unknown, or
/// the platform refused it because an earlier task on the object still runs (maybe
/// one whose answer was lost). Any other error is a refusal: nothing happened.
fn keeps_intent(e: &liveplatform::Error) -> bool {
    matches!(
        e,
        liveplatform::Error::OutcomeUnknown { .. } | liveplatform::Error::Busy { .. }
    )
}

/// The write protocol for a window of requests of one `action`, each on its own
/// items (a large number block's uploads, whose tasks run side by side in
/// `running`): the intents of all of them are recorded in `running` and saved in one
/// status write, then the requests go one after another (the first under
/// `admitted`, the others as the budget admits them), each task id recorded in the
/// draft as its answer comes and saved with the next status write. On an object
/// whose spec lists thousands of numbers a status write costs the apiserver about
/// half a second, so a window of eight requests costs two writes (their intents,
/// then their task ids) where one request at a time cost eight or sixteen. A process
/// stopped before the next
/// write leaves intents without task ids, which its successor looks up on the
/// platform before anything is written again, as after a lost answer.
///
/// The window stops at the first request that fails: a refused request's intent is
/// removed, one whose outcome is unknown keeps its intent (to be looked up), and the
/// intents of the requests not sent are removed. Returns the answers of the requests
/// sent, in order; only the last can be an error. The outer error is a failed status
/// write.
pub async fn send_window<K: Kind, T: Answer, F, Fut>(
    (api, obj, draft): (&Api<K>, &K, &mut StatusDraft<K>),
    admitted: Admitted,
    running: fn(&mut K::Status) -> &mut Vec<Operation>,
    (action, requests): (WriteAction, &[Vec<String>]),
    mut send: F,
) -> Result<Vec<liveplatform::Result<T>>>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = liveplatform::Result<T>>,
{
    let first = running(&mut draft.status).len();
    let decided = MicroTime(jiff::Timestamp::now());
    let generation = draft.generation;
    running(&mut draft.status).extend(requests.iter().map(|items| Operation {
        action,
        started_at: decided.clone(),
        generation,
        task_id: None,
        accepted_at: None,
        items: items.clone(),
    }));
    save(api, obj, draft).await?;
    let mut admitted = Some(admitted);
    let mut answers = Vec::with_capacity(requests.len());
    for at in 0..requests.len() {
        let call = send(at);
        let answer = match admitted.take() {
            Some(admitted) => admitted.run(call).await,
            None => call.await,
        };
        match &answer {
            Ok(answer) => {
                if let Some(op) = running(&mut draft.status).get_mut(first + at) {
                    op.task_id = answer.task().map(|task| task.0);
                    op.accepted_at = Some(MicroTime(jiff::Timestamp::now()));
                }
            }
            Err(e) => {
                let kept = first + at + usize::from(keeps_intent(e));
                running(&mut draft.status).truncate(kept);
                answers.push(answer);
                return Ok(answers);
            }
        }
        answers.push(answer);
    }
    Ok(answers)
}

/// Nothing to record from the answer besides its task.
pub fn nothing<T, D>(_: &T, _: &mut D) {}

/// The answer of a write: a task to follow, or none.
pub trait Answer {
    fn task(&self) -> Option<TaskId>;
}

impl Answer for TaskId {
    fn task(&self) -> Option<TaskId> {
        Some(self.clone())
    }
}

impl<T> Answer for Option<T> {
    fn task(&self) -> Option<TaskId> {
        None
    }
}

impl Answer for ChannelAssigned {
    fn task(&self) -> Option<TaskId> {
        None
    }
}

impl Answer for ChannelRemoved {
    fn task(&self) -> Option<TaskId> {
        None
    }
}

impl Answer for SipConnectionAdded {
    fn task(&self) -> Option<TaskId> {
        Some(TaskId(self.task_id.clone()))
    }
}

impl Answer for SipConnectionDeleted {
    fn task(&self) -> Option<TaskId> {
        self.sbc_cleanup_task_id.clone().map(TaskId)
    }
}

/// For a write whose answer was lost and whose effect the platform shows only once
/// its task ended (a licence upgrade, an end user's provisioning): when its grace
/// ends, and how long that is from `now` while it lasts. Looking the platform up
/// before then could find the task still running, not yet shown, and send the write
/// a second time just after the first one ended.
pub fn lost_answer_grace(
    op: &Operation,
    grace: std::time::Duration,
    now: jiff::Timestamp,
) -> Option<(jiff::Timestamp, std::time::Duration)> {
    if op.task_id.is_some() {
        return None;
    }
    let over = op
        .started_at
        .0
        .checked_add(jiff::SignedDuration::try_from(grace).ok()?)
        .ok()?;
    let remaining = std::time::Duration::try_from(now.duration_until(over)).ok()?;
    (!remaining.is_zero()).then_some((over, remaining))
}

/// How long the task of `op` has run: since the platform accepted the write, or (for
/// an operation recorded before that time was kept) since the write was decided.
pub fn task_age(op: &Operation) -> Option<std::time::Duration> {
    let since = op.accepted_at.as_ref().unwrap_or(&op.started_at).0;
    std::time::Duration::try_from(since.duration_until(jiff::Timestamp::now())).ok()
}

/// Where [`task_age`] counts the task of `op` from.
pub fn age_counted_from(op: &Operation) -> Since {
    match op.accepted_at {
        Some(_) => Since::Answer,
        None => Since::Decision,
    }
}

/// The write in flight is over (its result is in the rest of the status).
pub fn finish<K: Kind>(draft: &mut StatusDraft<K>) {
    if let Some(slot) = K::operation_mut(&mut draft.status) {
        *slot = None;
    }
}

/// One look at a task of `action` on `platform`; a final outcome is counted in the
/// metrics, and its duration on the platform teaches when to look at the next one
/// (see `task_timing`).
pub async fn poll(
    ctx: &Context,
    platform: &str,
    client: &LivePlatformClient,
    action: WriteAction,
    task: &str,
) -> Result<TaskOutcome> {
    let task = client.get_task(&TaskId(task.to_owned())).await?;
    let took = task
        .status
        .is_final()
        .then(|| platform_duration(task.create_time.as_deref(), task.complete_time.as_deref()))
        .flatten();
    if let Some(took) = took {
        ctx.platform
            .task_timings
            .ended(platform, action.title(), took);
    }
    let outcome = TaskOutcome::of(task);
    let name = match &outcome {
        TaskOutcome::Succeeded(_) => Some("succeeded"),
        TaskOutcome::PartlyFailed { .. } => Some("partly_failed"),
        TaskOutcome::Failed(_) => Some("failed"),
        TaskOutcome::StillRunning(_) => None,
    };
    if let Some(name) = name {
        ctx.metrics.task_ended(action, name, took);
    }
    Ok(outcome)
}

/// How long a task ran on the platform, from its own create and complete times.
fn platform_duration(
    created: Option<&str>,
    completed: Option<&str>,
) -> Option<std::time::Duration> {
    let created = created?.parse::<jiff::Timestamp>().ok()?;
    let completed = completed?.parse::<jiff::Timestamp>().ok()?;
    std::time::Duration::try_from(created.duration_until(completed)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_with_a_recorded_answer_is_aged_from_that_answer() {
        let decided = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(10);
        let mut op = Operation {
            action: WriteAction::UploadNumbers,
            started_at: MicroTime(decided),
            generation: None,
            task_id: Some("tsk_1".into()),
            accepted_at: None,
            items: Vec::new(),
        };
        assert_eq!(age_counted_from(&op), Since::Decision);
        assert!(task_age(&op).is_some_and(|age| age.as_secs() >= 10));

        op.accepted_at = Some(MicroTime(jiff::Timestamp::now()));
        assert_eq!(age_counted_from(&op), Since::Answer);
        assert!(task_age(&op).is_some_and(|age| age.as_secs() < 10));
    }
}
