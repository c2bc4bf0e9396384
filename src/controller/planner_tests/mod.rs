//! Table tests of every kind's planner, in-process: no cluster, no platform. Each row
//! is (spec, status, what was seen) and the step the planner must choose.

mod customer;
mod dial_plan;
mod end_user;
mod number_block;
mod platform;
mod sip_connection;

use serde_json::{Value, json};

use liveplatform::model::{Lead, Task, TaskStatus};

/// A lead as the platform reports it.
pub fn lead(id: &str, customer: Option<&str>, channel: Option<i64>, status: &str) -> Lead {
    Lead {
        id: id.into(),
        ump_customer_guid: customer.map(Into::into),
        channel_id: channel,
        status: status.into(),
        ..Lead::default()
    }
}

/// A task in `status` with `output`.
pub fn task(status: TaskStatus, output: Value) -> Task {
    Task {
        id: "t".into(),
        status,
        output_data: output,
        ..Task::default()
    }
}

/// `status` with a licence upgrade in flight (sent at 11:58:30 of the tests' day).
pub fn upgrade_op(mut status: Value, task: Option<&str>) -> Value {
    status["operation"] = json!({
        "action": "Upgrade OC Customer License",
        "startedAt": "2026-11-27T11:58:30Z",
    });
    if let Some(task) = task {
        status["operation"]["taskId"] = json!(task);
    }
    status
}

/// One case: its name, the step the planner chose, and what that step must be.
pub type Case<S> = (&'static str, S, fn(&S) -> bool);

/// Checks every (case, step the planner chose, what it must be), and names all the
/// cases that failed at once.
pub fn expect_all<S: std::fmt::Debug>(cases: impl IntoIterator<Item = Case<S>>) {
    let failed: Vec<String> = cases
        .into_iter()
        .filter(|(_, step, want)| !want(step))
        .map(|(name, step, _)| format!("{name}: got {step:?}"))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// `base` with the top-level fields of `patch` replaced.
pub fn merged(mut base: Value, patch: Value) -> Value {
    if let (Some(into), Value::Object(patch)) = (base.as_object_mut(), patch) {
        for (k, v) in patch {
            into.insert(k, v);
        }
    }
    base
}
