//! Metrics, probes, and secrets: a scenario's counters move by the expected amounts,
//! the probe endpoints answer, and no secret reaches logs, events or status.

use oc_operator::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};
use oc_operator::controller;
use serde_json::json;

use crate::support::*;

/// The value of the metric family `name` for `kind` in the running operator.
fn of_kind(ctx: &controller::context::Context, name: &str, kind: &str) -> f64 {
    metric(&ctx.metrics.encode(), name, &[("kind", kind)])
}

/// A Ready customer with a Ready block `users` of one number, once the platform
/// hears nothing more from the operator.
async fn quiet_block_of_one_number(world: &World) -> OCNumberBlock {
    world.customer_ready().await;
    world
        .block("users", "contoso", json!({"numbers": ["+14255551300"]}))
        .await;
    let ready = world.ready::<OCNumberBlock>("users", 60).await;
    world.quiet().await;
    ready
}

#[tokio::test]
async fn metrics_count_the_scenarios_calls_reconciles_and_tasks() {
    let mut world = World::new("metrics").await;
    world.start().await;
    let ctx = world.ctx.clone().unwrap();
    let addr = world.serve_admin().await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("http://{addr}{path}")).send();

    assert_eq!(get("/healthz").await.unwrap().status().as_u16(), 200);
    let before = get("/readyz").await.unwrap();
    assert_eq!(before.status().as_u16(), 503, "ready before the API check");
    assert!(
        before
            .text()
            .await
            .unwrap()
            .contains("cannot list every kind")
    );
    // The API check the binary runs; then the controllers' caches decide.
    controller::await_api_access(ctx.clone(), std::time::Duration::from_millis(200)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while get("/readyz").await.unwrap().status().as_u16() != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "never ready: {}",
            get("/readyz").await.unwrap().text().await.unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        ctx.readiness.caches_synced(),
        "ready while the leading controllers' caches had not synced"
    );

    world.customer_ready().await;
    world
        .block(
            "users",
            "contoso",
            json!({"numbers": ["+14255551200", "+14255551201"]}),
        )
        .await;
    world.ready::<OCNumberBlock>("users", 60).await;

    let text = get("/metrics").await.unwrap().text().await.unwrap();
    let uploads = world
        .admin
        .count("POST /v2/oc/numbers/action/upload", "200")
        .await
        .unwrap() as f64;
    assert_eq!(
        metric(
            &text,
            "operatorconnect_platform_calls_total",
            &[("action", "upload_numbers"), ("status", "200")]
        ),
        uploads
    );
    assert_eq!(uploads, 1.0);
    let leads = world.admin.count("POST /v2/oc/lead", "200").await.unwrap() as f64;
    assert_eq!(
        metric(
            &text,
            "operatorconnect_platform_calls_total",
            &[("action", "create_lead"), ("status", "200")]
        ),
        leads
    );
    assert!(
        metric(
            &text,
            "operatorconnect_reconciles_total",
            &[("kind", "OCNumberBlock"), ("result", "ok")]
        ) >= 2.0,
        "{text}"
    );
    assert!(
        metric(
            &text,
            "operatorconnect_reconcile_duration_seconds_count",
            &[("kind", "OCCustomer")]
        ) >= 2.0
    );
    assert!(
        metric(
            &text,
            "operatorconnect_platform_call_duration_seconds_count",
            &[("action", "get_task")]
        ) >= 1.0
    );
    assert_eq!(
        metric(
            &text,
            "operatorconnect_task_outcomes_total",
            &[("action", "upload_numbers"), ("outcome", "succeeded")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "operatorconnect_task_outcomes_total",
            &[("action", "create_customer"), ("outcome", "succeeded")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "operatorconnect_objects",
            &[("kind", "OCNumberBlock"), ("ready", "true")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "operatorconnect_objects",
            &[("kind", "OCCustomer"), ("ready", "true")]
        ),
        1.0
    );
    assert_eq!(
        metric(&text, "operatorconnect_objects_with_write_in_flight", &[]),
        0.0
    );
    // Ready objects wait for their drift check.
    assert!(
        metric(&text, "operatorconnect_objects_scheduled", &[]) >= 2.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "operatorconnect_leader", &[]),
        1.0,
        "{}",
        text.lines()
            .filter(|l| l.contains("leader"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        metric(
            &text,
            "operatorconnect_tasks_started_total",
            &[("action", "upload_numbers")]
        ),
        1.0
    );
    // How long the upload task ran on the platform, in the task histogram.
    assert_eq!(
        metric(
            &text,
            "operatorconnect_task_duration_seconds_count",
            &[("action", "upload_numbers")]
        ),
        1.0
    );
    // Calls carry their platform; the platform's budget is shown beside them.
    assert!(
        metric(
            &text,
            "operatorconnect_platform_calls_total",
            &[("platform", &world.platform()), ("action", "create_lead")]
        ) >= 1.0
    );
    assert_eq!(
        metric(
            &text,
            "operatorconnect_platform_budget_requests_per_second",
            &[("platform", &world.platform())]
        ),
        200.0
    );
    assert_eq!(
        metric(
            &text,
            "operatorconnect_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(
        metric(&text, "process_resident_memory_bytes", &[]) > 0.0,
        "{text}"
    );
    assert!(metric(&text, "process_open_fds", &[]) > 0.0);

    // No spec change yet: nothing timed.
    assert_eq!(
        metric(
            &text,
            "operatorconnect_spec_change_to_first_call_seconds_count",
            &[]
        ),
        0.0
    );
    // A 429 shows as a rate-limit wait and a retry.
    world.admin.set_faults(json!({"rateLimitBurst": 1, "retryAfterSecs": 1, "endpoints": ["POST /v2/oc/numbers/action/upload"]})).await.unwrap();
    world
        .block(
            "users",
            "contoso",
            json!({"numbers": ["+14255551200", "+14255551201", "+14255551202"]}),
        )
        .await;
    world.ready::<OCNumberBlock>("users", 60).await;
    let text = get("/metrics").await.unwrap().text().await.unwrap();
    // That was a person's change of a Ready block: its first call was timed, once.
    assert_eq!(
        metric(
            &text,
            "operatorconnect_spec_change_to_first_call_seconds_count",
            &[("kind", "OCNumberBlock")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "operatorconnect_platform_calls_total",
            &[("action", "upload_numbers"), ("status", "429")]
        ),
        1.0
    );
    assert!(
        metric(
            &text,
            "operatorconnect_platform_retries_total",
            &[("action", "upload_numbers")]
        ) >= 1.0
    );
    assert!(
        metric(
            &text,
            "operatorconnect_platform_rate_limit_waits_total",
            &[("action", "upload_numbers")]
        ) >= 1.0
    );
    // Every family has samples now (retries and waits included): docs/operating.md lists
    // exactly the families served.
    let served: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(|name| name.trim_end_matches("_total").to_owned())
        .collect();
    let documented = readme_metric_families();
    assert_eq!(
        served, documented,
        "the metrics table of docs/operating.md and the served families differ"
    );
}

#[tokio::test]
async fn no_secret_reaches_logs_events_or_status() {
    let mut world = World::new("secrets").await;
    world.put_carrier_secret("change-me-carrier-password").await;
    world.apply_examples().await;
    world.start().await;
    world.ready::<OCCustomer>("contoso", 90).await;
    world.ready::<OCSipConnection>("redmond", 90).await;
    world.ready::<OCDialPlan>("contoso-redmond", 90).await;
    world.ready::<OCEndUser>("alex-wilber", 90).await;
    // Make the client log its retries and a refused token too.
    world.admin.post("/tokens/expire", json!({})).await.unwrap();
    world
        .admin
        .set_faults(json!({"serverErrorBurst": 2}))
        .await
        .unwrap();
    world
        .block(
            "contoso-users",
            "contoso",
            json!({"numbers": ["+14255550100", "+14255550101", "+14255550102", "+14255550103"]}),
        )
        .await;
    world.ready::<OCNumberBlock>("contoso-users", 90).await;

    let kubectl = |args: &[&str]| {
        String::from_utf8_lossy(&plane().kubectl().args(args).output().unwrap().stdout).into_owned()
    };
    let events = kubectl(&["get", "events", "-n", &world.ns, "-o", "json"]);
    let statuses = kubectl(&["get", "operatorconnect", "-n", &world.ns, "-o", "json"])
        + &kubectl(&["get", "ocplatform", &world.platform(), "-o", "json"]);
    let logs = captured_logs();
    // The operator's events tell what it did (a customer's "Available" is not told
    // again after the event of the write that made it Ready).
    assert!(
        events.contains("LeadCreated")
            && events.contains("Provisioned")
            && statuses.contains("conditions"),
        "nothing to scan"
    );
    assert!(
        logs.contains("\"namespace\"")
            && logs.contains(&world.ns)
            && logs.contains("\"action\":\"upload_numbers\""),
        "the logs carry no object context: {}",
        &logs[..logs.len().min(2000)]
    );
    for (what, text) in [("logs", &logs), ("events", &events), ("status", &statuses)] {
        for secret in [
            liveplatform_sim::seed::SANDBOX_CLIENT_SECRET,
            "change-me-carrier-password",
            // Every bearer token the simulator issues starts like this.
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.",
        ] {
            assert!(!text.contains(secret), "{what} contain a secret ({secret})");
        }
    }
}

/// A log line's reconcile span names the object under a key of its own: the span's
/// own name ("reconcile") is `name` in the same JSON object, and a parser keeps one.
#[tokio::test]
async fn json_log_lines_name_the_object_apart_from_the_span() {
    let mut world = World::new("jsonlog").await;
    world.start().await;
    world.customer_ready().await;
    let logs = captured_logs();
    let spans: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|line| line.get("span").cloned())
        .filter(|span| span["namespace"] == world.ns.as_str() && span["kind"] == "OCCustomer")
        .collect();
    assert!(
        !spans.is_empty(),
        "no reconcile span of this test's customer"
    );
    for span in spans {
        assert_eq!(span["name"], "reconcile", "{span}");
        assert_eq!(span["object"], "contoso", "{span}");
    }
}

/// Every watch the operator opens, counted on the wire: one per type (the six kinds
/// and the credentials Secrets), however many controllers read it.
#[tokio::test]
async fn the_operator_opens_one_watch_per_type() {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    let mut world = World::new("watches").await;
    let watched: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = watched.clone();
    let secret_queries: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen_queries = secret_queries.clone();
    let layer = tower::util::MapRequestLayer::new(
        move |request: axum::http::Request<kube::client::Body>| {
            let uri = request.uri();
            if uri
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "watch=true"))
            {
                let resource = uri.path().rsplit('/').next().unwrap_or_default().to_owned();
                if resource == "secrets" {
                    // Credentials Secrets are watched by name, never the namespace's all.
                    seen_queries
                        .lock()
                        .unwrap()
                        .push(uri.query().unwrap_or_default().to_owned());
                }
                seen.lock().unwrap().push(resource);
            }
            request
        },
    );
    let config = plane().config().await.expect("client config");
    let client = kube::client::ClientBuilder::try_from(config)
        .expect("client builder")
        .with_layer(&layer)
        .build();
    world.start_with(client).await;
    world.apply_examples().await;
    world.examples_ready().await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for resource in watched.lock().unwrap().iter() {
        *counts.entry(resource.clone()).or_default() += 1;
    }
    // A watch the apiserver ends (an expired resource version on a busy control
    // plane) is opened again: the same one watch, logged as retried. The allowance
    // counts such retries of the kind anywhere in this test process.
    let logs = captured_logs();
    let retried = |kind: &str| {
        logs.lines()
            .filter(|l| {
                l.contains("watch failed; retrying") && l.contains(&format!("\"kind\":\"{kind}\""))
            })
            .count()
    };
    let kinds = [
        ("ocplatforms", "OCPlatform"),
        ("occustomers", "OCCustomer"),
        ("ocnumberblocks", "OCNumberBlock"),
        ("ocsipconnections", "OCSipConnection"),
        ("ocdialplans", "OCDialPlan"),
        ("ocendusers", "OCEndUser"),
        ("secrets", "Secret"),
    ];
    assert_eq!(
        counts.keys().cloned().collect::<Vec<_>>(),
        {
            let mut all: Vec<String> = kinds.iter().map(|(r, _)| (*r).to_owned()).collect();
            all.sort();
            all
        },
        "{counts:?}"
    );
    let secret_queries = secret_queries.lock().unwrap().clone();
    assert!(
        !secret_queries.is_empty()
            && secret_queries
                .iter()
                .all(|q| q.contains("fieldSelector=metadata.name%3D")),
        "{secret_queries:?}"
    );
    for (resource, kind) in kinds {
        assert!(
            counts[resource] <= 1 + retried(kind),
            "{} watches of {resource}: {counts:?}",
            counts[resource]
        );
    }
}

/// A dependent's status write is the operator's own output: its customer is not
/// reconciled for it, and makes no platform call.
#[tokio::test]
async fn a_dependents_status_write_costs_its_customer_nothing() {
    use kube::api::{Patch, PatchParams};

    let mut world = World::new("depwrite").await;
    world.start().await;
    let ctx = world.ctx.clone().unwrap();
    let ready = quiet_block_of_one_number(&world).await;
    let counts = ready.status.as_ref().unwrap().counts.clone();
    let customer_reconciles = || of_kind(&ctx, "operatorconnect_reconciles_total", "OCCustomer");
    let reconciled = customer_reconciles();
    let reads = |world: &World| {
        let admin = world.admin.clone();
        async move {
            admin.count("GET /v2/oc/lead", "200").await.unwrap()
                + admin.count("GET /v3/customer/{guid}", "200").await.unwrap()
                + admin
                    .count("GET /v3/customer/{guid}/licenseinfo", "200")
                    .await
                    .unwrap()
        }
    };
    let customer_reads = reads(&world).await;

    // The block's status is spoiled, then a label reconciles the block, which
    // writes its status again: the dependent's own status write.
    let blocks = world.api::<OCNumberBlock>();
    blocks
        .patch_status(
            "users",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"counts": {"declared": 99}}})),
        )
        .await
        .unwrap();
    blocks
        .patch(
            "users",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "voice"}}})),
        )
        .await
        .unwrap();
    world
        .wait::<OCNumberBlock>("users", 30, "its status written again", |b| {
            b.status.as_ref().map(|s| &s.counts) == Some(&counts)
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        customer_reconciles(),
        reconciled,
        "the customer was reconciled for its dependent's status write"
    );
    assert_eq!(
        reads(&world).await,
        customer_reads,
        "the customer read the platform"
    );
}

