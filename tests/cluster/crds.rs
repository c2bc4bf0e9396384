use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;

use crate::support::*;

#[tokio::test]
async fn every_crd_is_accepted_and_established() {
    let crds: Api<CustomResourceDefinition> = Api::all(client().await);
    for want in oc_operator::api::crds() {
        let name = want.metadata.name.clone().unwrap();
        let got = crds
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let conditions = got.status.and_then(|s| s.conditions).unwrap_or_default();
        let established = conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        let structural = !conditions
            .iter()
            .any(|c| c.type_ == "NonStructuralSchema" && c.status == "True");
        assert!(established && structural, "{name}: {conditions:?}");
        assert_eq!(
            got.spec.names.categories,
            Some(vec!["operatorconnect".to_owned()]),
            "{name}"
        );
        assert!(
            got.spec.names.short_names.is_some_and(|s| !s.is_empty()),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_category_lists_every_kind() {
    let output = kubectl(&[
        "api-resources",
        "--categories=operatorconnect",
        "-o",
        "name",
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    for plural in [
        "ocplatforms",
        "occustomers",
        "ocnumberblocks",
        "ocsipconnections",
        "ocdialplans",
        "ocendusers",
    ] {
        assert!(text.contains(plural), "{plural} missing from: {text}");
    }
}

#[tokio::test]
#[ignore = "debugging aid: keeps a control plane up for 120 s"]
async fn hold_control_plane() {
    println!("KUBECONFIG={}", plane().kubeconfig().display());
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
}
