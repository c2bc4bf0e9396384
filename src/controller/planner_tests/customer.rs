//! Every step of the `OCCustomer` planner, in-process: (spec, status, seen) -> step.

use crate::controller::declared::Declared;
use std::time::Duration;

use serde_json::{Value, json};

use super::{expect_all, lead, merged, task, upgrade_op};
use crate::api::common::WriteAction;
use crate::api::conditions::{LICENSED, reason};
use crate::api::customer::{LicenseType, OCCustomerSpec, OCCustomerStatus};
use crate::controller::customer::{
    Dependents, Known, Look, Seen, Settle, Step, Write, held, plan, plan_deletion,
};
use crate::controller::plan::{Next, Step as S};
use crate::controller::stops::Rejection;
use liveplatform::TaskOutcome;
use liveplatform::model::TaskStatus;
use liveplatform::model::{CustomerDetails, LicenseInfo, TenantValidation};

const TENANT: &str = "11111111-2222-3333-4444-555555555555";
const NOW: &str = "2026-11-27T12:00:00Z";

fn spec(patch: Value) -> OCCustomerSpec {
    let spec = json!({
        "platformRef": {"name": "lp"}, "tenantId": TENANT, "companyName": "Contoso",
        "shortName": "contoso", "fullName": "Contoso Ltd",
        "license": {"type": "OcEssentials"},
    });
    serde_json::from_value(merged(spec, patch)).expect("a valid spec")
}

fn status(value: Value) -> OCCustomerStatus {
    serde_json::from_value(value).expect("a valid status")
}

fn valid() -> Option<TenantValidation> {
    Some(TenantValidation::Valid {
        issuer: "https://sts".into(),
    })
}

fn details(code: i64, count: Option<i64>) -> Option<CustomerDetails> {
    let mut d = CustomerDetails::default();
    d.service.license_type = Some(code);
    d.service.licensed_users_count = count;
    d.ms_default_domain = Some("contoso.onmicrosoft.com".into());
    Some(d)
}

/// The status of a customer with its lead, customer and licence recorded.
fn recorded() -> Value {
    json!({"leadId": "lead-1", "customerId": "guid-1"})
}

fn licence_recorded() -> Value {
    licence("OcEssentials", None)
}

/// The status of a customer with its lead, customer, licence `type_` x `count` and
/// default domain recorded.
fn licence(type_: &str, count: Option<i64>) -> Value {
    json!({
        "leadId": "lead-1", "customerId": "guid-1",
        "license": {"type": type_, "count": count},
        "defaultDomain": "contoso.onmicrosoft.com",
    })
}

/// A tenant Entra ID knew, recorded.
fn validated() -> Value {
    json!({"tenantValidated": true})
}

fn onboarded_seen() -> Seen {
    Seen {
        lead: Some(Some(lead("lead-1", Some("guid-1"), None, "Active"))),
        details: details(3, None),
        license_info: Some(vec![LicenseInfo::default()]),
        ..Seen::default()
    }
}

struct Row {
    name: &'static str,
    spec: Value,
    status: Value,
    adopt: bool,
    finalizer: bool,
    checking: bool,
    seen: Seen,
    want: fn(&Step) -> bool,
}

fn row(name: &'static str, status: Value, seen: Seen, want: fn(&Step) -> bool) -> Row {
    Row {
        name,
        spec: json!({}),
        status,
        adopt: false,
        finalizer: true,
        checking: false,
        seen,
        want,
    }
}

fn check(rows: Vec<Row>, planner: fn(&Known, &Seen) -> Step) {
    expect_all(rows.into_iter().map(|r| {
        let spec = spec(r.spec);
        let status = status(r.status);
        let known = Known {
            object: Declared {
                spec: &spec,
                status: &status,
                generation: None,
                may_adopt: r.adopt,
                deleting: false,
            },
            has_finalizer: r.finalizer,
            now: NOW.parse().expect("a time"),
            lost_answer_grace: Duration::from_secs(120),
            checking: r.checking,
        };
        (r.name, planner(&known, &r.seen), r.want)
    }));
}

