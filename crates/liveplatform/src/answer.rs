//! Turning an HTTP answer into a value or a typed [`Error`]. Pure functions over
//! status and bytes, so they can be fed arbitrary input in tests: they never panic.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::action::Action;
use super::contract::{BUSY_CODE, LICENSE_REQUIRED_CODE};
use super::error::{Error, Result};
use super::model::{
    Ack, Channel, ChannelAssigned, ChannelCreated, ChannelRemoved, CustomerDetails, Lead,
    NumberValidation, Page, SipConnection, SipConnectionAdded, SipConnectionDeleted, Task, TaskId,
};
use liveplatform_contract::casing::normalize_keys;

/// The longest excerpt of a body an error message carries.
const EXCERPT: usize = 300;

/// Parses a body: empty is `null`; valid JSON is normalised to snake_case keys;
/// anything else is kept as a string.
pub fn parse_body(body: &[u8]) -> Value {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => normalize_keys(v),
        Err(_) => Value::String(excerpt(&String::from_utf8_lossy(body))),
    }
}

fn excerpt(s: &str) -> String {
    if s.len() <= EXCERPT {
        return s.to_owned();
    }
    let mut end = EXCERPT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// The human text of an error body: a bare string, or a ProblemDetails' detail/title.
fn detail_of(body: &Value) -> String {
    match body {
        Value::String(s) => excerpt(s),
        Value::Object(map) => {
            for key in ["detail", "title", "message", "error_description", "error"] {
                if let Some(Value::String(s)) = map.get(key)
                    && !s.is_empty()
                {
                    return excerpt(s);
                }
            }
            excerpt(&body.to_string())
        }
        Value::Null => "no details given".to_owned(),
        other => excerpt(&other.to_string()),
    }
}

fn validation_fields(body: &Value) -> Option<BTreeMap<String, Vec<String>>> {
    let errors = body.get("errors")?.as_object()?;
    let mut fields = BTreeMap::new();
    for (field, messages) in errors {
        let list = match messages {
            Value::Array(items) => items
                .iter()
                .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
                .collect(),
            Value::String(s) => vec![s.clone()],
            other => vec![other.to_string()],
        };
        fields.insert(field.clone(), list);
    }
    Some(fields)
}

/// Reads a `Retry-After` header value in seconds (the simulator and Azure front
/// doors send seconds). Missing or unreadable: one second.
pub fn retry_after(header: Option<&str>) -> Duration {
    header
        .and_then(|h| h.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(1), |s| {
            Duration::from_secs_f64(s.min(3600.0))
        })
}

/// Classifies a complete HTTP answer. 2xx gives the parsed body; 401, 429 and 5xx
/// give the errors the retry loop acts on; the rest are terminal.
pub fn classify(
    action: Action,
    status: u16,
    retry_after_header: Option<&str>,
    body: &[u8],
) -> Result<Value> {
    let value = parse_body(body);
    match status {
        200..=299 => Ok(value),
        400 => match validation_fields(&value) {
            Some(fields) => Err(Error::Validation { action, fields }),
            None => Err(Error::Rejected {
                action,
                status,
                detail: detail_of(&value),
            }),
        },
        401 => Err(Error::Unauthorized {
            action,
            detail: "the platform refused the bearer token".into(),
        }),
        403 => {
            if error_code(&value).eq_ignore_ascii_case(LICENSE_REQUIRED_CODE) {
                Err(Error::LicenseRequired {
                    action,
                    detail: detail_of(&value),
                })
            } else {
                Err(Error::Rejected {
                    action,
                    status,
                    detail: detail_of(&value),
                })
            }
        }
        409 if error_code(&value).eq_ignore_ascii_case(BUSY_CODE) => Err(Error::Busy {
            action,
            detail: detail_of(&value),
        }),
        404 => Err(Error::NotFound {
            action,
            detail: detail_of(&value),
        }),
        429 => Err(Error::RateLimited {
            action,
            retry_after: retry_after(retry_after_header),
        }),
        500..=599 => {
            let detail = format!("HTTP {status}: {}", detail_of(&value));
            if action.is_write() {
                Err(Error::OutcomeUnknown { action, detail })
            } else {
                Err(Error::Transient { action, detail })
            }
        }
        _ => Err(Error::Rejected {
            action,
            status,
            detail: detail_of(&value),
        }),
    }
}

/// The ProblemDetails `errorCode` of an answer (normalised to `error_code`), if any.
fn error_code(value: &Value) -> &str {
    value
        .get("error_code")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Deserialises a normalised answer into `T`.
pub fn decode<T: DeserializeOwned>(action: Action, value: Value) -> Result<T> {
    let shape = shape_of(&value);
    serde_json::from_value(value).map_err(|e| Error::UnexpectedAnswer {
        action,
        detail: format!("{e} (got {shape})"),
    })
}

fn shape_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A list answer; `null` counts as empty.
pub fn decode_list<T: DeserializeOwned>(action: Action, value: Value) -> Result<Vec<T>> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(_) => decode(action, value),
        other => Err(Error::UnexpectedAnswer {
            action,
            detail: format!("expected a list, got {}", shape_of(&other)),
        }),
    }
}

