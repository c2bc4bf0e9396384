//! Load benchmark: N customers with one block of M numbers each, on the real local
//! control plane and the simulator, reconciled by the operator in this process.
//! Measures the time until every object is Ready, the platform calls it took, the
//! numbers listings per customer, deletion time, and the peak memory of the process
//! (operator and simulator together).
//!
//!   cargo run --release --example load -- [customers] [numbers-per-customer] [keep]
//!
//! With `keep`, the objects are left in place (no deletion phase).
//!
//! Not part of the tests: figures are recorded in bench/README.md.

use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use oc_operator::api::{OCCustomer, OCNumberBlock, OCPlatform, conditions};
use oc_operator::controller::{self, Context, OperatorConfig};
use oc_operator::simulator::admin_client::AdminClient;
use oc_operator::simulator::seed::{SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SP_TENANT};
use oc_operator::simulator::{Faults, Seed, Simulator};
use serde_json::json;

/// What a run measured up to Ready and the quiet minute.
struct Report {
    customers: usize,
    per_customer: usize,
    numbers: usize,
    created: Duration,
    ready: Duration,
    total_calls: u64,
    uploads: u64,
    listings: u64,
    quiet_calls: u64,
}

impl Report {
    fn print(&self) {
        let per = |n: u64| n as f64 / self.customers as f64;
        println!(
            "customers: {}, numbers per customer: {}, numbers: {}",
            self.customers, self.per_customer, self.numbers
        );
        println!(
            "objects created in {:.1} s; all Ready after {:.1} s",
            self.created.as_secs_f64(),
            self.ready.as_secs_f64()
        );
        println!(
            "platform calls until Ready: {} ({:.1} per customer); uploads: {}; numbers listings: {} ({:.2} per customer)",
            self.total_calls,
            per(self.total_calls),
            self.uploads,
            self.listings,
            per(self.listings)
        );
        println!("steady state: {} platform calls in 60 s", self.quiet_calls);
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Server-side apply, tried again on a transient error (a busy apiserver may drop a
/// connection under this load).
async fn apply_retrying<K>(
    api: &Api<K>,
    name: &str,
    value: serde_json::Value,
) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let params = PatchParams::apply("bench").force();
    let mut attempt = 0;
    loop {
        match api.patch(name, &params, &Patch::Apply(&value)).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt < 5 => {
                attempt += 1;
                eprintln!("retrying apply of {name}: {e}");
                tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn count_ready<K>(api: &Api<K>) -> usize
where
    K: controller::kind::Kind + kube::Resource,
{
    api.list(&Default::default())
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|o| {
                    o.status().is_some_and(|s| {
                        conditions::is_true_for(
                            K::conditions(s),
                            conditions::READY,
                            o.meta().generation,
                        )
                    })
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let customers: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let per_customer: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let keep = args.get(3).is_some_and(|a| a == "keep");
    let ns = "bench";

    let plane = oc_operator::testenv::shared().map_err(|e| format!("control plane: {e}"))?;
    let client = plane.client().await?;
    let seed = Seed {
        accept_any_tenant: true,
        task_delay_ms: 500,
        requests_per_second: 1000.0,
        burst: 1000,
        ..Seed::default()
    };
    let sim = Simulator::start("127.0.0.1:0".parse()?, seed, Faults::default()).await?;
    let admin = AdminClient::new(&sim.admin_url());

    let apply = PatchParams::apply("bench").force();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            ns,
            &apply,
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            ),
        )
        .await?;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), ns);
    secrets
        .patch(
            "credentials",
            &apply,
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "credentials"},
            "stringData": {"clientId": SANDBOX_CLIENT_ID, "clientSecret": SANDBOX_CLIENT_SECRET}}),
            ),
        )
        .await?;
    let platforms: Api<OCPlatform> = Api::all(client.clone());
    platforms
        .patch("bench", &apply, &Patch::Apply(json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCPlatform", "metadata": {"name": "bench"},
            "spec": {"baseUrl": sim.base_url().as_str(), "identityBaseUrl": sim.identity_base().as_str(), "serviceProviderTenantId": SANDBOX_SP_TENANT,
                     "credentialsSecretRef": {"name": "credentials"}, "allowedNamespaces": [ns], "rateLimit": {"requestsPerSecond": 500, "burst": 500}}})))
        .await?;

    let mut config = OperatorConfig::new(ns);
    config.watch_namespace = Some(ns.into());
    config.task_poll = Duration::from_millis(500);
    config.wait_requeue = Duration::from_secs(1);
    let ctx = Context::new(client.clone(), config);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(controller::run(ctx, async move {
        let _ = stop_rx.await;
    }));

    let started = Instant::now();
    let customer_api: Api<OCCustomer> = Api::namespaced(client.clone(), ns);
    let block_api: Api<OCNumberBlock> = Api::namespaced(client.clone(), ns);
    for i in 0..customers {
        let tenant = format!("{:08x}-0000-4000-8000-{:012x}", i + 1, i + 1);
        let name = format!("c{i}");
        apply_retrying(&customer_api, &name, json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCCustomer", "metadata": {"name": name},
                "spec": {"platformRef": {"name": "bench"}, "tenantId": tenant, "companyName": format!("Company {i}"), "shortName": format!("cust{i}"),
                         "fullName": format!("Customer {i}"), "license": {"type": "OcEssentials"}}}))
            .await?;
        let base = 14_250_000_000u64 + (i as u64) * 10_000;
        apply_retrying(&block_api, &name, json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCNumberBlock", "metadata": {"name": name},
                "spec": {"customerRef": {"name": name}, "callingProfileId": "a3f1e2d4-6b7c-4d8e-9f0a-1b2c3d4e5f60", "usage": "CallingUserAssignment",
                         "ranges": [{"start": format!("+{base}"), "end": format!("+{}", base + per_customer as u64 - 1)}]}}))
            .await?;
    }
    let created = started.elapsed();
    loop {
        let (c, b) = (
            count_ready(&customer_api).await,
            count_ready(&block_api).await,
        );
        if c == customers && b == customers {
            break;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            return Err(format!("not Ready after an hour: {c} customers, {b} blocks").into());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ready = started.elapsed();
    let counters = admin.counters().await?;
    let total_calls: u64 = counters
        .as_object()
        .map(|m| m.values().filter_map(|v| v["total"].as_u64()).sum())
        .unwrap_or(0);
    let listings = counters["GET /v3/oc/numbers"]["total"]
        .as_u64()
        .unwrap_or(0);
    let uploads = counters["POST /v2/oc/numbers/action/upload"]["total"]
        .as_u64()
        .unwrap_or(0);
    let numbers = admin.state().await?["numbers"]
        .as_object()
        .map_or(0, |m| m.len());

    // Steady state: calls over a quiet minute.
    let before: u64 = total_calls;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let after: u64 = admin
        .counters()
        .await?
        .as_object()
        .map(|m| m.values().filter_map(|v| v["total"].as_u64()).sum())
        .unwrap_or(0);

    let report = Report {
        customers,
        per_customer,
        numbers,
        created,
        ready,
        total_calls,
        uploads,
        listings,
        quiet_calls: after.saturating_sub(before),
    };
    if keep {
        report.print();
        println!(
            "peak resident memory of the process (operator + simulator + clients): {:.0} MiB",
            peak_rss_mib()
        );
        let _ = stop_tx.send(());
        let _ = operator.await;
        return Ok(());
    }
    let deleting = Instant::now();
    customer_api
        .delete_collection(&DeleteParams::default(), &Default::default())
        .await?;
    while !customer_api
        .list(&Default::default())
        .await?
        .items
        .is_empty()
    {
        if deleting.elapsed() > Duration::from_secs(3600) {
            return Err("customers not deleted after an hour".into());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let deleted = deleting.elapsed();
    let left = admin.state().await?["numbers"]
        .as_object()
        .map_or(0, |m| m.len());

    report.print();
    println!(
        "delete of every customer (blocks released, services deleted): {:.1} s; numbers left: {left}",
        deleted.as_secs_f64()
    );
    println!(
        "peak resident memory of the process (operator + simulator + clients): {:.0} MiB",
        peak_rss_mib()
    );
    let _ = stop_tx.send(());
    let _ = operator.await;
    Ok(())
}
