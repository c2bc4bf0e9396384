//! Load benchmark: N customers with one block of M numbers each (the basic workload),
//! or with the whole workload (a channel, OC Essentials Plus, a SIP connection, a dial
//! plan with two rules and U end users besides), on the real local control plane,
//! with the simulator and the operator each in its own process (the release binary,
//! as deployed). Measures the time until every object is Ready, the platform calls it
//! took, the numbers listings per customer, the calls after Ready and after a cold
//! restart, deletion time, and the peak and resting memory of the operator process
//! and of the simulator process.
//!
//!   cargo build --release --workspace --bins --examples
//!   ./target/release/examples/load [customers] [numbers-per-customer] [keep|delete] [rate] [burst] [users|-] [scripts|no-scripts]
//!
//! With `keep`, the objects are left in place (no deletion phase). The platform's
//! budget (the simulator's, and the OCPlatform's) is the reference's 20 requests a
//! second with a burst of 40 unless `rate` and `burst` say otherwise. `users` (a
//! number) selects the whole workload with that many end users per customer; `-`
//! the basic one. After the operator, a sequential and a concurrent script
//! (bench/scripts.rs) do the same work on fresh simulators with the same settings
//! (unless `no-scripts`), and the floor T* = (customers x minimal calls - burst) /
//! rate is printed beside them (`concurrent`: the concurrent script only;
//! `OC_BENCH_SEQUENTIAL_SAMPLE=K`: the sequential script over the first K customers,
//! its time scaled to all of them, since it makes one call at a time).
//!
//! Not part of the tests: figures are recorded in bench/README.md.

use std::path::Path;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use liveplatform_sim::Seed;
use liveplatform_sim::admin_client::{AdminClient, platform_calls_of, total_of};
use oc_operator::api::{OCCustomer, OCNumberBlock};
use serde_json::json;

use oc_dev::harness::*;
use oc_dev::manifests::{Onboarding, apply_customers};
use oc_dev::readiness::Readiness;
use oc_dev::scripts::{self, Workload};

/// What a run measured up to Ready and the quiet minute.
struct Report {
    customers: usize,
    per_customer: usize,
    numbers: usize,
    created: Duration,
    ready: Duration,
    total_calls: u64,
    /// Calls to Entra ID (tokens, tenant validations): outside the platform's budget.
    identity_calls: u64,
    uploads: u64,
    listings: u64,
    tail_calls: u64,
    quiet_calls: u64,
    polls: u64,
    tasks: u64,
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
        println!(
            "Entra ID calls until Ready (tokens, tenant validations; not platform calls, outside its budget): {} ({:.1} per customer)",
            self.identity_calls,
            per(self.identity_calls)
        );
        println!(
            "task polls until Ready: {} for {} tasks ({:.2} per task)",
            self.polls,
            self.tasks,
            self.polls as f64 / self.tasks.max(1) as f64
        );
        println!(
            "after Ready: {} platform calls in the first 10 s, {} in the 50 s after them",
            self.tail_calls, self.quiet_calls
        );
    }
}

