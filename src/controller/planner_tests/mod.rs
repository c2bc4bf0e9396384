//! Table tests of every kind's planner, in-process: no cluster, no platform. Each row
//! is (spec, status, what was seen) and the step the planner must choose.

mod customer;

use serde_json::{Value, json};

use crate::liveplatform::model::{Lead, Task, TaskStatus};

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
