use oc_operator::api::conditions::{READY, reason};
use oc_operator::api::{OCCustomer, OCDialPlan};
use serde_json::json;

use crate::support::*;

fn rules_on_platform(state: &serde_json::Value) -> Vec<(String, String)> {
    let mut rules: Vec<(String, String)> = state["dialPlans"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|p| p["dialPlanId"] == "CustDialPlan")
        .flat_map(|p| p["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_owned(),
                r["prefix"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    rules.sort();
    rules
}

#[tokio::test]
async fn rules_are_diffed_and_only_the_difference_is_sent() {
    let mut world = World::new("dialplan").await;
    world.start().await;
    let c = world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    let _ = c;
    let c = world.ready::<OCCustomer>("contoso", 60).await;
    let guid = c.status.unwrap().customer_id.unwrap();
    world.dial_plan("cust", json!({"rules": [{"name": "a", "prefix": "+1425", "tag": "t"}, {"name": "b", "prefix": "+1206", "tag": "t"}]})).await;
    world.ready::<OCDialPlan>("cust", 60).await;
    assert_eq!(
        rules_on_platform(&world.admin.state().await.unwrap()),
        vec![("a".into(), "+1425".into()), ("b".into(), "+1206".into())]
    );

    // Someone else adds a rule: kept and reported under Keep.
    world
        .others_edit_dial_plan(&guid, vec![rule("z", "+1999", "x")], vec![])
        .await;
    // Change one rule and drop another; the next reconcile sees the foreign rule.
    world
        .dial_plan(
            "cust",
            json!({"rules": [{"name": "a", "prefix": "+1360", "tag": "t"}]}),
        )
        .await;
    let p = world.ready::<OCDialPlan>("cust", 60).await;
    assert_eq!(p.status.as_ref().unwrap().unmanaged_rules, vec!["z"]);
    assert!(condition(&p, READY).unwrap().2.contains("added by others"));
    assert_eq!(
        rules_on_platform(&world.admin.state().await.unwrap()),
        vec![("a".into(), "+1360".into()), ("z".into(), "+1999".into())]
    );

    // Remove policy removes it.
    world.dial_plan("cust", json!({"rules": [{"name": "a", "prefix": "+1360", "tag": "t"}], "unmanagedRules": "Remove"})).await;
    let p = world.ready::<OCDialPlan>("cust", 60).await;
    assert!(p.status.unwrap().unmanaged_rules.is_empty());
    assert_eq!(
        rules_on_platform(&world.admin.state().await.unwrap()),
        vec![("a".into(), "+1360".into())]
    );

    world.delete::<OCDialPlan>("cust").await;
    world.wait_gone::<OCDialPlan>("cust", 60).await;
    assert!(rules_on_platform(&world.admin.state().await.unwrap()).is_empty());
}

#[tokio::test]
async fn a_missing_site_or_customer_waits_quietly() {
    let mut world = World::new("dialwait").await;
    world.start().await;
    world
        .dial_plan(
            "early",
            json!({"rules": [{"name": "a", "prefix": "+1425", "tag": "t"}]}),
        )
        .await;
    world
        .wait::<OCDialPlan>("early", 30, "waiting", |p| {
            has_reason(p, READY, reason::WAITING_FOR_CUSTOMER)
        })
        .await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    world
        .dial_plan(
            "onsite",
            json!({"sipConnectionRef": {"name": "not-yet"}, "rules": []}),
        )
        .await;
    world
        .wait::<OCDialPlan>("onsite", 60, "waiting for the site", |p| {
            has_reason(p, READY, reason::WAITING_FOR_DEPENDENCY)
        })
        .await;
    world.ready::<OCDialPlan>("early", 60).await;
    assert_eq!(
        world
            .admin
            .count(
                "PATCH /v2/customer/{guid}/sitelocation/{site}/dialplan/{dial_plan}",
                "400"
            )
            .await
            .unwrap(),
        0
    );
}
