//! oc-operator: Microsoft Teams Operator Connect customers declared as Kubernetes
//! resources, made real through the Live Platform REST API.

pub mod api;
pub mod backoff;
pub mod casing;
pub mod controller;
pub mod lease;
pub mod liveplatform;
pub mod metrics;
pub mod sandbox;
pub mod secret;
pub mod simulator;
pub mod telemetry;
pub mod testenv;
