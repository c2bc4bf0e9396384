//! High availability: two operator processes with leader election. The leader is
//! killed (SIGKILL) while a numbers upload is in flight; the other takes over within
//! the lease duration, the upload completes, and nothing was written twice.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use liveplatform_sim::Seed;
use oc_operator::api::{OCCustomer, OCNumberBlock};
use serde_json::json;

use crate::replica::{Replica, free_probe_address};
use crate::support::*;

/// A replica of this world's operator, electing a leader on its Lease.
fn replica(world: &World, identity: &'static str) -> Replica {
    let probe = free_probe_address();
    let mut command = Command::new(env!("CARGO_BIN_EXE_oc-operator"));
    command
        .env("KUBECONFIG", plane().kubeconfig())
        .env("POD_NAME", identity)
        .args([
            "--log-format=text",
            "--log-level=warn",
            "run",
            &format!("--operator-namespace={}", world.ns),
            &format!("--namespace={}", world.ns),
            &format!("--platform-selector=oc-test={}", world.ns),
            "--leader-elect",
            "--lease-seconds=4",
            &format!("--probe-listen={probe}"),
            "--task-poll-seconds=1",
            "--wait-seconds=1",
            "--allowed-endpoint-hosts=127.0.0.1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Replica::spawn(identity, command, probe)
}

async fn holder(world: &World) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), &world.ns);
    leases
        .get_opt("oc-operator-leader")
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec.and_then(|s| s.holder_identity))
}

#[tokio::test]
async fn the_other_replica_takes_over_when_the_leader_is_killed_mid_upload() {
    let world = World::with_seed(
        "ha",
        Seed {
            task_delay_ms: 2500,
            ..Seed::default()
        },
    )
    .await;
    let mut a = replica(&world, "replica-a");
    let mut b = replica(&world, "replica-b");
    // Both are ready, the leader (its caches synced) and the standby.
    a.until_ready(30).await;
    b.until_ready(30).await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    world.ready::<OCCustomer>("contoso", 90).await;
    let first = holder(&world).await.expect("a leader holds the Lease");

    world
        .block(
            "users",
            "contoso",
            json!({"ranges": [{"start": "+14255552000", "end": "+14255552199"}]}),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while world.uploads().await == 0 {
        assert!(Instant::now() < deadline, "no upload was sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The upload task runs for 2.5 s: kill the leader now.
    let (leader, other) = if first == "replica-a" {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    leader.kill();
    let killed = Instant::now();

    let b_ready = world.ready::<OCNumberBlock>("users", 90).await;
    assert_eq!(b_ready.status.unwrap().counts.map(|c| c.active), Some(200));
    assert_eq!(
        holder(&world).await.as_deref(),
        Some(other.name),
        "the other replica leads now"
    );
    assert!(killed.elapsed() < Duration::from_secs(60));
    assert_eq!(world.uploads().await, 1, "the upload was sent twice");
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 200);

    // SIGTERM: a graceful stop that releases the Lease.
    let status = other.stop_gracefully().await;
    assert!(status.success(), "{status}");
    assert_eq!(holder(&world).await, None, "the Lease was not released");
}
