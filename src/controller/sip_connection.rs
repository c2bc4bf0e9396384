//! The life of an `OCSipConnection`: check the SBC against the platform's calling
//! profiles; add the site location (carrier password from a Secret in the object's
//! namespace) or adopt one of the same name; follow the onboarding task; map the SBC
//! and Microsoft 365 deployment states to conditions; modify the site when the spec or
//! the platform drifts; on delete, remove it and follow the cleanup task.

use std::sync::Arc;

use kube::api::Api;
use kube::runtime::controller::Action;

use super::adoption;
use super::conclusion;
use super::context::Context;
use super::customer_scope::{CustomerScope, customer_scope, namespace_of, without_scope};
use super::drive;
use super::error::{Error, Result};
use super::finalizer;
use super::lifecycle::{self, Departing, Leaving};
use super::management::{self, planned};
use super::plan::{self, AfterWrite, Next, Planner, Report, Wait};
use super::secret_access::{self, Purpose};
use super::status::{StatusDraft, namespaced_api};
use super::stops::{Failure, Rejection};
use super::tasks;
use crate::api::OCSipConnection;
use crate::api::common::{PlannedAction, WriteAction};
use crate::api::conditions::{READY, reason};
use crate::api::sip_connection::{OCSipConnectionSpec, OCSipConnectionStatus};
use liveplatform::contract::deployment_state::{self, DEPLOYED, FAILED, REMOVING};
use liveplatform::model::{AddSipConnection, ModifySipConnection, SbcInfo, SipConnection};
use liveplatform::secret::Secret as SecretString;
use liveplatform::{Error as PlatformError, TaskOutcome};

type Draft = StatusDraft<OCSipConnection>;

pub async fn reconcile(obj: Arc<OCSipConnection>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, &*obj);
    drive(obj, ctx, api, run).await
}

impl Departing for OCSipConnection {
    const ORPHAN_LEAVES: &'static str = "the site location stays on the platform";

    /// A site is looked up on the platform before it is let go (its add may have been
    /// lost), so only the policy lets it leave at once.
    fn leaving(&self, _status: &OCSipConnectionStatus) -> Option<Leaving> {
        Some(lifecycle::leaving_of(
            finalizer::is_deleting(self),
            finalizer::has(self),
            self.spec.deletion_policy,
            false,
        ))
    }
}

async fn run(
    obj: &OCSipConnection,
    ctx: &Context,
    api: &Api<OCSipConnection>,
    draft: &mut Draft,
) -> Result<Action> {
    let deleting = finalizer::is_deleting(obj);
    let scope = match customer_scope(ctx, obj, draft).await? {
        Ok(scope) => scope,
        Err(why) => {
            let never_added = draft.status.site_location_id.is_none();
            return without_scope(ctx, api, obj, why, never_added).await;
        }
    };
    let mut password = None;
    if !deleting {
        check_sbc(obj, &scope)?;
        if finalizer::add(api, obj).await? {
            return Ok(Action::await_change());
        }
        // A site whose carrier password cannot be read is not Ready, even when the
        // platform matches (an adopted site, an imported stub not filled in yet): the
        // next change of the site could not be sent. Read once, for the add too.
        password = carrier_password(ctx, obj).await?;
    }
    let mut reconcile = SiteReconcile {
        obj,
        ctx,
        api,
        draft,
        scope: &scope,
        seen: Seen::default(),
        deleting,
        password,
    };
    let outcome = plan::run(
        &mut reconcile,
        "OCSipConnection",
        management::observe_only(obj, &ctx.stores),
    )
    .await?;
    Ok(conclusion::conclude(ctx, obj, draft, outcome).await)
}

/// What this reconcile has read so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// The last look at the task in flight.
    pub task: Option<TaskOutcome>,
    /// The site location of the recorded id (`Some(None)`: the platform has none).
    pub site: Option<Option<SipConnection>>,
    /// The id of the customer's site location of the spec's name, if any.
    pub by_name: Option<Option<String>>,
    /// An add whose answer was lost: the site found by name is this object's own,
    /// added from the spec of `Some(generation)` when the intent recorded it.
    pub added_unseen: Option<Option<i64>>,
    /// The site found by name was taken over in this reconcile.
    pub adopted: bool,
}

