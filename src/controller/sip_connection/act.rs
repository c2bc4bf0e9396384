//! One reconcile of a SIP connection: the looks, settlements and writes that carry its
//! planner's steps out.

use kube::api::Api;

use crate::api::OCSipConnection;
use crate::api::common::{PlannedAction, WriteAction};
use crate::api::conditions::{READY, reason};
use crate::controller::adoption;
use crate::controller::context::Context;
use crate::controller::customer_scope::CustomerScope;
use crate::controller::error::Result;
use crate::controller::management::planned;
use crate::controller::plan::{AfterWrite, Next, Planner, Wait};
use crate::controller::tasks;
use liveplatform::Error as PlatformError;
use liveplatform::secret::Secret as SecretString;

use super::planner::*;
use super::requests::*;
use super::*;

/// One reconcile of one SIP connection.
pub struct SiteReconcile<'a> {
    pub(super) obj: &'a OCSipConnection,
    pub(super) ctx: &'a Context,
    pub(super) api: &'a Api<OCSipConnection>,
    pub(super) draft: &'a mut Draft,
    pub(super) scope: &'a CustomerScope,
    pub(super) seen: Seen,
    pub(super) deleting: bool,
    /// The carrier password, read at the start of a reconcile that is not a deletion.
    pub(super) password: Option<SecretString>,
}

impl Planner for SiteReconcile<'_> {
    type Look = Look;
    type Settle = Settle;
    type Write = Write;

    fn plan(&self) -> Step {
        let known = Known {
            spec: &self.obj.spec,
            status: &self.draft.status,
            generation: self.draft.generation,
            may_adopt: adoption::may_adopt(self.obj),
            deleting: self.deleting,
            tenant: &self.scope.tenant,
            customer_created: self.scope.created_by_operator(),
        };
        plan(&known, &self.seen)
    }

    async fn look(&mut self, look: Look) -> Result<()> {
        match look {
            Look::Task(task) => {
                let action = tasks::action_in_flight(self.draft)?;
                self.seen.task = Some(self.scope.poll(self.ctx, action, &task).await?);
            }
            Look::Site(id) => {
                self.seen.site = match self.scope.client.get_sip_connection(&id).await {
                    Ok(site) => Some(Some(site)),
                    Err(PlatformError::NotFound { .. }) => Some(None),
                    Err(e) => return Err(e.into()),
                };
            }
            Look::ByName => {
                self.seen.by_name = Some(find_by_name(&self.obj.spec, self.scope).await?);
            }
        }
        Ok(())
    }

    async fn settle(&mut self, settle: Settle) -> Result<()> {
        let (obj, ctx) = (self.obj, self.ctx);
        let action = self
            .draft
            .status
            .operation
            .as_ref()
            .map_or("", |op| op.action.title());
        match settle {
            Settle::TaskEnded => {
                let op = self.draft.status.operation.as_ref();
                let task = op.and_then(|op| op.task_id.clone());
                // An add or a modify of this spec that ended well leaves the site as it
                // was sent, deployed: held instead of read (the drift check confirms).
                let sent_this_spec = op.is_some_and(|op| {
                    op.action != WriteAction::DeleteSipConnection
                        && op.generation.is_some()
                        && op.generation == self.draft.generation
                });
                tasks::finish(self.draft);
                self.seen.task = None;
                if sent_this_spec {
                    self.seen.site = Some(Some(deployed_as_sent(&obj.spec)));
                }
                ctx.event(
                    obj,
                    false,
                    "TaskSucceeded",
                    action,
                    format!("{action} finished (task {})", task.unwrap_or_default()),
                )
                .await;
            }
            Settle::TaskFailed(summary) => {
                tasks::finish(self.draft);
                self.seen.task = None;
                ctx.event(obj, true, "TaskFailed", action, summary).await;
            }
            Settle::ForgetLost { added, generation } => {
                self.seen.added_unseen = added.then_some(generation);
                tasks::finish(self.draft);
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
                self.draft.status.site_location_id = None;
                self.seen.site = None;
            }
            Settle::Adopt(existing) => {
                adoption::adopted(ctx, obj, "AdoptSite", &existing).await;
                self.seen.adopted = true;
            }
            Settle::Found { id, applied } => {
                self.draft.status.site_location_id = Some(id);
                if applied.is_some() {
                    self.draft.status.applied_generation = applied;
                }
                self.seen.site = None;
            }
            Settle::AppliedAsIs => self.draft.status.applied_generation = self.draft.generation,
            Settle::States { sbc, m365 } => {
                self.draft.status.sbc_deployment_state = sbc;
                self.draft.status.m365_deployment_state = m365;
            }
        }
        Ok(())
    }

    async fn write(&mut self, write: Write) -> Result<AfterWrite> {
        let (obj, ctx, api, scope) = (self.obj, self.ctx, self.api, self.scope);
        match write {
            Write::Add => {
                let body = add_request(&obj.spec, self.password.clone());
                self.draft.condition(
                    READY,
                    false,
                    reason::CREATING,
                    format!("adding site location {}", obj.spec.site_name),
                );
                let added = tasks::send(
                    api,
                    obj,
                    self.draft,
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
                ctx.event(
                    obj,
                    false,
                    "SiteAdded",
                    "AddSipConnection",
                    format!(
                        "added site location {} (task {})",
                        added.site_location_id, added.task_id
                    ),
                )
                .await;
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
                self.draft
                    .condition(READY, false, reason::UPDATING, message.clone());
                let task = tasks::send(
                    api,
                    obj,
                    self.draft,
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
                ctx.event(
                    obj,
                    false,
                    "SiteModified",
                    "ModifySipConnection",
                    format!("modifying site location {id} (task {task})"),
                )
                .await;
                Ok(AfterWrite::Wait(Wait::new(
                    reason::UPDATING,
                    message,
                    Next::Task,
                )))
            }
            Write::Delete(id) => {
                let message = format!("removing site location {id}");
                self.draft
                    .condition(READY, false, reason::DELETING, message.clone());
                tasks::send(
                    api,
                    obj,
                    self.draft,
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
        tasks::finish(self.draft);
        self.seen.task = None;
    }

    fn describe(&self, write: &Write) -> Option<PlannedAction> {
        let site = &self.obj.spec.site_name;
        let target = format!("site {site} of tenant {}", self.scope.tenant);
        let (action, description) = match write {
            Write::Add => (
                liveplatform::Action::AddSipConnection,
                format!("add SIP connection {site} on SBC {}", self.obj.spec.sbc_id),
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
