//! Every step of the `OCDialPlan` planner, in-process.

use crate::controller::declared::Declared;
use serde_json::{Value, json};

use super::{Case, expect_all, merged};
use crate::api::dial_plan::{OCDialPlanSpec, OCDialPlanStatus};
use crate::controller::dial_plan::{
    Known, Look, Seen, Settle, Step, Write, holds_nothing_yet, plan,
};
use crate::controller::plan::Step as S;
use liveplatform::model::DialPlanRule;

fn rule(name: &str, prefix: &str) -> DialPlanRule {
    DialPlanRule {
        name: name.into(),
        prefix: prefix.into(),
        tag: String::new(),
    }
}

/// (spec patch, status, adopt, deleting, rules on the platform) -> step.
fn step(
    spec: Value,
    status: Value,
    adopt: bool,
    deleting: bool,
    rules: Option<Vec<DialPlanRule>>,
) -> Step {
    let spec: OCDialPlanSpec = serde_json::from_value(merged(
        json!({
            "customerRef": {"name": "contoso"}, "dialPlanId": "main",
            "rules": [{"name": "emergency", "prefix": "911"}, {"name": "intl", "prefix": "00"}],
        }),
        spec,
    ))
    .expect("a valid spec");
    let seen = Seen {
        rules,
        adopted: false,
    };
    known_of(&spec, status, adopt, deleting, false, |known| {
        plan(known, &seen)
    })
}

/// The planner's `Known` of a dial plan with `spec` and `status` on site s1 of
/// tenant t, given to `judge`.
fn known_of<T>(
    spec: &OCDialPlanSpec,
    status: Value,
    may_adopt: bool,
    deleting: bool,
    customer_created: bool,
    judge: impl Fn(&Known) -> T,
) -> T {
    let status: OCDialPlanStatus = serde_json::from_value(status).expect("a valid status");
    judge(&Known {
        object: Declared {
            spec,
            status: &status,
            generation: None,
            may_adopt,
            deleting,
        },
        place: "site s1 of tenant t".into(),
        customer_created,
    })
}

fn declared() -> Vec<DialPlanRule> {
    vec![rule("emergency", "911"), rule("intl", "00")]
}

fn ours() -> Value {
    json!({"managedRules": ["emergency", "intl"], "ruleCount": 2})
}

