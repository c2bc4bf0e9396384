//! Every malformed manifest under `tests/invalid/` is refused at `kubectl apply` with
//! a message that names what is wrong (its `# expect:` line), and nothing is stored.

use crate::support::*;

fn expectation(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("# expect: ").map(str::to_owned))
}

#[tokio::test]
async fn malformed_manifests_are_refused_with_a_clear_message() {
    let ns = namespace("invalid");
    let dir = repo().join("tests/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "only {} malformed manifests",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let want = expectation(&text)
            .unwrap_or_else(|| panic!("{} has no '# expect:' line", file.display()));
        let output = apply(file, &ns);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            failures.push(format!("{}: accepted", file.display()));
        } else if !stderr.contains(&want) {
            failures.push(format!("{}: wanted {want:?} in: {stderr}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Nothing was stored.
    let listed = kubectl(&["get", "operatorconnect", "-n", &ns, "-o", "name"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    let stored: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("ocplatform."))
        .collect();
    assert!(stored.is_empty(), "{stored:?}");
    let platforms = kubectl(&["get", "ocplatform", "bad-platform", "-o", "name"]);
    assert!(!platforms.status.success());
}

#[tokio::test]
async fn the_valid_bases_of_the_malformed_manifests_are_accepted() {
    // Guards the test above: each malformed manifest is one of these objects with one
    // defect, so it must fail for that defect, not because its base is broken.
    let ns = namespace("valid-bases");
    let mut files: Vec<_> = std::fs::read_dir(repo().join("tests/valid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "one valid base a kind");
    for file in &files {
        let output = apply(file, &ns);
        assert!(
            output.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = kubectl(&["delete", "ocplatform", "valid-base-platform"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
