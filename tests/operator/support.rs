//! A world per test: a namespace, a simulator, credentials, an OCPlatform, and an
//! operator that can be stopped (as by a crash) and started again.

use std::fmt::Debug;
use std::io::Write as _;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::NamespaceResourceScope;
use liveplatform::LivePlatformClient;
use liveplatform::model::{DialPlanRule, ModifyDialPlan};
use liveplatform_sim::admin_client::AdminClient;
use liveplatform_sim::seed::{SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SP_TENANT};
use liveplatform_sim::{Faults, Seed, Simulator};
use oc_operator::api::conditions;
use oc_operator::api::{
    OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCPlatform, OCSipConnection,
};
use oc_operator::controller::endpoint_hosts::{ENTRA_ID_HOST, EndpointHosts};
use oc_operator::controller::{self, Context, OperatorConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

pub const TENANT_A: &str = "0b7e6c1a-2f3d-4e5b-8a9c-1d2e3f4a5b6c";
pub const TENANT_B: &str = "1c8f7d2b-3a4e-4f6c-9b0d-2e3f4a5b6c7d";
/// The budget the world's OCPlatform declares, and the simulator grants: the same, so
/// the client's own limiter keeps the platform from answering 429 and a write is
/// sent once (tests that want 429s inject them).
const PLATFORM_RATE: u32 = 200;

pub const PROFILE_US: &str = "a3f1e2d4-6b7c-4d8e-9f0a-1b2c3d4e5f60";

pub struct World {
    pub ns: String,
    pub sim: Simulator,
    pub admin: AdminClient,
    pub client: kube::Client,
    operator: Option<(
        tokio::task::JoinHandle<()>,
        tokio::sync::oneshot::Sender<()>,
    )>,
    /// The context of the running operator (its metrics).
    pub ctx: Option<std::sync::Arc<Context>>,
    /// The admin kubeconfig of the control plane this world lives in.
    pub kubeconfig: std::path::PathBuf,
    /// More namespaces the platform allows; with any, the operator watches them all
    /// (and is kept to this world's platform by its selector).
    pub others: Vec<String>,
    /// The operator watches every namespace (kept to this world's platform by its
    /// selector).
    pub watch_all: bool,
}

/// Creates a namespace named `prefix` and a random suffix.
pub async fn create_namespace(client: &kube::Client, prefix: &str) -> String {
    let ns = format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .expect("namespace");
    ns
}

pub fn plane() -> &'static testenv::Shared {
    testenv::shared().unwrap_or_else(|e| panic!("the test control plane could not start: {e}"))
}

/// The metric families the metrics table of docs/operating.md documents (`_total` left off, as
/// in the text format's `# TYPE` lines).
pub fn readme_metric_families() -> std::collections::BTreeSet<String> {
    let readme = std::fs::read_to_string(testenv::repository().join("docs/operating.md")).unwrap();
    let table = &readme[readme
        .find("| metric | labels | meaning |")
        .expect("the metrics table")..];
    let table = &table[..table.find("\n\n").unwrap_or(table.len())];
    table
        .lines()
        .skip(2)
        .filter_map(|l| l.split('`').nth(1))
        .map(|name| name.trim_end_matches("_total").to_owned())
        .collect()
}

/// One of the pinned binaries: kubectl (hack/build-controlplane.sh), or a tool only the
/// tests use, such as helm or kubeconform (hack/build-test-tools.sh).
pub fn plane_binary(name: &str) -> std::path::PathBuf {
    plane().binary(name)
}

/// The seed of a world's simulator unless a test gives its own: tasks of 300 ms.
fn default_seed() -> Seed {
    Seed {
        task_delay_ms: 300,
        ..Seed::default()
    }
}

/// A simulator on a free loopback port with `seed`, at the tests' platform budget.
async fn start_simulator(mut seed: Seed) -> Simulator {
    seed.requests_per_second = f64::from(PLATFORM_RATE);
    seed.burst = PLATFORM_RATE;
    Simulator::start("127.0.0.1:0".parse().unwrap(), seed, Faults::default())
        .await
        .expect("simulator")
}

impl World {
    pub async fn new(test: &str) -> Self {
        Self::with_seed(test, default_seed()).await
    }

