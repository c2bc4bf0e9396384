//! The life of an `OCNumberBlock`: expand the declared numbers; refuse numbers another
//! block declared first; upload the missing ones in requests of at most the platform's
//! limit, following each task (numbers a task fails are validated for the platform's
//! diagnosis, never before they are sent); release numbers that left the spec
//! (unassigning first when the policy allows); on delete, release everything and keep
//! the finalizer until the release succeeded. One write at a time, recorded before it
//! is sent.
//!
//! Read top to bottom: what is seen ([`Seen`], [`Listing`]), the pure planner
//! ([`plan`]), then the calls that carry a step out ([`BlockReconcile`]).

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::adoption;
use super::conclusion;
use super::context::Context;
use super::customer_scope::{CustomerScope, customer_scope, without_scope};
use super::drive;
use super::error::{Error, Result};
use super::finalizer;
use super::lifecycle::{self, Departing, Leaving};
use super::management::{self, planned, requests};
use super::number_set::NumberSet;
use super::numbers::Projection;
use super::plan::{self, AfterWrite, Also, Next, Planner, Report, Wait};
use super::status::{StatusDraft, namespaced_api};
use super::stops::Failure;
use super::task_timing;
use super::tasks;
use super::tenant_numbers::TenantNumbers;
use crate::api::OCNumberBlock;
use crate::api::common::{PlannedAction, WriteAction};
use crate::api::conditions::{self, NUMBERS_UPLOADED, READY, reason};
use crate::api::number_block::{
    AssignedNumberPolicy, FailedNumber, NumberCounts, OCNumberBlockSpec, OCNumberBlockStatus,
    ReleaseProgress,
};
use liveplatform::contract::{MAX_NUMBERS_PER_REQUEST, RELEASE_LIMIT, UPLOADS_IN_FLIGHT};
use liveplatform::model::{
    NumberOutcome, NumberRecord, ReleaseNumbers, TaskId, UnassignNumbers, UploadNumbers,
    ValidateNumbers,
};
use liveplatform::{Conflict, TaskOutcome};

type Draft = StatusDraft<OCNumberBlock>;

/// A running upload whose expected end is this close is looked at together with
/// those already due: the requests of one window were answered milliseconds apart,
/// and their tasks are looked at in one reconcile, not the first ones in one and the
/// rest in the next.
const DUE_TOGETHER: std::time::Duration = std::time::Duration::from_millis(40);

/// At most this many failed numbers are listed in status.
const FAILED_LISTED: usize = 50;

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
    let scope = match customer_scope(ctx, obj, draft).await? {
        Ok(scope) => scope,
        Err(why) => {
            return without_scope(ctx, api, obj, why, owned(&draft.status).is_empty()).await;
        }
    };
    if !deleting && finalizer::add(api, obj).await? {
        return Ok(Action::await_change());
    }
    let others_own =
        ctx.ownership
            .blocks
            .numbers_owned_by_others(obj, &owned(&draft.status), &ctx.stores);
    let mut reconcile = BlockReconcile {
        obj,
        ctx,
        api,
        draft,
        scope: &scope,
        seen: Seen::default(),
        deleting,
        others_own,
        due_at_start: Vec::new(),
    };
    // Only the running uploads due when the reconcile began are looked at in it: one
    // that comes due while the next requests wait for the budget is left for the next
    // reconcile, so that a large block's reconcile ends once its uploads are sent.
    reconcile.due_at_start = reconcile.running_due().0;
    let outcome = plan::run(
        &mut reconcile,
        "OCNumberBlock",
        management::observe_only(obj, &ctx.stores),
    )
    .await?;
    Ok(conclusion::conclude(ctx, obj, draft, outcome).await)
}

impl Departing for OCNumberBlock {
    const ORPHAN_LEAVES: &'static str = "the numbers stay with the customer";

    /// A block that never brought a number to the platform has nothing to release.
    fn leaving(&self, status: &OCNumberBlockStatus) -> Option<Leaving> {
        Some(lifecycle::leaving_of(
            finalizer::is_deleting(self),
            finalizer::has(self),
            self.spec.deletion_policy,
            owned(status).is_empty() && status.operation.is_none(),
        ))
    }
}

/// Numbers this block has on the platform as far as its status knows.
fn owned(status: &OCNumberBlockStatus) -> NumberSet {
    NumberSet::from_ranges(&status.active)
}

/// The tenant's numbers as the platform lists them (see `tenant_numbers`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    numbers: Arc<TenantNumbers>,
    /// The operator's own writes were applied to the platform's last listing (see
    /// `numbers`).
    projected: bool,
    /// Every write applied to it has ended: good for a report. Otherwise good only
    /// for deciding the next write.
    settled: bool,
}

impl Listing {
    pub fn new(numbers: Arc<TenantNumbers>) -> Self {
        Listing {
            numbers,
            projected: false,
            settled: true,
        }
    }

    /// A block's own numbers that are on the platform, as its status knows them
    /// (see [`own_view_serves`]): active, and in no Teams assignment the block would
    /// act on (it plans no release from this view).
    pub fn own(numbers: NumberSet) -> Self {
        Listing::projected(Arc::new(TenantNumbers::own(numbers)), true)
    }

    /// A listing with the operator's writes applied since the platform gave it;
    /// `settled` when all of them have ended.
    pub fn projected(numbers: Arc<TenantNumbers>, settled: bool) -> Self {
        Listing {
            projected: true,
            settled,
            ..Listing::new(numbers)
        }
    }
}

/// What this reconcile has read so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// The last look at the task in flight.
    pub task: Option<TaskOutcome>,
    /// After a lost answer: the numbers of the write, from a fresh listing.
    pub lost: Option<Vec<NumberRecord>>,
    /// The numbers of the running uploads without a task id (their answers were lost,
    /// or a process stopped before it saved them), from a fresh listing.
    pub lost_running: Option<Vec<NumberRecord>>,
    /// The upload task found after its answer was lost, now followed.
    pub found_job: Option<String>,
    /// The tenant's numbers.
    pub listing: Option<Listing>,
    /// Numbers an upload task failed in this reconcile, to be validated: where the
    /// platform's validation refuses one, its verdict and what to do replace the
    /// task's error code.
    pub diagnose: NumberSet,
    /// Numbers that failed validation, not recorded in status yet.
    pub refused: Vec<NumberOutcome>,
    /// The failures in status belong to this spec: cleared, or found by validation,
    /// in this reconcile.
    pub failures_current: bool,
    /// Looks at the tasks of running uploads (`status.running`) in this reconcile.
    pub running: Vec<(String, TaskOutcome)>,
    /// A running upload's task failed as a whole: the reconcile fails with this.
    pub running_failed: Option<Failure>,
}

