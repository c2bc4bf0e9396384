//! `oc-operator plan`: what the operator would do on a live platform for a set of
//! manifests, without a cluster, like a Terraform plan.
//!
//! Every object read is taken as `managementPolicy: ObserveOnly` and reconciled once,
//! in the order its dependencies need (platforms, customers, number blocks and SIP
//! connections, dial plans, end users), by the controllers' own reconcile functions:
//! the same looks at the platform, the same planners, the same `plan::run` that stops
//! at the first write and describes it. Only Kubernetes is replaced, by an in-memory
//! API holding the manifests ([`memory_api`]); the platform is the real one, read and
//! never written.

pub mod manifests;
pub mod memory_api;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Resource;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher::Event;
use serde_json::{Value, json};

use crate::api::common::PlannedAction;
use crate::api::conditions::{self, READY, SYNCED};
use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCPlatform, OCSipConnection};
use crate::controller::endpoint_hosts::PLATFORM_LABEL;
use crate::controller::kind::Kind;
use crate::controller::stores::Stores;
use crate::controller::{self, Context, OperatorConfig, finalizer};
use liveplatform::secret::Secret;
use memory_api::{MemoryApi, path_of};

/// The namespace the platforms' credentials Secrets are taken to be in.
const CREDENTIALS_NAMESPACE: &str = "oc-operator-plan";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not YAML: {source}")]
    Yaml {
        path: PathBuf,
        #[source]
        source: serde_yaml_ng::Error,
    },
    #[error("{kind} {name} in {path} is not valid: {source}")]
    Invalid {
        path: PathBuf,
        kind: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("a {kind} in {path} has no metadata.name")]
    Unnamed { path: PathBuf, kind: String },
    #[error(
        "the manifests hold no OCPlatform: add its manifest (oc-operator import writes platform.yaml)"
    )]
    NoPlatform,
    #[error(
        "OCPlatform {0} has no credentialsSecretRef; plan connects with --client-id and the client secret in its place"
    )]
    NoCredentialsRef(String),
    #[error("reconciling {key}: {source}")]
    Reconcile {
        key: String,
        #[source]
        source: controller::Error,
    },
}

/// What to plan, and how to connect.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files and folders of manifests.
    pub paths: Vec<PathBuf>,
    pub client_id: String,
    pub client_secret: Secret,
    /// The namespace of manifests that name none.
    pub namespace: String,
    pub allow_insecure_http: bool,
}

/// What the operator would do for one object (`oc-operator plan -o json` prints a list
/// of them).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectPlan {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// The calls it would make next.
    pub planned: Vec<PlannedAction>,
    /// Its `Ready` condition after the look (what it waits for, when it waits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<Condition>,
    /// Its `Synced` condition when the look failed (credentials, an unreachable
    /// platform).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<Condition>,
}

impl ObjectPlan {
    /// Whether the platform matches the object.
    pub fn matches(&self) -> bool {
        self.planned.is_empty() && self.ready.as_ref().is_some_and(|c| c.status == "True")
    }
}