/// The same event told again on the same object (a failure that repeats while it
/// backs off) counts on the first Event, which the apiserver accepts as a series; a
/// different note is an Event of its own.
#[tokio::test]
async fn an_event_told_again_is_counted_on_the_first() {
    let world = World::new("event-series").await;
    let customer = world
        .customer(
            "contoso",
            "00000000-0000-4000-8000-00000000e7e7",
            "contoso",
            json!({}),
        )
        .await;
    // The operator's context, not running: only its events are used.
    let ctx = controller::Context::new(world.client.clone(), world.config());
    let told = "the platform answered 503 to Create Consentless Lead; retrying";
    for _ in 0..3 {
        ctx.event(&customer, true, "PlatformError", "Reconcile", told)
            .await;
    }
    ctx.event(
        &customer,
        true,
        "PlatformError",
        "Reconcile",
        "the tenant is unknown",
    )
    .await;
    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(world.client.clone(), &world.ns);
    let listed = events.list(&Default::default()).await.unwrap().items;
    let ours: Vec<_> = listed
        .iter()
        .filter(|e| e.reason.as_deref() == Some("PlatformError"))
        .collect();
    assert_eq!(ours.len(), 2, "one Event per note: {ours:?}");
    let repeated = ours
        .iter()
        .find(|e| e.note.as_deref() == Some(told))
        .expect("the repeated event");
    assert_eq!(
        repeated.series.as_ref().map(|s| s.count),
        Some(3),
        "told three times: {repeated:?}"
    );
    assert_eq!(
        repeated.reporting_controller.as_deref(),
        Some("oc-operator")
    );
}