/// What the planner knows besides the platform.
#[derive(Debug, Clone)]
pub struct Known<'a> {
    pub spec: &'a OCNumberBlockSpec,
    pub status: &'a OCNumberBlockStatus,
    pub generation: Option<i64>,
    pub may_adopt: bool,
    pub deleting: bool,
    pub tenant: &'a str,
    /// This block's numbers that another block owns.
    pub others_own: &'a NumberSet,
    /// The block is Ready for this generation, nothing in flight: its last report
    /// stands.
    pub reported: bool,
    /// How long the platform's release tasks have taken lately, once one was seen.
    pub release_task: Option<std::time::Duration>,
    /// The operator created the customer (see `OCCustomerStatus::created_by_operator`):
    /// its tenant has no numbers but those its blocks brought.
    pub customer_created: bool,
    /// The task ids of running uploads (`status.running`) that should have ended by
    /// now, as long as such tasks lately took (all of them while that is not known).
    pub running_due: Vec<String>,
    /// How long until the next of the other running uploads should have ended.
    pub next_due: Option<std::time::Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Look {
    Task(String),
    /// A fresh listing (Get Customer Numbers V2) after a lost answer.
    Lost,
    Listing,
    /// The whole listing from the platform, not one the operator's writes were
    /// applied to: what a block reports, and lets go on, is what the platform says.
    FreshListing,
    /// No call: the block's own numbers as its status and its writes' outcomes say
    /// (see [`own_view_serves`]).
    Own,
    /// Validate Single Number for numbers an upload task failed (see
    /// [`Seen::diagnose`]). Numbers are never validated before they are sent: the
    /// upload task refuses each number it cannot take, with a reason, and validating
    /// first would cost every upload a call.
    Validate(Vec<String>),
    /// The task of a running upload (`status.running`).
    Running(String),
    /// A fresh listing (Get Customer Numbers V2) for the running uploads without a
    /// task id.
    LostRunning,
}

/// How a write's task ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    Succeeded,
    /// Some numbers failed (or the whole upload failed with per-number outcomes).
    NumbersFailed {
        failed: Vec<NumberOutcome>,
        summary: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Settle {
    /// The upload whose answer was lost runs as this task: it is followed.
    FollowFound(String),
    /// A write whose answer was lost that the listing shows did not happen (or is
    /// harmless to send again): the plan decides from the listing.
    ForgetLost,
    TaskEnded(Ended),
    /// A new spec gets a new chance for numbers that failed before.
    ClearFailures,
    /// Declared numbers the tenant already has, taken over (the opt-in is set).
    Adopt {
        numbers: NumberSet,
        what: String,
    },
    /// Numbers validation refused are recorded as failed with its verdict.
    Refused,
    /// What the block has on the platform.
    Report {
        active: Vec<String>,
        counts: Option<NumberCounts>,
    },
    /// How far the release of a deleted block has come.
    ReleaseProgress(ReleaseProgress),
    /// A running upload's task ended: it leaves `status.running`.
    RunningEnded {
        task: String,
        ended: RunningEnd,
    },
    /// A running upload without a task id (`items`, as ranges), looked up: it runs as
    /// `job`, found on its numbers, and is followed; or, found nowhere, it never
    /// reached the platform and leaves `status.running` with the numbers the listing
    /// does not show (`never_sent`).
    RunningLookedUp {
        items: Vec<String>,
        job: Option<String>,
        never_sent: NumberSet,
    },
}

/// How a running upload's task ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunningEnd {
    Ended(Ended),
    /// It failed as a whole, with no per-number outcomes: its numbers are not the
    /// block's, and the reconcile fails (and is retried with backoff) as when the
    /// write in flight fails.
    Failed(Failure),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// One upload request, followed as the write in flight.
    Upload(Batch),
    /// Several upload requests of a large block, sent one after another with one
    /// status write for their intents; their tasks run side by side in
    /// `status.running` (see [`tasks::send_window`]).
    UploadWindow(Window),
    Release(Batch),
    Unassign(Batch),
    /// Removes the finalizer: every number is released.
    LetGo,
}

pub type Step = plan::Step<Look, Settle, Write>;

/// The numbers of one request, and how many numbers the operation covers in all
/// (this request's and those of the requests after it), for a plan to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub numbers: Vec<String>,
    pub outstanding: usize,
}

impl Batch {
    /// The first request's share of `numbers`.
    pub fn of(numbers: &NumberSet) -> Self {
        Batch {
            numbers: chunk(numbers),
            outstanding: numbers.len(),
        }
    }
}

/// Upload requests sent in one step, each of at most the platform's limit, in order,
/// and how many numbers are still to upload in all (these requests' and those after
/// them), for a plan to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub requests: Vec<Vec<String>>,
    pub outstanding: usize,
}

impl Window {
    /// The first `requests` requests' shares of `numbers`.
    pub fn of(numbers: &NumberSet, requests: usize) -> Self {
        let mut left = numbers.clone();
        let mut window = Window {
            requests: Vec::new(),
            outstanding: numbers.len(),
        };
        while window.requests.len() < requests && !left.is_empty() {
            let request = chunk(&left);
            left.subtract(&request.iter().collect());
            window.requests.push(request);
        }
        window
    }
}

/// The first request's share of `numbers`: at most the platform's limit, in order.
fn chunk(numbers: &NumberSet) -> Vec<String> {
    numbers.first(MAX_NUMBERS_PER_REQUEST)
}

fn uploaded(status: bool, reason: &'static str, message: impl Into<String>) -> Also {
    Also {
        type_: NUMBERS_UPLOADED,
        status,
        reason,
        message: message.into(),
    }
}

