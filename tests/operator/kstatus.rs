//! kstatus, as Flux and kpt judge objects (the sigs.k8s.io/cli-utils status package,
//! pinned in hack/kstatus), over live objects: Ready is Current, work under way is
//! InProgress (`Reconciling=True`), what needs a person is Failed (`Stalled=True`),
//! each with `observedGeneration`.

use oc_operator::api::conditions::{READY, RECONCILING, STALLED, reason};
use oc_operator::api::{OCCustomer, OCNumberBlock};
use serde_json::json;

use crate::support::*;

/// kstatus's verdict on object `kind/name` of the world's namespace, as it is now.
fn kstatus(world: &World, kind: &str, name: &str) -> (String, String) {
    let object = world
        .kubectl()
        .args(["get", kind, name, "-n", &world.ns, "-o", "json"])
        .output()
        .unwrap();
    assert!(object.status.success(), "{object:?}");
    // One line: kubectl prints the object indented.
    let object: serde_json::Value = serde_json::from_slice(&object.stdout).expect("JSON");
    let object = object.to_string();
    let verdict = testenv::judge("kstatus", &[], &[object])
        .expect("kstatus (hack/build-test-tools.sh)")
        .pop()
        .expect("a verdict");
    (verdict.status, verdict.message)
}

#[tokio::test]
async fn flux_sees_current_in_progress_and_failed() {
    let mut world = World::new("kstatus").await;
    world.start().await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    let customer = world.ready::<OCCustomer>("contoso", 60).await;
    assert_eq!(kstatus(&world, "occustomer", "contoso").0, "Current");
    let (status, _, _) = condition(&customer, RECONCILING).unwrap();
    assert_eq!(status, "False");

    // Waiting for a customer that does not exist yet: under way, not failed.
    world
        .block("users", "nobody", json!({"numbers": ["+14255550100"]}))
        .await;
    let block = world
        .wait::<OCNumberBlock>("users", 30, "waiting", |b| {
            has_reason(b, READY, reason::WAITING_FOR_CUSTOMER)
        })
        .await;
    let (verdict, _) = kstatus(&world, "ocnumberblock", "users");
    assert_eq!(verdict, "InProgress");
    let reconciling = oc_operator::api::conditions::find(
        &block.status.as_ref().unwrap().reconcile.conditions,
        RECONCILING,
    )
    .unwrap();
    assert_eq!(
        (reconciling.status.as_str(), reconciling.observed_generation),
        ("True", block.metadata.generation)
    );

    // A second declaration of the same tenant: held in Conflict, which needs a person.
    world.customer("copy", TENANT_A, "copy", json!({})).await;
    world
        .wait::<OCCustomer>("copy", 30, "in conflict", |c| {
            has_reason(c, READY, reason::CONFLICT)
        })
        .await;
    let (verdict, message) = kstatus(&world, "occustomer", "copy");
    assert_eq!(verdict, "Failed", "{message}");
    let copy = world.api::<OCCustomer>().get("copy").await.unwrap();
    let (status, stalled_reason, _) = condition(&copy, STALLED).unwrap();
    assert_eq!(
        (status.as_str(), stalled_reason.as_str()),
        ("True", reason::CONFLICT)
    );
}
