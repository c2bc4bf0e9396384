//! Every step of the `OCEndUser` planner, in-process.

use crate::controller::declared::Declared;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Case as Expect, expect_all, task};
use crate::api::common::WriteAction;
use crate::api::end_user::{OCEndUserSpec, OCEndUserStatus};
use crate::controller::end_user::{
    Known, LICENSE_REQUIRED, Look, Seen, Settle, Step, WAITING_FOR_LICENSE, Write, plan,
};
use crate::controller::plan::{Next, Step as S};
use liveplatform::TaskOutcome;
use liveplatform::model::{EndUser, TaskStatus};

const LINE: &str = "tel:+14255550100";

fn user(line: Option<&str>, voice: bool) -> EndUser {
    EndUser {
        sip_address: Some("alice@contoso.com".into()),
        object_id: Some("oid-1".into()),
        line_uri: line.map(Into::into),
        enterprise_voice_enabled: voice,
        ..EndUser::default()
    }
}

/// The status of a user provisioned at generation 1, recording `user(LINE, true)`.
fn provisioned() -> Value {
    json!({"appliedGeneration": 1, "objectId": "oid-1", "lineUri": LINE, "enterpriseVoiceEnabled": true})
}

fn provisioning(task: Option<&str>) -> Value {
    let mut status = json!({"appliedGeneration": 1, "operation": {"action": "Provision Customer End User", "startedAt": "2026-11-27T12:00:00Z"}});
    if let Some(task) = task {
        status["operation"]["taskId"] = json!(task);
    }
    status
}

struct Case {
    status: Value,
    seen: Seen,
    generation: i64,
    adopt: bool,
    deleting: bool,
    licensed: bool,
    upgrade_declared: bool,
    number_pending: Option<&'static str>,
    customer_created: bool,
}

fn case(status: Value, seen: Seen) -> Case {
    Case {
        status,
        seen,
        generation: 1,
        adopt: false,
        deleting: false,
        licensed: true,
        upgrade_declared: true,
        number_pending: None,
        customer_created: false,
    }
}

fn listed(user: Option<EndUser>) -> Seen {
    Seen {
        user: Some(user),
        ..Seen::default()
    }
}

fn step(c: Case) -> Step {
    let spec: OCEndUserSpec = serde_json::from_value(json!({
        "customerRef": {"name": "contoso"}, "sipAddress": "alice@contoso.com", "lineUri": LINE,
    }))
    .expect("a valid spec");
    let status: OCEndUserStatus = serde_json::from_value(c.status).expect("a valid status");
    let known = Known {
        object: Declared {
            spec: &spec,
            status: &status,
            generation: Some(c.generation),
            may_adopt: c.adopt,
            deleting: c.deleting,
        },
        licensed: c.licensed,
        upgrade_declared: c.upgrade_declared,
        customer: "contoso",
        tenant: "t",
        license_recheck: Duration::from_secs(30),
        number_pending: c.number_pending,
        customer_created: c.customer_created,
        now: "2026-11-27T12:05:00Z".parse().expect("a time"),
        lost_answer_grace: Duration::from_secs(120),
    };
    plan(&known, &c.seen)
}