/// The next step (pure).
pub fn plan(known: &Known, seen: &Seen) -> Step {
    use plan::Step::*;
    if let Some(step) = follow(known, seen) {
        return step;
    }
    if let Some(step) = follow_running(known, seen) {
        return step;
    }
    if known.deleting && !known.status.running.is_empty() {
        // Numbers in a running upload cannot be released (the platform refuses a
        // number that is in another running operation): nothing to list until they end.
        return Wait(wait_for_running(known));
    }
    let Some(listing) = &seen.listing else {
        if own_view_serves(known) {
            return Look(self::Look::Own);
        }
        return Look(self::Look::Listing);
    };
    if listing.projected && known.reported {
        // A block that stands reported (a drift check, a wake-up) looks at what the
        // platform lists, not at what the operator's writes made of an older listing.
        return Look(self::Look::FreshListing);
    }
    if known.deleting {
        return plan_release_all(known, listing);
    }
    plan_apply(known, seen, listing)
}

/// The uploads running besides the write in flight (`status.running`): a task that
/// should have ended is looked at, and an ended one settled, before anything else.
fn follow_running(known: &Known, seen: &Seen) -> Option<Step> {
    use plan::Step::*;
    if let Some(why) = &seen.running_failed {
        return Some(Fail(why.clone()));
    }
    if let Some(op) = known.status.running.iter().find(|op| op.task_id.is_none()) {
        // Its answer was lost, or a process stopped before it saved the task id: the
        // platform is looked up before anything is written again.
        let Some(found) = &seen.lost_running else {
            return Some(Look(self::Look::LostRunning));
        };
        let items = NumberSet::from_ranges(&op.items);
        let found: Vec<&NumberRecord> = found
            .iter()
            .filter(|r| items.contains(&r.telephone_number))
            .collect();
        let job = upload_job(found.iter().copied());
        let shown: NumberSet = found.iter().map(|r| r.telephone_number.as_str()).collect();
        return Some(Settle(self::Settle::RunningLookedUp {
            items: op.items.clone(),
            never_sent: if job.is_some() {
                NumberSet::new()
            } else {
                items.difference(&shown)
            },
            job,
        }));
    }
    for op in &known.status.running {
        let Some(task) = &op.task_id else { continue };
        match seen.running.iter().find(|(t, _)| t == task) {
            Some((_, TaskOutcome::StillRunning(_))) => {}
            Some((_, outcome)) => {
                let ended = match ended(outcome, WriteAction::UploadNumbers)? {
                    Ok(ended) => RunningEnd::Ended(ended),
                    Err(why) => {
                        RunningEnd::Failed(Failure::new(WriteAction::UploadNumbers, task, why))
                    }
                };
                return Some(Settle(self::Settle::RunningEnded {
                    task: task.clone(),
                    ended,
                }));
            }
            None if known.running_due.contains(task) => {
                return Some(Look(self::Look::Running(task.clone())));
            }
            None => {}
        }
    }
    None
}

/// The upload task the platform's records of a write's numbers name, if any: the
/// write whose answer was lost runs as that task.
fn upload_job<'a>(records: impl IntoIterator<Item = &'a NumberRecord>) -> Option<String> {
    records
        .into_iter()
        .find_map(|r| r.upload_to_account_job_id.clone().filter(|j| !j.is_empty()))
}

/// Waiting for the running uploads: until the next one should have ended.
fn wait_for_running(known: &Known) -> plan::Wait {
    let running = known.status.running.len();
    let message = format!(
        "{running} upload{} of this block running on the platform",
        if running == 1 { "" } else { "s" }
    );
    let next = known.next_due.map_or(Next::Task, Next::After);
    plan::Wait::new(reason::WAITING_FOR_TASK, message.clone(), next).also(uploaded(
        false,
        reason::WAITING_FOR_TASK,
        message,
    ))
}

/// How a task of a write of `action` ended (`None` while it runs); `Err` with the
/// platform's summary when it failed as a whole.
fn ended(outcome: &TaskOutcome, action: WriteAction) -> Option<std::result::Result<Ended, String>> {
    Some(match outcome {
        TaskOutcome::StillRunning(_) => return None,
        TaskOutcome::Succeeded(_) => Ok(Ended::Succeeded),
        TaskOutcome::PartlyFailed { failed, .. } => Ok(Ended::NumbersFailed {
            failed: failed.clone(),
            summary: None,
        }),
        TaskOutcome::Failed(t) => {
            let outcomes = t.number_outcomes();
            if action == WriteAction::UploadNumbers && !outcomes.is_empty() {
                Ok(Ended::NumbersFailed {
                    failed: outcomes.into_iter().filter(|o| !o.succeeded()).collect(),
                    summary: Some(t.error_summary()),
                })
            } else {
                Err(t.error_summary())
            }
        }
    })
}

/// Whether the block may plan from its own numbers instead of the tenant's listing:
/// under a customer the operator created, the tenant has no numbers but those its
/// blocks uploaded, each block knows its own from the answers and task outcomes of its
/// writes, and ownership keeps blocks off each other's numbers. That serves uploads
/// (the first ones, a large block's next chunk, numbers added to the spec) and the
/// report after them. A drift check, a deletion, and numbers that left the spec
/// (released or kept by their assignment in Teams, which only the platform knows)
/// read the platform.
pub fn own_view_serves(known: &Known) -> bool {
    if !known.customer_created
        || known.deleting
        || known.reported
        || known.may_adopt
        || known.status.operation.is_some()
    {
        return false;
    }
    owned(known.status)
        .difference(known.others_own)
        .is_subset(&NumberSet::declared(known.spec))
}