#[test]
fn every_step_of_onboarding() {
    let with_spec = |mut r: Row, spec: Value| {
        r.spec = spec;
        r
    };
    let adopting = |mut r: Row| {
        r.adopt = true;
        r
    };
    let lead_seen = |guid: Option<&str>, channel: Option<i64>| Seen {
        tenant: valid(),
        lead: Some(Some(lead("lead-1", guid, channel, "Active"))),
        ..Seen::default()
    };
    let rows = vec![
        row(
            "a new customer asks Entra ID first",
            json!({}),
            Seen::default(),
            |s| *s == S::Look(Look::Tenant),
        ),
        row(
            "an unknown tenant is rejected",
            json!({}),
            Seen {
                tenant: Some(TenantValidation::Unknown {
                    error: "AADSTS90002".into(),
                }),
                ..Seen::default()
            },
            |s| matches!(s, S::Reject(Rejection::UnknownTenant { error, .. }) if error == "AADSTS90002"),
        ),
        row(
            "a known tenant is recorded, not asked again",
            json!({}),
            Seen {
                tenant: valid(),
                ..Seen::default()
            },
            |s| *s == S::Settle(Settle::TenantValidated),
        ),
        row(
            "a recorded tenant without a lead: the lead is created at once, not looked up",
            validated(),
            Seen::default(),
            |s| *s == S::Write(Write::CreateLead),
        ),
        adopting(row(
            "with the opt-in to adopt, the lead is looked up first",
            validated(),
            Seen::default(),
            |s| *s == S::Look(Look::Lead),
        )),
        row(
            "a creation the platform refused (the tenant has a lead): the lead is looked up",
            validated(),
            Seen {
                lead_refused: true,
                ..Seen::default()
            },
            |s| *s == S::Look(Look::Lead),
        ),
        row(
            "a customer held back by someone else's lead looks first, not sending it again",
            json!({"tenantValidated": true, "conditions": [{"type": "Ready", "status": "False", "reason": reason::ALREADY_EXISTS, "message": "", "lastTransitionTime": NOW}]}),
            Seen::default(),
            |s| *s == S::Look(Look::Lead),
        ),
        row(
            "a creation of the lead whose answer was lost: looked up before anything is sent",
            json!({"tenantValidated": true, "operation": {"action": "Create Consentless Lead", "startedAt": NOW}}),
            Seen::default(),
            |s| *s == S::Look(Look::Lead),
        ),
        row(
            "a running creation of the customer is looked at before the lead is read",
            json!({"leadId": "lead-1", "operation": {"action": "Create Customer from Lead", "startedAt": NOW, "taskId": "t1"}}),
            Seen::default(),
            |s| *s == S::Look(Look::Task("t1".into())),
        ),
        row(
            "a customer whose creation just ended is not called adopted",
            json!({"leadId": "lead-1"}),
            Seen {
                customer_created: true,
                ..lead_seen(Some("guid-1"), None)
            },
            |s| {
                *s == S::Settle(Settle::Customer {
                    guid: "guid-1".into(),
                    created: false,
                    adopted: false,
                })
            },
        ),
        row(
            "a recorded lead skips Entra ID",
            json!({"leadId": "lead-1"}),
            Seen::default(),
            |s| *s == S::Look(Look::Lead),
        ),
        row(
            "no lead: it is created",
            validated(),
            Seen {
                tenant: valid(),
                lead: Some(None),
                ..Seen::default()
            },
            |s| *s == S::Write(Write::CreateLead),
        ),
        row(
            "someone else's lead without the opt-in is refused",
            validated(),
            lead_seen(None, None),
            |s| matches!(s, S::Refuse { existing, .. } if existing.contains("lead lead-1")),
        ),
        adopting(row(
            "someone else's lead with the opt-in is adopted",
            validated(),
            lead_seen(Some("guid-1"), None),
            |s| matches!(s, S::Settle(Settle::Lead { id, created: false, adopted: Some(what) }) if id == "lead-1" && what.contains("customer guid-1")),
        )),
        row(
            "the lead this object was creating is recorded, not adopted",
            json!({"tenantValidated": true, "operation": {"action": "Create Consentless Lead", "startedAt": NOW}}),
            lead_seen(None, None),
            |s| {
                *s == S::Settle(Settle::Lead {
                    id: "lead-1".into(),
                    created: true,
                    adopted: None,
                })
            },
        ),
        row(
            "a lead that is not active waits on a timer",
            json!({"leadId": "lead-1"}),
            Seen {
                lead: Some(Some(lead("lead-1", None, None, "Suspended"))),
                ..Seen::default()
            },
            |s| matches!(s, S::Wait(w) if w.reason == reason::LEAD_NOT_ACTIVE && w.next == Next::Recheck && w.message.contains("Suspended")),
        ),
        with_spec(
            row(
                "the declared channel is assigned",
                json!({"leadId": "lead-1"}),
                lead_seen(None, Some(3)),
                |s| *s == S::Write(Write::AssignChannel(7)),
            ),
            json!({"channelId": 7}),
        ),
        row(
            "a channel no longer declared is removed",
            json!({"leadId": "lead-1", "channelId": 3}),
            lead_seen(None, Some(3)),
            |s| *s == S::Write(Write::RemoveChannel(3)),
        ),
        with_spec(
            row(
                "a channel in place is recorded",
                json!({"leadId": "lead-1"}),
                lead_seen(None, Some(7)),
                |s| *s == S::Settle(Settle::Channel),
            ),
            json!({"channelId": 7}),
        ),
        with_spec(
            row(
                "a channel assignment whose answer was lost, shown by the lead: recorded, not sent again",
                json!({"leadId": "lead-1", "operation": {"action": "Assign Consentless Lead to Channel", "startedAt": NOW}}),
                lead_seen(None, Some(7)),
                |s| *s == S::Settle(Settle::Channel),
            ),
            json!({"channelId": 7}),
        ),
        with_spec(
            row(
                "the same after the channel was recorded (drift put right)",
                json!({"leadId": "lead-1", "channelId": 7, "operation": {"action": "Assign Consentless Lead to Channel", "startedAt": NOW}}),
                lead_seen(None, Some(7)),
                |s| *s == S::Settle(Settle::Channel),
            ),
            json!({"channelId": 7}),
        ),
        with_spec(
            row(
                "a channel assignment whose answer was lost, not shown by the lead: sent again",
                json!({"leadId": "lead-1", "operation": {"action": "Assign Consentless Lead to Channel", "startedAt": NOW}}),
                lead_seen(None, None),
                |s| *s == S::Write(Write::AssignChannel(7)),
            ),
            json!({"channelId": 7}),
        ),
        row(
            "a channel removal whose answer was lost, shown by the lead: recorded, not sent again",
            json!({"leadId": "lead-1", "channelId": 3, "operation": {"action": "Remove Lead from Channel", "startedAt": NOW}}),
            lead_seen(None, None),
            |s| *s == S::Settle(Settle::Channel),
        ),
        row(
            "no customer on the lead: it is created",
            json!({"leadId": "lead-1"}),
            lead_seen(None, None),
            |s| *s == S::Write(Write::CreateCustomer),
        ),
        row(
            "a creation refused because the lead has a customer, or one being made, waits for it",
            json!({"leadId": "lead-1"}),
            Seen {
                customer_refused: true,
                ..lead_seen(None, None)
            },
            |s| matches!(s, S::Wait(w) if w.reason == reason::WAITING_FOR_TASK && w.next == Next::Task && w.message.contains("earlier request")),
        ),
        row(
            "the creation task is looked at",
            json!({"leadId": "lead-1", "operation": {"action": "Create Customer from Lead", "startedAt": NOW, "taskId": "t1"}}),
            lead_seen(None, None),
            |s| *s == S::Look(Look::Task("t1".into())),
        ),
        row(
            "a running creation waits for its task",
            json!({"leadId": "lead-1", "operation": {"action": "Create Customer from Lead", "startedAt": NOW, "taskId": "t1"}}),
            Seen {
                task: Some(TaskOutcome::StillRunning(task(
                    TaskStatus::InProgress,
                    json!({}),
                ))),
                ..lead_seen(None, None)
            },
            |s| matches!(s, S::Wait(w) if w.reason == reason::WAITING_FOR_TASK && w.next == Next::Task && w.message.contains("t1")),
        ),
        row(
            "a finished creation records the guid of its output",
            json!({"leadId": "lead-1", "operation": {"action": "Create Customer from Lead", "startedAt": NOW, "taskId": "t1"}}),
            Seen {
                task: Some(TaskOutcome::Succeeded(task(
                    TaskStatus::CompletedSuccess,
                    json!({"ump_customer_guid": "guid-9"}),
                ))),
                ..lead_seen(None, None)
            },
            |s| *s == S::Settle(Settle::CustomerTaskEnded(Some("guid-9".into()))),
        ),
        row(
            "a failed creation fails",
            json!({"leadId": "lead-1", "operation": {"action": "Create Customer from Lead", "startedAt": NOW, "taskId": "t1"}}),
            Seen {
                task: Some(TaskOutcome::Failed(task(TaskStatus::Failed, json!({})))),
                ..lead_seen(None, None)
            },
            |s| matches!(s, S::Fail(f) if f.action == WriteAction::CreateCustomer && f.task == "t1"),
        ),
        row(
            "a creation whose answer was lost, with no customer on the lead, is forgotten (then sent again)",
            json!({"leadId": "lead-1", "operation": {"action": "Create Customer from Lead", "startedAt": NOW}}),
            lead_seen(None, None),
            |s| *s == S::Settle(Settle::ForgetLostCreation),
        ),
        row(
            "a creation the lead already shows ends without a look at the task",
            json!({"leadId": "lead-1", "operation": {"action": "Create Customer from Lead", "startedAt": NOW, "taskId": "t1"}}),
            lead_seen(Some("guid-1"), None),
            |s| {
                *s == S::Settle(Settle::Customer {
                    guid: "guid-1".into(),
                    created: true,
                    adopted: false,
                })
            },
        ),
        row(
            "the customer of an adopted lead is taken over",
            json!({"leadId": "lead-1"}),
            lead_seen(Some("guid-1"), None),
            |s| {
                *s == S::Settle(Settle::Customer {
                    guid: "guid-1".into(),
                    created: false,
                    adopted: true,
                })
            },
        ),
        row(
            "the licence is read",
            recorded(),
            lead_seen(Some("guid-1"), None),
            |s| *s == S::Look(Look::Customer("guid-1".into())),
        ),
        with_spec(
            row(
                "OC Essentials is upgraded",
                licence_recorded(),
                Seen {
                    details: details(3, None),
                    ..lead_seen(Some("guid-1"), None)
                },
                |s| {
                    *s == S::Write(Write::UpgradeLicense {
                        to: LicenseType::OcEssentialsPlus,
                        count: 3,
                    })
                },
            ),
            json!({"license": {"type": "OcEssentialsPlus", "count": 3}}),
        ),
        row(
            "what the platform has is recorded before anything is changed",
            recorded(),
            Seen {
                details: details(3, None),
                ..lead_seen(Some("guid-1"), None)
            },
            |s| matches!(s, S::Settle(Settle::Licence { license, default_domain: Some(_) }) if license.type_ == "OcEssentials" && license.count.is_none()),
        ),
        row(
            "a licence cannot go back to OC Essentials",
            licence("OcEssentialsPlus", Some(3)),
            Seen {
                details: details(4, Some(3)),
                ..lead_seen(Some("guid-1"), None)
            },
            |s| {
                matches!(
                    s,
                    S::Reject(Rejection::NoWayBackToEssentials {
                        have: LicenseType::OcEssentialsPlus,
                        ..
                    })
                )
            },
        ),
        with_spec(
            row(
                "a licence count is changed",
                licence("OcEssentialsPlus", Some(3)),
                Seen {
                    details: details(4, Some(3)),
                    ..lead_seen(Some("guid-1"), None)
                },
                |s| {
                    *s == S::Write(Write::ChangeLicense {
                        from: LicenseType::OcEssentialsPlus,
                        to: LicenseType::OcEssentialsPlus,
                        count: 5,
                    })
                },
            ),
            json!({"license": {"type": "OcEssentialsPlus", "count": 5}}),
        ),
        with_spec(
            row(
                "Plus to Pro keeps the count",
                licence("OcEssentialsPlus", Some(3)),
                Seen {
                    details: details(4, Some(3)),
                    ..lead_seen(Some("guid-1"), None)
                },
                |s| {
                    *s == S::Write(Write::ChangeLicense {
                        from: LicenseType::OcEssentialsPlus,
                        to: LicenseType::OcPro,
                        count: 5,
                    })
                },
            ),
            json!({"license": {"type": "OcPro", "count": 5}}),
        ),
        row(
            "a licence the operator does not know is rejected",
            recorded(),
            Seen {
                details: details(0, None),
                ..lead_seen(Some("guid-1"), None)
            },
            |s| matches!(s, S::Reject(Rejection::UnmanagedLicence { code: 0, .. })),
        ),
        row(
            "a running upgrade waits for its task and says so in Licensed",
            upgrade_op(recorded(), Some("t2")),
            Seen {
                task: Some(TaskOutcome::StillRunning(task(
                    TaskStatus::InProgress,
                    json!({}),
                ))),
                ..lead_seen(Some("guid-1"), None)
            },
            |s| matches!(s, S::Wait(w) if w.reason == reason::UPDATING && w.also.iter().any(|a| a.type_ == LICENSED && !a.status)),
        ),
        row(
            "a finished upgrade is settled",
            upgrade_op(recorded(), Some("t2")),
            Seen {
                task: Some(TaskOutcome::Succeeded(task(
                    TaskStatus::CompletedSuccess,
                    json!({}),
                ))),
                ..lead_seen(Some("guid-1"), None)
            },
            |s| *s == S::Settle(Settle::UpgradeEnded),
        ),
        row(
            "a lost upgrade within its grace reads nothing",
            upgrade_op(recorded(), None),
            Seen::default(),
            |s| matches!(s, S::Wait(w) if w.reason == reason::WAITING_FOR_TASK && w.next == Next::After(Duration::from_secs(30)) && w.message.contains("answer was lost")),
        ),
        row(
            "a lost upgrade after its grace reads the licence before it forgets the upgrade",
            {
                let mut status = upgrade_op(recorded(), None);
                status["operation"]["startedAt"] = json!("2026-11-27T11:50:00Z");
                status
            },
            lead_seen(Some("guid-1"), None),
            |s| *s == S::Look(Look::Customer("guid-1".into())),
        ),
        row(
            "a lost upgrade after its grace, its licence read, is forgotten",
            {
                let mut status = upgrade_op(recorded(), None);
                status["operation"]["startedAt"] = json!("2026-11-27T11:50:00Z");
                status
            },
            Seen {
                details: details(4, None),
                ..lead_seen(Some("guid-1"), None)
            },
            |s| *s == S::Settle(Settle::ForgetLostUpgrade),
        ),
        with_spec(
            row(
                "an upgrade the platform refused, the customer read since with the upgrade made, is Ready",
                licence("OcEssentialsPlus", Some(2)),
                Seen {
                    details: details(4, Some(2)),
                    license_info: Some(vec![LicenseInfo::default()]),
                    upgrade_refused: true,
                    ..lead_seen(Some("guid-1"), None)
                },
                |s| matches!(s, S::Ready(_)),
            ),
            json!({"license": {"type": "OcEssentialsPlus", "count": 2}}),
        ),
        with_spec(
            row(
                "an upgrade the platform refused while the customer read since still has OcEssentials waits, not sent again",
                licence_recorded(),
                Seen {
                    details: details(3, None),
                    upgrade_refused: true,
                    ..lead_seen(Some("guid-1"), None)
                },
                |s| matches!(s, S::Wait(w) if w.reason == reason::UPDATING && w.next == Next::Recheck && w.message.contains("refused the upgrade")),
            ),
            json!({"license": {"type": "OcEssentialsPlus", "count": 2}}),
        ),
        with_spec(
            row(
                "a licence change the platform refused, still wanted once read again, is rejected with what to do",
                licence("OcEssentialsPlus", Some(3)),
                Seen {
                    details: details(4, Some(3)),
                    change_refused: true,
                    ..lead_seen(Some("guid-1"), None)
                },
                |s| {
                    matches!(
                        s,
                        S::Reject(Rejection::LicenceChangeRefused {
                            have: LicenseType::OcEssentialsPlus,
                            want: LicenseType::OcPro,
                            ..
                        })
                    )
                },
            ),
            json!({"license": {"type": "OcPro", "count": 3}}),
        ),
        Row {
            checking: true,
            ..row(
                "a drift check reads the licence info",
                licence_recorded(),
                Seen {
                    details: details(3, None),
                    ..lead_seen(Some("guid-1"), None)
                },
                |s| *s == S::Look(Look::LicenseInfo("guid-1".into())),
            )
        },
        row(
            "onboarding reads no licence info: a customer whose licence matches is Ready",
            licence_recorded(),
            Seen {
                details: details(3, None),
                ..lead_seen(Some("guid-1"), None)
            },
            |s| matches!(s, S::Ready(_)),
        ),
        row(
            "what the platform reports is recorded",
            recorded(),
            onboarded_seen(),
            |s| matches!(s, S::Settle(Settle::Licence { default_domain: Some(d), .. }) if d == "contoso.onmicrosoft.com"),
        ),
        row(
            "a customer matching its spec is Ready",
            licence_recorded(),
            onboarded_seen(),
            |s| matches!(s, S::Ready(r) if r.message.contains("customer guid-1") && r.also.iter().any(|a| a.type_ == LICENSED && a.status)),
        ),
    ];
    check(rows, plan);
}