/// What the planner knows besides the platform.
#[derive(Debug, Clone)]
pub struct Known<'a> {
    pub spec: &'a OCSipConnectionSpec,
    pub status: &'a OCSipConnectionStatus,
    pub generation: Option<i64>,
    pub may_adopt: bool,
    pub deleting: bool,
    pub tenant: &'a str,
    /// The operator created the customer (see `OCCustomerStatus::created_by_operator`):
    /// no site of it predates the operator, so a site not recorded is added without
    /// looking for one of its name first.
    pub customer_created: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Look {
    Task(String),
    /// Get SIP Connection of this site location.
    Site(String),
    /// The customer's site locations, for one of the spec's name.
    ByName,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Settle {
    /// The task in flight ended well.
    TaskEnded,
    /// The task in flight failed; the site's state shows what to do next.
    TaskFailed(String),
    /// A write whose answer was lost; `added` when it was the add, which carried the
    /// spec of `generation`.
    ForgetLost {
        added: bool,
        generation: Option<i64>,
    },
    /// The recorded site location is gone from the platform: it is added again.
    SiteMissing(String),
    /// A site of the spec's name no object added is taken over (the opt-in is set).
    Adopt(String),
    /// The site location `id` found by name is this object's; after a lost add it was
    /// added from the spec of generation `applied`, which need not be sent again.
    Found { id: String, applied: Option<i64> },
    /// A site taken over as it is: the spec is already applied.
    AppliedAsIs,
    /// The deployment states as the platform reports them.
    States {
        sbc: Option<String>,
        m365: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Add,
    Modify(String),
    Delete(String),
    /// Removes the finalizer; `Some(id)` when the site location was seen removed.
    LetGo(Option<String>),
}

pub type Step = plan::Step<Look, Settle, Write>;

fn running_op(status: &OCSipConnectionStatus) -> Option<(WriteAction, &Option<String>)> {
    status.operation.as_ref().map(|op| (op.action, &op.task_id))
}

fn is_add(action: WriteAction) -> bool {
    action == WriteAction::AddSipConnection
}

/// The next step towards the spec (pure).
pub fn plan(known: &Known, seen: &Seen) -> Step {
    use plan::Step::*;
    if known.deleting {
        return plan_deletion(known, seen);
    }
    let (spec, status) = (known.spec, known.status);
    if let Some((action, task)) = running_op(status) {
        let Some(task) = task else {
            return Settle(self::Settle::ForgetLost {
                added: is_add(action),
                generation: status.operation.as_ref().and_then(|op| op.generation),
            });
        };
        return match &seen.task {
            None => Look(self::Look::Task(task.clone())),
            Some(TaskOutcome::StillRunning(t)) => Wait(plan::Wait::new(
                reason::WAITING_FOR_TASK,
                format!("{action} (task {task}, {})", t.status.as_str()),
                Next::Task,
            )),
            Some(TaskOutcome::Failed(t)) => Settle(self::Settle::TaskFailed(t.error_summary())),
            Some(_) => Settle(self::Settle::TaskEnded),
        };
    }
    let site = match (&status.site_location_id, &seen.site) {
        (Some(id), None) => return Look(self::Look::Site(id.clone())),
        (Some(id), Some(None)) => return Settle(self::Settle::SiteMissing(id.clone())),
        (Some(id), Some(Some(site))) => (id, site),
        (None, _) => {
            let first_add = known.customer_created
                && !known.may_adopt
                && seen.added_unseen.is_none()
                && status.operation.is_none();
            return match &seen.by_name {
                None if first_add => Write(self::Write::Add),
                None => Look(self::Look::ByName),
                Some(None) => Write(self::Write::Add),
                Some(Some(id)) if seen.added_unseen.is_none() && !seen.adopted => {
                    let existing = format!(
                        "site {} (site location {id}) of tenant {}",
                        spec.site_name, known.tenant
                    );
                    if known.may_adopt {
                        Settle(self::Settle::Adopt(existing))
                    } else {
                        Refuse {
                            existing,
                            advice: "choose another siteName",
                        }
                    }
                }
                Some(Some(id)) => Settle(self::Settle::Found {
                    id: id.clone(),
                    applied: seen.added_unseen.flatten(),
                }),
            };
        }
    };
    let (id, site) = site;
    let spec_changed = status.applied_generation != known.generation;
    if seen.adopted && spec_changed && !drifted(spec, site) {
        return Settle(self::Settle::AppliedAsIs);
    }
    let sbc_name = site
        .sbc_deployment_state
        .map(|s| deployment_state::name(s).to_owned());
    let m365_name = site
        .m365_deployment_state
        .map(|s| deployment_state::name(s).to_owned());
    if status.sbc_deployment_state != sbc_name || status.m365_deployment_state != m365_name {
        return Settle(self::Settle::States {
            sbc: sbc_name,
            m365: m365_name,
        });
    }
    if !site.pending_tasks.is_empty() {
        return Wait(plan::Wait::new(
            reason::WAITING_FOR_TASK,
            format!("the platform runs tasks on site location {id}"),
            Next::Task,
        ));
    }
    if spec_changed || drifted(spec, site) {
        return Write(self::Write::Modify(id.clone()));
    }
    let (sbc, m365) = (
        site.sbc_deployment_state.unwrap_or(-1),
        site.m365_deployment_state.unwrap_or(-1),
    );
    if sbc == FAILED || m365 == FAILED {
        return Reject(Rejection::SiteDeploymentFailed {
            site: id.to_string(),
            sbc: deployment_state::name(sbc),
            microsoft_365: deployment_state::name(m365),
        });
    }
    if sbc != DEPLOYED || m365 != DEPLOYED {
        return Wait(plan::Wait::new(
            reason::WAITING_FOR_TASK,
            format!("site location {id} is {}", deployment_state::name(sbc)),
            Next::Task,
        ));
    }
    Ready(Report::new(format!(
        "site location {id} is deployed on SBC {}",
        spec.sbc_id
    )))
}

/// Only a site this object added (or took over) is removed; after an add whose
/// answer was lost, the site is found by name.
fn plan_deletion(known: &Known, seen: &Seen) -> Step {
    use plan::Step::*;
    let status = known.status;
    let op = running_op(status);
    let id = match (&status.site_location_id, op) {
        (Some(id), _) => id.clone(),
        (None, Some((action, _))) if is_add(action) => match &seen.by_name {
            None => return Look(self::Look::ByName),
            Some(Some(id)) => id.clone(),
            Some(None) => return Write(self::Write::LetGo(None)),
        },
        (None, _) => return Write(self::Write::LetGo(None)),
    };
    let site = match &seen.site {
        None => return Look(self::Look::Site(id)),
        Some(None) => return Write(self::Write::LetGo(Some(id))),
        Some(Some(site)) => site,
    };
    if site.sbc_deployment_state == Some(REMOVING) || !site.pending_tasks.is_empty() {
        return Wait(plan::Wait::new(
            reason::DELETING,
            format!("the platform is removing site location {id}"),
            Next::Task,
        ));
    }
    // A removal that ran: its failure is reported; otherwise the site is still there,
    // not being removed, and the removal is sent again.
    if let Some((action, Some(task))) = op
        && action == WriteAction::DeleteSipConnection
    {
        match &seen.task {
            None => return Look(self::Look::Task(task.clone())),
            Some(TaskOutcome::Failed(t)) => {
                return Fail(
                    Failure::new(WriteAction::DeleteSipConnection, task, t.error_summary()).of(id),
                );
            }
            Some(_) => {}
        }
    }
    Write(self::Write::Delete(id))
}

/// One reconcile of one SIP connection.
struct SiteReconcile<'a> {
    obj: &'a OCSipConnection,
    ctx: &'a Context,
    api: &'a Api<OCSipConnection>,
    draft: &'a mut Draft,
    scope: &'a CustomerScope,
    seen: Seen,
    deleting: bool,
    /// The carrier password, read at the start of a reconcile that is not a deletion.
    password: Option<SecretString>,
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
                finalizer::remove(api, obj).await?;
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

/// Refuses, before any call, an SBC that no calling profile of the platform maps.
fn check_sbc(obj: &OCSipConnection, scope: &CustomerScope) -> Result<()> {
    let known: Vec<String> = scope
        .platform
        .status
        .iter()
        .flat_map(|s| s.calling_profiles.iter())
        .flat_map(|p| p.sbcs.iter().map(|s| s.id.clone()))
        .collect();
    if known.is_empty() {
        return Err(Error::Dependency(format!(
            "OCPlatform {} has not published its calling profiles yet",
            scope.platform.metadata.name.as_deref().unwrap_or_default()
        )));
    }
    if !known.contains(&obj.spec.sbc_id) {
        let mut known = known;
        known.sort();
        known.dedup();
        return Err(Error::InvalidSpec(format!(
            "SBC {} is not mapped by any calling profile of OCPlatform {}; use one of {}",
            obj.spec.sbc_id,
            scope.platform.metadata.name.as_deref().unwrap_or_default(),
            known.join(", ")
        )));
    }
    Ok(())
}

/// The id of the customer's site location named like this object's site, if any:
/// from Get Specific Customer with all details, which lists that customer's sites
/// (listing every service of the platform would grow with the platform's customers,
/// and be read once for each of them).
async fn find_by_name(spec: &OCSipConnectionSpec, scope: &CustomerScope) -> Result<Option<String>> {
    let customer = scope.client.get_customer(&scope.customer_id, true).await?;
    Ok(customer
        .service
        .site_location
        .into_iter()
        .find(|site| {
            site.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&spec.site_name))
        })
        .and_then(|site| site.id))
}

