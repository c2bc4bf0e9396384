//! oc-operator: Microsoft Teams Operator Connect customers declared as Kubernetes
//! resources, made real through the Live Platform REST API.

pub mod api;
pub mod apiserver_client;
pub mod controller;
pub mod import;
pub mod lease;
pub mod locked;
pub mod metrics;
pub mod offline;
pub mod process_metrics;
pub mod release;
pub mod telemetry;