/// The write in flight, if any: followed to its end before anything else.
fn follow(known: &Known, seen: &Seen) -> Option<Step> {
    use plan::Step::*;
    let op = known.status.operation.as_ref()?;
    if let Some(job) = &seen.found_job {
        return Some(Wait(plan::Wait::new(
            reason::WAITING_FOR_TASK,
            format!("following upload task {job}, found after its answer was lost"),
            Next::Task,
        )));
    }
    let Some(task) = &op.task_id else {
        // The answer was lost: look the numbers up before writing anything again.
        let Some(lost) = &seen.lost else {
            return Some(Look(self::Look::Lost));
        };
        if op.action == WriteAction::UploadNumbers
            && let Some(job) = upload_job(lost)
        {
            return Some(Settle(self::Settle::FollowFound(job)));
        }
        if op.action == WriteAction::ReleaseNumbers
            && lost.iter().any(|r| {
                r.acquired_number_status
                    .eq_ignore_ascii_case(NumberRecord::RELEASE_REQUESTED)
            })
        {
            return Some(Wait(plan::Wait::new(
                reason::WAITING_FOR_TASK,
                "a release whose answer was lost is still running",
                Next::Task,
            )));
        }
        // An unassign whose answer was lost: writing it again is harmless.
        return Some(Settle(self::Settle::ForgetLost));
    };
    Some(match &seen.task {
        None => Look(self::Look::Task(task.clone())),
        Some(TaskOutcome::StillRunning(t)) => Wait(plan::Wait::new(
            reason::WAITING_FOR_TASK,
            format!("{} (task {task}, {})", op.action, t.status.as_str()),
            Next::Task,
        )),
        Some(outcome) => match ended(outcome, op.action)? {
            Ok(ended) => Settle(self::Settle::TaskEnded(ended)),
            Err(why) => Fail(Failure::new(op.action, task, why)),
        },
    })
}

fn plan_apply(known: &Known, seen: &Seen, listing: &Listing) -> Step {
    use plan::Step::*;
    let (spec, status) = (known.spec, known.status);
    if !seen.failures_current
        && status.observed_generation != known.generation
        && !status.failed.is_empty()
    {
        return Settle(self::Settle::ClearFailures);
    }
    let failed: NumberSet = status.failed.iter().map(|f| f.number.as_str()).collect();
    // A diagnosis replaces the reason of a failure status still records; it never
    // records one (a new spec's cleared failures get their new chance).
    let undiagnosed = seen.diagnose.intersection(&failed);
    if !undiagnosed.is_empty() {
        return Look(self::Look::Validate(chunk(&undiagnosed)));
    }
    if !seen.refused.is_empty() {
        return Settle(self::Settle::Refused);
    }
    let numbers = listing.numbers.as_ref();
    let declared = NumberSet::declared(spec);
    let owned = owned(status).difference(known.others_own);

    // Declared numbers the tenant already has that this block never brought: taken
    // over only on request.
    let existing = declared.intersection(numbers.listed()).difference(&owned);
    if !existing.is_empty() {
        let what = format!("numbers {existing} of tenant {}", known.tenant);
        if !known.may_adopt {
            return Refuse {
                existing: what,
                advice: "remove them from the spec",
            };
        }
        return Settle(self::Settle::Adopt {
            numbers: existing,
            what,
        });
    }

    let to_upload = declared.difference(numbers.listed()).difference(&failed);
    if !status.running.is_empty() {
        // While uploads run, only the next ones are sent; releases and the report wait
        // for them to end.
        if status.running.len() < UPLOADS_IN_FLIGHT && !to_upload.is_empty() {
            return upload_next(&to_upload, status.running.len());
        }
        return Wait(wait_for_running(known));
    }

    let removed = owned.difference(&declared).intersection(numbers.listed());
    let assigned = removed.intersection(numbers.assigned());
    let unassign = spec.assigned_number_policy == AssignedNumberPolicy::Unassign;
    if unassign && !assigned.is_empty() {
        return Write(self::Write::Unassign(Batch::of(&assigned)));
    }
    let releasable = removed.difference(&assigned).intersection(numbers.active());
    if !releasable.is_empty() {
        return Write(self::Write::Release(Batch::of(&releasable)));
    }
    if !to_upload.is_empty() {
        return upload_next(&to_upload, status.running.len());
    }

    // Nothing to write: report what the platform lists, or what the outcomes of the
    // operator's ended writes made of it.
    if !listing.settled {
        return Look(self::Look::FreshListing);
    }
    let retained = if unassign { NumberSet::new() } else { assigned };
    let active = declared.intersection(numbers.active()).union(&retained);
    let counts = Some(NumberCounts {
        declared: declared.len() as i64,
        active: active.len() as i64,
        uploading: declared.intersection(numbers.uploading()).len() as i64,
        failed: failed.len() as i64,
        releasing: owned.intersection(numbers.releasing()).len() as i64,
        retained: retained.len() as i64,
    });
    // What the block has on the platform: its active numbers, and those it owns that
    // the platform still processes (an upload or a release running).
    let active_ranges = active
        .union(&owned.intersection(numbers.listed()))
        .to_ranges();
    if status.active != active_ranges
        || status.counts != counts
        || status.failed.len() > FAILED_LISTED
    {
        return Settle(self::Settle::Report {
            active: active_ranges,
            counts,
        });
    }
    let waiting = declared.len() - failed.len().min(declared.len())
        > active.len() - retained.len().min(active.len());
    if waiting {
        let message = "numbers are still being processed by the platform";
        return Wait(
            plan::Wait::new(reason::WAITING_FOR_TASK, message, Next::Task).also(uploaded(
                false,
                reason::WAITING_FOR_TASK,
                message,
            )),
        );
    }
    if !failed.is_empty() {
        let list: Vec<String> = status
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
        return Wait(
            plan::Wait::new(reason::REJECTED, message.clone(), Next::SpecChange).also(uploaded(
                false,
                reason::PARTLY_FAILED,
                message,
            )),
        );
    }
    let all_active = uploaded(
        true,
        reason::AVAILABLE,
        format!("all {} declared numbers are active", declared.len()),
    );
    if !retained.is_empty() {
        if listing.projected {
            // As on deletion: numbers held back for Teams are judged on a fresh listing.
            return Look(self::Look::FreshListing);
        }
        return Wait(
            plan::Wait::new(
                reason::NUMBERS_ASSIGNED,
                format!(
                    "numbers {retained} left the spec but are assigned in Teams, so they stay; unassign them or set assignedNumberPolicy: Unassign"
                ),
                Next::Recheck,
            )
            .also(all_active),
        );
    }
    Ready(Report::new(format!("{} numbers active", active.len())).also(all_active))
}

