//! Every step of the `OCNumberBlock` planner, in-process.

use crate::controller::declared::Declared;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{Case as Expect, expect_all, merged, task};
use crate::api::common::WriteAction;
use crate::api::number_block::{OCNumberBlockSpec, OCNumberBlockStatus, ReleaseProgress};
use crate::controller::number_block::{
    Batch, Ended, Known, Listing, Look, RunningEnd, Seen, Settle, Step, Write, plan,
};
use crate::controller::number_set::NumberSet;
use crate::controller::plan::{Next, Step as S};
use crate::controller::stops::Failure;
use crate::controller::tenant_numbers::TenantNumbers;
use crate::controller::tenant_numbers::tests::record;
use liveplatform::TaskOutcome;
use liveplatform::model::{NumberOutcome, NumberRecord, TaskStatus};

const A: &str = "+14255550100";
const B: &str = "+14255550101";
const C: &str = "+14255550102";

fn active(numbers: &[&str]) -> Vec<NumberRecord> {
    numbers
        .iter()
        .map(|n| record(n, "Active", "Unassigned"))
        .collect()
}

/// The tenant's numbers as a listing of `records` gives them.
fn held(records: Vec<NumberRecord>) -> Arc<TenantNumbers> {
    let mut numbers = TenantNumbers::default();
    numbers.add_page(records);
    Arc::new(numbers)
}

fn set(numbers: &[&str]) -> NumberSet {
    numbers.iter().collect()
}

fn listed(records: Vec<NumberRecord>) -> Seen {
    Seen {
        listing: Some(Listing::new(held(records))),
        ..Seen::default()
    }
}

/// A listing the operator's own writes were applied to (not read back), one of
/// them still running.
fn projected(records: Vec<NumberRecord>) -> Seen {
    Seen {
        listing: Some(Listing::projected(held(records), false)),
        ..Seen::default()
    }
}

/// A listing the operator's own writes were applied to, all of them ended.
fn settled(records: Vec<NumberRecord>) -> Seen {
    Seen {
        listing: Some(Listing::projected(held(records), true)),
        ..Seen::default()
    }
}

fn refused(number: &str) -> NumberOutcome {
    NumberOutcome {
        telephone_number: number.into(),
        status: "Failed".into(),
        error_code: Some("validation_failed".into()),
        error_message: None,
    }
}

/// A block of A and B uploaded at generation 1, with its report written.
fn reported() -> Value {
    json!({
        "observedGeneration": 1, "active": [format!("{A}-{B}")],
        "counts": {"declared": 2, "active": 2, "uploading": 0, "failed": 0, "releasing": 0, "retained": 0},
    })
}

fn with_op(mut status: Value, action: &str, items: &[&str], task: Option<&str>) -> Value {
    status["operation"] =
        json!({"action": action, "startedAt": "2026-11-27T12:00:00Z", "items": items});
    if let Some(task) = task {
        status["operation"]["taskId"] = json!(task);
    }
    status
}

struct Case {
    spec: Value,
    status: Value,
    seen: Seen,
    adopt: bool,
    deleting: bool,
    others_own: Vec<&'static str>,
    reported: bool,
    release_task: Option<std::time::Duration>,
    customer_created: bool,
    running_due: Vec<&'static str>,
    next_due: Option<std::time::Duration>,
}

fn case(status: Value, seen: Seen) -> Case {
    Case {
        spec: json!({}),
        status,
        seen,
        adopt: false,
        deleting: false,
        others_own: Vec::new(),
        reported: false,
        release_task: None,
        customer_created: false,
        running_due: Vec::new(),
        next_due: None,
    }
}