/// What `held` gives for a status, as (lead id, Active, channel, customer) and the
/// licence code and count it holds.
type Held = (
    Option<(String, bool, Option<i64>, Option<String>)>,
    Option<(Option<i64>, Option<i64>, Option<String>)>,
);

fn held_of(status_value: Value, checking: bool) -> Held {
    let spec = spec(json!({}));
    let status = status(status_value);
    let known = Known {
        object: Declared {
            spec: &spec,
            status: &status,
            generation: None,
            may_adopt: false,
            deleting: false,
        },
        has_finalizer: true,
        now: NOW.parse().expect("a time"),
        lost_answer_grace: Duration::from_secs(120),
        checking,
    };
    let seen = held(&known);
    assert!(seen.tenant.is_none() && seen.task.is_none() && seen.license_info.is_none());
    (
        seen.lead.map(|lead| {
            let lead = lead.expect("a held lead is never 'none on the platform'");
            (
                lead.id.clone(),
                lead.is_active(),
                lead.channel_id,
                lead.ump_customer_guid,
            )
        }),
        seen.details.map(|d| {
            (
                d.service.license_type,
                d.service.licensed_users_count,
                d.ms_default_domain,
            )
        }),
    )
}

#[test]
fn what_a_customer_holds_instead_of_reading() {
    let full = || {
        let mut status = licence("OcEssentialsPlus", Some(10));
        status["channelId"] = json!(1574);
        status
    };
    let lead_held = Some((
        "lead-1".to_owned(),
        true,
        Some(1574),
        Some("guid-1".to_owned()),
    ));
    let licence_held = Some((
        Some(4),
        Some(10),
        Some("contoso.onmicrosoft.com".to_owned()),
    ));
    let cases: Vec<(&str, Held, Held)> = vec![
        (
            "a new customer holds nothing",
            held_of(json!({}), false),
            (None, None),
        ),
        (
            "a lead it recorded, Active, in its channel, with its customer",
            held_of(
                json!({"leadId": "lead-1", "channelId": 1574, "customerId": "guid-1"}),
                false,
            ),
            (lead_held.clone(), None),
        ),
        (
            "and the licence and domain it recorded",
            held_of(full(), false),
            (lead_held.clone(), licence_held.clone()),
        ),
        (
            "a task in flight with its answer holds all of it",
            held_of(upgrade_op(full(), Some("t2")), false),
            (lead_held.clone(), licence_held),
        ),
        (
            "a drift check holds nothing: it confirms on the platform",
            held_of(full(), true),
            (None, None),
        ),
        (
            "a write whose answer was lost holds nothing: it is looked up",
            held_of(upgrade_op(full(), None), false),
            (None, None),
        ),
        (
            "a channel assignment whose answer was lost holds nothing: the lead is read",
            held_of(
                {
                    let mut status = full();
                    status["operation"] =
                        json!({"action": "Assign Consentless Lead to Channel", "startedAt": NOW});
                    status
                },
                false,
            ),
            (None, None),
        ),
        (
            "a lead last seen not Active is read again",
            held_of(
                {
                    let mut status = full();
                    status["conditions"] = json!([{"type": "Ready", "status": "False", "reason": reason::LEAD_NOT_ACTIVE, "message": "", "lastTransitionTime": NOW}]);
                    status
                },
                false,
            ),
            (
                None,
                Some((
                    Some(4),
                    Some(10),
                    Some("contoso.onmicrosoft.com".to_owned()),
                )),
            ),
        ),
    ];
    let failures: Vec<String> = cases
        .into_iter()
        .filter(|(_, got, want)| got != want)
        .map(|(name, got, want)| format!("{name}: got {got:?}, want {want:?}"))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What a customer knows in a reconcile while it onboards.
fn onboarding<'a>(spec: &'a OCCustomerSpec, status: &'a OCCustomerStatus) -> Known<'a> {
    Known {
        object: Declared {
            spec,
            status,
            generation: None,
            may_adopt: false,
            deleting: false,
        },
        has_finalizer: true,
        now: NOW.parse().expect("a time"),
        lost_answer_grace: Duration::from_secs(120),
        checking: false,
    }
}

#[test]
fn an_onboarding_from_what_it_holds_reads_nothing_but_the_customer_once() {
    // The whole onboarding of a customer with a channel and OC Essentials Plus x10,
    // step by step as the reconciles take it, each starting from what `held` gives
    // and carrying the answers of its writes: the only reads are the tenant's
    // validation, the creation's and the upgrade's task polls, and one customer read
    // (its licence and default domain, which no answer carries).
    let spec =
        spec(json!({"channelId": 1574, "license": {"type": "OcEssentialsPlus", "count": 10}}));
    let mut status = OCCustomerStatus::default();
    let mut seen = Seen::default();
    let mut steps: Vec<String> = Vec::new();
    for _ in 0..40 {
        let step = plan(&onboarding(&spec, &status), &seen);
        steps.push(match &step {
            S::Look(look) => format!("look {look:?}"),
            S::Write(write) => format!("write {write:?}"),
            S::Settle(settle) => format!(
                "settle {}",
                format!("{settle:?}")
                    .split([' ', '(', '{'])
                    .next()
                    .unwrap_or_default()
            ),
            S::Ready(_) => "ready".to_owned(),
            other => format!("{other:?}"),
        });
        match step {
            S::Look(Look::Tenant) => seen.tenant = valid(),
            S::Look(Look::Task(_)) => {
                let output = match status.operation.as_ref().map(|op| op.action) {
                    Some(crate::api::common::WriteAction::CreateCustomer) => {
                        json!({"ump_customer_guid": "guid-1"})
                    }
                    _ => json!({}),
                };
                seen.task = Some(TaskOutcome::Succeeded(task(
                    TaskStatus::CompletedSuccess,
                    output,
                )));
            }
            S::Look(Look::Customer(_)) => seen.details = details(3, None),
            S::Look(other) => panic!("read {other:?} after {steps:?}"),
            S::Settle(Settle::TenantValidated) => status.tenant_validated = true,
            S::Settle(Settle::Lead { id, .. }) => {
                status.operation = None;
                status.lead_id = Some(id);
            }
            S::Settle(Settle::Channel) => status.channel_id = spec.channel_id,
            S::Settle(Settle::CustomerTaskEnded(guid)) => {
                status.operation = None;
                status.customer_id = guid;
                // A new reconcile (the task was polled after a requeue).
                seen = held(&onboarding(&spec, &status));
            }
            S::Settle(Settle::Customer { guid, .. }) => status.customer_id = Some(guid),
            S::Settle(Settle::Licence {
                license,
                default_domain,
            }) => {
                status.license = Some(license);
                status.default_domain = default_domain;
            }
            S::Settle(Settle::UpgradeEnded) => {
                status.operation = None;
                seen = held(&onboarding(&spec, &status));
                if let Some(details) = seen.details.as_mut() {
                    details.service.license_type = Some(4);
                    details.service.licensed_users_count = Some(10);
                }
            }
            S::Write(Write::CreateLead) => {
                seen.lead = Some(Some(super::lead("lead-1", None, None, "Active")));
                status.operation = Some(
                    serde_json::from_value(
                        json!({"action": "Create Consentless Lead", "startedAt": NOW}),
                    )
                    .expect("an operation"),
                );
            }
            S::Write(Write::AssignChannel(channel)) => {
                if let Some(Some(lead)) = seen.lead.as_mut() {
                    lead.channel_id = Some(channel);
                }
            }
            S::Write(Write::CreateCustomer) => {
                status.operation = Some(serde_json::from_value(json!({"action": "Create Customer from Lead", "startedAt": NOW, "taskId": "t1"})).expect("an operation"));
                // The next reconcile, after the task poll's requeue.
                seen = held(&onboarding(&spec, &status));
            }
            S::Write(Write::UpgradeLicense { .. }) => {
                status.operation = Some(serde_json::from_value(json!({"action": "Upgrade OC Customer License", "startedAt": NOW, "taskId": "t2", "items": ["OcEssentialsPlus:10"]})).expect("an operation"));
                seen = held(&onboarding(&spec, &status));
            }
            S::Ready(_) => break,
            other => panic!("unexpected {other:?} after {steps:?}"),
        }
    }
    let reads: Vec<&String> = steps.iter().filter(|s| s.starts_with("look")).collect();
    assert_eq!(
        reads,
        [
            "look Tenant",
            "look Task(\"t1\")",
            "look Customer(\"guid-1\")",
            "look Task(\"t2\")"
        ],
        "{steps:#?}"
    );
    assert_eq!(
        steps.last().map(String::as_str),
        Some("ready"),
        "{steps:#?}"
    );
}

#[test]
fn every_step_of_deletion() {
    let orphan = |mut r: Row| {
        r.spec = json!({"deletionPolicy": "Orphan"});
        r
    };
    let without_finalizer = |mut r: Row| {
        r.finalizer = false;
        r
    };
    let none_left = || {
        Some(vec![
            Dependents {
                what: "end users",
                objects: vec![],
            },
            Dependents {
                what: "number blocks",
                objects: vec![],
            },
        ])
    };
    let platform_seen = |lead: Option<Option<liveplatform::model::Lead>>| Seen {
        dependents: none_left(),
        platform: Some(true),
        lead,
        ..Seen::default()
    };
    let rows = vec![
        orphan(row(
            "Orphan lists its dependents first too",
            recorded(),
            Seen::default(),
            |s| *s == S::Look(Look::Dependents),
        )),
        orphan(row(
            "Orphan deletes its dependents (which are orphaned with it) and waits",
            recorded(),
            Seen {
                dependents: Some(vec![Dependents {
                    what: "number blocks",
                    objects: vec![("block".into(), false)],
                }]),
                ..Seen::default()
            },
            |s| *s == S::Write(Write::DeleteDependents),
        )),
        orphan(row(
            "Orphan lets go once its dependents are gone, leaving the platform as it is",
            recorded(),
            Seen {
                dependents: none_left(),
                ..Seen::default()
            },
            |s| matches!(s, S::Write(Write::LetGo(Some(note))) if note.contains("Orphan")),
        )),
        without_finalizer(row(
            "no finalizer: nothing to do",
            recorded(),
            Seen::default(),
            |s| *s == S::Write(Write::LetGo(None)),
        )),
        row(
            "dependents are listed first",
            recorded(),
            Seen::default(),
            |s| *s == S::Look(Look::Dependents),
        ),
        row(
            "dependents are deleted, end users before number blocks",
            recorded(),
            Seen {
                dependents: Some(vec![
                    Dependents {
                        what: "end users",
                        objects: vec![("alice".into(), false)],
                    },
                    Dependents {
                        what: "number blocks",
                        objects: vec![("block".into(), false)],
                    },
                ]),
                ..Seen::default()
            },
            |s| *s == S::Write(Write::DeleteDependents),
        ),
        row(
            "dependents being deleted are waited for, by name",
            recorded(),
            Seen {
                dependents: Some(vec![
                    Dependents {
                        what: "end users",
                        objects: vec![],
                    },
                    Dependents {
                        what: "number blocks",
                        objects: vec![("block".into(), true)],
                    },
                ]),
                ..Seen::default()
            },
            |s| matches!(s, S::Wait(w) if w.reason == reason::DELETING && w.message.contains("number blocks block")),
        ),
        row(
            "a customer that never had a lead lets go without a call",
            json!({}),
            Seen {
                dependents: none_left(),
                ..Seen::default()
            },
            |s| *s == S::Write(Write::LetGo(None)),
        ),
        row(
            "the platform is reached for",
            recorded(),
            Seen {
                dependents: none_left(),
                ..Seen::default()
            },
            |s| *s == S::Look(Look::Platform),
        ),
        row(
            "an unreachable platform keeps the finalizer",
            recorded(),
            Seen {
                dependents: none_left(),
                platform: Some(false),
                ..Seen::default()
            },
            |s| matches!(s, S::Wait(w) if w.reason == reason::DELETING && w.next == Next::Shortly),
        ),
        row(
            "the lead is read before deleting",
            recorded(),
            platform_seen(None),
            |s| *s == S::Look(Look::Lead),
        ),
        row(
            "the service goes first",
            recorded(),
            platform_seen(Some(Some(lead("lead-1", Some("guid-1"), None, "Active")))),
            |s| *s == S::Write(Write::DeleteService("guid-1".into())),
        ),
        row(
            "a service recorded without a lead is deleted",
            recorded(),
            platform_seen(Some(None)),
            |s| *s == S::Write(Write::DeleteService("guid-1".into())),
        ),
        row(
            "then the lead",
            json!({"leadId": "lead-1"}),
            platform_seen(Some(Some(lead("lead-1", None, None, "Active")))),
            |s| *s == S::Write(Write::DeleteLead),
        ),
        row(
            "then the finalizer",
            json!({"leadId": "lead-1"}),
            platform_seen(Some(None)),
            |s| *s == S::Write(Write::LetGo(None)),
        ),
    ];
    check(rows, plan_deletion);
}
