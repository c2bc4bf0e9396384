//! Crash safety: the operator stops right after a write, before the write's answer is
//! recorded; started again, it looks the platform up instead of writing twice.

use std::time::{Duration, Instant};

use oc_operator::api::{OCCustomer, OCEndUser, OCNumberBlock, OCSipConnection};
use serde_json::json;

use crate::support::*;

async fn wait_count(world: &World, endpoint: &str, outcome: &str, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while world.admin.count(endpoint, outcome).await.unwrap() < at_least {
        assert!(
            Instant::now() < deadline,
            "{endpoint} {outcome} never reached {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_upload_whose_answer_was_lost_is_not_sent_again_after_a_restart() {
    let mut world = World::new("crashupload").await;
    world.start().await;
    world.customer_ready().await;

    // The platform performs the upload, then the answer is lost and the platform
    // stays unreachable (so the task id cannot be found either); the operator stops.
    world
        .admin
        .set_faults(json!({
            "dropAfterWriteBurst": 1,
            "partitionAfterDroppedWrite": true,
            "endpoints": ["POST /v2/oc/numbers/action/upload"],
        }))
        .await
        .unwrap();
    world
        .block(
            "users",
            "contoso",
            json!({"ranges": [{"start": "+14255550900", "end": "+14255550949"}]}),
        )
        .await;
    wait_count(
        &world,
        "POST /v2/oc/numbers/action/upload",
        "answer-dropped",
        1,
    )
    .await;
    world.crash().await;
    let b = world.api::<OCNumberBlock>().get("users").await.unwrap();
    let op = b
        .status
        .as_ref()
        .and_then(|s| s.operation.clone())
        .expect("the intent was recorded before the write");
    assert_eq!(op.task_id, None, "the task id could not have been recorded");

    world.admin.set_faults(json!({})).await.unwrap();
    world.start().await;
    let b = world.ready::<OCNumberBlock>("users", 60).await;
    assert_eq!(b.status.unwrap().counts.map(|c| c.active), Some(50));
    assert_eq!(world.uploads().await, 1, "the upload was sent twice");
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 50);
    // The restarted operator looked the numbers up (Get Customer Numbers V2) first.
    assert!(
        world
            .admin
            .count("GET /v2/oc/numbers", "200")
            .await
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn a_lead_whose_answer_was_lost_is_found_not_created_again() {
    let mut world = World::new("crashlead").await;
    world
        .admin
        .set_faults(json!({"dropAfterWriteBurst": 1, "endpoints": ["POST /v2/oc/lead"]}))
        .await
        .unwrap();
    world.start().await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    wait_count(&world, "POST /v2/oc/lead", "answer-dropped", 1).await;
    world.crash().await;
    world.admin.set_faults(json!({})).await.unwrap();
    world.start().await;
    world.ready::<OCCustomer>("contoso", 60).await;
    assert_eq!(
        world
            .admin
            .count("POST /v2/oc/lead", "total")
            .await
            .unwrap(),
        1,
        "the lead was created twice"
    );
}

#[tokio::test]
async fn a_customer_creation_whose_answer_was_lost_is_not_duplicated() {
    let mut world = World::new("crashcustomer").await;
    world
        .admin
        .set_faults(json!({"dropAfterWriteBurst": 1, "endpoints": ["POST /v3/customer"]}))
        .await
        .unwrap();
    world.start().await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    wait_count(&world, "POST /v3/customer", "answer-dropped", 1).await;
    world.crash().await;
    world.admin.set_faults(json!({})).await.unwrap();
    world.start().await;
    world.ready::<OCCustomer>("contoso", 60).await;
    assert_eq!(
        world.admin.count("POST /v3/customer", "200").await.unwrap(),
        1,
        "two customers were created"
    );
    assert_eq!(
        world.admin.state().await.unwrap()["customers"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
}

/// The upgrade is carried out but its answer is lost: after the grace the licence is
/// read, found upgraded, and the upgrade is not sent again, also when that read fails
/// at first (sent again, the platform refuses it as an invalid change and the
/// customer never gets Ready).
#[tokio::test]
async fn a_licence_upgrade_whose_answer_was_lost_is_looked_up_not_sent_again() {
    let mut world = World::new("crashupgrade").await;
    let upgrade = "POST /v2/customer/{guid}/action/upgrade";
    world
        .admin
        .set_faults(json!({"dropAfterWriteBurst": 1, "endpoints": [upgrade]}))
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
    wait_count(&world, upgrade, "answer-dropped", 1).await;
    // The first look at the licence after the grace fails (its retries too): what
    // that reconcile saved must not let the next one take the licence from before
    // the upgrade as seen.
    world
        .admin
        .set_faults(json!({"serverErrorBurst": 12, "endpoints": ["GET /v3/customer/{guid}"]}))
        .await
        .unwrap();
    world.ready::<OCCustomer>("contoso", 90).await;
    assert_eq!(
        world.admin.count(upgrade, "total").await.unwrap(),
        1,
        "the upgrade was sent again"
    );
}

#[tokio::test]
async fn a_site_whose_add_answer_was_lost_is_found_and_not_modified_after_a_restart() {
    let mut world = World::new("crashsite").await;
    world.start().await;
    world.customer_ready().await;
    let add = "POST /v2/customer/{guid}/sitelocation/";
    world
        .admin
        .set_faults(json!({"dropAfterWriteBurst": 1, "endpoints": [add]}))
        .await
        .unwrap();
    world
        .apply::<OCSipConnection>(json!({
            "apiVersion": "operatorconnect.io/v1alpha1",
            "kind": "OCSipConnection",
            "metadata": {"name": "redmond"},
            "spec": {"customerRef": {"name": "contoso"}, "siteName": "Redmond", "sbcId": "11"},
        }))
        .await;
    wait_count(&world, add, "answer-dropped", 1).await;
    world.crash().await;
    let site = world.api::<OCSipConnection>().get("redmond").await.unwrap();
    let op = site
        .status
        .as_ref()
        .and_then(|s| s.operation.clone())
        .expect("the intent was recorded before the write");
    assert_eq!(
        (op.task_id, op.generation),
        (None, Some(1)),
        "the add's answer was lost; its generation was recorded with the intent"
    );

    world.admin.set_faults(json!({})).await.unwrap();
    world.start().await;
    world.ready::<OCSipConnection>("redmond", 60).await;
    let sent = |endpoint: &'static str| {
        let world = &world;
        async move { world.admin.count(endpoint, "total").await.unwrap() }
    };
    assert_eq!(
        (
            sent(add).await,
            sent("PATCH /v2/customer/{guid}/sitelocation/").await
        ),
        (1, 0),
        "the site found by name is the one added, with the spec it was added from: neither added nor modified again"
    );
}

#[tokio::test]
async fn a_provisioning_whose_answer_was_lost_is_found_and_not_sent_again_after_a_restart() {
    let mut world = World::new("crashuser").await;
    world.start().await;
    world.licensed_customer().await;
    let provision = "PUT /v2/customer/{guid}/user/{sip}/script";
    world
        .admin
        .set_faults(json!({"dropAfterWriteBurst": 1, "endpoints": [provision]}))
        .await
        .unwrap();
    world
        .apply::<OCEndUser>(json!({
            "apiVersion": "operatorconnect.io/v1alpha1",
            "kind": "OCEndUser",
            "metadata": {"name": "adele"},
            "spec": {"customerRef": {"name": "contoso"}, "sipAddress": "adele@contoso.com",
                     "usageLocation": "US", "onlineVoiceRoutingPolicy": "OC-US"},
        }))
        .await;
    wait_count(&world, provision, "answer-dropped", 1).await;
    world.crash().await;

    world.admin.set_faults(json!({})).await.unwrap();
    world.start().await;
    let user = world.ready::<OCEndUser>("adele", 60).await;
    assert_eq!(user.status.and_then(|s| s.applied_generation), Some(1));
    assert_eq!(
        world.admin.count(provision, "200").await.unwrap(),
        1,
        "the provisioning found in the user list was sent again"
    );
}

#[tokio::test]
async fn a_large_block_stopped_with_uploads_running_follows_them_after_a_restart() {
    let mut world = World::new("crashrunning").await;
    world.start().await;
    world.customer_ready().await;
    // Stopped while uploads run beside the write in flight: their task ids are only
    // in status.running.
    world
        .large_block_with_uploads_running("large", ("+14255591000", "+14255595999"), 3000)
        .await;
    world.crash().await;
    world.admin.set_faults(json!({})).await.unwrap();
    world.start().await;
    let b = world.ready::<OCNumberBlock>("large", 120).await;
    let status = b.status.unwrap();
    assert_eq!(status.counts.map(|c| c.active), Some(5000));
    assert!(status.running.is_empty(), "{:?}", status.running);
    // Each of the five requests was sent once: the running ones were followed, not
    // sent again (a request sent again would be refused, its numbers being the
    // tenant's already). The simulator may not count a request whose connection the
    // stop cut after the platform had taken it (it is found and followed after the
    // restart), so the count is at most five, not exactly five.
    let uploads = |answer| {
        world
            .admin
            .count("POST /v2/oc/numbers/action/upload", answer)
    };
    assert_eq!(uploads("400").await.unwrap(), 0, "an upload was sent again");
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 5000);
    assert!(uploads("total").await.unwrap() <= 5);
}

#[tokio::test]
async fn a_lost_answer_in_a_window_of_uploads_is_looked_up_not_sent_again() {
    let mut world = World::new("lostwindow").await;
    world.start().await;
    world.customer_ready().await;
    // The first upload of the block's window is performed, its answer lost: the
    // window stops there, and the next reconcile looks its numbers up.
    world
        .admin
        .set_faults(json!({
            "dropAfterWriteBurst": 1,
            "endpoints": ["POST /v2/oc/numbers/action/upload"],
        }))
        .await
        .unwrap();
    world
        .block(
            "large",
            "contoso",
            json!({"ranges": [{"start": "+14255592000", "end": "+14255596999"}]}),
        )
        .await;
    let b = world.ready::<OCNumberBlock>("large", 120).await;
    let status = b.status.unwrap();
    assert_eq!(status.counts.map(|c| c.active), Some(5000));
    assert!(status.running.is_empty(), "{:?}", status.running);
    let uploads = |answer| {
        world
            .admin
            .count("POST /v2/oc/numbers/action/upload", answer)
    };
    assert_eq!(uploads("answer-dropped").await.unwrap(), 1);
    // Each of the five requests once: the lost one was found and followed.
    assert_eq!(world.uploads().await, 5, "an upload was sent twice");
    assert_eq!(uploads("400").await.unwrap(), 0, "an upload was sent again");
    assert!(
        world
            .admin
            .count("GET /v2/oc/numbers", "200")
            .await
            .unwrap()
            >= 1,
        "the lost upload was not looked up"
    );
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 5000);
}

#[tokio::test]
async fn a_channel_assignment_whose_answer_was_lost_is_looked_up_not_sent_again() {
    let mut world = World::new("crashchannel").await;
    let assign = "PUT /v3/ovoc/channel/action/assign";
    world
        .admin
        .set_faults(json!({"dropAfterWriteBurst": 1, "endpoints": [assign]}))
        .await
        .unwrap();
    world.start().await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({"channelId": 1574}))
        .await;
    world.ready::<OCCustomer>("contoso", 60).await;
    assert_eq!(
        world.admin.count(assign, "answer-dropped").await.unwrap(),
        1
    );
    assert_eq!(
        world.admin.count(assign, "200").await.unwrap(),
        1,
        "the channel was assigned again after its answer was lost"
    );
}

#[tokio::test]
async fn a_block_stopped_while_its_upload_waits_for_the_budget_uploads_once_after_the_restart() {
    let mut world = World::new("crashqueued").await;
    world.start().await;
    world.customer_ready().await;
    // One call a second: the upload waits in line behind the block's listing, which
    // the adopt annotation makes it read first (numbers it declares could be the
    // tenant's already). Nothing else puts a call in front of an upload.
    world.set_budget(1, 1).await;
    let listing = "GET /v3/oc/numbers";
    let listed_before = world.admin.count(listing, "200").await.unwrap();
    let _: OCNumberBlock = world
        .apply(json!({
            "apiVersion": "operatorconnect.io/v1alpha1",
            "kind": "OCNumberBlock",
            "metadata": {"name": "main", "annotations": {"operatorconnect.io/adopt": "true"}},
            "spec": {
                "customerRef": {"name": "contoso"},
                "callingProfileId": PROFILE_US,
                "usage": "CallingUserAssignment",
                "capabilities": ["InboundCalling", "OutboundCalling"],
                "numbers": ["+14255550400"],
            },
        }))
        .await;
    let upload = "POST /v2/oc/numbers/action/upload";
    wait_count(&world, listing, "200", listed_before + 1).await;
    world.crash().await;
    assert_eq!(
        world.admin.count(upload, "total").await.unwrap(),
        0,
        "the upload left before the operator was stopped; the test did not stop it in line"
    );
    let block = world.api::<OCNumberBlock>().get("main").await.unwrap();
    assert!(
        block.status.is_none_or(|s| s.active.is_empty()),
        "numbers saved as the block's before their upload left"
    );
    world.start().await;
    world.ready::<OCNumberBlock>("main", 60).await;
    assert_eq!(world.admin.count(upload, "200").await.unwrap(), 1);
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 1);
}
