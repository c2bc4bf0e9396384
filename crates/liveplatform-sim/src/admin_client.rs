//! A client of the simulator's admin side, for tests, the sandbox and benchmarks.

use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("simulator admin {path}: {source}")]
    Http {
        path: String,
        source: reqwest::Error,
    },
    #[error("simulator admin {path}: HTTP {status}: {body}")]
    Status {
        path: String,
        status: u16,
        body: String,
    },
}

/// Talks to `http://host:port/admin`.
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new(admin_url: &url::Url) -> Self {
        Self {
            base: admin_url.as_str().trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, AdminError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        let err = |source| AdminError::Http {
            path: path.to_owned(),
            source,
        };
        let response = request.send().await.map_err(err)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(err)?;
        if !(200..300).contains(&status) {
            return Err(AdminError::Status {
                path: path.to_owned(),
                status,
                body: text,
            });
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Replaces the fault settings (see `Faults`).
    pub async fn set_faults(&self, faults: Value) -> Result<(), AdminError> {
        self.send(reqwest::Method::PUT, "/faults", Some(&faults))
            .await
            .map(|_| ())
    }

    /// Starts the journal of API requests afresh (see `/admin/journal`).
    pub async fn start_journal(&self) -> Result<(), AdminError> {
        self.send(reqwest::Method::POST, "/journal", Some(&json!({})))
            .await
            .map(|_| ())
    }

    /// The API requests journaled since it was started.
    pub async fn journal(&self) -> Result<Value, AdminError> {
        self.send(reqwest::Method::GET, "/journal", None).await
    }

    pub async fn counters(&self) -> Result<Value, AdminError> {
        self.send(reqwest::Method::GET, "/counters", None).await
    }

    /// Every API request the simulator has counted, over all endpoints.
    pub async fn total_calls(&self) -> Result<u64, AdminError> {
        Ok(total_of(&self.counters().await?))
    }

    /// Requests of `endpoint` (`"POST /v2/oc/lead"`) that ended in `outcome`
    /// (`"total"`, a status code, `"dropped"`, `"answer-dropped"`).
    pub async fn count(&self, endpoint: &str, outcome: &str) -> Result<u64, AdminError> {
        Ok(self.counters().await?[endpoint][outcome]
            .as_u64()
            .unwrap_or(0))
    }

    /// The whole state as JSON.
    pub async fn state(&self) -> Result<Value, AdminError> {
        self.send(reqwest::Method::GET, "/state", None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, AdminError> {
        self.send(reqwest::Method::POST, path, Some(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Result<Value, AdminError> {
        self.send(reqwest::Method::PUT, path, Some(&body)).await
    }
}

/// The endpoints the simulator answers in Entra ID's place (a token, a tenant's
/// validation): not Live Platform calls, and outside the platform's budget.
pub const IDENTITY_ENDPOINTS: [&str; 2] = [
    "POST /{tenant}/oauth2/v2.0/token",
    "GET /{tenant}/.well-known/openid-configuration",
];

/// The sum of the `total` of every endpoint in a `/admin/counters` answer.
pub fn total_of(counters: &Value) -> u64 {
    total_where(counters, |_| true)
}

/// The sum of the `total` of the Live Platform's endpoints (all but Entra ID's).
pub fn platform_calls_of(counters: &Value) -> u64 {
    total_where(counters, |endpoint| !IDENTITY_ENDPOINTS.contains(&endpoint))
}

fn total_where(counters: &Value, counted: impl Fn(&str) -> bool) -> u64 {
    counters
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(endpoint, _)| counted(endpoint))
                .filter_map(|(_, v)| v["total"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}