/// A person's spec change of a Ready object is decided on the cache's copy: the watch
/// has shown the operator's last status write of it, so nothing is read from the
/// apiserver before the change is acted on (`operatorconnect_objects_read_afresh_total`).
#[tokio::test]
async fn a_spec_change_is_acted_on_without_reading_the_object_again() {
    let mut world = World::new("afresh").await;
    world.start().await;
    let ctx = world.ctx.clone().unwrap();
    quiet_block_of_one_number(&world).await;
    let read_afresh = || {
        of_kind(
            &ctx,
            "operatorconnect_objects_read_afresh_total",
            "OCNumberBlock",
        )
    };
    let before = read_afresh();
    let declared = |b: &OCNumberBlock| {
        b.status
            .as_ref()
            .and_then(|s| s.counts.as_ref())
            .map(|c| c.declared)
    };

    world
        .merge::<OCNumberBlock>(
            "users",
            json!({"spec": {"numbers": ["+14255551300", "+14255551301"]}}),
        )
        .await;
    let changed = world
        .wait::<OCNumberBlock>("users", 60, "Ready with the added number", |b| {
            is_ready(b) && declared(b) == Some(2)
        })
        .await;
    assert_eq!(declared(&changed), Some(2));
    assert_eq!(
        read_afresh(),
        before,
        "the block was read from the apiserver before its spec change was acted on"
    );
}

