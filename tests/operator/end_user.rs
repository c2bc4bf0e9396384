use liveplatform_sim::Seed;
use oc_operator::api::conditions::{READY, reason};
use oc_operator::api::{OCEndUser, OCNumberBlock};
use oc_operator::controller::end_user::LICENSE_REQUIRED;
use serde_json::json;

use crate::support::*;

async fn user(world: &World, name: &str, sip: &str, line: &str) -> OCEndUser {
    world
        .apply(json!({
            "apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCEndUser", "metadata": {"name": name},
            "spec": {"customerRef": {"name": "contoso"}, "sipAddress": sip, "lineUri": line, "usageLocation": "US",
                     "onlineVoiceRoutingPolicy": "OC-US", "firstName": "Adele"},
        }))
        .await
}

#[tokio::test]
async fn an_end_user_waits_for_the_licence_then_becomes_ready_by_itself() {
    let mut world = World::new("enduser").await;
    world.start().await;
    world.customer_ready().await;
    world
        .block(
            "users",
            "contoso",
            json!({"numbers": ["+14255551000", "+14255551001"]}),
        )
        .await;
    world.ready::<OCNumberBlock>("users", 60).await;
    user(&world, "adele", "adele@contoso.com", "tel:+14255551000").await;
    let u = world
        .wait::<OCEndUser>("adele", 30, "waiting for the licence", |u| {
            has_reason(u, READY, LICENSE_REQUIRED)
        })
        .await;
    assert!(
        condition(&u, READY)
            .unwrap()
            .2
            .contains("OcEssentialsPlus or OcPro")
    );
    assert_eq!(
        world
            .admin
            .count("PUT /v2/customer/{guid}/user/{sip}/script", "total")
            .await
            .unwrap(),
        0
    );

    // Upgrading the customer is all it takes.
    world
        .customer(
            "contoso",
            TENANT_A,
            "contoso",
            json!({"license": {"type": "OcEssentialsPlus", "count": 5}}),
        )
        .await;
    let u = world.ready::<OCEndUser>("adele", 90).await;
    let status = u.status.unwrap();
    assert_eq!(status.line_uri.as_deref(), Some("tel:+14255551000"));
    assert_eq!(status.enterprise_voice_enabled, Some(true));
    assert!(status.object_id.is_some());

    // A new line URI re-provisions; the old number is no longer assigned.
    user(&world, "adele", "adele@contoso.com", "tel:+14255551001").await;
    world
        .wait::<OCEndUser>("adele", 60, "moved", |u| {
            is_ready(u)
                && u.status.as_ref().unwrap().line_uri.as_deref() == Some("tel:+14255551001")
        })
        .await;
    let state = world.admin.state().await.unwrap();
    assert_eq!(
        state["numbers"]["+14255551000"]["assignmentStatus"],
        "Unassigned"
    );
    assert_eq!(
        state["numbers"]["+14255551001"]["assignmentStatus"],
        "UserAssigned"
    );

    // Delete takes the number and voice off the user.
    world.delete::<OCEndUser>("adele").await;
    world.wait_gone::<OCEndUser>("adele", 60).await;
    let state = world.admin.state().await.unwrap();
    assert_eq!(
        state["numbers"]["+14255551001"]["assignmentStatus"],
        "Unassigned"
    );
}

#[tokio::test]
async fn a_line_uri_outside_the_customer_retries_until_the_number_exists() {
    let mut world = World::new("enduserline").await;
    world.start().await;
    world.licensed_customer().await;
    user(&world, "bob", "bob@contoso.com", "tel:+14255551100").await;
    world
        .wait::<OCEndUser>("bob", 30, "failing", |u| {
            condition(u, "Synced").is_some_and(|(_, _, m)| m.contains("upload it first"))
        })
        .await;
    world
        .block("bobs", "contoso", json!({"numbers": ["+14255551100"]}))
        .await;
    world.ready::<OCEndUser>("bob", 90).await;
}

