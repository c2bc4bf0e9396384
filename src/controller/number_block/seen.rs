//! What a number block's reconcile sees of the platform, and the steps its planner
//! takes.

use std::sync::Arc;

use crate::api::conditions::NUMBERS_UPLOADED;
use crate::api::number_block::OCNumberBlock;
use crate::api::number_block::{NumberCounts, ReleaseProgress};
use crate::controller::declared::Declared;
use crate::controller::number_set::NumberSet;
use crate::controller::plan::{self, Also};
use crate::controller::stops::Failure;
use crate::controller::tenant_numbers::TenantNumbers;
use liveplatform::TaskOutcome;
use liveplatform::contract::MAX_NUMBERS_PER_REQUEST;
use liveplatform::model::{NumberOutcome, NumberRecord};

/// The tenant's numbers as the platform lists them (see `tenant_numbers`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub(super) numbers: Arc<TenantNumbers>,
    /// The operator's own writes were applied to the platform's last listing (see
    /// `numbers`).
    pub(super) projected: bool,
    /// Every write applied to it has ended: good for a report. Otherwise good only
    /// for deciding the next write.
    pub(super) settled: bool,
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
    pub object: Declared<'a, OCNumberBlock>,
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
pub(super) fn chunk(numbers: &NumberSet) -> Vec<String> {
    numbers.first(MAX_NUMBERS_PER_REQUEST)
}

pub(super) fn uploaded(status: bool, reason: &'static str, message: impl Into<String>) -> Also {
    Also {
        type_: NUMBERS_UPLOADED,
        status,
        reason,
        message: message.into(),
    }
}