/// Whether the platform's site differs from the spec in what Get SIP Connection shows.
/// The site as an add or modify of `spec` leaves it once its task ended well: what
/// [`drifted`] compares, as sent, and deployed on the SBC and in Microsoft 365.
fn deployed_as_sent(spec: &OCSipConnectionSpec) -> SipConnection {
    SipConnection {
        site_name: Some(spec.site_name.clone()),
        sbc_deployment_state: Some(DEPLOYED),
        m365_deployment_state: Some(DEPLOYED),
        sbc_info: Some(SbcInfo {
            sbc_id: Some(spec.sbc_id.clone()),
            cac_profile: spec.cac_profile.clone(),
            flag_configure_sbc: spec.configure_sbc,
            ..SbcInfo::default()
        }),
        ..SipConnection::default()
    }
}

fn drifted(spec: &OCSipConnectionSpec, site: &SipConnection) -> bool {
    let info = site.sbc_info.clone().unwrap_or_default();
    site.site_name.as_deref() != Some(spec.site_name.as_str())
        || info.sbc_id.as_deref() != Some(spec.sbc_id.as_str())
        || (spec.cac_profile.is_some() && info.cac_profile != spec.cac_profile)
        || info.flag_configure_sbc != spec.configure_sbc
}

async fn carrier_password(ctx: &Context, obj: &OCSipConnection) -> Result<Option<SecretString>> {
    let Some(reference) = &obj.spec.carrier_password_secret_ref else {
        return Ok(None);
    };
    let ns = namespace_of(obj);
    let secret = secret_access::get(ctx, &ns, &reference.name, Purpose::CarrierPassword)
        .await?
        .ok_or_else(|| {
            Error::Dependency(format!(
                "Secret {ns}/{} (the carrier password) does not exist",
                reference.name
            ))
        })?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&reference.key))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::Dependency(format!(
                "Secret {ns}/{} has no (or an empty) key {}: put the site's carrier password there",
                reference.name, reference.key
            ))
        })?;
    Ok(Some(SecretString::new(value)))
}

