//! The life of an `OCCustomer`: validate the tenant; create (or adopt) the consentless
//! lead; put it in its channel; create (or adopt) the customer and follow the task;
//! bring the licence to the spec; publish licence info. On delete: delete its
//! dependents and wait for them, then delete the service and the lead (or orphan them).
//!
//! Read top to bottom: what is seen ([`Seen`]), the pure planners ([`plan`] and
//! [`plan_deletion`]), then the calls that carry a step out ([`CustomerReconcile`]).

use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};

use super::adoption;
use super::context::Context;
use super::customer_scope::Unscoped;
use super::error::{Error, Result};
use super::finalizer;
use super::kind::CustomerOwned;
use super::lifecycle::{Departing, Terms};
use super::management::planned;
use super::plan::{self, AfterWrite, Also, Next, Planner, Report, Wait};
use super::platforms;
use super::reconciler::{Admission, Reconciler, Scoped};
use super::snapshots;
use super::status::StatusDraft;
use super::stops::{Failure, Rejection};
use super::tasks;
use crate::api::common::{DeletionPolicy, Operation, PlannedAction, WriteAction};
use crate::api::conditions::{self, CHANNEL_ASSIGNED, LICENSED, READY, reason};
use crate::api::customer::{LicenseStatus, LicenseType, OCCustomerSpec, OCCustomerStatus};
use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};
use liveplatform::model::{
    AssignChannel, ConfigurationType, CreateCustomer, CreateLead, CustomerDetails, Lead, LeadRef,
    LicenseChange, LicenseInfo, TenantValidation,
};
use liveplatform::{Conflict, Error as PlatformError, LivePlatformClient, TaskOutcome};

type Draft = StatusDraft<OCCustomer>;

impl Departing for OCCustomer {
    const ORPHAN_LEAVES: &'static str = "the lead and the customer stay on the platform";

    /// Its planner decides its deletion: dependents go first.
    fn terms(&self, _status: &OCCustomerStatus) -> Option<Terms> {
        None
    }
}

/// A customer works on its platform; one being deleted works with what its
/// conclusion needs of it (the client is found again by the write that needs it).
impl Scoped for OCCustomer {
    type Place = Option<LivePlatformClient>;

    async fn place(
        &self,
        ctx: &Context,
        draft: &mut Draft,
    ) -> Result<std::result::Result<Option<LivePlatformClient>, Unscoped>> {
        if finalizer::is_deleting(self) {
            return Ok(Ok(None));
        }
        let ns = self.namespace().unwrap_or_default();
        Ok(
            match platforms::access(ctx, &ns, &self.spec.platform_ref.name, draft).await? {
                Some((client, _)) => Ok(Some(client)),
                None => Err(Unscoped::Platform),
            },
        )
    }
}

impl Reconciler for OCCustomer {
    type Found = ();
    type Reconcile<'a> = CustomerReconcile<'a>;

    /// A customer is never without its place while it is deleted.
    fn holds_nothing(_status: &OCCustomerStatus) -> bool {
        false
    }

    async fn admit(
        &self,
        _ctx: &Context,
        _draft: &mut Draft,
        _client: &Option<LivePlatformClient>,
        _deleting: bool,
    ) -> Result<Admission<()>> {
        Ok(Admission::Go {
            found: (),
            finalizer: true,
        })
    }

    async fn reconciling<'a>(
        &'a self,
        ctx: &'a Context,
        api: &'a Api<OCCustomer>,
        draft: &'a mut Draft,
        client: &'a Option<LivePlatformClient>,
        deleting: bool,
        _found: (),
    ) -> Result<CustomerReconcile<'a>> {
        let mut reconcile = CustomerReconcile {
            obj: self,
            ctx,
            api,
            draft,
            client: client.clone(),
            seen: Seen::default(),
            deleting,
        };
        if !deleting {
            reconcile.seen = held(&reconcile.known());
        }
        Ok(reconcile)
    }
}

