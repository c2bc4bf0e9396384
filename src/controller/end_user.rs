//! The life of an `OCEndUser`: provision the user's voice settings on the customer;
//! report what the platform shows for the user (from the paged user list); wait,
//! without error storms, while the customer's licence does not allow end users; on
//! delete, take the line URI and voice off the user.

use std::time::Duration;

use kube::api::Api;

use super::adoption;
use super::context::Context;
use super::customer_scope::CustomerScope;
use super::error::Result;
use super::lifecycle::{Departing, Terms};
use super::management::planned;
use super::number_set::NumberSet;
use super::numbers::Projection;
use super::plan::{self, AfterWrite, Next, Planner, Report, Wait};
use super::reconciler::{Admission, Reconciler};
use super::status::StatusDraft;
use super::stops::Failure;
use super::tasks;
use crate::api::common::{PlannedAction, WriteAction};
use crate::api::conditions::{READY, reason};
use crate::api::customer::LicenseType;
use crate::api::end_user::{OCEndUserSpec, OCEndUserStatus};
use crate::api::{OCEndUser, OCNumberBlock};
use liveplatform::model::{EndUser, ProvisionEndUser};
use liveplatform::{Error as PlatformError, TaskOutcome};

type Draft = StatusDraft<OCEndUser>;

pub use crate::api::conditions::reason::{LICENSE_REQUIRED, WAITING_FOR_LICENSE};
const PAGE_SIZE: u32 = 500;

impl Reconciler for OCEndUser {
    /// Whether the customer's licence allows end users.
    type Found = bool;
    type Reconcile<'a> = EndUserReconcile<'a>;

    /// No customer on the platform: the user's voice settings went with it.
    fn holds_nothing(_status: &OCEndUserStatus) -> bool {
        true
    }

    /// A user whose customer's licence allows no end users can hold nothing on the
    /// platform: it takes its finalizer once the licence does.
    async fn admit(
        &self,
        _ctx: &Context,
        _draft: &mut Draft,
        scope: &CustomerScope,
        _deleting: bool,
    ) -> Result<Admission<bool>> {
        let licensed = scope
            .customer
            .status
            .as_ref()
            .and_then(|s| s.license.as_ref())
            .and_then(|l| LicenseType::from_name(&l.type_))
            .is_some_and(LicenseType::allows_end_users);
        Ok(Admission::Go {
            found: licensed,
            finalizer: licensed,
        })
    }

    async fn reconciling<'a>(
        &'a self,
        ctx: &'a Context,
        api: &'a Api<OCEndUser>,
        draft: &'a mut Draft,
        scope: &'a CustomerScope,
        deleting: bool,
        licensed: bool,
    ) -> Result<EndUserReconcile<'a>> {
        Ok(EndUserReconcile {
            obj: self,
            ctx,
            api,
            draft,
            scope,
            seen: Seen::default(),
            deleting,
            licensed,
            upgrade_declared: scope.customer.spec.license.type_.allows_end_users(),
            number_pending: line_number_pending(ctx, self),
        })
    }
}

/// The number block of the same customer that declares the number of the user's line
/// URI and is on its way to bring it to the platform (creating, updating, or waiting
/// for its task or its customer; the number not refused): provisioning before then
/// fails on the platform ("not an active number of
/// this customer"), so the user waits for the block instead. A number no block
/// declares is left to the platform to judge.
fn line_number_pending(ctx: &Context, obj: &OCEndUser) -> Option<String> {
    let number = line_number(obj.spec.line_uri.as_deref()?)?;
    let ns = obj.metadata.namespace.as_deref()?;
    ctx.stores
        .blocks_of(ns, &obj.spec.customer_ref.name)
        .into_iter()
        .find(|block| brings(block, number))
        .and_then(|block| block.metadata.name.clone())
}

/// Whether `block` is on its way to bring `number` to the platform: it declares it,
/// has no verdict yet or one that comes by itself (a block that is Ready, held,
/// refused or rejected is not waited for), did not refuse it, and has not brought it
/// already (a block on its way with other numbers, say one added to its spec, holds
/// this one active, outside the write in flight).
pub fn brings(block: &OCNumberBlock, number: &str) -> bool {
    let status = block.status.as_ref();
    let on_its_way = status
        .and_then(|s| crate::api::conditions::find(&s.conditions, READY))
        .is_none_or(|c| {
            c.status != "True"
                && [
                    reason::CREATING,
                    reason::UPDATING,
                    reason::WAITING_FOR_TASK,
                    reason::WAITING_FOR_CUSTOMER,
                    reason::WAITING_FOR_PLATFORM,
                ]
                .contains(&c.reason.as_str())
        });
    let refused = status.is_some_and(|s| s.failed.iter().any(|f| f.number == number));
    let brought = status.is_some_and(|s| {
        NumberSet::from_ranges(&s.active).contains(number)
            && !s
                .operation
                .as_ref()
                .is_some_and(|op| NumberSet::from_ranges(&op.items).contains(number))
    });
    on_its_way && !refused && !brought && NumberSet::declared(&block.spec).contains(number)
}

