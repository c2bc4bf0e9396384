use kube::ResourceExt;
use oc_operator::api::conditions::{READY, SYNCED, reason};
use oc_operator::api::{OCCustomer, OCPlatform};
use serde_json::json;

use crate::support::*;

async fn platform_ready(world: &World) -> OCPlatform {
    world.platform_until(30, "Ready", is_ready).await
}

#[tokio::test]
async fn platform_publishes_calling_profiles_and_sbcs() {
    let mut world = World::new("platform").await;
    world.start().await;
    let p = platform_ready(&world).await;
    let status = p.status.unwrap();
    assert_eq!(status.calling_profile_count, Some(2));
    let us = status
        .calling_profiles
        .iter()
        .find(|c| c.id == PROFILE_US)
        .expect("US profile");
    assert_eq!(
        us.sbcs.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec!["11", "12"]
    );
    assert!(us.sbcs[0].trunk_fqdn.is_some());
    assert!(status.last_probe_time.is_some());
    assert_eq!(status.customer_count, Some(0));
    assert!(world.admin.count("GET /v2/oc/lead", "200").await.unwrap() >= 1);
    assert!(world.admin.count("GET /v2/customer", "200").await.unwrap() >= 1);
}

#[tokio::test]
async fn a_rotated_secret_takes_effect_without_a_restart() {
    let mut world = World::new("rotate").await;
    world.put_secret("wrong-secret").await;
    world.start().await;
    let p = world
        .platform_until(30, "Unauthorized", |p| {
            has_reason(p, "Synced", reason::UNAUTHORIZED)
        })
        .await;
    let (_, _, message) = condition(&p, "Synced").unwrap();
    assert!(message.contains("credentials Secret"), "{message}");
    assert!(
        !message.contains("wrong-secret"),
        "the secret leaked into status"
    );
    world
        .put_secret(liveplatform_sim::seed::SANDBOX_CLIENT_SECRET)
        .await;
    platform_ready(&world).await;
}

#[tokio::test]
async fn a_namespace_the_platform_does_not_allow_gets_a_condition_and_no_call() {
    let mut world = World::new("notallowed").await;
    world.put_platform(json!(["some-other-namespace"])).await;
    world.start().await;
    world.customer("acme", TENANT_A, "acme", json!({})).await;
    let c = world
        .wait::<OCCustomer>("acme", 30, "refused", |c| {
            has_reason(c, READY, reason::NAMESPACE_NOT_ALLOWED)
        })
        .await;
    let (_, _, message) = condition(&c, READY).unwrap();
    assert!(message.contains("allowedNamespaces"), "{message}");
    let counters = world.admin.counters().await.unwrap();
    // (The platform's own probe lists leads without a tenant; nothing for this tenant.)
    for endpoint in [
        "POST /v2/oc/lead",
        "POST /v3/customer",
        "PUT /v3/ovoc/channel/action/assign",
    ] {
        assert!(
            counters.get(endpoint).is_none(),
            "{endpoint} was called: {counters}"
        );
    }
    assert_eq!(
        world
            .admin
            .count("GET /{tenant}/.well-known/openid-configuration", "total")
            .await
            .unwrap(),
        0
    );
    // Allowing the namespace lets it through.
    world.put_platform(json!([world.ns])).await;
    world.ready::<OCCustomer>("acme", 60).await;
}

/// Two operators share a cluster, each kept to its platforms by `--platform-selector`:
/// an object on the other's platform gets no reconcile, no status and no call.
#[tokio::test]
async fn an_operator_leaves_objects_on_platforms_outside_its_selector_alone() {
    let mut a = World::new("selecta").await;
    let mut b = World::new("selectb").await;
    // B's operator watches every namespace, A's included.
    b.watch_all = true;
    b.start().await;
    a.customer("contoso", TENANT_A, "contoso", json!({})).await;
    b.customer("fabrikam", TENANT_B, "fabrikam", json!({}))
        .await;
    // B has seen and reconciled its own customer, declared after A's.
    b.ready::<OCCustomer>("fabrikam", 60).await;
    let untouched = a.api::<OCCustomer>().get("contoso").await.unwrap();
    assert!(
        untouched.status.is_none() && untouched.finalizers().is_empty(),
        "the other operator reconciled it: {untouched:?}"
    );
    assert_eq!(
        a.admin.total_calls().await.unwrap(),
        0,
        "the other operator called A's platform"
    );
    // A's own operator takes it.
    a.start().await;
    a.ready::<OCCustomer>("contoso", 60).await;
}

