//! The Argo CD health checks, run by Argo CD's own code (`hack/argocd`: its settings
//! manager reads the argocd-cm patch the chart ships, its wildcard lookup finds the
//! script, its Lua VM runs it with the libraries Argo CD allows), over every kind,
//! every reason the operator writes, stale and paused objects. The Lua decides every
//! reason of `api::conditions::reason::ALL`, and Degraded is exactly the reasons that
//! need a person (`reason::Reason::needs_a_person`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oc_operator::api::conditions::reason;
use serde_json::{Value, json};

const KINDS: [&str; 6] = [
    "OCPlatform",
    "OCCustomer",
    "OCNumberBlock",
    "OCSipConnection",
    "OCDialPlan",
    "OCEndUser",
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/oc-operator/argocd")
}

fn patch_file() -> PathBuf {
    dir().join("argocd-cm-patch.yaml")
}

/// A condition written for generation 3.
fn cond(type_: &str, status: &str, reason: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "observedGeneration": 3, "message": format!("{type_} {reason}")})
}

/// An object of `kind` at generation 3 with `conditions` and `annotations`.
fn object(kind: &str, conditions: Vec<Value>, annotations: Value) -> Value {
    let mut o = json!({
        "apiVersion": "operatorconnect.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "x", "namespace": "contoso", "generation": 3, "annotations": annotations},
    });
    if !conditions.is_empty() {
        o["status"] = json!({"conditions": conditions});
    }
    o
}

/// Argo CD's verdict (status, message) on each object, in order.
fn argo_cd_health(objects: &[Value]) -> Vec<(String, String)> {
    let objects: Vec<String> = objects.iter().map(Value::to_string).collect();
    testenv::judge("argocd-health", &[patch_file().as_os_str()], &objects)
        .expect("argocd-health (hack/build-test-tools.sh)")
        .into_iter()
        .map(|v| (v.status, v.message))
        .collect()
}

