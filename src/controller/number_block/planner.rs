//! The pure planner of a number block: from its spec, status and what was seen to
//! the next step.

use crate::api::common::WriteAction;
use crate::api::conditions::reason;
use crate::api::number_block::{AssignedNumberPolicy, NumberCounts, ReleaseProgress};
use crate::controller::number_set::NumberSet;
use crate::controller::plan::{self, Next, Report};
use crate::controller::stops::Failure;
use liveplatform::TaskOutcome;
use liveplatform::contract::{MAX_NUMBERS_PER_REQUEST, RELEASE_LIMIT, UPLOADS_IN_FLIGHT};
use liveplatform::model::NumberRecord;

use super::seen::*;
use super::*;

/// The next step (pure).
pub fn plan(known: &Known, seen: &Seen) -> Step {
    use plan::Step::*;
    if let Some(step) = follow(known, seen) {
        return step;
    }
    if let Some(step) = follow_running(known, seen) {
        return step;
    }
    if known.object.deleting && !known.object.status.running.is_empty() {
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
    if known.object.deleting {
        return plan_release_all(known, listing);
    }
    plan_apply(known, seen, listing)
}

/// The uploads running besides the write in flight (`status.running`): a task that
/// should have ended is looked at, and an ended one settled, before anything else.
pub(super) fn follow_running(known: &Known, seen: &Seen) -> Option<Step> {
    use plan::Step::*;
    if let Some(why) = &seen.running_failed {
        return Some(Fail(why.clone()));
    }
    if let Some(op) = known
        .object
        .status
        .running
        .iter()
        .find(|op| op.task_id.is_none())
    {
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
    for op in &known.object.status.running {
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
pub(super) fn upload_job<'a>(
    records: impl IntoIterator<Item = &'a NumberRecord>,
) -> Option<String> {
    records
        .into_iter()
        .find_map(|r| r.upload_to_account_job_id.clone().filter(|j| !j.is_empty()))
}

/// Waiting for the running uploads: until the next one should have ended.
pub(super) fn wait_for_running(known: &Known) -> plan::Wait {
    let running = known.object.status.running.len();
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
pub(super) fn ended(
    outcome: &TaskOutcome,
    action: WriteAction,
) -> Option<std::result::Result<Ended, String>> {
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
        || known.object.deleting
        || known.reported
        || known.object.may_adopt
        || known.object.status.operation.is_some()
    {
        return false;
    }
    owned(known.object.status)
        .difference(known.others_own)
        .is_subset(&NumberSet::declared(known.object.spec))
}

/// The write in flight, if any: followed to its end before anything else.
pub(super) fn follow(known: &Known, seen: &Seen) -> Option<Step> {
    use plan::Step::*;
    let op = known.object.status.operation.as_ref()?;
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

pub(super) fn plan_apply(known: &Known, seen: &Seen, listing: &Listing) -> Step {
    use plan::Step::*;
    let (spec, status) = (known.object.spec, known.object.status);
    if !seen.failures_current
        && status.reconcile.observed_generation != known.object.generation
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
        if !known.object.may_adopt {
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
pub(super) fn upload_next(to_upload: &NumberSet, running: usize) -> Step {
    let room = UPLOADS_IN_FLIGHT.saturating_sub(running).max(1);
    if running == 0 && to_upload.len() <= MAX_NUMBERS_PER_REQUEST {
        return plan::Step::Write(self::Write::Upload(Batch::of(to_upload)));
    }
    plan::Step::Write(self::Write::UploadWindow(Window::of(to_upload, room)))
}

/// Deletion: every number this block owns is released (unassigned first when the
/// policy allows), then the finalizer goes.
pub(super) fn plan_release_all(known: &Known, listing: &Listing) -> Step {
    use plan::Step::*;
    let numbers = listing.numbers.as_ref();
    let left = owned(known.object.status)
        .difference(known.others_own)
        .intersection(numbers.listed());
    if left.is_empty() {
        if !listing.settled {
            return Look(self::Look::FreshListing);
        }
        return Write(self::Write::LetGo);
    }
    let progress = release_progress(known, left.len());
    if known.object.status.release.as_ref() != Some(&progress) {
        return Settle(self::Settle::ReleaseProgress(progress));
    }
    let active = left.to_ranges();
    if known.object.status.active != active {
        return Settle(self::Settle::Report {
            active,
            counts: known.object.status.counts.clone(),
        });
    }
    let assigned = left.intersection(numbers.assigned());
    if !assigned.is_empty() {
        if known.object.spec.assigned_number_policy == AssignedNumberPolicy::Unassign {
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
pub(super) fn release_progress(known: &Known, remaining: usize) -> ReleaseProgress {
    let requests = remaining.div_ceil(MAX_NUMBERS_PER_REQUEST);
    let remaining = i64::try_from(remaining).unwrap_or(i64::MAX);
    let total = known
        .object
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
