//! `helm uninstall` while customers exist: the custom resources stay (with their
//! finalizers), a namespace deleted afterwards waits on them, and the documented
//! `oc-operator release-finalizers` lets them go with `deletionPolicy: Orphan`
//! semantics: nothing on the Live Platform is touched.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};
use oc_operator::api::{OCCustomer, OCNumberBlock, OCPlatform};
use serde_json::json;

use super::*;
use crate::support::*;

#[tokio::test]
async fn after_an_uninstall_release_finalizers_lets_a_namespace_go_and_leaves_the_platform_alone() {
    let mut world = World::new("uninstall").await;
    let release = release_of(&world);
    let as_operator = install_into(&world.ns, &release, &[]).await;
    world.start_with(as_operator).await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    world
        .block(
            "users",
            "contoso",
            json!({"numbers": ["+14255550100", "+14255550101"]}),
        )
        .await;
    world.ready::<OCNumberBlock>("users", 90).await;

    // The operator goes: its pods (here, its process) and the release.
    world.crash().await;
    uninstall(&world.ns, &release);
    let customer = world.api::<OCCustomer>().get("contoso").await.unwrap();
    assert!(
        customer
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == "operatorconnect.io/cleanup"),
        "the customer keeps its finalizer: {:?}",
        customer.metadata
    );

    // Deleting the namespace now waits on the finalizers: nobody is there to run them.
    let namespaces: Api<Namespace> = Api::all(world.client.clone());
    namespaces
        .delete(&world.ns, &DeleteParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ns = namespaces.get(&world.ns).await.unwrap();
        let stuck = ns
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .any(|c| {
                c.type_ == "NamespaceFinalizersRemaining"
                    && c.status == "True"
                    && c.message
                        .as_deref()
                        .is_some_and(|m| m.contains("operatorconnect.io/cleanup"))
            });
        if stuck {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the namespace never waited: {:?}",
            ns.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A dry run says what it would do, and does nothing.
    let (ok, out) = release_finalizers(&world, &["-n", &world.ns, "--dry-run"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("would release OCCustomer {}/contoso", world.ns)),
        "{out}"
    );
    assert!(
        out.contains(&format!("would release OCNumberBlock {}/users", world.ns)),
        "{out}"
    );
    assert!(
        world
            .api::<OCCustomer>()
            .get_opt("contoso")
            .await
            .unwrap()
            .is_some()
    );
    // Without a scope it refuses, rather than release every namespace.
    let (ok, out) = release_finalizers(&world, &[]);
    assert!(!ok && out.contains("--namespace"), "{out}");

    let (ok, out) = release_finalizers(&world, &["-n", &world.ns, "--deleting-only"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("2 object(s); the Live Platform was not touched"),
        "{out}"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while namespaces.get_opt(&world.ns).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the namespace is still there");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Orphaned, not deleted: the customer and its numbers are still on the platform.
    let state = world.admin.state().await.unwrap();
    assert_eq!(
        state["customers"].as_object().map(|c| c.len()),
        Some(1),
        "{state}"
    );
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 2);

    // The OCPlatform carries the finalizer too: deleted now, it waits for an operator
    // that is not there, and `--all-namespaces` releases it. (A dry run: the control
    // plane is shared, and other tests' objects wait on their operators.)
    let platforms: Api<OCPlatform> = Api::all(world.client.clone());
    platforms
        .delete(&world.platform(), &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        platforms
            .get_opt(&world.platform())
            .await
            .unwrap()
            .is_some()
    );
    let (ok, out) = release_finalizers(&world, &["-A", "--deleting-only", "--dry-run"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("would release OCPlatform {}", world.platform())),
        "{out}"
    );
}

/// Runs `oc-operator release-finalizers` with `args` as admin; whether it succeeded,
/// and what it printed.
fn release_finalizers(world: &World, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_oc-operator"))
        .env("KUBECONFIG", &world.kubeconfig)
        .args(["--log-format=text", "release-finalizers"])
        .args(args)
        .output()
        .expect("oc-operator runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}
