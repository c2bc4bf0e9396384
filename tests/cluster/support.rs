//! Access to the shared control plane, fresh namespaces, and kubectl.

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use testenv::{self, Shared};

pub fn plane() -> &'static Shared {
    match testenv::shared() {
        Ok(plane) => plane,
        Err(e) => panic!("the test control plane could not start: {e}"),
    }
}

pub async fn client() -> kube::Client {
    plane().client().await.expect("admin client")
}

/// A new namespace named after the test.
pub fn namespace(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "{test}-{}-{}",
        std::process::id() % 10000,
        N.fetch_add(1, Ordering::SeqCst)
    );
    let output = kubectl(&["create", "namespace", &name]);
    assert!(
        output.status.success(),
        "create namespace: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    name
}

pub fn kubectl(args: &[&str]) -> Output {
    plane()
        .kubectl()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("kubectl runs")
}

/// `kubectl apply -f file` in `namespace`; the output.
pub fn apply(file: &Path, namespace: &str) -> Output {
    kubectl(&["apply", "-n", namespace, "-f", &file.display().to_string()])
}

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