#[tokio::test]
async fn an_end_user_waits_without_calls_for_the_block_bringing_its_number() {
    // Uploads take three seconds: the user is declared while its number is on its way.
    let mut world = World::with_seed(
        "enduserwait",
        Seed {
            task_delay_ms: 3000,
            ..Seed::default()
        },
    )
    .await;
    world.start().await;
    world.licensed_customer().await;
    world
        .block("carol", "contoso", json!({"numbers": ["+14255551200"]}))
        .await;
    world
        .wait::<OCNumberBlock>("carol", 30, "uploading", |b| {
            has_reason(b, READY, reason::WAITING_FOR_TASK)
        })
        .await;
    user(&world, "carol", "carol@contoso.com", "tel:+14255551200").await;
    let waiting = world
        .wait::<OCEndUser>("carol", 30, "waiting for the block", |u| {
            has_reason(u, READY, reason::WAITING_FOR_DEPENDENCY)
        })
        .await;
    assert!(
        condition(&waiting, READY)
            .unwrap()
            .2
            .contains("OCNumberBlock carol")
    );
    world.ready::<OCEndUser>("carol", 90).await;
    // One provisioning, once the number was there: never a try the platform refused
    // because the tenant did not have the number yet.
    let provisioning = "PUT /v2/customer/{guid}/user/{sip}/script";
    assert_eq!(world.admin.count(provisioning, "total").await.unwrap(), 1);
}

/// How long after its users are gone a namespace's deletion may still take: its
/// blocks' releases and the customer's deletion, tasks of half a second each.
const DELETED_AFTER_USERS_SECS: u64 = 60;

#[tokio::test]
async fn a_namespace_whose_users_hold_its_numbers_is_deleted_whole_once_they_are_gone() {
    // The examples: two users whose line URIs are numbers of block contoso-users under
    // policy Keep, beside a second block of the same tenant. Deleting the namespace
    // deletes everything at once: the users take their voice settings off while the
    // blocks release, the second block's releases keeping the tenant's numbers
    // listing current; the first block must see its numbers freed and release them.
    let mut world = World::new("endusergone").await;
    let ns = world.add_namespace("gone").await;
    world.apply_examples_in(&ns).await;
    world.start().await;
    world.examples_ready_in(&ns).await;

    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(world.client.clone());
    namespaces
        .delete(&ns, &Default::default())
        .await
        .expect("delete namespace");
    let users = world.api_in::<OCEndUser>(&ns);
    gone_within(60, &format!("the users of {ns}"), async || {
        users
            .list(&Default::default())
            .await
            .expect("users")
            .items
            .is_empty()
    })
    .await;
    gone_within(
        DELETED_AFTER_USERS_SECS,
        &format!("namespace {ns}"),
        async || namespaces.get_opt(&ns).await.expect("namespace").is_none(),
    )
    .await;
    world.platform_holds_nothing().await;
}

#[tokio::test]
async fn a_ready_user_asks_nothing_when_a_block_of_its_customer_changes() {
    let mut world = World::new("enduserquiet").await;
    world.start().await;
    world.licensed_customer().await;
    world
        .block("main", "contoso", json!({"numbers": ["+14255551300"]}))
        .await;
    world.ready::<OCNumberBlock>("main", 60).await;
    user(&world, "adele", "adele@contoso.com", "tel:+14255551300").await;
    world.ready::<OCEndUser>("adele", 60).await;
    world.quiet().await;
    let listings = "GET /v3/customer/{guid}/user";
    let before = world.admin.count(listings, "total").await.unwrap();

    // A number added to the block: the block uploads it (not Ready meanwhile), and the
    // user, whose number the block brought long ago, is not woken into a look-up.
    world
        .block(
            "main",
            "contoso",
            json!({"numbers": ["+14255551300", "+14255551301"]}),
        )
        .await;
    world
        .wait::<OCNumberBlock>("main", 60, "two numbers active", |b| {
            is_ready(b)
                && b.status
                    .as_ref()
                    .and_then(|s| s.counts.as_ref())
                    .is_some_and(|c| c.active == 2)
        })
        .await;
    world.quiet().await;
    world.ready::<OCEndUser>("adele", 5).await;
    assert_eq!(
        world.admin.count(listings, "total").await.unwrap(),
        before,
        "the Ready user listed the users when its block changed"
    );
}
