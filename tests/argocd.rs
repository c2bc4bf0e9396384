//! The Argo CD health checks: the Lua script's outcomes over status fixtures of every
//! kind (run by a real Lua interpreter), and the argocd-cm snippet carries exactly
//! that script for each kind.

use std::path::Path;
use std::process::Command;

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/oc-operator/argocd")
}

#[test]
fn health_script_gives_the_right_status_for_every_outcome() {
    let lua = ["lua5.4", "lua"].into_iter().find(|l| {
        Command::new(l)
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let lua = lua.expect("a Lua interpreter (lua5.4); hack/test.sh installs it");
    let output = Command::new(lua)
        .current_dir(dir())
        .args(["health_test.lua", "health.lua"])
        .output()
        .expect("lua runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && text.contains(", 0 failures"),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_argocd_cm_snippet_carries_the_script_for_every_kind() {
    let script = std::fs::read_to_string(dir().join("health.lua")).unwrap();
    let snippet: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(dir().join("argocd-cm.yaml")).unwrap())
            .unwrap();
    for kind in [
        "OCPlatform",
        "OCCustomer",
        "OCNumberBlock",
        "OCSipConnection",
        "OCDialPlan",
        "OCEndUser",
    ] {
        let key = format!("resource.customizations.health.operatorconnect.io_{kind}");
        let got = snippet["data"][&key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing"));
        assert_eq!(
            got.trim_end(),
            script.trim_end(),
            "{key} differs from health.lua"
        );
    }
}
