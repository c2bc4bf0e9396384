use liveplatform_sim::admin_client::AdminClient;
use oc_operator::api::conditions::{NUMBERS_UPLOADED, READY, reason};
use oc_operator::api::{OCCustomer, OCNumberBlock};
use serde_json::json;

use crate::support::*;

fn counts(block: &OCNumberBlock) -> (i64, i64) {
    let c = block
        .status
        .as_ref()
        .and_then(|s| s.counts.clone())
        .unwrap_or_default();
    (c.declared, c.active)
}

#[tokio::test]
async fn numbers_are_uploaded_changed_and_released() {
    let mut world = World::new("numbers").await;
    world.start().await;
    world.customer_ready().await;
    world
        .block("users", "contoso", json!({"numbers": ["+14255550100", "+14255550101"], "ranges": [{"start": "+14255550200", "end": "+14255550209"}]}))
        .await;
    let b = world.ready::<OCNumberBlock>("users", 60).await;
    assert_eq!(counts(&b), (12, 12));
    assert_eq!(
        b.status.as_ref().unwrap().active,
        vec!["+14255550100-+14255550101", "+14255550200-+14255550209"]
    );
    assert!(has_reason(&b, NUMBERS_UPLOADED, reason::AVAILABLE));
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 12);
    assert_eq!(world.uploads().await, 1);

    // One number leaves the spec, one joins.
    world
        .block("users", "contoso", json!({"numbers": ["+14255550100", "+14255550102"], "ranges": [{"start": "+14255550200", "end": "+14255550209"}]}))
        .await;
    let b = world.ready::<OCNumberBlock>("users", 60).await;
    assert_eq!(counts(&b), (12, 12));
    let numbers: Vec<String> = world
        .platform_numbers(TENANT_A)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        numbers.contains(&"+14255550102".to_owned())
            && !numbers.contains(&"+14255550101".to_owned()),
        "{numbers:?}"
    );
    assert_eq!(
        world
            .admin
            .count("POST /v2/oc/numbers/action/release", "total")
            .await
            .unwrap(),
        1
    );

    // Delete: everything is released before the block goes.
    world.delete::<OCNumberBlock>("users").await;
    world.wait_gone::<OCNumberBlock>("users", 60).await;
    assert!(world.platform_numbers(TENANT_A).await.is_empty());
}

#[tokio::test]
async fn large_sets_go_in_requests_of_at_most_the_platform_limit() {
    let mut world = World::new("bulk").await;
    world.start().await;
    world.customer_ready().await;
    // 2500 numbers in three ranges: three uploads of at most 1000.
    world
        .block(
            "bulk",
            "contoso",
            json!({"ranges": [
                {"start": "+14255560000", "end": "+14255560999"},
                {"start": "+14255570000", "end": "+14255570999"},
                {"start": "+14255580000", "end": "+14255580499"},
            ]}),
        )
        .await;
    let b = world.ready::<OCNumberBlock>("bulk", 120).await;
    assert_eq!(counts(&b), (2500, 2500));
    assert_eq!(world.uploads().await, 3);
    assert_eq!(
        world
            .admin
            .count("POST /v2/oc/numbers/action/upload", "400")
            .await
            .unwrap(),
        0
    );
    // The customer is the operator's own, so its tenant has no numbers but those its
    // blocks brought: the block plans every upload and its report from its own
    // numbers, as the answers and task outcomes of its uploads left them, and never
    // lists the tenant. (Before, it listed once before the first upload and applied
    // each upload to that listing; listing after each upload would read 1 + 1 + 2 + 3
    // pages.)
    let pages = world
        .admin
        .count("GET /v3/oc/numbers", "total")
        .await
        .unwrap();
    assert_eq!(pages, 0, "numbers listing pages read");

    // Deleted, the block releases them a request at a time and says how far it is.
    world
        .admin
        .set_faults(json!({"taskDelayMs": 3000}))
        .await
        .unwrap();
    world.delete::<OCNumberBlock>("bulk").await;
    let releasing = world
        .wait::<OCNumberBlock>("bulk", 60, "releasing with an estimate", |b| {
            b.status
                .as_ref()
                .and_then(|s| s.release.as_ref())
                .is_some_and(|r| r.released >= 1000 && r.estimated_seconds_left.is_some())
        })
        .await;
    let progress = releasing.status.unwrap().release.unwrap();
    assert_eq!(
        (progress.total, progress.released + progress.remaining),
        (2500, 2500),
        "{progress:?}"
    );
    assert!(progress.remaining > 0, "{progress:?}");
    world.wait_gone::<OCNumberBlock>("bulk", 60).await;
    assert!(world.platform_numbers(TENANT_A).await.is_empty());
}