#[test]
fn argo_cd_itself_gives_every_kind_and_every_reason_its_health() {
    let mut cases: Vec<(String, Value, &str)> = Vec::new();
    for kind in KINDS {
        let mut add =
            |name: &str, conditions: Vec<Value>, annotations: Value, want: &'static str| {
                cases.push((
                    format!("{kind} / {name}"),
                    object(kind, conditions, annotations),
                    want,
                ));
            };
        add("no status yet", vec![], json!({}), "Progressing");
        add(
            "Ready now",
            vec![
                cond("Ready", "True", reason::AVAILABLE),
                cond("Synced", "True", reason::SUCCEEDED),
            ],
            json!({}),
            "Healthy",
        );
        let mut stale = cond("Ready", "True", reason::AVAILABLE);
        stale["observedGeneration"] = json!(2);
        add(
            "Ready for an older generation",
            vec![stale],
            json!({}),
            "Progressing",
        );
        add(
            "Ready while throttled",
            vec![
                cond("Ready", "True", reason::AVAILABLE),
                cond("Synced", "False", reason::THROTTLED),
            ],
            json!({}),
            "Healthy",
        );
        add(
            "paused by annotation",
            vec![cond("Ready", "True", reason::AVAILABLE)],
            json!({"operatorconnect.io/paused": "true"}),
            "Suspended",
        );
        add(
            "paused by condition",
            vec![cond("Synced", "False", reason::PAUSED)],
            json!({}),
            "Suspended",
        );
        add(
            "bad credentials",
            vec![
                cond("Ready", "False", reason::WAITING_FOR_DEPENDENCY),
                cond("Synced", "False", reason::UNAUTHORIZED),
            ],
            json!({}),
            "Degraded",
        );
        for r in reason::ALL {
            let want = if reason::needs_a_person(r) {
                "Degraded"
            } else {
                "Progressing"
            };
            // Paused is a Synced reason that suspends; Available with Ready=False
            // does not occur, and is simply not Healthy.
            let want = if *r == reason::PAUSED {
                "Progressing"
            } else if *r == reason::CHANGES_PLANNED {
                "Suspended"
            } else {
                want
            };
            add(
                &format!("Ready=False {r}"),
                vec![
                    cond("Ready", "False", r),
                    cond("Synced", "False", reason::RECONCILE_ERROR),
                ],
                json!({}),
                want,
            );
        }
    }
    let objects: Vec<Value> = cases.iter().map(|(_, o, _)| o.clone()).collect();
    let verdicts = argo_cd_health(&objects);
    assert_eq!(verdicts.len(), cases.len());
    let wrong: Vec<String> = cases
        .iter()
        .zip(&verdicts)
        .filter(|((_, _, want), (got, message))| got != want || message.is_empty())
        .map(|((name, _, want), got)| format!("{name}: want {want}, got {got:?}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    // Another group's kinds are not ours: no script applies.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}});
    assert_eq!(argo_cd_health(&[pod]), [(String::new(), String::new())]);
}

/// The reasons a table of health.lua names (`local NAME = { A = true, ... }`).
fn lua_table(script: &str, name: &str) -> BTreeSet<String> {
    let start = script
        .find(&format!("local {name} = {{"))
        .unwrap_or_else(|| panic!("no table {name}"));
    let body = &script[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
    body.split(',')
        .filter_map(|entry| entry.split('=').next())
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect()
}

#[test]
fn the_lua_decides_every_reason_the_code_defines() {
    let script = std::fs::read_to_string(dir().join("health.lua")).unwrap();
    let degraded = lua_table(&script, "degraded");
    let progressing = lua_table(&script, "progressing");
    let suspended = lua_table(&script, "suspended");
    let all: BTreeSet<String> = reason::ALL.iter().map(|r| (*r).to_owned()).collect();
    let needs_a_person: BTreeSet<String> = reason::needs_a_person_reasons()
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        degraded, needs_a_person,
        "Degraded must be exactly the reasons that need a person"
    );
    let decided: BTreeSet<String> = degraded
        .union(&progressing)
        .chain(&suspended)
        .cloned()
        .collect();
    let undecided: Vec<&String> = all.difference(&decided).collect();
    assert!(
        undecided.is_empty(),
        "reasons health.lua does not decide: {undecided:?}"
    );
    let unknown: Vec<&String> = decided.difference(&all).collect();
    assert!(
        unknown.is_empty(),
        "health.lua names reasons the code never writes: {unknown:?}"
    );
    assert!(degraded.is_disjoint(&progressing));
}

#[test]
fn the_argocd_cm_patch_is_one_wildcard_entry_carrying_the_script() {
    let script = std::fs::read_to_string(dir().join("health.lua")).unwrap();
    let patch: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(patch_file()).unwrap()).unwrap();
    let data = patch["data"].as_object().expect("data");
    assert_eq!(data.keys().collect::<Vec<_>>(), ["resource.customizations"]);
    // The apiserver refuses a ConfigMap key outside [-._a-zA-Z0-9]+ (a `*` in the
    // per-kind key form was refused so; Argo CD's settings code alone does not check).
    for key in data.keys() {
        assert!(
            key.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)),
            "{key}: not a valid ConfigMap key"
        );
    }
    let customizations: Value =
        serde_yaml_ng::from_str(data["resource.customizations"].as_str().unwrap()).unwrap();
    let entries = customizations.as_object().expect("a map of group/kind");
    assert_eq!(entries.keys().collect::<Vec<_>>(), ["operatorconnect.io/*"]);
    assert_eq!(
        entries["operatorconnect.io/*"]["health.lua"].as_str(),
        Some(script.as_str()),
        "argocd-cm-patch.yaml differs from health.lua"
    );
}

#[test]
fn the_kinds_page_lists_every_reason_with_its_health() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/kinds.md"))
            .unwrap();
    let table = &readme[readme
        .find("| reason | condition | means | Argo CD / kstatus |")
        .expect("the reasons table")..];
    let table = &table[..table.find("\n\n").unwrap_or(table.len())];
    let rows: Vec<(String, bool)> = table
        .lines()
        .skip(2)
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].trim_matches('`').to_owned(),
                cells[4].starts_with("Degraded"),
            )
        })
        .collect();
    let listed: BTreeSet<String> = rows.iter().map(|(r, _)| r.clone()).collect();
    let all: BTreeSet<String> = reason::ALL.iter().map(|r| (*r).to_owned()).collect();
    assert_eq!(
        listed, all,
        "docs/kinds.md's reasons differ from reason::ALL"
    );
    for (r, degraded) in rows {
        assert_eq!(
            degraded,
            reason::needs_a_person(&r),
            "{r}: docs/kinds.md says otherwise than the code"
        );
    }
}
