//! The scripts a newcomer runs first: the sandbox builds what it runs and nothing else
//! (no tool only the tests use), and every script works from any folder.

use std::path::PathBuf;

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script(name: &str) -> String {
    std::fs::read_to_string(repository().join("hack").join(name))
        .unwrap_or_else(|e| panic!("hack/{name}: {e}"))
}

/// The tools only the tests use (hack/build-test-tools.sh builds them).
const TEST_TOOLS: [&str; 7] = [
    "helm",
    "kubeconform",
    "argocd-health",
    "kstatus",
    "promtool",
    "argocd",
    "argocd-redis",
];

/// The lines of a script that are not comments.
fn code(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect()
}

#[test]
fn the_sandbox_builds_no_tool_only_the_tests_use() {
    let sandbox = script("sandbox.sh");
    let sandbox_code = code(&sandbox);
    assert!(
        sandbox_code
            .iter()
            .any(|l| l.contains("bash hack/build-controlplane.sh")),
        "the sandbox no longer builds its control plane with hack/build-controlplane.sh"
    );
    let scripts_it_runs: Vec<&str> = sandbox_code
        .iter()
        .filter_map(|l| l.split("bash hack/").nth(1))
        .map(|rest| rest.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(
        scripts_it_runs,
        ["build-controlplane.sh"],
        "the sandbox runs another build script"
    );
    // What the control plane script builds: the go build lines and their packages.
    let controlplane = script("build-controlplane.sh");
    let built = code(&controlplane).join("\n");
    for tool in TEST_TOOLS {
        let packages = [
            format!("/{tool}\n"),
            format!("/{tool} "),
            format!("cmd/{tool}"),
            format!("$tmp/{tool}"),
        ];
        assert!(
            !packages.iter().any(|p| built.contains(p.as_str())),
            "hack/build-controlplane.sh builds {tool}, which only the tests use"
        );
    }
    for binary in testenv::BINARIES {
        assert!(
            built.contains(&format!("/{binary}")),
            "hack/build-controlplane.sh does not build {binary}"
        );
    }
    let test_tools = script("build-test-tools.sh");
    for tool in TEST_TOOLS {
        assert!(
            code(&test_tools)
                .iter()
                .any(|l| l.starts_with(&format!("build_tool {tool} "))),
            "hack/build-test-tools.sh does not build {tool}"
        );
    }
}

#[test]
fn every_script_finds_the_repository_from_any_folder() {
    for entry in std::fs::read_dir(repository().join("hack")).expect("hack/") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "sh") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a script");
        assert!(
            text.contains("$(dirname \"${BASH_SOURCE[0]}\")"),
            "{} does not find the repository from its own place",
            path.display()
        );
    }
}