#[tokio::test]
async fn a_large_blocks_uploads_run_side_by_side() {
    let mut world = World::new("pipelined").await;
    world.start().await;
    world.customer_ready().await;
    // Tasks of two seconds: with one upload at a time, 5,000 numbers (five requests)
    // would never have two of the block's uploads running at once.
    let overlapping = world
        .large_block_with_uploads_running("large", ("+14255590000", "+14255594999"), 2000)
        .await;
    let running = overlapping.status.unwrap().running;
    assert!(running.iter().all(|op| op.task_id.is_some()), "{running:?}");
    let b = world.ready::<OCNumberBlock>("large", 120).await;
    assert_eq!(counts(&b), (5000, 5000));
    let status = b.status.unwrap();
    assert!(status.running.is_empty() && status.operation.is_none());
    // Each request once, none refused (no number of one request was busy in another).
    for (answer, want) in [("total", 5), ("400", 0), ("409", 0)] {
        let got = world
            .admin
            .count("POST /v2/oc/numbers/action/upload", answer)
            .await
            .unwrap();
        assert_eq!(got, want, "uploads answered {answer}");
    }
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 5000);
}

#[tokio::test]
async fn a_large_blocks_window_of_uploads_saves_its_intents_in_one_status_write() {
    let mut world = World::new("onewrite").await;
    world.start().await;
    world.customer_ready().await;
    let statuses = world.block_statuses("large");
    world
        .large_block_with_uploads_running("large", ("+14255590000", "+14255594999"), 1000)
        .await;
    world.ready::<OCNumberBlock>("large", 120).await;
    let statuses = statuses.await;
    // The five requests went as one window: one stored version holds their five
    // intents, none answered yet (saved before the first was sent), and the next
    // one all five task ids. No request was followed as the write in flight.
    let unanswered: Vec<usize> = statuses
        .iter()
        .map(|s| s.running.iter().filter(|op| op.task_id.is_none()).count())
        .filter(|&n| n > 0)
        .collect();
    assert_eq!(
        unanswered,
        vec![5],
        "stored versions with intents not answered"
    );
    assert!(
        statuses
            .iter()
            .any(|s| s.running.len() == 5 && s.running.iter().all(|op| op.task_id.is_some())),
        "no stored version with the five task ids"
    );
    assert!(
        statuses.iter().all(|s| s.operation.is_none()),
        "a request of the window was followed as the write in flight"
    );
    assert_eq!(world.uploads().await, 5);
}

/// A write's task id is saved with the status write that ends its reconcile, which
/// also says the task runs, not in a status write of its own: between the intent and
/// the task's end the apiserver stores two versions of the block, not three.
#[tokio::test]
async fn a_writes_task_id_is_saved_with_the_status_write_that_ends_its_reconcile() {
    let mut world = World::new("taskidwrite").await;
    world.start().await;
    world.customer_ready().await;
    let statuses = world.block_statuses("small");
    world
        .block("small", "contoso", json!({"numbers": ["+14255550100"]}))
        .await;
    world.ready::<OCNumberBlock>("small", 60).await;
    let in_flight: Vec<(bool, String)> = statuses
        .await
        .iter()
        .filter_map(|s| {
            let op = s.operation.as_ref()?;
            let ready = oc_operator::api::conditions::find(&s.reconcile.conditions, READY)?;
            Some((op.task_id.is_some(), ready.reason.clone()))
        })
        .collect();
    assert_eq!(
        in_flight,
        vec![
            (false, reason::CREATING.to_owned()),
            (true, reason::WAITING_FOR_TASK.to_owned())
        ],
        "stored versions with the upload in flight: (task id saved, Ready's reason)"
    );
    assert_eq!(world.uploads().await, 1);
}

#[tokio::test]
async fn a_later_block_claiming_the_same_numbers_gets_a_conflict() {
    let mut world = World::new("conflict").await;
    world.start().await;
    world.customer_ready().await;
    world
        .block(
            "first",
            "contoso",
            json!({"numbers": ["+14255550300", "+14255550301"]}),
        )
        .await;
    world.ready::<OCNumberBlock>("first", 60).await;
    world
        .block(
            "second",
            "contoso",
            json!({"numbers": ["+14255550301", "+14255550302"]}),
        )
        .await;
    let second = world
        .wait::<OCNumberBlock>("second", 30, "in conflict", |b| {
            has_reason(b, READY, reason::CONFLICT)
        })
        .await;
    let (_, _, message) = condition(&second, READY).unwrap();
    assert!(
        message.contains("+14255550301") && message.contains("first"),
        "{message}"
    );
    assert!(
        !world
            .platform_numbers(TENANT_A)
            .await
            .iter()
            .any(|(n, _)| n == "+14255550302"),
        "the later block uploaded"
    );
    assert_eq!(world.uploads().await, 1);
    // Dropping the shared number resolves it.
    world
        .block("second", "contoso", json!({"numbers": ["+14255550302"]}))
        .await;
    world.ready::<OCNumberBlock>("second", 60).await;
}