/// Leads arrive as `[..]` or doubly wrapped as `[[..]]` [doc]; a single object is
/// accepted too.
pub fn decode_leads(action: Action, value: Value) -> Result<Vec<Lead>> {
    match value {
        Value::Array(items) => {
            let mut leads = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Array(inner) => {
                        for lead in inner {
                            leads.push(decode(action, lead)?);
                        }
                    }
                    Value::Null => {}
                    other => leads.push(decode(action, other)?),
                }
            }
            Ok(leads)
        }
        Value::Object(_) => Ok(vec![decode(action, value)?]),
        Value::Null => Ok(Vec::new()),
        other => Err(Error::UnexpectedAnswer {
            action,
            detail: format!("expected a list of leads, got {}", shape_of(&other)),
        }),
    }
}

/// A task id given as a bare string (`"tsk_1"`) or inside an object under `taskId`,
/// `jobId` or `id`.
pub fn decode_task_id(action: Action, value: Value) -> Result<TaskId> {
    let id = match &value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => ["task_id", "job_id", "id"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_str).map(str::to_owned)),
        _ => None,
    };
    match id {
        Some(id) if !id.trim().is_empty() => Ok(TaskId(id.trim().to_owned())),
        _ => Err(Error::UnexpectedAnswer {
            action,
            detail: format!("expected a task id, got {}", shape_of(&value)),
        }),
    }
}

/// How the body of an answer becomes a call's result: an object, a list (where an
/// empty answer is an empty list), a task id, or an acknowledgement kept as it came.
pub trait FromAnswer: Sized {
    fn from_answer(action: Action, value: Value) -> Result<Self>;
}

impl FromAnswer for Ack {
    fn from_answer(_action: Action, value: Value) -> Result<Self> {
        Ok(Ack(value))
    }
}

impl FromAnswer for TaskId {
    fn from_answer(action: Action, value: Value) -> Result<Self> {
        decode_task_id(action, value)
    }
}

impl<T: DeserializeOwned> FromAnswer for Vec<T> {
    fn from_answer(action: Action, value: Value) -> Result<Self> {
        decode_list(action, value)
    }
}

impl<T: DeserializeOwned> FromAnswer for Page<T> {
    fn from_answer(action: Action, value: Value) -> Result<Self> {
        decode(action, value)
    }
}

/// Answers that are one object.
macro_rules! object_answers {
    ($($answer:ty),* $(,)?) => {
        $(impl FromAnswer for $answer {
            fn from_answer(action: Action, value: Value) -> Result<Self> {
                decode(action, value)
            }
        })*
    };
}

