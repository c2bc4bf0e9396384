//! The chart as a platform team runs it, on a control plane of its own with the
//! apiserver's audit log on: `helm install` (CRDs included, two replicas), then two
//! operator processes that authenticate as the chart's ServiceAccount with a token
//! from the TokenRequest API and run with the Deployment's own arguments and
//! environment, read from the installed manifest (as the kubelet would start them).
//! One leads and takes the examples' customer towards Ready; it is killed (SIGKILL)
//! while a numbers upload runs; the other takes over and finishes with no write sent
//! twice; deleting the customer deletes its dependents. Then the audit log shows
//! which verbs the chart's identity used: none was refused, and every verb the
//! chart grants was used (a grant nobody uses is a grant too many).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use liveplatform_sim::Seed;
use liveplatform_sim::seed::SANDBOX_CLIENT_SECRET;
use oc_operator::api::OCCustomer;
use oc_operator::api::common::WriteAction;
use serde_json::{Value, json};

use super::*;
use crate::replica::{Replica, free_probe_address};
use crate::support::*;

/// (verb, API group, resource[/subresource]): what an identity did, or may do.
type Access = (String, String, String);

#[tokio::test]
async fn two_replicas_with_the_charts_identity_take_over_mid_upload_using_only_what_it_grants() {
    let private = audited_control_plane().await;
    let client = private.client().await.expect("admin client");
    let world = World::bare(
        "replicas",
        client,
        private.kubeconfig(),
        Seed {
            task_delay_ms: 2500,
            ..Seed::default()
        },
    )
    .await;
    let release = "oc";
    let account = service_account_of(release);
    let helm = |args: &[&str]| {
        let output = private.helm().args(args).output().expect("helm runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "helm {args:?}: {text}");
        text
    };
    helm(&[
        "install",
        release,
        &chart(),
        "--namespace",
        &world.ns,
        "--set",
        "replicas=2",
        "--set",
        "leaderElection.leaseSeconds=5",
        "--set",
        "operator.taskPollSeconds=1",
        "--set",
        "operator.waitSeconds=1",
        // The simulator listens on loopback.
        "--set",
        "operator.allowedEndpointHosts={login.microsoftonline.com,127.0.0.1}",
    ]);
    world.crds_established();
    world.put_platform(json!([world.ns])).await;

    // The Deployment as installed, and a token of the chart's ServiceAccount.
    let manifest = helm(&["get", "manifest", release, "--namespace", &world.ns]);
    let objects = documents(&manifest);
    let deployment = object(&objects, "Deployment", &account);
    let kubeconfig = token_kubeconfig(
        private.kubeconfig(),
        &world.token(&world.ns, &account, None),
        &private.dir().join("operator.kubeconfig"),
    );
    let mut a = start_as_the_deployment(deployment, &kubeconfig, "replica-a", private.dir());
    let mut b = start_as_the_deployment(deployment, &kubeconfig, "replica-b", private.dir());
    a.until_ready(60).await;
    b.until_ready(60).await;

    // Credentials wrong, right, wrong again, right: the second, identical warning is
    // patched onto the first (an Event series), as any recurring event is.
    for secret in [
        "wrong-secret",
        SANDBOX_CLIENT_SECRET,
        "wrong-secret",
        SANDBOX_CLIENT_SECRET,
    ] {
        world.put_secret(secret).await;
        let unauthorized = secret != SANDBOX_CLIENT_SECRET;
        world
            .platform_until(60, "told of its credentials", |p| {
                condition(p, "Synced")
                    .is_some_and(|(_, reason, _)| (reason == "Unauthorized") == unauthorized)
            })
            .await;
    }

    world.apply_examples().await;
    let upload = "POST /v2/oc/numbers/action/upload";
    let deadline = Instant::now() + Duration::from_secs(120);
    while world.admin.count(upload, "total").await.unwrap() == 0 {
        assert!(
            Instant::now() < deadline,
            "no upload was sent; logs in {}",
            private.dir().display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The customer's licence upgrade starts as the blocks upload. A leader killed
    // between recording that write and recording its answer leaves the next one a
    // write whose answer was lost, which the platform cannot show while it runs: the
    // new leader rightly waits two minutes before it looks the licence up (see
    // `tasks::lost_answer_grace`). That case has its own test (faults.rs); this one
    // kills the leader while the upload runs, once the upgrade's answer is recorded.
    world
        .wait::<OCCustomer>("contoso", 60, "with its licence upgrade answered", |c| {
            !c.status
                .as_ref()
                .and_then(|s| s.operation.as_ref())
                .is_some_and(|op| op.action == WriteAction::UpgradeLicense && op.task_id.is_none())
        })
        .await;
    // The upload task runs for 2.5 s: kill the leader now.
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), &world.ns);
    let lease_name = format!("{account}-leader");
    let holder = || async {
        leases
            .get_opt(&lease_name)
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec.and_then(|s| s.holder_identity))
    };
    let first = holder().await.expect("a leader holds the release's Lease");
    let (leader, other) = if first == "replica-a" {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    leader.kill();

    world.examples_ready().await;
    assert_eq!(
        holder().await.as_deref(),
        Some(other.name),
        "the other replica leads now"
    );
    assert_eq!(
        world.admin.count(upload, "total").await.unwrap(),
        2,
        "one upload per number block of the examples, none sent twice"
    );
    // Every write of the examples exactly once (Validate Numbers is a read sent as a
    // POST, and may be asked again by the new leader).
    let writes: Vec<(String, u64)> = world
        .writes()
        .await
        .into_iter()
        .filter(|(endpoint, _)| !endpoint.ends_with("/number-status"))
        .collect();
    let once_each = [
        (
            "PATCH /v2/customer/{guid}/sitelocation/{site}/dialplan/{dial_plan}",
            1,
        ),
        ("POST /v2/customer/{guid}/action/upgrade", 1),
        ("POST /v2/customer/{guid}/sitelocation/", 1),
        ("POST /v2/oc/lead", 1),
        ("POST /v2/oc/numbers/action/upload", 2),
        ("POST /v3/customer", 1),
        ("PUT /v2/customer/{guid}/user/{sip}/script", 2),
        ("PUT /v3/ovoc/channel/action/assign", 1),
    ];
    let once_each: Vec<(String, u64)> = once_each
        .iter()
        .map(|(e, n)| ((*e).to_owned(), *n))
        .collect();
    assert_eq!(writes, once_each, "a write sent twice, or missing");
    world.delete_examples_leaving_nothing().await;
    let _ = other.stop_gracefully().await;

    // What the chart's identity did, against what the chart grants.
    let user = format!("system:serviceaccount:{}:{account}", world.ns);
    let (used, refused) = audited(&private.audit_log(), &user);
    assert!(
        refused.is_empty(),
        "refused to the chart's identity: {refused:?}"
    );
    let granted = granted(&objects);
    let ungranted: Vec<&Access> = used.difference(&granted).collect();
    assert!(ungranted.is_empty(), "used without a grant: {ungranted:?}");
    let unused: Vec<&Access> = granted.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "granted by the chart but never used by the operator: {unused:?}\nused: {used:?}"
    );

    // Uninstalling keeps the CRDs (crds.keep), so no custom resource is lost.
    helm(&["uninstall", release, "--namespace", &world.ns]);
    let crds = world
        .kubectl()
        .args(["get", "crd", "-o", "name"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&crds.stdout).lines().count(),
        6,
        "{crds:?}"
    );
}

