use kube::api::{Patch, PatchParams};
use liveplatform::model::{ConfigurationType, CreateCustomer, CreateLead, LicenseChange};
use oc_operator::api::OCCustomer;
use oc_operator::api::conditions::{CHANNEL_ASSIGNED, LICENSED, READY, reason};
use serde_json::json;

use crate::support::*;

fn lead_of<'a>(state: &'a serde_json::Value, tenant: &str) -> Option<&'a serde_json::Value> {
    state["leads"].get(tenant)
}

#[tokio::test]
async fn customer_lifecycle_create_update_delete() {
    let mut world = World::new("customer").await;
    world.start().await;
    world
        .customer(
            "contoso",
            TENANT_A,
            "contoso",
            json!({"channelId": 1574, "license": {"type": "OcEssentialsPlus", "count": 10}}),
        )
        .await;
    let c = world.ready::<OCCustomer>("contoso", 60).await;
    let status = c.status.clone().unwrap();
    let guid = status.customer_id.clone().expect("customer id");
    assert!(status.lead_id.is_some());
    assert_eq!(status.channel_id, Some(1574));
    assert_eq!(
        status.default_domain.as_deref(),
        Some("contoso.onmicrosoft.com")
    );
    assert!(
        has_reason(&c, LICENSED, reason::AVAILABLE)
            && has_reason(&c, CHANNEL_ASSIGNED, reason::AVAILABLE)
    );
    let license = status.license.expect("licence in status");
    assert_eq!(
        (license.type_.as_str(), license.count),
        ("OcEssentialsPlus", Some(10))
    );
    assert!(
        c.metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.contains(&"operatorconnect.io/cleanup".to_owned()))
    );
    let state = world.admin.state().await.unwrap();
    assert_eq!(lead_of(&state, TENANT_A).unwrap()["channelId"], 1574);
    assert_eq!(state["customers"][&guid]["licenseType"], 4);
    assert_eq!(
        world
            .admin
            .count("POST /v2/oc/lead", "total")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        world
            .admin
            .count("POST /v3/customer", "total")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        world
            .admin
            .count("POST /v2/customer/{guid}/action/upgrade", "total")
            .await
            .unwrap(),
        1
    );

    // Move the channel, switch to Pro and change the count.
    world
        .customer(
            "contoso",
            TENANT_A,
            "contoso",
            json!({"channelId": 1575, "license": {"type": "OcPro", "count": 20}}),
        )
        .await;
    world.ready::<OCCustomer>("contoso", 60).await;
    let state = world.admin.state().await.unwrap();
    assert_eq!(lead_of(&state, TENANT_A).unwrap()["channelId"], 1575);
    assert_eq!(
        (
            state["customers"][&guid]["licenseType"].clone(),
            state["customers"][&guid]["licenseCount"].clone()
        ),
        (json!(5), json!(20))
    );
    assert_eq!(
        world
            .admin
            .count("PATCH /v3/customer/{guid}", "200")
            .await
            .unwrap(),
        1
    );

    // Remove the channel.
    world
        .customer(
            "contoso",
            TENANT_A,
            "contoso",
            json!({"license": {"type": "OcPro", "count": 20}}),
        )
        .await;
    let c = world.ready::<OCCustomer>("contoso", 60).await;
    assert!(has_reason(&c, CHANNEL_ASSIGNED, "NoChannel"));
    assert!(lead_of(&world.admin.state().await.unwrap(), TENANT_A).unwrap()["channelId"].is_null());

    // Delete: the service and the lead go.
    world.delete::<OCCustomer>("contoso").await;
    world.wait_gone::<OCCustomer>("contoso", 60).await;
    let state = world.admin.state().await.unwrap();
    assert!(
        state["customers"].as_object().unwrap().is_empty(),
        "{}",
        state["customers"]
    );
    assert!(lead_of(&state, TENANT_A).is_none());
}

#[tokio::test]
async fn orphan_leaves_the_platform_untouched() {
    let mut world = World::new("orphan").await;
    world.start().await;
    world.orphaned_customer("fabrikam", TENANT_B).await;
    let state = world.admin.state().await.unwrap();
    assert!(lead_of(&state, TENANT_B).is_some());
    assert_eq!(state["customers"].as_object().unwrap().len(), 1);
    assert_eq!(world.calls_to("DELETE /v2/customer/{guid}").await, 0);
}