/// Reads the manifests, looks at the platform, and says what the operator would do.
pub async fn plan(options: &Options) -> Result<Vec<ObjectPlan>, Error> {
    let manifests = manifests::read(&options.paths)?;
    let api = MemoryApi::default();
    let mut paths: Vec<(String, String)> = Vec::new();
    let mut platforms = 0;
    for (index, (file, mut value)) in manifests.objects.into_iter().enumerate() {
        let kind = value["kind"].as_str().unwrap_or_default().to_owned();
        let name = value["metadata"]["name"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::Unnamed {
                path: file.clone(),
                kind: kind.clone(),
            })?;
        let namespaced = kind != "OCPlatform";
        if namespaced && value["metadata"]["namespace"].as_str().is_none() {
            value["metadata"]["namespace"] = json!(options.namespace);
        }
        if kind != "Secret" {
            observe_only(&mut value, index);
        }
        if kind == "OCPlatform" {
            platforms += 1;
            let platform = typed::<OCPlatform>(&file, &value)?;
            let reference = platform
                .spec
                .credentials_secret_ref
                .ok_or_else(|| Error::NoCredentialsRef(name.clone()))?;
            // Labelled for its platform: the person running `plan` gave these
            // credentials for the endpoints its manifests name.
            let secret = json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": reference.name, "namespace": CREDENTIALS_NAMESPACE, "resourceVersion": "1",
                             "labels": {PLATFORM_LABEL: name}},
                "stringData": {reference.client_id_key: options.client_id,
                               reference.client_secret_key: options.client_secret.expose()}});
            api.insert(
                path_of(
                    "v1",
                    "secrets",
                    Some(CREDENTIALS_NAMESPACE),
                    &reference.name,
                ),
                secret,
            );
        } else {
            check_kind(&file, &kind, &value)?;
        }
        let plural = match kind.as_str() {
            "Secret" => "secrets".to_owned(),
            other => format!("{}s", other.to_ascii_lowercase()),
        };
        let path = path_of(
            value["apiVersion"].as_str().unwrap_or("v1"),
            &plural,
            value["metadata"]["namespace"]
                .as_str()
                .filter(|_| namespaced),
            &name,
        );
        api.insert(path.clone(), value);
        if kind != "Secret" {
            paths.push((kind, path));
        }
    }
    if platforms == 0 {
        return Err(Error::NoPlatform);
    }

    let mut config = OperatorConfig::new(CREDENTIALS_NAMESPACE);
    config.allow_insecure_http = options.allow_insecure_http;
    let ctx = Context::new(api.client(), config);
    // Every cache is filled from the manifests before its kind is reconciled.
    ctx.stores.set_synced(true);
    let mut run = Offline {
        api,
        ctx,
        paths,
        plans: Vec::new(),
    };
    run.kind(
        controller::platform::reconcile,
        Stores::set_platforms,
        |_, _: &Event<OCPlatform>| {},
    )
    .await?;
    run.kind(
        controller::reconciler::reconcile::<OCCustomer>,
        Stores::set_customers,
        |ctx, event| ctx.ownership.customer_observed(event),
    )
    .await?;
    run.kind(
        controller::reconciler::reconcile::<OCNumberBlock>,
        Stores::set_blocks,
        observed,
    )
    .await?;
    run.kind(
        controller::reconciler::reconcile::<OCSipConnection>,
        Stores::set_sites,
        observed,
    )
    .await?;
    run.kind(
        controller::reconciler::reconcile::<OCDialPlan>,
        Stores::set_plans,
        observed,
    )
    .await?;
    run.kind(
        controller::reconciler::reconcile::<OCEndUser>,
        Stores::set_users,
        observed,
    )
    .await?;
    Ok(run.plans)
}

/// Makes a manifest an object as the apiserver would hold it, observing only: a uid,
/// a generation, a resourceVersion, the operator's finalizer (so that a reconcile goes
/// on at once instead of waiting to see its finalizer added), no status. Manifests
/// carry no status, so what the platform already holds cannot be told apart from
/// what these objects made: it is taken as theirs (the adoption opt-in), as it would
/// be in the cluster that applied them.
fn observe_only(value: &mut Value, index: usize) {
    let meta = &mut value["metadata"];
    meta["annotations"][controller::adoption::ADOPT_ANNOTATION] = json!("true");
    meta["uid"] = json!(format!("00000000-0000-4000-8000-{index:012}"));
    meta["generation"] = json!(1);
    meta["resourceVersion"] = json!("1");
    meta["creationTimestamp"] = json!("2000-01-01T00:00:00Z");
    meta["finalizers"] = json!([finalizer::FINALIZER]);
    value["spec"]["managementPolicy"] = json!("ObserveOnly");
    if let Some(object) = value.as_object_mut() {
        object.remove("status");
    }
}