/// Starts `oc-operator` as the Deployment's container would be: its args and
/// environment (the pod's name and ServiceAccount filled in as the kubelet does),
/// logging into `logs`. Only the probe address is changed: two processes on one host
/// cannot share a port.
fn start_as_the_deployment(
    deployment: &Value,
    kubeconfig: &Path,
    name: &'static str,
    logs: &Path,
) -> Replica {
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let probe = free_probe_address();
    let args: Vec<String> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string").to_owned())
        .map(|a| {
            if a.starts_with("--probe-listen=") {
                format!("--probe-listen={probe}")
            } else {
                a
            }
        })
        .collect();
    let mut command = Command::new(env!("CARGO_BIN_EXE_oc-operator"));
    command.env("KUBECONFIG", kubeconfig).args(&args);
    for env in container["env"].as_array().into_iter().flatten() {
        let value = match env["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            Some("metadata.name") => name.to_owned(),
            Some("spec.serviceAccountName") => {
                pod["serviceAccountName"].as_str().unwrap().to_owned()
            }
            Some(other) => panic!("a field the test does not fill in: {other}"),
            None => env["value"].as_str().unwrap_or_default().to_owned(),
        };
        command.env(env["name"].as_str().unwrap(), value);
    }
    let log = std::fs::File::create(logs.join(format!("{name}.log"))).unwrap();
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    Replica::spawn(name, command, probe)
}

/// What `user` did according to the audit log: the accesses that were allowed, and
/// those refused (403).
fn audited(log: &Path, user: &str) -> (BTreeSet<Access>, BTreeSet<Access>) {
    let text = std::fs::read_to_string(log).expect("the audit log");
    let mut used = BTreeSet::new();
    let mut refused = BTreeSet::new();
    for line in text.lines() {
        let event: Value = serde_json::from_str(line).expect("an audit event");
        if event["user"]["username"] != user || event["stage"] != "ResponseComplete" {
            continue;
        }
        let Some(reference) = event.get("objectRef") else {
            continue; // discovery and version requests
        };
        let mut resource = reference["resource"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(sub) = reference["subresource"].as_str() {
            resource = format!("{resource}/{sub}");
        }
        let access = (
            event["verb"].as_str().unwrap_or_default().to_owned(),
            reference["apiGroup"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            resource,
        );
        if event["responseStatus"]["code"] == 403 {
            refused.insert(access);
        } else {
            used.insert(access);
        }
    }
    (used, refused)
}

/// Every (verb, group, resource) the chart grants its ServiceAccount: the rules of
/// the Roles and ClusterRoles its bindings name (the adopter ClusterRole, which the
/// chart binds to nobody, is for people to bind).
fn granted(objects: &[Value]) -> BTreeSet<Access> {
    let bound: BTreeSet<(&str, &str)> = objects
        .iter()
        .filter(|o| o["kind"] == "RoleBinding" || o["kind"] == "ClusterRoleBinding")
        .filter_map(|b| {
            Some((
                b["roleRef"]["kind"].as_str()?,
                b["roleRef"]["name"].as_str()?,
            ))
        })
        .collect();
    let mut granted = BTreeSet::new();
    for o in objects.iter().filter(|o| {
        (o["kind"] == "Role" || o["kind"] == "ClusterRole")
            && bound.contains(&(
                o["kind"].as_str().unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default(),
            ))
    }) {
        for rule in o["rules"].as_array().into_iter().flatten() {
            for verb in rule["verbs"].as_array().into_iter().flatten() {
                for group in rule["apiGroups"].as_array().into_iter().flatten() {
                    for resource in rule["resources"].as_array().into_iter().flatten() {
                        granted.insert((
                            verb.as_str().unwrap().to_owned(),
                            group.as_str().unwrap().to_owned(),
                            resource.as_str().unwrap().to_owned(),
                        ));
                    }
                }
            }
        }
    }
    granted
}