/// The number of a line URI (`tel:+14255550101;ext=101` -> `+14255550101`).
fn line_number(uri: &str) -> Option<&str> {
    uri.strip_prefix("tel:")?.split(';').next()
}

/// What a provisioning that ended did to the numbers of the tenant: the number of
/// the line URI it set is assigned, the one the user had before is free. Applied to
/// the tenant's held numbers listing at once, so that a block deciding on assigned
/// numbers (a release that policy Keep holds back) does not decide from before.
async fn record_assignment(ctx: &Context, tenant: &str, before: Option<&str>, after: Option<&str>) {
    let freed = before
        .and_then(line_number)
        .filter(|n| Some(*n) != after.and_then(line_number));
    let assigned = after.and_then(line_number);
    if freed.is_none() && assigned.is_none() {
        return;
    }
    ctx.platform
        .numbers
        .project(tenant, Projection::Outside, |numbers| {
            numbers.assignment(freed, assigned)
        })
        .await;
}

/// Whether this object provisioned the user (or took it over) at some point.
impl Departing for OCEndUser {
    const ORPHAN_LEAVES: &'static str = "the user stays provisioned in Teams";

    /// An end user that never provisioned the user: its voice settings are not its own.
    fn terms(&self, status: &OCEndUserStatus) -> Option<Terms> {
        Some(Terms {
            policy: self.spec.deletion_policy,
            holds_nothing: !claimed(status),
        })
    }
}

fn claimed(status: &OCEndUserStatus) -> bool {
    status.applied_generation.is_some()
        || status.operation.is_some()
        || status.ownership.owned_since.is_some()
}

/// What this reconcile has read so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// The last look at the provisioning task in flight.
    pub task: Option<TaskOutcome>,
    /// The user as the platform lists it (`Some(None)`: not listed).
    pub user: Option<Option<EndUser>>,
    /// The platform said the customer's licence does not allow end users.
    pub license_required: bool,
    /// Voice settings found were taken over in this reconcile.
    pub adopted: bool,
    /// The removal of the voice settings was seen to end (deletion).
    pub removed: bool,
    /// A provisioning whose answer was lost was forgotten in this reconcile: the
    /// settings found are this object's own, sent from the spec of `Some(generation)`
    /// when the intent recorded it.
    pub lost: Option<Option<i64>>,
}