#[tokio::test]
async fn an_existing_lead_and_customer_are_adopted_not_created() {
    let mut world = World::new("adopt").await;
    let platform = world.platform_client();
    platform
        .create_lead(&CreateLead {
            tenant_id: TENANT_A.into(),
            company_name: "Contoso Ltd".into(),
        })
        .await
        .unwrap();
    let task = platform
        .create_customer(&CreateCustomer {
            configuration: ConfigurationType::TenantType,
            customer_short_name: "contoso".into(),
            customer_full_name: "Contoso Limited".into(),
            ms_tenant_id: TENANT_A.into(),
            script_parameters: Default::default(),
        })
        .await
        .unwrap();
    world.admin.post("/tasks/finish", json!({})).await.unwrap();
    let guid = platform
        .get_task(&task)
        .await
        .unwrap()
        .output_str("ump_customer_guid")
        .unwrap()
        .to_owned();
    let t = platform
        .upgrade_license(&guid, &LicenseChange::new(4, 7))
        .await
        .unwrap();
    world.admin.post("/tasks/finish", json!({})).await.unwrap();
    let _ = platform.get_task(&t).await.unwrap();
    world.admin.set_faults(json!({})).await.unwrap();
    let before_leads = world.admin.count("POST /v2/oc/lead", "200").await.unwrap();
    let before_customers = world
        .admin
        .count("POST /v3/customer", "total")
        .await
        .unwrap();

    let writes_before = world.accepted_writes().await;
    world.start().await;
    world
        .customer(
            "contoso",
            TENANT_A,
            "contoso",
            json!({"license": {"type": "OcEssentialsPlus", "count": 7}}),
        )
        .await;
    // Without the opt-in the existing tenant is not taken over, and nothing is
    // written: the lead's creation is sent first and refused (the tenant has one),
    // which is when the lead is looked up; nothing the platform accepts.
    let refused = world
        .wait::<OCCustomer>("contoso", 60, "AlreadyExists", |c| {
            has_reason(c, READY, reason::ALREADY_EXISTS)
        })
        .await;
    let message = condition(&refused, READY).unwrap().2;
    assert!(message.contains("operatorconnect.io/adopt"), "{message}");
    world.opt_in::<OCCustomer>("contoso").await;
    let c = world.ready::<OCCustomer>("contoso", 60).await;
    assert_eq!(
        world.accepted_writes().await,
        writes_before,
        "adopting wrote"
    );
    assert_eq!(
        world.admin.count("POST /v2/oc/lead", "400").await.unwrap(),
        1,
        "the lead's creation is sent once, and refused"
    );
    assert_eq!(
        c.status.unwrap().customer_id.as_deref(),
        Some(guid.as_str())
    );
    assert_eq!(
        world.admin.count("POST /v2/oc/lead", "200").await.unwrap(),
        before_leads,
        "a lead was created"
    );
    assert_eq!(
        world
            .admin
            .count("POST /v3/customer", "total")
            .await
            .unwrap(),
        before_customers,
        "a customer was created"
    );
    assert_eq!(
        world
            .admin
            .count("PATCH /v3/customer/{guid}", "total")
            .await
            .unwrap(),
        0,
        "the licence was changed"
    );
}

