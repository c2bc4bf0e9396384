//! The chart installed into the real control plane: its RBAC is enough for the
//! operator (run here as the chart's ServiceAccount) to take a whole customer from
//! `examples/` to Ready and delete it, and no more; Secrets are readable only where
//! the values say; the leader Lease can be taken; two releases live side by side.

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::*;
use crate::support::*;

#[tokio::test]
async fn the_charts_rbac_is_enough_for_a_whole_customer_and_no_more() {
    let mut world = World::new("chart").await;
    let release = release_of(&world);
    let as_operator = install_into(&world.ns, &release, &[]).await;

    // Outside the chart's grants: Secrets of another namespace (by default none).
    let elsewhere: Api<Secret> = Api::namespaced(as_operator.clone(), "default");
    let err = elsewhere
        .get_opt("anything")
        .await
        .expect_err("reading a Secret in default must be forbidden");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 403),
        "{err:?}"
    );

    // Ready: the chart's identity can list every kind.
    let probe = oc_operator::controller::Context::new(as_operator.clone(), world.config());
    assert!(oc_operator::controller::can_list_everything(&probe).await);
    // An identity without the chart's RBAC cannot, and would not be ready.
    let stranger = plane()
        .client_as("system:serviceaccount:default:nobody")
        .await
        .unwrap();
    let probe = oc_operator::controller::Context::new(stranger, world.config());
    assert!(!oc_operator::controller::can_list_everything(&probe).await);

    world.apply_examples().await;
    world.start_with(as_operator).await;
    world.examples_ready().await;
    read_afresh_with_the_charts_identity(&world).await;
    world.delete_examples_leaving_nothing().await;
    uninstall(&world.ns, &release);
}

