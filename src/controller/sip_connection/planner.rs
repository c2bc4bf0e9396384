//! The pure planner of a SIP connection: what it has seen, and the next step towards
//! its spec or its removal.

use crate::api::common::WriteAction;
use crate::api::conditions::reason;
use crate::api::sip_connection::{OCSipConnection, OCSipConnectionStatus};
use crate::controller::declared::Declared;
use crate::controller::plan::{self, Next, Report};
use crate::controller::stops::{Failure, Rejection};
use liveplatform::TaskOutcome;
use liveplatform::contract::deployment_state::{self, DEPLOYED, FAILED, REMOVING};
use liveplatform::model::SipConnection;

use super::*;

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
    pub object: Declared<'a, OCSipConnection>,
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

pub(super) fn running_op(status: &OCSipConnectionStatus) -> Option<(WriteAction, &Option<String>)> {
    status.operation.as_ref().map(|op| (op.action, &op.task_id))
}

pub(super) fn is_add(action: WriteAction) -> bool {
    action == WriteAction::AddSipConnection
}

/// The next step towards the spec (pure).
pub fn plan(known: &Known, seen: &Seen) -> Step {
    use plan::Step::*;
    if known.object.deleting {
        return plan_deletion(known, seen);
    }
    let (spec, status) = (known.object.spec, known.object.status);
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
                && !known.object.may_adopt
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
                    if known.object.may_adopt {
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
    let spec_changed = status.applied_generation != known.object.generation;
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
pub(super) fn plan_deletion(known: &Known, seen: &Seen) -> Step {
    use plan::Step::*;
    let status = known.object.status;
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