#[tokio::test]
async fn an_unknown_tenant_is_rejected_without_retries() {
    let mut world = World::new("unknowntenant").await;
    world.start().await;
    world
        .customer(
            "ghost",
            "9f9f9f9f-0000-4000-8000-000000000001",
            "ghost",
            json!({}),
        )
        .await;
    let c = world
        .wait::<OCCustomer>("ghost", 30, "rejected", |c| {
            has_reason(c, READY, reason::REJECTED)
        })
        .await;
    let (_, _, message) = condition(&c, READY).unwrap();
    assert!(
        message.contains("unknown to Microsoft Entra ID") && message.contains("spec.tenantId"),
        "{message}"
    );
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let validations = world
        .admin
        .count("GET /{tenant}/.well-known/openid-configuration", "total")
        .await
        .unwrap();
    assert!(
        validations <= 2,
        "a rejected spec was retried {validations} times"
    );
    assert_eq!(
        world
            .admin
            .count("POST /v2/oc/lead", "total")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_paused_customer_is_left_alone_until_resumed() {
    let mut world = World::new("paused").await;
    world.start().await;
    let mut value = customer_json("contoso", TENANT_A, "contoso", json!({}));
    value["spec"]["platformRef"]["name"] = json!(world.platform());
    value["metadata"]["annotations"] = json!({"operatorconnect.io/paused": "true"});
    world.apply::<OCCustomer>(value.clone()).await;
    let c = world
        .wait::<OCCustomer>("contoso", 30, "paused", |c| {
            has_reason(c, "Synced", reason::PAUSED)
        })
        .await;
    assert!(
        condition(&c, "Synced")
            .unwrap()
            .2
            .contains("operatorconnect.io/paused")
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        world
            .admin
            .count("POST /v2/oc/lead", "total")
            .await
            .unwrap(),
        0
    );
    value["metadata"]["annotations"] = json!({"operatorconnect.io/paused": "false"});
    world.apply::<OCCustomer>(value).await;
    world.ready::<OCCustomer>("contoso", 60).await;
}

#[tokio::test]
async fn a_status_only_change_does_not_start_a_reconcile_but_a_label_does() {
    let mut world = World::new("statusonly").await;
    world.start().await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    let ready = world.ready::<OCCustomer>("contoso", 60).await;
    let domain = ready.status.as_ref().unwrap().default_domain.clone();
    let before = world.quiet().await;

    // Someone else writes the status: the operator's own output, not a request.
    let api = world.api::<OCCustomer>();
    api.patch_status(
        "contoso",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"defaultDomain": "tampered.example"}})),
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        world.admin.total_calls().await.unwrap(),
        before,
        "a status change was reconciled"
    );

    // A label is part of what the user declares: it is reconciled, and the status
    // is rebuilt from the platform.
    api.patch(
        "contoso",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": "voice"}}})),
    )
    .await
    .unwrap();
    world
        .wait::<OCCustomer>("contoso", 30, "the status rebuilt", |c| {
            c.status.as_ref().map(|s| &s.default_domain) == Some(&domain)
        })
        .await;
    assert!(world.admin.total_calls().await.unwrap() > before);
}

#[tokio::test]
async fn a_customer_whose_lead_is_suspended_becomes_ready_by_itself_once_it_is_active_again() {
    let mut world = World::new("leadback").await;
    world.start().await;
    world.customer_ready().await;
    world
        .admin
        .put(
            &format!("/leads/{TENANT_A}/status"),
            json!({"status": "Suspended"}),
        )
        .await
        .unwrap();
    // A label change starts a reconcile, which finds the lead suspended.
    world
        .merge::<OCCustomer>(
            "contoso",
            json!({"metadata": {"labels": {"team": "voice"}}}),
        )
        .await;
    let c = world
        .wait::<OCCustomer>("contoso", 60, "not Ready", |c| {
            condition(c, READY).is_some_and(|(s, _, m)| s == "False" && m.contains("Suspended"))
        })
        .await;
    assert!(
        condition(&c, READY).unwrap().2.contains("must be Active"),
        "{:?}",
        condition(&c, READY)
    );
    // The platform operator activates it again: no change in Kubernetes is needed.
    world
        .admin
        .put(
            &format!("/leads/{TENANT_A}/status"),
            json!({"status": "Active"}),
        )
        .await
        .unwrap();
    world.ready::<OCCustomer>("contoso", 60).await;
}

