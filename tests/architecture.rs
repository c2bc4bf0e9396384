//! The dependency graph between the workspace's crates is exactly the one
//! ARCHITECTURE.md draws in its `deps` block: no more edges (the operator linking the
//! simulator, the simulator using the client's types), no fewer (a drawing that no
//! longer says what the code does).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

type Edges = BTreeSet<(String, &'static str, String)>;

/// The edges ARCHITECTURE.md draws: `a -> b, c` (normal) and `a -dev-> b` (tests only).
fn drawn() -> (BTreeSet<String>, Edges) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path).expect("ARCHITECTURE.md is readable");
    let block = text
        .split("```deps\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has a ```deps block");
    let mut crates = BTreeSet::new();
    let mut edges = Edges::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let (from, kind, to) = if let Some((from, to)) = line.split_once("-dev->") {
            (from, "dev", to)
        } else {
            let (from, to) = line
                .split_once("->")
                .unwrap_or_else(|| panic!("not an edge: {line}"));
            (from, "normal", to)
        };
        let from = from.trim().to_owned();
        crates.insert(from.clone());
        for to in to.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            edges.insert((from.clone(), kind, to.to_owned()));
        }
    }
    (crates, edges)
}

/// The edges between workspace crates that Cargo resolves.
fn resolved() -> (BTreeSet<String>, Edges) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata answers JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let crates: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let mut edges = Edges::new();
    for package in packages {
        let from = package["name"].as_str().unwrap_or_default().to_owned();
        for dependency in package["dependencies"].as_array().into_iter().flatten() {
            let to = dependency["name"].as_str().unwrap_or_default();
            if !crates.contains(to) {
                continue;
            }
            let kind = match dependency["kind"].as_str() {
                None => "normal",
                Some("dev") => "dev",
                Some(other) => panic!("{from} -> {to}: a {other} dependency is not drawn"),
            };
            edges.insert((from.clone(), kind, to.to_owned()));
        }
    }
    (crates, edges)
}

#[test]
fn the_crates_depend_on_each_other_exactly_as_architecture_md_draws() {
    let (drawn_crates, drawn_edges) = drawn();
    let (crates, edges) = resolved();
    assert_eq!(drawn_crates, crates, "the crates drawn and the workspace's");
    let missing: Vec<_> = drawn_edges.difference(&edges).collect();
    let undrawn: Vec<_> = edges.difference(&drawn_edges).collect();
    assert!(
        missing.is_empty() && undrawn.is_empty(),
        "drawn but not in Cargo.toml: {missing:?}; in Cargo.toml but not drawn: {undrawn:?}"
    );
}

#[test]
fn the_operator_links_neither_the_simulator_nor_the_test_control_plane() {
    let (_, edges) = resolved();
    for forbidden in ["liveplatform-sim", "testenv", "oc-dev"] {
        assert!(
            !edges.contains(&("oc-operator".to_owned(), "normal", forbidden.to_owned())),
            "oc-operator depends on {forbidden}"
        );
    }
    for (a, b) in [
        ("liveplatform-sim", "liveplatform"),
        ("liveplatform", "liveplatform-sim"),
    ] {
        assert!(
            !edges.contains(&(a.to_owned(), "normal", b.to_owned())),
            "{a} depends on {b}: the simulator and the client meet only through the contract"
        );
    }
}