fn typed<K: serde::de::DeserializeOwned>(
    file: &std::path::Path,
    value: &Value,
) -> Result<K, Error> {
    serde_json::from_value(value.clone()).map_err(|source| Error::Invalid {
        path: file.to_owned(),
        kind: value["kind"].as_str().unwrap_or_default().to_owned(),
        name: value["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        source,
    })
}

/// Checks that a manifest of `kind` is one.
fn check_kind(file: &std::path::Path, kind: &str, value: &Value) -> Result<(), Error> {
    match kind {
        "OCCustomer" => typed::<OCCustomer>(file, value).map(drop),
        "OCNumberBlock" => typed::<OCNumberBlock>(file, value).map(drop),
        "OCSipConnection" => typed::<OCSipConnection>(file, value).map(drop),
        "OCDialPlan" => typed::<OCDialPlan>(file, value).map(drop),
        "OCEndUser" => typed::<OCEndUser>(file, value).map(drop),
        _ => typed::<k8s_openapi::api::core::v1::Secret>(file, value).map(drop),
    }
}

/// A dependent kind's ownership ledger learns of a change.
fn observed<K: controller::ownership::Owned>(ctx: &Context, event: &Event<K>) {
    K::observed(&ctx.ownership, event)
}

/// One offline run: the in-memory API, the controllers' context, the objects by path.
struct Offline {
    api: MemoryApi,
    ctx: Arc<Context>,
    paths: Vec<(String, String)>,
    plans: Vec<ObjectPlan>,
}

impl Offline {
    /// Reconciles every object of `K` once, each seen by the next (its status in the
    /// cache) as a watch would show it; records their plans.
    async fn kind<K, R, Fut>(
        &mut self,
        reconcile: R,
        set_store: impl Fn(&Stores, reflector::Store<K>),
        observe: impl Fn(&Context, &Event<K>),
    ) -> Result<(), Error>
    where
        K: Kind + crate::controller::ownership::Governed,
        K: Resource<DynamicType = ()>,
        R: Fn(Arc<K>, Arc<Context>) -> Fut,
        Fut: Future<Output = controller::Result<kube::runtime::controller::Action>>,
    {
        let kind = K::kind(&()).to_string();
        let paths: Vec<String> = self
            .paths
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, p)| p.clone())
            .collect();
        let objects: Vec<K> = paths.iter().filter_map(|p| self.object(p)).collect();
        let (store, mut writer): (_, Writer<K>) = reflector::store();
        writer.apply_watcher_event(&Event::Init);
        for obj in &objects {
            writer.apply_watcher_event(&Event::InitApply(obj.clone()));
        }
        writer.apply_watcher_event(&Event::InitDone);
        set_store(&self.ctx.stores, store);
        observe(&self.ctx, &Event::InitDone);
        for (path, obj) in paths.iter().zip(objects) {
            let key = crate::controller::kind::key(&obj);
            reconcile(Arc::new(obj), self.ctx.clone())
                .await
                .map_err(|source| Error::Reconcile { key, source })?;
            let Some(after) = self.object::<K>(path) else {
                continue;
            };
            let event = Event::Apply(after.clone());
            writer.apply_watcher_event(&event);
            observe(&self.ctx, &event);
            self.plans.push(plan_of(&after));
        }
        Ok(())
    }

    fn object<K: serde::de::DeserializeOwned>(&self, path: &str) -> Option<K> {
        serde_json::from_value(self.api.get(path)?).ok()
    }
}

fn plan_of<K: Kind>(obj: &K) -> ObjectPlan {
    let status = obj.status().cloned().unwrap_or_default();
    let planned = K::owner(&status)
        .map(|owner| owner.planned_actions.clone())
        .unwrap_or_default();
    let conditions = K::conditions(&status);
    let synced = conditions::find(conditions, SYNCED).filter(|c| c.status == "False");
    ObjectPlan {
        kind: K::kind(&()).to_string(),
        namespace: obj.meta().namespace.clone().unwrap_or_default(),
        name: obj.meta().name.clone().unwrap_or_default(),
        planned,
        ready: conditions::find(conditions, READY).cloned(),
        failed: synced.cloned(),
    }
}