/// What a customer holds (its licence) can be stale: here someone upgraded it in the
/// portal. The upgrade the operator then sends is refused ("Invalid change for License
/// Type!"); the refusal makes it read the licence, which already is what the spec
/// asks, so the customer becomes Ready instead of waiting for another spec change.
#[tokio::test]
async fn a_refused_upgrade_reads_the_licence_and_finds_it_already_made() {
    let mut world = World::new("upgraderefused").await;
    world.start().await;
    world.customer_ready().await;
    let guid = world
        .api::<OCCustomer>()
        .get("contoso")
        .await
        .unwrap()
        .status
        .and_then(|s| s.customer_id)
        .expect("the customer's id is recorded");
    let platform = world.platform_client();
    let task = platform
        .upgrade_license(&guid, &LicenseChange::new(4, 3))
        .await
        .unwrap();
    world.admin.post("/tasks/finish", json!({})).await.unwrap();
    let _ = platform.get_task(&task).await.unwrap();
    let upgrade = "POST /v2/customer/{guid}/action/upgrade";
    let refused_before = world.admin.count(upgrade, "400").await.unwrap();

    world
        .merge::<OCCustomer>(
            "contoso",
            json!({"spec": {"license": {"type": "OcEssentialsPlus", "count": 3}}}),
        )
        .await;
    let customer = world
        .wait::<OCCustomer>("contoso", 60, "Ready on OcEssentialsPlus x3", |c| {
            is_ready(c)
                && c.status.as_ref().is_some_and(|s| {
                    s.license
                        .as_ref()
                        .is_some_and(|l| l.type_ == "OcEssentialsPlus" && l.count == Some(3))
                })
        })
        .await;
    assert_eq!(
        world.admin.count(upgrade, "400").await.unwrap() - refused_before,
        1,
        "the operator's upgrade, sent from the licence it held, was refused once"
    );
    assert!(
        condition(&customer, LICENSED).is_some_and(|(status, _, _)| status == "True"),
        "{:?}",
        customer.status
    );
}

/// The examples in a namespace of their own, their customer with `deletionPolicy:
/// Orphan`, all Ready; the namespace and what the platform held then.
async fn orphan_examples(world: &mut World, prefix: &str) -> (String, serde_json::Value) {
    let ns = world.add_namespace(prefix).await;
    world.apply_examples_in(&ns).await;
    world.orphan_the_examples_customer(&ns).await;
    world.start().await;
    world.examples_ready_in(&ns).await;
    (ns.clone(), world.admin.state().await.unwrap())
}

/// The platform holds what it held `before`, and nothing was released or deleted.
async fn platform_as_it_was(world: &World, before: &serde_json::Value, areas: &[&str]) {
    let after = world.admin.state().await.unwrap();
    for area in areas {
        let (now, then) = (
            after[area].as_object().unwrap(),
            before[area].as_object().unwrap(),
        );
        assert!(!now.is_empty(), "{area} went from the platform");
        assert_eq!(now.len(), then.len(), "{area} changed");
    }
}

/// A customer with `deletionPolicy: Orphan` deletes its dependents and goes after
/// them (it used to go at once, its dependents then waiting for ever for its id), and
/// they are orphaned with it: the platform keeps everything.
#[tokio::test]
async fn an_orphan_customer_goes_after_its_dependents_which_are_orphaned_with_it() {
    let mut world = World::new("orphandeps").await;
    let (ns, before) = orphan_examples(&mut world, "orphandeps-tenant").await;
    world
        .api_in::<OCCustomer>(&ns)
        .delete("contoso", &Default::default())
        .await
        .expect("delete the customer");
    let customers = world.api_in::<OCCustomer>(&ns);
    gone_within(60, "the customer", async || {
        customers.get_opt("contoso").await.expect("get").is_none()
    })
    .await;
    for kind in [
        "ocnumberblocks",
        "ocsipconnections",
        "ocdialplans",
        "ocendusers",
    ] {
        let listed = world
            .kubectl()
            .args(["get", kind, "-n", &ns, "-o", "name"])
            .output()
            .expect("kubectl");
        assert!(listed.stdout.is_empty(), "{kind} left: {listed:?}");
    }
    platform_as_it_was(
        &world,
        &before,
        &["leads", "customers", "numbers", "sites", "users"],
    )
    .await;
    for endpoint in [
        "DELETE /v2/customer/{guid}",
        "POST /v2/oc/numbers/action/release",
    ] {
        assert_eq!(world.calls_to(endpoint).await, 0, "{endpoint}");
    }
}

/// Deleting the namespace of a customer with `deletionPolicy: Orphan` ends (it stayed
/// Terminating, its dependents waiting for a customer that had gone), and the lead and
/// the customer stay on the platform. (Its dependents go in the namespace's deletion
/// in no set order: one deleted before the customer is seen deleted undoes its own
/// work by its own policy.)
#[tokio::test]
async fn an_orphan_customers_namespace_goes() {
    let mut world = World::new("orphanns").await;
    let (ns, before) = orphan_examples(&mut world, "orphanns-tenant").await;
    world.delete_namespace_within(&ns, 60).await;
    platform_as_it_was(&world, &before, &["leads", "customers"]).await;
    assert_eq!(world.calls_to("DELETE /v2/customer/{guid}").await, 0);
}