#[test]
fn every_step_of_an_end_user() {
    let running = || {
        Some(TaskOutcome::StillRunning(task(
            TaskStatus::InProgress,
            json!({}),
        )))
    };
    let done = || {
        Some(TaskOutcome::Succeeded(task(
            TaskStatus::CompletedSuccess,
            json!({}),
        )))
    };
    let cases: Vec<Expect<Step>> = vec![
        (
            "a new user is looked up first",
            step(case(json!({}), Seen::default())),
            |s| *s == S::Look(Look::User),
        ),
        (
            "under a customer the operator created, it is provisioned without a look",
            step(Case {
                customer_created: true,
                ..case(json!({}), Seen::default())
            }),
            |s| *s == S::Write(Write::Provision { deleting: false }),
        ),
        (
            "but looked up with the opt-in to adopt",
            step(Case {
                customer_created: true,
                adopt: true,
                ..case(json!({}), Seen::default())
            }),
            |s| *s == S::Look(Look::User),
        ),
        (
            "and once it provisioned the user (a spec change, a drift check)",
            step(Case {
                customer_created: true,
                ..case(provisioned(), Seen::default())
            }),
            |s| *s == S::Look(Look::User),
        ),
        (
            "and after a provisioning whose answer was lost",
            step(Case {
                customer_created: true,
                ..case(
                    json!({}),
                    Seen {
                        lost: Some(Some(1)),
                        ..Seen::default()
                    },
                )
            }),
            |s| *s == S::Look(Look::User),
        ),
        (
            "an OC Essentials customer that stays so: the user needs a person to upgrade it",
            step(Case {
                licensed: false,
                upgrade_declared: false,
                ..case(json!({}), Seen::default())
            }),
            |s| matches!(s, S::Wait(w) if w.reason == LICENSE_REQUIRED && w.next == Next::After(Duration::from_secs(30)) && w.message.contains("OCCustomer contoso")),
        ),
        (
            "an upgrade declared and under way: the user waits for it, which comes by itself",
            step(Case {
                licensed: false,
                ..case(json!({}), Seen::default())
            }),
            |s| matches!(s, S::Wait(w) if w.reason == WAITING_FOR_LICENSE && w.next == Next::After(Duration::from_secs(30)) && w.message.contains("under way")),
        ),
        (
            "the platform's LicenseRequired while the upgrade is declared is a wait too",
            step(case(
                json!({}),
                Seen {
                    license_required: true,
                    ..Seen::default()
                },
            )),
            |s| matches!(s, S::Wait(w) if w.reason == WAITING_FOR_LICENSE),
        ),
        (
            "deleting without the licence lets go: nothing was provisioned",
            step(Case {
                licensed: false,
                deleting: true,
                ..case(provisioned(), Seen::default())
            }),
            |s| *s == S::Write(Write::LetGo),
        ),
        (
            "a user whose line URI's number a block has yet to bring waits, without a call",
            step(Case {
                number_pending: Some("main"),
                ..case(json!({}), Seen::default())
            }),
            |s| matches!(s, S::Wait(w) if w.reason == "WaitingForDependency" && w.message.contains("OCNumberBlock main")),
        ),
        (
            "a user being deleted does not wait for its number",
            step(Case {
                number_pending: Some("main"),
                deleting: true,
                ..case(provisioned(), Seen::default())
            }),
            |s| *s == S::Look(Look::User),
        ),
        (
            "the user is listed first",
            step(case(json!({}), Seen::default())),
            |s| *s == S::Look(Look::User),
        ),
        (
            "a user without voice settings is provisioned",
            step(case(
                json!({"objectId": "oid-1", "enterpriseVoiceEnabled": false}),
                listed(Some(user(None, false))),
            )),
            |s| *s == S::Write(Write::Provision { deleting: false }),
        ),
        (
            "voice settings nobody provisioned are refused without the opt-in",
            step(case(json!({}), listed(Some(user(Some(LINE), true))))),
            |s| matches!(s, S::Refuse { existing, .. } if existing.contains(LINE)),
        ),
        (
            "with the opt-in, matching settings are taken over as they are",
            step(Case {
                adopt: true,
                ..case(json!({}), listed(Some(user(Some(LINE), true))))
            }),
            |s| matches!(s, S::Settle(Settle::Adopt { as_is: true, .. })),
        ),
        (
            "what the platform lists is recorded",
            step(case(
                json!({"appliedGeneration": 1}),
                listed(Some(user(Some(LINE), true))),
            )),
            |s| matches!(s, S::Settle(Settle::Record(u)) if u.line_uri.as_deref() == Some(LINE)),
        ),
        (
            "a new generation is sent even when the listing matches",
            step(Case {
                generation: 2,
                ..case(provisioned(), listed(Some(user(Some(LINE), true))))
            }),
            |s| *s == S::Write(Write::Provision { deleting: false }),
        ),
        (
            "a running provisioning is looked at",
            step(case(provisioning(Some("t4")), Seen::default())),
            |s| *s == S::Look(Look::Task("t4".into())),
        ),
        (
            "and waited for",
            step(case(
                provisioning(Some("t4")),
                Seen {
                    task: running(),
                    ..Seen::default()
                },
            )),
            |s| matches!(s, S::Wait(w) if w.next == Next::Task && w.message.contains("t4")),
        ),
        (
            "a failed provisioning fails",
            step(case(
                provisioning(Some("t4")),
                Seen {
                    task: Some(TaskOutcome::Failed(task(TaskStatus::Failed, json!({})))),
                    ..Seen::default()
                },
            )),
            |s| matches!(s, S::Fail(f) if f.action == WriteAction::ProvisionEndUser && f.target.as_deref() == Some("alice@contoso.com")),
        ),
        (
            "a finished provisioning is settled",
            step(case(
                provisioning(Some("t4")),
                Seen {
                    task: done(),
                    ..Seen::default()
                },
            )),
            |s| *s == S::Settle(Settle::TaskEnded),
        ),
        (
            "a provisioning whose answer was lost waits its grace: its task may still run",
            step(case(
                {
                    let mut status = provisioning(None);
                    status["operation"]["startedAt"] = json!("2026-11-27T12:04:00Z");
                    status
                },
                Seen::default(),
            )),
            |s| matches!(s, S::Wait(w) if w.next == Next::After(Duration::from_secs(60)) && w.message.contains("answer was lost")),
        ),
        (
            "a provisioning whose answer was lost is looked up in the list once its grace is over",
            step(case(
                {
                    let mut status = provisioning(None);
                    status["operation"]["generation"] = json!(2);
                    status
                },
                Seen::default(),
            )),
            |s| {
                *s == S::Settle(Settle::ForgetLost {
                    generation: Some(2),
                })
            },
        ),
        (
            "voice settings found after a lost first provisioning are this object's, not refused",
            step(case(
                json!({}),
                Seen {
                    lost: Some(Some(1)),
                    ..listed(Some(user(Some(LINE), true)))
                },
            )),
            |s| matches!(s, S::Settle(Settle::Record(_))),
        ),
        (
            "the lost provisioning shows on the platform: its generation is applied, not sent again",
            step(case(
                json!({"objectId": "oid-1", "lineUri": LINE, "enterpriseVoiceEnabled": true}),
                Seen {
                    lost: Some(Some(1)),
                    ..listed(Some(user(Some(LINE), true)))
                },
            )),
            |s| *s == S::Settle(Settle::LostWriteLanded(Some(1))),
        ),
        (
            "a lost provisioning of an older generation is sent again with the spec",
            step(Case {
                generation: 2,
                ..case(
                    provisioned(),
                    Seen {
                        lost: Some(Some(1)),
                        ..listed(Some(user(Some(LINE), true)))
                    },
                )
            }),
            |s| *s == S::Write(Write::Provision { deleting: false }),
        ),
        (
            "a lost provisioning whose generation was not recorded is sent again",
            step(case(
                json!({"objectId": "oid-1", "lineUri": LINE, "enterpriseVoiceEnabled": true}),
                Seen {
                    lost: Some(None),
                    ..listed(Some(user(Some(LINE), true)))
                },
            )),
            |s| *s == S::Write(Write::Provision { deleting: false }),
        ),
        (
            "a provisioned user is Ready",
            step(case(provisioned(), listed(Some(user(Some(LINE), true))))),
            |s| matches!(s, S::Ready(r) if r.message == format!("alice@contoso.com is provisioned with {LINE}")),
        ),
        (
            "deleting takes the voice settings off",
            step(Case {
                deleting: true,
                ..case(provisioned(), listed(Some(user(Some(LINE), true))))
            }),
            |s| *s == S::Write(Write::Provision { deleting: true }),
        ),
        (
            "deleting a user whose settings are off lets go",
            step(Case {
                deleting: true,
                ..case(
                    json!({"appliedGeneration": 1, "objectId": "oid-1", "enterpriseVoiceEnabled": false}),
                    listed(Some(user(None, false))),
                )
            }),
            |s| *s == S::Write(Write::LetGo),
        ),
        (
            "deleting a user no longer listed lets go",
            step(Case {
                deleting: true,
                ..case(provisioned(), listed(None))
            }),
            |s| *s == S::Write(Write::LetGo),
        ),
        (
            "the end of the removal lets go without another listing",
            step(Case {
                deleting: true,
                ..case(
                    json!({"appliedGeneration": 1}),
                    Seen {
                        removed: true,
                        ..Seen::default()
                    },
                )
            }),
            |s| *s == S::Write(Write::LetGo),
        ),
    ];
    expect_all(cases);
}

