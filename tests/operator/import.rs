//! `oc-operator import`, the binary as a provider runs it, against a platform set up
//! without the operator's objects: the platform keeps four customers (licences of
//! each type, a channel, numbers in lists and ranges across profiles, sites with and
//! without a carrier password, dial plans, end users), one of them made directly
//! through the API as in the portal, and the cluster holds none of their objects. The import is written twice, byte for byte the same; applied with
//! `kubectl apply -k` and the operator running, every object becomes Ready with no
//! platform write at all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use liveplatform_sim::Seed;
use liveplatform_sim::seed::{SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET};
use oc_operator::api::conditions::{READY, reason};
use oc_operator::api::{
    OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCPlatform, OCSipConnection,
};
use serde_json::json;

use crate::support::*;

/// The simulator's second calling profile (EU-West).
const PROFILE_EU: &str = "b4a2f3e5-7c8d-4e9f-8a1b-2c3d4e5f6071";

const KINDS: &str = "occustomers,ocnumberblocks,ocsipconnections,ocdialplans,ocendusers";

#[tokio::test]
async fn an_imported_platform_is_declared_whole_and_applies_with_zero_writes() {
    let mut world = World::with_seed(
        "import",
        Seed {
            accept_any_tenant: true,
            task_delay_ms: 300,
            ..Seed::default()
        },
    )
    .await;
    world.start().await;
    // The platform as a provider set it up: the examples' customer, and two more.
    world.apply_examples().await;
    world
        .customer(
            "fabrikam",
            TENANT_B,
            "fabrikam",
            json!({"license": {"type": "OcPro", "count": 3}}),
        )
        .await;
    let tailspin = uuid::Uuid::new_v4().to_string();
    world
        .customer("tailspin", &tailspin, "tailspin", json!({}))
        .await;
    world
        .block(
            "fabrikam-numbers",
            "fabrikam",
            json!({"callingProfileId": PROFILE_EU,
                   "numbers": ["+14255557001", "+14255557003"],
                   "ranges": [{"start": "+14255557100", "end": "+14255557119"}]}),
        )
        .await;
    world.examples_ready().await;
    for customer in ["fabrikam", "tailspin"] {
        world.ready::<OCCustomer>(customer, 60).await;
    }
    world.ready::<OCNumberBlock>("fabrikam-numbers", 60).await;
    // And one set up by hand through the API, as in the portal: no object ever
    // declared it.
    set_up_by_hand(&world).await;

    // Then the cluster forgets them (the operator stopped, its finalizers released,
    // the objects deleted): only the platform knows.
    world.crash().await;
    oc_operator::release::release_finalizers(
        &world.client,
        &oc_operator::release::Scope {
            namespace: Some(world.ns.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    kubectl_ok(&world, &["delete", KINDS, "--all", "-n", &world.ns]);
    let writes_before = world.writes().await;

    // Imported twice: the same bytes.
    let scratch = std::env::temp_dir().join(format!("{}-import", world.ns));
    let platform_file = scratch.join("platform-in.json");
    std::fs::create_dir_all(&scratch).unwrap();
    let platform: OCPlatform = kube::Api::all(world.client.clone())
        .get(&world.platform())
        .await
        .unwrap();
    std::fs::write(
        &platform_file,
        serde_json::to_string(&json!({
            "apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCPlatform",
            "metadata": {"name": world.platform()}, "spec": platform.spec,
        }))
        .unwrap(),
    )
    .unwrap();
    let first = import(&world, &platform_file, &scratch.join("first"), &[]).await;
    let second = import(&world, &platform_file, &scratch.join("second"), &[]).await;
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    assert!(first == second, "a second import differs from the first");
    for file in [
        "kustomization.yaml",
        "platform.yaml",
        "contoso/customer.yaml",
        "contoso/numbers.yaml",
        "contoso/sip-connections.yaml",
        "contoso/dial-plans.yaml",
        "contoso/end-users.yaml",
        "fabrikam/numbers.yaml",
        "tailspin/customer.yaml",
        "northwind/numbers.yaml",
        "northwind/sip-connections.yaml",
        "northwind/dial-plans.yaml",
    ] {
        assert!(
            first.contains_key(file),
            "{file} not written: {:?}",
            first.keys()
        );
    }
    let everything: String = first.values().cloned().collect();
    for said in [
        "type: OcEssentials\n",
        "type: OcEssentialsPlus\n",
        "type: OcPro\n",
        PROFILE_US,
        PROFILE_EU,
        "usage: ConferenceAssignment",
        "usage: CallingUserAssignment",
        "channelId: ",
    ] {
        assert!(everything.contains(said), "the import does not say {said}");
    }
    assert!(
        !everything.contains("change-me-carrier-password"),
        "a password reached a manifest"
    );
    assert!(
        first["fabrikam/numbers.yaml"].contains("start: '+14255557100'")
            && first["fabrikam/numbers.yaml"].contains("end: '+14255557119'"),
        "a run of numbers is written as a range:\n{}",
        first["fabrikam/numbers.yaml"]
    );

    // Imported observing only: the same manifests but the platform's policy.
    let observing = import(
        &world,
        &platform_file,
        &scratch.join("observing"),
        &["--observe-only"],
    )
    .await;
    for (file, text) in &first {
        if file == "platform.yaml" {
            assert!(
                observing[file].contains("\n  managementPolicy: ObserveOnly\n"),
                "{}",
                observing[file]
            );
            let but_policy = |text: &str| -> Vec<String> {
                text.lines()
                    .filter(|l| !l.starts_with("  managementPolicy:"))
                    .map(str::to_owned)
                    .collect()
            };
            assert_eq!(but_policy(&observing[file]), but_policy(text));
        } else {
            assert_eq!(&observing[file], text, "{file}");
        }
    }

    // Planned without a cluster: nothing to do (the site without its password waits).
    let folder = scratch.join("first");
    let secret = scratch.join("plan.secret");
    std::fs::write(&secret, SANDBOX_CLIENT_SECRET).unwrap();
    let mut plan = std::process::Command::new(env!("CARGO_BIN_EXE_oc-operator"));
    plan.args(["--log-level=warn", "plan", "--client-id", SANDBOX_CLIENT_ID])
        .arg("--client-secret-file")
        .arg(&secret)
        .arg("-f")
        .arg(&folder);
    let planned = tokio::task::spawn_blocking(move || plan.output())
        .await
        .unwrap()
        .expect("oc-operator plan runs");
    let said = String::from_utf8_lossy(&planned.stdout);
    assert_eq!(planned.status.code(), Some(0), "{planned:?}");
    // Every object but the site whose carrier password is still a stub (and its dial
    // plan, which needs the site) is seen to match the platform as it is.
    assert!(
        said.contains(
            "\nPlan: 0 requests for 0 objects; 13 objects match the platform; 2 objects wait"
        ),
        "{said}"
    );
    assert!(!said.contains("  + "), "{said}");
    assert_eq!(world.writes().await, writes_before, "planning wrote");

    // Applied as written, with the operator running: the site waits for the carrier
    // password the platform never returns; filled in as the stub says, it goes on.
    world.start().await;
    let folder = scratch.join("first").display().to_string();
    kubectl_ok(&world, &["apply", "-k", &folder]);
    let waiting = world
        .wait::<OCSipConnection>("redmond", 60, "waiting for its password", |s| {
            has_reason(s, READY, reason::WAITING_FOR_DEPENDENCY)
        })
        .await;
    let message = condition(&waiting, READY).unwrap().2;
    assert!(
        message.contains("redmond-carrier") && message.contains("carrier password"),
        "{message}"
    );
    let sites = scratch.join("first/contoso/sip-connections.yaml");
    let text = std::fs::read_to_string(&sites).unwrap();
    assert!(text.contains("password: ''"), "a stub to fill in:\n{text}");
    std::fs::write(
        &sites,
        text.replace("password: ''", "password: change-me-carrier-password"),
    )
    .unwrap();
    kubectl_ok(&world, &["apply", "-k", &folder]);
    for (kind, names) in [
        (
            "occustomers",
            vec!["contoso", "fabrikam", "northwind", "tailspin"],
        ),
        ("ocsipconnections", vec!["oslo", "redmond"]),
    ] {
        let listed = kubectl_ok(&world, &["get", kind, "-n", &world.ns, "-o", "name"]);
        assert_eq!(listed.lines().count(), names.len(), "{kind}: {listed}");
    }
    all_ready::<OCCustomer>(&world).await;
    all_ready::<OCNumberBlock>(&world).await;
    all_ready::<OCSipConnection>(&world).await;
    all_ready::<OCDialPlan>(&world).await;
    all_ready::<OCEndUser>(&world).await;
    assert_eq!(
        world.writes().await,
        writes_before,
        "applying the import wrote to the platform"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Customer `northwind` made directly through the platform's API: a lead, a customer
/// on OC Essentials, six EU numbers uploaded in one request, the Oslo site on SBC 21
/// and two dial plan rules on it.
async fn set_up_by_hand(world: &World) {
    use liveplatform::PollOptions;
    use liveplatform::model::{
        AddSipConnection, Capability, ConfigurationType, CreateCustomer, CreateLead, DialPlanRule,
        ModifyDialPlan, UploadNumbers, Usage,
    };
    let client = world.platform_client();
    let done = |task| {
        let client = client.clone();
        async move {
            let outcome = client
                .poll_task(&task, PollOptions::default())
                .await
                .unwrap();
            assert!(
                matches!(outcome, liveplatform::TaskOutcome::Succeeded(_)),
                "{outcome:?}"
            );
        }
    };
    let tenant = uuid::Uuid::new_v4().to_string();
    client
        .create_lead(&CreateLead {
            tenant_id: tenant.clone(),
            company_name: "Northwind Traders".into(),
        })
        .await
        .unwrap();
    done(
        client
            .create_customer(&CreateCustomer {
                configuration: ConfigurationType::TenantType,
                customer_short_name: "northwind".into(),
                customer_full_name: "Northwind Traders".into(),
                ms_tenant_id: tenant.clone(),
                script_parameters: Default::default(),
            })
            .await
            .unwrap(),
    )
    .await;
    let guid = client
        .get_lead(&tenant)
        .await
        .unwrap()
        .and_then(|l| l.ump_customer_guid)
        .expect("the customer's id");
    let mut upload = UploadNumbers::new(
        PROFILE_EU,
        Usage::CallingUserAssignment,
        [
            "+4721000100",
            "+4721000101",
            "+4721000102",
            "+4721000103",
            "+4721000104",
            "+4721000200",
        ]
        .map(String::from)
        .to_vec(),
    );
    upload.capabilities = vec![Capability::InboundCalling, Capability::OutboundCalling];
    done(client.upload_numbers(&tenant, &upload).await.unwrap()).await;
    let site = client
        .add_sip_connection(
            &guid,
            &AddSipConnection {
                site_location_name: "Oslo".into(),
                ovoc_customer_type: "TENANT_TYPE".into(),
                sbc_id: "21".into(),
                sbc_onboarding_script: Some("onboard-tenant-v1".into()),
                sbc_cleanup_script: Some("cleanup-tenant-v1".into()),
                script_parameters: serde_json::from_value(
                    json!({"OnlinePstnGateway": "sbc21.sandbox.example.net"}),
                )
                .unwrap(),
                carrier_password: None,
            },
        )
        .await
        .unwrap();
    done(liveplatform::model::TaskId(site.task_id.clone())).await;
    client
        .modify_dial_plan(
            &guid,
            &site.site_location_id,
            &ModifyDialPlan {
                dial_plan_id: "CustDialPlan".into(),
                add: vec![
                    DialPlanRule {
                        name: "oslo-local".into(),
                        prefix: "+4722".into(),
                        tag: "Oslo".into(),
                    },
                    DialPlanRule {
                        name: "norway".into(),
                        prefix: "+47".into(),
                        tag: "Norway".into(),
                    },
                ],
                remove: vec![],
            },
        )
        .await
        .unwrap();
}

/// Runs `oc-operator import` into `out` (every customer into the world's namespace,
/// end users included); the files it wrote. The process runs off this thread: the
/// simulator it reads serves on this thread's runtime.
async fn import(
    world: &World,
    platform: &Path,
    out: &Path,
    extra: &[&str],
) -> BTreeMap<String, String> {
    let secret = out.with_extension("secret");
    std::fs::write(&secret, SANDBOX_CLIENT_SECRET).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_oc-operator"));
    command.args([
        "import",
        "--platform",
        &platform.display().to_string(),
        "--client-id",
        SANDBOX_CLIENT_ID,
        "--client-secret-file",
        &secret.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--namespace",
        &world.ns,
        "--include-end-users",
        "--allow-insecure-http",
    ]);
    command.args(extra);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("oc-operator import runs");
    assert!(output.status.success(), "import: {output:?}");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("imported 4 customers"), "{said}");
    files_in(out, out)
}

fn files_in(root: &Path, dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_in(root, &path));
        } else {
            let name = path.strip_prefix(root).unwrap().display().to_string();
            out.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

fn kubectl_ok(world: &World, args: &[&str]) -> String {
    let output = world.kubectl().args(args).output().unwrap();
    assert!(output.status.success(), "kubectl {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Waits until every object of kind `K` in the world's namespace is Ready.
async fn all_ready<K>(world: &World)
where
    K: oc_operator::controller::kind::Kind
        + kube::Resource<Scope = kube::core::NamespaceResourceScope>,
{
    let names: Vec<String> = world
        .api::<K>()
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|o| kube::ResourceExt::name_any(o))
        .collect();
    for name in names {
        world.ready::<K>(&name, 90).await;
    }
}
