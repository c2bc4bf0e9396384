//! Fairness benchmark: while one namespace onboards B customers (the basic workload:
//! a customer and a block of N numbers each) at the platform's budget, new tenants
//! arrive in a second namespace, one every I milliseconds, L of them: one OCCustomer
//! each. Measures, per arriving tenant, the time from its `kubectl apply` to its first
//! call reaching the platform (the simulator's journal) and to Ready, and how far the
//! bulk onboarding got meanwhile. On the real local control plane, with the release
//! binaries of the simulator and the operator each in its own process (the operator
//! watching every namespace, as a platform shared by tenants is run).
//!
//! In the same run, on a fresh simulator with the same settings, the concurrent script
//! (bench/scripts.rs) onboards the same B customers through one client, and the same
//! L tenants arrive at the same pace through that client; a sequential script takes
//! arriving tenants after the customers queued before them, so its figure is its
//! measured time per customer times the customers still ahead (it runs over the first
//! few customers only).
//!
//!   cargo build --release --workspace --bins --examples
//!   ./target/release/examples/fairness [bulk=1000] [numbers=100] [arriving=50] [every-ms=2000] [rate=20] [burst=40]
//!
//! Not part of the tests: figures are recorded in bench/README.md.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube::api::Api;
use liveplatform_sim::Seed;
use liveplatform_sim::admin_client::AdminClient;
use oc_operator::api::{OCCustomer, OCNumberBlock, conditions};
use serde_json::json;

use oc_dev::harness::*;
use oc_dev::scripts::{self, Workload};

/// The namespace of the bulk onboarding (the operator's Secrets live there too).
const BULK: &str = "bulk";
/// The namespace the tenants arrive in.
const ARRIVING: &str = "arriving";
/// The bulk onboards for this long before the first tenant arrives, in both runs.
const WARM_UP: Duration = Duration::from_secs(30);
/// Customers the sequential script is timed over.
const SEQUENTIAL_SAMPLE: usize = 10;

/// The index of arriving tenant `k` among the scripts' tenants (far from the bulk's).
fn arriving_index(k: usize) -> usize {
    100_000 + k
}

/// p50, p99 and max of `samples`, in seconds.
fn quantiles(samples: &[Duration]) -> String {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    if sorted.is_empty() {
        return "no sample".into();
    }
    let pick = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64();
    format!(
        "p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        pick(0.5),
        pick(0.99),
        pick(1.0)
    )
}

struct Args {
    bulk: usize,
    numbers: usize,
    arriving: usize,
    every: Duration,
    rate: f64,
    burst: u32,
}

impl Args {
    fn parse() -> Self {
        let args: Vec<String> = std::env::args().collect();
        let at = |i: usize| args.get(i).and_then(|a| a.parse::<u64>().ok());
        Args {
            bulk: at(1).map_or(1000, |v| v as usize),
            numbers: at(2).map_or(100, |v| v as usize),
            arriving: at(3).map_or(50, |v| v as usize),
            every: Duration::from_millis(at(4).unwrap_or(2000)),
            rate: args.get(5).and_then(|a| a.parse().ok()).unwrap_or(20.0),
            burst: at(6).map_or(40, |v| v as u32),
        }
    }
}

