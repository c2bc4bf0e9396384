//! What the chart renders for each value (`helm template`, no cluster needed), and
//! the values its schema refuses.

use serde_json::{Value, json};

use super::*;

#[test]
fn the_chart_lints_and_its_schema_refuses_wrong_values() {
    let (ok, text) = helm(&[
        "lint",
        &chart(),
        "--strict",
        "--set",
        "sandbox.enabled=true",
    ]);
    assert!(ok, "{text}");
    for (value, message) in [
        ("replicas=two", "/replicas"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("image.digest=latest", "/image/digest"),
        ("operator.logFormat=xml", "/operator/logFormat"),
        ("platform.enabled=true", "/platform/serviceProviderTenantId"),
        ("extraArgs[0]=oops", "/extraArgs/0"),
        ("serviceAccount.create=false", "/serviceAccount"),
        (
            "networkPolicy.apiServer.cidrs[0]=everywhere",
            "/networkPolicy/apiServer/cidrs/0",
        ),
        ("rbac.secretNamespaces={a,a}", "/rbac/secretNamespaces"),
        ("fullnameOverride=Not_A_Name", "/fullnameOverride"),
        ("nonsense=1", "additional properties 'nonsense' not allowed"),
    ] {
        let (ok, text) = helm(&["template", "t", &chart(), "--set", value]);
        assert!(!ok && text.contains(message), "{value}: {text}");
    }
    // The chart says which Kubernetes it needs (its CRDs validate with CEL).
    let (ok, text) = helm(&["template", "t", &chart(), "--kube-version", "1.27.0"]);
    assert!(!ok && text.contains("kubeVersion"), "{text}");
    // As a subchart it is given `global`.
    render("t", "ops", &["global.imageRegistry=example.org"]);
}

#[test]
fn the_default_release_is_hardened_and_reads_secrets_in_its_own_namespace_only() {
    let objects = render("oc", "ops", &[]);
    let deployment = object(&objects, "Deployment", "oc-oc-operator");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "oc-oc-operator");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    let hardening = &container["securityContext"];
    assert_eq!(hardening["readOnlyRootFilesystem"], true);
    assert_eq!(hardening["allowPrivilegeEscalation"], false);
    assert_eq!(hardening["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(hardening["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(container["image"], "ghcr.io/example/oc-operator:0.1.0");
    let args = args_of(deployment);
    assert!(
        args.contains(&"--secret-reader-cluster-role=oc-oc-operator-ops-secret-reader".to_owned())
    );
    assert!(
        !args.iter().any(|a| a.starts_with("--leader-elect")),
        "{args:?}"
    );

    // Secrets: the Role of the release namespace, no binding of the secret reader.
    let role = object(&objects, "Role", "oc-oc-operator");
    assert_eq!(role["metadata"]["namespace"], "ops");
    assert!(role["rules"][0].get("resourceNames").is_none());
    for o in &objects {
        let grants_secret_reader = o["roleRef"]["name"]
            .as_str()
            .is_some_and(|r| r.ends_with("-secret-reader"));
        assert!(!grants_secret_reader, "bound by default: {o}");
    }
    assert!(!objects.iter().any(|o| o["kind"] == "PodDisruptionBudget"));
    assert!(!objects.iter().any(|o| o["kind"] == "NetworkPolicy"));
    // No rule anywhere grants Secrets cluster-wide, or anything with a wildcard.
    for o in &objects {
        for rule in o["rules"].as_array().into_iter().flatten() {
            let text = rule.to_string();
            assert!(
                !text.contains("\"*\""),
                "wildcard in {}: {text}",
                o["metadata"]["name"]
            );
            if o["kind"] == "ClusterRole" && text.contains("secrets") {
                assert!(
                    o["metadata"]["name"]
                        .as_str()
                        .unwrap()
                        .ends_with("-secret-reader")
                );
            }
        }
    }
}

#[test]
fn secrets_are_granted_where_the_values_say() {
    let objects = render(
        "oc",
        "ops",
        &[
            "rbac.secretNamespaces={contoso,fabrikam,ops}",
            "platform.enabled=true",
            "platform.baseUrl=https://lp.example/tenantui/api",
            "platform.serviceProviderTenantId=5b3c8a2e-9f1d-4e6a-b7c4-2d8e0f1a3b5c",
            "platform.allowedNamespaces={contoso}",
        ],
    );
    let bindings: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "RoleBinding" && o["roleRef"]["kind"] == "ClusterRole")
        .map(|o| o["metadata"]["namespace"].as_str().unwrap())
        .collect();
    // The release namespace is left out: its Role grants it already.
    assert_eq!(bindings, ["contoso", "fabrikam"]);
    let role = object(&objects, "Role", "oc-oc-operator");
    assert_eq!(
        role["rules"][0]["resourceNames"],
        json!(["live-platform-credentials"])
    );

    let objects = render("oc", "ops", &["rbac.clusterWideSecrets=true"]);
    let binding = object(
        &objects,
        "ClusterRoleBinding",
        "oc-oc-operator-ops-secret-reader",
    );
    assert_eq!(binding["subjects"][0]["name"], "oc-oc-operator");
    assert_eq!(binding["subjects"][0]["namespace"], "ops");
}

#[test]
fn two_releases_share_no_object_and_elect_apart() {
    let names_of = |release: &str| -> Vec<String> {
        render(release, "ops", &["replicas=2"])
            .iter()
            .filter(|o| o["kind"] != "CustomResourceDefinition")
            .map(|o| format!("{}/{}", o["kind"], o["metadata"]["name"]))
            .collect()
    };
    let blue = names_of("blue");
    let green = names_of("green");
    let shared: Vec<&String> = blue.iter().filter(|n| green.contains(n)).collect();
    assert!(shared.is_empty(), "shared by two releases: {shared:?}");

    let objects = render("blue", "ops", &["replicas=2"]);
    let args = args_of(object(&objects, "Deployment", "blue-oc-operator"));
    assert!(args.contains(&"--leader-elect".to_owned()), "{args:?}");
    assert!(
        args.contains(&"--lease-name=blue-oc-operator-leader".to_owned()),
        "{args:?}"
    );
    let role = object(&objects, "Role", "blue-oc-operator");
    let lease_rule = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r.get("resourceNames").is_some() && r["resources"] == json!(["leases"]))
        .expect("a rule for the release's own Lease");
    assert_eq!(
        lease_rule["resourceNames"],
        json!(["blue-oc-operator-leader"])
    );
    let pdb = object(&objects, "PodDisruptionBudget", "blue-oc-operator");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    // With leader election, a rolling update is safe: the Lease keeps one leader.
    let deployment = object(&objects, "Deployment", "blue-oc-operator");
    assert!(deployment["spec"].get("strategy").is_none(), "{deployment}");
    // A release upgraded from 0.1.x keeps its Lease's name.
    let objects = render(
        "oc",
        "ops",
        &["replicas=2", "leaderElection.leaseName=oc-operator-leader"],
    );
    let args = args_of(object(&objects, "Deployment", "oc-oc-operator"));
    assert!(
        args.contains(&"--lease-name=oc-operator-leader".to_owned()),
        "{args:?}"
    );
    let role = object(&objects, "Role", "oc-oc-operator");
    assert!(
        role["rules"].to_string().contains("\"oc-operator-leader\""),
        "{role}"
    );

    // Overrides.
    let objects = render("x", "ops", &["fullnameOverride=voice"]);
    object(&objects, "Deployment", "voice");
    let objects = render("x", "ops", &["nameOverride=oc"]);
    object(&objects, "Deployment", "x-oc");
    // A release whose name holds the chart's name is not repeated.
    let objects = render("my-oc-operator", "ops", &[]);
    object(&objects, "Deployment", "my-oc-operator");
}

