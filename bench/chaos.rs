//! Faults-and-restarts benchmark: C customers with the whole workload (a lead in a
//! channel, a customer upgraded to OC Essentials Plus, a block of N numbers, a SIP
//! connection, a dial plan with two rules and U end users; U = 0 unless given),
//! onboarded twice on the real local control plane, each time on a fresh simulator
//! at the reference's budget with an operator process watching a namespace of its own:
//! first without faults, then with a platform that answers 10 % of requests 503, and
//! every ten seconds answers a burst of five requests 429 and loses the answer to one
//! write it carried out, while the operator is killed (SIGKILL) K times, once every
//! four seconds, and started again each time.
//!
//! For both runs it prints the time to Ready, the platform calls per customer (by
//! endpoint; calls to Entra ID counted apart, as they are outside the platform's
//! budget), the tenant validations per customer, and the successful writes by
//! endpoint against the actions the workload needs: exactly one each, however many
//! answers were lost.
//!
//!   cargo build --release --workspace --bins --examples
//!   ./target/release/examples/chaos [customers=200] [kills=30] [users=0] [numbers=100] [faults-only]
//!
//! `OC_BENCH_JOURNAL=<file>` writes each run's journal of API requests until Ready to
//! `<file>.<namespace>`. Not part of the tests: figures are recorded in bench/README.md.

use std::process::Child;
use std::time::{Duration, Instant};

use liveplatform_sim::Seed;
use liveplatform_sim::admin_client::{AdminClient, platform_calls_of, total_of};
use oc_operator::api::{OCPlatform, conditions};
use serde_json::{Value, json};

use oc_dev::harness::*;
use oc_dev::manifests::{Onboarding, apply_customers};
use oc_dev::readiness::Readiness;
use oc_dev::scripts::Workload;

/// How often the operator is killed while objects onboard.
const KILL_EVERY: Duration = Duration::from_secs(4);
/// How often a new burst of 429s and a lost answer are set.
const FAULTS_EVERY: Duration = Duration::from_secs(10);
/// The faults of the second run: 10 % 503s at random, and (set again every
/// [`FAULTS_EVERY`]) the next 5 requests answered 429 (Retry-After: 1 s) and the
/// answer to the next write lost after the write was carried out. A burst is counted
/// in requests, not in time: one set every few seconds whatever the traffic would
/// hold a platform with few requests to make throttled for good.
fn faults() -> Value {
    json!({"serverErrorRate": 0.1, "rateLimitBurst": 5, "retryAfterSecs": 1, "dropAfterWriteBurst": 1})
}

