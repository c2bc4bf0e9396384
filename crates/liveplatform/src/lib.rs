//! The Live Platform REST API for Operator Connect: a typed client.
//!
//! `contract` holds every detail the manuals leave open; `model` the request and
//! answer types; `client` transport, token, limits and retry rules; `calls` one method
//! per action; `poller` task following.

pub mod action;
pub mod answer;
pub mod auth;
pub mod backoff;
mod body;
mod calls;
pub mod client;
pub mod error;
mod fair_queue;
pub mod model;
pub mod poller;
pub mod rate_limit;
pub mod routes;
pub mod secret;

/// The details the manuals leave open, shared with the simulator (its own crate).
pub use liveplatform_contract as contract;

pub use action::Action;
pub use auth::{Credentials, Proof};
pub use client::{Admitted, CallObserver, ClientConfig, LivePlatformClient, RetryPolicy};
pub use error::{Conflict, Error, Result};
pub use poller::{PollOptions, TaskOutcome};
