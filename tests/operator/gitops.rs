//! A real Argo CD sync: Argo CD's own repo server and application controller (pinned
//! in hack/argocd, with the in-memory Redis of Argo CD's tests) sync a tenant folder
//! served by `git daemon` on loopback into a control plane of its own, with the
//! health checks the chart ships (`argocd/argocd-cm-patch.yaml`) and the Application
//! it ships (`argocd/application.yaml`, automated sync with prune and selfHeal, sync
//! waves as its comment lays them out). The tenant becomes Healthy; a change in Git
//! reaches the platform; removing the tenant's manifests prunes everything, and the
//! platform holds nothing of it. The apiserver's audit log shows that Argo CD created
//! each object once: nothing was re-created in a loop while the operator deleted.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use liveplatform_sim::Seed;
use serde_json::{Value, json};

use crate::replica::free_probe_address;
use crate::support::*;

/// Argo CD's namespace, and the ServiceAccount its controller runs as.
const ARGOCD: &str = "argocd";
const CONTROLLER: &str = "argocd-application-controller";

#[tokio::test]
async fn argo_cd_syncs_a_tenant_folder_changes_it_and_prunes_it_leaving_nothing() {
    let private = audited_control_plane().await;
    testenv::install_crds(|| private.kubectl()).expect("the operator's CRDs");
    let client = private.client().await.expect("admin client");
    let mut world = World::bare(
        "gitops",
        client.clone(),
        private.kubeconfig(),
        Seed::default(),
    )
    .await;
    world.put_platform(json!([world.ns])).await;
    world.start().await;

    // Outside the control plane's folder, which is removed with it: kept for a look
    // after a failure.
    let scratch = std::env::temp_dir().join(format!("{}-gitops", world.ns));
    let git = GitServer::start(&scratch.join("git"), &tenant_folder(&world));
    let argocd = ArgoCd::start(&world, &private, &scratch.join("argocd"));
    let app = argocd.application(&world, &git.url(), private.server());

    let first = app.until(&world, 300, "Synced and Healthy", healthy).await;
    world.examples_ready().await;
    let objects = documents_in(&git.work.join(TENANT));
    // Argo CD judged each object with the shipped health check (no check gives no
    // health at all), in the wave the object's annotation gave it.
    for object in objects.iter().filter(|o| o["apiVersion"] != "v1") {
        let name = &object["metadata"]["name"];
        let resource = first["status"]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == object["kind"] && &r["name"] == name)
            .unwrap_or_else(|| panic!("{name} not among the Application's resources"));
        assert_eq!(
            (
                &resource["health"]["status"],
                resource["syncWave"].to_string()
            ),
            (
                &json!("Healthy"),
                object["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            ),
            "{name}: {resource}"
        );
    }

    // A change in Git reaches the platform: the Seattle rule gets another prefix.
    git.edit(
        "50-dial-plan.yaml",
        |text| text.replace("prefix: \"+1206\"", "prefix: \"+1253\""),
        "Seattle calls go to +1253",
    );
    app.until(&world, 120, "synced to the new commit", |a| {
        healthy(a) && a["status"]["sync"]["revision"] != first["status"]["sync"]["revision"]
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = world.admin.state().await.unwrap();
        let rules = state["dialPlans"].to_string();
        if rules.contains("+1253") && !rules.contains("+1206") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the change in Git never reached the platform: {rules}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Removing the tenant's manifests prunes everything, and the platform is emptied.
    git.remove_manifests("contoso leaves");
    app.until(&world, 180, "pruned", |a| {
        healthy(a)
            && a["status"]["resources"]
                .as_array()
                .is_none_or(|r| r.is_empty())
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !tenant_objects(&world).is_empty() {
        assert!(
            Instant::now() < deadline,
            "objects left after the prune: {:?}",
            tenant_objects(&world)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    world.platform_holds_nothing().await;

    // Each object was created once by Argo CD: none re-created while being deleted.
    let created = created_by(
        &private.audit_log(),
        &format!("system:serviceaccount:{ARGOCD}:{CONTROLLER}"),
        &world.ns,
    );
    let mut expected: Vec<(String, String)> = objects
        .iter()
        .map(|o| {
            (
                resource_of(o["kind"].as_str().unwrap()),
                o["metadata"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(created, expected, "objects created by Argo CD, once each");
    drop(argocd);
    drop(git);
    // Passed: nothing left to look at.
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The tenant folder inside the Git repository.
const TENANT: &str = "tenants/contoso";

/// Whether the Application is Synced and Healthy.
fn healthy(app: &Value) -> bool {
    app["status"]["sync"]["status"] == "Synced" && app["status"]["health"]["status"] == "Healthy"
}

/// The customer files of `examples/` (from 20- on) for this world's namespace and
/// platform, each object with the sync wave that `argocd/application.yaml` gives its
/// kind: (file name, text).
fn tenant_folder(world: &World) -> Vec<(String, String)> {
    let shipped = std::fs::read_to_string(shipped("application.yaml")).unwrap();
    let waves: Vec<(String, String)> = shipped
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("#")?.trim();
            let (kind, wave) = rest.split_once("argocd.argoproj.io/sync-wave:")?;
            Some((kind.trim().to_owned(), wave.trim().to_owned()))
        })
        .collect();
    assert_eq!(waves.len(), 6, "application.yaml gives each kind its wave");
    let dir = testenv::repository().join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().as_ref() >= "20")
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .unwrap()
                .replace("namespace: contoso", &format!("namespace: {}", world.ns))
                .replace("name: sandbox", &format!("name: {}", world.platform()));
            let documents: Vec<String> = text
                .split("\n---\n")
                .map(|document| {
                    let kind = document
                        .lines()
                        .find_map(|l| l.strip_prefix("kind: "))
                        .unwrap_or_default();
                    match waves.iter().find(|(k, _)| k == kind) {
                        Some((_, wave)) => document.replacen(
                            "\nmetadata:\n",
                            &format!(
                                "\nmetadata:\n  annotations:\n    argocd.argoproj.io/sync-wave: {wave}\n"
                            ),
                            1,
                        ),
                        None => document.to_owned(),
                    }
                })
                .collect();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                documents.join("\n---\n"),
            )
        })
        .collect()
}

fn shipped(file: &str) -> PathBuf {
    testenv::repository()
        .join("charts/oc-operator/argocd")
        .join(file)
}

/// The objects of the YAML files in `dir`.
fn documents_in(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            for document in text.split("\n---\n") {
                let value: Value = serde_yaml_ng::from_str(document).unwrap();
                if value.is_object() {
                    out.push(value);
                }
            }
        }
    }
    out
}

/// The API resource (plural) of a kind of the tenant folder.
fn resource_of(kind: &str) -> String {
    match kind {
        "Secret" => "secrets".to_owned(),
        other => format!("{}s", other.to_lowercase()),
    }
}

/// The operator's objects left in the world's namespace.
fn tenant_objects(world: &World) -> String {
    let output = world
        .kubectl()
        .args([
            "get",
            "occustomers,ocnumberblocks,ocsipconnections,ocdialplans,ocendusers",
            "-n",
            &world.ns,
            "-o",
            "name",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// (resource, name) of every object `user` created in `ns` (answered 201), sorted,
/// from the apiserver's audit log.
fn created_by(log: &Path, user: &str, ns: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(log).expect("the audit log");
    let mut created: Vec<(String, String)> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|e| {
            e["user"]["username"] == user
                && e["stage"] == "ResponseComplete"
                && e["responseStatus"]["code"] == 201
                && e["objectRef"]["namespace"] == ns
        })
        .map(|e| {
            (
                e["objectRef"]["resource"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e["objectRef"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    created.sort();
    created
}

/// A Git repository served by `git daemon` on loopback, and a working copy that
/// commits and pushes to it.
struct GitServer {
    daemon: Child,
    port: u16,
    work: PathBuf,
}

impl GitServer {
    /// Serves a repository whose `main` holds `files` in the tenant folder.
    fn start(dir: &Path, files: &[(String, String)]) -> Self {
        let bare = dir.join("tenants.git");
        let work = dir.join("work");
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "--bare", "--initial-branch=main"]);
        git(dir, &["init", "--initial-branch=main", "work"]);
        let folder = work.join(TENANT);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("README.md"),
            "Contoso's Operator Connect objects; Argo CD syncs the YAML files of this folder.\n",
        )
        .unwrap();
        for (name, text) in files {
            std::fs::write(folder.join(name), text).unwrap();
        }
        git(
            &work,
            &["remote", "add", "origin", &bare.display().to_string()],
        );
        let port = free_probe_address().port();
        let server = Self {
            daemon: testenv::processes::spawn({
                let mut command = Command::new("git");
                command
                    .args([
                        "daemon",
                        "--reuseaddr",
                        "--export-all",
                        "--listen=127.0.0.1",
                        &format!("--port={port}"),
                        &format!("--base-path={}", dir.display()),
                        &dir.display().to_string(),
                    ])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(log_file(dir, "git-daemon"));
                command
            })
            .expect("git daemon"),
            port,
            work,
        };
        server.commit("contoso joins");
        server
    }

    fn url(&self) -> String {
        format!("git://127.0.0.1:{}/tenants.git", self.port)
    }

    fn commit(&self, message: &str) {
        git(&self.work, &["add", "-A"]);
        git(
            &self.work,
            &[
                "-c",
                "user.name=Platform team",
                "-c",
                "user.email=platform@example.com",
                "commit",
                "-q",
                "-m",
                message,
            ],
        );
        git(&self.work, &["push", "-q", "origin", "main"]);
    }

    /// Rewrites `file` of the tenant folder and commits.
    fn edit(&self, file: &str, change: impl Fn(&str) -> String, message: &str) {
        let path = self.work.join(TENANT).join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let changed = change(&text);
        assert_ne!(changed, text, "{file}: the edit changes nothing");
        std::fs::write(&path, changed).unwrap();
        self.commit(message);
    }

    /// Removes every manifest of the tenant folder (its README stays) and commits.
    fn remove_manifests(&self, message: &str) {
        for entry in std::fs::read_dir(self.work.join(TENANT)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                std::fs::remove_file(path).unwrap();
            }
        }
        self.commit(message);
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        testenv::processes::stop(&mut self.daemon, Duration::from_secs(2));
    }
}

fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn log_file(dir: &Path, name: &str) -> std::fs::File {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::File::create(dir.join(format!("{name}.log"))).unwrap()
}

/// Argo CD's repo server and application controller, with Redis, configured as an
/// installation that merged the chart's argocd-cm patch.
struct ArgoCd {
    processes: Vec<Child>,
    logs: PathBuf,
}

impl ArgoCd {
    fn start(world: &World, private: &testenv::ControlPlane, logs: &Path) -> Self {
        let logs = logs.to_owned();
        let kubectl = |args: &[&str]| {
            let output = world.kubectl().args(args).output().unwrap();
            assert!(output.status.success(), "kubectl {args:?}: {output:?}");
        };
        let crds = plane().binary("argocd-crds");
        kubectl(&["apply", "--server-side", "-f", &crds.display().to_string()]);
        // `kubectl wait` fails at once on a CRD the apiserver has not given a status
        // yet: asked again until both are Established.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let output = world
                .kubectl()
                .args([
                    "wait",
                    "--for=condition=Established",
                    "--timeout=10s",
                    "crd/applications.argoproj.io",
                    "crd/appprojects.argoproj.io",
                ])
                .output()
                .unwrap();
            if output.status.success() {
                break;
            }
            assert!(Instant::now() < deadline, "Argo CD's CRDs: {output:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
        kubectl(&["create", "namespace", ARGOCD]);
        kubectl(&["create", "serviceaccount", CONTROLLER, "-n", ARGOCD]);
        kubectl(&[
            "create",
            "clusterrolebinding",
            CONTROLLER,
            "--clusterrole=cluster-admin",
            &format!("--serviceaccount={ARGOCD}:{CONTROLLER}"),
        ]);
        let token = world.token(ARGOCD, CONTROLLER, None);
        let kubeconfig = token_kubeconfig(
            private.kubeconfig(),
            &token,
            &private.dir().join("argocd.kubeconfig"),
        );
        let admin: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(private.kubeconfig()).unwrap())
                .unwrap();
        let ca = admin["clusters"][0]["cluster"]["certificate-authority-data"].clone();
        let patch: Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(shipped("argocd-cm-patch.yaml")).unwrap(),
        )
        .unwrap();
        let mut settings = patch["data"].clone();
        // Look at Git every few seconds instead of every three minutes.
        settings["timeout.reconciliation"] = json!("3s");
        let part_of = json!({"app.kubernetes.io/part-of": "argocd"});
        let objects = [
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "argocd-cm", "namespace": ARGOCD, "labels": part_of},
                   "data": settings}),
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "argocd-secret", "namespace": ARGOCD, "labels": part_of},
                   "stringData": {"server.secretkey": "test"}}),
            json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "test-cluster", "namespace": ARGOCD,
                         "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "stringData": {
                "name": "test-cluster",
                "server": private.server(),
                "config": json!({"bearerToken": token, "tlsClientConfig": {"caData": ca}}).to_string(),
            }}),
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
                   "metadata": {"name": "default", "namespace": ARGOCD},
                   "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}}),
        ];
        let file = private.dir().join("argocd-objects.json");
        std::fs::write(
            &file,
            serde_json::to_string(&json!({"apiVersion": "v1", "kind": "List", "items": objects}))
                .unwrap(),
        )
        .unwrap();
        kubectl(&["apply", "-f", &file.display().to_string()]);

        let argocd = plane().binary("argocd");
        let mut processes = Vec::new();
        let redis = {
            let mut command = Command::new(plane().binary("argocd-redis"));
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(log_file(&logs, "redis"));
            testenv::processes::spawn(command).expect("argocd-redis")
        };
        let mut redis = redis;
        let address = {
            use std::io::BufRead;
            let mut line = String::new();
            std::io::BufReader::new(redis.stdout.take().unwrap())
                .read_line(&mut line)
                .expect("argocd-redis prints its address");
            line.trim().to_owned()
        };
        processes.push(redis);
        let repo_port = free_probe_address().port().to_string();
        let spawn = |binary_name: &str, args: &[&str]| {
            let mut command = Command::new(&argocd);
            command
                .env("ARGOCD_BINARY_NAME", binary_name)
                .env("ARGOCD_GPG_ENABLED", "false")
                .env("TMPDIR", logs.join("tmp"))
                .env("HOME", logs.join("home"))
                .args(args)
                .stdin(Stdio::null())
                .stdout(log_file(&logs, binary_name))
                .stderr(log_file(&logs, &format!("{binary_name}.err")));
            std::fs::create_dir_all(logs.join("tmp")).unwrap();
            std::fs::create_dir_all(logs.join("home")).unwrap();
            testenv::processes::spawn(command).expect(binary_name)
        };
        processes.push(spawn(
            "argocd-repo-server",
            &[
                "--port",
                &repo_port,
                "--metrics-port",
                &free_probe_address().port().to_string(),
                "--redis",
                &address,
                "--disable-tls",
                // An installation learns of a push from a Git webhook; here Git is
                // asked again every few seconds.
                "--revision-cache-expiration",
                "2s",
                "--loglevel",
                "info",
            ],
        ));
        processes.push(spawn(
            "argocd-application-controller",
            &[
                "--kubeconfig",
                &kubeconfig.display().to_string(),
                "--namespace",
                ARGOCD,
                "--redis",
                &address,
                "--repo-server",
                &format!("127.0.0.1:{repo_port}"),
                "--repo-server-plaintext",
                "--metrics-port",
                &free_probe_address().port().to_string(),
                "--app-resync",
                "3",
                "--self-heal-timeout-seconds",
                "1",
                "--loglevel",
                "info",
            ],
        ));
        Self { processes, logs }
    }

    /// Creates the shipped Application for the tenant folder of `repo`, deployed to
    /// the world's namespace on `server`.
    fn application(&self, world: &World, repo: &str, server: &str) -> Application {
        let mut app: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(shipped("application.yaml")).unwrap())
                .unwrap();
        app["metadata"]["namespace"] = json!(ARGOCD);
        app["spec"]["source"]["repoURL"] = json!(repo);
        app["spec"]["source"]["path"] = json!(TENANT);
        app["spec"]["source"]["targetRevision"] = json!("main");
        app["spec"]["destination"] = json!({"server": server, "namespace": world.ns});
        let name = app["metadata"]["name"].as_str().unwrap().to_owned();
        let file = self.logs.join("application.json");
        std::fs::write(&file, app.to_string()).unwrap();
        let output = world
            .kubectl()
            .args(["apply", "-f", &file.display().to_string()])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        Application {
            name,
            logs: self.logs.clone(),
        }
    }
}

impl Drop for ArgoCd {
    fn drop(&mut self) {
        for child in self.processes.iter_mut().rev() {
            testenv::processes::stop(child, Duration::from_secs(5));
        }
    }
}

/// The Application under test.
struct Application {
    name: String,
    logs: PathBuf,
}

impl Application {
    fn get(&self, world: &World) -> Value {
        let output = world
            .kubectl()
            .args(["get", "application", &self.name, "-n", ARGOCD, "-o", "json"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Waits at most `secs` seconds until `check` holds of the Application; returns it.
    async fn until(
        &self,
        world: &World,
        secs: u64,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let app = self.get(world);
            if check(&app) {
                return app;
            }
            assert!(
                Instant::now() < deadline,
                "Application {} not {what} within {secs} s (Argo CD's logs in {}): {:#}",
                self.name,
                self.logs.display(),
                app["status"]
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