/// What this reconcile has read so far; `None` is "not looked at yet".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// The tenant's answer from Entra ID.
    pub tenant: Option<TenantValidation>,
    /// The tenant's lead (`Some(None)`: the platform has none).
    pub lead: Option<Option<Lead>>,
    /// The customer's creation was seen to end in this reconcile.
    pub customer_created: bool,
    /// The last look at the task in flight.
    pub task: Option<TaskOutcome>,
    /// The customer with its licence.
    pub details: Option<CustomerDetails>,
    /// The latest licence info records.
    pub license_info: Option<Vec<LicenseInfo>>,
    /// The customer's dependents in the cluster, in the order they are deleted.
    pub dependents: Option<Vec<Dependents>>,
    /// Whether the platform can be reached (deletion only looks when it must).
    pub platform: Option<bool>,
    /// The platform refused to create the lead because the tenant has one: the lead
    /// is looked up, then adopted (with the opt-in) or refused.
    pub lead_refused: bool,
    /// The platform refused to create the customer because the lead has one, or one
    /// is being created (an earlier request whose answer was lost): the lead is
    /// read, and shows it once it is there.
    pub customer_refused: bool,
    /// The platform refused the licence upgrade ("Invalid change for License Type!"):
    /// the licence held was not the platform's (an earlier upgrade was carried out,
    /// or still runs), so the customer is read again before anything is decided.
    pub upgrade_refused: bool,
    /// The platform refused the licence change in the same way: the customer is read
    /// again, and a change still wanted is not sent a second time.
    pub change_refused: bool,
}

/// The customer's objects of one kind, by name, and whether each is being deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependents {
    pub what: &'static str,
    pub objects: Vec<(String, bool)>,
}

/// What the planner knows besides the platform: the object and the moment.
#[derive(Debug, Clone)]
pub struct Known<'a> {
    pub spec: &'a OCCustomerSpec,
    pub status: &'a OCCustomerStatus,
    pub may_adopt: bool,
    pub has_finalizer: bool,
    pub now: jiff::Timestamp,
    /// How long a licence upgrade whose answer was lost is given to show.
    pub lost_answer_grace: Duration,
    /// The customer stands Ready for its spec with nothing in flight: this reconcile
    /// is a drift check (or a wake-up), which reads the platform instead of trusting
    /// what the status holds, and reads the licence info too.
    pub checking: bool,
}

/// What a customer may take as seen without reading it, from its status: the lead as
/// it created or last saw it (Active, in the recorded channel, with the recorded
/// customer), and the licence and default domain last recorded. Every write and task
/// outcome keeps these true, so onboarding reads only what no answer said. A drift
/// check holds nothing (it confirms on the platform), nor does a write whose answer
/// was lost (it is looked up), nor a lead last seen not Active.
pub fn held(known: &Known) -> Seen {
    let status = known.status;
    let lost = status
        .operation
        .as_ref()
        .is_some_and(|op| op.task_id.is_none());
    if known.checking || lost {
        return Seen::default();
    }
    let lead_inactive = conditions::find(&status.conditions, READY)
        .is_some_and(|c| c.reason == reason::LEAD_NOT_ACTIVE);
    let lead = status
        .lead_id
        .as_ref()
        .filter(|_| !lead_inactive)
        .map(|id| {
            Some(Lead {
                id: id.clone(),
                status: Lead::ACTIVE.to_owned(),
                channel_id: status.channel_id,
                ump_customer_guid: status.customer_id.clone(),
                ..Lead::default()
            })
        });
    let details = status
        .license
        .as_ref()
        .filter(|_| status.customer_id.is_some())
        .and_then(|license| {
            let type_ = LicenseType::from_name(&license.type_)?;
            let mut details = CustomerDetails::default();
            details.service.license_type = Some(type_.code());
            details.service.licensed_users_count = license.count;
            details.ms_default_domain = status.default_domain.clone();
            Some(details)
        });
    Seen {
        lead,
        details,
        ..Seen::default()
    }
}

/// Reads the customer's reconcile needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Look {
    Tenant,
    Lead,
    Task(String),
    Customer(String),
    LicenseInfo(String),
    Dependents,
    Platform,
}

/// What is recorded from what was seen.
#[derive(Debug, Clone, PartialEq)]
pub enum Settle {
    /// The lead's id; `created` ends the creation in flight, `adopted` names what was
    /// taken over.
    Lead {
        id: String,
        created: bool,
        adopted: Option<String>,
    },
    /// The spec's channel is the lead's.
    Channel,
    /// The customer's id; `created` ends the creation in flight.
    Customer {
        guid: String,
        created: bool,
        adopted: bool,
    },
    /// The customer's creation task ended well; the guid it reported, if any.
    CustomerTaskEnded(Option<String>),
    /// A creation whose answer was lost, with no customer on the lead: sent again (the
    /// platform refuses a second creation while one runs).
    ForgetLostCreation,
    /// The licence upgrade task ended well: the licence it asked for is the
    /// customer's.
    UpgradeEnded,
    /// Entra ID knows the tenant: recorded, and not asked again.
    TenantValidated,
    /// A licence upgrade whose answer was lost and whose grace is over: the licence
    /// read next shows whether it happened.
    ForgetLostUpgrade,
    /// The licence and default domain as the platform reports them.
    Licence {
        license: LicenseStatus,
        default_domain: Option<String>,
    },
}

