//! What the benchmarks under `bench/` share (`load`, `fairness`, `chaos` are this
//! crate's examples): starting the control plane, the simulator and the operator
//! (`harness`), the scripts they are measured against (`scripts`), the manifests of
//! the customers they onboard (`manifests`) and the watch that tells when each is
//! Ready (`readiness`).

#[path = "../../../bench/harness.rs"]
pub mod harness;
#[path = "../../../bench/manifests.rs"]
pub mod manifests;
#[path = "../../../bench/readiness.rs"]
pub mod readiness;
#[path = "../../../bench/scripts.rs"]
pub mod scripts;