/// The next upload requests of `to_upload`, beside `running` uploads (fewer than the
/// block may run). What one request carries, with none running, is followed as the
/// write in flight. Anything larger goes as a window: as many requests as there is
/// room for among the running uploads, sent with one status write for their intents,
/// their tasks running side by side; the block looks at them when they should have
/// ended and fills the room they leave with the next window.
fn upload_next(to_upload: &NumberSet, running: usize) -> Step {
    let room = UPLOADS_IN_FLIGHT.saturating_sub(running).max(1);
    if running == 0 && to_upload.len() <= MAX_NUMBERS_PER_REQUEST {
        return plan::Step::Write(self::Write::Upload(Batch::of(to_upload)));
    }
    plan::Step::Write(self::Write::UploadWindow(Window::of(to_upload, room)))
}

/// Deletion: every number this block owns is released (unassigned first when the
/// policy allows), then the finalizer goes.
fn plan_release_all(known: &Known, listing: &Listing) -> Step {
    use plan::Step::*;
    let numbers = listing.numbers.as_ref();
    let left = owned(known.status)
        .difference(known.others_own)
        .intersection(numbers.listed());
    if left.is_empty() {
        if !listing.settled {
            return Look(self::Look::FreshListing);
        }
        return Write(self::Write::LetGo);
    }
    let progress = release_progress(known, left.len());
    if known.status.release.as_ref() != Some(&progress) {
        return Settle(self::Settle::ReleaseProgress(progress));
    }
    let active = left.to_ranges();
    if known.status.active != active {
        return Settle(self::Settle::Report {
            active,
            counts: known.status.counts.clone(),
        });
    }
    let assigned = left.intersection(numbers.assigned());
    if !assigned.is_empty() {
        if known.spec.assigned_number_policy == AssignedNumberPolicy::Unassign {
            return Write(self::Write::Unassign(Batch::of(&assigned)));
        }
        if listing.projected {
            // Waiting on Teams (a user's line URI) is decided on what the platform
            // lists now, not on a listing the operator's writes kept alive: a user
            // unassigned since would otherwise hold the release back for as long as
            // other writes keep that listing current.
            return Look(self::Look::FreshListing);
        }
        return Wait(plan::Wait::new(
            reason::DELETING,
            format!(
                "numbers {assigned} are assigned in Teams and policy Keep leaves them; unassign them or set assignedNumberPolicy: Unassign, and the release goes on"
            ),
            Next::Shortly,
        ));
    }
    let active = left.intersection(numbers.active());
    if active.is_empty() {
        return Wait(plan::Wait::new(
            reason::DELETING,
            "waiting for the platform to finish processing the numbers",
            Next::Task,
        ));
    }
    Write(self::Write::Release(Batch::of(&active)))
}

/// How far a deletion's release has come with `remaining` numbers left: the total is
/// kept from the first look, and the estimate counts the requests still to send (at
/// most [`MAX_NUMBERS_PER_REQUEST`] numbers each, one at a time), each as long as a
/// release task lately took, and at least the second the release limit allows a
/// request.
fn release_progress(known: &Known, remaining: usize) -> ReleaseProgress {
    let requests = remaining.div_ceil(MAX_NUMBERS_PER_REQUEST);
    let remaining = i64::try_from(remaining).unwrap_or(i64::MAX);
    let total = known
        .status
        .release
        .as_ref()
        .map_or(remaining, |r| r.total.max(remaining));
    let per_request = RELEASE_LIMIT.window.as_secs_f64() / f64::from(RELEASE_LIMIT.calls);
    ReleaseProgress {
        total,
        released: total - remaining,
        remaining,
        estimated_seconds_left: known.release_task.map(|took| {
            // A finite, non-negative product; the cast saturates.
            (requests as f64 * took.as_secs_f64().max(per_request)).ceil() as i64
        }),
    }
}

/// One reconcile of one number block.
struct BlockReconcile<'a> {
    obj: &'a OCNumberBlock,
    ctx: &'a Context,
    api: &'a Api<OCNumberBlock>,
    draft: &'a mut Draft,
    scope: &'a CustomerScope,
    seen: Seen,
    deleting: bool,
    others_own: NumberSet,
    /// The running uploads that were due when this reconcile began.
    due_at_start: Vec<String>,
}

