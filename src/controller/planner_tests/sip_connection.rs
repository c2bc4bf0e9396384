//! Every step of the `OCSipConnection` planner, in-process.

use crate::controller::declared::Declared;
use serde_json::{Value, json};

use super::{Case, expect_all, task};
use crate::api::common::WriteAction;
use crate::api::sip_connection::{OCSipConnectionSpec, OCSipConnectionStatus};
use crate::controller::plan::{Next, Step as S};
use crate::controller::sip_connection::{Known, Look, Seen, Settle, Step, Write, plan};
use crate::controller::stops::Rejection;
use liveplatform::TaskOutcome;
use liveplatform::contract::deployment_state::{DEPLOYED, DEPLOYING, FAILED, REMOVING};
use liveplatform::model::{SbcInfo, SipConnection, TaskStatus};

/// A site as Get SIP Connection shows it, matching the spec but for `sbc`.
fn site(sbc: &str, state: i64) -> SipConnection {
    SipConnection {
        site_name: Some("hq".into()),
        sbc_deployment_state: Some(state),
        m365_deployment_state: Some(state),
        sbc_info: Some(SbcInfo {
            sbc_id: Some(sbc.into()),
            flag_configure_sbc: true,
            ..SbcInfo::default()
        }),
        ..SipConnection::default()
    }
}

/// The status of a site added at generation 1 and seen deployed.
fn deployed() -> Value {
    json!({"appliedGeneration": 1, "siteLocationId": "s1", "sbcDeploymentState": "Deployed", "m365DeploymentState": "Deployed"})
}

fn with_op(mut status: Value, action: &str, task: Option<&str>) -> Value {
    status["operation"] = json!({"action": action, "startedAt": "2026-11-27T12:00:00Z"});
    if let Some(task) = task {
        status["operation"]["taskId"] = json!(task);
    }
    status
}

fn seen_site(site: Option<SipConnection>) -> Seen {
    Seen {
        site: Some(site),
        ..Seen::default()
    }
}

fn by_name(id: Option<&str>) -> Seen {
    Seen {
        by_name: Some(id.map(Into::into)),
        ..Seen::default()
    }
}

/// (status, seen, generation, adopt, deleting) -> step.
fn step(status: Value, seen: Seen, generation: i64, adopt: bool, deleting: bool) -> Step {
    step_under(false, status, seen, generation, adopt, deleting)
}

/// The same under a customer the operator created.
fn created(status: Value, seen: Seen, adopt: bool) -> Step {
    step_under(true, status, seen, 1, adopt, false)
}

fn step_under(
    customer_created: bool,
    status: Value,
    seen: Seen,
    generation: i64,
    adopt: bool,
    deleting: bool,
) -> Step {
    let spec: OCSipConnectionSpec = serde_json::from_value(json!({
        "customerRef": {"name": "contoso"}, "siteName": "hq", "sbcId": "sbc-1",
    }))
    .expect("a valid spec");
    let status: OCSipConnectionStatus = serde_json::from_value(status).expect("a valid status");
    let known = Known {
        object: Declared {
            spec: &spec,
            status: &status,
            generation: Some(generation),
            may_adopt: adopt,
            deleting,
        },
        tenant: "t",
        customer_created,
    };
    plan(&known, &seen)
}

fn apply(status: Value, seen: Seen) -> Step {
    step(status, seen, 1, false, false)
}

fn delete(status: Value, seen: Seen) -> Step {
    step(status, seen, 1, false, true)
}