fn step(c: Case) -> Step {
    let spec: OCNumberBlockSpec = serde_json::from_value(merged(
        json!({
            "customerRef": {"name": "contoso"}, "numbers": [A, B],
            "callingProfileId": "cp-1", "usage": "CallingUserAssignment",
        }),
        c.spec,
    ))
    .expect("a valid spec");
    let status: OCNumberBlockStatus = serde_json::from_value(c.status).expect("a valid status");
    let others_own = set(&c.others_own);
    let known = Known {
        object: Declared {
            spec: &spec,
            status: &status,
            generation: Some(1),
            may_adopt: c.adopt,
            deleting: c.deleting,
        },
        tenant: "t",
        others_own: &others_own,
        reported: c.reported,
        release_task: c.release_task,
        customer_created: c.customer_created,
        running_due: c.running_due.iter().map(|t| (*t).to_owned()).collect(),
        next_due: c.next_due,
    };
    plan(&known, &c.seen)
}

fn numbers(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn every_step_of_uploading_and_releasing() {
    const UPLOAD: &str = "Upload Numbers to Customer";
    const RELEASE: &str = "Release Numbers from Customer";
    let running = || {
        Some(TaskOutcome::StillRunning(task(
            TaskStatus::InProgress,
            json!({}),
        )))
    };
    let cases: Vec<Expect<Step>> = vec![
        (
            "the tenant's numbers are listed first",
            step(case(json!({}), Seen::default())),
            |s| *s == S::Look(Look::Listing),
        ),
        (
            "missing numbers are uploaded in one write, not validated first",
            step(case(json!({}), listed(vec![]))),
            |s| *s == S::Write(Write::Upload(Batch::of(&set(&[A, B])))),
        ),
        (
            "numbers an upload task failed are validated for the platform's diagnosis",
            step(case(
                json!({"failed": [{"number": B, "reason": "unknown_country_code"}]}),
                Seen {
                    diagnose: set(&[B]),
                    failures_current: true,
                    ..listed(vec![])
                },
            )),
            |s| *s == S::Look(Look::Validate(numbers(&[B]))),
        ),
        (
            "numbers whose failures a new spec cleared are not validated",
            step(case(
                json!({}),
                Seen {
                    diagnose: set(&[B]),
                    failures_current: true,
                    ..listed(vec![])
                },
            )),
            |s| *s == S::Write(Write::Upload(Batch::of(&set(&[A, B])))),
        ),
        (
            "numbers validation refused are recorded with its verdict",
            step(case(
                json!({"failed": [{"number": B, "reason": "unknown_country_code"}]}),
                Seen {
                    refused: vec![refused(B)],
                    failures_current: true,
                    ..listed(vec![])
                },
            )),
            |s| *s == S::Settle(Settle::Refused),
        ),
        (
            "a number that failed for this spec is not uploaded again",
            step(case(
                json!({"observedGeneration": 1, "active": [A], "failed": [{"number": B, "reason": "validation_failed"}]}),
                listed(active(&[A])),
            )),
            |s| matches!(s, S::Settle(Settle::Report { .. })),
        ),
        (
            "a new spec clears the failures of the old one",
            step(case(
                json!({"observedGeneration": 0, "failed": [{"number": B, "reason": "validation_failed"}]}),
                listed(active(&[A])),
            )),
            |s| *s == S::Settle(Settle::ClearFailures),
        ),
        (
            "declared numbers the tenant has are refused without the opt-in",
            step(case(json!({}), listed(active(&[A])))),
            |s| matches!(s, S::Refuse { existing, .. } if existing.contains(A)),
        ),
        (
            "with the opt-in they are adopted",
            step(Case {
                adopt: true,
                ..case(json!({}), listed(active(&[A])))
            }),
            |s| matches!(s, S::Settle(Settle::Adopt { numbers: n, .. }) if *n == set(&[A])),
        ),
        (
            "a number that left the spec is released",
            step(Case {
                spec: json!({"numbers": [A]}),
                ..case(reported(), listed(active(&[A, B])))
            }),
            |s| *s == S::Write(Write::Release(Batch::of(&set(&[B])))),
        ),
        (
            "an assigned number that left the spec stays under Keep",
            step(Case {
                spec: json!({"numbers": [A]}),
                ..case(
                    json!({"observedGeneration": 1, "active": [format!("{A}-{B}")], "counts": {"declared": 1, "active": 2, "uploading": 0, "failed": 0, "releasing": 0, "retained": 1}}),
                    listed(vec![
                        record(A, "Active", "Unassigned"),
                        record(B, "Active", "UserAssigned"),
                    ]),
                )
            }),
            |s| matches!(s, S::Wait(w) if w.reason == "NumbersAssigned" && w.next == Next::Recheck),
        ),
        (
            "judged on a fresh listing, not one the operator's writes kept alive",
            step(Case {
                spec: json!({"numbers": [A]}),
                ..case(
                    json!({"observedGeneration": 1, "active": [format!("{A}-{B}")], "counts": {"declared": 1, "active": 2, "uploading": 0, "failed": 0, "releasing": 0, "retained": 1}}),
                    settled(vec![
                        record(A, "Active", "Unassigned"),
                        record(B, "Active", "UserAssigned"),
                    ]),
                )
            }),
            |s| *s == S::Look(Look::FreshListing),
        ),
        (
            "and is unassigned first under Unassign",
            step(Case {
                spec: json!({"numbers": [A], "assignedNumberPolicy": "Unassign"}),
                ..case(
                    reported(),
                    listed(vec![
                        record(A, "Active", "Unassigned"),
                        record(B, "Active", "UserAssigned"),
                    ]),
                )
            }),
            |s| *s == S::Write(Write::Unassign(Batch::of(&set(&[B])))),
        ),
        (
            "a number another block owns is never released",
            step(Case {
                spec: json!({"numbers": [A]}),
                others_own: vec![B],
                ..case(reported(), listed(active(&[A, B])))
            }),
            |s| matches!(s, S::Settle(Settle::Report { .. })),
        ),
        (
            "numbers still uploading wait",
            step(case(
                json!({"observedGeneration": 1, "active": [format!("{A}-{B}")], "counts": {"declared": 2, "active": 1, "uploading": 1, "failed": 0, "releasing": 0, "retained": 0}}),
                listed(vec![
                    record(A, "Active", "Unassigned"),
                    record(B, "Upload Requested", "Unassigned"),
                ]),
            )),
            |s| matches!(s, S::Wait(w) if w.next == Next::Task && w.also.iter().any(|a| a.type_ == "NumbersUploaded" && !a.status)),
        ),
        (
            "refused numbers hold the block until the spec changes",
            step(case(
                json!({"observedGeneration": 1, "active": [A], "failed": [{"number": B, "reason": "validation_failed"}], "counts": {"declared": 2, "active": 1, "uploading": 0, "failed": 1, "releasing": 0, "retained": 0}}),
                listed(active(&[A])),
            )),
            |s| matches!(s, S::Wait(w) if w.reason == "Rejected" && w.next == Next::SpecChange && w.message.contains("1 of 2 numbers were refused")),
        ),
        (
            "a block whose numbers are active is Ready",
            step(case(reported(), listed(active(&[A, B])))),
            |s| matches!(s, S::Ready(r) if r.message == "2 numbers active"),
        ),
        (
            "a running upload is looked at",
            step(case(
                with_op(reported(), UPLOAD, &[C], Some("t1")),
                Seen::default(),
            )),
            |s| *s == S::Look(Look::Task("t1".into())),
        ),
        (
            "and waited for",
            step(case(
                with_op(reported(), UPLOAD, &[C], Some("t1")),
                Seen {
                    task: running(),
                    ..Seen::default()
                },
            )),
            |s| matches!(s, S::Wait(w) if w.message.contains("task t1") && w.next == Next::Task),
        ),
        (
            "a partly failed upload records its failures",
            step(case(
                with_op(reported(), UPLOAD, &[C], Some("t1")),
                Seen {
                    task: Some(TaskOutcome::PartlyFailed {
                        task: task(TaskStatus::CompletedWithErrors, json!({})),
                        failed: vec![refused(C)],
                    }),
                    ..Seen::default()
                },
            )),
            |s| matches!(s, S::Settle(Settle::TaskEnded(Ended::NumbersFailed { failed, .. })) if failed.len() == 1),
        ),
        (
            "a failed release fails",
            step(case(
                with_op(reported(), RELEASE, &[B], Some("t2")),
                Seen {
                    task: Some(TaskOutcome::Failed(task(TaskStatus::Failed, json!({})))),
                    ..Seen::default()
                },
            )),
            |s| matches!(s, S::Fail(f) if f.action == WriteAction::ReleaseNumbers && f.task == "t2"),
        ),
        (
            "a lost answer is looked up in a fresh listing",
            step(case(
                with_op(reported(), UPLOAD, &[C], None),
                Seen::default(),
            )),
            |s| *s == S::Look(Look::Lost),
        ),
        (
            "a lost upload that runs is followed, not sent again",
            step(case(
                with_op(reported(), UPLOAD, &[C], None),
                Seen {
                    lost: Some(vec![NumberRecord {
                        upload_to_account_job_id: Some("job-9".into()),
                        ..record(C, "Upload Requested", "Unassigned")
                    }]),
                    ..Seen::default()
                },
            )),
            |s| *s == S::Settle(Settle::FollowFound("job-9".into())),
        ),
        (
            "a lost release that runs is waited for",
            step(case(
                with_op(reported(), RELEASE, &[B], None),
                Seen {
                    lost: Some(vec![record(B, "Release Requested", "Unassigned")]),
                    ..Seen::default()
                },
            )),
            |s| matches!(s, S::Wait(w) if w.message.contains("release whose answer was lost")),
        ),
        (
            "a lost write the listing does not show is forgotten",
            step(case(
                with_op(reported(), UPLOAD, &[C], None),
                Seen {
                    lost: Some(vec![]),
                    ..Seen::default()
                },
            )),
            |s| *s == S::Settle(Settle::ForgetLost),
        ),
    ];
    expect_all(cases);
}

/// `status` with a release that has just begun on `remaining` numbers.
fn releasing(mut status: Value, remaining: i64) -> Value {
    status["release"] = json!({"total": remaining, "released": 0, "remaining": remaining});
    status
}

#[test]
fn every_step_of_deletion() {
    let deleting = |status: Value, seen: Seen| Case {
        deleting: true,
        ..case(status, seen)
    };
    let cases: Vec<Expect<Step>> = vec![
        (
            "the listing comes first",
            step(deleting(reported(), Seen::default())),
            |s| *s == S::Look(Look::Listing),
        ),
        (
            "the release's progress is recorded first",
            step(deleting(reported(), listed(active(&[A, B])))),
            |s| {
                *s == S::Settle(Settle::ReleaseProgress(ReleaseProgress {
                    total: 2,
                    released: 0,
                    remaining: 2,
                    estimated_seconds_left: None,
                }))
            },
        ),
        (
            "as numbers go the total stays, and the estimate counts requests at the task's pace",
            step(Case {
                release_task: Some(std::time::Duration::from_secs(4)),
                ..deleting(
                    json!({"active": [A, B], "release": {"total": 5, "released": 3, "remaining": 2}}),
                    listed(active(&[A])),
                )
            }),
            |s| {
                *s == S::Settle(Settle::ReleaseProgress(ReleaseProgress {
                    total: 5,
                    released: 4,
                    remaining: 1,
                    estimated_seconds_left: Some(4),
                }))
            },
        ),
        (
            "a request is never counted shorter than the release limit allows",
            step(Case {
                release_task: Some(std::time::Duration::from_millis(100)),
                ..deleting(releasing(reported(), 2), listed(active(&[A, B])))
            }),
            |s| matches!(s, S::Settle(Settle::ReleaseProgress(p)) if p.estimated_seconds_left == Some(1)),
        ),
        (
            "active numbers are released",
            step(deleting(releasing(reported(), 2), listed(active(&[A, B])))),
            |s| *s == S::Write(Write::Release(Batch::of(&set(&[A, B])))),
        ),
        (
            "numbers another block owns stay",
            step(Case {
                others_own: vec![B],
                ..deleting(
                    releasing(json!({"active": [A, B]}), 1),
                    listed(active(&[A, B])),
                )
            }),
            |s| matches!(s, S::Settle(Settle::Report { active, .. }) if *active == numbers(&[A])),
        ),
        (
            "assigned numbers wait under Keep",
            step(deleting(
                releasing(reported(), 2),
                listed(vec![
                    record(A, "Active", "UserAssigned"),
                    record(B, "Active", "Unassigned"),
                ]),
            )),
            |s| matches!(s, S::Wait(w) if w.next == Next::Shortly && w.message.contains("assigned in Teams")),
        ),
        (
            "but never on a listing the operator's writes kept alive: Teams is asked again",
            step(deleting(
                releasing(reported(), 2),
                settled(vec![
                    record(A, "Active", "UserAssigned"),
                    record(B, "Active", "Unassigned"),
                ]),
            )),
            |s| *s == S::Look(Look::FreshListing),
        ),
        (
            "numbers being processed are waited for",
            step(deleting(
                releasing(reported(), 2),
                listed(vec![
                    record(A, "Release Requested", "Unassigned"),
                    record(B, "Release Requested", "Unassigned"),
                ]),
            )),
            |s| matches!(s, S::Wait(w) if w.next == Next::Task),
        ),
        (
            "with nothing left, the finalizer goes",
            step(deleting(reported(), listed(vec![]))),
            |s| *s == S::Write(Write::LetGo),
        ),
        (
            "but not while a release applied to the listing runs: the platform is asked",
            step(deleting(reported(), projected(vec![]))),
            |s| *s == S::Look(Look::FreshListing),
        ),
        (
            "once the releases ended, their outcomes are the platform's word",
            step(deleting(reported(), settled(vec![]))),
            |s| *s == S::Write(Write::LetGo),
        ),
        (
            "a projected listing decides the next release",
            step(deleting(
                releasing(reported(), 2),
                projected(active(&[A, B])),
            )),
            |s| *s == S::Write(Write::Release(Batch::of(&set(&[A, B])))),
        ),
    ];
    expect_all(cases);
}

#[test]
fn under_a_customer_the_operator_created_a_block_plans_uploads_from_its_own_numbers() {
    let created = |c: Case| Case {
        customer_created: true,
        ..c
    };
    let cases: Vec<Expect<Step>> = vec![
        (
            "a new block: no listing, its own numbers (none yet)",
            step(created(case(json!({}), Seen::default()))),
            |s| *s == S::Look(Look::Own),
        ),
        (
            "from which the missing numbers are uploaded",
            step(created(case(
                json!({}),
                Seen {
                    listing: Some(Listing::own(NumberSet::new())),
                    ..Seen::default()
                },
            ))),
            |s| *s == S::Write(Write::Upload(Batch::of(&set(&[A, B])))),
        ),
        (
            "after an upload ended, the numbers its status holds are active: reported",
            step(created(case(
                json!({"active": [format!("{A}-{B}")]}),
                Seen {
                    listing: Some(Listing::own(set(&[A, B]))),
                    ..Seen::default()
                },
            ))),
            |s| matches!(s, S::Settle(Settle::Report { active, .. }) if *active == [format!("{A}-{B}")]),
        ),
        (
            "a number added to the spec is planned from its own numbers too",
            step(Case {
                spec: json!({"numbers": [A, B, C]}),
                ..created(case(
                    json!({"active": [format!("{A}-{B}")]}),
                    Seen::default(),
                ))
            }),
            |s| *s == S::Look(Look::Own),
        ),
        (
            "a number that left the spec is judged on the platform's listing",
            step(Case {
                spec: json!({"numbers": [A]}),
                ..created(case(
                    json!({"active": [format!("{A}-{B}")]}),
                    Seen::default(),
                ))
            }),
            |s| *s == S::Look(Look::Listing),
        ),
        (
            "a deletion reads the platform",
            step(Case {
                deleting: true,
                ..created(case(reported(), Seen::default()))
            }),
            |s| *s == S::Look(Look::Listing),
        ),
        (
            "a drift check reads the platform",
            step(Case {
                reported: true,
                ..created(case(reported(), Seen::default()))
            }),
            |s| *s == S::Look(Look::Listing),
        ),
        (
            "with the opt-in to adopt, the platform is read",
            step(Case {
                adopt: true,
                ..created(case(json!({}), Seen::default()))
            }),
            |s| *s == S::Look(Look::Listing),
        ),
        (
            "a write in flight is followed first",
            step(created(case(
                with_op(json!({}), "Upload Numbers to Customer", &[A], Some("t1")),
                Seen::default(),
            ))),
            |s| *s == S::Look(Look::Task("t1".into())),
        ),
    ];
    expect_all(cases);
}

#[test]
fn a_projected_listing_decides_writes_and_a_fresh_one_is_reported() {
    let cases: Vec<Expect<Step>> = vec![
        (
            "the next chunk is planned from a projected listing, without listing again",
            step(Case {
                spec: json!({"numbers": [A, B, C]}),
                ..case(
                    json!({"observedGeneration": 1, "active": [format!("{A}-{B}")]}),
                    projected(active(&[A, B])),
                )
            }),
            |s| *s == S::Write(Write::Upload(Batch::of(&set(&[C])))),
        ),
        (
            "with nothing left to write while a write runs, the platform is asked",
            step(case(reported(), projected(active(&[A, B])))),
            |s| *s == S::Look(Look::FreshListing),
        ),
        (
            "once every write ended, their outcomes are reported as they stand",
            step(case(reported(), settled(active(&[A, B])))),
            |s| matches!(s, S::Ready(_)),
        ),
        (
            "a block that stands reported (a drift check) is never checked on a projection",
            step(Case {
                reported: true,
                ..case(reported(), settled(active(&[A, B])))
            }),
            |s| *s == S::Look(Look::FreshListing),
        ),
        (
            "which a fresh listing then gives",
            step(case(reported(), listed(active(&[A, B])))),
            |s| matches!(s, S::Ready(_)),
        ),
    ];
    expect_all(cases);
}

/// A block of 2,500 numbers (`+14255552000` to `+14255554499`): three requests.
fn large() -> Value {
    json!({"numbers": [], "ranges": [{"start": "+14255552000", "end": "+14255554499"}]})
}

/// `status` with uploads running, one per task id, each of 1,000 numbers of the
/// large block.
fn running(mut status: Value, tasks: &[&str]) -> Value {
    let ranges = [
        "+14255552000-+14255552999",
        "+14255553000-+14255553999",
        "+14255554000-+14255554499",
    ];
    status["running"] = tasks
        .iter()
        .zip(ranges.iter().cycle())
        .map(|(task, items)| {
            json!({"action": "Upload Numbers to Customer", "startedAt": "2026-11-27T12:00:00Z",
                   "taskId": task, "acceptedAt": "2026-11-27T12:00:01Z", "items": [items]})
        })
        .collect();
    status
}

/// `status` whose running upload at `at` has no task id yet: its answer was lost.
fn unanswered(mut status: Value, at: usize) -> Value {
    let op = &mut status["running"][at];
    op.as_object_mut().map(|op| {
        op.remove("taskId");
        op.remove("acceptedAt")
    });
    status
}

/// What a block has owned since its uploads of `tasks` were accepted.
fn owning(tasks: usize) -> Value {
    let end = ["+14255552999", "+14255553999", "+14255554499"][tasks.clamp(1, 3) - 1];
    json!({"active": [format!("+14255552000-{end}")]})
}

#[test]
fn a_large_block_keeps_several_uploads_running() {
    let created = |spec: Value, status: Value, seen: Seen| Case {
        spec,
        customer_created: true,
        ..case(status, seen)
    };
    // What the block sees of its own numbers (`owned`, as ranges).
    let own = |owned: &str| Seen {
        listing: Some(Listing::own(NumberSet::from_ranges(&[owned.to_owned()]))),
        ..Seen::default()
    };
    let none = "+14255552000-+14255551999";
    let cases: Vec<Expect<Step>> = vec![
        (
            "several requests go as one window, their tasks running side by side",
            step(created(large(), json!({}), own(none))),
            |s| matches!(s, S::Write(Write::UploadWindow(w)) if w.requests.iter().map(Vec::len).collect::<Vec<_>>() == [1000, 1000, 500] && w.outstanding == 2500),
        ),
        (
            "a block of one request waits for its task",
            step(Case {
                customer_created: true,
                ..case(json!({}), settled(vec![]))
            }),
            |s| matches!(s, S::Write(Write::Upload(_))),
        ),
        (
            "the next request is planned while the first one runs",
            step(created(
                large(),
                running(owning(1), &["t1"]),
                Seen::default(),
            )),
            |s| *s == S::Look(Look::Own),
        ),
        (
            "then sent from where the running one ends, running on too",
            step(created(
                large(),
                running(owning(1), &["t1"]),
                own("+14255552000-+14255552999"),
            )),
            |s| matches!(s, S::Write(Write::UploadWindow(w)) if w.requests.len() == 2 && w.requests[0].first().map(String::as_str) == Some("+14255553000") && w.requests[0].len() == 1000),
        ),
        (
            "the last request runs beside the others",
            step(created(
                large(),
                running(owning(2), &["t1", "t2"]),
                own("+14255552000-+14255553999"),
            )),
            |s| matches!(s, S::Write(Write::UploadWindow(w)) if w.requests.len() == 1 && w.requests[0].len() == 500),
        ),
        (
            "a window fills the room the running uploads leave, no more",
            step(created(
                json!({"numbers": [], "ranges": [{"start": "+14255552000", "end": "+14255561999"}]}),
                running(
                    json!({"active": ["+14255552000-+14255554999"]}),
                    &["t1", "t2", "t3"],
                ),
                own("+14255552000-+14255554999"),
            )),
            |s| matches!(s, S::Write(Write::UploadWindow(w)) if w.requests.len() == 5 && w.outstanding == 7000),
        ),
        (
            "a running upload without its task id is looked up before anything else",
            step(created(
                large(),
                unanswered(running(owning(2), &["t1", "t2"]), 1),
                own("+14255552000-+14255553999"),
            )),
            |s| *s == S::Look(Look::LostRunning),
        ),
        (
            "found running on the platform, it is followed as the task that carries it",
            step(created(
                large(),
                unanswered(running(owning(2), &["t1", "t2"]), 1),
                Seen {
                    lost_running: Some(vec![NumberRecord {
                        upload_to_account_job_id: Some("job-7".into()),
                        ..record("+14255553000", "Upload Requested", "Unassigned")
                    }]),
                    ..Seen::default()
                },
            )),
            |s| {
                *s == S::Settle(Settle::RunningLookedUp {
                    items: vec!["+14255553000-+14255553999".into()],
                    job: Some("job-7".into()),
                    never_sent: NumberSet::new(),
                })
            },
        ),
        (
            "found nowhere, it never reached the platform: its numbers are not the block's",
            step(created(
                large(),
                unanswered(running(owning(2), &["t1", "t2"]), 1),
                Seen {
                    lost_running: Some(vec![record("+14255552000", "Active", "Unassigned")]),
                    ..Seen::default()
                },
            )),
            |s| {
                *s == S::Settle(Settle::RunningLookedUp {
                    items: vec!["+14255553000-+14255553999".into()],
                    job: None,
                    never_sent: NumberSet::from_ranges(&["+14255553000-+14255553999"]),
                })
            },
        ),
        (
            "with some running and more to come, the next runs on too",
            step(created(
                json!({"numbers": [], "ranges": [{"start": "+14255552000", "end": "+14255556999"}]}),
                running(
                    json!({"active": ["+14255552000-+14255554999"]}),
                    &["t1", "t2", "t3"],
                ),
                own("+14255552000-+14255554999"),
            )),
            |s| matches!(s, S::Write(Write::UploadWindow(w)) if w.requests.len() == 2 && w.requests[0].first().map(String::as_str) == Some("+14255555000")),
        ),
        (
            "with as many running as the block may run, it waits for the next to end",
            step(Case {
                next_due: Some(std::time::Duration::from_millis(300)),
                ..created(
                    json!({"numbers": [], "ranges": [{"start": "+14255552000", "end": "+14255561999"}]}),
                    running(
                        json!({"active": ["+14255552000-+14255559999"]}),
                        &["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"],
                    ),
                    own("+14255552000-+14255559999"),
                )
            }),
            |s| matches!(s, S::Wait(w) if w.next == Next::After(std::time::Duration::from_millis(300)) && w.message.starts_with("8 uploads")),
        ),
        (
            "a running upload that should have ended is looked at first",
            step(Case {
                running_due: vec!["t2"],
                ..created(large(), running(owning(2), &["t1", "t2"]), Seen::default())
            }),
            |s| *s == S::Look(Look::Running("t2".into())),
        ),
        (
            "and settled when it ended",
            step(Case {
                running_due: vec!["t2"],
                ..created(
                    large(),
                    running(owning(2), &["t1", "t2"]),
                    Seen {
                        running: vec![(
                            "t2".into(),
                            TaskOutcome::Succeeded(task(TaskStatus::CompletedSuccess, json!({}))),
                        )],
                        ..Seen::default()
                    },
                )
            }),
            |s| {
                *s == S::Settle(Settle::RunningEnded {
                    task: "t2".into(),
                    ended: RunningEnd::Ended(Ended::Succeeded),
                })
            },
        ),
        (
            "one still running is left to run",
            step(Case {
                running_due: vec!["t1"],
                ..created(
                    large(),
                    running(owning(2), &["t1", "t2"]),
                    Seen {
                        running: vec![(
                            "t1".into(),
                            TaskOutcome::StillRunning(task(TaskStatus::InProgress, json!({}))),
                        )],
                        ..Seen::default()
                    },
                )
            }),
            |s| *s == S::Look(Look::Own),
        ),
        (
            "one that failed as a whole is settled",
            step(Case {
                running_due: vec!["t1"],
                ..created(
                    large(),
                    running(owning(1), &["t1"]),
                    Seen {
                        running: vec![(
                            "t1".into(),
                            TaskOutcome::Failed(task(TaskStatus::Failed, json!({}))),
                        )],
                        ..Seen::default()
                    },
                )
            }),
            |s| matches!(s, S::Settle(Settle::RunningEnded { task, ended: RunningEnd::Failed(f) }) if task == "t1" && f.task == "t1" && f.action == WriteAction::UploadNumbers),
        ),
        (
            "and then fails the reconcile",
            step(created(
                large(),
                json!({}),
                Seen {
                    running_failed: Some(Failure::new(WriteAction::UploadNumbers, "t1", "no")),
                    ..Seen::default()
                },
            )),
            |s| matches!(s, S::Fail(f) if f.task == "t1" && f.action == WriteAction::UploadNumbers),
        ),
        (
            "nothing is reported while an upload runs",
            step(created(
                large(),
                running(json!({"active": ["+14255552000-+14255554499"]}), &["t3"]),
                own("+14255552000-+14255554499"),
            )),
            |s| matches!(s, S::Wait(w) if w.next == Next::Task && w.also.iter().any(|a| a.type_ == "NumbersUploaded" && !a.status)),
        ),
        (
            "a deleted block waits for its running uploads before it releases",
            step(Case {
                deleting: true,
                ..created(
                    large(),
                    running(json!({"active": ["+14255552000-+14255554499"]}), &["t3"]),
                    Seen::default(),
                )
            }),
            // Without a listing: nothing can be released before they end.
            |s| matches!(s, S::Wait(w) if w.message.starts_with("1 upload of this block")),
        ),
    ];
    expect_all(cases);
}
