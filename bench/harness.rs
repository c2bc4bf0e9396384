//! What both benchmarks share: the release binaries, the simulator and the operator
//! each in its own process, server-side apply under load, Ready counts and process
//! memory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::api::{Api, Patch, PatchParams};
use liveplatform::contract::API_ROOT;
use liveplatform_sim::Seed;
use liveplatform_sim::seed::{SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SP_TENANT};
use oc_operator::api::{OCPlatform, conditions};
use oc_operator::controller;
use serde_json::json;

pub fn memory_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub fn print_memory(operator: &Child, simulator: &Child) {
    for (what, child) in [("operator", operator), ("simulator", simulator)] {
        println!(
            "{what} process memory: peak {:.0} MiB, now {:.0} MiB",
            memory_mib(child.id(), "VmHWM:"),
            memory_mib(child.id(), "VmRSS:")
        );
    }
}

/// The release binaries next to this example (`target/release/oc-operator` and
/// `target/release/oc-simulator`); returns the operator's.
pub fn operator_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("oc-operator"))
        .filter(|bin| bin.exists() && simulator_binary(bin).exists())
        .ok_or(BUILD_FIRST)?;
    Ok(bin)
}

const BUILD_FIRST: &str =
    "build the binaries first: cargo build --release --workspace --bins --examples";

/// The simulator's binary beside the operator's.
pub fn simulator_binary(operator: &Path) -> PathBuf {
    operator.with_file_name("oc-simulator")
}

/// Starts `oc-simulator` with `seed`; returns it and its address.
pub fn start_simulator(bin: &Path, seed: &Seed, dir: &Path) -> Result<(Child, String), String> {
    let seed_file = dir.join("seed.json");
    let address_file = dir.join("simulator-address");
    let json = serde_json::to_string(seed).map_err(|e| e.to_string())?;
    std::fs::write(&seed_file, json).map_err(|e| e.to_string())?;
    // A previous simulator's address must not be taken for this one's.
    let _ = std::fs::remove_file(&address_file);
    let mut command = Command::new(simulator_binary(bin));
    command
        .args(["--log-level=warn", "--listen=127.0.0.1:0"])
        .arg("--seed")
        .arg(&seed_file)
        .arg("--address-file")
        .arg(&address_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let child = testenv::processes::spawn(command).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(addr) = std::fs::read_to_string(&address_file)
            && !addr.is_empty()
        {
            return Ok((child, addr));
        }
        if Instant::now() > deadline {
            return Err("the simulator did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `oc-operator run` with its Secrets in namespace `ns`, watching only `ns`
/// (or every namespace if `only` is false), with its production settings but a 1 s
/// task poll (`OC_BENCH_OPERATOR_BINARY` names another build of it; under
/// `OC_BENCH_OPERATOR_WRAPPER`, a profiler's command, when set).
pub fn start_operator(
    bin: &Path,
    kubeconfig: &Path,
    ns: &str,
    only: bool,
) -> Result<Child, String> {
    // `OC_BENCH_OPERATOR_WRAPPER="heaptrack -o /tmp/operator"` runs the operator
    // under a profiler (its memory figures are then the wrapper's).
    // `OC_BENCH_OPERATOR_BINARY` runs another build of the operator (another
    // allocator, the image's musl build) against the same simulator.
    let other = std::env::var_os("OC_BENCH_OPERATOR_BINARY").map(std::path::PathBuf::from);
    let bin = other.as_deref().unwrap_or(bin);
    let wrapper = std::env::var("OC_BENCH_OPERATOR_WRAPPER").unwrap_or_default();
    let mut wrapper = wrapper.split_whitespace();
    let mut command = match wrapper.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(wrapper).arg(bin);
            command
        }
        None => Command::new(bin),
    };
    command
        .env("KUBECONFIG", kubeconfig)
        .args([
            "--log-format=text",
            &format!(
                "--log-level={}",
                std::env::var("OC_BENCH_OPERATOR_LOG").unwrap_or_else(|_| "warn".into())
            ),
            "run",
            &format!("--operator-namespace={ns}"),
            "--probe-listen=127.0.0.1:0",
            "--task-poll-seconds=1",
            "--wait-seconds=1",
        ])
        .args(only.then(|| format!("--namespace={ns}")))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // A group of its own, which `stop_operator` signals whole: a profiler's script runs the
    // operator as its child and does not pass a signal on (before, the operator under
    // heaptrack went on running beside the one started for the cold restart).
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    testenv::processes::spawn(command).map_err(|e| e.to_string())
}

/// SIGTERM, then wait for the graceful stop.
pub fn stop(mut child: Child) {
    // SAFETY: kill(2) on our own child process, which has not been reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let _ = child.wait();
}

/// SIGTERM to the operator's whole process group (see `start_operator`: a profiler
/// may run it as its child), then wait for the graceful stop.
pub fn stop_operator(mut operator: Child) {
    // SAFETY: kill(2) on the process group our own child leads (`start_operator`
    // made it a group leader); the child has not been reaped, so the group is its.
    unsafe {
        libc::kill(-(operator.id() as libc::pid_t), libc::SIGTERM);
    }
    let _ = operator.wait();
}

/// Server-side apply, tried again on a transient error (a busy apiserver may drop a
/// connection under this load).
pub async fn apply_retrying<K>(
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

pub async fn count_ready<K>(api: &Api<K>) -> usize
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

/// The namespaces `namespaces`, the sandbox credentials in the first of them (the
/// operator's), and OCPlatform `bench` on the simulator at `sim_addr`, allowing them
/// all, with budget `rate`/`burst`.
pub async fn bench_platform(
    client: &kube::Client,
    namespaces: &[&str],
    sim_addr: &str,
    rate: f64,
    burst: u32,
) -> Result<(), kube::Error> {
    let all: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for ns in namespaces {
        apply_retrying(
            &all,
            ns,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await?;
    }
    let operator_ns = namespaces.first().copied().unwrap_or("default");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), operator_ns);
    apply_retrying(
        &secrets,
        "credentials",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "credentials"},
        "stringData": {"clientId": SANDBOX_CLIENT_ID, "clientSecret": SANDBOX_CLIENT_SECRET}}),
    )
    .await?;
    let platforms: Api<OCPlatform> = Api::all(client.clone());
    apply_retrying(&platforms, "bench", json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCPlatform", "metadata": {"name": "bench"},
        "spec": {"baseUrl": format!("http://{sim_addr}{API_ROOT}"), "identityBaseUrl": format!("http://{sim_addr}"),
                 "serviceProviderTenantId": SANDBOX_SP_TENANT, "credentialsSecretRef": {"name": "credentials"},
                 "allowedNamespaces": namespaces, "rateLimit": {"requestsPerSecond": rate, "burst": burst}}})).await
}

