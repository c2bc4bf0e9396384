//! Request and answer types of the Live Platform API.
//!
//! Answers are read after [`liveplatform_contract::casing::normalize_keys`], so answer structs use
//! snake_case field names and accept every casing the manuals show. Requests are
//! written with the casing the reference gives.

mod common;
mod customers;
mod dial_plans;
mod end_users;
mod leads;
mod numbers;
mod profiles;
mod sites;
mod tasks;

pub use common::*;
pub use customers::*;
pub use dial_plans::*;
pub use end_users::*;
pub use leads::*;
pub use numbers::*;
pub use profiles::*;
pub use sites::*;
pub use tasks::*;