    pub async fn with_seed(test: &str, seed: Seed) -> Self {
        let client = plane().client().await.expect("admin client");
        let world = Self::bare(test, client, plane().kubeconfig(), seed).await;
        world.put_platform(json!([world.ns])).await;
        world
    }

    /// A world in the control plane of `client` (whose admin kubeconfig is
    /// `kubeconfig`): its namespace, simulator and credentials Secret, but no
    /// OCPlatform yet (that control plane may not have the CRDs yet).
    pub async fn bare(
        test: &str,
        client: kube::Client,
        kubeconfig: &std::path::Path,
        seed: Seed,
    ) -> Self {
        capture_logs();
        let ns = create_namespace(&client, test).await;
        let sim = start_simulator(seed).await;
        let admin = AdminClient::new(&sim.admin_url());
        let world = Self {
            ns,
            sim,
            admin,
            client,
            operator: None,
            ctx: None,
            kubeconfig: kubeconfig.to_owned(),
            others: Vec::new(),
            watch_all: false,
        };
        world.put_secret(SANDBOX_CLIENT_SECRET).await;
        world
    }

    /// Waits until every CRD of this world's control plane is Established (after a
    /// `helm install` or `upgrade` that brought them).
    pub fn crds_established(&self) {
        let output = self
            .kubectl()
            .args([
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd",
                "--all",
            ])
            .output()
            .expect("kubectl runs");
        assert!(output.status.success(), "{output:?}");
    }

