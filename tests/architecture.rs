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

/// The files of `src/controller/` and which of them each one uses, from `super::x`
/// and `crate::controller::x` paths outside comments and outside `#[cfg(test)]`
/// items. Modules declared under `#[cfg(test)]` in `mod.rs` are left out, and so is
/// `mod.rs` itself: it wires every controller together.
fn controller_imports() -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/controller");
    let root = std::fs::read_to_string(dir.join("mod.rs")).expect("src/controller/mod.rs");
    let test_only: BTreeSet<String> = test_only_modules(&root);
    let mut files = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("src/controller is readable") {
        let path = entry.expect("a directory entry").path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        if name == "mod" || test_only.contains(&name) {
            continue;
        }
        let text = if path.is_dir() {
            // A module with files of its own: all of them together.
            let mut text = String::new();
            for inner in std::fs::read_dir(&path).expect("a module folder") {
                let inner = inner.expect("a directory entry").path();
                text.push_str(&std::fs::read_to_string(&inner).expect("a module file"));
            }
            text
        } else {
            std::fs::read_to_string(&path).expect("a controller file")
        };
        files.insert(name, text);
    }
    let names: BTreeSet<String> = files.keys().cloned().collect();
    files
        .into_iter()
        .map(|(name, text)| {
            let code = without_tests(&without_comments(&text));
            let used = used_modules(&code)
                .into_iter()
                .filter(|used| *used != name && names.contains(used))
                .collect();
            (name, used)
        })
        .collect()
}

/// The modules `mod.rs` declares under `#[cfg(test)]`.
fn test_only_modules(root: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = root.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|pair| pair[0] == "#[cfg(test)]")
        .filter_map(|pair| {
            let declared = pair[1].strip_prefix("pub ").unwrap_or(pair[1]);
            let name = declared.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.to_owned())
        })
        .collect()
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text without the items marked `#[cfg(test)]` (up to the end of their braces,
/// or of the statement).
fn without_tests(code: &str) -> String {
    let mut kept = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        kept.push_str(&rest[..at]);
        let item = &rest[at..];
        let mut depth = 0usize;
        let mut end = item.len();
        for (i, c) in item.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    kept.push_str(rest);
    kept
}

/// The names after `super::` and `crate::controller::`, including those in a
/// `{a, b::c}` group.
fn used_modules(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for prefix in ["super::", "crate::controller::"] {
        for (at, _) in code.match_indices(prefix) {
            let after = &code[at + prefix.len()..];
            if let Some(group) = after.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for part in group.split(',') {
                    let head = part.trim().split("::").next().unwrap_or("").trim();
                    if !head.is_empty() {
                        used.insert(head.to_owned());
                    }
                }
            } else {
                let head: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                used.insert(head);
            }
        }
    }
    used
}

/// The files that hold a kind's life: they implement the shared reconcile's
/// `Reconciler` for the kind (or, for a kind that only reads, have its `reconcile`).
fn kind_files(imports: &std::collections::BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/controller");
    imports
        .keys()
        .filter(|name| {
            let file = dir.join(format!("{name}.rs"));
            let inner = dir.join(name.as_str()).join("mod.rs");
            [file, inner].iter().any(|path| {
                std::fs::read_to_string(path).is_ok_and(|text| {
                    text.contains("impl Reconciler for") || text.contains("pub async fn reconcile(")
                })
            })
        })
        .cloned()
        .collect()
}

/// A path `a -> b -> ... -> a` through the imports, if there is one.
fn a_circle(imports: &std::collections::BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        imports: &std::collections::BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in imports.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, imports, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    imports
        .keys()
        .find_map(|start| visit(start, imports, &mut Vec::new(), &mut done))
}

#[test]
fn the_controller_files_import_each_other_without_a_circle() {
    let imports = controller_imports();
    assert!(imports.len() > 20, "found only {:?}", imports.keys());
    assert_eq!(
        a_circle(&imports),
        None,
        "the files of src/controller/ import each other in a circle"
    );
}

#[test]
fn no_shared_controller_file_imports_a_kind() {
    let imports = controller_imports();
    let kinds = kind_files(&imports);
    assert_eq!(
        kinds,
        [
            "customer",
            "dial_plan",
            "end_user",
            "number_block",
            "platform",
            "sip_connection"
        ]
        .map(str::to_owned)
        .into(),
        "the files holding a kind's reconcile"
    );
    let wrong: Vec<(String, String)> = imports
        .iter()
        .filter(|(name, _)| !kinds.contains(*name))
        .flat_map(|(name, used)| {
            used.iter()
                .filter(|u| kinds.contains(*u))
                .map(move |u| (name.clone(), u.clone()))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "shared files of src/controller/ import a kind's file (shared, kind): {wrong:?}"
    );
}

#[test]
fn the_import_reader_sees_groups_and_skips_tests_and_comments() {
    let code = "use super::{a, b::C};\n// super::hidden\nfn f() { super::d::e(); }\n#[cfg(test)]\nmod tests { use super::t; }\n";
    let used = used_modules(&without_tests(&without_comments(code)));
    assert_eq!(used, ["a", "b", "d"].map(str::to_owned).into());
    let imports = [("x", &["y"][..]), ("y", &["z"][..]), ("z", &["x"][..])]
        .into_iter()
        .map(|(a, bs)| (a.to_owned(), bs.iter().map(|b| (*b).to_owned()).collect()))
        .collect();
    assert_eq!(
        a_circle(&imports),
        Some(["x", "y", "z", "x"].map(str::to_owned).to_vec())
    );
}