/// What the planner knows besides the platform.
#[derive(Debug, Clone)]
pub struct Known<'a> {
    pub spec: &'a OCEndUserSpec,
    pub status: &'a OCEndUserStatus,
    pub generation: Option<i64>,
    pub may_adopt: bool,
    pub deleting: bool,
    /// The customer's licence allows end users (OcEssentialsPlus or OcPro).
    pub licensed: bool,
    /// The customer's spec asks for such a licence (an upgrade that will come by
    /// itself when it is not there yet).
    pub upgrade_declared: bool,
    pub customer: &'a str,
    pub tenant: &'a str,
    /// How long to wait before looking at the licence again.
    pub license_recheck: Duration,
    /// The number block that has yet to bring the line URI's number (see
    /// `line_number_pending`).
    pub number_pending: Option<&'a str>,
    /// The operator created the customer (see `OCCustomerStatus::created_by_operator`):
    /// no voice settings of its users predate the operator, so the first
    /// provisioning is sent without looking the user up.
    pub customer_created: bool,
    pub now: jiff::Timestamp,
    /// How long a provisioning whose answer was lost is given to show in the user
    /// list before it is looked up (see `tasks::lost_answer_grace`).
    pub lost_answer_grace: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Look {
    Task(String),
    User,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Settle {
    /// The provisioning task ended well.
    TaskEnded,
    /// A provisioning whose answer was lost, sent from the spec of `generation`: the
    /// user list shows what happened.
    ForgetLost { generation: Option<i64> },
    /// The settings of the lost provisioning show on the platform: the spec of that
    /// generation is applied, and is not sent again.
    LostWriteLanded(Option<i64>),
    /// Voice settings no object provisioned are taken over (the opt-in is set);
    /// `as_is` when they already match the spec.
    Adopt { existing: String, as_is: bool },
    /// What the platform lists for the user.
    Record(EndUser),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Provisions the spec's voice settings, or (deleting) takes them off.
    Provision { deleting: bool },
    /// Removes the finalizer.
    LetGo,
}

pub type Step = plan::Step<Look, Settle, Write>;

/// Waits for the customer's licence: `WaitingForLicense` while its declared upgrade is
/// under way (it comes by itself), `LicenseRequired` while its spec keeps
/// OcEssentials (a person must upgrade it).
fn license_wait(known: &Known) -> Step {
    let (reason, message) = if known.upgrade_declared {
        (
            WAITING_FOR_LICENSE,
            format!(
                "OCCustomer {}'s licence upgrade is under way; this user follows by itself once the platform shows it",
                known.customer
            ),
        )
    } else {
        (
            LICENSE_REQUIRED,
            format!(
                "OCCustomer {} has an OcEssentials licence; end users need OcEssentialsPlus or OcPro: upgrade the customer's spec.license.type, and this user follows by itself",
                known.customer
            ),
        )
    };
    plan::Step::Wait(Wait::new(
        reason,
        message,
        Next::After(known.license_recheck),
    ))
}

/// The next step towards the spec (pure).
pub fn plan(known: &Known, seen: &Seen) -> Step {
    use plan::Step::*;
    let (spec, status) = (known.spec, known.status);
    let sip = &spec.sip_address;
    if !known.licensed || seen.license_required {
        if known.deleting {
            // Never provisioned under this licence: nothing to take back.
            return Write(self::Write::LetGo);
        }
        return license_wait(known);
    }
    if known.deleting && seen.removed {
        return Write(self::Write::LetGo);
    }
    if !known.deleting
        && status.operation.is_none()
        && let Some(block) = known.number_pending
    {
        return Wait(plan::Wait::new(
            reason::WAITING_FOR_DEPENDENCY,
            format!(
                "the number of lineUri {} is declared by OCNumberBlock {block}, which has not brought it to the platform yet; {sip} is provisioned once it has",
                spec.line_uri.as_deref().unwrap_or_default()
            ),
            Next::Shortly,
        ));
    }
    if let Some(op) = status
        .operation
        .as_ref()
        .filter(|op| op.action == WriteAction::ProvisionEndUser)
    {
        if let Some((over, remaining)) =
            tasks::lost_answer_grace(op, known.lost_answer_grace, known.now)
        {
            return Wait(plan::Wait::new(
                reason::WAITING_FOR_TASK,
                format!(
                    "provisioning {sip} was sent at {} but its answer was lost, and the user list shows it only once its task ended; the operator looks the user up at {over} (in {} s) and sends it again only if it did not happen",
                    op.started_at.0,
                    remaining.as_secs()
                ),
                Next::After(remaining),
            ));
        }
        let Some(task) = &op.task_id else {
            return Settle(self::Settle::ForgetLost {
                generation: op.generation,
            });
        };
        return match &seen.task {
            None => Look(self::Look::Task(task.clone())),
            Some(TaskOutcome::StillRunning(_)) => Wait(plan::Wait::new(
                reason::WAITING_FOR_TASK,
                format!("provisioning {sip} (task {task})"),
                Next::Task,
            )),
            Some(TaskOutcome::Failed(t)) => {
                Fail(Failure::new(WriteAction::ProvisionEndUser, task, t.error_summary()).of(sip))
            }
            Some(_) => Settle(self::Settle::TaskEnded),
        };
    }
    let Some(reported) = &seen.user else {
        let first = known.customer_created
            && !known.may_adopt
            && !known.deleting
            && !claimed(status)
            && seen.lost.is_none();
        if first {
            return Write(self::Write::Provision { deleting: false });
        }
        return Look(self::Look::User);
    };
    let settings = settings(spec);
    if let Some(user) = reported
        .as_ref()
        .filter(|u| !claimed(status) && !seen.adopted && seen.lost.is_none() && is_voice_enabled(u))
    {
        // Voice settings that no object in the cluster provisioned: taken over only on
        // request.
        let existing = format!(
            "voice settings for user {sip} of tenant {} (line URI {})",
            known.tenant,
            user.line_uri.as_deref().unwrap_or("none")
        );
        if !known.may_adopt {
            return Refuse {
                existing,
                advice: "delete this object",
            };
        }
        return Settle(self::Settle::Adopt {
            existing,
            as_is: reported_matches(user, &settings),
        });
    }
    if let Some(user) = reported
        && (status.object_id != user.object_id
            || status.line_uri != user.line_uri
            || status.enterprise_voice_enabled != Some(user.enterprise_voice_enabled)
            || status.online_voice_routing_policy != user.online_voice_routing_policy)
    {
        return Settle(self::Settle::Record(user.clone()));
    }
    let body = if known.deleting { removal() } else { settings };
    let matches = reported
        .as_ref()
        .is_some_and(|u| reported_matches(u, &body));
    if known.deleting {
        return Write(if reported.is_none() || matches {
            self::Write::LetGo
        } else {
            self::Write::Provision { deleting: true }
        });
    }
    if matches
        && status.applied_generation != known.generation
        && let Some(sent) = seen.lost.filter(|sent| *sent == known.generation)
    {
        return Settle(self::Settle::LostWriteLanded(sent));
    }
    if !matches || status.applied_generation != known.generation {
        return Write(self::Write::Provision { deleting: false });
    }
    Ready(Report::new(format!(
        "{sip} is provisioned{}",
        spec.line_uri
            .as_deref()
            .map(|l| format!(" with {l}"))
            .unwrap_or_default()
    )))
}

/// One reconcile of one end user.
pub struct EndUserReconcile<'a> {
    obj: &'a OCEndUser,
    ctx: &'a Context,
    api: &'a Api<OCEndUser>,
    draft: &'a mut Draft,
    scope: &'a CustomerScope,
    seen: Seen,
    deleting: bool,
    licensed: bool,
    upgrade_declared: bool,
    number_pending: Option<String>,
}

