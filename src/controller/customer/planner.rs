//! The customer's pure planners: [`plan`] towards the spec, [`plan_deletion`] when it
//! is deleted.

use crate::api::common::{DeletionPolicy, Operation, WriteAction};
use crate::api::conditions::{self, CHANNEL_ASSIGNED, LICENSED, READY, reason};
use crate::api::customer::{LicenseStatus, LicenseType, OCCustomerSpec, OCCustomerStatus};
use crate::controller::plan::{self, Also, Next, Report};
use crate::controller::stops::{Failure, Rejection};
use crate::controller::tasks;
use liveplatform::TaskOutcome;
use liveplatform::model::{CustomerDetails, TenantValidation};

use super::*;

pub(super) fn tenant(spec: &OCCustomerSpec) -> String {
    spec.tenant_id.to_ascii_lowercase()
}

pub(super) fn doing(status: &OCCustomerStatus, action: WriteAction) -> Option<&Operation> {
    status.operation.as_ref().filter(|op| op.action == action)
}

/// Whether a channel assignment or removal is in flight (or its answer was lost).
pub(super) fn writing_channel(status: &OCCustomerStatus) -> bool {
    doing(status, WriteAction::AssignChannel).is_some()
        || doing(status, WriteAction::RemoveChannel).is_some()
}

pub(super) fn channel_condition(spec: &OCCustomerSpec) -> Also {
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

pub(super) fn upgrading(task: &str) -> Also {
    Also {
        type_: LICENSED,
        status: false,
        reason: reason::WAITING_FOR_TASK,
        message: format!("upgrading the licence (task {task})"),
    }
}

/// The item an upgrade's operation records: the licence it asks for (`OcPro:5`).
pub(super) fn upgrade_item_of(to: LicenseType, count: i64) -> String {
    format!("{}:{count}", to.name())
}

/// What a licence write the platform carried out leaves: the licence it asked for.
pub(super) fn licence_now(details: &mut CustomerDetails, to: LicenseType, count: i64) {
    details.service.license_type = Some(to.code());
    details.service.licensed_users_count = Some(count);
}

/// The licence an upgrade's operation item asks for.
pub(super) fn upgrade_item(item: &str) -> Option<(LicenseType, i64)> {
    let (to, count) = item.split_once(':')?;
    Some((LicenseType::from_name(to)?, count.parse().ok()?))
}

/// The next step towards the spec (pure).
pub fn plan(known: &Known, seen: &Seen) -> Step {
    use plan::Step::*;
    let (spec, status) = (known.object.spec, known.object.status);
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
        let refused_before =
            conditions::has_reason(&status.reconcile.conditions, READY, reason::ALREADY_EXISTS);
        let write_first =
            !(creating_lead || seen.lead_refused || known.object.may_adopt || refused_before);
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
        if adopted.is_some() && !known.object.may_adopt {
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
pub(super) fn follow_creation(spec: &OCCustomerSpec, seen: &Seen, task: &str) -> Step {
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
    let (spec, status) = (known.object.spec, known.object.status);
    if !known.has_finalizer {
        return Write(self::Write::LetGo(None));
    }
    // Whatever its policy, a customer goes after its dependents: they need it (its
    // customer id, its platform) to undo their work, or, under Orphan, to know that
    // they are orphaned too.
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
    if spec.deletion_policy == DeletionPolicy::Orphan {
        return Write(self::Write::LetGo(Some(
            "deletionPolicy is Orphan: the lead and the customer stay on the platform, and so does what its dependents hold",
        )));
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
