use oc_operator::api::OCSipConnection;
use oc_operator::api::conditions::{READY, SYNCED, reason};
use serde_json::json;

use crate::support::*;

const PASSWORD: &str = "carrier-pa55-do-not-leak";

async fn site(world: &World, name: &str, sbc: &str, extra: serde_json::Value) -> OCSipConnection {
    let mut spec = json!({
        "customerRef": {"name": "contoso"},
        "siteName": "Redmond",
        "sbcId": sbc,
        "onboardingScript": "onboard-v1",
        "cleanupScript": "cleanup-v1",
        "scriptParameters": {"ProxySet": "ps-1", "CarrierUserName": "contoso-trunk"},
        "carrierPasswordSecretRef": {"name": "carrier", "key": "password"},
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        spec[k] = v;
    }
    world.apply(json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCSipConnection", "metadata": {"name": name}, "spec": spec})).await
}

async fn setup(world: &World) {
    world.put_carrier_secret(PASSWORD).await;
    world.customer_ready().await;
}

#[tokio::test]
async fn a_sip_connection_is_added_modified_and_removed() {
    let mut world = World::new("sip").await;
    world.start().await;
    setup(&world).await;
    site(&world, "redmond", "11", json!({})).await;
    let s = world.ready::<OCSipConnection>("redmond", 60).await;
    let status = s.status.clone().unwrap();
    let id = status.site_location_id.clone().expect("site id");
    assert_eq!(
        (
            status.sbc_deployment_state.as_deref(),
            status.m365_deployment_state.as_deref()
        ),
        (Some("Deployed"), Some("Deployed"))
    );
    let state = world.admin.state().await.unwrap();
    assert_eq!(state["sites"][&id]["hasCarrierPassword"], true);
    assert_eq!(state["sites"][&id]["sbcId"], "11");
    // The password reached the platform but shows nowhere in Kubernetes.
    let text = serde_json::to_string(&s).unwrap();
    assert!(!text.contains(PASSWORD));

    site(
        &world,
        "redmond",
        "12",
        json!({"cacProfile": "Gold", "enableCac": true}),
    )
    .await;
    world
        .wait::<OCSipConnection>("redmond", 60, "modified", is_ready)
        .await;
    let state = world.admin.state().await.unwrap();
    assert_eq!(
        (
            state["sites"][&id]["sbcId"].clone(),
            state["sites"][&id]["cacProfile"].clone()
        ),
        (json!("12"), json!("Gold"))
    );
    assert_eq!(
        world
            .admin
            .count("PATCH /v2/customer/{guid}/sitelocation/", "total")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        world
            .admin
            .count("POST /v2/customer/{guid}/sitelocation/", "total")
            .await
            .unwrap(),
        1
    );

    world.delete::<OCSipConnection>("redmond").await;
    world.wait_gone::<OCSipConnection>("redmond", 60).await;
    assert!(
        world.admin.state().await.unwrap()["sites"]
            .as_object()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_sbc_no_calling_profile_maps_is_refused_before_any_call() {
    let mut world = World::new("sipsbc").await;
    world.start().await;
    setup(&world).await;
    site(&world, "bad", "77", json!({})).await;
    let s = world
        .wait::<OCSipConnection>("bad", 30, "refused", |s| {
            has_reason(s, READY, reason::INVALID_SPEC)
        })
        .await;
    let (_, _, message) = condition(&s, READY).unwrap();
    assert!(
        message.contains("SBC 77") && message.contains("11, 12, 21"),
        "{message}"
    );
    assert_eq!(
        world
            .admin
            .count("POST /v2/customer/{guid}/sitelocation/", "total")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_failed_onboarding_shows_and_a_spec_change_retries() {
    let mut world = World::new("sipfail").await;
    world.start().await;
    setup(&world).await;
    world
        .admin
        .set_faults(json!({"failNextTasks": 1}))
        .await
        .unwrap();
    site(&world, "redmond", "11", json!({})).await;
    let s = world
        .wait::<OCSipConnection>("redmond", 60, "failed", |s| {
            has_reason(s, READY, reason::REJECTED)
        })
        .await;
    let (_, _, message) = condition(&s, READY).unwrap();
    assert!(
        message.contains("deployment") && message.contains("failed"),
        "{message}"
    );
    site(&world, "redmond", "11", json!({"cacProfile": "Retry"})).await;
    world.ready::<OCSipConnection>("redmond", 60).await;
}

#[tokio::test]
async fn a_missing_carrier_secret_waits_without_calls() {
    let mut world = World::new("sipsecret").await;
    world.start().await;
    world.customer_ready().await;
    site(&world, "redmond", "11", json!({})).await;
    let s = world
        .wait::<OCSipConnection>("redmond", 30, "waiting", |s| {
            has_reason(s, READY, reason::WAITING_FOR_DEPENDENCY)
        })
        .await;
    assert!(
        condition(&s, SYNCED)
            .unwrap()
            .2
            .contains("carrier password")
    );
    world.put_carrier_secret(PASSWORD).await;
    world.ready::<OCSipConnection>("redmond", 60).await;
}

#[tokio::test]
async fn a_spec_change_while_onboarding_runs_is_still_applied() {
    let seed = liveplatform_sim::Seed {
        task_delay_ms: 3000,
        ..liveplatform_sim::Seed::default()
    };
    let mut world = World::with_seed("sipchange", seed).await;
    world.start().await;
    setup(&world).await;
    site(&world, "redmond", "11", json!({})).await;
    // As soon as the site exists (its onboarding task still running), change a field
    // the platform's Get does not show.
    let s = world
        .wait::<OCSipConnection>("redmond", 30, "added", |s| {
            s.status
                .as_ref()
                .is_some_and(|st| st.site_location_id.is_some())
        })
        .await;
    let id = s.status.unwrap().site_location_id.unwrap();
    site(
        &world,
        "redmond",
        "11",
        json!({"enableCac": true, "carrierRegistration": true}),
    )
    .await;
    world.ready::<OCSipConnection>("redmond", 60).await;
    let state = world.admin.state().await.unwrap();
    assert_eq!(
        (
            state["sites"][&id]["enableCac"].clone(),
            state["sites"][&id]["flagCarrierRegistration"].clone()
        ),
        (json!(true), json!(true)),
        "the change made during onboarding was lost"
    );
}
