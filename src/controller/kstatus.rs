//! `Reconciling` and `Stalled` beside `Ready` and `Synced`, as kstatus (Flux, kpt)
//! reads objects: Stalled is True when only a person can move the object on (its
//! Ready or Synced reason is one for which `Reason::needs_a_person`), Reconciling is True
//! while work is under way (not Ready for the current generation, not stalled, not
//! paused). Derived once, from the other conditions, before every status write.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::api::conditions::reason::{self, Reason};
use crate::api::conditions::{self, READY, RECONCILING, STALLED, SYNCED};

/// The two conditions to write: (type, status, reason, message) each.
pub fn derive(
    conditions: &[Condition],
    generation: Option<i64>,
    deleting: bool,
) -> [(&'static str, bool, String, String); 2] {
    let ready = conditions::find(conditions, READY);
    let synced = conditions::find(conditions, SYNCED);
    /// A condition that is False, with its reason.
    fn false_with(c: Option<&Condition>) -> Option<(&Condition, Reason)> {
        c.filter(|c| c.status == "False")
            .and_then(|c| Reason::parse(&c.reason).map(|r| (c, r)))
    }
    let failing = |c: Option<&Condition>| {
        false_with(c)
            .filter(|(_, r)| r.needs_a_person())
            .map(|(c, _)| c.clone())
    };
    let stalled = if deleting {
        None
    } else {
        failing(synced).or_else(|| failing(ready))
    };
    // Paused, or observing only with changes planned: nothing moves until a person
    // acts, and nothing is wrong either.
    let paused = false_with(synced).is_some_and(|(_, r)| r == Reason::Paused)
        || false_with(ready).is_some_and(|(_, r)| r == Reason::ChangesPlanned);
    let ready_now = conditions::is_true_for(conditions, READY, generation);
    let (ready_reason, ready_message) = ready.map_or_else(
        || {
            (
                reason::CREATING.to_owned(),
                "the operator has not reported yet".to_owned(),
            )
        },
        |c| (c.reason.clone(), c.message.clone()),
    );
    let reconciling = deleting || (stalled.is_none() && !paused && !ready_now);
    let reconciling_condition = if deleting {
        (
            RECONCILING,
            true,
            reason::DELETING.to_owned(),
            "the object is being deleted".to_owned(),
        )
    } else {
        (
            RECONCILING,
            reconciling,
            ready_reason.clone(),
            ready_message.clone(),
        )
    };
    let stalled_condition = match stalled {
        Some(c) => (STALLED, true, c.reason, c.message),
        None => (STALLED, false, ready_reason, ready_message),
    };
    [reconciling_condition, stalled_condition]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn cond(type_: &str, status: bool, reason: &str, generation: i64) -> Condition {
        Condition {
            type_: type_.into(),
            status: if status { "True" } else { "False" }.into(),
            reason: reason.into(),
            message: format!("{type_} {reason}"),
            observed_generation: Some(generation),
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
        }
    }

    #[test]
    fn reconciling_and_stalled_follow_ready_and_synced() {
        use reason::*;
        for (name, conditions, deleting, reconciling, stalled) in [
            (
                "Ready now",
                vec![
                    cond(READY, true, AVAILABLE, 2),
                    cond(SYNCED, true, SUCCEEDED, 2),
                ],
                false,
                false,
                false,
            ),
            (
                "Ready for an older generation",
                vec![cond(READY, true, AVAILABLE, 1)],
                false,
                true,
                false,
            ),
            ("no conditions yet", vec![], false, true, false),
            (
                "creating",
                vec![cond(READY, false, CREATING, 2)],
                false,
                true,
                false,
            ),
            (
                "waiting for a dependency",
                vec![
                    cond(READY, false, WAITING_FOR_DEPENDENCY, 2),
                    cond(SYNCED, false, RECONCILE_ERROR, 2),
                ],
                false,
                true,
                false,
            ),
            (
                "licence upgrade under way",
                vec![cond(READY, false, WAITING_FOR_LICENSE, 2)],
                false,
                true,
                false,
            ),
            (
                "platform unavailable",
                vec![
                    cond(READY, false, UPDATING, 2),
                    cond(SYNCED, false, API_UNAVAILABLE, 2),
                ],
                false,
                true,
                false,
            ),
            (
                "rejected spec",
                vec![
                    cond(READY, false, REJECTED, 2),
                    cond(SYNCED, false, RECONCILE_ERROR, 2),
                ],
                false,
                false,
                true,
            ),
            (
                "conflict",
                vec![cond(READY, false, CONFLICT, 2)],
                false,
                false,
                true,
            ),
            (
                "licence required",
                vec![cond(READY, false, LICENSE_REQUIRED, 2)],
                false,
                false,
                true,
            ),
            (
                "bad credentials while Ready",
                vec![
                    cond(READY, true, AVAILABLE, 2),
                    cond(SYNCED, false, UNAUTHORIZED, 2),
                ],
                false,
                false,
                true,
            ),
            (
                "paused",
                vec![
                    cond(READY, true, AVAILABLE, 1),
                    cond(SYNCED, false, PAUSED, 2),
                ],
                false,
                false,
                false,
            ),
            (
                "deleting, even when rejected before",
                vec![cond(READY, false, REJECTED, 2)],
                true,
                true,
                false,
            ),
        ] {
            let [r, s] = derive(&conditions, Some(2), deleting);
            assert_eq!((r.0, s.0), (RECONCILING, STALLED));
            assert_eq!((r.1, s.1), (reconciling, stalled), "{name}");
            assert!(
                reason::ALL.contains(&r.2.as_str()) && reason::ALL.contains(&s.2.as_str()),
                "{name}: {r:?} {s:?}"
            );
        }
    }
}