/// The plan as text: each object with what it would do, then the totals.
pub fn render(plans: &[ObjectPlan]) -> String {
    let mut out = String::new();
    let (mut calls, mut changing, mut matching, mut other) = (0_i64, 0_i64, 0_i64, 0_i64);
    for plan in plans {
        let place = if plan.namespace.is_empty() {
            plan.name.clone()
        } else {
            format!("{}/{}", plan.namespace, plan.name)
        };
        let what = if !plan.planned.is_empty() {
            changing += 1;
            calls += plan.planned.iter().map(|a| a.requests).sum::<i64>();
            "changes planned".to_owned()
        } else if plan.matches() {
            matching += 1;
            "matches the platform".to_owned()
        } else {
            other += 1;
            match (&plan.failed, &plan.ready) {
                (Some(failed), _) => format!("cannot be planned: {}", failed.message),
                (None, Some(ready)) => format!("{}: {}", ready.reason, ready.message),
                (None, None) => "not looked at".to_owned(),
            }
        };
        out.push_str(&format!("{} {place}: {what}\n", plan.kind));
        for action in &plan.planned {
            out.push_str(&format!(
                "  + {} ({}): {}\n",
                action.action, action.target, action.description
            ));
        }
    }
    let count = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    out.push_str(&format!(
        "\nPlan: {} for {}; {} the platform; {} or cannot be planned yet.\n",
        count(calls, "request", "requests"),
        count(changing, "object", "objects"),
        count(matching, "object matches", "objects match"),
        count(other, "object waits", "objects wait"),
    ));
    out
}

/// Whether any object has a call planned (for an exit code).
pub fn has_changes(plans: &[ObjectPlan]) -> bool {
    plans.iter().any(|p| !p.planned.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plans the manifests `files` (name, text) hold; no platform is contacted before
    /// they are read and checked.
    async fn plan_of_files(files: &[(&str, &str)]) -> Result<Vec<ObjectPlan>, Error> {
        let dir =
            std::env::temp_dir().join(format!("oc-offline-{}-{}", std::process::id(), files.len()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let options = Options {
            paths: vec![dir.clone()],
            client_id: "id".into(),
            client_secret: Secret::new("secret".to_owned()),
            namespace: "default".into(),
            allow_insecure_http: false,
        };
        let result = plan(&options).await;
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    const CUSTOMER: &str = "apiVersion: operatorconnect.io/v1alpha1
kind: OCCustomer
metadata: {name: contoso}
spec:
  platformRef: {name: p}
  tenantId: 0b7e6c1a-2f3d-4e5b-8a9c-1d2e3f4a5b6c
  companyName: Contoso
  shortName: contoso
  fullName: Contoso Ltd
  license: {type: OcEssentials}
";

    #[tokio::test]
    async fn manifests_without_their_platform_are_refused_with_what_to_add() {
        let error = plan_of_files(&[("customer.yaml", CUSTOMER)])
            .await
            .unwrap_err();
        assert!(matches!(error, Error::NoPlatform), "{error}");
        assert!(error.to_string().contains("platform.yaml"), "{error}");
    }

    #[tokio::test]
    async fn an_invalid_manifest_is_named_with_its_file() {
        let broken = CUSTOMER.replace("license: {type: OcEssentials}", "license: {type: Gold}");
        let error = plan_of_files(&[("a.yaml", "kind: Kustomization\n"), ("b.yaml", &broken)])
            .await
            .unwrap_err();
        let said = error.to_string();
        assert!(matches!(error, Error::Invalid { .. }), "{said}");
        assert!(
            said.contains("OCCustomer contoso") && said.contains("b.yaml"),
            "{said}"
        );
    }
}
