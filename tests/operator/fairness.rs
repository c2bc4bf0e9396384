//! A fair share of the platform's budget: namespaces take turns for the next free
//! call, so a tenant onboarding in one namespace does not wait behind a bulk
//! onboarding in another that shares the platform.

use std::time::{Duration, Instant};

use liveplatform_sim::seed::Seed;
use oc_operator::api::OCCustomer;
use serde_json::json;

use crate::support::*;

/// Customers of the bulk onboarding.
const BULK: usize = 16;

#[tokio::test]
async fn a_tenant_in_another_namespace_does_not_wait_behind_a_bulk_onboarding() {
    let mut world = World::with_seed(
        "fairbulk",
        Seed {
            accept_any_tenant: true,
            task_delay_ms: 300,
            ..Seed::default()
        },
    )
    .await;
    let other = world.add_namespace("fairother").await;
    // A budget the bulk onboarding fills for half a minute: 5 calls a second, burst 1.
    world.set_budget(5, 1).await;
    world.start().await;
    let admin = world.serve_admin().await;

    world.admin.start_journal().await.expect("journal");
    for i in 0..BULK {
        let tenant = uuid::Uuid::new_v4().to_string();
        world
            .customer(&format!("bulk{i}"), &tenant, &format!("bulk{i}"), json!({}))
            .await;
    }
    // The bulk's calls queue up before the other tenant arrives, and the operator
    // shows the line.
    let deadline = Instant::now() + Duration::from_secs(60);
    let series = format!(
        "operatorconnect_platform_calls_waiting{{platform=\"{}\"}} ",
        world.platform()
    );
    loop {
        let journal = world.admin.journal().await.expect("journal");
        let waiting = scrape(admin)
            .await
            .lines()
            .find_map(|l| l.strip_prefix(&series).map(str::to_owned))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if journal.as_array().map_or(0, Vec::len) >= BULK / 2 && waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the bulk made no calls, or none was seen waiting ({waiting}): {journal}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    world
        .customer_in(&other, "solo", TENANT_A, "solo", json!({}))
        .await;
    world.ready_in::<OCCustomer>(&other, "solo", 120).await;
    let bulk_ready = world
        .api::<OCCustomer>()
        .list(&Default::default())
        .await
        .expect("bulk")
        .items
        .iter()
        .filter(|c| is_ready(*c))
        .count();
    // Served first come, first served, each of the tenant's calls would have queued
    // behind one call of every bulk customer, and it would have been Ready with them.
    // Taking turns, it needs about twice its own calls, while the bulk has most of
    // its work ahead of it.
    assert!(
        bulk_ready <= BULK / 4,
        "{bulk_ready} of {BULK} bulk customers were Ready before the other namespace's one"
    );
    for i in 0..BULK {
        world.ready::<OCCustomer>(&format!("bulk{i}"), 120).await;
    }
}