#[tokio::test]
async fn a_partly_failed_upload_names_the_failed_numbers_and_their_reasons() {
    let mut world = World::new("partial").await;
    world.start().await;
    world.customer_ready().await;
    // +999...: refused by Validate Single Number, never uploaded.
    // +1425...402: passes validation, then fails inside the upload task.
    world
        .admin
        .set_faults(json!({"numberFailures": {"+14255550402": "unable_to_retrieve_location"}}))
        .await
        .unwrap();
    world
        .block(
            "mixed",
            "contoso",
            json!({"numbers": ["+14255550400", "+14255550402", "+99955550401"]}),
        )
        .await;
    let b = world
        .wait::<OCNumberBlock>("mixed", 60, "partly failed", |b| {
            has_reason(b, READY, reason::REJECTED)
        })
        .await;
    let status = b.status.clone().unwrap();
    let failed: Vec<(&str, &str)> = status
        .failed
        .iter()
        .map(|f| (f.number.as_str(), f.reason.as_str()))
        .collect();
    assert_eq!(
        failed,
        vec![
            ("+14255550402", "unable_to_retrieve_location"),
            ("+99955550401", "validation_failed")
        ]
    );
    assert!(
        status.failed[1]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("country code")),
        "{:?}",
        status.failed[1]
    );
    assert_eq!(
        status.counts.as_ref().map(|c| (c.active, c.failed)),
        Some((1, 2))
    );
    let (_, _, message) = condition(&b, READY).unwrap();
    assert!(
        message.contains("+14255550402 (unable_to_retrieve_location)")
            && message.contains("remove them from the spec"),
        "{message}"
    );
    assert_eq!(
        world
            .admin
            .count("POST /v2/oc/numbers/action/number-status", "200")
            .await
            .unwrap(),
        1
    );
    assert!(
        !world
            .platform_numbers(TENANT_A)
            .await
            .iter()
            .any(|(n, _)| n.starts_with("+999")),
        "a refused number was uploaded"
    );
    // Fixing the spec converges, and failed numbers were not retried blindly.
    world.admin.set_faults(json!({})).await.unwrap();
    world
        .block("mixed", "contoso", json!({"numbers": ["+14255550400"]}))
        .await;
    let b = world.ready::<OCNumberBlock>("mixed", 60).await;
    assert!(b.status.unwrap().failed.is_empty());
    assert_eq!(world.uploads().await, 1);
}

#[tokio::test]
async fn assigned_numbers_stay_under_keep_and_are_unassigned_under_unassign() {
    let mut world = World::new("assigned").await;
    world.start().await;
    world.customer_ready().await;
    world
        .block(
            "users",
            "contoso",
            json!({"numbers": ["+14255550500", "+14255550501"]}),
        )
        .await;
    world.ready::<OCNumberBlock>("users", 60).await;
    world
        .admin
        .put(
            "/numbers/+14255550501/assignment",
            json!({"assignmentStatus": "UserAssigned"}),
        )
        .await
        .unwrap();
    world
        .block("users", "contoso", json!({"numbers": ["+14255550500"]}))
        .await;
    let b = world
        .wait::<OCNumberBlock>("users", 30, "retaining", |b| {
            has_reason(b, READY, "NumbersAssigned")
        })
        .await;
    let (_, _, message) = condition(&b, READY).unwrap();
    assert!(
        message.contains("+14255550501") && message.contains("assignedNumberPolicy"),
        "{message}"
    );
    assert_eq!(
        world
            .admin
            .count("POST /v2/oc/numbers/action/release", "total")
            .await
            .unwrap(),
        0
    );
    world
        .block(
            "users",
            "contoso",
            json!({"numbers": ["+14255550500"], "assignedNumberPolicy": "Unassign"}),
        )
        .await;
    world.ready::<OCNumberBlock>("users", 60).await;
    assert_eq!(
        world
            .admin
            .count("POST /v2/oc/numbers/action/unassign", "total")
            .await
            .unwrap(),
        1
    );
    let numbers: Vec<String> = world
        .platform_numbers(TENANT_A)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(numbers, vec!["+14255550500"]);
}

