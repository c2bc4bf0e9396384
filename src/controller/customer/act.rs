//! The calls that carry a customer's step out: one reconcile's [`CustomerReconcile`],
//! its looks and what it settles (its writes are in `writes`).

use kube::ResourceExt;

use crate::api::common::{PlannedAction, WriteAction};
use crate::api::conditions::{self, READY, reason};
use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};
use crate::controller::adoption;
use crate::controller::error::{Error, Result};
use crate::controller::finalizer;
use crate::controller::management::planned;
use crate::controller::plan::{AfterWrite, Planner};
use crate::controller::platforms;
use crate::controller::snapshots;
use crate::controller::tasks;
use liveplatform::LivePlatformClient;
use liveplatform::model::Lead;

use crate::controller::reconciler::Work;

use super::*;

/// One reconcile of one customer: the planner's state and the calls that carry its
/// steps out.
pub struct CustomerReconcile<'a> {
    pub(super) work: Work<'a, OCCustomer>,
    /// The platform's client: found before the reconcile, or while a deletion looks
    /// for its platform.
    pub(super) client: Option<LivePlatformClient>,
    pub(super) seen: Seen,
}

impl CustomerReconcile<'_> {
    pub(super) fn client(&self) -> Result<&LivePlatformClient> {
        self.client.as_ref().ok_or_else(|| {
            Error::Dependency(format!(
                "OCPlatform {} is not available",
                self.work.obj.spec.platform_ref.name
            ))
        })
    }

    pub(super) fn known(&self) -> Known<'_> {
        let status = &self.work.draft.status;
        Known {
            object: self.work.declared(),
            has_finalizer: finalizer::has(self.work.obj),
            now: jiff::Timestamp::now(),
            lost_answer_grace: self.work.ctx.config.lost_answer_grace,
            checking: status.operation.is_none()
                && conditions::is_true_for(
                    &status.reconcile.conditions,
                    READY,
                    self.work.draft.generation,
                ),
        }
    }

    pub(super) fn lead_mut(&mut self) -> Option<&mut Lead> {
        self.seen.lead.as_mut().and_then(|l| l.as_mut())
    }

    /// Forgets the snapshots a write may change, before it is sent (see `snapshots`).
    pub(super) fn forget_for(&self, write: &Write) {
        let platform = &self.work.obj.spec.platform_ref.name;
        let snapshots = &self.work.ctx.platform.snapshots;
        match write {
            Write::CreateLead
            | Write::AssignChannel(_)
            | Write::RemoveChannel(_)
            | Write::CreateCustomer
            | Write::DeleteLead => snapshots.forget_lead(platform, &tenant(&self.work.obj.spec)),
            Write::UpgradeLicense { .. } | Write::ChangeLicense { .. } => {
                if let Some(guid) = &self.work.draft.status.customer_id {
                    snapshots.forget_customer(platform, guid);
                }
            }
            Write::DeleteService(guid) => {
                snapshots.forget_lead(platform, &tenant(&self.work.obj.spec));
                snapshots.forget_customer(platform, guid);
            }
            Write::DeleteDependents | Write::LetGo(_) => {}
        }
    }

    /// After the platform refused a licence write: the licence held is dropped (see
    /// [`Self::forget_licence`]), so that the plan reads it from the platform.
    pub(super) fn read_licence_again(&mut self) -> AfterWrite {
        self.forget_licence();
        AfterWrite::Replan
    }

    /// Drops the customer's details held by this reconcile, and any snapshot of them,
    /// so that what comes next reads them from the platform.
    pub(super) fn forget_licence(&mut self) {
        self.seen.details = None;
        if let Some(guid) = &self.work.draft.status.customer_id {
            let platform = &self.work.obj.spec.platform_ref.name;
            self.work
                .ctx
                .platform
                .snapshots
                .forget_customer(platform, guid);
        }
    }

    /// Keeps the lead and customer as this reconcile knows them now (after a write
    /// the platform answered), for the next reconciles of this customer.
    pub(super) fn remember(&self) {
        let platform = &self.work.obj.spec.platform_ref.name;
        let snapshots = &self.work.ctx.platform.snapshots;
        let by = snapshots::seer(self.work.obj);
        if let Some(lead) = &self.seen.lead {
            snapshots.saw_lead(platform, &tenant(&self.work.obj.spec), by, lead.clone());
        }
        if let (Some(details), Some(guid)) =
            (&self.seen.details, &self.work.draft.status.customer_id)
        {
            snapshots.saw_customer(platform, guid, by, details.clone());
        }
    }

    pub(super) async fn event(&self, reason: &str, action: &str, message: String) {
        self.work
            .ctx
            .event(self.work.obj, false, reason, action, message)
            .await;
    }
}

