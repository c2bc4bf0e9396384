//! High availability: two operator processes with leader election. The leader is
//! killed (SIGKILL) while a numbers upload is in flight; the other takes over within
//! the lease duration, the upload completes, and nothing was written twice.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use liveplatform_sim::Seed;
use oc_operator::api::{OCCustomer, OCNumberBlock};
use serde_json::json;

use crate::support::*;

/// A replica and the address of its admin port.
fn replica(world: &World, identity: &str) -> (Child, String) {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
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
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = testenv::processes::spawn(command).expect("operator process");
    (child, format!("http://{probe}"))
}

/// Waits until `/readyz` of the replica at `admin` answers 200.
async fn until_ready(admin: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = reqwest::get(format!("{admin}/readyz")).await;
        if answer.as_ref().is_ok_and(|a| a.status().as_u16() == 200) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{admin}/readyz never answered 200: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    let (mut a, a_admin) = replica(&world, "replica-a");
    let (mut b, b_admin) = replica(&world, "replica-b");
    // Both are ready, the leader (its caches synced) and the standby.
    until_ready(&a_admin).await;
    until_ready(&b_admin).await;
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
    while world
        .admin
        .count("POST /v2/oc/numbers/action/upload", "total")
        .await
        .unwrap()
        == 0
    {
        assert!(Instant::now() < deadline, "no upload was sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The upload task runs for 2.5 s: kill the leader now.
    let (leader, other, other_name) = if first == "replica-a" {
        (&mut a, &mut b, "replica-b")
    } else {
        (&mut b, &mut a, "replica-a")
    };
    leader.kill().expect("SIGKILL");
    let _ = leader.wait();
    let killed = Instant::now();

    let b_ready = world.ready::<OCNumberBlock>("users", 90).await;
    assert_eq!(b_ready.status.unwrap().counts.map(|c| c.active), Some(200));
    assert_eq!(
        holder(&world).await.as_deref(),
        Some(other_name),
        "the other replica leads now"
    );
    assert!(killed.elapsed() < Duration::from_secs(60));
    assert_eq!(
        world
            .admin
            .count("POST /v2/oc/numbers/action/upload", "total")
            .await
            .unwrap(),
        1,
        "the upload was sent twice"
    );
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 200);

    // SIGTERM: a graceful stop that releases the Lease.
    // SAFETY: kill(2) on our own child process, which has not been reaped.
    unsafe {
        libc::kill(other.id() as libc::pid_t, libc::SIGTERM);
    }
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = other.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "no graceful stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    assert_eq!(holder(&world).await, None, "the Lease was not released");
}
