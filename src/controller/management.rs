//! The management policy: whether the operator may write to the Live Platform for an
//! object (`spec.managementPolicy`, or its OCPlatform's), and what an object that only
//! observes reports instead: `status.plannedActions` and the `PlatformMatches`
//! condition.
//!
//! An object that only observes is reconciled like any other, through the same
//! planner; `plan::run` stops at its first platform write and describes it. Deleting
//! such an object never touches the platform (see `drive`).

use super::kind::Kind;
use super::ownership::Governed;
use super::plan::Outcome;
use super::status::StatusDraft;
use super::stores::Stores;
use crate::api::common::{ManagementPolicy, PlannedAction};
use crate::api::conditions::{PLATFORM_MATCHES, reason};

/// Whether `obj` only observes: its own policy says so, or its OCPlatform's does.
pub fn observe_only<K: Governed>(obj: &K, stores: &Stores) -> bool {
    obj.management_policy() == ManagementPolicy::ObserveOnly
        || obj
            .platform_name(stores)
            .and_then(|name| stores.platform(&name))
            .is_some_and(|p| p.spec.management_policy == ManagementPolicy::ObserveOnly)
}

/// A platform call `action` on `target` carrying `count` items in `requests` requests.
pub fn planned(
    action: liveplatform::Action,
    target: impl Into<String>,
    count: usize,
    requests: usize,
    description: impl Into<String>,
) -> PlannedAction {
    PlannedAction {
        action: action.title().to_owned(),
        target: target.into(),
        count: i64::try_from(count).unwrap_or(i64::MAX),
        requests: i64::try_from(requests).unwrap_or(i64::MAX),
        description: description.into(),
    }
}

/// "N requests" or "1 request".
pub fn requests(n: usize) -> String {
    if n == 1 {
        "1 request".to_owned()
    } else {
        format!("{n} requests")
    }
}

/// The message of an object that only observes and found calls to make.
pub fn changes_planned_message(actions: &[PlannedAction]) -> String {
    let calls: Vec<&str> = actions.iter().map(|a| a.description.as_str()).collect();
    format!(
        "managementPolicy is ObserveOnly and the platform differs from the spec: the operator would {} (status.plannedActions); set managementPolicy: Manage to let it",
        calls.join(", then ")
    )
}

/// Records in the draft what `outcome` says of the plan: the planned calls and
/// `PlatformMatches` for an object that only observes; neither for one that manages.
/// An outcome that neither plans nor concludes (a wait) leaves the last plan shown.
pub fn record<K: Kind>(draft: &mut StatusDraft<K>, observe_only: bool, outcome: &Outcome) {
    let Some(shown) = K::owner_mut(&mut draft.status).map(|owner| &mut owner.planned_actions)
    else {
        return;
    };
    if !observe_only {
        shown.clear();
        K::conditions_mut(&mut draft.status).retain(|c| c.type_ != PLATFORM_MATCHES);
        return;
    }
    match outcome {
        Outcome::Planned(actions) => {
            *shown = actions.clone();
            draft.condition(
                PLATFORM_MATCHES,
                false,
                reason::CHANGES_PLANNED,
                changes_planned_message(actions),
            );
        }
        Outcome::Ready(_) => {
            shown.clear();
            draft.condition(
                PLATFORM_MATCHES,
                true,
                reason::MATCHES,
                "the platform matches the spec; nothing is planned",
            );
        }
        Outcome::Wait(_) | Outcome::Refuse { .. } | Outcome::Gone => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::OCDialPlan;
    use crate::api::conditions::{self, READY};
    use crate::controller::plan::Report;

    fn draft() -> StatusDraft<OCDialPlan> {
        let obj: OCDialPlan = serde_json::from_value(serde_json::json!({
            "apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCDialPlan",
            "metadata": {"name": "main", "namespace": "t", "generation": 2},
            "spec": {"customerRef": {"name": "c"}, "dialPlanId": "main", "rules": []}
        }))
        .unwrap();
        StatusDraft::of(&obj)
    }

    fn upload() -> PlannedAction {
        planned(
            liveplatform::Action::UploadNumbers,
            "tenant t",
            250,
            1,
            "upload 250 numbers in 1 request",
        )
    }

    #[test]
    fn an_observing_object_shows_its_plan_and_then_that_it_matches() {
        let mut draft = draft();
        record(&mut draft, true, &Outcome::Planned(vec![upload()]));
        assert_eq!(draft.status.ownership.planned_actions, vec![upload()]);
        let matches = conditions::find(draft.conditions(), PLATFORM_MATCHES).unwrap();
        assert_eq!(
            (matches.status.as_str(), matches.reason.as_str()),
            ("False", reason::CHANGES_PLANNED)
        );
        assert!(matches.message.contains("upload 250 numbers in 1 request"));
        // A wait (a dependency) keeps the plan shown.
        let wait = crate::controller::plan::Wait::new(
            reason::WAITING_FOR_CUSTOMER,
            "",
            crate::controller::plan::Next::Shortly,
        );
        record(&mut draft, true, &Outcome::Wait(wait));
        assert_eq!(draft.status.ownership.planned_actions.len(), 1);
        record(&mut draft, true, &Outcome::Ready(Report::new("ok")));
        assert!(draft.status.ownership.planned_actions.is_empty());
        assert!(conditions::is_true_for(
            draft.conditions(),
            PLATFORM_MATCHES,
            Some(2)
        ));
        assert!(conditions::find(draft.conditions(), READY).is_none());
    }

    #[test]
    fn a_managing_object_shows_no_plan() {
        let mut draft = draft();
        record(&mut draft, true, &Outcome::Planned(vec![upload()]));
        record(
            &mut draft,
            false,
            &Outcome::Wait(crate::controller::plan::Wait::new(
                reason::UPDATING,
                "",
                crate::controller::plan::Next::Task,
            )),
        );
        assert!(draft.status.ownership.planned_actions.is_empty());
        assert!(conditions::find(draft.conditions(), PLATFORM_MATCHES).is_none());
    }
}
