//! One reconcile of a SIP connection: the looks, settlements and writes that carry its
//! planner's steps out.

use crate::api::OCSipConnection;
use crate::api::common::{PlannedAction, WriteAction};
use crate::api::conditions::{READY, reason};
use crate::controller::adoption;
use crate::controller::error::Result;
use crate::controller::management::planned;
use crate::controller::plan::{AfterWrite, Next, Planner, Wait};
use crate::controller::tasks;
use liveplatform::Error as PlatformError;
use liveplatform::secret::Secret as SecretString;

use super::planner::*;
use super::requests::*;
use crate::controller::reconciler::Work;

/// One reconcile of one SIP connection.
pub struct SiteReconcile<'a> {
    pub(super) work: Work<'a, OCSipConnection>,
    pub(super) seen: Seen,
    /// The carrier password, read at the start of a reconcile that is not a deletion.
    pub(super) password: Option<SecretString>,
}

impl Planner for SiteReconcile<'_> {
    type Look = Look;
    type Settle = Settle;
    type Write = Write;

    fn plan(&self) -> Step {
        let known = Known {
            object: self.work.declared(),
            tenant: &self.work.place.tenant,
            customer_created: self.work.place.created_by_operator(),
        };
        plan(&known, &self.seen)
    }

    async fn look(&mut self, look: Look) -> Result<()> {
        match look {
            Look::Task(task) => {
                let action = tasks::action_in_flight(self.work.draft)?;
                self.seen.task = Some(self.work.place.poll(self.work.ctx, action, &task).await?);
            }
            Look::Site(id) => {
                self.seen.site = match self.work.place.client.get_sip_connection(&id).await {
                    Ok(site) => Some(Some(site)),
                    Err(PlatformError::NotFound { .. }) => Some(None),
                    Err(e) => return Err(e.into()),
                };
            }
            Look::ByName => {
                self.seen.by_name = Some(find_by_name(&self.work.obj.spec, self.work.place).await?);
            }
        }
        Ok(())
    }

    async fn settle(&mut self, settle: Settle) -> Result<()> {
        let (obj, ctx) = (self.work.obj, self.work.ctx);
        let action = self
            .work
            .draft
            .status
            .operation
            .as_ref()
            .map_or("", |op| op.action.title());
        match settle {
            Settle::TaskEnded => {
                let op = self.work.draft.status.operation.as_ref();
                let task = op.and_then(|op| op.task_id.clone()).unwrap_or_default();
                let told = op.and_then(|op| {
                    let id = self.work.draft.status.site_location_id.as_deref()?;
                    match op.action {
                        WriteAction::AddSipConnection => Some((
                            "SiteAdded",
                            format!("added site location {id} (task {task})"),
                        )),
                        WriteAction::ModifySipConnection => Some((
                            "SiteModified",
                            format!("modified site location {id} (task {task})"),
                        )),
                        // Told when the object lets go (`SiteRemoved`).
                        _ => None,
                    }
                });
                // An add or a modify of this spec that ended well leaves the site as it
                // was sent, deployed: held instead of read (the drift check confirms).
                let sent_this_spec = op.is_some_and(|op| {
                    op.action != WriteAction::DeleteSipConnection
                        && op.generation.is_some()
                        && op.generation == self.work.draft.generation
                });
                tasks::finish(self.work.draft);
                self.seen.task = None;
                if sent_this_spec {
                    self.seen.site = Some(Some(deployed_as_sent(&obj.spec)));
                }
                if let Some((reason, note)) = told {
                    ctx.event(obj, false, reason, action, note).await;
                }
            }
            Settle::TaskFailed(summary) => {
                tasks::finish(self.work.draft);
                self.seen.task = None;
                ctx.event(obj, true, "TaskFailed", action, summary).await;
            }
            Settle::ForgetLost { added, generation } => {
                self.seen.added_unseen = added.then_some(generation);
                tasks::finish(self.work.draft);
            }
            Settle::SiteMissing(id) => {
                ctx.event(
                    obj,
                    true,
                    "SiteMissing",
                    "Drift",
                    format!("site location {id} is gone from the platform; adding it again"),
                )
                .await;
                self.work.draft.status.site_location_id = None;
                self.seen.site = None;
            }
            Settle::Adopt(existing) => {
                adoption::adopted(ctx, obj, "AdoptSite", &existing).await;
                self.seen.adopted = true;
            }
            Settle::Found { id, applied } => {
                self.work.draft.status.site_location_id = Some(id);
                if applied.is_some() {
                    self.work.draft.status.applied_generation = applied;
                }
                self.seen.site = None;
            }
            Settle::AppliedAsIs => {
                self.work.draft.status.applied_generation = self.work.draft.generation
            }
            Settle::States { sbc, m365 } => {
                self.work.draft.status.sbc_deployment_state = sbc;
                self.work.draft.status.m365_deployment_state = m365;
            }
        }
        Ok(())
    }

    async fn write(&mut self, write: Write) -> Result<AfterWrite> {
        let (obj, ctx, api, scope) = (self.work.obj, self.work.ctx, self.work.api, self.work.place);
        match write {
            Write::Add => {
                let body = add_request(&obj.spec, self.password.clone());
                self.work.draft.condition(
                    READY,
                    false,
                    reason::CREATING,
                    format!("adding site location {}", obj.spec.site_name),
                );
                let added = tasks::send(
                    api,
                    obj,
                    self.work.draft,
                    &scope.client,
                    WriteAction::AddSipConnection,
                    vec![obj.spec.site_name.clone()],
                    scope.client.add_sip_connection(&scope.customer_id, &body),
                    // Saved with the task id: the site is known as this object's.
                    |added, draft| {
                        draft.status.site_location_id = Some(added.site_location_id.clone());
                        draft.status.applied_generation = draft.generation;
                    },
                )
                .await??;
                // Told when its task ends (the condition says what runs meanwhile).
                Ok(AfterWrite::Wait(Wait::new(
                    reason::WAITING_FOR_TASK,
                    format!(
                        "onboarding site location {} (task {})",
                        added.site_location_id, added.task_id
                    ),
                    Next::Task,
                )))
            }
            Write::Modify(id) => {
                let message = format!("modifying site location {id}");
                self.work
                    .draft
                    .condition(READY, false, reason::UPDATING, message.clone());
                let task = tasks::send(
                    api,
                    obj,
                    self.work.draft,
                    &scope.client,
                    WriteAction::ModifySipConnection,
                    vec![id.clone()],
                    scope
                        .client
                        .modify_sip_connection(&scope.customer_id, &modify_request(&obj.spec, &id)),
                    // The spec of this generation is now being applied.
                    |_, draft| draft.status.applied_generation = draft.generation,
                )
                .await??;
                // Told when its task ends (the condition says what runs meanwhile).
                Ok(AfterWrite::Wait(Wait::new(
                    reason::UPDATING,
                    format!("{message} (task {task})"),
                    Next::Task,
                )))
            }
            Write::Delete(id) => {
                let message = format!("removing site location {id}");
                self.work
                    .draft
                    .condition(READY, false, reason::DELETING, message.clone());
                tasks::send(
                    api,
                    obj,
                    self.work.draft,
                    &scope.client,
                    WriteAction::DeleteSipConnection,
                    vec![id.clone()],
                    scope.client.delete_sip_connection(&id),
                    tasks::nothing,
                )
                .await??;
                Ok(AfterWrite::Wait(Wait::new(
                    reason::DELETING,
                    message,
                    Next::Task,
                )))
            }
            Write::LetGo(removed) => {
                if let Some(id) = removed {
                    ctx.event(
                        obj,
                        false,
                        "SiteRemoved",
                        "DeleteSipConnection",
                        format!("site location {id} is removed"),
                    )
                    .await;
                }
                Ok(AfterWrite::Gone)
            }
        }
    }

    async fn finish(&mut self) {
        tasks::finish(self.work.draft);
        self.seen.task = None;
    }

    fn describe(&self, write: &Write) -> Option<PlannedAction> {
        let site = &self.work.obj.spec.site_name;
        let target = format!("site {site} of tenant {}", self.work.place.tenant);
        let (action, description) = match write {
            Write::Add => (
                liveplatform::Action::AddSipConnection,
                format!(
                    "add SIP connection {site} on SBC {}",
                    self.work.obj.spec.sbc_id
                ),
            ),
            Write::Modify(id) => (
                liveplatform::Action::ModifySipConnection,
                format!("modify SIP connection {site} ({id})"),
            ),
            Write::Delete(id) => (
                liveplatform::Action::DeleteSipConnection,
                format!("delete SIP connection {site} ({id})"),
            ),
            Write::LetGo(_) => return None,
        };
        Some(planned(action, target, 1, 1, description))
    }
}
