//! What an end user's reconcile sees and knows, the steps, and the pure [`plan`].

use std::time::Duration;

use crate::api::common::WriteAction;
use crate::api::conditions::reason;
use crate::api::end_user::OCEndUser;
use crate::controller::declared::Declared;
use crate::controller::plan::{self, Next, Report, Wait};
use crate::controller::stops::Failure;
use crate::controller::tasks;
use liveplatform::TaskOutcome;
use liveplatform::model::EndUser;

use super::*;

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
    pub object: Declared<'a, OCEndUser>,
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
pub(super) fn license_wait(known: &Known) -> Step {
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
    let (spec, status) = (known.object.spec, known.object.status);
    let sip = &spec.sip_address;
    if !known.licensed || seen.license_required {
        if known.object.deleting {
            // Never provisioned under this licence: nothing to take back.
            return Write(self::Write::LetGo);
        }
        return license_wait(known);
    }
    if known.object.deleting && seen.removed {
        return Write(self::Write::LetGo);
    }
    if !known.object.deleting
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
            && !known.object.may_adopt
            && !known.object.deleting
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
        if !known.object.may_adopt {
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
    let body = if known.object.deleting {
        removal()
    } else {
        settings
    };
    let matches = reported
        .as_ref()
        .is_some_and(|u| reported_matches(u, &body));
    if known.object.deleting {
        return Write(if reported.is_none() || matches {
            self::Write::LetGo
        } else {
            self::Write::Provision { deleting: true }
        });
    }
    if matches
        && status.applied_generation != known.object.generation
        && let Some(sent) = seen.lost.filter(|sent| *sent == known.object.generation)
    {
        return Settle(self::Settle::LostWriteLanded(sent));
    }
    if !matches || status.applied_generation != known.object.generation {
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
