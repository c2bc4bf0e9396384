//! A local Kubernetes control plane for tests and the sandbox: real etcd,
//! kube-apiserver and kube-controller-manager processes on loopback, with TLS, RBAC,
//! an admin client certificate and service-account signing keys, in the manner of
//! controller-runtime's envtest. There is no kubelet: objects are stored, validated,
//! watched and garbage-collected, but no pod ever runs.
//!
//! The binaries come from `hack/build-controlplane.sh` (or `OC_CONTROLPLANE_BIN`).

mod certs;
pub mod processes;
mod shared;

pub use shared::{Shared, shared};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The binaries a control plane runs (what `hack/build-controlplane.sh` builds; the
/// tools only the tests use come from `hack/build-test-tools.sh`).
pub const BINARIES: [&str; 4] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kubectl",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("control plane binaries: {0}")]
    Binaries(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("control plane certificates: {0}")]
    Certs(#[from] rcgen::Error),
    #[error("{component} did not become ready within {secs} s; its log is {log}")]
    NotReady {
        component: &'static str,
        secs: u64,
        log: PathBuf,
    },
    #[error("{component} exited while starting ({status}); its log is {log}")]
    Exited {
        component: &'static str,
        status: String,
        log: PathBuf,
    },
    #[error("client for the control plane: {0}")]
    Client(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Finds the binaries: `OC_CONTROLPLANE_BIN` if set, else whatever
/// `hack/build-controlplane.sh` builds (or finds in its cache).
pub fn binaries() -> Result<PathBuf, Error> {
    let dir = match std::env::var_os("OC_CONTROLPLANE_BIN") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let script = repository().join("hack/build-controlplane.sh");
            let output = Command::new("bash")
                .arg(&script)
                .stderr(Stdio::inherit())
                .output()
                .map_err(io(format!("running {}", script.display())))?;
            if !output.status.success() {
                return Err(Error::Binaries(format!(
                    "{} failed ({})",
                    script.display(),
                    output.status
                )));
            }
            let stdout = String::from_utf8_lossy(&output.stdout);
            let last = stdout.lines().last().unwrap_or_default().trim().to_owned();
            PathBuf::from(last)
        }
    };
    for name in BINARIES {
        if !dir.join(name).is_file() {
            return Err(Error::Binaries(format!(
                "{} has no {name}; run hack/build-controlplane.sh",
                dir.display()
            )));
        }
    }
    Ok(dir)
}

/// A client of the control plane of `kubeconfig`: admin, or `impersonate` (for
/// example `system:serviceaccount:ns:name`), which then has that identity's RBAC only.
async fn client_from(kubeconfig: &Path, impersonate: Option<&str>) -> Result<kube::Client, Error> {
    let mut config = config_from(kubeconfig).await?;
    config.auth_info.impersonate = impersonate.map(str::to_owned);
    kube::Client::try_from(config).map_err(|e| Error::Client(e.to_string()))
}

/// The admin client configuration of `kubeconfig`.
async fn config_from(kubeconfig: &Path) -> Result<kube::Config, Error> {
    let file = kube::config::Kubeconfig::read_from(kubeconfig)
        .map_err(|e| Error::Client(e.to_string()))?;
    kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Client(e.to_string()))
}

/// A command-line tool of `bin` (kubectl, helm) bound to `kubeconfig`.
fn tool(bin: &Path, name: &str, kubeconfig: &Path) -> Command {
    let mut command = Command::new(bin.join(name));
    command.arg(format!("--kubeconfig={}", kubeconfig.display()));
    command
}

/// What a judging tool said of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: String,
    pub message: String,
}