/// The customer's writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    CreateLead,
    AssignChannel(i64),
    RemoveChannel(i64),
    CreateCustomer,
    UpgradeLicense {
        to: LicenseType,
        count: i64,
    },
    ChangeLicense {
        from: LicenseType,
        to: LicenseType,
        count: i64,
    },
    /// Deletes the not yet deleting dependents of the first kind that has any.
    DeleteDependents,
    DeleteService(String),
    DeleteLead,
    /// Removes the finalizer; the note is the event that says why.
    LetGo(Option<&'static str>),
}

pub type Step = plan::Step<Look, Settle, Write>;

fn tenant(spec: &OCCustomerSpec) -> String {
    spec.tenant_id.to_ascii_lowercase()
}

fn doing(status: &OCCustomerStatus, action: WriteAction) -> Option<&Operation> {
    status.operation.as_ref().filter(|op| op.action == action)
}

/// Whether a channel assignment or removal is in flight (or its answer was lost).
fn writing_channel(status: &OCCustomerStatus) -> bool {
    doing(status, WriteAction::AssignChannel).is_some()
        || doing(status, WriteAction::RemoveChannel).is_some()
}

fn channel_condition(spec: &OCCustomerSpec) -> Also {
    match spec.channel_id {
        Some(want) => Also {
            type_: CHANNEL_ASSIGNED,
            status: true,
            reason: reason::AVAILABLE,
            message: format!("the lead is in channel {want}"),
        },
        None => Also {
            type_: CHANNEL_ASSIGNED,
            status: false,
            reason: reason::NO_CHANNEL,
            message: "spec.channelId is not set; the lead is in no channel".to_owned(),
        },
    }
}

fn upgrading(task: &str) -> Also {
    Also {
        type_: LICENSED,
        status: false,
        reason: reason::WAITING_FOR_TASK,
        message: format!("upgrading the licence (task {task})"),
    }
}

/// The item an upgrade's operation records: the licence it asks for (`OcPro:5`).
fn upgrade_item_of(to: LicenseType, count: i64) -> String {
    format!("{}:{count}", to.name())
}

/// What a licence write the platform carried out leaves: the licence it asked for.
fn licence_now(details: &mut CustomerDetails, to: LicenseType, count: i64) {
    details.service.license_type = Some(to.code());
    details.service.licensed_users_count = Some(count);
}

/// The licence an upgrade's operation item asks for.
fn upgrade_item(item: &str) -> Option<(LicenseType, i64)> {
    let (to, count) = item.split_once(':')?;
    Some((LicenseType::from_name(to)?, count.parse().ok()?))
}

