//! Contract tests: every client method against the running simulator over real HTTP,
//! the happy path of each action and the error paths of each area.

mod support;

mod customers;
mod dial_plans;
mod end_users;
mod faults;
mod identity;
mod leads;
mod malformed;
mod numbers;
mod sites;
mod tasks;