/// What the operator's run measured.
struct OperatorRun {
    first_call: Vec<Duration>,
    ready: Vec<Duration>,
    bulk_ready_before: usize,
    bulk_ready_after: usize,
    calls_per_second: f64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let seed = Seed {
        accept_any_tenant: true,
        task_delay_ms: 500,
        requests_per_second: args.rate,
        burst: args.burst,
        ..Seed::default()
    };
    let bin = operator_binary()?;
    let dir = std::env::temp_dir().join(format!("oc-fairness-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!(
        "budget {} requests/s, burst {}; tasks of {} ms; {} customers with {} numbers each onboarding in one namespace; {} tenants arriving in another, one every {} ms, from {} s on",
        args.rate,
        args.burst,
        seed.task_delay_ms,
        args.bulk,
        args.numbers,
        args.arriving,
        args.every.as_millis(),
        WARM_UP.as_secs()
    );

    let operator = operator_run(&args, &seed, &bin, &dir).await?;
    let (script_first, script_done, script_bulk_done) =
        concurrent_script_run(&args, &seed, &bin, &dir).await?;
    let per_customer = sequential_script_time(&seed, &bin, &dir, args.numbers).await?;
    let _ = std::fs::remove_dir_all(&dir);

    println!();
    println!(
        "| contender | arriving tenant: apply to first platform call | arriving tenant: apply to Ready (onboarded) | bulk customers done while they arrived |"
    );
    println!("|---|---|---|---|");
    println!(
        "| **the operator** | **{}** | **{}** | {} to {} of {} Ready ({:.1} calls/s) |",
        quantiles(&operator.first_call),
        quantiles(&operator.ready),
        operator.bulk_ready_before,
        operator.bulk_ready_after,
        args.bulk,
        operator.calls_per_second
    );
    println!(
        "| a concurrent script (one client for all) | {} | {} | {script_bulk_done} of {} when the last was onboarded |",
        quantiles(&script_first),
        quantiles(&script_done),
        args.bulk
    );
    // The sequential script takes an arriving tenant after every customer queued
    // before it: the first arrives behind the whole bulk but what was done in the
    // warm-up.
    let done_in_warm_up = (WARM_UP.as_secs_f64() / per_customer.as_secs_f64()).floor() as usize;
    let ahead = args.bulk.saturating_sub(done_in_warm_up);
    // Tenant k waits for those customers and the k tenants before it, less the time
    // since the first arrived; its own onboarding is counted as one customer's.
    let first: Vec<Duration> = (0..args.arriving)
        .map(|k| (per_customer * (ahead + k) as u32).saturating_sub(args.every * k as u32))
        .collect();
    let done: Vec<Duration> = first.iter().map(|f| *f + per_customer).collect();
    println!(
        "| a sequential script ({:.1} s per customer, measured over {SEQUENTIAL_SAMPLE}; {ahead} customers ahead of the first tenant; derived) | {} | {} | (one at a time) |",
        per_customer.as_secs_f64(),
        quantiles(&first),
        quantiles(&done),
    );
    Ok(())
}

/// The operator: the bulk in one namespace, tenants arriving in another.
async fn operator_run(
    args: &Args,
    seed: &Seed,
    bin: &std::path::Path,
    dir: &std::path::Path,
) -> Result<OperatorRun, Box<dyn std::error::Error>> {
    let plane = testenv::shared().map_err(|e| format!("control plane: {e}"))?;
    let client = plane.client().await?;
    let (simulator, sim_addr) = start_simulator(bin, seed, dir)?;
    let admin = AdminClient::new(&url::Url::parse(&format!("http://{sim_addr}/admin"))?);
    bench_platform(&client, &[BULK, ARRIVING], &sim_addr, args.rate, args.burst).await?;

    admin.start_journal().await?;
    let operator = start_operator(bin, plane.kubeconfig(), BULK, false)?;
    let started = Instant::now();
    let customers: Api<OCCustomer> = Api::namespaced(client.clone(), BULK);
    let blocks: Api<OCNumberBlock> = Api::namespaced(client.clone(), BULK);
    for i in 0..args.bulk {
        let name = format!("c{i}");
        apply_retrying(&customers, &name, json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCCustomer", "metadata": {"name": name},
            "spec": {"platformRef": {"name": "bench"}, "tenantId": scripts::tenant(i), "companyName": format!("Company {i}"),
                     "shortName": format!("cust{i}"), "fullName": format!("Customer {i}"), "license": {"type": "OcEssentials"}}})).await?;
        let base = scripts::first_number(i);
        apply_retrying(&blocks, &name, json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCNumberBlock", "metadata": {"name": name},
            "spec": {"customerRef": {"name": name}, "callingProfileId": "a3f1e2d4-6b7c-4d8e-9f0a-1b2c3d4e5f60", "usage": "CallingUserAssignment",
                     "ranges": [{"start": format!("+{base}"), "end": format!("+{}", base + args.numbers as u64 - 1)}]}})).await?;
    }
    println!(
        "operator: {} bulk customers applied in {:.1} s",
        args.bulk,
        started.elapsed().as_secs_f64()
    );
    if let Some(rest) = WARM_UP.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let bulk_ready_before = count_ready(&customers).await;

    // The tenants arrive; each is timed from its apply until it is seen Ready.
    let arriving: Api<OCCustomer> = Api::namespaced(client.clone(), ARRIVING);
    let window_start = jiff::Timestamp::now().as_microsecond();
    let mut applied: BTreeMap<String, (String, i64, Instant)> = BTreeMap::new();
    let mut ready: BTreeMap<String, Duration> = BTreeMap::new();
    let mut next = Instant::now();
    while ready.len() < args.arriving {
        if applied.len() < args.arriving && Instant::now() >= next {
            let k = applied.len();
            let i = arriving_index(k);
            let name = format!("t{k}");
            let at = jiff::Timestamp::now().as_microsecond();
            let when = Instant::now();
            apply_retrying(&arriving, &name, json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCCustomer", "metadata": {"name": name},
                "spec": {"platformRef": {"name": "bench"}, "tenantId": scripts::tenant(i), "companyName": format!("Tenant {k}"),
                         "shortName": format!("tenant{k}"), "fullName": format!("Tenant {k}"), "license": {"type": "OcEssentials"}}})).await?;
            applied.insert(name, (scripts::tenant(i), at, when));
            next += args.every;
        }
        for c in arriving.list(&Default::default()).await?.items {
            let name = c.metadata.name.clone().unwrap_or_default();
            let is_ready = c.status.as_ref().is_some_and(|s| {
                conditions::is_true_for(
                    &s.reconcile.conditions,
                    conditions::READY,
                    c.metadata.generation,
                )
            });
            if let (true, Some((_, _, when))) = (is_ready, applied.get(&name)) {
                ready.entry(name).or_insert_with(|| when.elapsed());
            }
        }
        if started.elapsed() > Duration::from_secs(3600) {
            return Err(format!(
                "arriving tenants not Ready after an hour: {} of {}",
                ready.len(),
                args.arriving
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let window_end = jiff::Timestamp::now().as_microsecond();
    let bulk_ready_after = count_ready(&customers).await;
    let journal = admin.journal().await?;
    let calls = journal_calls(&journal);
    let first_call = applied
        .values()
        .filter_map(|(tenant, at, _)| {
            calls
                .iter()
                .filter(|(when, uri)| when >= at && uri.contains(tenant.as_str()))
                .map(|(when, _)| Duration::from_micros((when - at) as u64))
                .min()
        })
        .collect();
    let in_window = calls
        .iter()
        .filter(|(when, _)| (window_start..=window_end).contains(when))
        .count();
    let calls_per_second = in_window as f64 / ((window_end - window_start) as f64 / 1e6);
    print_memory(&operator, &simulator);
    stop_operator(operator);
    stop(simulator);
    Ok(OperatorRun {
        first_call,
        ready: ready.into_values().collect(),
        bulk_ready_before,
        bulk_ready_after,
        calls_per_second,
    })
}

/// The concurrent script: the bulk through one client, tenants arriving through it
/// at the same pace. Returns the arriving tenants' times to their first answer and to
/// done, and how many bulk customers were done when the last tenant was.
async fn concurrent_script_run(
    args: &Args,
    seed: &Seed,
    bin: &std::path::Path,
    dir: &std::path::Path,
) -> Result<(Vec<Duration>, Vec<Duration>, usize), Box<dyn std::error::Error>> {
    let (simulator, addr) = start_simulator(bin, seed, dir)?;
    let budget = liveplatform::contract::Budget {
        per_second: args.rate,
        burst: args.burst,
    };
    let client = scripts::client(&addr, budget)?;
    let task_time = Duration::from_millis(seed.task_delay_ms);
    let work = Workload {
        numbers: args.numbers,
        full: None,
    };
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let bulk = {
        let (client, done) = (client.clone(), done.clone());
        let bulk = args.bulk;
        tokio::spawn(async move {
            scripts::concurrent_counting(&client, bulk, work, task_time, &done).await
        })
    };
    tokio::time::sleep(WARM_UP).await;
    let mut arrivals = Vec::new();
    for k in 0..args.arriving {
        let client = client.clone();
        arrivals.push(tokio::spawn(async move {
            scripts::arriving(&client, arriving_index(k), task_time).await
        }));
        tokio::time::sleep(args.every).await;
    }
    let (mut first, mut onboarded) = (Vec::new(), Vec::new());
    for arrival in arrivals {
        let (f, d) = arrival.await??;
        first.push(f);
        onboarded.push(d);
    }
    let bulk_done = done.load(std::sync::atomic::Ordering::Relaxed);
    bulk.abort();
    stop(simulator);
    Ok((first, onboarded, bulk_done))
}

/// The sequential script's time per customer, over the first few.
async fn sequential_script_time(
    seed: &Seed,
    bin: &std::path::Path,
    dir: &std::path::Path,
    numbers: usize,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let (simulator, addr) = start_simulator(bin, seed, dir)?;
    let budget = liveplatform::contract::Budget {
        per_second: seed.requests_per_second,
        burst: seed.burst,
    };
    let client = scripts::client(&addr, budget)?;
    let work = Workload {
        numbers,
        full: None,
    };
    let took = scripts::sequential(&client, SEQUENTIAL_SAMPLE, work).await?;
    stop(simulator);
    Ok(took / SEQUENTIAL_SAMPLE as u32)
}
