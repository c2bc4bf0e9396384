//! Shapes shared by several areas: acknowledgements, task ids, pages.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An answer that only acknowledges: `1`, `true`, a bare string, or an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack(pub Value);

/// The id of an asynchronous task (`wst_<uuid>`, `tsk_<int>`, `tsk_msjob_<uuid>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub String);

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One page of a paged listing (`currentPage, pageSize, totalPages, totalRecords, data`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct Page<T> {
    pub current_page: i64,
    pub page_size: i64,
    pub total_pages: i64,
    pub total_records: i64,
    pub data: Vec<T>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            current_page: 0,
            page_size: 0,
            total_pages: 0,
            total_records: 0,
            data: Vec::new(),
        }
    }
}

/// Accepts an integer written as a number or as a string; anything else is `None`.
pub fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Accepts a string, or a number or boolean written out; `null` is `None`.
pub fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// Accepts a boolean, or `"true"`/`"false"`, or 0/1; anything else is `false`.
pub fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        Value::Number(n) => n.as_i64() == Some(1),
        _ => false,
    })
}