#[test]
fn every_pod_value_lands_where_it_belongs() {
    let values = r#"
image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
serviceAccount:
  annotations: {azure.workload.identity/client-id: 00000000-0000-0000-0000-000000000001}
  labels: {azure.workload.identity/use: "true"}
extraArgs: [--log-level=debug]
extraEnv: [{name: HTTPS_PROXY, value: "http://proxy:3128"}]
podAnnotations: {example.org/scrape: "yes"}
podLabels: {team: voice}
priorityClassName: system-cluster-critical
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector: {matchLabels: {app.kubernetes.io/instance: "{{ .Release.Name }}"}}
podSecurityContext: {runAsNonRoot: true, fsGroup: 65532}
securityContext: {runAsUser: 1000, runAsNonRoot: true, readOnlyRootFilesystem: true}
podDisruptionBudget: {enabled: true, maxUnavailable: 1}
crds: {keep: false}
"#;
    let objects = render_values("oc", "ops", values, &[]);
    let deployment = object(&objects, "Deployment", "oc-oc-operator");
    let template = &deployment["spec"]["template"];
    let pod = &template["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        container["image"],
        "ghcr.io/example/oc-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
    assert!(args_of(deployment).contains(&"--log-level=debug".to_owned()));
    assert!(
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "HTTPS_PROXY")
    );
    assert_eq!(
        template["metadata"]["annotations"]["example.org/scrape"],
        "yes"
    );
    assert_eq!(template["metadata"]["labels"]["team"], "voice");
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    assert_eq!(
        pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"],
        "oc"
    );
    assert_eq!(pod["securityContext"]["fsGroup"], 65532);
    assert_eq!(container["securityContext"]["runAsUser"], 1000);
    let account = object(&objects, "ServiceAccount", "oc-oc-operator");
    assert_eq!(
        account["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    assert_eq!(
        account["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "00000000-0000-0000-0000-000000000001"
    );
    let pdb = object(&objects, "PodDisruptionBudget", "oc-oc-operator");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert!(pdb["spec"].get("minAvailable").is_none());
    let crd = object(
        &objects,
        "CustomResourceDefinition",
        "occustomers.operatorconnect.io",
    );
    assert!(crd["metadata"].get("annotations").is_none(), "{crd}");

    // An existing ServiceAccount, no CRDs.
    let objects = render(
        "oc",
        "ops",
        &[
            "serviceAccount.create=false",
            "serviceAccount.name=voice-ops",
            "crds.install=false",
        ],
    );
    assert!(!objects.iter().any(|o| o["kind"] == "ServiceAccount"));
    assert!(
        !objects
            .iter()
            .any(|o| o["kind"] == "CustomResourceDefinition")
    );
    let binding = object(&objects, "ClusterRoleBinding", "oc-oc-operator-ops");
    assert_eq!(binding["subjects"][0]["name"], "voice-ops");
}

#[test]
fn the_crds_are_templates_kept_on_uninstall() {
    let objects = render("oc", "ops", &[]);
    let crds: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .collect();
    assert_eq!(crds.len(), 6, "{:?}", names(&objects));
    for crd in crds {
        assert_eq!(
            crd["metadata"]["annotations"]["helm.sh/resource-policy"],
            "keep"
        );
        assert_eq!(
            crd["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "Helm"
        );
        // The generated file, unchanged below metadata.
        let name = crd["metadata"]["name"].as_str().unwrap();
        let generated =
            std::fs::read_to_string(format!("{}/files/crds/{name}.yaml", chart())).unwrap();
        let generated: Value = serde_yaml_ng::from_str(&generated).unwrap();
        assert_eq!(crd["spec"], generated["spec"], "{name}");
    }
}

#[test]
fn the_network_policy_lets_in_probes_and_out_dns_the_api_and_the_platform() {
    let values = r#"
networkPolicy:
  enabled: true
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
  apiServer: {cidrs: [10.0.0.1/32], ports: [6443]}
  platform: {cidrs: [203.0.113.0/24], ports: [443]}
sandbox: {enabled: true}
"#;
    let objects = render_values("oc", "ops", values, &[]);
    let policy = object(&objects, "NetworkPolicy", "oc-oc-operator");
    let spec = &policy["spec"];
    assert_eq!(spec["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(spec["ingress"].as_array().unwrap().len(), 1);
    assert_eq!(
        spec["ingress"][0]["ports"],
        json!([{"port": "probes", "protocol": "TCP"}])
    );
    assert_eq!(
        spec["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "monitoring"
    );
    let egress = spec["egress"].as_array().unwrap();
    let ports: Vec<Value> = egress.iter().map(|e| e["ports"].clone()).collect();
    assert_eq!(
        ports,
        [
            json!([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]),
            json!([{"port": 6443, "protocol": "TCP"}]),
            json!([{"port": 443, "protocol": "TCP"}]),
            json!([{"port": 8080, "protocol": "TCP"}]),
        ]
    );
    assert_eq!(
        egress[1]["to"],
        json!([{"ipBlock": {"cidr": "10.0.0.1/32"}}])
    );
    assert_eq!(
        egress[2]["to"],
        json!([{"ipBlock": {"cidr": "203.0.113.0/24"}}])
    );
    // The sandbox rule reaches the simulator's pods, by the labels they carry.
    let simulator = object(&objects, "Deployment", "oc-oc-operator-simulator");
    assert_eq!(
        egress[3]["to"][0]["podSelector"]["matchLabels"],
        simulator["spec"]["template"]["metadata"]["labels"]
    );
    // The sandbox's simulator runs from its own image: the operator's has no simulator.
    assert_eq!(
        simulator["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/example/oc-simulator:0.1.0"
    );
}

/// The arguments of the Deployment's operator container.
pub fn args_of(deployment: &Value) -> Vec<String> {
    deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("an argument is a string").to_owned())
        .collect()
}

#[test]
fn the_notes_say_where_secrets_are_readable_and_how_to_uninstall() {
    let (ok, text) = helm(&[
        "install",
        "notes",
        &chart(),
        "--dry-run",
        "--namespace",
        "ops",
        "--set",
        "rbac.secretNamespaces={contoso,fabrikam}",
        // The shared control plane's CRDs are not Helm's to import.
        "--set",
        "crds.install=false",
    ]);
    assert!(ok, "{text}");
    let notes = &text[text.find("NOTES:").expect("NOTES")..];
    for part in [
        "ServiceAccount notes-oc-operator",
        "Carrier password Secrets are readable in: contoso, fabrikam.",
        "(the CRDs are kept)",
        "oc-operator release-finalizers --namespace <ns>",
    ] {
        assert!(notes.contains(part), "{part}: {notes}");
    }
}

#[test]
fn workload_identity_labels_the_pod_for_the_webhook_or_projects_the_token_itself() {
    let platform = [
        "workloadIdentity.enabled=true",
        "workloadIdentity.clientId=6c2f9a1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
        "platform.enabled=true",
        "platform.baseUrl=https://lp.example/tenantui/api",
        "platform.serviceProviderTenantId=5b3c8a2e-9f1d-4e6a-b7c4-2d8e0f1a3b5c",
        "platform.allowedNamespaces={contoso}",
    ];
    // With the Azure Workload Identity webhook: the label and the annotation it reads.
    let objects = render("oc", "ops", &platform);
    let account = object(&objects, "ServiceAccount", "oc-oc-operator");
    assert_eq!(
        account["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "6c2f9a1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
    );
    let deployment = object(&objects, "Deployment", "oc-oc-operator");
    let template = &deployment["spec"]["template"];
    assert_eq!(
        template["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    assert!(template["spec"].get("volumes").is_none());
    let ocplatform = object(&objects, "OCPlatform", "oc");
    assert_eq!(
        ocplatform["spec"]["workloadIdentity"]["clientId"],
        "6c2f9a1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
    );
    assert!(ocplatform["spec"].get("credentialsSecretRef").is_none());
    // No credentials Secret to read: the Role is not narrowed to one.
    let role = object(&objects, "Role", "oc-oc-operator");
    assert!(
        !role.to_string().contains("live-platform-credentials"),
        "{role}"
    );

    // Without the webhook: the chart projects the token where the operator reads it.
    let mut sets = platform.to_vec();
    sets.push("workloadIdentity.projectToken=true");
    let objects = render("oc", "ops", &sets);
    let deployment = object(&objects, "Deployment", "oc-oc-operator");
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(
        deployment["spec"]["template"]["metadata"]["labels"]
            .get("azure.workload.identity/use")
            .is_none()
    );
    let source = &pod["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"];
    assert_eq!(
        source["audience"],
        liveplatform::contract::FEDERATED_TOKEN_AUDIENCE
    );
    assert_eq!(source["expirationSeconds"], 3600);
    let container = &pod["containers"][0];
    let mount = format!(
        "{}/{}",
        container["volumeMounts"][0]["mountPath"].as_str().unwrap(),
        source["path"].as_str().unwrap()
    );
    assert_eq!(mount, liveplatform::contract::DEFAULT_FEDERATED_TOKEN_FILE);
    let env = container["env"].as_array().unwrap();
    let file = env
        .iter()
        .find(|e| e["name"] == "AZURE_FEDERATED_TOKEN_FILE")
        .expect("the token file's variable");
    assert_eq!(
        file["value"],
        liveplatform::contract::DEFAULT_FEDERATED_TOKEN_FILE
    );

    // Enabled without a client id is refused.
    let (ok, text) = helm(&[
        "template",
        "t",
        &chart(),
        "--set",
        "workloadIdentity.enabled=true",
    ]);
    assert!(!ok && text.contains("/workloadIdentity/clientId"), "{text}");
}

/// The chart's page (docs/helm.md, before "Upgrading") names every value of
/// values.yaml (each top-level key, and each key below it), so a new value cannot land
/// undocumented.
#[test]
fn the_chart_page_lists_every_value() {
    let readme = std::fs::read_to_string(testenv::repository().join("docs/helm.md")).unwrap();
    let start = readme
        .find("# Installing with Helm")
        .expect("the chart section");
    let end = readme[start..]
        .find("## Upgrading")
        .map_or(readme.len(), |i| start + i);
    let section = &readme[start..end];
    let values: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(format!("{}/values.yaml", chart())).unwrap(),
    )
    .unwrap();
    let mut missing = Vec::new();
    for (key, value) in values.as_object().unwrap() {
        if !section.contains(&format!("`{key}")) {
            missing.push(key.clone());
        }
        // Maps of settings (not free-form maps such as annotations or selectors).
        let free_form = [
            "global",
            "resources",
            "nodeSelector",
            "affinity",
            "podAnnotations",
            "podLabels",
            "podSecurityContext",
            "securityContext",
        ];
        if free_form.contains(&key.as_str()) {
            continue;
        }
        for sub in value.as_object().into_iter().flat_map(|m| m.keys()) {
            let named = section.contains(&format!("`{key}.{sub}`"))
                || section.contains(&format!("`.{sub}`"))
                || section.contains(&format!("`{key}.{sub},"))
                || section.contains(&format!("`{key}.{sub}."))
                || section.contains(&format!("{key}.{sub}`"))
                || (section.contains(&format!("`{key}.*`")))
                || section.contains(&format!("`{sub}`"));
            if !named {
                missing.push(format!("{key}.{sub}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "values docs/helm.md does not name: {missing:?}"
    );
}

/// The dashboard reads only families docs/operating.md documents (which a live operator's
/// families are compared with in `observability.rs`), and is valid JSON in its
/// ConfigMap, labelled for Grafana's sidecar.
#[test]
fn the_dashboard_reads_only_documented_series() {
    let documented = crate::support::readme_metric_families();
    let objects = render(
        "oc",
        "ops",
        &[
            "grafanaDashboard.enabled=true",
            "grafanaDashboard.namespace=monitoring",
        ],
    );
    let config_map = object(&objects, "ConfigMap", "oc-oc-operator-dashboard");
    assert_eq!(config_map["metadata"]["namespace"], "monitoring");
    assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard"], "1");
    let board: Value =
        serde_json::from_str(config_map["data"]["oc-operator.json"].as_str().unwrap())
            .expect("the dashboard is JSON");
    let mut unknown = Vec::new();
    let mut read = 0;
    for panel in board["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !(word.starts_with("operatorconnect_") || word.starts_with("process_")) {
                    continue;
                }
                read += 1;
                let family = ["_bucket", "_count", "_sum", "_total"]
                    .iter()
                    .fold(word, |w, suffix| w.strip_suffix(suffix).unwrap_or(w));
                if !documented.contains(family) {
                    unknown.push(format!("{}: {word}", panel["title"]));
                }
            }
        }
    }
    assert!(read >= 12, "the dashboard reads {read} series");
    assert!(
        unknown.is_empty(),
        "the dashboard reads undocumented series: {unknown:?}"
    );
}

#[test]
fn the_service_monitor_and_rules_carry_the_labels_prometheus_selects_by() {
    let objects = render(
        "oc",
        "ops",
        &[
            "serviceMonitor.enabled=true",
            "serviceMonitor.labels.release=kube-prometheus-stack",
            "prometheusRule.enabled=true",
            "prometheusRule.labels.release=kube-prometheus-stack",
            "prometheusRule.notReadyFor=45m",
        ],
    );
    let monitor = object(&objects, "ServiceMonitor", "oc-oc-operator");
    assert_eq!(
        monitor["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    let rule = object(&objects, "PrometheusRule", "oc-oc-operator");
    assert_eq!(
        rule["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    let not_ready = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["alert"] == "OperatorConnectObjectsNotReady")
        .unwrap();
    assert_eq!(not_ready["for"], "45m");
}