impl Planner for EndUserReconcile<'_> {
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
            licensed: self.licensed,
            upgrade_declared: self.upgrade_declared,
            customer: self
                .scope
                .customer
                .metadata
                .name
                .as_deref()
                .unwrap_or_default(),
            tenant: &self.scope.tenant,
            license_recheck: self.ctx.config.wait_requeue * 3,
            number_pending: self.number_pending.as_deref(),
            customer_created: self.scope.created_by_operator(),
            now: jiff::Timestamp::now(),
            lost_answer_grace: self.ctx.config.lost_answer_grace,
        };
        plan(&known, &self.seen)
    }

    async fn look(&mut self, look: Look) -> Result<()> {
        match look {
            Look::Task(task) => {
                let action = WriteAction::ProvisionEndUser;
                self.seen.task = Some(self.scope.poll(self.ctx, action, &task).await?);
            }
            Look::User => match find_user(self.scope, &self.obj.spec.sip_address).await {
                Ok(user) => self.seen.user = Some(user),
                Err(PlatformError::LicenseRequired { .. }) => self.seen.license_required = true,
                Err(e) => return Err(e.into()),
            },
        }
        Ok(())
    }

    async fn settle(&mut self, settle: Settle) -> Result<()> {
        let (obj, ctx) = (self.obj, self.ctx);
        match settle {
            Settle::TaskEnded => {
                tasks::finish(self.draft);
                let object_id = match self.seen.task.take() {
                    Some(TaskOutcome::Succeeded(t)) => t.provisioned_object_id().map(str::to_owned),
                    _ => None,
                };
                let after = if self.deleting {
                    None
                } else {
                    obj.spec.line_uri.as_deref()
                };
                let before = self.draft.status.line_uri.as_deref();
                record_assignment(ctx, &self.scope.tenant, before, after).await;
                if !self.deleting
                    && let Some(object_id) = object_id
                {
                    // The task's output names the user: what it now has is what was
                    // sent, and is recorded without listing the customer's users.
                    self.seen.user =
                        Some(Some(provisioned(&obj.spec, &self.draft.status, object_id)));
                }
                if self.deleting {
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
                tasks::finish(self.draft);
                self.seen.lost = Some(generation);
            }
            Settle::LostWriteLanded(generation) => {
                self.draft.status.applied_generation = generation;
            }
            Settle::Adopt { existing, as_is } => {
                adoption::adopted(ctx, obj, "AdoptUser", &existing).await;
                self.seen.adopted = true;
                if as_is {
                    // Taken over as it is: the spec is already applied, nothing to send.
                    self.draft.status.applied_generation = self.draft.generation;
                }
            }
            Settle::Record(user) => {
                let status = &mut self.draft.status;
                status.object_id = user.object_id;
                status.line_uri = user.line_uri;
                status.enterprise_voice_enabled = Some(user.enterprise_voice_enabled);
                status.online_voice_routing_policy = user.online_voice_routing_policy;
            }
        }
        Ok(())
    }

    async fn write(&mut self, write: Write) -> Result<AfterWrite> {
        let (obj, api, scope) = (self.obj, self.api, self.scope);
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
                self.draft.condition(READY, false, reason, message.clone());
                let sent = tasks::send(
                    api,
                    obj,
                    self.draft,
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
        tasks::finish(self.draft);
        self.seen.task = None;
    }

    fn describe(&self, write: &Write) -> Option<PlannedAction> {
        let sip = &self.obj.spec.sip_address;
        match write {
            Write::Provision { deleting } => Some(planned(
                liveplatform::Action::ProvisionEndUser,
                format!("end user {sip} of tenant {}", self.scope.tenant),
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

/// Whether a listed user has voice settings (a line URI or Enterprise Voice): what
/// provisioning manages.
fn is_voice_enabled(user: &EndUser) -> bool {
    user.enterprise_voice_enabled || user.line_uri.as_deref().is_some_and(|l| !l.is_empty())
}

/// The user as the platform lists it (paging through), if listed.
async fn find_user(scope: &CustomerScope, sip: &str) -> Result<Option<EndUser>, PlatformError> {
    let wanted = sip.trim_start_matches("sip:").to_ascii_lowercase();
    let mut page = 1;
    loop {
        let users = scope
            .client
            .list_end_users(&scope.customer_id, page, PAGE_SIZE)
            .await?;
        let count = users.data.len();
        if let Some(user) = users.data.into_iter().find(|u| {
            let address = u
                .sip_address
                .as_deref()
                .or(u.user_principal_name.as_deref())
                .unwrap_or_default();
            address
                .trim_start_matches("sip:")
                .eq_ignore_ascii_case(&wanted)
        }) {
            return Ok(Some(user));
        }
        if count == 0 || i64::from(page) >= users.total_pages {
            return Ok(None);
        }
        page += 1;
    }
}

fn settings(s: &OCEndUserSpec) -> ProvisionEndUser {
    let address = s.address.clone().unwrap_or_default();
    ProvisionEndUser {
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        city: address.city,
        department: s.department.clone(),
        office: s.office.clone(),
        postal_code: address.postal_code,
        state_or_province: address.state_or_province,
        street_address: address.street_address,
        usage_location: s.usage_location.clone(),
        enterprise_voice_enabled: Some(s.enterprise_voice_enabled),
        teams_calling_policy: s.teams_calling_policy.clone(),
        online_voice_routing_policy: s.online_voice_routing_policy.clone(),
        hosted_voice_mail: s.hosted_voicemail,
        line_uri: s.line_uri.clone(),
    }
}

/// The user as a provisioning of `spec` that ended leaves it, its object id from the
/// task: the settings sent, and those not sent as the status last recorded them.
fn provisioned(spec: &OCEndUserSpec, status: &OCEndUserStatus, object_id: String) -> EndUser {
    let sent = settings(spec);
    EndUser {
        sip_address: Some(spec.sip_address.clone()),
        object_id: Some(object_id),
        line_uri: sent.line_uri,
        usage_location: sent.usage_location,
        enterprise_voice_enabled: sent
            .enterprise_voice_enabled
            .or(status.enterprise_voice_enabled)
            .unwrap_or_default(),
        online_voice_routing_policy: sent
            .online_voice_routing_policy
            .or_else(|| status.online_voice_routing_policy.clone()),
        teams_calling_policy: sent.teams_calling_policy,
        ..EndUser::default()
    }
}

/// What deleting an end user sends: no line URI, voice off.
fn removal() -> ProvisionEndUser {
    ProvisionEndUser {
        enterprise_voice_enabled: Some(false),
        ..Default::default()
    }
}

/// Whether the listed user shows the settings the platform reports back.
fn reported_matches(user: &EndUser, body: &ProvisionEndUser) -> bool {
    user.line_uri == body.line_uri
        && Some(user.enterprise_voice_enabled) == body.enterprise_voice_enabled
        && (body.online_voice_routing_policy.is_none()
            || user.online_voice_routing_policy == body.online_voice_routing_policy)
        && (body.teams_calling_policy.is_none()
            || user.teams_calling_policy == body.teams_calling_policy)
        && (body.usage_location.is_none() || user.usage_location == body.usage_location)
}
