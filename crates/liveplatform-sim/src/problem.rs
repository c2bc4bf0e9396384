//! The simulator's error answers, in the platform's documented shapes:
//! ValidationProblemDetails, ProblemDetails, bare JSON strings, empty 401.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer of the simulated platform.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 400 ValidationProblemDetails with field messages.
    Validation(BTreeMap<String, Vec<String>>),
    /// Any status with a bare JSON string body (`"Invalild lead"`).
    Bare(StatusCode, String),
    /// Any status with a ProblemDetails body.
    Problem {
        status: StatusCode,
        title: String,
        detail: String,
        error_code: Option<String>,
    },
    /// 401 with an empty body.
    Unauthorized,
    /// 429 ProblemDetails with Retry-After in seconds.
    RateLimited { retry_after_secs: u64 },
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = BTreeMap::new();
        errors.insert(field.to_owned(), vec![message.into()]);
        ApiError::Validation(errors)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::Problem {
            status: StatusCode::NOT_FOUND,
            title: "Not Found".into(),
            detail: detail.into(),
            error_code: None,
        }
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::Problem {
            status: StatusCode::CONFLICT,
            title: "Conflict".into(),
            detail: detail.into(),
            error_code: None,
        }
    }

    /// HTTP 409 for a write refused while an earlier task on the same object runs.
    pub fn busy(detail: impl Into<String>) -> Self {
        ApiError::Problem {
            status: StatusCode::CONFLICT,
            title: "Conflict".into(),
            detail: detail.into(),
            error_code: Some(liveplatform_contract::BUSY_CODE.into()),
        }
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError::Problem {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Service Unavailable".into(),
            detail: detail.into(),
            error_code: Some("Unavailable".into()),
        }
    }
}

/// Collects field messages, then becomes a 400 if any were added.
#[derive(Debug, Default)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// A trace id in the platform's `00-<32hex>-<16hex>-00` form.
pub fn trace_id() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("00-{a}-{}-00", &b[..16])
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Validation(errors) => (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({
                    "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
                    "title": "One or more validation errors occurred.",
                    "status": 400,
                    "errors": errors,
                    "traceId": trace_id(),
                })),
            )
                .into_response(),
            ApiError::Bare(status, text) => (status, axum::Json(json!(text))).into_response(),
            ApiError::Problem { status, title, detail, error_code } => (
                status,
                axum::Json(json!({
                    "type": format!("https://tools.ietf.org/html/rfc7231#section-{}", status.as_u16()),
                    "title": title,
                    "status": status.as_u16(),
                    "detail": detail,
                    "instance": null,
                    "errorTicket": uuid::Uuid::new_v4().to_string(),
                    "errorCode": error_code,
                    "traceId": trace_id(),
                })),
            )
                .into_response(),
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED.into_response(),
            ApiError::RateLimited { retry_after_secs } => {
                let mut response = ApiError::Problem {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    title: "Too Many Requests".into(),
                    detail: format!("Rate limit exceeded. Retry after {retry_after_secs} seconds."),
                    error_code: Some("TooManyRequests".into()),
                }
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
                response
            }
        }
    }
}
