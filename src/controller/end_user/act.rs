//! The calls that carry an end user's step out: one reconcile's [`EndUserReconcile`].

use crate::api::OCEndUser;
use crate::api::common::{PlannedAction, WriteAction};
use crate::api::conditions::{READY, reason};
use crate::controller::adoption;
use crate::controller::error::Result;
use crate::controller::management::planned;
use crate::controller::plan::{AfterWrite, Next, Planner, Wait};
use crate::controller::tasks;
use liveplatform::{Error as PlatformError, TaskOutcome};

use crate::controller::reconciler::Work;

use super::*;

/// One reconcile of one end user.
pub struct EndUserReconcile<'a> {
    pub(super) work: Work<'a, OCEndUser>,
    pub(super) seen: Seen,
    pub(super) licensed: bool,
    pub(super) upgrade_declared: bool,
    pub(super) number_pending: Option<String>,
}

impl Planner for EndUserReconcile<'_> {
    type Look = Look;
    type Settle = Settle;
    type Write = Write;

    fn plan(&self) -> Step {
        let known = Known {
            object: self.work.declared(),
            licensed: self.licensed,
            upgrade_declared: self.upgrade_declared,
            customer: self
                .work
                .place
                .customer
                .metadata
                .name
                .as_deref()
                .unwrap_or_default(),
            tenant: &self.work.place.tenant,
            license_recheck: self.work.ctx.config.wait_requeue * 3,
            number_pending: self.number_pending.as_deref(),
            customer_created: self.work.place.created_by_operator(),
            now: jiff::Timestamp::now(),
            lost_answer_grace: self.work.ctx.config.lost_answer_grace,
        };
        plan(&known, &self.seen)
    }

    async fn look(&mut self, look: Look) -> Result<()> {
        match look {
            Look::Task(task) => {
                let action = WriteAction::ProvisionEndUser;
                self.seen.task = Some(self.work.place.poll(self.work.ctx, action, &task).await?);
            }
            Look::User => match find_user(self.work.place, &self.work.obj.spec.sip_address).await {
                Ok(user) => self.seen.user = Some(user),
                Err(PlatformError::LicenseRequired { .. }) => self.seen.license_required = true,
                Err(e) => return Err(e.into()),
            },
        }
        Ok(())
    }

    async fn settle(&mut self, settle: Settle) -> Result<()> {
        let (obj, ctx) = (self.work.obj, self.work.ctx);
        match settle {
            Settle::TaskEnded => {
                tasks::finish(self.work.draft);
                let object_id = match self.seen.task.take() {
                    Some(TaskOutcome::Succeeded(t)) => t.provisioned_object_id().map(str::to_owned),
                    _ => None,
                };
                let after = if self.work.deleting {
                    None
                } else {
                    obj.spec.line_uri.as_deref()
                };
                let before = self.work.draft.status.line_uri.as_deref();
                record_assignment(ctx, self.work.place, before, after).await;
                if !self.work.deleting
                    && let Some(object_id) = object_id
                {
                    // The task's output names the user: what it now has is what was
                    // sent, and is recorded without listing the customer's users.
                    self.seen.user = Some(Some(provisioned(
                        &obj.spec,
                        &self.work.draft.status,
                        object_id,
                    )));
                }
                if self.work.deleting {
                    ctx.event(
                        obj,
                        false,
                        "VoiceRemoved",
                        "ProvisionEndUser",
                        "took the line URI and voice off the user",
                    )
                    .await;
                    self.seen.removed = true;
                } else {
                    ctx.event(
                        obj,
                        false,
                        "Provisioned",
                        "ProvisionEndUser",
                        format!("provisioned {}", obj.spec.sip_address),
                    )
                    .await;
                }
            }
            Settle::ForgetLost { generation } => {
                tasks::finish(self.work.draft);
                self.seen.lost = Some(generation);
            }
            Settle::LostWriteLanded(generation) => {
                self.work.draft.status.applied_generation = generation;
            }
            Settle::Adopt { existing, as_is } => {
                adoption::adopted(ctx, obj, "AdoptUser", &existing).await;
                self.seen.adopted = true;
                if as_is {
                    // Taken over as it is: the spec is already applied, nothing to send.
                    self.work.draft.status.applied_generation = self.work.draft.generation;
                }
            }
            Settle::Record(user) => {
                let status = &mut self.work.draft.status;
                status.object_id = user.object_id;
                status.line_uri = user.line_uri;
                status.enterprise_voice_enabled = Some(user.enterprise_voice_enabled);
                status.online_voice_routing_policy = user.online_voice_routing_policy;
            }
        }
        Ok(())
    }

    async fn write(&mut self, write: Write) -> Result<AfterWrite> {
        let (obj, api, scope) = (self.work.obj, self.work.api, self.work.place);
        let sip = &obj.spec.sip_address;
        match write {
            Write::LetGo => Ok(AfterWrite::Gone),
            Write::Provision { deleting } => {
                let (reason, body) = if deleting {
                    (reason::DELETING, removal())
                } else {
                    (reason::UPDATING, settings(&obj.spec))
                };
                let message = format!("provisioning {sip}");
                self.work
                    .draft
                    .condition(READY, false, reason, message.clone());
                let sent = tasks::send(
                    api,
                    obj,
                    self.work.draft,
                    &scope.client,
                    WriteAction::ProvisionEndUser,
                    vec![sip.clone()],
                    scope
                        .client
                        .provision_end_user(&scope.customer_id, sip, &body),
                    // Saved with the task id: a task that ends after a restart has
                    // applied this generation.
                    |_, draft| draft.status.applied_generation = draft.generation,
                )
                .await?;
                match sent {
                    Ok(_) => Ok(AfterWrite::Wait(Wait::new(reason, message, Next::Task))),
                    Err(PlatformError::LicenseRequired { .. }) => {
                        self.seen.license_required = true;
                        Ok(AfterWrite::Replan)
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    async fn finish(&mut self) {
        tasks::finish(self.work.draft);
        self.seen.task = None;
    }

    fn describe(&self, write: &Write) -> Option<PlannedAction> {
        let sip = &self.work.obj.spec.sip_address;
        match write {
            Write::Provision { deleting } => Some(planned(
                liveplatform::Action::ProvisionEndUser,
                format!("end user {sip} of tenant {}", self.work.place.tenant),
                1,
                1,
                if *deleting {
                    format!("take the voice settings of {sip} off")
                } else {
                    format!("provision the voice settings of {sip}")
                },
            )),
            Write::LetGo => None,
        }
    }
}
