//! The chart's rendered output, for several sets of values, validated by kubeconform
//! (pinned in hack/kubeconform) in strict mode against the schemas of the pinned
//! Kubernetes: the test control plane's own OpenAPI document, with the operator's
//! CRDs in it, turned into the standalone JSON schemas kubeconform reads (as
//! openapi2jsonschema does: `additionalProperties: false` wherever properties are
//! listed, int-or-string as a choice of the two). Nothing is downloaded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;

/// Every value that changes what is rendered, on at once.
const EVERYTHING_ON: &str = r#"
replicas: 3
image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
serviceAccount:
  annotations: {azure.workload.identity/client-id: 00000000-0000-0000-0000-000000000001}
  labels: {azure.workload.identity/use: "true"}
rbac: {secretNamespaces: [contoso, fabrikam], credentialsSecrets: [live-platform-credentials]}
extraArgs: [--log-level=debug]
extraEnv: [{name: HTTPS_PROXY, value: "http://proxy:3128"}]
podAnnotations: {example.org/scrape: "yes"}
podLabels: {team: voice}
priorityClassName: system-cluster-critical
topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}
podDisruptionBudget: {maxUnavailable: 1}
networkPolicy:
  enabled: true
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
  apiServer: {cidrs: [10.0.0.1/32]}
serviceMonitor: {enabled: true}
platform:
  enabled: true
  baseUrl: https://lp.example/tenantui/api
  serviceProviderTenantId: 5b3c8a2e-9f1d-4e6a-b7c4-2d8e0f1a3b5c
  allowedNamespaces: [contoso]
  channelId: 7
sandbox: {enabled: true}
"#;

/// A platform on workload identity, the token projected by the chart.
const WORKLOAD_IDENTITY: &str = r#"
workloadIdentity: {enabled: true, clientId: 6c2f9a1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b, projectToken: true}
platform:
  enabled: true
  baseUrl: https://lp.example/tenantui/api
  serviceProviderTenantId: 5b3c8a2e-9f1d-4e6a-b7c4-2d8e0f1a3b5c
  allowedNamespaces: [contoso]
"#;

#[test]
fn every_rendering_of_the_chart_is_valid_for_the_pinned_kubernetes() {
    let schemas = schemas_of_the_control_plane();
    for (name, values) in [
        ("defaults", ""),
        ("everything-on", EVERYTHING_ON),
        (
            "cluster-wide",
            "rbac: {clusterWideSecrets: true}\ncrds: {install: false}\nserviceAccount: {create: false, name: ops}\n",
        ),
        ("workload-identity", WORKLOAD_IDENTITY),
    ] {
        let (ok, text) = template_values("oc", "ops", values, &[]);
        assert!(ok, "{name}: {text}");
        let (valid, report) = kubeconform(&schemas, &text);
        assert!(valid, "{name}: {report}");
    }
    // The validator is not a formality: a misspelled field, a wrong type and an
    // unknown kind are each refused.
    for broken in [
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: 1\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: i, imagePullPolicyy: Always}]\n",
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec: {minAvailable: [1]}\n",
        "apiVersion: operatorconnect.io/v1alpha1\nkind: OCPlatform\nmetadata: {name: x}\nspec: {baseUrl: 7}\n",
        "apiVersion: example.org/v1\nkind: Nothing\nmetadata: {name: x}\n",
    ] {
        let (valid, report) = kubeconform(&schemas, broken);
        assert!(!valid, "accepted: {broken}\n{report}");
    }
    let _ = std::fs::remove_dir_all(&schemas);
}

/// Runs kubeconform in strict mode over `manifests` with the schemas in `schemas`
/// (ServiceMonitor skipped: the Prometheus Operator's CRDs are not in the test
/// control plane). Whether every object is valid, and kubeconform's report.
fn kubeconform(schemas: &Path, manifests: &str) -> (bool, String) {
    let file = std::env::temp_dir().join(format!("oc-render-{}.yaml", uuid::Uuid::new_v4()));
    std::fs::write(&file, manifests).expect("manifests");
    let location = format!(
        "{}/{{{{ .ResourceKind }}}}_{{{{ .Group }}}}_{{{{ .ResourceAPIVersion }}}}.json",
        schemas.display()
    );
    let output = std::process::Command::new(plane().binary("kubeconform"))
        .args([
            "-strict",
            "-summary",
            "-skip",
            "ServiceMonitor",
            "-schema-location",
            &location,
        ])
        .arg(&file)
        .output()
        .expect("kubeconform runs (built by hack/build-test-tools.sh)");
    let _ = std::fs::remove_file(&file);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}

/// Writes a strict standalone JSON schema for every kind the control plane serves
/// (its `/openapi/v2`, the CRDs included) into a fresh folder, named as the
/// `-schema-location` template of `kubeconform` above expects.
fn schemas_of_the_control_plane() -> PathBuf {
    let output = plane()
        .kubectl()
        .args(["get", "--raw", "/openapi/v2"])
        .output()
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let document: Value = serde_json::from_str(&text).expect("the OpenAPI document");
    let definitions: BTreeMap<String, Value> = document["definitions"]
        .as_object()
        .expect("definitions")
        .iter()
        .map(|(name, schema)| (name.clone(), strict(schema)))
        .collect();
    let dir = std::env::temp_dir().join(format!("oc-schemas-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for schema in definitions.values() {
        for gvk in schema["x-kubernetes-group-version-kind"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let (group, version, kind) = (
                gvk["group"].as_str().unwrap_or_default(),
                gvk["version"].as_str().unwrap_or_default(),
                gvk["kind"].as_str().unwrap_or_default(),
            );
            let group = if group.is_empty() { version } else { group };
            let mut needed = BTreeSet::new();
            referenced(schema, &definitions, &mut needed);
            let mut standalone = schema.clone();
            standalone["definitions"] = needed
                .iter()
                .map(|n| (n.clone(), definitions[n].clone()))
                .collect::<serde_json::Map<_, _>>()
                .into();
            let file = dir.join(format!("{}_{group}_{version}.json", kind.to_lowercase()));
            std::fs::write(file, standalone.to_string()).unwrap();
        }
    }
    dir
}

/// The schema with `additionalProperties: false` wherever it lists properties (and
/// says nothing of others, nor keeps unknown fields), and int-or-string made a
/// choice of string or integer.
fn strict(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            if map.get("format") == Some(&json!("int-or-string")) {
                return json!({"oneOf": [{"type": "string"}, {"type": "integer"}]});
            }
            let mut out: serde_json::Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), strict(v))).collect();
            if out.contains_key("properties")
                && !out.contains_key("additionalProperties")
                && out.get("x-kubernetes-preserve-unknown-fields") != Some(&json!(true))
            {
                out.insert("additionalProperties".into(), json!(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(strict).collect()),
        other => other.clone(),
    }
}

/// Adds to `needed` every definition `schema` refers to, directly or not.
fn referenced(
    schema: &Value,
    definitions: &BTreeMap<String, Value>,
    needed: &mut BTreeSet<String>,
) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/definitions/"))
                && needed.insert(name.to_owned())
                && let Some(target) = definitions.get(name)
            {
                referenced(target, definitions, needed);
            }
            for value in map.values() {
                referenced(value, definitions, needed);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| referenced(v, definitions, needed)),
        _ => {}
    }
}
