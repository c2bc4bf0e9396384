//! The Helm chart: what it renders for each value, that the output is valid for the
//! pinned Kubernetes, that its own identity is enough for the operator and no more,
//! and how it upgrades and uninstalls.

mod install;
mod kubeconform;
mod render;
mod replicas;
mod uninstall;
mod upgrade;

use crate::support::*;

/// The chart's folder.
pub fn chart() -> String {
    format!("{}/charts/oc-operator", env!("CARGO_MANIFEST_DIR"))
}

/// Runs helm with `args`; whether it succeeded, and what it printed.
pub fn helm(args: &[&str]) -> (bool, String) {
    let output = plane().helm().args(args).output().expect("helm runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// `--set` arguments for each of `sets`.
fn set_args(sets: &[&str]) -> Vec<String> {
    sets.iter()
        .flat_map(|s| ["--set".to_owned(), (*s).to_owned()])
        .collect()
}

/// The manifests `helm template` renders for release `release` in namespace
/// `namespace` with `sets`, as JSON values; panics with helm's words when it fails.
pub fn render(release: &str, namespace: &str, sets: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["template", release, &*CHART, "--namespace", namespace];
    let sets = set_args(sets);
    args.extend(sets.iter().map(String::as_str));
    let (ok, text) = helm(&args);
    assert!(ok, "helm template {sets:?}: {text}");
    documents(&text)
}

/// The manifests rendered with a values file of `values` (YAML) and `sets`.
pub fn render_values(
    release: &str,
    namespace: &str,
    values: &str,
    sets: &[&str],
) -> Vec<serde_json::Value> {
    let (ok, text) = template_values(release, namespace, values, sets);
    assert!(ok, "helm template with {values}: {text}");
    documents(&text)
}

/// `helm template` with a values file of `values` and `sets`: whether it succeeded,
/// and what it printed.
pub fn template_values(
    release: &str,
    namespace: &str,
    values: &str,
    sets: &[&str],
) -> (bool, String) {
    let file = std::env::temp_dir().join(format!("oc-values-{}.yaml", uuid::Uuid::new_v4()));
    std::fs::write(&file, values).expect("values file");
    let file_arg = file.display().to_string();
    let mut args = vec![
        "template",
        release,
        &*CHART,
        "--namespace",
        namespace,
        "--values",
        &file_arg,
    ];
    let sets = set_args(sets);
    args.extend(sets.iter().map(String::as_str));
    let result = helm(&args);
    let _ = std::fs::remove_file(&file);
    result
}

static CHART: std::sync::LazyLock<String> = std::sync::LazyLock::new(chart);

/// The documents of a multi-document YAML text, empty ones left out.
pub fn documents(text: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| serde_json::Value::deserialize(d).expect("helm renders YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The one object of `kind` named `name` among `objects`.
pub fn object<'a>(
    objects: &'a [serde_json::Value],
    kind: &str,
    name: &str,
) -> &'a serde_json::Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} among {:?}", names(objects)))
}

/// `Kind/name` of each object, sorted.
pub fn names(objects: &[serde_json::Value]) -> Vec<String> {
    let mut names: Vec<String> = objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or("?"),
                o["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    names.sort();
    names
}

/// The release name a test uses in its namespace.
pub fn release_of(world: &World) -> String {
    format!("oc-{}", &world.ns[world.ns.len() - 6..])
}

/// The operator's ServiceAccount that the chart creates for `release`.
pub fn service_account_of(release: &str) -> String {
    format!("{release}-oc-operator")
}

/// Installs the chart as release `release` into namespace `namespace` with `sets`
/// (and without CRDs: the shared control plane has them, and its other tests use
/// them), and returns a client acting as the chart's ServiceAccount.
pub async fn install_into(namespace: &str, release: &str, sets: &[&str]) -> kube::Client {
    let mut args = vec![
        "install",
        release,
        &*CHART,
        "--namespace",
        namespace,
        "--wait=false",
        "--set",
        "crds.install=false",
    ];
    let sets = set_args(sets);
    args.extend(sets.iter().map(String::as_str));
    let (ok, text) = helm(&args);
    assert!(ok, "{text}");
    as_service_account(namespace, &service_account_of(release)).await
}

/// A client acting as ServiceAccount `namespace/name`.
pub async fn as_service_account(namespace: &str, name: &str) -> kube::Client {
    plane()
        .client_as(&format!("system:serviceaccount:{namespace}:{name}"))
        .await
        .expect("impersonating client")
}

/// Upgrades `release` in `namespace` to this chart, keeping its values and adding
/// `sets`.
pub fn upgrade(namespace: &str, release: &str, sets: &[&str]) {
    let mut args = vec![
        "upgrade",
        release,
        &*CHART,
        "--namespace",
        namespace,
        "--reuse-values",
    ];
    let sets = set_args(sets);
    args.extend(sets.iter().map(String::as_str));
    let (ok, text) = helm(&args);
    assert!(ok, "{text}");
}

/// Uninstalls `release` from `namespace`.
pub fn uninstall(namespace: &str, release: &str) {
    let (ok, text) = helm(&["uninstall", release, "--namespace", namespace]);
    assert!(ok, "{text}");
}