    /// Waits until this world's OCPlatform passes `check`, for at most `secs` seconds.
    pub async fn platform_until(
        &self,
        secs: u64,
        what: &str,
        check: impl Fn(&OCPlatform) -> bool,
    ) -> OCPlatform {
        let platforms: Api<OCPlatform> = Api::all(self.client.clone());
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let platform = platforms.get(&self.platform()).await.expect("the platform");
            if check(&platform) {
                return platform;
            }
            assert!(
                Instant::now() < deadline,
                "platform not {what} within {secs} s: {:#?}",
                platform.status
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A `kubectl` bound as admin to this world's control plane.
    pub fn kubectl(&self) -> std::process::Command {
        let mut command = std::process::Command::new(plane_binary("kubectl"));
        command.arg(format!("--kubeconfig={}", self.kubeconfig.display()));
        command
    }

    /// The name of this world's OCPlatform (and its label value).
    pub fn platform(&self) -> String {
        format!("p-{}", self.ns)
    }

    /// Labels the platform's credentials Secret `key=value`.
    pub async fn label_secret(&self, key: &str, value: &str) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns);
        secrets
            .patch(
                "credentials",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {key: value}}})),
            )
            .await
            .expect("label the credentials Secret");
    }

    pub async fn put_secret(&self, client_secret: &str) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns);
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "credentials"},
            "stringData": {"clientId": SANDBOX_CLIENT_ID, "clientSecret": client_secret},
        }))
        .unwrap();
        secrets
            .patch(
                "credentials",
                &PatchParams::apply("test").force(),
                &Patch::Apply(&secret),
            )
            .await
            .expect("secret");
    }

    /// The carrier password Secret of the SIP connection tests and examples.
    pub async fn put_carrier_secret(&self, password: &str) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns);
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "carrier"},
            "stringData": {"password": password},
        }))
        .unwrap();
        secrets
            .patch(
                "carrier",
                &PatchParams::apply("test").force(),
                &Patch::Apply(&secret),
            )
            .await
            .expect("secret");
    }

    /// Applies the customer objects of `examples/` (from 20- on) in this namespace, on
    /// this world's platform and carrier Secret.
    pub async fn apply_examples(&self) {
        self.apply_examples_in(&self.ns).await;
    }

    /// Applies the customer objects of `examples/` (from 20- on) in namespace `ns`, on
    /// this world's platform (a copied tenant folder).
    pub async fn apply_examples_in(&self, ns: &str) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name.as_str() < "20" {
                continue;
            }
            let text = self.in_namespace(&std::fs::read_to_string(&file).unwrap(), ns);
            let output = self.kubectl_with_input(&["apply", "-n", ns, "-f", "-"], &text);
            assert!(
                output.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }

    /// `text` (manifests or commands written for the sandbox) with the sandbox's
    /// namespace `contoso` and OCPlatform `sandbox` replaced by namespace `ns` and this
    /// world's platform.
    pub fn in_namespace(&self, text: &str, ns: &str) -> String {
        text.replace("-n contoso", &format!("-n {ns}"))
            .replace("namespace: contoso", &format!("namespace: {ns}"))
            .replace("name: sandbox", &format!("name: {}", self.platform()))
    }

    /// Runs kubectl with `args` and `input` on its standard input (nothing is left
    /// behind in a temporary folder).
    pub fn kubectl_with_input(&self, args: &[&str], input: &str) -> std::process::Output {
        let mut kubectl = self
            .kubectl()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        kubectl
            .stdin
            .take()
            .expect("kubectl's stdin")
            .write_all(input.as_bytes())
            .expect("kubectl reads its input");
        kubectl.wait_with_output().expect("kubectl ends")
    }

    /// Applies `items` (objects as JSON, rendered by the chart for example) as one List.
    pub fn apply_list(&self, items: &[serde_json::Value]) {
        let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
        let output = self.kubectl_with_input(&["apply", "-f", "-"], &list.to_string());
        assert!(output.status.success(), "kubectl apply: {output:?}");
    }

    pub async fn put_platform(&self, allowed: serde_json::Value) {
        self.put_platform_on(&self.platform(), &self.sim, allowed)
            .await;
    }

    /// An OCPlatform `name` of this world's operator, served by `sim`, allowing the
    /// namespaces `allowed`.
    pub async fn put_platform_on(&self, name: &str, sim: &Simulator, allowed: serde_json::Value) {
        let platforms: Api<OCPlatform> = Api::all(self.client.clone());
        let platform = json!({
            "apiVersion": "operatorconnect.io/v1alpha1",
            "kind": "OCPlatform",
            "metadata": {"name": name, "labels": {"oc-test": self.ns}},
            "spec": {
                "baseUrl": sim.base_url().as_str(),
                "identityBaseUrl": sim.identity_base().as_str(),
                "serviceProviderTenantId": SANDBOX_SP_TENANT,
                "credentialsSecretRef": {"name": "credentials"},
                "allowedNamespaces": allowed,
                "rateLimit": {"requestsPerSecond": PLATFORM_RATE, "burst": PLATFORM_RATE},
            },
        });
        platforms
            .patch(
                name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&platform),
            )
            .await
            .expect("platform");
    }

    /// A second simulator, seeded as [`World::new`] seeds its own, for a second
    /// OCPlatform.
    pub async fn another_simulator(&self) -> Simulator {
        start_simulator(default_seed()).await
    }

    /// Creates another namespace that this world's platform allows; the operator then
    /// watches every namespace.
    pub async fn add_namespace(&mut self, prefix: &str) -> String {
        let ns = create_namespace(&self.client, prefix).await;
        self.others.push(ns.clone());
        let mut allowed = vec![self.ns.clone()];
        allowed.extend(self.others.iter().cloned());
        self.put_platform(json!(allowed)).await;
        ns
    }

    pub fn config(&self) -> OperatorConfig {
        let mut config = OperatorConfig::new(self.ns.clone());
        config.watch_namespace =
            (self.others.is_empty() && !self.watch_all).then(|| self.ns.clone());
        config.platform_selector = Some(format!("oc-test={}", self.ns));
        config.task_poll = Duration::from_millis(300);
        config.wait_requeue = Duration::from_millis(700);
        config.backoff_base = Duration::from_millis(200);
        config.backoff_max = Duration::from_secs(3);
        config.numbers_cache_ttl = Duration::from_millis(200);
        config.lost_answer_grace = Duration::from_secs(3);
        // The simulators listen on loopback.
        config.endpoint_hosts = EndpointHosts::parse(&format!("{ENTRA_ID_HOST},127.0.0.1"));
        config
    }

    /// Starts the operator (in this process), with the admin identity and the
    /// operator's own apiserver client (HTTP/2, see `oc_operator::apiserver_client`).
    pub async fn start(&mut self) {
        let client = self.operator_client().await;
        self.start_with(client).await;
    }

    /// An admin client of this world's control plane built as the operator builds
    /// its own.
    pub async fn operator_client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .expect("client configuration");
        oc_operator::apiserver_client::client(config).expect("the operator's apiserver client")
    }

    /// Serves the running operator's admin endpoints (`/metrics`, `/readyz`, ...) on a
    /// free loopback port; its address.
    pub async fn serve_admin(&self) -> std::net::SocketAddr {
        let ctx = self.ctx.clone().expect("the operator runs");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(oc_operator::telemetry::serve_admin(
            listener,
            ctx.readiness.clone(),
            ctx.metrics.clone(),
        ));
        addr
    }

    /// Starts the operator with `client` as its identity.
    pub async fn start_with(&mut self, client: kube::Client) {
        let config = self.config();
        self.start_configured(client, config).await;
    }

    /// Starts the operator with `client` as its identity and `config` as its settings.
    pub async fn start_configured(&mut self, client: kube::Client, config: OperatorConfig) {
        let ctx = Context::new(client, config);
        self.ctx = Some(ctx.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(controller::run(ctx, async move {
            let _ = rx.await;
        }));
        self.operator = Some((handle, tx));
    }

    /// Stops the operator at once, as a crash would: running reconciles are dropped
    /// wherever they are.
    pub async fn crash(&mut self) {
        if let Some((handle, _tx)) = self.operator.take() {
            handle.abort();
            let _ = handle.await;
        }
    }

    /// A client of this world's simulator, as the operator would have.
    pub fn platform_client(&self) -> LivePlatformClient {
        let credentials =
            liveplatform::Credentials::with_secret(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET);
        let mut config =
            liveplatform::ClientConfig::new(self.sim.base_url(), SANDBOX_SP_TENANT, credentials)
                .unwrap();
        config.identity_base = self.sim.identity_base();
        LivePlatformClient::new(config).unwrap()
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.api_in(&self.ns)
    }

    /// The objects of kind `K` in namespace `ns`.
    pub fn api_in<K>(&self, ns: &str) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Creates or updates an object of this namespace from JSON (server-side apply).
    pub async fn apply<K>(&self, value: serde_json::Value) -> K
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Serialize
            + Debug,
    {
        let name = value["metadata"]["name"].as_str().expect("name").to_owned();
        self.api::<K>()
            .patch(
                &name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&value),
            )
            .await
            .expect("apply")
    }

    pub async fn delete<K>(&self, name: &str)
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.api::<K>()
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }

    /// Waits until `check` holds for the object (or panics after `secs`, showing it).
    pub async fn wait<K>(&self, name: &str, secs: u64, what: &str, check: impl Fn(&K) -> bool) -> K
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.wait_in(&self.ns, name, secs, what, check).await
    }

    /// Waits until `check` holds for the object `name` of namespace `ns`.
    pub async fn wait_in<K>(
        &self,
        ns: &str,
        name: &str,
        secs: u64,
        what: &str,
        check: impl Fn(&K) -> bool,
    ) -> K
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let api = self.api_in::<K>(ns);
        loop {
            let obj = api.get_opt(name).await.expect("get");
            if let Some(obj) = &obj
                && check(obj)
            {
                return obj.clone();
            }
            if Instant::now() > deadline {
                panic!("{name}: not {what} within {secs} s: {:#?}", shown(obj));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Merges `patch` into object `name` of kind `K`.
    pub async fn merge<K>(&self, name: &str, patch: serde_json::Value)
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.api::<K>()
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .expect("merge patch");
    }

    /// Adds the adoption opt-in (`operatorconnect.io/adopt: "true"`) to object `name`.
    pub async fn opt_in<K>(&self, name: &str)
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.merge::<K>(
            name,
            json!({"metadata": {"annotations": {"operatorconnect.io/adopt": "true"}}}),
        )
        .await;
    }

    /// How many number uploads the simulator was sent.
    pub async fn uploads(&self) -> u64 {
        self.admin
            .count("POST /v2/oc/numbers/action/upload", "total")
            .await
            .expect("the simulator's counters")
    }

    /// Requests the simulator counted that can change the platform (everything but
    /// reads and tokens), by endpoint.
    pub async fn writes(&self) -> Vec<(String, u64)> {
        self.writes_ending(|outcome| outcome == "total").await
    }

    /// Writes the platform accepted (answered 2xx), by endpoint: a write it refused
    /// changed nothing.
    pub async fn accepted_writes(&self) -> Vec<(String, u64)> {
        self.writes_ending(|outcome| outcome.starts_with('2')).await
    }

    /// Requests that can change the platform, by endpoint, counting the outcomes
    /// `counted` keeps.
    async fn writes_ending(&self, counted: impl Fn(&str) -> bool) -> Vec<(String, u64)> {
        let counters = self.admin.counters().await.expect("counters");
        let mut out: Vec<(String, u64)> = counters
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(endpoint, _)| !endpoint.starts_with("GET ") && !endpoint.contains("oauth2"))
            .map(|(endpoint, outcomes)| {
                let n = outcomes
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(outcome, _)| counted(outcome))
                    .filter_map(|(_, n)| n.as_u64())
                    .sum();
                (endpoint.clone(), n)
            })
            .collect();
        out.sort();
        out
    }

    /// Waits until the object is gone.
    pub async fn wait_gone<K>(&self, name: &str, secs: u64)
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let obj = self.api::<K>().get_opt(name).await.expect("get");
            if obj.is_none() {
                return;
            }
            if Instant::now() > deadline {
                panic!("{name}: still there after {secs} s: {:#?}", shown(obj));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits for `Ready=True` for the current generation.
    pub async fn ready<K>(&self, name: &str, secs: u64) -> K
    where
        K: oc_operator::controller::kind::Kind + Resource<Scope = NamespaceResourceScope>,
    {
        self.wait::<K>(name, secs, "Ready", |o| is_ready(o)).await
    }

    /// Waits for `Ready=True` for the current generation of `name` in namespace `ns`.
    pub async fn ready_in<K>(&self, ns: &str, name: &str, secs: u64) -> K
    where
        K: oc_operator::controller::kind::Kind + Resource<Scope = NamespaceResourceScope>,
    {
        self.wait_in::<K>(ns, name, secs, "Ready", |o| is_ready(o))
            .await
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some((handle, _)) = self.operator.take() {
            handle.abort();
        }
    }
}

