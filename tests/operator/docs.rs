//! The documentation works as written: the README's five-minute tour runs, command by
//! command, against the test control plane with the examples applied (the sandbox's
//! namespace and platform names replaced by the test's), and every whole manifest of
//! the README and of docs/ is accepted by the apiserver (a server-side dry run).

use std::process::Command;

use oc_operator::api::OCNumberBlock;

use crate::support::*;

fn text(path: &str) -> String {
    std::fs::read_to_string(testenv::repository().join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first ```sh block after `heading` in `doc`.
fn sh_block_after(doc: &str, heading: &str) -> String {
    let section = &doc[doc.find(heading).unwrap_or_else(|| panic!("no {heading}"))..];
    section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .unwrap_or_else(|| panic!("no sh block after {heading}"))
        .to_owned()
}

#[tokio::test]
async fn the_readme_tour_runs_as_written() {
    let mut world = World::new("tour").await;
    world.start().await;
    world.apply_examples().await;
    world.examples_ready().await;
    let tour = world.in_namespace(
        &sh_block_after(&text("README.md"), "## A five-minute tour"),
        &world.ns,
    );
    let kubectl = plane_binary("kubectl");
    let folder = kubectl.parent().expect("the tools' folder");
    let path = format!(
        "{}:{}",
        folder.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = tokio::task::spawn_blocking({
        let kubeconfig = world.kubeconfig.clone();
        move || {
            Command::new("bash")
                .args(["-euo", "pipefail", "-c", &tour])
                .env("KUBECONFIG", kubeconfig)
                .env("PATH", path)
                .output()
                .expect("bash runs")
        }
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the tour failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // What the tour says happened: a customer came and went, a number was added.
    let state = world.admin.state().await.unwrap();
    assert_eq!(state["customers"].as_object().map(|c| c.len()), Some(1));
    let block = world.ready::<OCNumberBlock>("contoso-users", 60).await;
    assert!(
        block.spec.numbers.iter().any(|n| n.0 == "+14255550103"),
        "{:?}",
        block.spec.numbers
    );
}

/// The whole manifests of a Markdown text: fenced yaml blocks, and here-documents in
/// sh blocks, that declare an operatorconnect.io object with its kind, metadata and
/// spec (snippets of a spec are left out).
fn manifests(markdown: &str) -> Vec<String> {
    let mut found = Vec::new();
    for block in markdown.split("```").skip(1).step_by(2) {
        let body = match block.split_once('\n') {
            Some(("yaml", body)) => vec![body.to_owned()],
            Some(("sh", body)) => body
                .split("<<'EOF'\n")
                .skip(1)
                .filter_map(|doc| doc.split("\nEOF").next().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        for doc in body {
            let whole = doc.contains("apiVersion: operatorconnect.io/")
                && doc.contains("\nkind: ")
                && doc.contains("\nmetadata:")
                && doc.contains("\nspec:");
            if whole {
                found.push(doc);
            }
        }
    }
    found
}

#[tokio::test]
async fn every_whole_manifest_of_the_docs_is_accepted() {
    let world = World::new("docs").await;
    let mut docs = vec!["README.md".to_owned()];
    let mut pages: Vec<String> = std::fs::read_dir(testenv::repository().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| format!("docs/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    pages.sort();
    docs.extend(pages);
    let mut checked = std::collections::BTreeMap::new();
    for doc in &docs {
        for manifest in manifests(&text(doc)) {
            let manifest = world.in_namespace(&manifest, &world.ns);
            let output = world.kubectl_with_input(
                &["apply", "--dry-run=server", "-n", &world.ns, "-f", "-"],
                &manifest,
            );
            assert!(
                output.status.success(),
                "{doc}: refused:\n{manifest}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            *checked.entry(doc.as_str()).or_insert(0) += 1;
        }
    }
    // The tour's customer and the kinds page's block at least: the search finds them.
    for doc in ["README.md", "docs/kinds.md"] {
        assert!(
            checked.contains_key(doc),
            "no manifest found in {doc}: {checked:?}"
        );
    }
}
