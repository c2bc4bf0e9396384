//! Admission to the budget: routine reconciles beyond two seconds of the platform's
//! budget wait for a turn as queued keys, so the line in front of the budget stays
//! that short, and every one of them is started again when its turn comes.

use std::time::{Duration, Instant};

use liveplatform_sim::seed::Seed;
use oc_operator::api::OCCustomer;
use serde_json::json;

use crate::support::*;

/// Customers in the test's namespace, and in a second one.
const HERE: usize = 12;
const THERE: usize = 4;
/// The platform's budget: 4 requests a second, so 8 routine reconciles at once.
const PER_SECOND: u64 = 4;
const TURNS: u64 = 8;

fn gauge(metrics: &str, family: &str, platform: &str) -> u64 {
    let series = format!("{family}{{platform=\"{platform}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn routine_reconciles_beyond_the_turns_wait_as_keys_and_all_onboard_once() {
    let mut world = World::with_seed(
        "admit",
        Seed {
            accept_any_tenant: true,
            task_delay_ms: 300,
            ..Seed::default()
        },
    )
    .await;
    let other = world.add_namespace("admitother").await;
    world.set_budget(PER_SECOND, 1).await;
    world.start().await;
    let admin = world.serve_admin().await;

    for i in 0..HERE {
        let tenant = uuid::Uuid::new_v4().to_string();
        world
            .customer(&format!("here{i}"), &tenant, &format!("here{i}"), json!({}))
            .await;
    }
    for i in 0..THERE {
        let tenant = uuid::Uuid::new_v4().to_string();
        world
            .customer_in(
                &other,
                &format!("there{i}"),
                &tenant,
                &format!("there{i}"),
                json!({}),
            )
            .await;
    }

    // Watch the line and the door until every customer is Ready.
    let (mut most_in_line, mut most_at_the_door) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let metrics = scrape(admin).await;
        let platform = world.platform();
        most_in_line = most_in_line.max(gauge(
            &metrics,
            "operatorconnect_platform_calls_waiting",
            &platform,
        ));
        most_at_the_door = most_at_the_door.max(gauge(
            &metrics,
            "operatorconnect_reconciles_waiting_for_a_turn",
            &platform,
        ));
        let ready = world
            .api::<OCCustomer>()
            .list(&Default::default())
            .await
            .expect("customers")
            .items
            .iter()
            .chain(
                world
                    .api_in::<OCCustomer>(&other)
                    .list(&Default::default())
                    .await
                    .expect("customers there")
                    .items
                    .iter(),
            )
            .filter(|c| is_ready(*c))
            .count();
        if ready == HERE + THERE {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{ready} of {} customers Ready; at most {most_in_line} calls were seen in line",
            HERE + THERE
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each admitted reconcile has at most one call in line; the OCPlatform's own
    // probe takes no turn.
    assert!(
        most_in_line <= TURNS + 1,
        "{most_in_line} calls waited in line at once, with {TURNS} turns"
    );
    assert!(
        most_at_the_door > 0,
        "no reconcile was ever seen waiting for a turn"
    );
    let metrics = scrape(admin).await;
    assert_eq!(
        gauge(
            &metrics,
            "operatorconnect_reconciles_waiting_for_a_turn",
            &world.platform()
        ),
        0,
        "reconciles still wait once everything is Ready"
    );
    // Nothing was sent twice while reconciles waited and were started again.
    let leads = world
        .admin
        .count("POST /v2/oc/lead", "total")
        .await
        .unwrap();
    assert_eq!(leads, (HERE + THERE) as u64);
}