/// The next step towards the spec (pure).
pub fn plan(known: &Known, seen: &Seen) -> Step {
    use plan::Step::*;
    let (spec, status) = (known.spec, known.status);
    let tenant = tenant(spec);

    // A licence upgrade whose answer was lost shows on the platform only once its task
    // ends, and a second request would be refused while it runs: nothing is read or
    // written until its grace is over.
    if let Some(op) = doing(status, WriteAction::UpgradeLicense)
        && let Some((over, remaining)) =
            tasks::lost_answer_grace(op, known.lost_answer_grace, known.now)
    {
        let message = format!(
            "a licence upgrade was sent at {} but its answer was lost, and the platform cannot show a running upgrade; the operator looks again at the licence at {over} (in {} s) and sends it again only if it did not happen",
            op.started_at.0,
            remaining.as_secs()
        );
        return Wait(
            plan::Wait::new(
                reason::WAITING_FOR_TASK,
                message.clone(),
                Next::After(remaining),
            )
            .also(Also {
                type_: LICENSED,
                status: false,
                reason: reason::WAITING_FOR_TASK,
                message,
            }),
        );
    }

    // The tenant must exist in Entra ID; asked once, before there is a lead, and
    // recorded.
    if status.lead_id.is_none() && !status.tenant_validated {
        return match &seen.tenant {
            None => Look(self::Look::Tenant),
            Some(TenantValidation::Unknown { error }) => Reject(Rejection::UnknownTenant {
                tenant: tenant.to_string(),
                error: error.clone(),
            }),
            Some(TenantValidation::Valid { .. }) => Settle(self::Settle::TenantValidated),
        };
    }

    // A creation of the customer in flight is followed before anything else is read:
    // its lead is recorded, and what it shows decides what to read next.
    let creating = doing(status, WriteAction::CreateCustomer);
    if let (Some(op), Some(_), None) = (creating, &status.lead_id, &seen.lead)
        && let Some(task) = &op.task_id
    {
        return follow_creation(spec, seen, task);
    }

    // The lead. Without one recorded, it is created at once: the platform refuses a
    // second lead of a tenant [doc], and that refusal is when the lead is looked up.
    // It is looked up first with the opt-in to adopt (adoption makes no write at
    // all), and after a lost answer, before anything is sent again.
    let creating_lead = doing(status, WriteAction::CreateLead).is_some();
    let Some(lead) = &seen.lead else {
        // A customer held back because the tenant's lead is someone else's looks
        // first from then on: it is not sent to be refused again at each reconcile.
        let refused_before = conditions::find(&status.conditions, READY)
            .is_some_and(|c| c.reason == reason::ALREADY_EXISTS);
        let write_first =
            !(creating_lead || seen.lead_refused || known.may_adopt || refused_before);
        if status.lead_id.is_none() && write_first {
            return Write(self::Write::CreateLead);
        }
        return Look(self::Look::Lead);
    };
    let Some(lead) = lead else {
        return Write(self::Write::CreateLead);
    };
    if creating_lead || status.lead_id.as_deref() != Some(lead.id.as_str()) {
        // Neither recorded nor being created by this object: someone else's lead.
        let adopted = (status.lead_id.is_none() && !creating_lead).then(|| {
            let customer = lead
                .ump_customer_guid
                .as_deref()
                .map(|c| format!(" and its customer {c}"))
                .unwrap_or_default();
            format!("the lead {} of tenant {tenant}{customer}", lead.id)
        });
        if adopted.is_some() && !known.may_adopt {
            return Refuse {
                existing: format!("tenant {tenant} (lead {})", lead.id),
                advice: "delete this object",
            };
        }
        return Settle(self::Settle::Lead {
            id: lead.id.clone(),
            created: creating_lead,
            adopted,
        });
    }
    if !lead.is_active() {
        // Not `Rejected`: that would wait for a spec change, while what changes is the
        // lead on the platform, which is looked at again on a timer.
        return Wait(plan::Wait::new(
            reason::LEAD_NOT_ACTIVE,
            format!(
                "the lead of tenant {tenant} is {} on the platform; it must be Active (ask the platform operator); this customer looks again every minute and goes on by itself",
                lead.status
            ),
            Next::Recheck,
        ));
    }

    // The channel.
    match (spec.channel_id, lead.channel_id) {
        (Some(want), have) if have != Some(want) => {
            return Write(self::Write::AssignChannel(want));
        }
        (None, Some(have)) => return Write(self::Write::RemoveChannel(have)),
        _ => {}
    }
    // Also when the lead shows what a channel write in flight asked for: it is over.
    if status.channel_id != spec.channel_id || writing_channel(status) {
        return Settle(self::Settle::Channel);
    }
    let channel = channel_condition(spec);

    // The customer.
    let guid = match (&lead.ump_customer_guid, creating) {
        (Some(guid), creating) => {
            if creating.is_some() || status.customer_id.as_ref() != Some(guid) {
                return Settle(self::Settle::Customer {
                    guid: guid.clone(),
                    created: creating.is_some(),
                    adopted: creating.is_none()
                        && status.customer_id.is_none()
                        && !seen.customer_created,
                });
            }
            guid
        }
        (None, Some(op)) => {
            let Some(task) = &op.task_id else {
                // The answer was lost and the lead shows no customer yet.
                return Settle(self::Settle::ForgetLostCreation);
            };
            return follow_creation(spec, seen, task);
        }
        (None, None) if seen.customer_refused => {
            return Wait(
                plan::Wait::new(
                    reason::WAITING_FOR_TASK,
                    "the customer is being created by an earlier request",
                    Next::Task,
                )
                .also(channel),
            );
        }
        // Created at once: the platform refuses a second customer of a lead [doc].
        (None, None) => return Write(self::Write::CreateCustomer),
    };

    // The licence.
    if let Some(op) = doing(status, WriteAction::UpgradeLicense) {
        let Some(task) = &op.task_id else {
            // Its answer was lost and its grace is over. The licence is read before
            // the intent is forgotten: once it is, the status's licence (from before
            // the upgrade) is held as seen, and an upgrade the platform carried out
            // would be sent again and refused.
            if seen.details.is_none() {
                return Look(self::Look::Customer(guid.clone()));
            }
            return Settle(self::Settle::ForgetLostUpgrade);
        };
        return match &seen.task {
            None => Look(self::Look::Task(task.clone())),
            Some(TaskOutcome::StillRunning(_)) => Wait(
                plan::Wait::new(
                    reason::UPDATING,
                    format!("upgrading the licence (task {task})"),
                    Next::Task,
                )
                .also(upgrading(task))
                .also(channel),
            ),
            Some(TaskOutcome::Failed(t)) => Fail(Failure::new(
                WriteAction::UpgradeLicense,
                task,
                t.error_summary(),
            )),
            Some(_) => Settle(self::Settle::UpgradeEnded),
        };
    }
    let Some(details) = &seen.details else {
        return Look(self::Look::Customer(guid.clone()));
    };
    let code = details.service.license_type.unwrap_or(-1);
    let Some(have) = LicenseType::from_code(code) else {
        return Reject(Rejection::UnmanagedLicence {
            customer: guid.clone(),
            code,
        });
    };
    let want = spec.license.type_;
    let want_count = spec.license.count;
    let have_count = details.service.licensed_users_count;

    // What the platform has is recorded before anything is changed: the status then
    // holds it, and a later reconcile (the upgrade's end) starts from it.
    let info = match (&seen.license_info, known.checking) {
        (None, true) => return Look(self::Look::LicenseInfo(guid.clone())),
        (Some(info), _) => {
            let latest = info.iter().max_by(|a, b| a.last_update.cmp(&b.last_update));
            (
                latest.and_then(|l| l.currently_licensed),
                latest.and_then(|l| l.managed_service_numbers),
                latest.and_then(|l| l.last_update.clone()),
            )
        }
        // Licence info is not read while onboarding (nothing a script needs; the next
        // drift check reads it): what was recorded stays.
        (None, false) => status.license.as_ref().map_or((None, None, None), |l| {
            (
                l.currently_licensed,
                l.managed_service_numbers,
                l.last_update.clone(),
            )
        }),
    };
    let license = LicenseStatus {
        type_: have.name().to_owned(),
        count: have_count,
        currently_licensed: info.0,
        managed_service_numbers: info.1,
        last_update: info.2,
    };
    if status.license.as_ref() != Some(&license)
        || status.default_domain != details.ms_default_domain
    {
        return Settle(self::Settle::Licence {
            license,
            default_domain: details.ms_default_domain.clone(),
        });
    }
    match (want, have) {
        (LicenseType::OcEssentials, LicenseType::OcEssentials) => {}
        (LicenseType::OcEssentials, other) => {
            return Reject(Rejection::NoWayBackToEssentials {
                customer: guid.clone(),
                have: other,
            });
        }
        // Refused although the customer, read since, still has OcEssentials: the
        // platform refuses an upgrade while an earlier one (whose answer was lost)
        // runs, so the licence is looked at again later, not sent at once.
        (want, LicenseType::OcEssentials) if seen.upgrade_refused => {
            return Wait(
                plan::Wait::new(
                    reason::UPDATING,
                    format!(
                        "the platform refused the upgrade of customer {guid} to {want:?} while it still has OcEssentials; an earlier upgrade is probably still running, so the licence is read again later"
                    ),
                    Next::Recheck,
                )
                .also(channel),
            );
        }
        (want, LicenseType::OcEssentials) => {
            return Write(self::Write::UpgradeLicense {
                to: want,
                count: want_count.unwrap_or(1),
            });
        }
        (want, have) if want != have || (want_count.is_some() && want_count != have_count) => {
            if seen.change_refused {
                return Reject(Rejection::LicenceChangeRefused {
                    customer: guid.clone(),
                    have,
                    want,
                });
            }
            return Write(self::Write::ChangeLicense {
                from: have,
                to: want,
                count: want_count.or(have_count).unwrap_or(1),
            });
        }
        _ => {}
    }
    Ready(
        Report::new(format!(
            "lead {}, customer {guid}, licence {want:?}",
            lead.id
        ))
        .also(Also {
            type_: LICENSED,
            status: true,
            reason: reason::AVAILABLE,
            message: format!(
                "licence {want:?}{}",
                want_count.map(|c| format!(" x{c}")).unwrap_or_default()
            ),
        })
        .also(channel),
    )
}