impl Planner for CustomerReconcile<'_> {
    type Look = Look;
    type Settle = Settle;
    type Write = Write;

    fn plan(&self) -> Step {
        let known = self.known();
        if self.work.deleting {
            plan_deletion(&known, &self.seen)
        } else {
            plan(&known, &self.seen)
        }
    }

    async fn look(&mut self, look: Look) -> Result<()> {
        let tenant = tenant(&self.work.obj.spec);
        match look {
            Look::Tenant => {
                self.seen.tenant = Some(self.client()?.validate_tenant(&tenant).await?);
            }
            Look::Lead => {
                let platform = &self.work.obj.spec.platform_ref.name;
                let snapshots = &self.work.ctx.platform.snapshots;
                let by = snapshots::seer(self.work.obj);
                let lead = match snapshots.lead(platform, &tenant, by) {
                    Some(lead) => lead,
                    None => {
                        let lead = self.client()?.get_lead(&tenant).await?;
                        snapshots.saw_lead(platform, &tenant, by, lead.clone());
                        lead
                    }
                };
                self.seen.lead = Some(lead);
            }
            Look::Task(task) => {
                let action = tasks::action_in_flight(self.work.draft)?;
                let platform = &self.work.obj.spec.platform_ref.name;
                let outcome =
                    tasks::poll(self.work.ctx, platform, self.client()?, action, &task).await?;
                self.seen.task = Some(outcome);
            }
            Look::Customer(guid) => {
                let platform = &self.work.obj.spec.platform_ref.name;
                let snapshots = &self.work.ctx.platform.snapshots;
                let by = snapshots::seer(self.work.obj);
                let details = match snapshots.customer(platform, &guid, by) {
                    Some(details) => details,
                    None => {
                        let details = self.client()?.get_customer(&guid, false).await?;
                        snapshots.saw_customer(platform, &guid, by, details.clone());
                        details
                    }
                };
                self.seen.details = Some(details);
            }
            Look::LicenseInfo(guid) => {
                self.seen.license_info = Some(self.client()?.license_info(&guid, 1).await?);
            }
            Look::Dependents => {
                self.seen.dependents = Some(vec![
                    dependents::<OCEndUser>(self.work.ctx, self.work.obj).await?,
                    dependents::<OCDialPlan>(self.work.ctx, self.work.obj).await?,
                    dependents::<OCSipConnection>(self.work.ctx, self.work.obj).await?,
                    dependents::<OCNumberBlock>(self.work.ctx, self.work.obj).await?,
                ]);
            }
            Look::Platform => {
                let ns = self.work.obj.namespace().unwrap_or_default();
                let name = &self.work.obj.spec.platform_ref.name;
                let access = platforms::access(self.work.ctx, &ns, name, self.work.draft).await?;
                self.seen.platform = Some(access.is_some());
                if access.is_some() {
                    // Said before the first call, which may fail.
                    self.work.draft.condition(
                        READY,
                        false,
                        reason::DELETING,
                        "deleting the service and the lead",
                    );
                }
                self.client = access.map(|(client, _)| client);
            }
        }
        Ok(())
    }

    async fn settle(&mut self, settle: Settle) -> Result<()> {
        let tenant = tenant(&self.work.obj.spec);
        match settle {
            Settle::Lead {
                id,
                created,
                adopted,
            } => {
                if created {
                    tasks::finish(self.work.draft);
                }
                if let Some(what) = adopted {
                    adoption::adopted(self.work.ctx, self.work.obj, "AdoptLead", &what).await;
                }
                self.work.draft.status.lead_id = Some(id);
            }
            Settle::Channel => {
                if writing_channel(&self.work.draft.status) {
                    tasks::finish(self.work.draft);
                }
                self.work.draft.status.channel_id = self.work.obj.spec.channel_id;
            }
            Settle::TenantValidated => {
                self.work.draft.status.tenant_validated = true;
                self.work.draft.save_before_waiting();
            }
            Settle::Customer {
                guid,
                created,
                adopted,
            } => {
                if created {
                    tasks::finish(self.work.draft);
                    self.work.draft.status.created_by_operator = true;
                    // The lead shows the customer before the task was seen to end.
                    self.work.ctx.metrics.task_ended(
                        WriteAction::CreateCustomer,
                        "succeeded",
                        None,
                    );
                    self.event(
                        "CustomerCreated",
                        "CreateCustomer",
                        format!("created customer {guid}"),
                    )
                    .await;
                }
                if adopted {
                    // The lead is this object's, so the customer made from it is too.
                    self.event(
                        "Adopted",
                        "AdoptCustomer",
                        format!("took over customer {guid}, made from the lead of tenant {tenant}"),
                    )
                    .await;
                }
                self.work.draft.status.customer_id = Some(guid);
            }
            Settle::CustomerTaskEnded(guid) => {
                tasks::finish(self.work.draft);
                self.seen.task = None;
                self.seen.customer_created = true;
                self.work.draft.status.created_by_operator = true;
                match guid {
                    Some(guid) => {
                        self.event(
                            "CustomerCreated",
                            "CreateCustomer",
                            format!("created customer {guid}"),
                        )
                        .await;
                        self.work.draft.status.customer_id = Some(guid.clone());
                        if let Some(lead) = self.lead_mut() {
                            lead.ump_customer_guid = Some(guid);
                        }
                        self.remember();
                    }
                    // The lead shows the customer: looked at again.
                    None => self.seen.lead = None,
                }
            }
            Settle::ForgetLostCreation | Settle::ForgetLostUpgrade => {
                tasks::finish(self.work.draft)
            }
            Settle::UpgradeEnded => {
                // The licence is the one the upgrade asked for (its operation's item):
                // what is held says so, without reading the customer again.
                let asked = self
                    .work
                    .draft
                    .status
                    .operation
                    .as_ref()
                    .and_then(|op| op.items.first())
                    .and_then(|item| upgrade_item(item));
                tasks::finish(self.work.draft);
                self.seen.task = None;
                match (asked, self.seen.details.as_mut()) {
                    (Some((to, count)), Some(details)) => {
                        licence_now(details, to, count);
                        self.remember();
                    }
                    _ => self.forget_licence(),
                }
                self.event(
                    "LicenseUpgraded",
                    "UpgradeLicense",
                    "the licence upgrade finished".to_owned(),
                )
                .await;
            }
            Settle::Licence {
                license,
                default_domain,
            } => {
                self.work.draft.status.license = Some(license);
                self.work.draft.status.default_domain = default_domain;
            }
        }
        Ok(())
    }

    async fn write(&mut self, write: Write) -> Result<AfterWrite> {
        self.send(write).await
    }

    async fn finish(&mut self) {
        tasks::finish(self.work.draft);
        self.seen.task = None;
    }

    fn describe(&self, write: &Write) -> Option<PlannedAction> {
        use liveplatform::Action as A;
        let spec = &self.work.obj.spec;
        let tenant = spec.tenant_id.to_ascii_lowercase();
        let (action, description) = match write {
            Write::CreateLead => (
                A::CreateLead,
                format!("create the lead of tenant {tenant} ({})", spec.company_name),
            ),
            Write::AssignChannel(channel) => (
                A::AssignChannel,
                format!("assign the lead of tenant {tenant} to channel {channel}"),
            ),
            Write::RemoveChannel(channel) => (
                A::RemoveChannel,
                format!("remove the lead of tenant {tenant} from channel {channel}"),
            ),
            Write::CreateCustomer => (
                A::CreateCustomer,
                format!(
                    "create customer {} from the lead of tenant {tenant}",
                    spec.short_name
                ),
            ),
            Write::UpgradeLicense { to, count } => (
                A::UpgradeLicense,
                format!("upgrade the licence of tenant {tenant} to {to:?} x {count}"),
            ),
            Write::ChangeLicense { from, to, count } => (
                A::ChangeLicense,
                format!("change the licence of tenant {tenant} from {from:?} to {to:?} x {count}"),
            ),
            Write::DeleteService(id) => (
                A::DeleteService,
                format!("delete the service {id} of tenant {tenant}"),
            ),
            Write::DeleteLead => (A::DeleteLead, format!("delete the lead of tenant {tenant}")),
            Write::DeleteDependents | Write::LetGo(_) => return None,
        };
        Some(planned(
            action,
            format!("tenant {tenant}"),
            1,
            1,
            description,
        ))
    }
}
