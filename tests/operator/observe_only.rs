//! Plan before write: objects under `managementPolicy: ObserveOnly` (their own, or
//! their OCPlatform's) read the platform, list in `status.plannedActions` the calls
//! they would make, and make none, also when deleted; `oc-operator plan -f DIR` says
//! the same for manifests, without a cluster, from the same planners.

use kube::Api;
use kube::api::{Patch, PatchParams};
use liveplatform_sim::seed::{SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET};
use oc_operator::api::common::PlannedAction;
use oc_operator::api::conditions::{PLATFORM_MATCHES, READY, reason};
use oc_operator::api::{OCCustomer, OCNumberBlock, OCPlatform};
use serde_json::json;

use crate::support::*;

const UPLOAD: &str = "POST /v2/oc/numbers/action/upload";
const RELEASE: &str = "POST /v2/oc/numbers/action/release";
const VALIDATE: &str = "POST /v2/oc/numbers/action/number-status";

/// 250 numbers from +14255550000.
fn range() -> serde_json::Value {
    json!({"ranges": [{"start": "+14255550000", "end": "+14255550249"}]})
}

fn planned_of(block: &OCNumberBlock) -> Vec<PlannedAction> {
    block
        .status
        .as_ref()
        .map(|s| s.ownership.planned_actions.clone())
        .unwrap_or_default()
}

/// Waits until the block shows a plan.
async fn planned_block(world: &World, name: &str) -> OCNumberBlock {
    world
        .wait::<OCNumberBlock>(name, 60, "showing its plan", |b| {
            !planned_of(b).is_empty() && has_reason(b, READY, reason::CHANGES_PLANNED)
        })
        .await
}

fn upload_count(writes: &[(String, u64)], endpoint: &str) -> u64 {
    writes
        .iter()
        .find(|(e, _)| e == endpoint)
        .map_or(0, |(_, n)| *n)
}

#[tokio::test]
async fn an_object_that_only_observes_shows_its_calls_and_makes_none() {
    let mut world = World::new("observe").await;
    world.start().await;
    world.customer_ready().await;

    let mut spec = range();
    spec["managementPolicy"] = json!("ObserveOnly");
    world.block("main", "contoso", spec).await;
    let block = planned_block(&world, "main").await;
    assert_eq!(
        planned_of(&block),
        vec![PlannedAction {
            action: "Upload Numbers to Customer".into(),
            target: format!("tenant {TENANT_A}"),
            count: 250,
            requests: 1,
            description: format!("upload 250 numbers to tenant {TENANT_A} in 1 request"),
        }]
    );
    let matches = condition(&block, PLATFORM_MATCHES).expect("PlatformMatches");
    assert_eq!(
        (matches.0.as_str(), matches.1.as_str()),
        ("False", reason::CHANGES_PLANNED)
    );
    assert!(
        matches.2.contains("set managementPolicy: Manage"),
        "{}",
        matches.2
    );
    assert_eq!(
        upload_count(&world.writes().await, UPLOAD),
        0,
        "it uploaded"
    );

    // Managed, it makes the calls it showed, and shows no plan any more.
    world
        .merge::<OCNumberBlock>("main", json!({"spec": {"managementPolicy": "Manage"}}))
        .await;
    let block = world.ready::<OCNumberBlock>("main", 60).await;
    assert!(planned_of(&block).is_empty());
    assert!(condition(&block, PLATFORM_MATCHES).is_none());
    assert_eq!(upload_count(&world.writes().await, UPLOAD), 1);
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 250);

    // Observing again, the platform matches; deleted, it releases nothing.
    world
        .merge::<OCNumberBlock>("main", json!({"spec": {"managementPolicy": "ObserveOnly"}}))
        .await;
    world
        .wait::<OCNumberBlock>("main", 60, "matching", |b| {
            has_reason(b, PLATFORM_MATCHES, reason::MATCHES) && is_ready(b)
        })
        .await;
    world.delete::<OCNumberBlock>("main").await;
    world.wait_gone::<OCNumberBlock>("main", 60).await;
    assert_eq!(
        upload_count(&world.writes().await, RELEASE),
        0,
        "it released"
    );
    assert_eq!(world.platform_numbers(TENANT_A).await.len(), 250);
}

#[tokio::test]
async fn a_platform_that_only_observes_makes_every_object_on_it_observe() {
    let mut world = World::new("observeall").await;
    let platforms: Api<OCPlatform> = Api::all(world.client.clone());
    platforms
        .patch(
            &world.platform(),
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"managementPolicy": "ObserveOnly"}})),
        )
        .await
        .expect("platform");
    world.start().await;
    // The customer says Manage (the default); its platform says otherwise.
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    let customer = world
        .wait::<OCCustomer>("contoso", 60, "showing its plan", |c| {
            has_reason(c, READY, reason::CHANGES_PLANNED)
        })
        .await;
    let planned = customer
        .status
        .map(|s| s.ownership.planned_actions)
        .unwrap_or_default();
    assert_eq!(
        planned
            .iter()
            .map(|a| a.action.as_str())
            .collect::<Vec<_>>(),
        ["Create Consentless Lead"],
        "{planned:?}"
    );
    assert!(
        world.writes().await.iter().all(|(_, n)| *n == 0),
        "{:?}",
        world.writes().await
    );
}

