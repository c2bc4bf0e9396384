//! Asynchronous tasks and their results.

use serde::Deserialize;
use serde_json::Value;

use super::common::lenient_i64;

/// Status of a task [`CompletedSuccess` and `Failed` doc, the rest chosen].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskStatus {
    Queued,
    InProgress,
    CompletedSuccess,
    CompletedWithErrors,
    Failed,
    Cancelled,
    /// A value the client does not know; treated as still running.
    Other(String),
}

impl TaskStatus {
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "queued" => Self::Queued,
            "inprogress" | "in_progress" | "running" => Self::InProgress,
            "completedsuccess" | "completed" | "success" | "succeeded" => Self::CompletedSuccess,
            "completedwitherrors" => Self::CompletedWithErrors,
            "failed" => Self::Failed,
            "cancelled" | "canceled" => Self::Cancelled,
            _ => Self::Other(s.to_owned()),
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::CompletedSuccess | Self::CompletedWithErrors | Self::Failed | Self::Cancelled
        )
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Queued => "Queued",
            Self::InProgress => "InProgress",
            Self::CompletedSuccess => "CompletedSuccess",
            Self::CompletedWithErrors => "CompletedWithErrors",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
            Self::Other(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for TaskStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Self::parse(&s),
            other => Self::Other(other.to_string()),
        })
    }
}

impl Default for TaskStatus {
    fn default() -> Self {
        Self::Other(String::new())
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ExecutionMessage {
    /// `Information`, `Warning` or `Error`.
    pub level: String,
    pub message: String,
}

/// Get Task.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Task {
    pub id: String,
    pub status: TaskStatus,
    pub details: Vec<Value>,
    pub execution_messages: Vec<ExecutionMessage>,
    pub output_data: Value,
    pub create_time: Option<String>,
    pub complete_time: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub total_numbers_count: Option<i64>,
}

/// The outcome of one number inside an upload task.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct NumberOutcome {
    pub telephone_number: String,
    /// `Success` or `Failed`.
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

impl NumberOutcome {
    pub fn succeeded(&self) -> bool {
        self.status.eq_ignore_ascii_case("Success")
    }
}

impl Task {
    /// The messages of level `Error`, joined, for conditions.
    pub fn error_summary(&self) -> String {
        let errors: Vec<&str> = self
            .execution_messages
            .iter()
            .filter(|m| m.level.eq_ignore_ascii_case("Error"))
            .map(|m| m.message.as_str())
            .collect();
        if errors.is_empty() {
            format!("task {} ended {}", self.id, self.status.as_str())
        } else {
            errors.join("; ")
        }
    }

    /// Per-number outcomes of an upload task (`outputData.OcUploadNumberResult`).
    pub fn number_outcomes(&self) -> Vec<NumberOutcome> {
        self.output_data
            .get("oc_upload_number_result")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// The Entra object id of the user a provisioning task provisioned, when its
    /// output carries it (see `contract::PROVISIONED_OBJECT_ID`).
    pub fn provisioned_object_id(&self) -> Option<&str> {
        use liveplatform_contract::{PROVISIONED_OBJECT_ID, casing::snake_case};
        self.output_str(&snake_case(PROVISIONED_OBJECT_ID))
    }

    /// A string field of `outputData` (normalised name), such as `ump_customer_guid`.
    pub fn output_str(&self, field: &str) -> Option<&str> {
        self.output_data.get(field).and_then(Value::as_str)
    }
}
