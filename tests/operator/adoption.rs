//! Who may adopt: the annotation `operatorconnect.io/adopt: "true"` takes over what
//! already exists on the Live Platform, so the chart's ValidatingAdmissionPolicy lets
//! only a principal granted the verb `adopt` (the chart's `<release>-adopter`
//! ClusterRole, bound in the namespace) set it. A team that may declare customers but
//! not adopt them cannot take over a tenant onboarded before, by hand or by anybody.

use std::time::{Duration, Instant};

use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, Patch, PatchParams, PostParams};
use oc_operator::api::OCCustomer;
use oc_operator::api::conditions::{READY, reason};
use serde_json::json;

use crate::chart::render;
use crate::support::*;

const ADOPT: &str = "operatorconnect.io/adopt";

/// Applies the chart's adoption policy and its ClusterRole as they render for a release
/// named after `world`'s namespace, the policy's binding kept to that namespace (the
/// control plane is shared with other tests); the adopter ClusterRole's name.
fn apply_the_charts_adoption_policy(world: &World) -> String {
    let ns = &world.ns;
    let adopter = format!("{ns}-oc-operator-{ns}-adopter");
    let objects: Vec<serde_json::Value> = render(ns, ns, &[])
        .into_iter()
        .filter(|o| {
            let kind = o["kind"].as_str().unwrap_or_default();
            let name = o["metadata"]["name"].as_str().unwrap_or_default();
            (kind.starts_with("ValidatingAdmissionPolicy") && name.ends_with("-adoption"))
                || (kind == "ClusterRole" && name == adopter)
        })
        .map(|mut o| {
            if o["kind"] == "ValidatingAdmissionPolicyBinding" {
                o["spec"]["matchResources"] = json!({"namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": ns}}});
            }
            o
        })
        .collect();
    assert_eq!(
        objects.len(),
        3,
        "the policy, its binding and the ClusterRole"
    );
    world.apply_list(&objects);
    adopter
}

/// The team's identity: it may declare and change customers in the namespace, nothing
/// else.
async fn team(world: &World) -> Api<OCCustomer> {
    let ns = &world.ns;
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "team"},
        "rules": [{"apiGroups": ["operatorconnect.io"], "resources": ["occustomers"],
                   "verbs": ["get", "list", "watch", "create", "update", "patch"]}],
    }))
    .unwrap();
    Api::<Role>::namespaced(world.client.clone(), ns)
        .create(&PostParams::default(), &role)
        .await
        .expect("the team's Role");
    bind(world, "team", "Role", "team").await;
    let client = plane()
        .client_as(&format!("system:serviceaccount:{ns}:team"))
        .await
        .expect("the team's client");
    Api::namespaced(client, ns)
}

/// Binds `role` (of `kind`) to the team in the world's namespace.
async fn bind(world: &World, name: &str, kind: &str, role: &str) {
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": "team", "namespace": world.ns}],
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(world.client.clone(), &world.ns)
        .create(&PostParams::default(), &binding)
        .await
        .expect("the binding");
}

/// Applies `customer` as the team, server-side dry run first until the apiserver
/// answers as `allowed` says (a new policy or binding takes a moment to be in force),
/// then for real; the refusal, if refused.
async fn apply_as(api: &Api<OCCustomer>, customer: &serde_json::Value, allowed: bool) -> String {
    let name = customer["metadata"]["name"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut dry_run = true;
    loop {
        let mut params = PatchParams::apply("team");
        params.dry_run = dry_run;
        let result = api.patch(&name, &params, &Patch::Apply(customer)).await;
        match (&result, allowed) {
            (Ok(_), true) if dry_run => dry_run = false,
            (Ok(_), true) => return String::new(),
            (Err(kube::Error::Api(refusal)), false) if refusal.code == 403 => {
                return refusal.message.clone();
            }
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "never {}: {result:?}",
                    if allowed { "allowed" } else { "refused" }
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[tokio::test]
async fn only_a_principal_granted_adopt_may_take_over_what_exists() {
    let mut world = World::new("adopters").await;
    world.start().await;
    // A tenant onboarded before: its customer went with Orphan, the platform kept it.
    world.orphaned_customer("contoso", TENANT_A).await;
    let adopter = apply_the_charts_adoption_policy(&world);
    assert!(adopter.ends_with("-adopter"));
    let team = team(&world).await;

    // The team declares the tenant with the opt-in: refused at admission.
    let mut customer = customer_json("taken", TENANT_A, "contoso", json!({}));
    customer["spec"]["platformRef"]["name"] = json!(world.platform());
    customer["metadata"]["annotations"] = json!({ADOPT: "true"});
    let refusal = apply_as(&team, &customer, false).await;
    // (Another test's release of the chart may refuse first: its policy binds every
    // namespace, and names its own ClusterRole.)
    assert!(
        refusal.contains(&format!(
            "system:serviceaccount:{}:team may not set {ADOPT}",
            world.ns
        )) && refusal.contains("-adopter, or remove the annotation"),
        "{refusal}"
    );
    // Without it the object is declared, and refuses to take the tenant over.
    customer["metadata"]["annotations"] = json!({});
    apply_as(&team, &customer, true).await;
    let refused = world
        .wait::<OCCustomer>("taken", 60, "AlreadyExists", |c| {
            has_reason(c, READY, reason::ALREADY_EXISTS)
        })
        .await;
    assert!(condition(&refused, READY).unwrap().2.contains(ADOPT));
    // Adding the annotation afterwards is refused the same way.
    customer["metadata"]["annotations"] = json!({ADOPT: "true"});
    apply_as(&team, &customer, false).await;

    // Granted the verb in this namespace, the team adopts.
    bind(&world, "team-adopts", "ClusterRole", &adopter).await;
    apply_as(&team, &customer, true).await;
    world.ready::<OCCustomer>("taken", 60).await;
}