impl BlockReconcile<'_> {
    /// Which running uploads should have ended by now, and how long until the next
    /// of the others should have (see `task_timing`).
    fn running_due(&self) -> (Vec<String>, Option<std::time::Duration>) {
        let expected = self.ctx.platform.task_timings.expected(
            &self.scope.platform_name(),
            WriteAction::UploadNumbers.title(),
        );
        let mut due = Vec::new();
        let mut next: Option<std::time::Duration> = None;
        for op in &self.draft.status.running {
            let Some(task) = &op.task_id else { continue };
            let age = tasks::task_age(op).unwrap_or_default();
            let since = tasks::age_counted_from(op);
            let left = expected.and_then(|e| task_timing::until_expected_end(e, age, since));
            match left {
                Some(left) if left > DUE_TOGETHER => {
                    next = Some(next.map_or(left, |n| n.min(left)))
                }
                _ => due.push(task.clone()),
            }
        }
        (due, next)
    }

    fn items(&self) -> NumberSet {
        self.draft
            .status
            .operation
            .as_ref()
            .map(|op| NumberSet::from_ranges(&op.items))
            .unwrap_or_default()
    }

    /// The task of `op` ended as `ended`: what it did is applied to the tenant's held
    /// listing, its failed numbers recorded, and an event says how it went.
    async fn task_ended(&mut self, op: &crate::api::common::Operation, ended: Ended) {
        let (obj, ctx) = (self.obj, self.ctx);
        let action = op.action.title();
        let numbers = NumberSet::from_ranges(&op.items);
        let items = numbers.len();
        let task = op.task_id.clone().unwrap_or_default();
        self.seen.listing = None;
        let failed_numbers: NumberSet = match &ended {
            Ended::Succeeded => NumberSet::new(),
            Ended::NumbersFailed { failed, .. } => {
                failed.iter().map(|f| f.telephone_number.as_str()).collect()
            }
        };
        ctx.platform
            .numbers
            .project(&self.scope.tenant, Projection::Ended, |listing| {
                listing.ended(op.action, &numbers, &failed_numbers)
            })
            .await;
        match ended {
            Ended::Succeeded => {
                let message = format!("{action} of {items} numbers succeeded (task {task})");
                ctx.event(obj, false, "TaskSucceeded", action, message)
                    .await;
            }
            Ended::NumbersFailed { failed, summary } => {
                record_failures(self.draft, failed.iter());
                if op.action == WriteAction::UploadNumbers {
                    self.seen.diagnose.add(&failed_numbers);
                }
                let message = match summary {
                    Some(summary) => format!("the upload failed (task {task}): {summary}"),
                    None => format!("{} of {items} numbers failed (task {task})", failed.len()),
                };
                ctx.event(obj, true, "NumbersFailed", action, message).await;
            }
        }
    }

    /// Sends a window of upload requests (see [`tasks::send_window`]): the numbers
    /// they bring are added to `status.active` with their intents, the tenant's held
    /// listing learns each accepted request, and the numbers of a request refused or
    /// not sent leave `status.active` again.
    async fn upload_window(&mut self, window: Window) -> Result<AfterWrite> {
        let (obj, ctx, api, scope) = (self.obj, self.ctx, self.api, self.scope);
        let action = WriteAction::UploadNumbers;
        let numbers: usize = window.requests.iter().map(Vec::len).sum();
        let what = format!(
            "{} ({numbers} numbers in {})",
            action.title(),
            requests(window.requests.len())
        );
        self.draft
            .condition(READY, false, reason::CREATING, what.clone());
        let admitted = tasks::admit(api, obj, self.draft, &scope.client, action).await?;
        let sets: Vec<NumberSet> = window
            .requests
            .iter()
            .map(|numbers| numbers.iter().collect())
            .collect();
        let mut active = owned(&self.draft.status);
        for set in &sets {
            active.add(set);
        }
        self.draft.status.active = active.to_ranges();
        let items: Vec<Vec<String>> = sets.iter().map(NumberSet::to_ranges).collect();
        let answers = tasks::send_window(
            (api, obj, &mut *self.draft),
            admitted,
            |status| &mut status.running,
            (action, &items),
            |at| {
                let body = upload_request(&obj.spec, window.requests[at].clone());
                let client = &scope.client;
                let tenant = &scope.tenant;
                async move { client.upload_numbers(tenant, &body).await }
            },
        )
        .await?;
        self.seen.listing = None;
        let mut tasks_started = Vec::new();
        let mut failure = None;
        for (set, answer) in sets.iter().zip(answers) {
            match answer {
                Ok(task) => {
                    ctx.metrics.task_started(action);
                    ctx.platform
                        .numbers
                        .project(&scope.tenant, Projection::Accepted, |listing| {
                            listing.accepted(action, set)
                        })
                        .await;
                    tasks_started.push(task.0);
                }
                Err(e) => failure = Some(e),
            }
        }
        // What was refused or never sent is not this block's.
        let kept = self
            .draft
            .status
            .running
            .iter()
            .fold(NumberSet::new(), |all, op| {
                all.union(&NumberSet::from_ranges(&op.items))
            });
        let unsent = sets
            .iter()
            .fold(NumberSet::new(), |all, set| all.union(set))
            .difference(&kept);
        if !unsent.is_empty() {
            let active = owned(&self.draft.status).difference(&unsent);
            self.draft.status.active = active.to_ranges();
        }
        if !tasks_started.is_empty() {
            let message = format!("{what}: tasks {}", tasks_started.join(", "));
            ctx.event(obj, false, "TaskStarted", action.title(), message)
                .await;
        }
        match failure {
            None => Ok(AfterWrite::Replan),
            Some(e) => {
                // What the platform now holds is not known: the next look lists it.
                ctx.platform.numbers.invalidate(&scope.tenant).await;
                if state_changed(action, &e) {
                    return Err(Error::TaskFailed(format!(
                        "{e}; the numbers changed on the platform, so the operator lists them again"
                    )));
                }
                Err(e.into())
            }
        }
    }

    /// What a fresh full listing (Get Customer Numbers V2) shows of `items`, the
    /// numbers of writes whose answers were lost; the shared listing is stale too.
    async fn look_up(&mut self, items: &NumberSet) -> Result<Vec<NumberRecord>> {
        self.forget_listing().await;
        let scope = self.scope;
        let records = scope.client.numbers_v2(&scope.tenant).await?;
        Ok(records
            .into_iter()
            .filter(|r| items.contains(&r.telephone_number))
            .collect())
    }

    /// The write changed the tenant's numbers: the shared listing is stale.
    async fn forget_listing(&mut self) {
        self.ctx
            .platform
            .numbers
            .invalidate(&self.scope.tenant)
            .await;
        self.seen.listing = None;
    }
}

