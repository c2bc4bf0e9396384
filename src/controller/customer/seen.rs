//! What a customer's reconcile has seen and may take as seen, what its planner knows
//! besides, and the steps it plans.

use std::time::Duration;

use crate::api::conditions::{self, READY, reason};
use crate::api::customer::{LicenseStatus, LicenseType, OCCustomer};
use crate::controller::declared::Declared;
use crate::controller::plan::{self};
use liveplatform::TaskOutcome;
use liveplatform::model::{CustomerDetails, Lead, LicenseInfo, TenantValidation};

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
    pub object: Declared<'a, OCCustomer>,
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
    let status = known.object.status;
    let lost = status
        .operation
        .as_ref()
        .is_some_and(|op| op.task_id.is_none());
    if known.checking || lost {
        return Seen::default();
    }
    let lead_inactive =
        conditions::has_reason(&status.reconcile.conditions, READY, reason::LEAD_NOT_ACTIVE);
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