/// A reconcile whose cache has not shown the operator's last status write reads the
/// object again, with what the chart grants (a list of one object; the chart grants
/// no get): made to happen here by recording a write of a version the cache never
/// shows, then changing a label of the customer.
async fn read_afresh_with_the_charts_identity(world: &World) {
    let ctx = world.ctx.clone().expect("the operator runs");
    let customer = world
        .api::<oc_operator::api::OCCustomer>()
        .get("contoso")
        .await
        .unwrap();
    let key = oc_operator::controller::kind::key(&customer);
    ctx.memory.written.reconciling(&key);
    ctx.memory.written.wrote(&key, "0".to_owned());
    let reads_afresh = || {
        metric(
            &ctx.metrics.encode(),
            "operatorconnect_objects_read_afresh_total",
            &[("kind", "OCCustomer")],
        )
    };
    world
        .merge::<oc_operator::api::OCCustomer>(
            "contoso",
            json!({"metadata": {"labels": {"read-afresh": "yes"}}}),
        )
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while reads_afresh() < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no read afresh after the label change"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    world
        .ready::<oc_operator::api::OCCustomer>("contoso", 60)
        .await;
    // A refused read fails the reconcile with "reading <key>".
    let refused = format!("reading {key}");
    assert!(
        !captured_logs().contains(&refused),
        "the chart's identity could not read the customer afresh:\n{}",
        captured_logs()
            .lines()
            .filter(|l| l.contains(&refused))
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// With leader election on (the chart's default for more than one replica), the
/// chart's own identity takes the release's leader Lease: kube-lease-manager patches
/// it, so the Role must grant `patch` (without it no replica ever leads, and nothing
/// reconciles).
#[tokio::test]
async fn the_charts_identity_can_take_the_leader_lease() {
    let world = World::new("chartlease").await;
    let release = release_of(&world);
    let as_operator = install_into(&world.ns, &release, &["replicas=2"]).await;
    let lease = oc_operator::lease::LeaseConfig {
        namespace: world.ns.clone(),
        name: format!("{}-leader", service_account_of(&release)),
        identity: "replica-a".into(),
        duration: std::time::Duration::from_secs(4),
        grace: std::time::Duration::from_secs(1),
    };
    let (led_tx, led_rx) = tokio::sync::oneshot::channel::<()>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let leading = tokio::spawn(oc_operator::lease::lead(
        as_operator,
        lease,
        async {
            let _ = stop_rx.await;
        },
        move |stopped| async move {
            let _ = led_tx.send(());
            let _ = stopped.await;
        },
    ));
    let led = tokio::time::timeout(std::time::Duration::from_secs(60), led_rx).await;
    let _ = stop_tx.send(());
    let ended = leading.await.expect("the lease task ends");
    assert!(
        matches!(led, Ok(Ok(()))),
        "the chart's identity never led: {ended:?}"
    );
    assert!(ended.is_ok(), "{ended:?}");
    uninstall(&world.ns, &release);
}

/// A tenant namespace whose Secrets the chart does not grant: the SIP connection's
/// condition names the RoleBinding to add; after `helm upgrade` with that namespace
/// in `rbac.secretNamespaces` it becomes Ready without a restart.
#[tokio::test]
async fn a_carrier_password_the_chart_does_not_grant_names_the_missing_binding() {
    let mut world = World::new("chartsecret").await;
    let tenant = world.add_namespace("tenant").await;
    let release = release_of(&world);
    let as_operator = install_into(&world.ns, &release, &[]).await;
    let cluster_role = format!(
        "{}-{}-secret-reader",
        service_account_of(&release),
        world.ns
    );
    world.apply_examples_in(&tenant).await;
    let mut config = world.config();
    config.secret_access = oc_operator::controller::SecretAccess {
        service_account: Some(service_account_of(&release)),
        reader_cluster_role: Some(cluster_role.clone()),
    };
    world.start_configured(as_operator, config).await;

    let sip = world
        .wait_in::<oc_operator::api::OCSipConnection>(
            &tenant,
            "redmond",
            90,
            "told which binding is missing",
            |s| {
                condition(s, "Ready")
                    .is_some_and(|(status, _, m)| status == "False" && m.contains("RoleBinding"))
            },
        )
        .await;
    let message = condition(&sip, "Ready").unwrap().2;
    for part in [
        format!("Secret {tenant}/contoso-carrier"),
        format!("RoleBinding in namespace {tenant}"),
        format!("ClusterRole {cluster_role}"),
        format!(
            "ServiceAccount {}/{}",
            world.ns,
            service_account_of(&release)
        ),
    ] {
        assert!(message.contains(&part), "{part}: {message}");
    }

    upgrade(
        &world.ns,
        &release,
        &[&format!("rbac.secretNamespaces[0]={tenant}")],
    );
    world.examples_ready_in(&tenant).await;
    uninstall(&world.ns, &release);
}

/// Secrets are granted in the namespaces the values name or whose labels match
/// (found by Helm at install), never in others, and cluster-wide only when asked.
#[tokio::test]
async fn secrets_are_readable_only_where_the_values_say() {
    let world = World::new("chartlabels").await;
    let namespaces: Api<Namespace> = Api::all(world.client.clone());
    let labelled = format!("{}-voice", world.ns);
    let unlabelled = format!("{}-other", world.ns);
    for (name, labels) in [
        (&labelled, json!({"oc-test-team": world.ns})),
        (&unlabelled, json!({})),
    ] {
        namespaces
            .patch(
                name,
                &PatchParams::apply("test"),
                &Patch::Apply(json!({
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name, "labels": labels},
                })),
            )
            .await
            .unwrap();
    }
    let release = release_of(&world);
    let as_operator = install_into(
        &world.ns,
        &release,
        &[&format!(
            "rbac.secretNamespaceLabels.oc-test-team={}",
            world.ns
        )],
    )
    .await;
    let may_read = |ns: &str| {
        let api: Api<Secret> = Api::namespaced(as_operator.clone(), ns);
        async move {
            match api.get_opt("anything").await {
                Ok(_) => true,
                Err(kube::Error::Api(s)) if s.code == 403 => false,
                Err(e) => panic!("{e:?}"),
            }
        }
    };
    assert!(
        may_read(&labelled).await,
        "the labelled namespace is granted"
    );
    assert!(!may_read(&unlabelled).await, "another namespace is not");
    assert!(
        may_read(&world.ns).await,
        "the release namespace is granted"
    );

    upgrade(&world.ns, &release, &["rbac.clusterWideSecrets=true"]);
    assert!(may_read(&unlabelled).await, "cluster-wide when asked");
    uninstall(&world.ns, &release);
    for name in [&labelled, &unlabelled] {
        let _ = namespaces.delete(name, &Default::default()).await;
    }
}

/// Two releases in one namespace, each with its own platform selector, install side
/// by side (no object shared), and each operator, with its release's identity and
/// selector, manages its own platform and never the other's.
#[tokio::test]
async fn two_releases_coexist_in_one_namespace() {
    let world = World::new("charttwo").await;
    let platforms: Api<oc_operator::api::OCPlatform> = Api::all(world.client.clone());
    let mut operators = Vec::new();
    for team in ["blue", "green"] {
        let release = format!("oc-{team}");
        let selector = format!("team={team}-{}", world.ns);
        let client = install_into(
            &world.ns,
            &release,
            &[
                &format!("operator.platformSelector={selector}"),
                "replicas=2",
            ],
        )
        .await;
        // The team's platform, on the world's simulator and credentials.
        let mut platform = platforms.get(&world.platform()).await.unwrap();
        platform.metadata = kube::api::ObjectMeta {
            name: Some(format!("{team}-{}", world.ns)),
            labels: Some([("team".to_owned(), format!("{team}-{}", world.ns))].into()),
            ..Default::default()
        };
        platform.status = None;
        platforms
            .create(&Default::default(), &platform)
            .await
            .unwrap();
        let mut config = world.config();
        config.platform_selector = Some(selector);
        operators.push((team, client, config));
    }
    let ready = |team: &str| {
        let platforms = platforms.clone();
        let name = format!("{team}-{}", world.ns);
        async move {
            let p = platforms.get(&name).await.unwrap();
            (is_ready(&p), p.status.is_some())
        }
    };
    // Blue's operator alone: blue's platform becomes Ready, green's is not touched.
    let (_, blue_client, blue_config) = &operators[0];
    let blue = oc_operator::controller::Context::new(blue_client.clone(), blue_config.clone());
    let (stop_blue, blue_stopped) = tokio::sync::oneshot::channel::<()>();
    let blue_run = tokio::spawn(oc_operator::controller::run(blue, async move {
        let _ = blue_stopped.await;
    }));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ready("blue").await.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "blue's platform never Ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        ready("green").await,
        (false, false),
        "blue's operator touched green's platform"
    );
    // Green's operator too: its platform becomes Ready, with its own identity.
    let (_, green_client, green_config) = &operators[1];
    let green = oc_operator::controller::Context::new(green_client.clone(), green_config.clone());
    let (stop_green, green_stopped) = tokio::sync::oneshot::channel::<()>();
    let green_run = tokio::spawn(oc_operator::controller::run(green, async move {
        let _ = green_stopped.await;
    }));
    while !ready("green").await.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "green's platform never Ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let _ = (stop_blue.send(()), stop_green.send(()));
    let _ = (blue_run.await, green_run.await);
    for team in ["blue", "green"] {
        let _ = platforms
            .delete(&format!("{team}-{}", world.ns), &Default::default())
            .await;
        uninstall(&world.ns, &format!("oc-{team}"));
    }
}