/// A memory figure of process `pid` from /proc (`VmHWM`: peak, `VmRSS`: now), in MiB.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let customers: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let per_customer: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let keep = args.get(3).is_some_and(|a| a == "keep");
    let rate: f64 = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(20.0);
    let burst: u32 = args.get(5).and_then(|a| a.parse().ok()).unwrap_or(40);
    let work = Workload {
        numbers: per_customer,
        full: args.get(6).and_then(|a| a.parse().ok()),
    };
    // `no-scripts`, `concurrent` (the concurrent script only: the sequential one takes
    // about ten times the operator at 1,000 customers), or both scripts.
    let run_scripts = args.get(7).is_none_or(|a| a != "no-scripts");
    let sequential_too = args.get(7).is_none_or(|a| a != "concurrent");
    let ns = "bench";

    let plane = testenv::shared().map_err(|e| format!("control plane: {e}"))?;
    let client = plane.client().await?;
    let seed = Seed {
        accept_any_tenant: true,
        task_delay_ms: 500,
        requests_per_second: rate,
        burst,
        ..Seed::default()
    };
    let bin = operator_binary()?;
    let dir = std::env::temp_dir().join(format!("oc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (simulator, sim_addr) = start_simulator(&bin, &seed, &dir)?;
    let admin = AdminClient::new(&url::Url::parse(&format!("http://{sim_addr}/admin"))?);
    bench_platform(&client, &[ns], &sim_addr, rate, burst).await?;

    let readiness = Readiness::watch(&client, ns);
    let requests_before = apiserver_requests(&client).await;
    let cpu_before = ControlPlaneCpu::now();
    admin.start_journal().await?;
    let operator = start_operator(&bin, plane.kubeconfig(), ns, true)?;
    let started = Instant::now();
    let customer_api: Api<OCCustomer> = Api::namespaced(client.clone(), ns);
    let block_api: Api<OCNumberBlock> = Api::namespaced(client.clone(), ns);
    apply_customers(&client, ns, customers, work).await?;
    let created = started.elapsed();
    let mut spec_changes = SpecChanges::for_customers(customers);
    loop {
        if per_customer < 10_000 {
            spec_changes.sample(&readiness, &block_api).await;
        }
        if Onboarding::of(&readiness, customers, work).is_done() {
            break;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            let ready = Onboarding::of(&readiness, customers, work);
            return Err(format!("not Ready after an hour: {ready}").into());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ready = started.elapsed();
    readiness.stop();
    let counters = admin.counters().await?;
    // The benchmark's own writes are among them: its server-side applies of each
    // object and its spec changes.
    print_apiserver_requests(
        &requests_before,
        &apiserver_requests(&client).await,
        customers,
    );
    cpu_before.print_since(customers);
    let journal = admin.journal().await?;
    spec_changes.report(&journal);
    if let Ok(path) = std::env::var("OC_BENCH_JOURNAL") {
        // Every API request until Ready, for a closer look (one JSON array).
        std::fs::write(&path, serde_json::to_vec(&journal)?)?;
    }
    let all_calls = total_of(&counters);
    let total_calls = platform_calls_of(&counters);
    let identity_calls = all_calls - total_calls;
    let listings = counters["GET /v3/oc/numbers"]["total"]
        .as_u64()
        .unwrap_or(0);
    let uploads = counters["POST /v2/oc/numbers/action/upload"]["total"]
        .as_u64()
        .unwrap_or(0);
    let numbers = admin.state().await?["numbers"]
        .as_object()
        .map_or(0, |m| m.len());
    let by_call = calls_by_endpoint(&counters);
    for (n, call) in &by_call {
        println!("  until Ready: {call}: {n}");
    }
    let polls = counters["GET /v2/task/{task_id}"]["total"]
        .as_u64()
        .unwrap_or(0);
    let tasks = [
        "POST /v3/customer",
        "POST /v2/customer/{guid}/action/upgrade",
        "POST /v2/oc/numbers/action/upload",
        "POST /v2/customer/{guid}/sitelocation/",
        "POST /v2/customer/{guid}/sitelocation",
        "PUT /v2/customer/{guid}/user/{sip}/script",
    ]
    .iter()
    .map(|call| counters[*call]["total"].as_u64().unwrap_or(0))
    .sum();

    // Steady state: the calls of the minute after Ready, in two parts: the first
    // 10 s (reconciles already under way when the last object turned Ready) and the
    // 50 s after them.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let settled = admin.counters().await?;
    tokio::time::sleep(Duration::from_secs(50)).await;
    let quiet = admin.counters().await?;
    for (part, from, to) in [
        ("first 10 s", &counters, &settled),
        ("last 50 s", &settled, &quiet),
    ] {
        for (call, counts) in to.as_object().into_iter().flatten() {
            let then = from[call]["total"].as_u64().unwrap_or(0);
            let now = counts["total"].as_u64().unwrap_or(0);
            if now > then {
                println!(
                    "  in the minute after Ready, {part}: {call}: {}",
                    now - then
                );
            }
        }
    }

    let report = Report {
        customers,
        per_customer,
        numbers,
        created,
        ready,
        total_calls,
        identity_calls,
        uploads,
        listings,
        tail_calls: total_of(&settled).saturating_sub(all_calls),
        quiet_calls: total_of(&quiet).saturating_sub(total_of(&settled)),
        polls,
        tasks,
    };
    // A cold restart: a new operator process over the same Ready objects.
    print_memory(&operator, &simulator);
    stop_operator(operator);
    let before = admin.counters().await?;
    let operator = start_operator(&bin, plane.kubeconfig(), ns, true)?;
    let restarted = Instant::now();
    let watch_restart = std::env::var("OC_BENCH_RESTART_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    tokio::time::sleep(Duration::from_secs(watch_restart)).await;
    let after = admin.counters().await?;
    let (mut reads, mut writes) = (0, 0);
    for (call, counts) in after.as_object().into_iter().flatten() {
        let n = counts["total"].as_u64().unwrap_or(0) - before[call]["total"].as_u64().unwrap_or(0);
        if n > 0 {
            println!("  after the restart: {call}: {n}");
            if call.starts_with("GET ") {
                reads += n;
            } else {
                writes += n;
            }
        }
    }
    println!(
        "cold restart: {reads} reads and {writes} writes in the {:.0} s after it",
        restarted.elapsed().as_secs_f64()
    );
    if keep {
        report.print();
        print_memory(&operator, &simulator);
        stop_operator(operator);
        stop(simulator);
        if run_scripts {
            contenders(&bin, &seed, &dir, customers, work, ready, sequential_too).await?;
        }
        let _ = std::fs::remove_dir_all(&dir);
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
    print_memory(&operator, &simulator);
    stop_operator(operator);
    stop(simulator);
    if run_scripts {
        contenders(&bin, &seed, &dir, customers, work, ready, sequential_too).await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Spec changes made while customers onboard, and the time from each to the first
/// platform call for its tenant (from the simulator's journal).
struct SpecChanges {
    /// How many changes are made.
    wanted: usize,
    /// (tenant, when the change was accepted, in microseconds since the epoch)
    made: Vec<(String, i64)>,
}

impl SpecChanges {
    /// One change for every 20 customers (50 at 1,000): each adds a number to upload,
    /// work the scripts do not do, so it stays a small, equal share of the workload
    /// at every size (50 changes at 100 customers were 6 % of the operator's calls).
    fn for_customers(customers: usize) -> Self {
        Self {
            wanted: (customers / 20).max(1),
            made: Vec::new(),
        }
    }

    /// Adds one number to a Ready block not changed yet (the next number of its
    /// customer's range): a new generation, whose first call lists the tenant's
    /// numbers.
    async fn sample(&mut self, readiness: &Readiness, blocks: &Api<OCNumberBlock>) {
        if self.made.len() >= self.wanted {
            return;
        }
        let changed: std::collections::HashSet<String> =
            self.made.iter().map(|(t, _)| t.clone()).collect();
        let candidate = readiness
            .ready_names::<OCNumberBlock>()
            .into_iter()
            .find_map(|name| {
                let i: usize = name.strip_prefix('c')?.parse().ok()?;
                let tenant = scripts::tenant(i);
                (!changed.contains(&tenant)).then_some((name, i, tenant))
            });
        let Some((name, i, tenant)) = candidate else {
            return;
        };
        let number = format!("+{}", scripts::first_number(i) + 9_999);
        let patch = json!({"spec": {"numbers": [number]}});
        if blocks
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .is_ok()
        {
            self.made
                .push((tenant, jiff::Timestamp::now().as_microsecond()));
        }
    }

    fn report(&self, journal: &serde_json::Value) {
        let calls = journal_calls(journal);
        let mut latencies: Vec<i64> = self
            .made
            .iter()
            .filter_map(|(tenant, at)| {
                calls
                    .iter()
                    .filter(|(when, uri)| when >= at && uri.contains(tenant.as_str()))
                    .map(|(when, _)| when - at)
                    .min()
            })
            .collect();
        latencies.sort_unstable();
        if latencies.is_empty() {
            println!("spec change to first platform call: no sample");
            return;
        }
        let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
        println!(
            "spec change to first platform call, {} changes while customers onboard: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            latencies.len(),
            pick(0.5) as f64 / 1000.0,
            pick(0.99) as f64 / 1000.0,
            pick(1.0) as f64 / 1000.0
        );
    }
}

/// The sequential and the concurrent script on fresh simulators with `seed`, beside
/// the floor and the operator's time to Ready.
async fn contenders(
    bin: &Path,
    seed: &Seed,
    dir: &Path,
    customers: usize,
    work: Workload,
    operator: Duration,
    sequential_too: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let budget = liveplatform::contract::Budget {
        per_second: seed.requests_per_second,
        burst: seed.burst,
    };
    let minimal = work.minimal_calls();
    let floor =
        ((customers * minimal) as f64 - f64::from(seed.burst)).max(0.0) / seed.requests_per_second;
    let task_time = Duration::from_millis(seed.task_delay_ms);
    println!(
        "budget {} requests/s, burst {}; tasks of {} ms; floor T* = ({customers} x {minimal} - {}) / {} = {floor:.1} s",
        seed.requests_per_second,
        seed.burst,
        seed.task_delay_ms,
        seed.burst,
        seed.requests_per_second
    );
    let row = |name: &str, took: Duration, calls: Option<u64>| {
        let calls = calls
            .map(|c| format!("{:.1}", c as f64 / customers as f64))
            .unwrap_or_else(|| "see above".into());
        println!(
            "| {name} | {:.1} s | {:.2} x T* | {calls} |",
            took.as_secs_f64(),
            took.as_secs_f64() / floor.max(0.001)
        );
    };
    println!("| contender | time to done | ratio to the floor | platform calls per customer |");
    println!("|---|---|---|---|");
    row("the operator", operator, None);
    for concurrent in [false, true] {
        if !concurrent && !sequential_too {
            continue;
        }
        let (simulator, addr) = start_simulator(bin, seed, dir)?;
        let admin = AdminClient::new(&url::Url::parse(&format!("http://{addr}/admin"))?);
        let client = scripts::client(&addr, budget)?;
        // The sequential script makes one call at a time, so its time grows by the
        // same amount per customer: `OC_BENCH_SEQUENTIAL_SAMPLE=K` runs it over the
        // first K customers and scales its time (and calls) to all of them.
        let sample = if concurrent {
            customers
        } else {
            std::env::var("OC_BENCH_SEQUENTIAL_SAMPLE")
                .ok()
                .and_then(|k| k.parse::<usize>().ok())
                .map_or(customers, |k| k.clamp(1, customers))
        };
        let scale = customers as f64 / sample as f64;
        let took = if concurrent {
            scripts::concurrent(&client, customers, work, task_time).await?
        } else {
            scripts::sequential(&client, sample, work)
                .await?
                .mul_f64(scale)
        };
        let calls = (platform_calls_of(&admin.counters().await?) as f64 * scale).round() as u64;
        let name = if concurrent {
            "a concurrent script".to_owned()
        } else if sample < customers {
            format!("a sequential script (the first {sample} customers, time x {scale:.0})")
        } else {
            "a sequential script".to_owned()
        };
        row(&name, took, Some(calls));
        stop(simulator);
    }
    Ok(())
}