/// Runs one of the pinned tools that judge objects (`argocd-health`, `kstatus`) with
/// `args`: each of `objects` (JSON) is a line of its standard input, and each line of
/// its standard output, `{"status","message"}`, is its verdict on the object of the
/// same line.
pub fn judge(
    tool: &str,
    args: &[&std::ffi::OsStr],
    objects: &[String],
) -> Result<Vec<Verdict>, Error> {
    use std::io::Write as _;
    let bin = binaries()?.join(tool);
    let mut child = Command::new(&bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io(format!("starting {}", bin.display())))?;
    {
        let mut stdin = child.stdin.take().expect("piped stdin");
        for object in objects {
            writeln!(stdin, "{object}").map_err(io(format!("writing to {tool}")))?;
        }
    }
    let output = child
        .wait_with_output()
        .map_err(io(format!("running {tool}")))?;
    if !output.status.success() {
        return Err(Error::Client(format!(
            "{tool} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| Error::Client(format!("{tool} said {line:?}: {e}")))?;
            let field = |name: &str| v[name].as_str().unwrap_or_default().to_owned();
            Ok(Verdict {
                status: field("status"),
                message: field("message"),
            })
        })
        .collect()
}

/// The repository this crate was built in, where `hack/` and `crds/` are. The test
/// control plane is for tests and the sandbox, run from a checkout; it is never part
/// of the operator's binary, which carries no build path.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Applies the CRDs of `crds/` with `kubectl` and waits until they are established.
pub fn install_crds(kubectl: impl Fn() -> Command) -> Result<(), Error> {
    let crds = repository().join("crds");
    for args in [
        vec![
            "apply".to_owned(),
            "--server-side".to_owned(),
            "-f".to_owned(),
            crds.display().to_string(),
        ],
        vec![
            "wait".into(),
            "--for=condition=Established".into(),
            "--timeout=60s".into(),
            "crd".into(),
            "--all".into(),
        ],
    ] {
        let output = kubectl()
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| Error::Io {
                what: "running kubectl".into(),
                source,
            })?;
        if !output.status.success() {
            return Err(Error::Client(format!(
                "kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
    }
    Ok(())
}

/// A running control plane. Dropping it stops every process and removes its folder.
#[derive(Debug)]
pub struct ControlPlane {
    dir: PathBuf,
    bin: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    children: Vec<(&'static str, Child)>,
}

fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port())
}

/// Removes folders of earlier runs whose process is gone (killed before cleanup).
fn remove_stale_dirs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("oc-controlplane-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn log_file(path: &Path) -> Result<(Stdio, Stdio), Error> {
    let file = std::fs::File::create(path).map_err(io(format!("creating {}", path.display())))?;
    let err = file
        .try_clone()
        .map_err(io(format!("opening {}", path.display())))?;
    Ok((Stdio::from(file), Stdio::from(err)))
}

fn etcd_healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.contains("\"health\":\"true\"")
}

impl ControlPlane {
    /// Starts etcd, kube-apiserver and kube-controller-manager from `bin` and waits
    /// until the apiserver is ready. Blocking; takes some seconds.
    pub fn start(bin: &Path) -> Result<Self, Error> {
        Self::start_with(bin, false)
    }

    /// Starts a control plane as `start` does; with `audit`, the apiserver writes an
    /// audit log (every request at Metadata level, one JSON event a line) to
    /// `audit_log()`, which tests read to see which verbs an identity used.
    pub fn start_with(bin: &Path, audit: bool) -> Result<Self, Error> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir();
        remove_stale_dirs(&root);
        let dir = root.join(format!(
            "oc-controlplane-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let mut plane = ControlPlane {
            kubeconfig: dir.join("admin.kubeconfig"),
            dir,
            bin: bin.to_owned(),
            server: String::new(),
            children: Vec::new(),
        };
        plane.boot(audit)?;
        Ok(plane)
    }

    fn write(&self, name: &str, contents: &str) -> Result<PathBuf, Error> {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).map_err(io(format!("writing {}", path.display())))?;
        Ok(path)
    }

    fn spawn(&mut self, component: &'static str, args: Vec<String>) -> Result<(), Error> {
        let log = self.dir.join(format!("{component}.log"));
        let (out, err) = log_file(&log)?;
        let mut command = Command::new(self.bin.join(component));
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .current_dir(&self.dir);
        let child = processes::spawn(command).map_err(io(format!("starting {component}")))?;
        self.children.push((component, child));
        Ok(())
    }

    fn check_alive(&mut self, component: &'static str) -> Result<(), Error> {
        let log = self.dir.join(format!("{component}.log"));
        if let Some((_, child)) = self.children.iter_mut().find(|(c, _)| *c == component)
            && let Ok(Some(status)) = child.try_wait()
        {
            return Err(Error::Exited {
                component,
                status: status.to_string(),
                log,
            });
        }
        Ok(())
    }

    fn wait_until(
        &mut self,
        component: &'static str,
        limit: Duration,
        mut ready: impl FnMut(&Self) -> bool,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + limit;
        loop {
            if ready(self) {
                return Ok(());
            }
            self.check_alive(component)?;
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    component,
                    secs: limit.as_secs(),
                    log: self.dir.join(format!("{component}.log")),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn boot(&mut self, audit: bool) -> Result<(), Error> {
        let pki = certs::generate()?;
        let ca = self.write("ca.crt", &pki.ca_cert)?;
        let serving_cert = self.write("apiserver.crt", &pki.serving_cert)?;
        let serving_key = self.write("apiserver.key", &pki.serving_key)?;
        let sa_key = self.write("service-account.key", &pki.service_account_key)?;
        let sa_pub = self.write("service-account.pub", &pki.service_account_public_key)?;
        let path = |p: &Path| p.display().to_string();

        let audit_args: Vec<String> = if audit {
            let policy = self.write(
                "audit-policy.yaml",
                "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n",
            )?;
            vec![
                format!("--audit-policy-file={}", path(&policy)),
                format!("--audit-log-path={}", path(&self.audit_log())),
                "--audit-log-format=json".into(),
                "--audit-log-mode=blocking".into(),
            ]
        } else {
            Vec::new()
        };
        let (etcd_port, peer_port, api_port) = (free_port()?, free_port()?, free_port()?);
        let client_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        self.spawn(
            "etcd",
            vec![
                "--name=default".into(),
                format!("--data-dir={}", self.dir.join("etcd").display()),
                format!("--listen-client-urls={client_url}"),
                format!("--advertise-client-urls={client_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=default={peer_url}"),
                "--unsafe-no-fsync=true".into(),
                "--quota-backend-bytes=4294967296".into(),
                "--log-level=warn".into(),
            ],
        )?;
        self.wait_until("etcd", Duration::from_secs(30), |_| etcd_healthy(etcd_port))?;

        self.server = format!("https://127.0.0.1:{api_port}");
        self.spawn(
            "kube-apiserver",
            vec![
                format!("--etcd-servers={client_url}"),
                format!("--secure-port={api_port}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--cert-dir={}", self.dir.join("apiserver-certs").display()),
                format!("--tls-cert-file={}", path(&serving_cert)),
                format!("--tls-private-key-file={}", path(&serving_key)),
                format!("--client-ca-file={}", path(&ca)),
                "--authorization-mode=RBAC".into(),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                format!("--service-account-key-file={}", path(&sa_pub)),
                format!("--service-account-signing-key-file={}", path(&sa_key)),
                "--service-cluster-ip-range=10.0.0.0/24".into(),
                "--disable-admission-plugins=ServiceAccount".into(),
                "--allow-privileged=true".into(),
                "--endpoint-reconciler-type=none".into(),
            ]
            .into_iter()
            .chain(audit_args)
            .collect(),
        )?;
        self.write_kubeconfig(&pki)?;
        let kubectl = self.bin.join("kubectl");
        let kubeconfig = self.kubeconfig.clone();
        self.wait_until("kube-apiserver", Duration::from_secs(90), |_| {
            Command::new(&kubectl)
                .arg(format!("--kubeconfig={}", kubeconfig.display()))
                .args(["get", "--raw", "/readyz"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })?;

        self.spawn(
            "kube-controller-manager",
            vec![
                format!("--kubeconfig={}", self.kubeconfig.display()),
                "--controllers=garbagecollector,namespace,serviceaccount,serviceaccount-token"
                    .into(),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
                format!("--service-account-private-key-file={}", path(&sa_key)),
                format!("--root-ca-file={}", path(&ca)),
                "--use-service-account-credentials=false".into(),
                "--concurrent-gc-syncs=5".into(),
                "--concurrent-namespace-syncs=5".into(),
            ],
        )?;
        std::thread::sleep(Duration::from_millis(300));
        self.check_alive("kube-controller-manager")?;
        Ok(())
    }

    fn write_kubeconfig(&self, pki: &certs::Pki) -> Result<(), Error> {
        use base64::Engine as _;
        let b64 = |data: &[u8]| base64::engine::general_purpose::STANDARD.encode(data);
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: admin\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\ncontexts:\n- name: local\n  context:\n    cluster: local\n    user: admin\n    namespace: default\ncurrent-context: local\n",
            server = self.server,
            ca = b64(pki.ca_cert.as_bytes()),
            cert = b64(pki.admin_cert.as_bytes()),
            key = b64(pki.admin_key.as_bytes()),
        );
        self.write("admin.kubeconfig", &text)?;
        Ok(())
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The apiserver URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The folder of the control plane (logs, certificates, etcd data).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A `kubectl` command bound to this control plane as admin.
    pub fn kubectl(&self) -> Command {
        tool(&self.bin, "kubectl", &self.kubeconfig)
    }

    /// A `helm` command bound to this control plane as admin.
    pub fn helm(&self) -> Command {
        tool(&self.bin, "helm", &self.kubeconfig)
    }

    /// The apiserver's audit log (written when started with `audit`).
    pub fn audit_log(&self) -> PathBuf {
        self.dir.join("audit.log")
    }

    /// A kube client with the admin identity.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        client_from(&self.kubeconfig, None).await
    }

    /// Stops every process (newest first) and removes the folder.
    pub fn stop(&mut self) {
        while let Some((_, mut child)) = self.children.pop() {
            processes::stop(&mut child, Duration::from_secs(5));
        }
        if std::env::var_os("OC_KEEP_CONTROLPLANE").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}