pub fn condition<K: oc_operator::controller::kind::Kind>(
    obj: &K,
    type_: &str,
) -> Option<(String, String, String)> {
    let status = obj.status()?;
    conditions::find(K::conditions(status), type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

pub fn is_ready<K: oc_operator::controller::kind::Kind>(obj: &K) -> bool {
    obj.status().is_some_and(|s| {
        conditions::is_true_for(K::conditions(s), conditions::READY, obj.meta().generation)
    })
}

pub fn has_reason<K: oc_operator::controller::kind::Kind>(
    obj: &K,
    type_: &str,
    reason: &str,
) -> bool {
    condition(obj, type_).is_some_and(|(_, r, _)| r == reason)
}

pub fn customer_json(
    name: &str,
    tenant: &str,
    short: &str,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut spec = json!({
        "platformRef": {"name": "PLATFORM"},
        "tenantId": tenant,
        "companyName": format!("{short} Ltd"),
        "shortName": short,
        "fullName": format!("{short} Limited"),
        "license": {"type": "OcEssentials"},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCCustomer", "metadata": {"name": name}, "spec": spec})
}

impl World {
    /// An OCCustomer on this world's platform.
    pub async fn customer(
        &self,
        name: &str,
        tenant: &str,
        short: &str,
        extra: serde_json::Value,
    ) -> oc_operator::api::OCCustomer {
        self.apply(self.customer_json(name, tenant, short, extra))
            .await
    }

    /// [`customer_json`] on this world's platform.
    fn customer_json(
        &self,
        name: &str,
        tenant: &str,
        short: &str,
        extra: serde_json::Value,
    ) -> serde_json::Value {
        let mut value = customer_json(name, tenant, short, extra);
        value["spec"]["platformRef"]["name"] = json!(self.platform());
        value
    }

    /// The same customer in namespace `ns` (see [`World::add_namespace`]).
    pub async fn customer_in(
        &self,
        ns: &str,
        name: &str,
        tenant: &str,
        short: &str,
        extra: serde_json::Value,
    ) -> oc_operator::api::OCCustomer {
        let value = self.customer_json(name, tenant, short, extra);
        self.api_in::<oc_operator::api::OCCustomer>(ns)
            .patch(
                name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&value),
            )
            .await
            .expect("customer in another namespace")
    }

    /// The operator's budget for this world's platform (`spec.rateLimit`).
    pub async fn set_budget(&self, per_second: u64, burst: u64) {
        Api::<oc_operator::api::OCPlatform>::all(self.client.clone())
            .patch(
                &self.platform(),
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"spec": {"rateLimit": {"requestsPerSecond": per_second, "burst": burst}}}),
                ),
            )
            .await
            .expect("the platform's budget");
    }

    /// Customer `contoso` (tenant A, OC Essentials), Ready.
    pub async fn customer_ready(&self) {
        self.customer("contoso", TENANT_A, "contoso", json!({}))
            .await;
        self.ready::<OCCustomer>("contoso", 60).await;
    }

    /// Customer `contoso` on OC Pro (which allows end users), Ready.
    pub async fn licensed_customer(&self) {
        self.customer(
            "contoso",
            TENANT_A,
            "contoso",
            json!({"license": {"type": "OcPro", "count": 5}}),
        )
        .await;
        self.ready::<OCCustomer>("contoso", 60).await;
    }

    /// Waits until every object of `examples/` is Ready.
    pub async fn examples_ready(&self) {
        self.examples_ready_in(&self.ns).await;
    }

    /// Waits until every object of `examples/` applied in namespace `ns` is Ready.
    pub async fn examples_ready_in(&self, ns: &str) {
        self.ready_in::<OCCustomer>(ns, "contoso", 90).await;
        for block in ["contoso-users", "contoso-conferencing"] {
            self.ready_in::<OCNumberBlock>(ns, block, 90).await;
        }
        self.ready_in::<OCSipConnection>(ns, "redmond", 90).await;
        self.ready_in::<OCDialPlan>(ns, "contoso-redmond", 90).await;
        for user in ["adele-vance", "alex-wilber"] {
            self.ready_in::<OCEndUser>(ns, user, 90).await;
        }
    }

    /// Customer `name` of `tenant` declared with `deletionPolicy: Orphan`, Ready, then
    /// deleted: the platform keeps its lead and customer, and nothing in the cluster
    /// owns them (a tenant onboarded before, by hand or by an operator since gone).
    pub async fn orphaned_customer(&self, name: &str, tenant: &str) {
        self.customer(name, tenant, name, json!({"deletionPolicy": "Orphan"}))
            .await;
        self.ready::<OCCustomer>(name, 60).await;
        self.delete::<OCCustomer>(name).await;
        self.wait_gone::<OCCustomer>(name, 60).await;
    }

    /// Sets `deletionPolicy: Orphan` on the examples' customer in namespace `ns`.
    pub async fn orphan_the_examples_customer(&self, ns: &str) {
        self.api_in::<OCCustomer>(ns)
            .patch(
                "contoso",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"deletionPolicy": "Orphan"}})),
            )
            .await
            .expect("the customer orphans");
    }

    /// Deletes the examples' customer and checks that nothing of it is left on the
    /// platform; returns the platform's state after.
    pub async fn delete_examples_leaving_nothing(&self) -> serde_json::Value {
        self.delete::<OCCustomer>("contoso").await;
        self.wait_gone::<OCCustomer>("contoso", 120).await;
        self.platform_holds_nothing().await
    }

    /// A token of ServiceAccount `account` in `ns` from the TokenRequest API, valid for
    /// two hours, for `audience` if given (else the apiserver's).
    pub fn token(&self, ns: &str, account: &str, audience: Option<&str>) -> String {
        let mut args = vec!["create", "token", account, "-n", ns, "--duration=2h"];
        if let Some(audience) = audience {
            args.extend(["--audience", audience]);
        }
        let output = self.kubectl().args(args).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Checks that the platform holds no lead, customer, number, site, dial plan or
    /// user; returns its state.
    pub async fn platform_holds_nothing(&self) -> serde_json::Value {
        let state = self.admin.state().await.unwrap();
        for area in [
            "leads",
            "customers",
            "numbers",
            "sites",
            "dialPlans",
            "users",
        ] {
            assert!(
                state[area].as_object().unwrap().is_empty(),
                "{area} left on the platform: {}",
                state[area]
            );
        }
        state
    }

    /// An OCDialPlan `CustDialPlan` of customer `contoso`; `spec` adds or overrides
    /// fields.
    pub async fn dial_plan(&self, name: &str, spec: serde_json::Value) -> OCDialPlan {
        let mut full = json!({"customerRef": {"name": "contoso"}, "dialPlanId": "CustDialPlan"});
        for (k, v) in spec.as_object().cloned().unwrap_or_default() {
            full[k] = v;
        }
        self.apply(json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCDialPlan", "metadata": {"name": name}, "spec": full}))
            .await
    }

    /// Another writer (a portal user, a script) edits the customer's `CustDialPlan`
    /// directly on the platform.
    pub async fn others_edit_dial_plan(
        &self,
        customer_guid: &str,
        add: Vec<DialPlanRule>,
        remove: Vec<DialPlanRule>,
    ) {
        self.platform_client()
            .modify_dial_plan(
                customer_guid,
                customer_guid,
                &ModifyDialPlan {
                    dial_plan_id: "CustDialPlan".into(),
                    add,
                    remove,
                },
            )
            .await
            .expect("the other writer's dial plan edit");
    }

    /// Waits until the platform sees no call for two seconds; the calls it has seen.
    pub async fn quiet(&self) -> u64 {
        let mut before = self.admin.total_calls().await.unwrap();
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let now = self.admin.total_calls().await.unwrap();
            if now == before {
                return before;
            }
            before = now;
        }
    }

    /// An OCNumberBlock of customer `customer`.
    pub async fn block(
        &self,
        name: &str,
        customer: &str,
        spec: serde_json::Value,
    ) -> oc_operator::api::OCNumberBlock {
        self.apply(block_json(name, customer, spec)).await
    }

    /// A block `name` of customer `contoso` with the numbers `start` to `end`, sent
    /// while the platform's tasks take `task_ms`: returns the block once two of its
    /// uploads run beside the next request (`status.running`).
    pub async fn large_block_with_uploads_running(
        &self,
        name: &str,
        (start, end): (&str, &str),
        task_ms: u64,
    ) -> OCNumberBlock {
        self.admin
            .set_faults(json!({"taskDelayMs": task_ms}))
            .await
            .unwrap();
        self.block(
            name,
            "contoso",
            json!({"ranges": [{"start": start, "end": end}]}),
        )
        .await;
        self.wait::<OCNumberBlock>(name, 60, "two uploads running, answered", |b| {
            b.status
                .as_ref()
                .is_some_and(|s| s.running.iter().filter(|op| op.task_id.is_some()).count() >= 2)
        })
        .await
    }

    /// Every version of block `name`'s status the apiserver stores from now on, until
    /// one shows its numbers uploaded with nothing in flight; the task ends within 30 s
    /// of `until_ready` returning.
    pub fn block_statuses(
        &self,
        name: &str,
    ) -> impl Future<Output = Vec<oc_operator::api::OCNumberBlockStatus>> + use<> {
        self.statuses_until::<OCNumberBlock>(name, |b| {
            b.status.as_ref().is_some_and(|s| {
                s.operation.is_none() && s.running.is_empty() && !s.active.is_empty()
            })
        })
    }

    /// Every version of object `name`'s status the apiserver stores from now on (the
    /// object may not exist yet), until a version for which `done` holds; the returned
    /// future waits at most 30 s for it.
    pub fn statuses_until<K>(
        &self,
        name: &str,
        done: fn(&K) -> bool,
    ) -> impl Future<Output = Vec<K::Status>> + use<K>
    where
        K: oc_operator::controller::kind::Kind
            + Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + 'static,
        K::Status: Send + 'static,
    {
        use futures::StreamExt;
        use kube::runtime::watcher;

        let versions = watcher(
            self.api::<K>(),
            watcher::Config::default().fields(&format!("metadata.name={name}")),
        );
        let seen = tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut versions = std::pin::pin!(versions);
            while let Some(Ok(event)) = versions.next().await {
                if let watcher::Event::Apply(obj) | watcher::Event::InitApply(obj) = event {
                    let finished = done(&obj);
                    statuses.extend(obj.status().cloned());
                    if finished {
                        break;
                    }
                }
            }
            statuses
        });
        async move {
            tokio::time::timeout(Duration::from_secs(30), seen)
                .await
                .expect("the watch saw the awaited version")
                .expect("the watch's task")
        }
    }

    /// Numbers the simulator holds for `tenant`, with their status.
    pub async fn platform_numbers(&self, tenant: &str) -> Vec<(String, String)> {
        numbers_held(&self.admin, tenant).await
    }
}

