//! `crds/` and the chart hold exactly what the code generates.

#[test]
fn crds_folder_matches_the_code() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let files = oc_operator::api::crd_files().expect("CRDs render");
    let mut stale = Vec::new();
    for (name, want) in &files {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(got) if &got == want => {}
            Ok(_) => stale.push(format!("{name} differs")),
            Err(e) => stale.push(format!("{name}: {e}")),
        }
    }
    let on_disk = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    if on_disk != files.len() {
        stale.push(format!(
            "{} files in crds/, {} CRDs in the code",
            on_disk,
            files.len()
        ));
    }
    assert!(
        stale.is_empty(),
        "crds/ is stale ({}); run `cargo run -- crds --out-dir crds`",
        stale.join(", ")
    );
}

#[test]
fn the_charts_crds_are_the_generated_ones() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, want) in oc_operator::api::crd_files().expect("CRDs render") {
        let got = std::fs::read_to_string(root.join("charts/oc-operator/files/crds").join(&name))
            .unwrap_or_default();
        assert!(
            got == want,
            "charts/oc-operator/files/crds/{name} differs from the code; run `cargo run -- crds --out-dir charts/oc-operator/files/crds`"
        );
    }
}

/// `oc-operator crds | grep -q ...` closes the pipe before the output ends; the
/// command must end quietly and successfully, as CI's release check relies on.
#[test]
fn crds_to_a_pipe_closed_early_is_not_a_failure() {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_oc-operator"))
        .arg("crds")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("oc-operator starts");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).expect("some output");
    // The CRDs are larger than a pipe's buffer, so the writer is still writing
    // when the reader goes away.
    drop(stdout);
    let output = child.wait_with_output().expect("oc-operator ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains("panicked"),
        "status {:?}, stderr: {stderr}",
        output.status
    );
}

/// `kubectl explain` shows a field's description; every field of every kind, in the
/// spec and in the status, has one.
#[test]
fn every_field_of_every_kind_is_explained() {
    fn undocumented(schema: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        if let Some(items) = schema.get("items") {
            undocumented(items, &format!("{path}[]"), out);
        }
        let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) else {
            return;
        };
        for (name, field) in properties {
            let field_path = format!("{path}.{name}");
            if field.get("description").is_none() {
                out.push(field_path.clone());
            }
            undocumented(field, &field_path, out);
        }
    }
    let mut missing = Vec::new();
    for crd in oc_operator::api::crds() {
        let kind = crd.spec.names.kind.clone();
        for version in &crd.spec.versions {
            let schema = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .expect("every version has a schema");
            let schema = serde_json::to_value(schema).expect("a schema is JSON");
            for part in ["spec", "status"] {
                let root = &schema["properties"][part];
                undocumented(root, &format!("{kind}.{part}"), &mut missing);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
}
