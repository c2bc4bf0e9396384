//! Drift correction on a timer: another writer changes the platform behind the
//! operator's back, nothing changes in Kubernetes, and the next drift check (the
//! platform's `driftCheckSeconds`, here the minimum of 30 s) puts it right.

use std::time::{Duration, Instant};

use kube::api::{Api, Patch, PatchParams};
use liveplatform::model::ReleaseNumbers;
use liveplatform::{PollOptions, TaskOutcome};
use oc_operator::api::{OCCustomer, OCDialPlan, OCNumberBlock, OCPlatform};
use serde_json::json;

use crate::support::*;

fn has_rule(state: &serde_json::Value, name: &str) -> bool {
    state["dialPlans"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .flat_map(|p| p["rules"].as_array().cloned().unwrap_or_default())
        .any(|r| r["name"] == name)
}

#[tokio::test]
async fn changes_made_behind_the_operators_back_are_corrected_at_the_next_drift_check() {
    let mut world = World::new("drift").await;
    let platforms: Api<OCPlatform> = Api::all(world.client.clone());
    platforms
        .patch(
            &world.platform(),
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"driftCheckSeconds": 30}})),
        )
        .await
        .expect("drift interval");
    world.start().await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    let customer = world.ready::<OCCustomer>("contoso", 60).await;
    let guid = customer.status.unwrap().customer_id.unwrap();
    world
        .block(
            "users",
            "contoso",
            json!({"numbers": ["+14255551300", "+14255551301"]}),
        )
        .await;
    world
        .dial_plan(
            "plan",
            json!({"rules": [{"name": "a", "prefix": "+1425", "tag": "t"}]}),
        )
        .await;
    let block = world.ready::<OCNumberBlock>("users", 60).await;
    let plan = world.ready::<OCDialPlan>("plan", 60).await;

    // Someone else removes the declared rule and releases a declared number.
    world
        .others_edit_dial_plan(&guid, vec![], vec![rule("a", "+1425", "t")])
        .await;
    let platform = world.platform_client();
    let task = platform
        .release_numbers(
            TENANT_A,
            &ReleaseNumbers::Numbers(vec!["+14255551301".into()]),
        )
        .await
        .expect("the other writer's release");
    let outcome = platform
        .poll_task(&task, PollOptions::default())
        .await
        .expect("the release task is polled");
    assert!(
        matches!(outcome, TaskOutcome::Succeeded(_)),
        "the other writer's release: {outcome:?}"
    );
    let changed = Instant::now();
    assert!(!has_rule(&world.admin.state().await.unwrap(), "a"));
    assert!(
        !world
            .platform_numbers(TENANT_A)
            .await
            .iter()
            .any(|(n, _)| n == "+14255551301"),
        "the number was not released"
    );

    // Nothing changes in Kubernetes; the drift check finds and corrects both.
    let deadline = changed + Duration::from_secs(75);
    loop {
        let state = world.admin.state().await.unwrap();
        let numbers = world.platform_numbers(TENANT_A).await;
        let uploaded = numbers
            .iter()
            .any(|(n, s)| n == "+14255551301" && s == "Active");
        if has_rule(&state, "a") && uploaded {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not corrected within 75 s: rule a back {}, numbers {numbers:?}",
            has_rule(&state, "a")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let took = changed.elapsed();
    assert!(
        took >= Duration::from_secs(5),
        "corrected after {took:?}: by something other than the drift timer?"
    );
    let block_now = world.ready::<OCNumberBlock>("users", 30).await;
    let plan_now = world.ready::<OCDialPlan>("plan", 30).await;
    assert_eq!(block_now.metadata.generation, block.metadata.generation);
    assert_eq!(plan_now.metadata.generation, plan.metadata.generation);
}

/// After a restart, Ready objects whose drift check is not due ask nothing of the
/// platform: a restart over many customers must not hold the platform's budget.
#[tokio::test]
async fn a_restart_asks_nothing_of_the_platform_for_objects_checked_recently() {
    let mut world = World::new("restartquiet").await;
    world.start().await;
    world.customer_ready().await;
    world
        .block("numbers", "contoso", json!({"numbers": ["+14255550800"]}))
        .await;
    world.ready::<OCNumberBlock>("numbers", 60).await;
    world.crash().await;
    let listings = numbers_listings(&world).await;
    let customer_reads = world
        .admin
        .count("GET /v3/customer/{guid}", "total")
        .await
        .unwrap();

    world.start().await;
    // A customer declared after the restart is reconciled after the ones the operator
    // found at start: once it is Ready, those had their turn.
    world
        .customer("fabrikam", TENANT_B, "fabrikam", json!({}))
        .await;
    world.ready::<OCCustomer>("fabrikam", 60).await;
    assert_eq!(
        world
            .admin
            .count("GET /v3/customer/{guid}", "total")
            .await
            .unwrap(),
        customer_reads + 1,
        "only the new customer read its licence"
    );
    assert_eq!(
        numbers_listings(&world).await,
        listings,
        "the block listed its numbers again"
    );
    // Both stay Ready, and a change still goes through at once.
    world.ready::<OCCustomer>("contoso", 5).await;
    world.ready::<OCNumberBlock>("numbers", 5).await;
    world
        .block(
            "numbers",
            "contoso",
            json!({"numbers": ["+14255550800", "+14255550801"]}),
        )
        .await;
    world.ready::<OCNumberBlock>("numbers", 60).await;
}

/// Numbers listings of either version the simulator counted.
async fn numbers_listings(world: &World) -> u64 {
    let mut total = 0;
    for endpoint in ["GET /v2/oc/numbers", "GET /v3/oc/numbers"] {
        total += world.admin.count(endpoint, "total").await.unwrap();
    }
    total
}