/// Numbers the simulator of `admin` holds for `tenant`, with their status.
pub async fn numbers_held(admin: &AdminClient, tenant: &str) -> Vec<(String, String)> {
    let state = admin.state().await.expect("state");
    let mut out: Vec<(String, String)> = state["numbers"]
        .as_object()
        .map(|m| {
            m.values()
                .filter(|n| n["tenantId"] == tenant)
                .map(|n| {
                    (
                        n["telephoneNumber"].as_str().unwrap_or_default().to_owned(),
                        n["acquiredNumberStatus"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Everything the operator logs in this test process (JSON, debug level).
static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
    std::sync::OnceLock::new();

#[derive(Clone)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = Captured(buffer.clone());
        let _ = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "oc_operator=debug,liveplatform=debug,kube_runtime=info",
            ))
            .with_writer(move || writer.clone())
            .try_init();
        buffer
    });
}

/// The logs captured so far.
pub fn captured_logs() -> String {
    LOGS.get()
        .map(|b| String::from_utf8_lossy(&b.lock().unwrap_or_else(|p| p.into_inner())).into_owned())
        .unwrap_or_default()
}

/// A dial plan rule.
pub fn rule(name: &str, prefix: &str, tag: &str) -> DialPlanRule {
    DialPlanRule {
        name: name.into(),
        prefix: prefix.into(),
        tag: tag.into(),
    }
}

/// A kubeconfig for the cluster of `admin` that authenticates with `token` only.
pub fn token_kubeconfig(
    admin: &std::path::Path,
    token: &str,
    path: &std::path::Path,
) -> std::path::PathBuf {
    let admin: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(admin).unwrap()).unwrap();
    let cluster = &admin["clusters"][0]["cluster"];
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "token", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "token"}}],
        "current-context": "c",
    });
    std::fs::write(path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    path.to_owned()
}