fn add_request(spec: &OCSipConnectionSpec, password: Option<SecretString>) -> AddSipConnection {
    let mut params = serde_json::Map::new();
    for (k, v) in &spec.script_parameters {
        params.insert(k.clone(), v.clone().into());
    }
    if let Some(cac) = &spec.cac_profile {
        params
            .entry("CacProfile")
            .or_insert_with(|| cac.clone().into());
    }
    AddSipConnection {
        site_location_name: spec.site_name.clone(),
        ovoc_customer_type: spec.customer_type.platform_value().to_owned(),
        sbc_id: spec.sbc_id.clone(),
        sbc_onboarding_script: spec.onboarding_script.clone(),
        sbc_cleanup_script: spec.cleanup_script.clone(),
        script_parameters: params,
        carrier_password: password,
    }
}

fn modify_request(spec: &OCSipConnectionSpec, id: &str) -> ModifySipConnection {
    ModifySipConnection {
        site_location_id: id.to_owned(),
        sbc_id: Some(spec.sbc_id.clone()),
        sbc_site_name: Some(spec.site_name.clone()),
        cac_profile: spec.cac_profile.clone(),
        enable_cac: Some(spec.enable_cac),
        flag_configure_sbc: Some(spec.configure_sbc),
        flag_carrier_registration: Some(spec.carrier_registration),
    }
}
