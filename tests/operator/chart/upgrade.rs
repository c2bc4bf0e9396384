//! Upgrading a release from the chart as it was before `status.rejectedGeneration`
//! existed (from git history, when the CRDs came from Helm's `crds/` folder) to this
//! chart, on a control plane of its own (the shared one's CRDs stay current for the
//! other tests), by running the "Upgrading" lines of docs/helm.md themselves: the old schema
//! drops the new status field, the upgraded one keeps it, and the operator takes the
//! customer created before the upgrade to Ready.

use std::path::Path;
use std::process::Command;

use kube::api::{Patch, PatchParams};
use liveplatform_sim::Seed;
use oc_operator::api::OCCustomer;
use serde_json::json;

use super::*;
use crate::support::*;

/// The last commit whose CRDs lack `status.rejectedGeneration` (its parent added it).
const BEFORE_REJECTED_GENERATION: &str = "ccfefc81f75d575c85cc8a799bda7c38368cc481^";

#[tokio::test]
async fn an_upgrade_from_the_previous_chart_applies_the_new_schema_and_keeps_the_objects() {
    let bin = plane().binary("");
    let private = tokio::task::spawn_blocking(move || testenv::ControlPlane::start(&bin))
        .await
        .unwrap()
        .expect("a control plane of its own");
    let client = private.client().await.expect("admin client");
    let mut world = World::bare("upgrade", client, private.kubeconfig(), Seed::default()).await;
    let old_chart = chart_at(BEFORE_REJECTED_GENERATION, private.dir());
    let release = "oc";
    let output = private
        .helm()
        .args(["install", release, &old_chart, "--namespace", &world.ns])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    world.crds_established();
    world.put_platform(json!([world.ns])).await;
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;

    let customers = world.api::<OCCustomer>();
    let write_new_field = || async {
        customers
            .patch_status(
                "contoso",
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"rejectedGeneration": 42}})),
            )
            .await
            .unwrap()
            .status
            .and_then(|s| s.reconcile.rejected_generation)
    };
    assert_eq!(
        write_new_field().await,
        None,
        "the old schema drops the new field"
    );

    // The documented lines (docs/helm.md), with this test's release and namespace.
    let readme = std::fs::read_to_string(testenv::repository().join("docs/helm.md")).unwrap();
    let section = &readme[readme.find("## Upgrading").expect("an Upgrading section")..];
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the upgrade lines");
    assert!(
        block.starts_with("RELEASE=oc NAMESPACE=oc-operator-system\n"),
        "{block}"
    );
    let script = block.replacen(
        "RELEASE=oc NAMESPACE=oc-operator-system",
        &format!("RELEASE={release} NAMESPACE={}", world.ns),
        1,
    );
    let path = format!(
        "{}:{}",
        plane().binary("").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(testenv::repository())
        .env("PATH", path)
        .env("KUBECONFIG", private.kubeconfig())
        .output()
        .unwrap();
    assert!(output.status.success(), "{script}\n{output:?}");
    world.crds_established();

    assert_eq!(
        write_new_field().await,
        Some(42),
        "the upgraded schema keeps it"
    );
    customers
        .patch_status(
            "contoso",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"rejectedGeneration": null}})),
        )
        .await
        .unwrap();
    world.start().await;
    world.ready::<OCCustomer>("contoso", 90).await;
    // The upgraded release runs as its renamed ServiceAccount.
    let output = private
        .helm()
        .args(["get", "manifest", release, "--namespace", &world.ns])
        .output()
        .unwrap();
    let objects = documents(&String::from_utf8_lossy(&output.stdout));
    object(&objects, "ServiceAccount", "oc-oc-operator");
    let deployment = object(&objects, "Deployment", "oc-oc-operator");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"],
        "oc-oc-operator"
    );
}

/// The chart folder as it was at `commit`, extracted under `dir`.
fn chart_at(commit: &str, dir: &Path) -> String {
    let archive = Command::new("git")
        .args(["archive", "--format=tar", commit, "charts/oc-operator"])
        .current_dir(testenv::repository())
        .output()
        .expect("git runs");
    assert!(
        archive.status.success(),
        "the chart at {commit} comes from git history (a clone with its history): {}",
        String::from_utf8_lossy(&archive.stderr)
    );
    let out = dir.join("old-chart");
    std::fs::create_dir_all(&out).unwrap();
    let mut tar = Command::new("tar")
        .args(["-x", "-C"])
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    tar.stdin
        .take()
        .unwrap()
        .write_all(&archive.stdout)
        .unwrap();
    assert!(tar.wait().unwrap().success());
    out.join("charts/oc-operator").display().to_string()
}