/// A control plane of the test's own (built from the shared one's binaries) with the
/// apiserver's audit log on.
pub async fn audited_control_plane() -> testenv::ControlPlane {
    let bin = plane().binary("");
    tokio::task::spawn_blocking(move || testenv::ControlPlane::start_with(&bin, true))
        .await
        .unwrap()
        .expect("a control plane with an audit log")
}

/// An object as a failed wait shows it: without its managed fields, which would fill
/// the test's output and hide the status.
fn shown<K: Resource>(obj: Option<K>) -> Option<K> {
    obj.map(|mut o| {
        o.meta_mut().managed_fields = None;
        o
    })
}

/// The text of `/metrics` served at `addr` (see `World::serve_admin`).
pub async fn scrape(addr: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("a metrics text")
}

/// The sum of the samples of metric `name` in the text format `text` whose labels
/// include every one of `labels` (0 when there is none).
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// Waits until `gone` says so, for at most `secs`.
pub async fn gone_within(secs: u64, what: &str, mut gone: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !gone().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: still there after {secs} s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

impl World {
    /// Deletes namespace `ns` and waits, at most `secs`, until it is gone.
    pub async fn delete_namespace_within(&self, ns: &str, secs: u64) {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        namespaces
            .delete(ns, &DeleteParams::default())
            .await
            .expect("delete namespace");
        gone_within(secs, &format!("namespace {ns}"), async || {
            namespaces.get_opt(ns).await.expect("namespace").is_none()
        })
        .await;
    }

    /// How many requests of `endpoint` the simulator answered.
    pub async fn calls_to(&self, endpoint: &str) -> u64 {
        self.admin.count(endpoint, "total").await.expect("counters")
    }
}

/// An OCNumberBlock `name` of customer `customer` (US profile, user assignment,
/// inbound and outbound calling); `spec` adds or overrides fields.
pub fn block_json(name: &str, customer: &str, spec: serde_json::Value) -> serde_json::Value {
    let mut full = json!({
        "customerRef": {"name": customer},
        "callingProfileId": PROFILE_US,
        "usage": "CallingUserAssignment",
        "capabilities": ["InboundCalling", "OutboundCalling"],
    });
    if let (Some(full), Some(spec)) = (full.as_object_mut(), spec.as_object()) {
        for (k, v) in spec {
            full.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCNumberBlock", "metadata": {"name": name}, "spec": full})
}

/// The notes of the Events in namespace `ns` about the object named `name`.
pub async fn event_notes(world: &World, ns: &str, name: &str) -> Vec<String> {
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.client.clone(), ns);
    events
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| e.note)
        .collect()
}