/// A new customer's onboarding writes its status only with something to record and
/// tells each thing it did once. The reconcile that puts the finalizer on writes no
/// status of its own (the finalizer's watch event reconciles the object at once, and
/// that reconcile writes what it finds), so no stored version lacks a Ready
/// condition; and the customer becoming Ready right after its licence upgrade is told
/// by `LicenseUpgraded`, not again by `Available`.
#[tokio::test]
async fn onboarding_records_each_step_and_tells_each_write_once() {
    let mut world = World::new("told-once").await;
    let statuses = world.statuses_until::<OCCustomer>("contoso", is_ready);
    world
        .customer(
            "contoso",
            TENANT_A,
            "contoso",
            json!({"channelId": 1574, "license": {"type": "OcEssentialsPlus", "count": 10}}),
        )
        .await;
    world.start().await;
    world.ready::<OCCustomer>("contoso", 60).await;
    let statuses = statuses.await;
    let without_ready: Vec<_> = statuses
        .iter()
        .filter(|s| !s.reconcile.conditions.iter().any(|c| c.type_ == "Ready"))
        .collect();
    assert!(
        without_ready.is_empty(),
        "a status was written with nothing to say: {without_ready:?}"
    );

    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(world.client.clone(), &world.ns);
    let mut told: Vec<String> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.regarding
                .as_ref()
                .is_some_and(|r| r.name.as_deref() == Some("contoso"))
        })
        .filter_map(|e| e.reason)
        .collect();
    told.sort();
    assert_eq!(
        told,
        [
            "ChannelAssigned",
            "CustomerCreated",
            "LeadCreated",
            "LicenseUpgraded"
        ],
        "each write told once, and nothing else"
    );
}