/// The next step while the customer's creation task `task` runs.
fn follow_creation(spec: &OCCustomerSpec, seen: &Seen, task: &str) -> Step {
    use plan::Step::*;
    match &seen.task {
        None => Look(self::Look::Task(task.to_owned())),
        Some(TaskOutcome::StillRunning(_)) => Wait(
            plan::Wait::new(
                reason::WAITING_FOR_TASK,
                format!("creating the customer (task {task})"),
                Next::Task,
            )
            .also(channel_condition(spec)),
        ),
        Some(TaskOutcome::Succeeded(t) | TaskOutcome::PartlyFailed { task: t, .. }) => Settle(
            self::Settle::CustomerTaskEnded(t.output_str("ump_customer_guid").map(str::to_owned)),
        ),
        Some(TaskOutcome::Failed(t)) => Fail(Failure::new(
            WriteAction::CreateCustomer,
            task,
            t.error_summary(),
        )),
    }
}

/// The next step of a deletion (pure): dependents go first (end users, dial plans,
/// SIP connections, then number blocks release their numbers), then the service and
/// the lead, if this object created or took them over.
pub fn plan_deletion(known: &Known, seen: &Seen) -> Step {
    use plan::Step::*;
    let (spec, status) = (known.spec, known.status);
    if spec.deletion_policy == DeletionPolicy::Orphan {
        return Write(self::Write::LetGo(Some(
            "deletionPolicy is Orphan: the lead and the customer stay on the platform",
        )));
    }
    if !known.has_finalizer {
        return Write(self::Write::LetGo(None));
    }
    let Some(dependents) = &seen.dependents else {
        return Look(self::Look::Dependents);
    };
    if let Some(first) = dependents.iter().find(|d| !d.objects.is_empty()) {
        if first.objects.iter().any(|(_, deleting)| !deleting) {
            return Write(self::Write::DeleteDependents);
        }
        let names: Vec<&str> = first.objects.iter().map(|(n, _)| n.as_str()).collect();
        return Wait(plan::Wait::new(
            reason::DELETING,
            format!(
                "waiting for {} {} to undo their work and go",
                first.what,
                names.join(", ")
            ),
            Next::Task,
        ));
    }
    if status.lead_id.is_none() && doing(status, WriteAction::CreateLead).is_none() {
        // It never created or took over a lead: nothing on the platform is its own.
        return Write(self::Write::LetGo(None));
    }
    match seen.platform {
        None => return Look(self::Look::Platform),
        Some(false) => {
            return Wait(plan::Wait::new(
                reason::DELETING,
                "cannot reach the platform to delete the service and the lead; the finalizer stays until it can",
                Next::Shortly,
            ));
        }
        Some(true) => {}
    }
    let Some(lead) = &seen.lead else {
        return Look(self::Look::Lead);
    };
    let customer = lead
        .as_ref()
        .and_then(|l| l.ump_customer_guid.clone())
        .or_else(|| status.customer_id.clone());
    if let Some(customer) = customer {
        return Write(self::Write::DeleteService(customer));
    }
    if lead.is_some() {
        return Write(self::Write::DeleteLead);
    }
    Write(self::Write::LetGo(None))
}

