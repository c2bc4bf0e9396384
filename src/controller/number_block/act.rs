//! One reconcile of a number block: the looks, settlements and writes that carry
//! its planner's steps out.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

use crate::api::OCNumberBlock;
use crate::api::common::{PlannedAction, WriteAction};
use crate::api::conditions::{self, READY, reason};
use crate::controller::adoption;
use crate::controller::error::{Error, Result};
use crate::controller::management::{planned, requests};
use crate::controller::number_set::NumberSet;
use crate::controller::numbers::Projection;
use crate::controller::plan::{AfterWrite, Next, Planner, Wait};
use crate::controller::task_timing;
use crate::controller::tasks;
use liveplatform::contract::MAX_NUMBERS_PER_REQUEST;
use liveplatform::model::{NumberRecord, ReleaseNumbers, TaskId, UnassignNumbers};

use super::planner::*;
use super::requests::*;
use super::seen::*;
use crate::controller::reconciler::Work;

use super::*;

/// One reconcile of one number block.
pub struct BlockReconcile<'a> {
    pub(super) work: Work<'a, OCNumberBlock>,
    pub(super) seen: Seen,
    pub(super) others_own: NumberSet,
    /// The running uploads that were due when this reconcile began.
    pub(super) due_at_start: Vec<String>,
}