#[tokio::test]
async fn a_deleted_platform_leaves_no_budget_behind() {
    let mut world = World::new("platformgone").await;
    world.start().await;
    let addr = world.serve_admin().await;
    platform_ready(&world).await;
    let budget_of = |platform: String| async move {
        scrape(addr)
            .await
            .lines()
            .filter(|l| {
                l.starts_with("operatorconnect_platform_budget_")
                    && l.contains(&format!("platform=\"{platform}\""))
            })
            .count()
    };
    assert_eq!(
        budget_of(world.platform()).await,
        2,
        "the budget gauges of a platform in use"
    );
    let platforms: kube::Api<OCPlatform> = kube::Api::all(world.client.clone());
    platforms
        .delete(&world.platform(), &Default::default())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while budget_of(world.platform()).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "a deleted platform's budget is still shown"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An answer far larger than any of the platform's (a wrong URL, a proxy's page) is
/// not read whole: the OCPlatform says so in its condition, and once the endpoint
/// answers as the platform does, it is Ready.
#[tokio::test]
async fn an_answer_too_large_is_a_condition_and_not_read_whole() {
    let mut world = World::new("hugeanswer").await;
    world
        .admin
        .set_faults(
            json!({"hugeAnswerBurst": 1_000_000, "endpoints": ["GET /v2/oc/callingprofile"]}),
        )
        .await
        .unwrap();
    world.start().await;
    let platform = world
        .platform_until(60, "saying its answer is too large", |p| {
            condition(p, SYNCED).is_some_and(|(status, _, message)| {
                status == "False" && message.contains("the answer is too large")
            })
        })
        .await;
    let (_, _, message) = condition(&platform, SYNCED).unwrap();
    assert!(
        message.contains("check that the OCPlatform's URL points at the Live Platform"),
        "{message}"
    );
    world.admin.set_faults(json!({})).await.unwrap();
    platform_ready(&world).await;
}

/// A deleted OCPlatform stays while a customer is on it, and says so; the customer's
/// deletion then still reaches the platform and deletes the service and the lead
/// (it used to wait for ever, "cannot reach the platform"), and the OCPlatform goes
/// after it.
#[tokio::test]
async fn a_platform_in_use_stays_until_its_customers_are_gone() {
    let mut world = World::new("platformuse").await;
    world.start().await;
    world.customer_ready().await;
    let platforms: kube::Api<OCPlatform> = kube::Api::all(world.client.clone());
    world
        .platform_until(30, "holding the finalizer", |p| {
            p.finalizers()
                .iter()
                .any(|f| f == "operatorconnect.io/cleanup")
        })
        .await;
    platforms
        .delete(&world.platform(), &Default::default())
        .await
        .expect("delete the platform");
    let platform = world
        .platform_until(30, "saying it is in use", |p| {
            condition(p, READY).is_some_and(|(_, reason, _)| reason == reason::DELETING)
        })
        .await;
    let (_, _, message) = condition(&platform, READY).unwrap();
    assert!(
        message.contains("in use by 1 OCCustomers") && message.contains(&world.ns),
        "{message}"
    );

    world.delete::<OCCustomer>("contoso").await;
    world.wait_gone::<OCCustomer>("contoso", 60).await;
    world.platform_holds_nothing().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while platforms
        .get_opt(&world.platform())
        .await
        .expect("get")
        .is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the platform stayed after its last customer"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// An OCPlatform pointed at a host the operator's installer did not allow gets no
/// credentials: no token is asked there, and its condition says why and what to do.
/// A Secret labelled for that OCPlatform lets its credentials go there.
#[tokio::test]
async fn credentials_go_only_to_allowed_hosts_or_where_their_secret_says() {
    let mut world = World::new("endpoints").await;
    world.start().await;
    platform_ready(&world).await;
    let tokens = || async {
        world
            .admin
            .count("POST /{tenant}/oauth2/v2.0/token", "total")
            .await
            .unwrap()
    };
    let before = tokens().await;
    // The same simulator under a name the operator was not given: as far as the
    // operator knows, anybody's host.
    let elsewhere = world
        .sim
        .identity_base()
        .as_str()
        .replace("127.0.0.1", "localhost");
    let platform = world.platform();
    let platforms: kube::Api<OCPlatform> = kube::Api::all(world.client.clone());
    platforms
        .patch(
            &platform,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"identityBaseUrl": elsewhere}})),
        )
        .await
        .unwrap();
    let p = world
        .platform_until(30, "CredentialsWithheld", |p| {
            has_reason(p, READY, reason::CREDENTIALS_WITHHELD)
                && p.status
                    .as_ref()
                    .and_then(|s| s.reconcile.observed_generation)
                    == p.metadata.generation
        })
        .await;
    let (_, _, message) = condition(&p, READY).unwrap();
    assert!(
        message.contains("localhost")
            && message.contains("identityBaseUrl")
            && message.contains(&format!("operatorconnect.io/platform={platform}"))
            && message.contains("allowedEndpointHosts"),
        "{message}"
    );
    assert!(!message.contains(liveplatform_sim::seed::SANDBOX_CLIENT_SECRET));
    assert_eq!(
        tokens().await,
        before,
        "a token was asked of the other host"
    );

    // The Secret's owner says this platform may use it there.
    world
        .label_secret("operatorconnect.io/platform", &platform)
        .await;
    platform_ready(&world).await;
    assert!(tokens().await > before);
}