/// One reconcile of one customer: the planner's state and the calls that carry its
/// steps out.
pub struct CustomerReconcile<'a> {
    obj: &'a OCCustomer,
    ctx: &'a Context,
    api: &'a Api<OCCustomer>,
    draft: &'a mut Draft,
    client: Option<LivePlatformClient>,
    seen: Seen,
    deleting: bool,
}

impl CustomerReconcile<'_> {
    fn client(&self) -> Result<&LivePlatformClient> {
        self.client.as_ref().ok_or_else(|| {
            Error::Dependency(format!(
                "OCPlatform {} is not available",
                self.obj.spec.platform_ref.name
            ))
        })
    }

    fn known(&self) -> Known<'_> {
        let status = &self.draft.status;
        Known {
            spec: &self.obj.spec,
            status,
            may_adopt: adoption::may_adopt(self.obj),
            has_finalizer: finalizer::has(self.obj),
            now: jiff::Timestamp::now(),
            lost_answer_grace: self.ctx.config.lost_answer_grace,
            checking: status.operation.is_none()
                && conditions::is_true_for(&status.conditions, READY, self.draft.generation),
        }
    }

    fn lead_mut(&mut self) -> Option<&mut Lead> {
        self.seen.lead.as_mut().and_then(|l| l.as_mut())
    }

    /// Forgets the snapshots a write may change, before it is sent (see `snapshots`).
    fn forget_for(&self, write: &Write) {
        let platform = &self.obj.spec.platform_ref.name;
        let snapshots = &self.ctx.platform.snapshots;
        match write {
            Write::CreateLead
            | Write::AssignChannel(_)
            | Write::RemoveChannel(_)
            | Write::CreateCustomer
            | Write::DeleteLead => snapshots.forget_lead(platform, &tenant(&self.obj.spec)),
            Write::UpgradeLicense { .. } | Write::ChangeLicense { .. } => {
                if let Some(guid) = &self.draft.status.customer_id {
                    snapshots.forget_customer(platform, guid);
                }
            }
            Write::DeleteService(guid) => {
                snapshots.forget_lead(platform, &tenant(&self.obj.spec));
                snapshots.forget_customer(platform, guid);
            }
            Write::DeleteDependents | Write::LetGo(_) => {}
        }
    }

    /// After the platform refused a licence write: the licence held is dropped, with
    /// any snapshot of the customer, so that the plan reads it from the platform.
    fn read_licence_again(&mut self, guid: &str) -> AfterWrite {
        self.seen.details = None;
        let platform = &self.obj.spec.platform_ref.name;
        self.ctx.platform.snapshots.forget_customer(platform, guid);
        AfterWrite::Replan
    }

    /// Keeps the lead and customer as this reconcile knows them now (after a write
    /// the platform answered), for the next reconciles of this customer.
    fn remember(&self) {
        let platform = &self.obj.spec.platform_ref.name;
        let snapshots = &self.ctx.platform.snapshots;
        let by = snapshots::seer(self.obj);
        if let Some(lead) = &self.seen.lead {
            snapshots.saw_lead(platform, &tenant(&self.obj.spec), by, lead.clone());
        }
        if let (Some(details), Some(guid)) = (&self.seen.details, &self.draft.status.customer_id) {
            snapshots.saw_customer(platform, guid, by, details.clone());
        }
    }

    async fn event(&self, reason: &str, action: &str, message: String) {
        self.ctx
            .event(self.obj, false, reason, action, message)
            .await;
    }
}