object_answers!(
    ChannelAssigned,
    ChannelRemoved,
    ChannelCreated,
    Channel,
    CustomerDetails,
    NumberValidation,
    SipConnectionAdded,
    SipConnection,
    SipConnectionDeleted,
    Task,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problem_details_keep_field_messages() {
        let body = br#"{"type":"x","title":"One or more validation errors occurred.","status":400,
            "errors":{"TenantId":["This MsTenant already exists as an UMP lead!"]},"traceId":"00-a-b-00"}"#;
        match classify(Action::CreateLead, 400, None, body) {
            Err(Error::Validation { fields, .. }) => {
                assert_eq!(
                    fields["TenantId"],
                    vec!["This MsTenant already exists as an UMP lead!"]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bare_strings_and_ones() {
        assert!(matches!(
            classify(Action::DeleteLead, 404, None, br#""Invalild lead""#),
            Err(Error::NotFound { detail, .. }) if detail == "Invalild lead"
        ));
        assert_eq!(
            classify(Action::DeleteLead, 200, None, b"1").ok(),
            Some(Value::from(1))
        );
        let refused = classify(
            Action::ChangeLicense,
            400,
            None,
            br#""Invalid change for License Type!""#,
        )
        .unwrap_err();
        assert!(matches!(refused, Error::Rejected { status: 400, .. }));
        assert_eq!(
            refused.conflict(),
            Some(crate::Conflict::LicenceChangeRefused)
        );
        let other = classify(Action::ChangeLicense, 400, None, br#""Bad count""#).unwrap_err();
        assert_eq!(other.conflict(), None);
    }

    #[test]
    fn server_errors_make_writes_unknown_and_reads_transient() {
        assert!(matches!(
            classify(Action::UploadNumbers, 502, None, b""),
            Err(Error::OutcomeUnknown { .. })
        ));
        assert!(matches!(
            classify(Action::ListNumbersV2, 502, None, b""),
            Err(Error::Transient { .. })
        ));
    }

    #[test]
    fn licence_required_is_told_apart() {
        let body = br#"{"status":403,"title":"Forbidden","detail":"needs Plus","errorCode":"LicenseRequired"}"#;
        assert!(matches!(
            classify(Action::ListEndUsers, 403, None, body),
            Err(Error::LicenseRequired { .. })
        ));
    }

    #[test]
    fn a_busy_object_is_told_apart_from_a_conflict_of_the_request() {
        let busy = br#"{"status":409,"title":"Conflict","detail":"A provisioning task for a@b.c is already running.","errorCode":"OperationInProgress"}"#;
        let err = classify(Action::ProvisionEndUser, 409, None, busy).unwrap_err();
        assert!(matches!(err, Error::Busy { .. }), "{err:?}");
        assert!(err.is_transient());
        let taken =
            br#"{"status":409,"title":"Conflict","detail":"A channel named 'x' already exists."}"#;
        assert!(matches!(
            classify(Action::CreateChannel, 409, None, taken),
            Err(Error::Rejected { status: 409, .. })
        ));
    }

    #[test]
    fn doubly_wrapped_leads() {
        let v = parse_body(br#"[[{"id":"1","tenantId":"t","status":"Active"}]]"#);
        let leads = decode_leads(Action::ListLeads, v).unwrap();
        assert_eq!(leads.len(), 1);
        assert!(leads[0].is_active());
    }

    #[test]
    fn task_ids_in_all_shapes() {
        for body in [
            &br#""tsk_12""#[..],
            br#"{"taskId":"tsk_12"}"#,
            br#"{"jobId":"tsk_12"}"#,
        ] {
            assert_eq!(
                decode_task_id(Action::UpgradeLicense, parse_body(body))
                    .unwrap()
                    .0,
                "tsk_12"
            );
        }
        assert!(decode_task_id(Action::UpgradeLicense, parse_body(b"1")).is_err());
    }

    #[test]
    fn retry_after_parses_seconds() {
        assert_eq!(retry_after(Some("3")), Duration::from_secs(3));
        assert_eq!(retry_after(Some("junk")), Duration::from_secs(1));
        assert_eq!(retry_after(None), Duration::from_secs(1));
    }
}