#[test]
fn a_user_waits_only_for_a_block_on_its_way_with_its_number() {
    use crate::api::OCNumberBlock;
    use crate::controller::end_user::brings;
    let block = |ready: (&str, &str), status: Value| -> OCNumberBlock {
        let mut status = status;
        status["conditions"] = json!([{"type": "Ready", "status": ready.0, "reason": ready.1, "message": "",
                                       "lastTransitionTime": "2026-11-27T12:00:00Z", "observedGeneration": 1}]);
        serde_json::from_value(json!({
            "apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCNumberBlock",
            "metadata": {"name": "main", "namespace": "n", "generation": 1},
            "spec": {"customerRef": {"name": "contoso"}, "callingProfileId": "cp-1", "usage": "CallingUserAssignment",
                     "numbers": ["+14255550100", "+14255550101"]},
            "status": status,
        }))
        .expect("a block")
    };
    let upload = |items: &[&str]| json!({"action": "Upload Numbers to Customer", "startedAt": "2026-11-27T12:00:00Z", "items": items});
    const N: &str = "+14255550100";
    // (what, block, the user waits for it)
    let cases = [
        (
            "a block uploading the number",
            block(
                ("False", "WaitingForTask"),
                json!({"active": ["+14255550100-+14255550101"], "operation": upload(&["+14255550100-+14255550101"])}),
            ),
            true,
        ),
        (
            "a block creating, nothing active yet",
            block(("False", "Creating"), json!({})),
            true,
        ),
        (
            "a block uploading another number, this one active",
            block(
                ("False", "WaitingForTask"),
                json!({"active": ["+14255550100-+14255550101"], "operation": upload(&["+14255550101"])}),
            ),
            false,
        ),
        (
            "a block updating with this number active",
            block(("False", "Updating"), json!({"active": [N]})),
            false,
        ),
        (
            "a Ready block",
            block(("True", "Available"), json!({"active": [N]})),
            false,
        ),
        (
            "a block that refused the number",
            block(
                ("False", "WaitingForTask"),
                json!({"failed": [{"number": N, "reason": "validation_failed"}]}),
            ),
            false,
        ),
        (
            "a block held in conflict",
            block(("False", "Conflict"), json!({})),
            false,
        ),
    ];
    let wrong: Vec<&str> = cases
        .iter()
        .filter(|(_, b, waits)| brings(b, N) != *waits)
        .map(|(what, _, _)| *what)
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
    assert!(
        !brings(&cases[1].1, "+14255550199"),
        "a number the block does not declare"
    );
}