/// The simulator's journal as (arrival in microseconds since the epoch, path and query).
pub fn journal_calls(journal: &serde_json::Value) -> Vec<(i64, &str)> {
    journal
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["atMicros"].as_i64()?, e["uri"].as_str()?)))
        .collect()
}

/// The endpoints of a `/admin/counters` answer that were called, with how often, the
/// most called first.
pub fn calls_by_endpoint(counters: &serde_json::Value) -> Vec<(u64, &String)> {
    let mut by_call: Vec<(u64, &String)> = counters
        .as_object()
        .into_iter()
        .flatten()
        .map(|(call, counts)| (counts["total"].as_u64().unwrap_or(0), call))
        .filter(|(n, _)| *n > 0)
        .collect();
    by_call.sort_by(|a, b| b.cmp(a));
    by_call
}

/// The kube-apiserver's count of requests by verb, resource and subresource, from its
/// `apiserver_request_total` metric: what the operator's work costs the control plane
/// it shares the machine with.
pub async fn apiserver_requests(client: &kube::Client) -> std::collections::BTreeMap<String, u64> {
    let mut requests = std::collections::BTreeMap::new();
    let Ok(request) = http::Request::get("/metrics").body(Vec::new()) else {
        return requests;
    };
    let Ok(text) = client.request_text(request).await else {
        return requests;
    };
    for line in text.lines() {
        let Some(labels) = line
            .strip_prefix("apiserver_request_total{")
            .and_then(|rest| rest.split_once('}'))
        else {
            continue;
        };
        let label = |name: &str| {
            labels.0.split(',').find_map(|pair| {
                pair.strip_prefix(name)
                    .and_then(|v| v.strip_prefix("=\""))
                    .and_then(|v| v.strip_suffix('"'))
            })
        };
        let verb = label("verb").unwrap_or_default();
        let resource = label("resource").unwrap_or_default();
        let key = match label("subresource").filter(|s| !s.is_empty()) {
            Some(sub) => format!("{verb} {resource}/{sub}"),
            None => format!("{verb} {resource}"),
        };
        let count = labels.1.trim().parse::<f64>().unwrap_or(0.0) as u64;
        *requests.entry(key).or_insert(0) += count;
    }
    requests
}

/// Whether a key of [`apiserver_requests`] is a write: `POST`, `PUT`, `PATCH`,
/// `APPLY` (a server-side apply) or `DELETE`.
fn is_write(key: &str) -> bool {
    let verb = key.split(' ').next().unwrap_or_default();
    matches!(verb, "POST" | "PUT" | "PATCH" | "APPLY" | "DELETE")
}

/// Prints the apiserver requests between two readings of [`apiserver_requests`], per
/// customer: every write by resource, then the reads (`GET`, `LIST`, `WATCH`) by
/// resource.
pub fn print_apiserver_requests(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
    customers: usize,
) {
    for writes in [true, false] {
        let what = if writes { "writes" } else { "reads" };
        let mut total = 0;
        for (key, n) in after.iter().filter(|(key, _)| is_write(key) == writes) {
            let n = n.saturating_sub(before.get(key).copied().unwrap_or(0));
            if n > 0 {
                total += n;
                println!(
                    "  apiserver {what} until Ready: {key}: {n} ({:.2} per customer)",
                    n as f64 / customers as f64
                );
            }
        }
        println!(
            "apiserver {what} until Ready: {total} ({:.1} per customer)",
            total as f64 / customers.max(1) as f64
        );
    }
}

/// The CPU time (user and system, in seconds) used so far by each running process
/// whose name is `name` (`/proc/<pid>/comm`), summed.
pub fn cpu_seconds(name: &str) -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|stat| {
            // The fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) / ticks)
        })
        .sum()
}

/// The processes whose CPU time [`ControlPlaneCpu`] follows.
const CPU_USERS: [&str; 4] = ["kube-apiserver", "etcd", "oc-operator", "oc-simulator"];

/// The CPU time of the control plane, the operator and the simulator at one moment.
pub struct ControlPlaneCpu([f64; 4]);

impl ControlPlaneCpu {
    pub fn now() -> Self {
        Self(CPU_USERS.map(cpu_seconds))
    }

    /// Prints the CPU each used since `self`, per customer.
    pub fn print_since(&self, customers: usize) {
        let now = Self::now();
        for (at, name) in CPU_USERS.iter().enumerate() {
            let used = now.0[at] - self.0[at];
            println!(
                "CPU until Ready: {name} {used:.1} s ({:.1} ms per customer)",
                used * 1000.0 / customers.max(1) as f64
            );
        }
    }
}
