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
        let got = std::fs::read_to_string(root.join("charts/oc-operator/crds").join(&name))
            .unwrap_or_default();
        assert!(
            got == want,
            "charts/oc-operator/crds/{name} differs from the code; run `cargo run -- crds --out-dir charts/oc-operator/crds`"
        );
    }
}
