//! Deletion protection: objects and namespaces annotated
//! `operatorconnect.io/protected: "true"` cannot be deleted. The chart's
//! ValidatingAdmissionPolicy refuses the DELETE at `kubectl delete` with a message
//! saying how to lift the protection; without the policy, the operator holds the
//! deleted object (finalizer kept, nothing released on the platform) until the
//! annotation is removed.

use std::process::Output;
use std::time::{Duration, Instant};

use oc_operator::api::OCNumberBlock;
use oc_operator::api::conditions::{READY, reason};
use serde_json::json;

use crate::chart::render;
use crate::support::*;

const PROTECTED: &str = "operatorconnect.io/protected=true";
const RELEASE: &str = "POST /v2/oc/numbers/action/release";

fn run(world: &World, args: &[&str]) -> Output {
    world.kubectl().args(args).output().expect("kubectl runs")
}

fn succeeded(world: &World, args: &[&str]) {
    let output = run(world, args);
    assert!(output.status.success(), "kubectl {args:?}: {output:?}");
}

/// Runs `kubectl args` until it succeeds (`success`) or fails (not), for at most 30 s;
/// the last run.
async fn until(world: &World, args: &[&str], success: bool, never: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = run(world, args);
        if output.status.success() == success {
            return output;
        }
        assert!(Instant::now() < deadline, "{never}: {output:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn protected_objects_and_namespaces_are_not_deleted() {
    let mut world = World::new("protect").await;
    world.start().await;
    world.customer_ready().await;
    world
        .block(
            "users",
            "contoso",
            json!({"numbers": ["+14255550100", "+14255550101"]}),
        )
        .await;
    world.ready::<OCNumberBlock>("users", 60).await;
    let ns = world.ns.clone();
    for target in ["ocnumberblock/users", "occustomer/contoso"] {
        succeeded(&world, &["annotate", target, "-n", &ns, PROTECTED]);
    }
    succeeded(&world, &["annotate", "namespace", &ns, PROTECTED]);

    // The chart's policy, as it renders (named after this test's release).
    let policy: Vec<serde_json::Value> = render(&ns, &ns, &[])
        .into_iter()
        .filter(|o| {
            o["kind"]
                .as_str()
                .is_some_and(|k| k.starts_with("ValidatingAdmissionPolicy"))
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("-deletion-protection"))
        })
        .collect();
    assert_eq!(policy.len(), 2, "the policy and its binding");
    world.apply_list(&policy);

    // Refused at `kubectl delete`, with how to lift the protection; the policy takes a
    // moment to be in force.
    let refused = until(
        &world,
        &[
            "delete",
            "ocnumberblock",
            "users",
            "-n",
            &ns,
            "--dry-run=server",
        ],
        false,
        "the policy never refused",
    )
    .await;
    let refusal = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        refusal.contains("is protected from deletion")
            && refusal.contains(&format!(
                "kubectl annotate ocnumberblocks/users -n {ns} operatorconnect.io/protected-"
            )),
        "{refusal}"
    );
    for args in [
        vec![
            "delete",
            "ocnumberblock",
            "users",
            "-n",
            &ns,
            "--wait=false",
        ],
        vec!["delete", "occustomer", "--all", "-n", &ns, "--wait=false"],
        vec!["delete", "namespace", &ns, "--wait=false"],
    ] {
        let output = run(&world, &args);
        assert!(!output.status.success(), "{args:?} was allowed");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("is protected from deletion"),
            "{args:?}: {output:?}"
        );
    }
    let block = world.api::<OCNumberBlock>().get("users").await.unwrap();
    assert!(block.metadata.deletion_timestamp.is_none());

    // Without the policy, the operator holds a deleted protected object: nothing is
    // released until the annotation goes.
    for kind in [
        "validatingadmissionpolicybinding",
        "validatingadmissionpolicy",
    ] {
        succeeded(
            &world,
            &[
                "delete",
                kind,
                &format!("{ns}-oc-operator-{ns}-deletion-protection"),
            ],
        );
    }
    until(
        &world,
        &[
            "delete",
            "ocnumberblock",
            "users",
            "-n",
            &ns,
            "--wait=false",
        ],
        true,
        "the policy stayed in force",
    )
    .await;
    let held = world
        .wait::<OCNumberBlock>("users", 30, "held", |b| {
            has_reason(b, READY, reason::DELETION_PROTECTED)
        })
        .await;
    let message = condition(&held, READY).unwrap().2;
    assert!(
        message.contains(&format!(
            "kubectl annotate ocnumberblock users -n {ns} operatorconnect.io/protected-"
        )),
        "{message}"
    );
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 2);
    assert_eq!(world.admin.count(RELEASE, "total").await.unwrap(), 0);

    // Lifting the protection lets the deletion go on: the numbers are released.
    succeeded(
        &world,
        &[
            "annotate",
            "ocnumberblock",
            "users",
            "-n",
            &ns,
            "operatorconnect.io/protected-",
        ],
    );
    world.wait_gone::<OCNumberBlock>("users", 60).await;
    assert!(world.platform_numbers(TENANT_A).await.is_empty());
    assert!(world.admin.count(RELEASE, "total").await.unwrap() >= 1);
    succeeded(
        &world,
        &[
            "annotate",
            "namespace",
            &ns,
            "operatorconnect.io/protected-",
        ],
    );
}