#[test]
fn every_step_of_a_dial_plan() {
    let none = json!({});
    let cases: Vec<Case<Step>> = vec![
        (
            "being deleted, the dial plan is deleted",
            step(none.clone(), ours(), false, true, None),
            |s| *s == S::Write(Write::Delete),
        ),
        (
            "the rules are read first",
            step(none.clone(), json!({}), false, false, None),
            |s| *s == S::Look(Look::Rules),
        ),
        (
            "rules nobody declared are refused without the opt-in",
            step(
                none.clone(),
                json!({}),
                false,
                false,
                Some(vec![rule("old", "1")]),
            ),
            |s| matches!(s, S::Refuse { existing, .. } if existing.contains("dial plan main with 1 rules on site s1")),
        ),
        (
            "with the opt-in they are adopted",
            step(
                none.clone(),
                json!({}),
                true,
                false,
                Some(vec![rule("old", "1")]),
            ),
            |s| matches!(s, S::Settle(Settle::Adopt(_))),
        ),
        (
            "an empty dial plan gets every declared rule in one write",
            step(none.clone(), json!({}), false, false, Some(vec![])),
            |s| {
                *s == S::Write(Write::Modify {
                    add: declared(),
                    remove: vec![],
                    managed: vec!["emergency".into(), "intl".into()],
                })
            },
        ),
        (
            "a changed rule is removed and added in the same write",
            step(
                none.clone(),
                ours(),
                false,
                false,
                Some(vec![rule("emergency", "112"), rule("intl", "00")]),
            ),
            |s| {
                *s == S::Write(Write::Modify {
                    add: vec![rule("emergency", "911")],
                    remove: vec![rule("emergency", "112")],
                    managed: vec!["emergency".into(), "intl".into()],
                })
            },
        ),
        (
            "a rule dropped from the spec is removed, being ours",
            step(
                json!({"rules": [{"name": "emergency", "prefix": "911"}]}),
                ours(),
                false,
                false,
                Some(declared()),
            ),
            |s| matches!(s, S::Write(Write::Modify { add, remove, .. }) if add.is_empty() && *remove == vec![rule("intl", "00")]),
        ),
        (
            "a rule others added is kept and reported (Keep)",
            step(
                none.clone(),
                ours(),
                false,
                false,
                Some(vec![
                    rule("emergency", "911"),
                    rule("intl", "00"),
                    rule("theirs", "5"),
                ]),
            ),
            |s| {
                *s == S::Settle(Settle::Record {
                    managed: vec!["emergency".into(), "intl".into()],
                    unmanaged: vec!["theirs".into()],
                    rule_count: 3,
                })
            },
        ),
        (
            "a rule others added is removed under Remove",
            step(
                json!({"unmanagedRules": "Remove"}),
                ours(),
                false,
                false,
                Some(vec![
                    rule("emergency", "911"),
                    rule("intl", "00"),
                    rule("theirs", "5"),
                ]),
            ),
            |s| matches!(s, S::Write(Write::Modify { add, remove, .. }) if add.is_empty() && *remove == vec![rule("theirs", "5")]),
        ),
        (
            "kept rules of others are named in Ready",
            step(
                none.clone(),
                json!({"managedRules": ["emergency", "intl"], "unmanagedRules": ["theirs"], "ruleCount": 3}),
                false,
                false,
                Some(vec![
                    rule("emergency", "911"),
                    rule("intl", "00"),
                    rule("theirs", "5"),
                ]),
            ),
            |s| matches!(s, S::Ready(r) if r.message.contains("rules theirs were added by others")),
        ),
        (
            "a dial plan holding its rules is Ready",
            step(none.clone(), ours(), false, false, Some(declared())),
            |s| matches!(s, S::Ready(r) if r.message == "dial plan main holds the 2 declared rules"),
        ),
    ];
    expect_all(cases);
}

/// A dial plan `id` declaring one rule, with `status`, under a customer the operator
/// created (`adopt`: the opt-in is set), given to `judge`.
fn created_customers<T>(
    id: &str,
    status: Value,
    adopt: bool,
    deleting: bool,
    judge: impl Fn(&Known) -> T,
) -> T {
    let spec: OCDialPlanSpec = serde_json::from_value(json!({
        "customerRef": {"name": "contoso"}, "dialPlanId": id,
        "rules": [{"name": "emergency", "prefix": "911"}],
    }))
    .expect("a valid spec");
    known_of(&spec, status, adopt, deleting, true, judge)
}

/// Whether such a dial plan is taken as holding nothing yet.
fn nothing_yet(id: &str, status: Value, adopt: bool, deleting: bool) -> bool {
    created_customers(id, status, adopt, deleting, holds_nothing_yet)
}

#[test]
fn under_a_customer_the_operator_created_a_new_dial_plan_is_written_without_a_read() {
    let cases: Vec<(&str, bool, bool)> = vec![
        (
            "a dial plan this object never wrote holds nothing yet",
            nothing_yet("CustDialPlan", json!({}), false, false),
            true,
        ),
        (
            "the platform's numbers dial plan fills by itself: read",
            nothing_yet("OCDialPlan", json!({}), false, false),
            false,
        ),
        (
            "once this object wrote rules: read",
            nothing_yet("CustDialPlan", ours(), false, false),
            false,
        ),
        (
            "with the opt-in to adopt: read",
            nothing_yet("CustDialPlan", json!({}), true, false),
            false,
        ),
        (
            "a deletion: nothing to read",
            nothing_yet("CustDialPlan", json!({}), false, true),
            false,
        ),
    ];
    let wrong: Vec<&str> = cases
        .iter()
        .filter(|(_, got, want)| got != want)
        .map(|(name, _, _)| *name)
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
    // And the plan asks for no read.
    let step = created_customers("CustDialPlan", json!({}), false, false, |known| {
        plan(known, &Seen::default())
    });
    assert_eq!(step, S::Look(Look::NothingYet));
}