/// What one run measured.
struct Run {
    ready: Duration,
    kills: usize,
    counters: Value,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let customers = arg(1, 200);
    let kills = arg(2, 30);
    let work = Workload {
        numbers: arg(4, 100),
        full: Some(arg(3, 0)),
    };
    let plane = testenv::shared().map_err(|e| format!("control plane: {e}"))?;
    let client = plane.client().await?;
    let bin = operator_binary()?;
    let dir = std::env::temp_dir().join(format!("oc-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let mut runs = Vec::new();
    // `faults-only`: the second run alone (to look at it again without the first).
    let phases: &[(&str, bool)] = match args.get(5).map(String::as_str) {
        Some("faults-only") => &[("chaos-faults", true)],
        _ => &[("chaos-clean", false), ("chaos-faults", true)],
    };
    for &(ns, faulty) in phases {
        let (run, operator, simulator) = onboard(
            &client,
            plane.kubeconfig(),
            &bin,
            &dir,
            ns,
            customers,
            work,
            faulty.then_some(kills),
        )
        .await?;
        println!(
            "== {ns}: {customers} customers Ready after {:.1} s, the operator killed {} times",
            run.ready.as_secs_f64(),
            run.kills
        );
        report(&run.counters, customers, work);
        print_memory(&operator, &simulator);
        stop_operator(operator);
        stop(simulator);
        runs.push(run);
    }
    let per_customer = |run: &Run| platform_calls_of(&run.counters) as f64 / customers as f64;
    if let [clean, faulty] = runs.as_slice() {
        println!(
            "platform calls per customer (Entra ID apart): {:.1} without faults, {:.1} with them ({:.2}x)",
            per_customer(clean),
            per_customer(faulty),
            per_customer(faulty) / per_customer(clean)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Onboards `customers` customers of `work` in namespace `ns` on a fresh simulator;
/// with `kills`, under faults and killing the operator that many times. Returns what
/// it measured, and the operator and the simulator still running.
#[allow(clippy::too_many_arguments)]
async fn onboard(
    client: &kube::Client,
    kubeconfig: &std::path::Path,
    bin: &std::path::Path,
    dir: &std::path::Path,
    ns: &str,
    customers: usize,
    work: Workload,
    kills: Option<usize>,
) -> Result<(Run, Child, Child), Box<dyn std::error::Error>> {
    let seed = Seed {
        accept_any_tenant: true,
        task_delay_ms: 500,
        requests_per_second: 20.0,
        burst: 40,
        ..Seed::default()
    };
    let (simulator, sim_addr) = start_simulator(bin, &seed, dir)?;
    let admin = AdminClient::new(&url::Url::parse(&format!("http://{sim_addr}/admin"))?);
    bench_platform(client, &[ns], &sim_addr, 20.0, 40).await?;
    admin.start_journal().await?;
    let mut operator = start_operator(bin, kubeconfig, ns, true)?;
    // The platform is checked before the faults begin, as it is in a deployment that
    // runs: the faults and the kills are the customers' to live through.
    platform_ready(client).await?;
    if kills.is_some() {
        admin.set_faults(faults()).await?;
    }
    let readiness = Readiness::watch(client, ns);
    let started = Instant::now();
    apply_customers(client, ns, customers, work).await?;
    let (mut killed, mut last_kill, mut last_faults) = (0, Instant::now(), Instant::now());
    let mut last_told = Instant::now();
    loop {
        let onboarding = Onboarding::of(&readiness, customers, work);
        if onboarding.is_done() {
            break;
        }
        if last_told.elapsed() >= Duration::from_secs(30) {
            let calls = platform_calls_of(&admin.counters().await?);
            println!(
                "  {ns} after {:.0} s: {onboarding}; {calls} calls, {killed} kills",
                started.elapsed().as_secs_f64()
            );
            last_told = Instant::now();
        }
        if started.elapsed() > Duration::from_secs(3600) {
            let ready = Onboarding::of(&readiness, customers, work);
            return Err(format!("{ns}: not Ready after an hour: {ready}").into());
        }
        if let Some(kills) = kills {
            if killed < kills && last_kill.elapsed() >= KILL_EVERY {
                kill(operator);
                operator = start_operator(bin, kubeconfig, ns, true)?;
                killed += 1;
                last_kill = Instant::now();
            }
            if last_faults.elapsed() >= FAULTS_EVERY {
                admin.set_faults(faults()).await?;
                last_faults = Instant::now();
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ready = started.elapsed();
    readiness.stop();
    admin.set_faults(json!({})).await?;
    let counters = admin.counters().await?;
    if let Ok(path) = std::env::var("OC_BENCH_JOURNAL") {
        // Every API request until Ready, for a closer look (one JSON array a run).
        std::fs::write(
            format!("{path}.{ns}"),
            serde_json::to_vec(&admin.journal().await?)?,
        )?;
    }
    let run = Run {
        ready,
        kills: killed,
        counters,
    };
    Ok((run, operator, simulator))
}

/// Waits until OCPlatform `bench` is Ready for its generation.
async fn platform_ready(client: &kube::Client) -> Result<(), Box<dyn std::error::Error>> {
    let platforms: kube::Api<OCPlatform> = kube::Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let platform = platforms.get("bench").await?;
        let ready = platform.status.as_ref().is_some_and(|s| {
            conditions::is_true_for(
                &s.reconcile.conditions,
                conditions::READY,
                platform.metadata.generation,
            )
        });
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("OCPlatform bench not Ready after two minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// SIGKILL: the process ends at once, whatever it was doing.
fn kill(mut child: Child) {
    // SAFETY: kill(2) on our own child process, which has not been reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
    }
    let _ = child.wait();
}

/// Prints the calls by endpoint per customer, the tenant validations, and the
/// successful writes by endpoint against the actions of `work`.
fn report(counters: &Value, customers: usize, work: Workload) {
    let per = |n: u64| n as f64 / customers as f64;
    let total = platform_calls_of(counters);
    let identity = total_of(counters) - total;
    println!(
        "platform calls until Ready: {total} ({:.1} per customer); Entra ID calls (tokens, tenant validations; outside the platform's budget): {identity} ({:.1} per customer)",
        per(total),
        per(identity)
    );
    let by_call = calls_by_endpoint(counters);
    for (n, call) in &by_call {
        let outcomes: Vec<String> = counters[*call]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(outcome, _)| *outcome != "total")
            .map(|(outcome, n)| format!("{outcome}: {n}"))
            .collect();
        println!(
            "  {call}: {n} ({:.2} per customer; {})",
            per(*n),
            outcomes.join(", ")
        );
    }
    let validations: u64 = by_call
        .iter()
        .filter(|(_, call)| call.contains("openid-configuration"))
        .map(|(n, _)| n)
        .sum();
    println!(
        "tenant validations: {validations} ({:.2} per customer)",
        per(validations)
    );
    // Every write but a token's is one action of a customer (an end user's
    // provisioning, one per user); it must have succeeded exactly that often.
    let users = work.full.unwrap_or(0);
    for (_, call) in by_call.iter().filter(|(_, call)| !call.starts_with("GET ")) {
        // A token, and Validate Single Number (a read sent as a POST).
        if call.contains("token") || call.contains("number-status") {
            continue;
        }
        let succeeded: u64 = counters[*call]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(outcome, _)| outcome.starts_with('2'))
            .filter_map(|(_, n)| n.as_u64())
            .sum();
        let actions = if call.contains("/user/") {
            customers * users
        } else {
            customers
        };
        let verdict = if succeeded as usize == actions {
            "exactly once"
        } else {
            "NOT exactly once"
        };
        println!("  successful {call}: {succeeded} for {actions} actions: {verdict}");
    }
}