#[tokio::test]
async fn deleting_a_customer_deletes_its_blocks_first_and_releases_everything() {
    let mut world = World::new("cascade").await;
    world.start().await;
    world.customer_ready().await;
    world
        .block("a", "contoso", json!({"numbers": ["+14255550600"]}))
        .await;
    world
        .block(
            "b",
            "contoso",
            json!({"ranges": [{"start": "+14255550610", "end": "+14255550619"}]}),
        )
        .await;
    world.ready::<OCNumberBlock>("a", 60).await;
    world.ready::<OCNumberBlock>("b", 60).await;
    world.delete::<OCCustomer>("contoso").await;
    world.wait_gone::<OCCustomer>("contoso", 90).await;
    world.wait_gone::<OCNumberBlock>("a", 5).await;
    world.wait_gone::<OCNumberBlock>("b", 5).await;
    let state = world.admin.state().await.unwrap();
    assert!(
        state["numbers"].as_object().unwrap().is_empty(),
        "numbers left behind: {}",
        state["numbers"]
    );
    assert!(state["customers"].as_object().unwrap().is_empty());
    assert!(state["leads"].as_object().unwrap().is_empty());
}

/// Reconciles of `kind` the running operator counted.
fn reconciles(world: &World, kind: &str) -> u64 {
    let text = world
        .ctx
        .as_ref()
        .expect("operator running")
        .metrics
        .encode();
    text.lines()
        .filter(|l| {
            l.starts_with("operatorconnect_reconciles_total{")
                && l.contains(&format!("kind=\"{kind}\""))
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>() as u64
}

/// Changes a label of block `name` and waits until the operator reconciled a block
/// again: every watch event before it has been seen.
async fn block_barrier(world: &World, name: &str, value: &str) {
    let before = reconciles(world, "OCNumberBlock");
    world
        .merge::<OCNumberBlock>(name, json!({"metadata": {"labels": {"barrier": value}}}))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while reconciles(world, "OCNumberBlock") <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the block was not reconciled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_blocks_status_write_does_not_wake_its_customer() {
    let mut world = World::new("nowake").await;
    world.start().await;
    world.customer_ready().await;
    world
        .block("numbers", "contoso", json!({"numbers": ["+14255550700"]}))
        .await;
    world.ready::<OCNumberBlock>("numbers", 60).await;
    block_barrier(&world, "numbers", "one").await;
    let customer_reconciles = reconciles(&world, "OCCustomer");
    let lead_reads = world.admin.count("GET /v2/oc/lead", "total").await.unwrap();

    // Another writer (here the test) changes the block's status only.
    world
        .api::<OCNumberBlock>()
        .patch_status(
            "numbers",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"status": {"counts": {"retained": 7}}})),
        )
        .await
        .expect("status patch");
    block_barrier(&world, "numbers", "two").await;
    block_barrier(&world, "numbers", "three").await;
    assert_eq!(reconciles(&world, "OCCustomer"), customer_reconciles);
    assert_eq!(
        world.admin.count("GET /v2/oc/lead", "total").await.unwrap(),
        lead_reads,
        "the customer read its lead again"
    );
}

/// Once a platform's uploads were seen to take about 1.5 s, the next ones are looked at
/// when they should be done: about one poll each, not one every `task_poll`.
#[tokio::test]
async fn tasks_are_looked_at_about_once_when_their_duration_is_known() {
    let mut world = World::with_seed(
        "polls",
        liveplatform_sim::Seed {
            task_delay_ms: 1500,
            ..liveplatform_sim::Seed::default()
        },
    )
    .await;
    world.start().await;
    world.customer_ready().await;
    world
        .block("first", "contoso", json!({"numbers": ["+14255550900"]}))
        .await;
    world.ready::<OCNumberBlock>("first", 60).await;
    let polls = world
        .admin
        .count("GET /v2/task/{task_id}", "total")
        .await
        .unwrap();
    let uploads = world.uploads().await;
    let blocks: Vec<String> = (1..=8).map(|i| format!("more-{i}")).collect();
    for (i, name) in blocks.iter().enumerate() {
        world
            .block(
                name,
                "contoso",
                json!({"numbers": [format!("+1425555091{i}")]}),
            )
            .await;
    }
    for name in &blocks {
        world.ready::<OCNumberBlock>(name, 60).await;
    }
    let tasks = world.uploads().await - uploads;
    let polled = world
        .admin
        .count("GET /v2/task/{task_id}", "total")
        .await
        .unwrap()
        - polls;
    assert_eq!(tasks, 8);
    assert!(
        polled * 2 <= tasks * 3,
        "{polled} polls for {tasks} tasks of a known duration"
    );
}