/// What the operator holds per object, all structures together: the gauges' states,
/// spec changes not acted on, failures in a row, last status writes, rests.
fn held_per_object(world: &World) -> [usize; 5] {
    let ctx = world.ctx.as_ref().expect("the operator runs");
    let (states, spec_changes) = ctx.metrics.objects_held();
    let (backoff, written, resting) = ctx.memory.sizes();
    [states, spec_changes, backoff, written, resting]
}

/// Nothing outlives its object: 1,000 end users whose customer does not exist (they
/// wait for it and never get a finalizer, so they never let go of one) are reconciled,
/// then deleted, and everything the operator held for them goes with them.
#[tokio::test]
async fn objects_deleted_without_a_finalizer_leave_nothing_behind() {
    use futures::StreamExt;
    const USERS: usize = 1_000;
    let mut world = World::new("gone").await;
    world.start().await;
    world.customer_ready().await;
    let before = held_per_object(&world);
    let users = world.api::<OCEndUser>();
    futures::stream::iter(0..USERS)
        .for_each_concurrent(16, |i| {
            let users = users.clone();
            async move {
                let user: OCEndUser = serde_json::from_value(json!({
                    "apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCEndUser",
                    "metadata": {"name": format!("u{i}")},
                    "spec": {"customerRef": {"name": "nobody"}, "sipAddress": format!("u{i}@contoso.com")},
                }))
                .unwrap();
                users.create(&Default::default(), &user).await.expect("create");
            }
        })
        .await;
    // Every user reconciled (each is in the gauges), none with a finalizer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while held_per_object(&world)[0] < before[0] + USERS {
        assert!(
            std::time::Instant::now() < deadline,
            "not every user reconciled: {:?} held, {before:?} before",
            held_per_object(&world)
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let listed = users.list(&Default::default()).await.expect("list");
    assert!(
        listed
            .items
            .iter()
            .filter(|u| u.metadata.name.as_deref() != Some("contoso"))
            .all(|u| u.metadata.finalizers.as_ref().is_none_or(|f| f.is_empty())),
        "a user waiting for its customer holds a finalizer"
    );

    users
        .delete_collection(&Default::default(), &Default::default())
        .await
        .expect("delete every user");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let now = held_per_object(&world);
        if now.iter().zip(before).all(|(now, before)| *now <= before) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still held after every user went: {now:?}, {before:?} before"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let metrics = world.ctx.as_ref().unwrap().metrics.encode();
    assert!(
        metrics
            .lines()
            .any(|l| l == "operatorconnect_objects{kind=\"OCEndUser\",ready=\"false\"} 0"),
        "{metrics}"
    );
}
