//! A window of uploads sent together: the requests of a large block that fit in the
//! platform's limits go out one after another, each recorded before it is sent.

use crate::api::common::WriteAction;
use crate::api::conditions::{READY, reason};
use crate::controller::error::{Error, Result};
use crate::controller::management::requests;
use crate::controller::number_set::NumberSet;
use crate::controller::numbers::Projection;
use crate::controller::plan::AfterWrite;
use crate::controller::tasks;

use super::act::BlockReconcile;
use super::requests::*;
use super::seen::*;
use super::*;

impl BlockReconcile<'_> {
    /// Sends a window of upload requests (see [`tasks::send_window`]): the numbers
    /// they bring are added to `status.active` with their intents, the tenant's held
    /// listing learns each accepted request, and the numbers of a request refused or
    /// not sent leave `status.active` again.
    pub(super) async fn upload_window(&mut self, window: Window) -> Result<AfterWrite> {
        let (obj, ctx, api, scope) = (self.work.obj, self.work.ctx, self.work.api, self.work.place);
        let action = WriteAction::UploadNumbers;
        let numbers: usize = window.requests.iter().map(Vec::len).sum();
        let what = format!(
            "{} ({numbers} numbers in {})",
            action.title(),
            requests(window.requests.len())
        );
        self.work
            .draft
            .condition(READY, false, reason::CREATING, what.clone());
        let admitted = tasks::admit(api, obj, self.work.draft, &scope.client, action).await?;
        let sets: Vec<NumberSet> = window
            .requests
            .iter()
            .map(|numbers| numbers.iter().collect())
            .collect();
        let mut active = owned(&self.work.draft.status);
        for set in &sets {
            active.add(set);
        }
        self.work.draft.status.active = active.to_ranges();
        let items: Vec<Vec<String>> = sets.iter().map(NumberSet::to_ranges).collect();
        let answers = tasks::send_window(
            (api, obj, &mut *self.work.draft),
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
        let mut failure = None;
        for (set, answer) in sets.iter().zip(answers) {
            match answer {
                Ok(_) => {
                    ctx.metrics.task_started(action);
                    ctx.platform
                        .numbers
                        .project(
                            &scope.platform_name(),
                            &scope.tenant,
                            Projection::Accepted,
                            |listing| listing.accepted(action, set),
                        )
                        .await;
                }
                Err(e) => failure = Some(e),
            }
        }
        // What was refused or never sent is not this block's.
        let kept = self
            .work
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
            let active = owned(&self.work.draft.status).difference(&unsent);
            self.work.draft.status.active = active.to_ranges();
        }
        match failure {
            None => Ok(AfterWrite::Replan),
            Some(e) => {
                // What the platform now holds is not known: the next look lists it.
                ctx.platform
                    .numbers
                    .invalidate(&scope.platform_name(), &scope.tenant)
                    .await;
                if state_changed(action, &e) {
                    return Err(Error::TaskFailed(format!(
                        "{e}; the numbers changed on the platform, so the operator lists them again"
                    )));
                }
                Err(e.into())
            }
        }
    }
}