impl Planner for CustomerReconcile<'_> {
    type Look = Look;
    type Settle = Settle;
    type Write = Write;

    fn plan(&self) -> Step {
        let known = self.known();
        if self.deleting {
            plan_deletion(&known, &self.seen)
        } else {
            plan(&known, &self.seen)
        }
    }

    async fn look(&mut self, look: Look) -> Result<()> {
        let tenant = tenant(&self.obj.spec);
        match look {
            Look::Tenant => {
                self.seen.tenant = Some(self.client()?.validate_tenant(&tenant).await?);
            }
            Look::Lead => {
                let platform = &self.obj.spec.platform_ref.name;
                let snapshots = &self.ctx.platform.snapshots;
                let by = snapshots::seer(self.obj);
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
                let action = tasks::action_in_flight(self.draft)?;
                let platform = &self.obj.spec.platform_ref.name;
                let outcome =
                    tasks::poll(self.ctx, platform, self.client()?, action, &task).await?;
                self.seen.task = Some(outcome);
            }
            Look::Customer(guid) => {
                let platform = &self.obj.spec.platform_ref.name;
                let snapshots = &self.ctx.platform.snapshots;
                let by = snapshots::seer(self.obj);
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
                    dependents::<OCEndUser>(self.ctx, self.obj).await?,
                    dependents::<OCDialPlan>(self.ctx, self.obj).await?,
                    dependents::<OCSipConnection>(self.ctx, self.obj).await?,
                    dependents::<OCNumberBlock>(self.ctx, self.obj).await?,
                ]);
            }
            Look::Platform => {
                let ns = self.obj.namespace().unwrap_or_default();
                let name = &self.obj.spec.platform_ref.name;
                let access = platforms::access(self.ctx, &ns, name, self.draft).await?;
                self.seen.platform = Some(access.is_some());
                if access.is_some() {
                    // Said before the first call, which may fail.
                    self.draft.condition(
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
        let tenant = tenant(&self.obj.spec);
        match settle {
            Settle::Lead {
                id,
                created,
                adopted,
            } => {
                if created {
                    tasks::finish(self.draft);
                }
                if let Some(what) = adopted {
                    adoption::adopted(self.ctx, self.obj, "AdoptLead", &what).await;
                }
                self.draft.status.lead_id = Some(id);
            }
            Settle::Channel => {
                if writing_channel(&self.draft.status) {
                    tasks::finish(self.draft);
                }
                self.draft.status.channel_id = self.obj.spec.channel_id;
            }
            Settle::TenantValidated => self.draft.status.tenant_validated = true,
            Settle::Customer {
                guid,
                created,
                adopted,
            } => {
                if created {
                    tasks::finish(self.draft);
                    self.draft.status.created_by_operator = true;
                    // The lead shows the customer before the task was seen to end.
                    self.ctx
                        .metrics
                        .task_ended(WriteAction::CreateCustomer, "succeeded", None);
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
                self.draft.status.customer_id = Some(guid);
            }
            Settle::CustomerTaskEnded(guid) => {
                tasks::finish(self.draft);
                self.seen.task = None;
                self.seen.customer_created = true;
                self.draft.status.created_by_operator = true;
                match guid {
                    Some(guid) => {
                        self.event(
                            "CustomerCreated",
                            "CreateCustomer",
                            format!("created customer {guid}"),
                        )
                        .await;
                        self.draft.status.customer_id = Some(guid.clone());
                        if let Some(lead) = self.lead_mut() {
                            lead.ump_customer_guid = Some(guid);
                        }
                        self.remember();
                    }
                    // The lead shows the customer: looked at again.
                    None => self.seen.lead = None,
                }
            }
            Settle::ForgetLostCreation | Settle::ForgetLostUpgrade => tasks::finish(self.draft),
            Settle::UpgradeEnded => {
                // The licence is the one the upgrade asked for (its operation's item):
                // what is held says so, without reading the customer again.
                let asked = self
                    .draft
                    .status
                    .operation
                    .as_ref()
                    .and_then(|op| op.items.first())
                    .and_then(|item| upgrade_item(item));
                tasks::finish(self.draft);
                self.seen.task = None;
                match (asked, self.seen.details.as_mut()) {
                    (Some((to, count)), Some(details)) => {
                        licence_now(details, to, count);
                        self.remember();
                    }
                    _ => {
                        self.seen.details = None;
                        if let Some(guid) = &self.draft.status.customer_id {
                            let platform = &self.obj.spec.platform_ref.name;
                            self.ctx.platform.snapshots.forget_customer(platform, guid);
                        }
                    }
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
                self.draft.status.license = Some(license);
                self.draft.status.default_domain = default_domain;
            }
        }
        Ok(())
    }

    async fn write(&mut self, write: Write) -> Result<AfterWrite> {
        let tenant = tenant(&self.obj.spec);
        let (obj, api) = (self.obj, self.api);
        self.forget_for(&write);
        match write {
            Write::CreateLead => {
                self.draft.condition(
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
                    self.draft,
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
                    self.draft,
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
                    self.draft,
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
                self.draft.condition(
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
                    self.draft,
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
                let Some(guid) = self.draft.status.customer_id.clone() else {
                    return Err(Error::TaskFailed(
                        "the licence upgrade needs the customer's id, which is not recorded yet"
                            .to_owned(),
                    ));
                };
                self.draft.condition(
                    READY,
                    false,
                    reason::UPDATING,
                    format!("upgrading the licence to {to:?}"),
                );
                let client = self.client()?.clone();
                let body = LicenseChange {
                    upgrade_to_license: to.code(),
                    license_count: count,
                };
                let sent = tasks::send(
                    api,
                    obj,
                    self.draft,
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
                        return Ok(self.read_licence_again(&guid));
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
                let Some(guid) = self.draft.status.customer_id.clone() else {
                    return Err(Error::TaskFailed(
                        "the licence change needs the customer's id, which is not recorded yet"
                            .to_owned(),
                    ));
                };
                let changed = self
                    .client()?
                    .change_license(
                        &guid,
                        &LicenseChange {
                            upgrade_to_license: to.code(),
                            license_count: count,
                        },
                    )
                    .await;
                match changed {
                    Ok(_) => {}
                    Err(e) if e.conflict() == Some(Conflict::LicenceChangeRefused) => {
                        self.seen.change_refused = true;
                        return Ok(self.read_licence_again(&guid));
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
                    let (ctx, obj) = (self.ctx, self.obj);
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
                self.draft.status.customer_id = None;
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

    async fn finish(&mut self) {
        tasks::finish(self.draft);
        self.seen.task = None;
    }

    fn describe(&self, write: &Write) -> Option<PlannedAction> {
        use liveplatform::Action as A;
        let spec = &self.obj.spec;
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

fn create_customer_request(spec: &OCCustomerSpec) -> CreateCustomer {
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
async fn dependents<K: CustomerOwned>(ctx: &Context, obj: &OCCustomer) -> Result<Dependents> {
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
async fn delete_dependents<K: CustomerOwned>(
    ctx: &Context,
    obj: &OCCustomer,
    objects: &mut [(String, bool)],
) -> Result<()> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    for (name, deleting) in objects.iter_mut().filter(|(_, deleting)| !*deleting) {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if super::error::is_not_found(&e) => {}
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