/// A block declared before its customer waits for it, and is woken by the customer's
/// changes (its creation, then its platform id), not by a recheck: here rechecks are
/// six hours apart, so the block is Ready only if the customer's change found it.
#[tokio::test]
async fn a_block_declared_first_is_woken_by_its_customer_becoming_a_customer() {
    let mut world = World::new("woken").await;
    let client = world.operator_client().await;
    let mut config = world.config();
    config.wait_requeue = std::time::Duration::from_secs(3600);
    world.start_configured(client, config).await;
    world
        .block("users", "contoso", json!({"numbers": ["+14255550100"]}))
        .await;
    world
        .wait::<OCNumberBlock>("users", 30, "waiting for its customer", |b| {
            has_reason(b, READY, reason::WAITING_FOR_CUSTOMER)
        })
        .await;
    world.customer_ready().await;
    let b = world.ready::<OCNumberBlock>("users", 60).await;
    assert_eq!(counts(&b), (1, 1));
}

/// The same tenant on two OCPlatforms is two customers, each with its own numbers:
/// each platform's blocks upload, report and release on their own platform, with the
/// first platform's last listing of the tenant still held when the second platform's
/// block goes. (The numbers listings are keyed by platform and tenant; a deletion
/// also reads afresh, its new generation, so this passes with listings keyed by tenant
/// alone too: the key is proved in `numbers::tests`.)
#[tokio::test]
async fn the_same_tenant_on_two_platforms_is_listed_on_each() {
    let mut world = World::new("twoplatforms").await;
    let other_ns = world.add_namespace("twoplatforms-b").await;
    world.put_platform(json!([world.ns])).await;
    let second = world.another_simulator().await;
    let second_admin = AdminClient::new(&second.admin_url());
    let second_platform = format!("{}-b", world.platform());
    world
        .put_platform_on(&second_platform, &second, json!([other_ns]))
        .await;
    // Listings live as long as they do by default, not the tests' 200 ms: the second
    // block's deletion comes while the first platform's last listing is still held.
    let mut config = world.config();
    config.numbers_cache_ttl = std::time::Duration::from_secs(60);
    world.start_configured(world.client.clone(), config).await;

    world.customer_ready().await;
    world
        .block(
            "users",
            "contoso",
            json!({"numbers": ["+14255550100", "+14255550101"]}),
        )
        .await;
    world.ready::<OCNumberBlock>("users", 60).await;

    // On the second platform the same numbers and one the platform refuses: the block
    // holds two numbers and is not Ready.
    second_admin
        .set_faults(json!({"numberFailures": {"+14255550102": "unable_to_retrieve_location"}}))
        .await
        .unwrap();
    let mut customer = customer_json("contoso", TENANT_A, "contoso", json!({}));
    customer["spec"]["platformRef"]["name"] = json!(second_platform);
    world
        .api_in::<OCCustomer>(&other_ns)
        .create(
            &Default::default(),
            &serde_json::from_value(customer).unwrap(),
        )
        .await
        .expect("the customer on the second platform");
    world.ready_in::<OCCustomer>(&other_ns, "contoso", 60).await;
    let block = block_json(
        "users",
        "contoso",
        json!({"numbers": ["+14255550100", "+14255550101", "+14255550102"]}),
    );
    let second_blocks = world.api_in::<OCNumberBlock>(&other_ns);
    second_blocks
        .create(&Default::default(), &serde_json::from_value(block).unwrap())
        .await
        .expect("the block on the second platform");
    world
        .wait_in::<OCNumberBlock>(&other_ns, "users", 60, "partly failed", |b| {
            has_reason(b, READY, reason::REJECTED)
        })
        .await;
    assert_eq!(numbers_held(&second_admin, TENANT_A).await.len(), 2);

    // The first platform's block goes, releasing its numbers there; then the second
    // platform's block goes, and releases its own there.
    world.delete::<OCNumberBlock>("users").await;
    world.wait_gone::<OCNumberBlock>("users", 60).await;
    assert!(world.platform_numbers(TENANT_A).await.is_empty());
    second_blocks
        .delete("users", &Default::default())
        .await
        .expect("delete the second block");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while second_blocks.get_opt("users").await.expect("get").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the second block did not go"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let left = numbers_held(&second_admin, TENANT_A).await;
    assert!(left.is_empty(), "the second platform still holds {left:?}");
}