#[tokio::test]
async fn oc_operator_plan_shows_what_the_cluster_shows_without_a_cluster() {
    let mut world = World::new("planfiles").await;
    world.start().await;
    world.customer_ready().await;
    let mut spec = range();
    spec["managementPolicy"] = json!("ObserveOnly");
    world.block("main", "contoso", spec).await;
    let in_cluster = planned_of(&planned_block(&world, "main").await);

    // The same objects as manifests, as they are kept in Git.
    let dir = std::env::temp_dir().join(format!("oc-plan-{}", world.ns));
    std::fs::create_dir_all(dir.join("contoso")).unwrap();
    let platform: OCPlatform = Api::all(world.client.clone())
        .get(&world.platform())
        .await
        .unwrap();
    let manifest = |kind: &str, name: &str, spec: serde_json::Value| {
        serde_yaml_ng::to_string(
            &json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": kind,
            "metadata": {"name": name}, "spec": spec}),
        )
        .unwrap()
    };
    std::fs::write(
        dir.join("platform.yaml"),
        serde_yaml_ng::to_string(
            &json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCPlatform",
            "metadata": {"name": world.platform()}, "spec": platform.spec}),
        )
        .unwrap(),
    )
    .unwrap();
    let customer: OCCustomer = world.api().get("contoso").await.unwrap();
    let block: OCNumberBlock = world.api().get("main").await.unwrap();
    std::fs::write(
        dir.join("contoso/resources.yaml"),
        format!(
            "{}---\n{}",
            manifest("OCCustomer", "contoso", json!(customer.spec)),
            manifest("OCNumberBlock", "main", json!(block.spec))
        ),
    )
    .unwrap();
    std::fs::write(dir.join("secret"), SANDBOX_CLIENT_SECRET).unwrap();
    let writes_before = world.writes().await;

    let options = oc_operator::offline::Options {
        paths: vec![dir.clone()],
        client_id: SANDBOX_CLIENT_ID.into(),
        client_secret: liveplatform::secret::Secret::new(SANDBOX_CLIENT_SECRET.to_owned()),
        namespace: world.ns.clone(),
        allow_insecure_http: false,
    };
    let plans = oc_operator::offline::plan(&options).await.expect("plan");
    let of = |kind: &str| {
        plans
            .iter()
            .find(|p| p.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} in {plans:?}"))
    };
    assert!(of("OCCustomer").matches(), "{plans:#?}");
    assert!(of("OCPlatform").matches(), "{plans:#?}");
    // The very plan the cluster shows, from the same planner.
    assert_eq!(of("OCNumberBlock").planned, in_cluster, "{plans:#?}");
    assert_eq!(in_cluster[0].count, 250);

    // The command: the same, as text, exit code 2 for "calls planned".
    let run = |output: &'static str| {
        let bin = env!("CARGO_BIN_EXE_oc-operator");
        let (dir_arg, secret_file, ns) = (dir.clone(), dir.join("secret"), world.ns.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin)
                .args(["--log-level=warn", "plan", "--client-id", SANDBOX_CLIENT_ID])
                .args(["-n", &ns, "-o", output])
                .arg("--client-secret-file")
                .arg(&secret_file)
                .arg("-f")
                .arg(&dir_arg)
                .output()
                .expect("oc-operator plan runs")
        })
    };
    let output = run("text").await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stdout.contains(&format!(
            "  + Upload Numbers to Customer (tenant {TENANT_A}): upload 250 numbers to tenant {TENANT_A} in 1 request"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "OCCustomer {}/contoso: matches the platform",
            world.ns
        )),
        "{stdout}"
    );
    assert!(!stdout.contains(SANDBOX_CLIENT_SECRET));
    // For a pipeline: the same as JSON.
    let output = run("json").await.unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    let block = listed
        .iter()
        .find(|o| o["kind"] == "OCNumberBlock")
        .expect("the block");
    let planned: Vec<PlannedAction> = serde_json::from_value(block["planned"].clone()).unwrap();
    assert_eq!(planned, in_cluster);
    // Planning changed nothing on the platform (it validated the numbers to upload,
    // which the platform answers without keeping anything).
    let changes = |writes: Vec<(String, u64)>| -> Vec<(String, u64)> {
        writes
            .into_iter()
            .filter(|(endpoint, _)| endpoint != VALIDATE)
            .collect()
    };
    assert_eq!(changes(world.writes().await), changes(writes_before));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn switching_the_platform_to_manage_makes_the_planned_calls_at_once() {
    let mut world = World::new("observeswitch").await;
    world.start().await;
    world.customer_ready().await;
    world
        .block("main", "contoso", json!({"numbers": ["+14255559999"]}))
        .await;
    world.ready::<OCNumberBlock>("main", 60).await;

    // The platform observes; the block's new spec is only planned.
    let platforms: Api<OCPlatform> = Api::all(world.client.clone());
    let policy = |policy: &str| {
        let platforms = platforms.clone();
        let name = world.platform();
        let patch = json!({"spec": {"managementPolicy": policy}});
        async move {
            platforms
                .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .expect("platform policy")
        }
    };
    policy("ObserveOnly").await;
    world
        .wait::<oc_operator::api::OCCustomer>("contoso", 60, "observing", |c| {
            has_reason(c, PLATFORM_MATCHES, reason::MATCHES)
        })
        .await;
    world
        .merge::<OCNumberBlock>("main", json!({"spec": range()}))
        .await;
    let block = planned_block(&world, "main").await;
    assert_eq!(planned_of(&block)[0].count, 250);
    let uploads = upload_count(&world.writes().await, UPLOAD);

    // Managed again, the block makes its calls now, not at its next drift check (ten
    // minutes away): the platform's change wakes it.
    policy("Manage").await;
    let block = world.ready::<OCNumberBlock>("main", 60).await;
    assert!(planned_of(&block).is_empty());
    assert_eq!(upload_count(&world.writes().await, UPLOAD), uploads + 1);
}
