//! End-to-end tests of the controllers: a real control plane (shared by this binary),
//! a simulator per test over real HTTP, and an operator per test running in this
//! process, watching only the test's namespace and platform.

mod support;

mod admission;
mod adoption;
mod alerts;
mod apiserver_client;
pub mod chart;
mod crash;
mod customer;
mod deletion_order;
mod dial_plan;
mod docs;
mod drift;
mod end_user;
mod examples;
mod fairness;
mod faults;
mod gitops;
mod ha;
mod import;
mod kstatus;
mod number_block;
mod observability;
mod observe_only;
mod ownership;
mod platform;
mod protection;
mod replica;
mod sip_connection;
mod workload_identity;