impl Planner for BlockReconcile<'_> {
    type Look = Look;
    type Settle = Settle;
    type Write = Write;

    fn plan(&self) -> Step {
        let next_due = self.running_due().1;
        let known = Known {
            spec: &self.obj.spec,
            status: &self.draft.status,
            generation: self.draft.generation,
            may_adopt: adoption::may_adopt(self.obj),
            deleting: self.deleting,
            tenant: &self.scope.tenant,
            others_own: &self.others_own,
            release_task: self.ctx.platform.task_timings.expected(
                &self.scope.platform_name(),
                WriteAction::ReleaseNumbers.title(),
            ),
            reported: self.draft.status.operation.is_none()
                && self.draft.status.running.is_empty()
                && conditions::is_true_for(
                    &self.draft.status.conditions,
                    READY,
                    self.draft.generation,
                ),
            customer_created: self.scope.created_by_operator(),
            running_due: self.due_at_start.clone(),
            next_due,
        };
        plan(&known, &self.seen)
    }

    async fn look(&mut self, look: Look) -> Result<()> {
        let scope = self.scope;
        let fresh = look == Look::FreshListing;
        match look {
            Look::Task(task) => {
                let action = tasks::action_in_flight(self.draft)?;
                self.seen.task = Some(scope.poll(self.ctx, action, &task).await?);
            }
            Look::Lost => {
                let items = self.items();
                self.seen.lost = Some(self.look_up(&items).await?);
            }
            Look::Listing | Look::FreshListing => {
                if fresh || self.draft.status.observed_generation != self.draft.generation {
                    // A new spec is planned against a fresh listing, not a shared older one.
                    self.ctx.platform.numbers.invalidate(&scope.tenant).await;
                }
                let numbers = self
                    .ctx
                    .platform
                    .numbers
                    .list(&scope.client, &scope.tenant)
                    .await?;
                self.seen.listing = Some(if numbers.projected {
                    Listing::projected(numbers.numbers, numbers.settled)
                } else {
                    Listing::new(numbers.numbers)
                });
            }
            Look::Own => {
                let status = &self.draft.status;
                let failed: NumberSet = status.failed.iter().map(|f| f.number.as_str()).collect();
                self.seen.listing = Some(Listing::own(owned(status).difference(&failed)));
            }
            Look::Validate(numbers) => {
                let asked: NumberSet = numbers.iter().collect();
                let refused = validate(scope, numbers).await?;
                self.seen.diagnose = self.seen.diagnose.difference(&asked);
                self.seen.refused.extend(refused);
            }
            Look::Running(task) => {
                let outcome = scope
                    .poll(self.ctx, WriteAction::UploadNumbers, &task)
                    .await?;
                self.seen.running.push((task, outcome));
            }
            Look::LostRunning => {
                let unanswered: Vec<String> = self
                    .draft
                    .status
                    .running
                    .iter()
                    .filter(|op| op.task_id.is_none())
                    .flat_map(|op| op.items.iter().cloned())
                    .collect();
                let items = NumberSet::from_ranges(&unanswered);
                self.seen.lost_running = Some(self.look_up(&items).await?);
            }
        }
        Ok(())
    }

    async fn settle(&mut self, settle: Settle) -> Result<()> {
        let (obj, ctx) = (self.obj, self.ctx);
        match settle {
            Settle::FollowFound(job) => {
                tasks::started(self.api, obj, self.draft, &TaskId(job.clone())).await?;
                self.seen.found_job = Some(job);
            }
            Settle::ForgetLost => {
                if tasks::is(self.draft, WriteAction::UploadNumbers).is_some() {
                    // The look-up found these numbers nowhere: the upload never reached
                    // the platform, so they are not this block's (the write added them
                    // to status.active before it was sent). Left there, the block's own
                    // view would count them on the platform and never upload them.
                    let found: NumberSet = self
                        .seen
                        .lost
                        .iter()
                        .flatten()
                        .map(|r| r.telephone_number.as_str())
                        .collect();
                    let never_sent = self.items().difference(&found);
                    let active = owned(&self.draft.status).difference(&never_sent);
                    self.draft.status.active = active.to_ranges();
                }
                tasks::finish(self.draft);
            }
            Settle::TaskEnded(ended) => {
                let Some(op) = self.draft.status.operation.take() else {
                    return Ok(());
                };
                self.seen.task = None;
                self.task_ended(&op, ended).await;
            }
            Settle::RunningEnded { task, ended } => {
                let running = &mut self.draft.status.running;
                let Some(at) = running
                    .iter()
                    .position(|op| op.task_id.as_ref() == Some(&task))
                else {
                    return Ok(());
                };
                let op = running.remove(at);
                match ended {
                    RunningEnd::Ended(ended) => self.task_ended(&op, ended).await,
                    RunningEnd::Failed(why) => {
                        // Nothing of it reached the platform: its numbers are not this
                        // block's, and are planned again after the backoff.
                        let numbers = NumberSet::from_ranges(&op.items);
                        let active = owned(&self.draft.status).difference(&numbers);
                        self.draft.status.active = active.to_ranges();
                        self.ctx
                            .platform
                            .numbers
                            .project(&self.scope.tenant, Projection::Ended, |listing| {
                                listing.ended(op.action, &numbers, &numbers)
                            })
                            .await;
                        self.seen.listing = None;
                        self.seen.running_failed = Some(why);
                    }
                }
            }
            Settle::RunningLookedUp {
                items,
                job,
                never_sent,
            } => {
                let running = &mut self.draft.status.running;
                let Some(at) = running
                    .iter()
                    .position(|op| op.task_id.is_none() && op.items == items)
                else {
                    return Ok(());
                };
                match job {
                    Some(job) => {
                        let op = &mut running[at];
                        op.task_id = Some(job);
                        op.accepted_at = Some(MicroTime(jiff::Timestamp::now()));
                        ctx.metrics.task_started(WriteAction::UploadNumbers);
                    }
                    None => {
                        running.remove(at);
                        let active = owned(&self.draft.status).difference(&never_sent);
                        self.draft.status.active = active.to_ranges();
                    }
                }
            }
            Settle::ClearFailures => {
                self.draft.status.failed.clear();
                self.seen.failures_current = true;
            }
            Settle::Adopt { numbers, what } => {
                let active = owned(&self.draft.status).union(&numbers);
                self.draft.status.active = active.to_ranges();
                adoption::adopted(ctx, obj, "AdoptNumbers", &what).await;
            }
            Settle::Refused => {
                let refused = std::mem::take(&mut self.seen.refused);
                let numbers: NumberSet = refused
                    .iter()
                    .map(|f| f.telephone_number.as_str())
                    .collect();
                ctx.event(
                    obj,
                    true,
                    "NumbersRefused",
                    "ValidateNumbers",
                    format!("{} numbers failed validation: {numbers}", refused.len()),
                )
                .await;
                record_failures(self.draft, refused.iter());
                self.seen.failures_current = true;
            }
            Settle::ReleaseProgress(progress) => self.draft.status.release = Some(progress),
            Settle::Report { active, counts } => {
                self.draft.status.active = active;
                self.draft.status.counts = counts;
                self.draft.status.failed.truncate(FAILED_LISTED);
            }
        }
        Ok(())
    }

    async fn write(&mut self, write: Write) -> Result<AfterWrite> {
        let (obj, ctx, api, scope) = (self.obj, self.ctx, self.api, self.scope);
        let (action, numbers) = match write {
            Write::LetGo => {
                ctx.event(
                    obj,
                    false,
                    "Released",
                    "Delete",
                    "every number of the block is released",
                )
                .await;
                finalizer::remove(api, obj).await?;
                return Ok(AfterWrite::Gone);
            }
            Write::Upload(batch) => (WriteAction::UploadNumbers, batch.numbers),
            Write::UploadWindow(window) => return self.upload_window(window).await,
            Write::Release(batch) => (WriteAction::ReleaseNumbers, batch.numbers),
            Write::Unassign(batch) => (WriteAction::UnassignNumbers, batch.numbers),
        };
        let upload = action == WriteAction::UploadNumbers;
        let what = format!("{} ({} numbers)", action.title(), numbers.len());
        let reason = if upload {
            reason::CREATING
        } else {
            reason::UPDATING
        };
        self.draft.condition(READY, false, reason, what.clone());
        let admitted = tasks::admit(api, obj, self.draft, &scope.client, action).await?;
        if upload {
            // Keep tracking what this block brings to the platform (saved with the
            // upload's intent, never before it).
            let mut active = owned(&self.draft.status);
            active.add(&numbers.iter().collect());
            self.draft.status.active = active.to_ranges();
        }
        let tenant = &scope.tenant;
        let request = async {
            match action {
                WriteAction::UploadNumbers => {
                    scope
                        .client
                        .upload_numbers(tenant, &upload_request(&obj.spec, numbers.clone()))
                        .await
                }
                WriteAction::ReleaseNumbers => {
                    scope
                        .client
                        .release_numbers(tenant, &ReleaseNumbers::Numbers(numbers.clone()))
                        .await
                }
                _ => {
                    let body = UnassignNumbers {
                        telephone_numbers: numbers.clone(),
                    };
                    scope.client.unassign_numbers(tenant, &body).await
                }
            }
        };
        let sent = tasks::send_admitted(
            api,
            obj,
            self.draft,
            admitted,
            (action, numbers.iter().collect::<NumberSet>().to_ranges()),
            request,
            tasks::nothing,
        )
        .await?;
        self.seen.listing = None;
        match &sent {
            Ok(_) => {
                let numbers: NumberSet = numbers.iter().collect();
                ctx.platform
                    .numbers
                    .project(&scope.tenant, Projection::Accepted, |listing| {
                        listing.accepted(action, &numbers)
                    })
                    .await;
            }
            // What the platform now holds is not known: the next look lists it.
            Err(_) => ctx.platform.numbers.invalidate(&scope.tenant).await,
        }
        match sent {
            Ok(task) => {
                let message = format!("{what}: task {task}");
                ctx.event(obj, false, "TaskStarted", action.title(), message.clone())
                    .await;
                Ok(AfterWrite::Wait(Wait::new(
                    reason::WAITING_FOR_TASK,
                    message,
                    Next::Task,
                )))
            }
            Err(e) => {
                if state_changed(action, &e) {
                    // The platform's numbers are not what the listing said (assigned
                    // in Teams, busy, already there): look again rather than give up.
                    return Err(Error::TaskFailed(format!(
                        "{e}; the numbers changed on the platform, so the operator lists them again"
                    )));
                }
                if upload && !matches!(e, liveplatform::Error::OutcomeUnknown { .. }) {
                    // Refused: nothing happened, so these numbers are not this block's.
                    let active = owned(&self.draft.status).difference(&numbers.iter().collect());
                    self.draft.status.active = active.to_ranges();
                }
                Err(e.into())
            }
        }
    }

    async fn finish(&mut self) {
        tasks::finish(self.draft);
        self.seen.task = None;
        self.forget_listing().await;
    }

    fn describe(&self, write: &Write) -> Option<PlannedAction> {
        let tenant = &self.scope.tenant;
        let (action, verb, outstanding) = match write {
            Write::Upload(Batch { outstanding, .. })
            | Write::UploadWindow(Window { outstanding, .. }) => (
                liveplatform::Action::UploadNumbers,
                format!("upload {outstanding} numbers to tenant {tenant}"),
                *outstanding,
            ),
            Write::Release(batch) => (
                liveplatform::Action::ReleaseNumbers,
                format!("release {} numbers of tenant {tenant}", batch.outstanding),
                batch.outstanding,
            ),
            Write::Unassign(batch) => (
                liveplatform::Action::UnassignNumbers,
                format!(
                    "unassign {} numbers of tenant {tenant} in Teams",
                    batch.outstanding
                ),
                batch.outstanding,
            ),
            Write::LetGo => return None,
        };
        let sent = outstanding.div_ceil(MAX_NUMBERS_PER_REQUEST).max(1);
        Some(planned(
            action,
            format!("tenant {tenant}"),
            outstanding,
            sent,
            format!("{verb} in {}", requests(sent)),
        ))
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

fn upload_request(spec: &OCNumberBlockSpec, numbers: Vec<String>) -> UploadNumbers {
    let mut body = UploadNumbers::new(spec.calling_profile_id.clone(), usage(spec), numbers);
    body.capabilities = spec.capabilities.iter().map(|c| capability(*c)).collect();
    body.civic_address_id = spec.civic_address_id.clone();
    body.location_id = spec.location_id.clone();
    body
}

/// Validates numbers an upload task failed: the ones validation refuses, each with
/// what the platform says is wrong and what to do.
async fn validate(scope: &CustomerScope, numbers: Vec<String>) -> Result<Vec<NumberOutcome>> {
    let check = scope
        .client
        .validate_numbers(&ValidateNumbers {
            telephone_numbers: numbers,
            ms_tenant_id: scope.tenant.clone(),
        })
        .await?;
    Ok(check
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
        .collect())
}

/// A refusal caused by the numbers' state on the platform rather than by the spec.
fn state_changed(action: WriteAction, error: &liveplatform::Error) -> bool {
    let liveplatform::Error::Validation { fields, .. } = error else {
        return false;
    };
    match action {
        WriteAction::ReleaseNumbers | WriteAction::UnassignNumbers => {
            fields.values().flatten().next().is_some()
        }
        _ => matches!(
            error.conflict(),
            Some(Conflict::OperationRunning | Conflict::AlreadyAcquired)
        ),
    }
}

fn usage(spec: &OCNumberBlockSpec) -> liveplatform::model::Usage {
    use crate::api::number_block::Usage as U;
    use liveplatform::model::Usage as P;
    match spec.usage {
        U::CallingUserAssignment => P::CallingUserAssignment,
        U::ConferenceAssignment => P::ConferenceAssignment,
        U::FirstPartyAppAssignment => P::FirstPartyAppAssignment,
        U::ThirdPartyAppAssignment => P::ThirdPartyAppAssignment,
    }
}

fn capability(c: crate::api::number_block::Capability) -> liveplatform::model::Capability {
    use crate::api::number_block::Capability as C;
    use liveplatform::model::Capability as P;
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
