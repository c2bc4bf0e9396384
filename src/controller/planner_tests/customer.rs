//! Every step of the `OCCustomer` planner, in-process: (spec, status, seen) -> step.

use std::time::Duration;

use serde_json::{Value, json};

use super::{expect_all, lead, merged, task, upgrade_op};
use crate::api::conditions::{LICENSED, reason};
use crate::api::customer::{LicenseType, OCCustomerSpec, OCCustomerStatus};
use crate::controller::customer::{
    Dependents, Known, Look, Seen, Settle, Step, Write, plan, plan_deletion,
};
use crate::controller::plan::{Next, Step as S};
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
    json!({
        "leadId": "lead-1", "customerId": "guid-1",
        "license": {"type": "OcEssentials"},
        "defaultDomain": "contoso.onmicrosoft.com",
    })
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
        seen,
        want,
    }
}

fn check(rows: Vec<Row>, planner: fn(&Known, &Seen) -> Step) {
    expect_all(rows.into_iter().map(|r| {
        let spec = spec(r.spec);
        let status = status(r.status);
        let known = Known {
            spec: &spec,
            status: &status,
            may_adopt: r.adopt,
            has_finalizer: r.finalizer,
            now: NOW.parse().expect("a time"),
            lost_answer_grace: Duration::from_secs(120),
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
            |s| matches!(s, S::Reject(m) if m.contains("unknown to Microsoft Entra ID") && m.contains("AADSTS90002")),
        ),
        row(
            "a known tenant: the lead is looked up",
            json!({}),
            Seen {
                tenant: valid(),
                ..Seen::default()
            },
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
            json!({}),
            Seen {
                tenant: valid(),
                lead: Some(None),
                ..Seen::default()
            },
            |s| *s == S::Write(Write::CreateLead),
        ),
        row(
            "someone else's lead without the opt-in is refused",
            json!({}),
            lead_seen(None, None),
            |s| matches!(s, S::Refuse { existing, .. } if existing.contains("lead lead-1")),
        ),
        adopting(row(
            "someone else's lead with the opt-in is adopted",
            json!({}),
            lead_seen(Some("guid-1"), None),
            |s| matches!(s, S::Settle(Settle::Lead { id, created: false, adopted: Some(what) }) if id == "lead-1" && what.contains("customer guid-1")),
        )),
        row(
            "the lead this object was creating is recorded, not adopted",
            json!({"operation": {"action": "Create Consentless Lead", "startedAt": NOW}}),
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
        row(
            "no customer on the lead: it is created",
            json!({"leadId": "lead-1"}),
            lead_seen(None, None),
            |s| *s == S::Write(Write::CreateCustomer),
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
            |s| matches!(s, S::Fail(m) if m.contains("creating the customer failed (task t1)")),
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
                recorded(),
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
            "a licence cannot go back to OC Essentials",
            recorded(),
            Seen {
                details: details(4, Some(3)),
                ..lead_seen(Some("guid-1"), None)
            },
            |s| matches!(s, S::Reject(m) if m.contains("cannot go back to OcEssentials")),
        ),
        with_spec(
            row(
                "a licence count is changed",
                recorded(),
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
                recorded(),
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
            |s| matches!(s, S::Reject(m) if m.contains("licence type 0")),
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
            "a lost upgrade after its grace looks the platform up again",
            {
                let mut status = upgrade_op(recorded(), None);
                status["operation"]["startedAt"] = json!("2026-11-27T11:50:00Z");
                status
            },
            lead_seen(Some("guid-1"), None),
            |s| *s == S::Settle(Settle::ForgetLostUpgrade),
        ),
        row(
            "licence info is read once the licence matches",
            recorded(),
            Seen {
                details: details(3, None),
                ..lead_seen(Some("guid-1"), None)
            },
            |s| *s == S::Look(Look::LicenseInfo("guid-1".into())),
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
            "Orphan lets go at once",
            recorded(),
            Seen::default(),
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
