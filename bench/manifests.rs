//! The manifests of a benchmark's workload: per customer an OCCustomer and an
//! OCNumberBlock (the basic workload), and for the whole workload a SIP connection
//! with its carrier password Secret, a dial plan and end users besides.

use kube::api::Api;
use oc_operator::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};
use serde_json::json;

use super::harness::apply_retrying;
use super::readiness::Readiness;
use super::scripts::{self, Workload};

/// How many objects of a workload are Ready, against how many it has.
#[derive(Debug, PartialEq, Eq)]
pub struct Onboarding {
    /// Ready customers, blocks, SIP connections, dial plans and end users.
    ready: [usize; 5],
    /// How many of each the workload has.
    declared: [usize; 5],
}

impl Onboarding {
    /// Counts the Ready objects of `customers` customers of `work`, as `readiness` saw
    /// them last.
    pub fn of(readiness: &Readiness, customers: usize, work: Workload) -> Self {
        let sites = if work.full.is_some() { customers } else { 0 };
        let users = customers * work.full.unwrap_or(0);
        Self {
            ready: [
                readiness.ready_names::<OCCustomer>().len(),
                readiness.ready_names::<OCNumberBlock>().len(),
                readiness.ready_names::<OCSipConnection>().len(),
                readiness.ready_names::<OCDialPlan>().len(),
                readiness.ready_names::<OCEndUser>().len(),
            ],
            declared: [customers, customers, sites, sites, users],
        }
    }

    /// Whether every object is Ready.
    pub fn is_done(&self) -> bool {
        self.ready == self.declared
    }
}

impl std::fmt::Display for Onboarding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [c, b, s, d, u] = self.ready;
        let [dc, db, ds, dd, du] = self.declared;
        write!(
            f,
            "Ready: customers {c}/{dc}, blocks {b}/{db}, SIP connections {s}/{ds}, dial plans {d}/{dd}, end users {u}/{du}"
        )
    }
}

/// How many customers' objects are applied at once: a GitOps tool syncing a
/// repository applies in parallel too, and one apply at a time left the apiserver's
/// second core idle (1,000 customers took 67 s to declare, 10,000 would take longer
/// than the platform's floor at 200 requests a second).
const APPLIED_AT_ONCE: usize = 8;

/// Applies customers `0..customers` and their objects, [`APPLIED_AT_ONCE`] at a time.
pub async fn apply_customers(
    client: &kube::Client,
    ns: &str,
    customers: usize,
    work: Workload,
) -> Result<(), Box<dyn std::error::Error>> {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(0..customers)
        .map(|i| apply_customer(client, ns, i, work))
        .buffer_unordered(APPLIED_AT_ONCE)
        .try_collect()
        .await
}

/// Applies customer `i` and its objects (see [`Workload`]).
async fn apply_customer(
    client: &kube::Client,
    ns: &str,
    i: usize,
    work: Workload,
) -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("c{i}");
    let api = |kind: &str| {
        let (group, version) = ("operatorconnect.io", "v1alpha1");
        let resource = kube::api::ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: format!("{group}/{version}"),
            kind: kind.into(),
            plural: format!("{}s", kind.to_ascii_lowercase()),
        };
        Api::<kube::api::DynamicObject>::namespaced_with(client.clone(), ns, &resource)
    };
    let object = |kind: &str, name: &str, spec: serde_json::Value| json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec});
    let license = match work.full {
        Some(_) => json!({"type": "OcEssentialsPlus", "count": scripts::LICENSES}),
        None => json!({"type": "OcEssentials"}),
    };
    let mut customer = json!({"platformRef": {"name": "bench"}, "tenantId": scripts::tenant(i),
        "companyName": format!("Company {i}"), "shortName": format!("cust{i}"),
        "fullName": format!("Customer {i}"), "license": license});
    if work.full.is_some() {
        customer["channelId"] = json!(scripts::CHANNEL);
    }
    apply_retrying(
        &api("OCCustomer"),
        &name,
        object("OCCustomer", &name, customer),
    )
    .await?;
    let base = scripts::first_number(i);
    let mut block = json!({
        "customerRef": {"name": name}, "callingProfileId": "a3f1e2d4-6b7c-4d8e-9f0a-1b2c3d4e5f60", "usage": "CallingUserAssignment",
    });
    let declared = declared_numbers(base, work.numbers);
    block["ranges"] = declared["ranges"].clone();
    block["numbers"] = declared["numbers"].clone();
    apply_retrying(
        &api("OCNumberBlock"),
        &name,
        object("OCNumberBlock", &name, block),
    )
    .await?;
    let Some(users) = work.full else {
        return Ok(());
    };
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), ns);
    apply_retrying(
        &secrets,
        &name,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
        "stringData": {"password": "carrier"}}),
    )
    .await?;
    apply_retrying(
        &api("OCSipConnection"),
        &name,
        object(
            "OCSipConnection",
            &name,
            json!({
        "customerRef": {"name": name}, "siteName": format!("Site{i}"), "sbcId": scripts::SBC,
        "onboardingScript": scripts::ONBOARDING_SCRIPT, "cleanupScript": scripts::CLEANUP_SCRIPT,
        "carrierPasswordSecretRef": {"name": name, "key": "password"}}),
        ),
    )
    .await?;
    let rules: Vec<serde_json::Value> = scripts::rules()
        .iter()
        .map(|r| json!({"name": r.name, "prefix": r.prefix, "tag": r.tag}))
        .collect();
    apply_retrying(&api("OCDialPlan"), &name, object("OCDialPlan", &name, json!({
        "customerRef": {"name": name}, "sipConnectionRef": {"name": name}, "dialPlanId": "main", "rules": rules}))).await?;
    for u in 0..users {
        let user = format!("{name}-u{u}");
        apply_retrying(&api("OCEndUser"), &user, object("OCEndUser", &user, json!({
            "customerRef": {"name": name}, "sipAddress": scripts::user(i, u),
            "lineUri": format!("tel:+{}", base + u as u64), "usageLocation": "US", "enterpriseVoiceEnabled": true}))).await?;
    }
    Ok(())
}

/// `count` numbers from `base` as the schema admits them: ranges of at most 10,000
/// (a range differs only in its last four digits), at most 50 of them, and the rest
/// listed one by one (at most 5,000): 505,000 numbers at most.
pub fn declared_numbers(base: u64, count: usize) -> serde_json::Value {
    const RANGE: u64 = 10_000;
    const RANGES: u64 = 50;
    let count = count as u64;
    let in_ranges = count.min(RANGE * RANGES);
    let ranges: Vec<serde_json::Value> = (0..in_ranges)
        .step_by(RANGE as usize)
        .map(|from| {
            let to = (from + RANGE).min(in_ranges) - 1;
            json!({"start": format!("+{}", base + from), "end": format!("+{}", base + to)})
        })
        .collect();
    let listed: Vec<String> = (in_ranges..count)
        .map(|n| format!("+{}", base + n))
        .collect();
    json!({"ranges": ranges, "numbers": listed})
}
