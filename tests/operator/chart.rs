//! The Helm chart: lint, schema, install into the real control plane, and its RBAC is
//! enough for the operator (run here as the chart's ServiceAccount) to take a whole
//! customer from `examples/` to Ready and delete it, while reading a Secret outside
//! what the chart grants is forbidden.

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use crate::support::*;

fn chart() -> String {
    format!("{}/charts/oc-operator", env!("CARGO_MANIFEST_DIR"))
}

fn helm(args: &[&str]) -> (bool, String) {
    let output = plane().helm().args(args).output().expect("helm runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn the_chart_lints_and_its_schema_refuses_wrong_values() {
    let (ok, text) = helm(&[
        "lint",
        &chart(),
        "--strict",
        "--set",
        "sandbox.enabled=true",
    ]);
    assert!(ok, "{text}");
    for (value, message) in [
        ("replicas=two", "/replicas"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("operator.logFormat=xml", "/operator/logFormat"),
        ("platform.enabled=true", "/platform/serviceProviderTenantId"),
        ("nonsense=1", "additional properties 'nonsense' not allowed"),
    ] {
        let (ok, text) = helm(&["template", "t", &chart(), "--set", value]);
        assert!(!ok && text.contains(message), "{value}: {text}");
    }
    // The sandbox's simulator runs from its own image: the operator's has no simulator.
    let (ok, text) = helm(&["template", "t", &chart(), "--set", "sandbox.enabled=true"]);
    assert!(
        ok && text.contains("image: ghcr.io/example/oc-simulator:")
            && !text.contains("args: [simulate"),
        "{text}"
    );
    let (ok, text) = helm(&["template", "t", &chart(), "--set", "replicas=2"]);
    assert!(ok && text.contains("kind: PodDisruptionBudget"), "{text}");
    let (_, text) = helm(&["template", "t", &chart()]);
    for hardening in [
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
        "type: RuntimeDefault",
        r#"drop: ["ALL"]"#,
    ] {
        assert!(text.contains(hardening), "missing {hardening}");
    }
}

/// Installs the chart into the test's namespace (CRDs aside: the control plane has
/// them) with one `--set` value, and returns the release's name and a client that
/// acts as the chart's ServiceAccount.
async fn install_as_the_chart(world: &World, set: &str) -> (String, kube::Client) {
    let release = format!("oc-{}", &world.ns[world.ns.len() - 6..]);
    let (ok, text) = helm(&[
        "install",
        &release,
        &chart(),
        "--namespace",
        &world.ns,
        "--skip-crds",
        "--wait=false",
        "--set",
        set,
    ]);
    assert!(ok, "{text}");
    let identity = format!("system:serviceaccount:{}:oc-operator", world.ns);
    let as_operator = plane()
        .client_as(&identity)
        .await
        .expect("impersonating client");
    (release, as_operator)
}

#[tokio::test]
async fn the_charts_rbac_is_enough_for_a_whole_customer_and_no_more() {
    let mut world = World::new("chart").await;
    let (release, as_operator) =
        install_as_the_chart(&world, &format!("rbac.secretNamespaces[0]={}", world.ns)).await;

    // Outside the chart's grants: Secrets of another namespace.
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
    world.delete_examples_leaving_nothing().await;
    let (ok, text) = helm(&["uninstall", &release, "--namespace", &world.ns]);
    assert!(ok, "{text}");
}

/// With leader election on (the chart's default for more than one replica), the
/// chart's own identity takes the leader Lease: kube-lease-manager patches it, so the
/// Role must grant `patch` (without it no replica ever leads, and nothing reconciles).
#[tokio::test]
async fn the_charts_identity_can_take_the_leader_lease() {
    let world = World::new("chartlease").await;
    let (release, as_operator) = install_as_the_chart(&world, "replicas=2").await;
    let lease = oc_operator::lease::LeaseConfig {
        namespace: world.ns.clone(),
        name: "oc-operator-leader".into(),
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
    let (ok, text) = helm(&["uninstall", &release, "--namespace", &world.ns]);
    assert!(ok, "{text}");
}
