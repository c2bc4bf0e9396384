//! Reading requests the way the platform does: JSON property names and query names
//! case-insensitively, with malformed input answered as ValidationProblemDetails.

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, RawQuery, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::ApiError;
use liveplatform_contract::casing::{normalize_keys, snake_case};

/// The raw request body; a body that cannot be read (too large, cut off) is answered
/// as a ProblemDetails like every other error.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|e| ApiError::Problem {
                status: e.status(),
                title: "The request body could not be read.".into(),
                detail: e.body_text(),
                error_code: None,
            })
    }
}

/// Parses a JSON body into `T` after normalising property names to snake_case.
pub fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field(
            "$",
            "A non-empty request body is required.",
        ));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::field("$", format!("The JSON value could not be converted: {e}")))?;
    serde_json::from_value(normalize_keys(value))
        .map_err(|e| ApiError::field("$", format!("The JSON value could not be converted: {e}")))
}

/// Query parameters with names folded to snake_case (`msTenantId`, `MsTenantID` and
/// `mstenantid`... all become `ms_tenant_id`; an all-lowercase name stays as is and is
/// looked up by its lowercase form too).
#[derive(Debug, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut map = HashMap::new();
        if let Some(raw) = raw {
            for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
                map.insert(fold(&k), v.into_owned());
            }
        }
        Self(map)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(&fold(name))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A non-negative integer parameter, with a default; junk is a 400.
    pub fn int(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse::<i64>().map_err(|_| {
                ApiError::field(name, format!("The value '{v}' is not valid for {name}."))
            }),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ApiError::field(
                name,
                format!("The value '{v}' is not valid for {name}."),
            )),
        }
    }
}

fn fold(name: &str) -> String {
    snake_case(name).replace('_', "")
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::field("$query", "The query string could not be read."))?;
        Ok(Query::parse(raw.as_deref()))
    }
}

/// The tenant id rule of the platform: a GUID.
pub fn is_guid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

/// E.164 as the platform checks it: `^\+[1-9][0-9]{1,14}$`.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A GUID query parameter that must be present.
pub fn required_guid(query: &Query, name: &str) -> Result<String, ApiError> {
    match query.get(name) {
        None => Err(ApiError::field(
            name,
            format!("The {name} field is required."),
        )),
        Some(v) if !is_guid(v) => Err(ApiError::field(
            name,
            format!("The value '{v}' is not a valid GUID."),
        )),
        Some(v) => Ok(v.to_ascii_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_fold() {
        let q = Query::parse(Some("MsTenantID=a&pagesize=5"));
        assert_eq!(q.get("msTenantId"), Some("a"));
        assert_eq!(q.get("PageSize"), Some("5"));
    }

    #[test]
    fn e164() {
        assert!(is_e164("+14255550100"));
        assert!(!is_e164("+04255550100"));
        assert!(!is_e164("14255550100"));
        assert!(!is_e164("+1234567890123456"));
        assert!(is_e164("+123456789012345"));
    }
}
