//! Workload identity: an OCPlatform with `workloadIdentity` and no Secret at all. The
//! operator presents a ServiceAccount token that the test control plane issues
//! (TokenRequest, audience `api://AzureADTokenExchange`, as the kubelet projects it)
//! to the simulator's identity endpoint, which accepts it only for the federated
//! credential registered for that issuer, subject and audience. The token file is
//! re-read at every token request: a token of the wrong ServiceAccount is refused
//! with Entra's words, and rewriting the file (as the kubelet rotates it) is enough.

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use liveplatform::contract::FEDERATED_TOKEN_AUDIENCE;
use liveplatform_sim::seed::SANDBOX_SP_TENANT;
use oc_operator::api::OCPlatform;
use serde_json::json;

use crate::support::*;

const APPLICATION: &str = "6c2f9a1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";

#[tokio::test]
async fn a_platform_authenticates_with_the_pods_service_account_token_and_no_secret() {
    let mut world = World::new("wi").await;
    let accounts: Api<ServiceAccount> = Api::namespaced(world.client.clone(), &world.ns);
    for name in ["oc-operator", "intruder"] {
        accounts
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
            )
            .await
            .unwrap();
    }
    // The cluster's issuer, from its own discovery document.
    let discovery = plane()
        .kubectl()
        .args(["get", "--raw", "/.well-known/openid-configuration"])
        .output()
        .unwrap();
    let discovery: serde_json::Value =
        serde_json::from_slice(&discovery.stdout).expect("discovery");
    let issuer = discovery["issuer"].as_str().expect("issuer").to_owned();
    world
        .admin
        .post(
            "/federated-credentials",
            json!({
                "clientId": APPLICATION,
                "issuer": issuer,
                "subject": format!("system:serviceaccount:{}:oc-operator", world.ns),
                "audience": FEDERATED_TOKEN_AUDIENCE,
            }),
        )
        .await
        .unwrap();

    // No Secret anywhere: the platform names the application only.
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), &world.ns);
    secrets
        .delete("credentials", &DeleteParams::default())
        .await
        .unwrap();
    let platforms: Api<OCPlatform> = Api::all(world.client.clone());
    platforms
        .patch(
            &world.platform(),
            &PatchParams::apply("test").force(),
            &Patch::Apply(json!({
                "apiVersion": "operatorconnect.io/v1alpha1",
                "kind": "OCPlatform",
                "metadata": {"name": world.platform(), "labels": {"oc-test": world.ns}},
                "spec": {
                    "baseUrl": world.sim.base_url().as_str(),
                    "identityBaseUrl": world.sim.identity_base().as_str(),
                    "serviceProviderTenantId": SANDBOX_SP_TENANT,
                    "workloadIdentity": {"clientId": APPLICATION},
                    "allowedNamespaces": [world.ns],
                    "rateLimit": {"requestsPerSecond": 200, "burst": 200},
                },
            })),
        )
        .await
        .unwrap();

    let token_file = std::env::temp_dir().join(format!("oc-wi-{}", world.ns));
    std::fs::write(&token_file, token_of(&world, "intruder")).unwrap();
    let mut config = world.config();
    config.federated_token_file = token_file.clone();
    world.start_configured(world.client.clone(), config).await;

    let refused = world
        .platform_until(60, "refused", |p| {
            condition(p, "Synced").is_some_and(|(_, reason, message)| {
                reason == "Unauthorized" && message.contains("AADSTS700213")
            })
        })
        .await;
    let (_, _, message) = condition(&refused, "Synced").unwrap();
    assert!(
        message.contains(&format!("system:serviceaccount:{}:intruder", world.ns)),
        "{message}"
    );
    assert!(
        !message.contains("eyJ"),
        "a token in a condition: {message}"
    );

    // The kubelet rotates the file: the next token request reads the new token.
    std::fs::write(&token_file, token_of(&world, "oc-operator")).unwrap();
    world.platform_until(60, "Ready", is_ready).await;
    world.customer_ready().await;
    let _ = std::fs::remove_file(&token_file);
}

/// A token of ServiceAccount `account` of the world's namespace for Entra's
/// federated-credential audience, from the TokenRequest API.
fn token_of(world: &World, account: &str) -> String {
    world.token(&world.ns, account, Some(FEDERATED_TOKEN_AUDIENCE))
}