#[test]
fn every_step_of_a_sip_connection() {
    const ADD: &str = "Add SIP Connection";
    const DELETE: &str = "Delete SIP Connection";
    let running = || {
        Some(TaskOutcome::StillRunning(task(
            TaskStatus::InProgress,
            json!({}),
        )))
    };
    let failed = || Some(TaskOutcome::Failed(task(TaskStatus::Failed, json!({}))));
    let done = || {
        Some(TaskOutcome::Succeeded(task(
            TaskStatus::CompletedSuccess,
            json!({}),
        )))
    };
    let cases: Vec<Case<Step>> = vec![
        (
            "a new site is looked for by name",
            apply(json!({}), Seen::default()),
            |s| *s == S::Look(Look::ByName),
        ),
        (
            "no site of that name: it is added",
            apply(json!({}), by_name(None)),
            |s| *s == S::Write(Write::Add),
        ),
        (
            "under a customer the operator created, a new site is added without a look",
            created(json!({}), Seen::default(), false),
            |s| *s == S::Write(Write::Add),
        ),
        (
            "but looked for with the opt-in to adopt",
            created(json!({}), Seen::default(), true),
            |s| *s == S::Look(Look::ByName),
        ),
        (
            "and after an add whose answer was lost",
            created(
                json!({}),
                Seen {
                    added_unseen: Some(Some(1)),
                    ..Seen::default()
                },
                false,
            ),
            |s| *s == S::Look(Look::ByName),
        ),
        (
            "a site of that name nobody added is refused without the opt-in",
            apply(json!({}), by_name(Some("s9"))),
            |s| matches!(s, S::Refuse { existing, .. } if existing.contains("site location s9")),
        ),
        (
            "with the opt-in it is adopted",
            step(json!({}), by_name(Some("s9")), 1, true, false),
            |s| matches!(s, S::Settle(Settle::Adopt(_))),
        ),
        (
            "after a lost add, the site found by name is this object's own, with the spec the add carried",
            apply(
                json!({}),
                Seen {
                    added_unseen: Some(Some(1)),
                    ..by_name(Some("s9"))
                },
            ),
            |s| {
                *s == S::Settle(Settle::Found {
                    id: "s9".into(),
                    applied: Some(1),
                })
            },
        ),
        (
            "an adopted site found by name is not taken as applied",
            apply(
                json!({}),
                Seen {
                    adopted: true,
                    ..by_name(Some("s9"))
                },
            ),
            |s| {
                *s == S::Settle(Settle::Found {
                    id: "s9".into(),
                    applied: None,
                })
            },
        ),
        (
            "an adopted site that matches the spec is applied as it is",
            apply(
                json!({"siteLocationId": "s9"}),
                Seen {
                    adopted: true,
                    ..seen_site(Some(site("sbc-1", DEPLOYED)))
                },
            ),
            |s| *s == S::Settle(Settle::AppliedAsIs),
        ),
        (
            "a recorded site is read",
            apply(deployed(), Seen::default()),
            |s| *s == S::Look(Look::Site("s1".into())),
        ),
        (
            "a recorded site gone from the platform is added again",
            apply(deployed(), seen_site(None)),
            |s| *s == S::Settle(Settle::SiteMissing("s1".into())),
        ),
        (
            "deployment states are recorded",
            apply(
                json!({"appliedGeneration": 1, "siteLocationId": "s1"}),
                seen_site(Some(site("sbc-1", DEPLOYING))),
            ),
            |s| {
                *s == S::Settle(Settle::States {
                    sbc: Some("Deploying".into()),
                    m365: Some("Deploying".into()),
                })
            },
        ),
        (
            "a deploying site waits",
            apply(
                json!({"appliedGeneration": 1, "siteLocationId": "s1", "sbcDeploymentState": "Deploying", "m365DeploymentState": "Deploying"}),
                seen_site(Some(site("sbc-1", DEPLOYING))),
            ),
            |s| matches!(s, S::Wait(w) if w.next == Next::Task && w.message == "site location s1 is Deploying"),
        ),
        (
            "a failed deployment is rejected until the spec changes",
            apply(
                json!({"appliedGeneration": 1, "siteLocationId": "s1", "sbcDeploymentState": "Failed", "m365DeploymentState": "Failed"}),
                seen_site(Some(site("sbc-1", FAILED))),
            ),
            |s| matches!(s, S::Reject(Rejection::SiteDeploymentFailed { site, .. }) if site == "s1"),
        ),
        (
            "a new generation is modified",
            step(
                deployed(),
                seen_site(Some(site("sbc-1", DEPLOYED))),
                2,
                false,
                false,
            ),
            |s| *s == S::Write(Write::Modify("s1".into())),
        ),
        (
            "drift on the platform is modified back",
            apply(deployed(), seen_site(Some(site("sbc-other", DEPLOYED)))),
            |s| *s == S::Write(Write::Modify("s1".into())),
        ),
        (
            "a deployed site matching its spec is Ready",
            apply(deployed(), seen_site(Some(site("sbc-1", DEPLOYED)))),
            |s| matches!(s, S::Ready(r) if r.message == "site location s1 is deployed on SBC sbc-1"),
        ),
        (
            "the task in flight is looked at",
            apply(with_op(deployed(), ADD, Some("t7")), Seen::default()),
            |s| *s == S::Look(Look::Task("t7".into())),
        ),
        (
            "and waited for",
            apply(
                with_op(deployed(), ADD, Some("t7")),
                Seen {
                    task: running(),
                    ..Seen::default()
                },
            ),
            |s| matches!(s, S::Wait(w) if w.message.contains("t7") && w.next == Next::Task),
        ),
        (
            "a finished task is settled",
            apply(
                with_op(deployed(), ADD, Some("t7")),
                Seen {
                    task: done(),
                    ..Seen::default()
                },
            ),
            |s| *s == S::Settle(Settle::TaskEnded),
        ),
        (
            "a failed task is reported, and the site's state decides",
            apply(
                with_op(deployed(), ADD, Some("t7")),
                Seen {
                    task: failed(),
                    ..Seen::default()
                },
            ),
            |s| matches!(s, S::Settle(Settle::TaskFailed(_))),
        ),
        (
            "an add whose answer was lost is looked for by name",
            apply(
                {
                    let mut status = with_op(json!({}), ADD, None);
                    status["operation"]["generation"] = json!(1);
                    status
                },
                Seen::default(),
            ),
            |s| {
                *s == S::Settle(Settle::ForgetLost {
                    added: true,
                    generation: Some(1),
                })
            },
        ),
        (
            "deleting a site never added lets go",
            delete(json!({}), Seen::default()),
            |s| *s == S::Write(Write::LetGo(None)),
        ),
        (
            "deleting after a lost add looks for the site by name",
            delete(with_op(json!({}), ADD, None), Seen::default()),
            |s| *s == S::Look(Look::ByName),
        ),
        (
            "deleting reads the site",
            delete(deployed(), Seen::default()),
            |s| *s == S::Look(Look::Site("s1".into())),
        ),
        (
            "a deployed site is removed",
            delete(deployed(), seen_site(Some(site("sbc-1", DEPLOYED)))),
            |s| *s == S::Write(Write::Delete("s1".into())),
        ),
        (
            "a site being removed is waited for",
            delete(deployed(), seen_site(Some(site("sbc-1", REMOVING)))),
            |s| matches!(s, S::Wait(w) if w.message == "the platform is removing site location s1"),
        ),
        (
            "a failed removal fails",
            delete(
                with_op(deployed(), DELETE, Some("t8")),
                Seen {
                    task: failed(),
                    ..seen_site(Some(site("sbc-1", DEPLOYED)))
                },
            ),
            |s| matches!(s, S::Fail(f) if f.action == WriteAction::DeleteSipConnection && f.target.as_deref() == Some("s1") && f.task == "t8"),
        ),
        (
            "a site gone from the platform lets go",
            delete(deployed(), seen_site(None)),
            |s| *s == S::Write(Write::LetGo(Some("s1".into()))),
        ),
    ];
    expect_all(cases);
}
