//! Platform faults end in the right conditions and converge once they clear.

use oc_operator::api::conditions::{READY, SYNCED, reason};
use oc_operator::api::{OCCustomer, OCNumberBlock};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_burst_of_server_errors_shows_then_converges() {
    let mut world = World::new("fault5xx").await;
    world
        .admin
        // The customer's one read while it onboards (its licence and domain): the
        // lead is created without a read before it.
        .set_faults(json!({"serverErrorRate": 1.0, "endpoints": ["GET /v3/customer/{guid}"]}))
        .await
        .unwrap();
    world.start().await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    let c = world
        .wait::<OCCustomer>("contoso", 30, "unavailable", |c| {
            has_reason(c, SYNCED, reason::API_UNAVAILABLE)
        })
        .await;
    let (_, _, message) = condition(&c, SYNCED).unwrap();
    assert!(
        message.contains("503") && message.contains("retries with backoff"),
        "{message}"
    );
    world.admin.set_faults(json!({})).await.unwrap();
    world.ready::<OCCustomer>("contoso", 60).await;
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured() {
    let mut world = World::new("fault429").await;
    world
        .admin
        .set_faults(
            json!({"rateLimitBurst": 6, "retryAfterSecs": 1, "endpoints": ["POST /v3/customer"]}),
        )
        .await
        .unwrap();
    world.start().await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    world.ready::<OCCustomer>("contoso", 90).await;
    assert!(world.admin.count("POST /v3/customer", "429").await.unwrap() >= 4);
    assert_eq!(
        world.admin.count("POST /v3/customer", "200").await.unwrap(),
        1
    );
}

#[tokio::test]
async fn expired_tokens_are_renewed() {
    let mut world = World::new("faulttoken").await;
    world.start().await;
    world.customer_ready().await;
    world.admin.post("/tokens/expire", json!({})).await.unwrap();
    world
        .block("users", "contoso", json!({"numbers": ["+14255550700"]}))
        .await;
    world.ready::<OCNumberBlock>("users", 60).await;
    assert!(
        world
            .admin
            .count("POST /{tenant}/oauth2/v2.0/token", "total")
            .await
            .unwrap()
            >= 2
    );
}

#[tokio::test]
async fn a_failed_task_is_retried_and_converges() {
    let mut world = World::new("faulttask").await;
    world
        .admin
        .set_faults(json!({"failNextTasks": 1}))
        .await
        .unwrap();
    world.start().await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    let c = world.ready::<OCCustomer>("contoso", 60).await;
    assert!(c.status.unwrap().customer_id.is_some());
    assert_eq!(
        world
            .admin
            .count("POST /v3/customer", "total")
            .await
            .unwrap(),
        2,
        "one failed task, one retry"
    );
}

#[tokio::test]
async fn a_failed_release_keeps_the_finalizer_until_a_release_succeeds() {
    let mut world = World::new("faultrelease").await;
    world.start().await;
    world.customer_ready().await;
    world
        .block("users", "contoso", json!({"numbers": ["+14255550800"]}))
        .await;
    world.ready::<OCNumberBlock>("users", 60).await;
    world
        .admin
        .set_faults(json!({"taskFailureRate": 1.0}))
        .await
        .unwrap();
    world.delete::<OCNumberBlock>("users").await;
    let b = world
        .wait::<OCNumberBlock>("users", 30, "showing the failed release", |b| {
            condition(b, SYNCED)
                .is_some_and(|(_, _, m)| m.contains("Release Numbers from Customer failed"))
        })
        .await;
    assert!(
        b.metadata.deletion_timestamp.is_some()
            && b.metadata.finalizers.is_some_and(|f| !f.is_empty())
    );
    // Still on the platform (Active, or in the next release attempt, which fails too).
    let numbers = world.platform_numbers(TENANT_A).await;
    assert_eq!(numbers.len(), 1, "{numbers:?}");
    assert_eq!(numbers[0].0, "+14255550800");
    world.admin.set_faults(json!({})).await.unwrap();
    world.wait_gone::<OCNumberBlock>("users", 60).await;
    assert!(world.platform_numbers(TENANT_A).await.is_empty());
    assert!(
        world
            .admin
            .count("POST /v2/oc/numbers/action/release", "total")
            .await
            .unwrap()
            >= 2
    );
}

#[tokio::test]
async fn deleting_while_the_platform_is_down_waits_and_says_why() {
    let mut world = World::new("faultdown").await;
    world.start().await;
    world.customer_ready().await;
    world
        .admin
        .set_faults(json!({"serverErrorRate": 1.0}))
        .await
        .unwrap();
    world.delete::<OCCustomer>("contoso").await;
    let c = world
        .wait::<OCCustomer>("contoso", 30, "waiting", |c| {
            c.metadata.deletion_timestamp.is_some()
                && has_reason(c, READY, reason::DELETING)
                && has_reason(c, SYNCED, reason::API_UNAVAILABLE)
        })
        .await;
    assert!(has_reason(&c, READY, reason::DELETING), "{:#?}", c.status);
    assert!(c.metadata.finalizers.is_some_and(|f| !f.is_empty()));
    world.admin.set_faults(json!({})).await.unwrap();
    world.wait_gone::<OCCustomer>("contoso", 60).await;
    let state = world.admin.state().await.unwrap();
    assert!(
        state["customers"].as_object().unwrap().is_empty()
            && state["leads"].as_object().unwrap().is_empty()
    );
}

/// A licence upgrade answered with a 5xx may or may not have started; the platform
/// shows no running upgrade to look up. The customer waits out the grace without
/// reading the platform, says why, then looks the licence up and sends it again.
#[tokio::test]
async fn a_lost_licence_upgrade_waits_its_grace_without_reads_then_looks_and_retries() {
    let mut world = World::new("lostupgrade").await;
    world
        .admin
        .set_faults(json!({"serverErrorBurst": 1, "endpoints": ["POST /v2/customer/{guid}/action/upgrade"]}))
        .await
        .unwrap();
    world.start().await;
    world
        .customer(
            "contoso",
            TENANT_A,
            "contoso",
            json!({"license": {"type": "OcEssentialsPlus", "count": 3}}),
        )
        .await;
    let waiting = world
        .wait::<OCCustomer>("contoso", 60, "waiting after the lost answer", |c| {
            condition(c, READY).is_some_and(|(_, _, m)| m.contains("answer was lost"))
        })
        .await;
    let message = condition(&waiting, READY).unwrap().2;
    assert!(message.contains("looks again"), "{message}");
    let reads_then = world.admin.count("GET /v2/oc/lead", "total").await.unwrap();
    // The upgrade is sent a second time once the grace is over and the licence is
    // still OC Essentials.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while world
        .admin
        .count("POST /v2/customer/{guid}/action/upgrade", "total")
        .await
        .unwrap()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the upgrade was never sent again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let reads_after = world.admin.count("GET /v2/oc/lead", "total").await.unwrap();
    assert!(
        reads_after - reads_then <= 2,
        "{} lead reads while waiting out the grace",
        reads_after - reads_then
    );
    world.ready::<OCCustomer>("contoso", 60).await;
    assert_eq!(
        world
            .admin
            .count("POST /v2/customer/{guid}/action/upgrade", "200")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn an_upload_answered_503_is_looked_up_and_its_numbers_reach_the_platform() {
    let mut world = World::new("fault503upload").await;
    world.start().await;
    world.customer_ready().await;
    let upload = "POST /v2/oc/numbers/action/upload";
    world
        .admin
        .set_faults(json!({"serverErrorBurst": 1, "endpoints": [upload]}))
        .await
        .unwrap();
    world
        .block(
            "main",
            "contoso",
            json!({"numbers": ["+14255550400", "+14255550401"]}),
        )
        .await;
    world.ready::<OCNumberBlock>("main", 60).await;
    assert_eq!(world.admin.count(upload, "503").await.unwrap(), 1);
    assert_eq!(world.admin.count(upload, "200").await.unwrap(), 1);
    let numbers = world.platform_numbers(TENANT_A).await;
    assert_eq!(
        numbers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["+14255550400", "+14255550401"],
        "the block is Ready but its numbers are not on the platform"
    );
}