impl BlockReconcile<'_> {
    /// Which running uploads should have ended by now, and how long until the next
    /// of the others should have (see `task_timing`).
    pub(super) fn running_due(&self) -> (Vec<String>, Option<std::time::Duration>) {
        let expected = self.work.ctx.platform.task_timings.expected(
            &self.work.place.platform_name(),
            WriteAction::UploadNumbers.title(),
        );
        let mut due = Vec::new();
        let mut next: Option<std::time::Duration> = None;
        for op in &self.work.draft.status.running {
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

    pub(super) fn items(&self) -> NumberSet {
        self.work
            .draft
            .status
            .operation
            .as_ref()
            .map(|op| NumberSet::from_ranges(&op.items))
            .unwrap_or_default()
    }

    /// The task of `op` ended as `ended`: what it did is applied to the tenant's held
    /// listing, its failed numbers recorded, and an event says how it went.
    pub(super) async fn task_ended(&mut self, op: &crate::api::common::Operation, ended: Ended) {
        let (obj, ctx) = (self.work.obj, self.work.ctx);
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
            .project(
                &self.work.place.platform_name(),
                &self.work.place.tenant,
                Projection::Ended,
                |listing| listing.ended(op.action, &numbers, &failed_numbers),
            )
            .await;
        match ended {
            Ended::Succeeded => {
                let message = format!("{action} of {items} numbers succeeded (task {task})");
                ctx.event(obj, false, "TaskSucceeded", action, message)
                    .await;
            }
            Ended::NumbersFailed { failed, summary } => {
                record_failures(self.work.draft, failed.iter());
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

    /// What a fresh full listing (Get Customer Numbers V2) shows of `items`, the
    /// numbers of writes whose answers were lost; the shared listing is stale too.
    pub(super) async fn look_up(&mut self, items: &NumberSet) -> Result<Vec<NumberRecord>> {
        self.forget_listing().await;
        let scope = self.work.place;
        let records = scope.client.numbers_v2(&scope.tenant).await?;
        Ok(records
            .into_iter()
            .filter(|r| items.contains(&r.telephone_number))
            .collect())
    }

    /// The write changed the tenant's numbers: the shared listing is stale.
    pub(super) async fn forget_listing(&mut self) {
        self.work
            .ctx
            .platform
            .numbers
            .invalidate(&self.work.place.platform_name(), &self.work.place.tenant)
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
            object: self.work.declared(),
            tenant: &self.work.place.tenant,
            others_own: &self.others_own,
            release_task: self.work.ctx.platform.task_timings.expected(
                &self.work.place.platform_name(),
                WriteAction::ReleaseNumbers.title(),
            ),
            reported: self.work.draft.status.operation.is_none()
                && self.work.draft.status.running.is_empty()
                && conditions::is_true_for(
                    &self.work.draft.status.reconcile.conditions,
                    READY,
                    self.work.draft.generation,
                ),
            customer_created: self.work.place.created_by_operator(),
            running_due: self.due_at_start.clone(),
            next_due,
        };
        plan(&known, &self.seen)
    }

    async fn look(&mut self, look: Look) -> Result<()> {
        let scope = self.work.place;
        let fresh = look == Look::FreshListing;
        match look {
            Look::Task(task) => {
                let action = tasks::action_in_flight(self.work.draft)?;
                self.seen.task = Some(scope.poll(self.work.ctx, action, &task).await?);
            }
            Look::Lost => {
                let items = self.items();
                self.seen.lost = Some(self.look_up(&items).await?);
            }
            Look::Listing | Look::FreshListing => {
                if fresh
                    || self.work.draft.status.reconcile.observed_generation
                        != self.work.draft.generation
                {
                    // A new spec is planned against a fresh listing, not a shared older one.
                    self.work
                        .ctx
                        .platform
                        .numbers
                        .invalidate(&scope.platform_name(), &scope.tenant)
                        .await;
                }
                let numbers = self
                    .work
                    .ctx
                    .platform
                    .numbers
                    .list(&scope.client, &scope.platform_name(), &scope.tenant)
                    .await?;
                self.seen.listing = Some(if numbers.projected {
                    Listing::projected(numbers.numbers, numbers.settled)
                } else {
                    Listing::new(numbers.numbers)
                });
            }
            Look::Own => {
                let status = &self.work.draft.status;
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
                    .poll(self.work.ctx, WriteAction::UploadNumbers, &task)
                    .await?;
                self.seen.running.push((task, outcome));
            }
            Look::LostRunning => {
                let unanswered: Vec<String> = self
                    .work
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
        let (obj, ctx) = (self.work.obj, self.work.ctx);
        match settle {
            Settle::FollowFound(job) => {
                tasks::started(self.work.api, obj, self.work.draft, &TaskId(job.clone())).await?;
                self.seen.found_job = Some(job);
            }
            Settle::ForgetLost => {
                if tasks::is(self.work.draft, WriteAction::UploadNumbers).is_some() {
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
                    let active = owned(&self.work.draft.status).difference(&never_sent);
                    self.work.draft.status.active = active.to_ranges();
                }
                tasks::finish(self.work.draft);
            }
            Settle::TaskEnded(ended) => {
                let Some(op) = self.work.draft.status.operation.take() else {
                    return Ok(());
                };
                self.seen.task = None;
                self.task_ended(&op, ended).await;
            }
            Settle::RunningEnded { task, ended } => {
                let running = &mut self.work.draft.status.running;
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
                        let active = owned(&self.work.draft.status).difference(&numbers);
                        self.work.draft.status.active = active.to_ranges();
                        self.work
                            .ctx
                            .platform
                            .numbers
                            .project(
                                &self.work.place.platform_name(),
                                &self.work.place.tenant,
                                Projection::Ended,
                                |listing| listing.ended(op.action, &numbers, &numbers),
                            )
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
                let running = &mut self.work.draft.status.running;
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
                        let active = owned(&self.work.draft.status).difference(&never_sent);
                        self.work.draft.status.active = active.to_ranges();
                    }
                }
            }
            Settle::ClearFailures => {
                self.work.draft.status.failed.clear();
                self.seen.failures_current = true;
            }
            Settle::Adopt { numbers, what } => {
                let active = owned(&self.work.draft.status).union(&numbers);
                self.work.draft.status.active = active.to_ranges();
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
                record_failures(self.work.draft, refused.iter());
                self.seen.failures_current = true;
            }
            Settle::ReleaseProgress(progress) => self.work.draft.status.release = Some(progress),
            Settle::Report { active, counts } => {
                self.work.draft.status.active = active;
                self.work.draft.status.counts = counts;
                self.work.draft.status.failed.truncate(FAILED_LISTED);
            }
        }
        Ok(())
    }

    async fn write(&mut self, write: Write) -> Result<AfterWrite> {
        let (obj, ctx, api, scope) = (self.work.obj, self.work.ctx, self.work.api, self.work.place);
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
        self.work
            .draft
            .condition(READY, false, reason, what.clone());
        let admitted = tasks::admit(api, obj, self.work.draft, &scope.client, action).await?;
        if upload {
            // Keep tracking what this block brings to the platform (saved with the
            // upload's intent, never before it).
            let mut active = owned(&self.work.draft.status);
            active.add(&numbers.iter().collect());
            self.work.draft.status.active = active.to_ranges();
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
            self.work.draft,
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
                    .project(
                        &scope.platform_name(),
                        &scope.tenant,
                        Projection::Accepted,
                        |listing| listing.accepted(action, &numbers),
                    )
                    .await;
            }
            // What the platform now holds is not known: the next look lists it.
            Err(_) => {
                ctx.platform
                    .numbers
                    .invalidate(&scope.platform_name(), &scope.tenant)
                    .await
            }
        }
        match sent {
            Ok(task) => {
                // Told when it ends (the condition says what runs meanwhile).
                let message = format!("{what}: task {task}");
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
                    let active =
                        owned(&self.work.draft.status).difference(&numbers.iter().collect());
                    self.work.draft.status.active = active.to_ranges();
                }
                Err(e.into())
            }
        }
    }

    async fn finish(&mut self) {
        tasks::finish(self.work.draft);
        self.seen.task = None;
        self.forget_listing().await;
    }

    fn describe(&self, write: &Write) -> Option<PlannedAction> {
        let tenant = &self.work.place.tenant;
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
