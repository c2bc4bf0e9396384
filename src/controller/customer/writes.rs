//! A customer's writes, each through the write protocol (see `tasks`), and the
//! requests they send.

use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};

use crate::api::common::WriteAction;
use crate::api::conditions::{READY, reason};
use crate::api::customer::OCCustomerSpec;
use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};
use crate::controller::context::Context;
use crate::controller::error::{Error, Result};
use crate::controller::kind::CustomerOwned;
use crate::controller::plan::{AfterWrite, Next, Wait};
use crate::controller::tasks;
use liveplatform::model::{
    AssignChannel, ConfigurationType, CreateCustomer, CreateLead, LeadRef, LicenseChange,
};
use liveplatform::{Conflict, Error as PlatformError};

use super::*;

impl CustomerReconcile<'_> {
    /// Sends one write (the planner's `write`).
    pub(super) async fn send(&mut self, write: Write) -> Result<AfterWrite> {
        let tenant = tenant(&self.work.obj.spec);
        let (obj, api) = (self.work.obj, self.work.api);
        self.forget_for(&write);
        match write {
            Write::CreateLead => {
                self.work.draft.condition(
                    READY,
                    false,
                    reason::CREATING,
                    "creating the consentless lead",
                );
                let client = self.client()?.clone();
                let body = CreateLead {
                    tenant_id: tenant.clone(),
                    company_name: obj.spec.company_name.clone(),
                };
                let created = match tasks::send(
                    api,
                    obj,
                    self.work.draft,
                    &client,
                    WriteAction::CreateLead,
                    vec![tenant.clone()],
                    client.create_lead(&body),
                    tasks::nothing,
                )
                .await?
                {
                    Ok(created) => created,
                    // A lead appeared since it was looked up: looked up again, then
                    // adopted or refused.
                    Err(e) if e.conflict() == Some(Conflict::LeadExists) => {
                        self.seen.lead = None;
                        self.seen.lead_refused = true;
                        return Ok(AfterWrite::Replan);
                    }
                    Err(e) => return Err(e.into()),
                };
                self.event(
                    "LeadCreated",
                    "CreateLead",
                    format!("created the consentless lead of tenant {tenant}"),
                )
                .await;
                // The answer carries the new lead [chosen]; read it only when it does not.
                let lead = match created {
                    Some(lead) => lead,
                    None => client.get_lead(&tenant).await?.ok_or_else(|| {
                        Error::TaskFailed(format!(
                            "the lead of tenant {tenant} was created but the platform does not list it yet"
                        ))
                    })?,
                };
                self.seen.lead = Some(Some(lead));
                self.remember();
                Ok(AfterWrite::Replan)
            }
            Write::AssignChannel(want) => {
                // Recorded first: after a lost answer (or a restart) the lead is read
                // before the lead is assigned again. The intent ends when the replan
                // settles the channel (`Settle::Channel`).
                let client = self.client()?.clone();
                let body = AssignChannel {
                    lead: LeadRef::MsTenantId(tenant),
                    channel_id: want,
                };
                tasks::send(
                    api,
                    obj,
                    self.work.draft,
                    &client,
                    WriteAction::AssignChannel,
                    vec![want.to_string()],
                    client.assign_channel(&body),
                    tasks::nothing,
                )
                .await??;
                self.event(
                    "ChannelAssigned",
                    "AssignChannel",
                    format!("put the lead in channel {want}"),
                )
                .await;
                if let Some(lead) = self.lead_mut() {
                    lead.channel_id = Some(want);
                }
                self.remember();
                Ok(AfterWrite::Replan)
            }
            Write::RemoveChannel(have) => {
                let client = self.client()?.clone();
                tasks::send(
                    api,
                    obj,
                    self.work.draft,
                    &client,
                    WriteAction::RemoveChannel,
                    vec![have.to_string()],
                    client.remove_channel(&tenant),
                    tasks::nothing,
                )
                .await??;
                self.event(
                    "ChannelRemoved",
                    "RemoveChannel",
                    format!("took the lead out of channel {have}"),
                )
                .await;
                if let Some(lead) = self.lead_mut() {
                    lead.channel_id = None;
                }
                self.remember();
                Ok(AfterWrite::Replan)
            }
            Write::CreateCustomer => {
                self.work.draft.condition(
                    READY,
                    false,
                    reason::CREATING,
                    "creating the customer from the lead",
                );
                let client = self.client()?.clone();
                let request = create_customer_request(&obj.spec);
                let sent = tasks::send(
                    api,
                    obj,
                    self.work.draft,
                    &client,
                    WriteAction::CreateCustomer,
                    vec![tenant],
                    client.create_customer(&request),
                    tasks::nothing,
                )
                .await?;
                let channel = channel_condition(&obj.spec);
                match sent {
                    Ok(task) => Ok(AfterWrite::Wait(
                        Wait::new(
                            reason::WAITING_FOR_TASK,
                            format!("creating the customer (task {task})"),
                            Next::Task,
                        )
                        .also(channel),
                    )),
                    // A creation started before (its answer lost) is still running or
                    // has just finished: the lead, read now, shows the customer once
                    // it is there.
                    Err(e)
                        if matches!(
                            e.conflict(),
                            Some(Conflict::CustomerBeingCreated | Conflict::CustomerExists)
                        ) =>
                    {
                        self.seen.lead = None;
                        self.seen.customer_refused = true;
                        Ok(AfterWrite::Replan)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Write::UpgradeLicense { to, count } => {
                let Some(guid) = self.work.draft.status.customer_id.clone() else {
                    return Err(Error::TaskFailed(
                        "the licence upgrade needs the customer's id, which is not recorded yet"
                            .to_owned(),
                    ));
                };
                self.work.draft.condition(
                    READY,
                    false,
                    reason::UPDATING,
                    format!("upgrading the licence to {to:?}"),
                );
                let client = self.client()?.clone();
                let body = LicenseChange::new(to.code(), count);
                let sent = tasks::send(
                    api,
                    obj,
                    self.work.draft,
                    &client,
                    WriteAction::UpgradeLicense,
                    vec![upgrade_item_of(to, count)],
                    client.upgrade_license(&guid, &body),
                    tasks::nothing,
                )
                .await?;
                let task = match sent {
                    Ok(task) => task,
                    Err(e) if e.conflict() == Some(Conflict::LicenceChangeRefused) => {
                        self.seen.upgrade_refused = true;
                        return Ok(self.read_licence_again());
                    }
                    Err(e) => return Err(e.into()),
                };
                Ok(AfterWrite::Wait(
                    Wait::new(
                        reason::UPDATING,
                        format!("upgrading the licence (task {task})"),
                        Next::Task,
                    )
                    .also(upgrading(&task.0))
                    .also(channel_condition(&obj.spec)),
                ))
            }
            Write::ChangeLicense { from, to, count } => {
                let Some(guid) = self.work.draft.status.customer_id.clone() else {
                    return Err(Error::TaskFailed(
                        "the licence change needs the customer's id, which is not recorded yet"
                            .to_owned(),
                    ));
                };
                let changed = self
                    .client()?
                    .change_license(&guid, &LicenseChange::new(to.code(), count))
                    .await;
                match changed {
                    Ok(_) => {}
                    Err(e) if e.conflict() == Some(Conflict::LicenceChangeRefused) => {
                        self.seen.change_refused = true;
                        return Ok(self.read_licence_again());
                    }
                    Err(e) => return Err(e.into()),
                }
                self.event(
                    "LicenseChanged",
                    "ChangeLicense",
                    format!("licence changed from {from:?} to {to:?} x{count}"),
                )
                .await;
                if let Some(details) = &mut self.seen.details {
                    licence_now(details, to, count);
                }
                self.remember();
                Ok(AfterWrite::Replan)
            }
            Write::DeleteDependents => {
                let first = self
                    .seen
                    .dependents
                    .as_ref()
                    .and_then(|all| all.iter().position(|d| !d.objects.is_empty()));
                if let Some(index) = first
                    && let Some(all) = &mut self.seen.dependents
                {
                    let (ctx, obj) = (self.work.ctx, self.work.obj);
                    let objects = &mut all[index].objects;
                    match index {
                        0 => delete_dependents::<OCEndUser>(ctx, obj, objects).await?,
                        1 => delete_dependents::<OCDialPlan>(ctx, obj, objects).await?,
                        2 => delete_dependents::<OCSipConnection>(ctx, obj, objects).await?,
                        _ => delete_dependents::<OCNumberBlock>(ctx, obj, objects).await?,
                    }
                }
                Ok(AfterWrite::Replan)
            }
            Write::DeleteService(customer) => {
                match self.client()?.delete_service(&customer).await {
                    Ok(_) | Err(PlatformError::NotFound { .. }) => {
                        self.event(
                            "ServiceDeleted",
                            "DeleteService",
                            format!("deleted customer {customer}"),
                        )
                        .await;
                    }
                    Err(e) => return Err(e.into()),
                }
                self.work.draft.status.customer_id = None;
                if let Some(lead) = self.lead_mut() {
                    lead.ump_customer_guid = None;
                }
                Ok(AfterWrite::Replan)
            }
            Write::DeleteLead => {
                match self.client()?.delete_lead(&tenant).await {
                    Ok(_) | Err(PlatformError::NotFound { .. }) => {
                        self.event(
                            "LeadDeleted",
                            "DeleteLead",
                            format!("deleted the lead of tenant {tenant}"),
                        )
                        .await;
                    }
                    Err(e) => return Err(e.into()),
                }
                self.seen.lead = Some(None);
                Ok(AfterWrite::Replan)
            }
            Write::LetGo(note) => {
                if let Some(note) = note {
                    self.event("Orphaned", "Delete", note.to_owned()).await;
                }
                Ok(AfterWrite::Gone)
            }
        }
    }
}

pub(super) fn create_customer_request(spec: &OCCustomerSpec) -> CreateCustomer {
    CreateCustomer {
        configuration: match spec.configuration_type {
            crate::api::customer::ConfigurationType::TenantType => ConfigurationType::TenantType,
            crate::api::customer::ConfigurationType::IpGroupType => ConfigurationType::IpGroupType,
        },
        customer_short_name: spec.short_name.clone(),
        customer_full_name: spec.full_name.clone(),
        ms_tenant_id: tenant(spec),
        script_parameters: spec
            .script_parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect(),
    }
}

/// The customer's objects of kind `K`, read from the apiserver (not a cache: a
/// dependent created a moment ago must not be missed before the lead goes).
pub(super) async fn dependents<K: CustomerOwned>(
    ctx: &Context,
    obj: &OCCustomer,
) -> Result<Dependents> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let all = api
        .list(&ListParams::default())
        .await
        .map_err(Error::kube(format!(
            "listing the {} of OCCustomer {ns}/{}",
            K::WHAT,
            obj.name_any()
        )))?;
    Ok(Dependents {
        what: K::WHAT,
        objects: all
            .items
            .into_iter()
            .filter(|d| d.customer() == obj.name_any())
            .map(|d| (d.name_any(), d.meta().deletion_timestamp.is_some()))
            .collect(),
    })
}

/// Deletes those of `objects` (the customer's of kind `K`) that are not being deleted
/// yet, and marks them as being deleted.
pub(super) async fn delete_dependents<K: CustomerOwned>(
    ctx: &Context,
    obj: &OCCustomer,
    objects: &mut [(String, bool)],
) -> Result<()> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    for (name, deleting) in objects.iter_mut().filter(|(_, deleting)| !*deleting) {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if crate::controller::error::is_not_found(&e) => {}
            Err(e) => {
                return Err(Error::kube(format!(
                    "deleting {} {ns}/{name}",
                    K::kind(&())
                ))(e));
            }
        }
        *deleting = true;
    }
    Ok(())
}
