//! What every API request passes before and after its handler: call counters, fault
//! injection, bearer tokens, the channel header and rate limits.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State as AxState};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::App;
use super::faults::RequestFault;
use super::problem::ApiError;
use super::server::ConnectionKill;
use liveplatform_contract::{self as contract, CHANNEL_HEADER};

/// The channel a caller is restricted to by `X-Ovoc-Channel-Id`, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelScope(pub Option<i64>);

/// Per-credential token buckets and the platform-wide endpoint windows.
#[derive(Debug, Default)]
pub struct Limits {
    buckets: HashMap<String, (f64, Instant)>,
    windows: HashMap<&'static str, VecDeque<Instant>>,
}

impl Limits {
    /// Takes a permit or says how many seconds to wait.
    fn admit(
        &mut self,
        client_id: &str,
        endpoint: &str,
        per_second: f64,
        burst: u32,
    ) -> Result<(), u64> {
        let now = Instant::now();
        let (tokens, last) = self
            .buckets
            .entry(client_id.to_owned())
            .or_insert((f64::from(burst), now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * per_second)
            .min(f64::from(burst));
        *last = now;
        if *tokens < 1.0 {
            return Err(((1.0 - *tokens) / per_second.max(0.001)).ceil().max(1.0) as u64);
        }
        let window = match endpoint {
            "POST /v2/oc/numbers/action/release" => Some(("release", contract::RELEASE_LIMIT)),
            "PUT /v3/ovoc/channel/action/assign" => {
                Some(("assign", contract::CHANNEL_ASSIGN_LIMIT))
            }
            _ => None,
        };
        if let Some((name, limit)) = window {
            let calls = self.windows.entry(name).or_default();
            while calls
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= limit.window)
            {
                calls.pop_front();
            }
            if calls.len() >= limit.calls as usize {
                let oldest = calls.front().copied().unwrap_or(now);
                let wait = limit
                    .window
                    .saturating_sub(now.saturating_duration_since(oldest));
                return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
            }
            calls.push_back(now);
        }
        *tokens -= 1.0;
        Ok(())
    }
}

/// The counter label of a request: method and route template.
pub fn endpoint_label(method: &Method, matched: Option<&MatchedPath>) -> String {
    match matched {
        Some(path) => {
            let template = path
                .as_str()
                .strip_prefix(contract::API_ROOT)
                .unwrap_or(path.as_str());
            format!("{method} {template}")
        }
        None => format!("{method} (unmatched)"),
    }
}

fn bearer(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The middleware of the API routes.
pub async fn api_gate(AxState(app): AxState<App>, mut request: Request, next: Next) -> Response {
    let endpoint = endpoint_label(request.method(), request.extensions().get::<MatchedPath>());
    let is_write = request.method() != Method::GET && !endpoint.ends_with("/number-status");
    let kill = request.extensions().get::<ConnectionKill>().cloned();
    app.arrive(&endpoint);
    app.journal(&endpoint, request.uri());

    let (fault, latency) = {
        let mut faults = app.lock_faults();
        (faults.before(&endpoint), faults.latency_ms)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let early = match fault {
        RequestFault::None => None,
        RequestFault::RateLimit { retry_after_secs } => {
            Some(ApiError::RateLimited { retry_after_secs })
        }
        RequestFault::ServerError => Some(ApiError::unavailable(
            "The service is temporarily unavailable (injected fault).",
        )),
        RequestFault::Drop => {
            app.count(&endpoint, "dropped");
            if let Some(kill) = kill {
                kill.drop_connection().await;
            }
            Some(ApiError::unavailable("connection dropped"))
        }
    };
    if let Some(error) = early {
        let response = error.into_response();
        app.count(&endpoint, response.status().as_str());
        return response;
    }

    let client_id = {
        let state = app.lock_state();
        bearer(&request)
            .and_then(|t| state.tokens.get(&t).cloned())
            .filter(|t| Instant::now() < t.expires)
            .map(|t| t.client_id)
    };
    let Some(client_id) = client_id else {
        app.count(&endpoint, "401");
        return ApiError::Unauthorized.into_response();
    };

    let admitted = {
        let (per_second, burst) = {
            let state = app.lock_state();
            (state.seed.requests_per_second, state.seed.burst)
        };
        app.lock_limits()
            .admit(&client_id, &endpoint, per_second, burst)
    };
    if let Err(retry_after_secs) = admitted {
        app.count(&endpoint, "429");
        return ApiError::RateLimited { retry_after_secs }.into_response();
    }

    let scope = match request
        .headers()
        .get(CHANNEL_HEADER)
        .map(|v| v.to_str().map(|s| s.trim().parse::<i64>()))
    {
        None => ChannelScope(None),
        Some(Ok(Ok(id))) => ChannelScope(Some(id)),
        Some(_) => {
            app.count(&endpoint, "400");
            return ApiError::field(CHANNEL_HEADER, "The channel id must be an integer.")
                .into_response();
        }
    };
    request.extensions_mut().insert(scope);

    let response = next.run(request).await;
    app.count(&endpoint, response.status().as_str());
    if app.lock_faults().huge_answer(&endpoint) {
        app.count(&endpoint, "huge-answer");
        return huge_answer();
    }
    if response.status().is_success() && app.lock_faults().drop_after(&endpoint, is_write) {
        app.count(&endpoint, "answer-dropped");
        if let Some(kill) = kill {
            kill.drop_connection().await;
        }
    }
    response
}

/// An answer of `HUGE_ANSWER_BYTES`, sent a chunk at a time without a length: the
/// beginning of a JSON object that goes on and on.
fn huge_answer() -> Response {
    const CHUNK: usize = 64 * 1024;
    let chunks = crate::faults::HUGE_ANSWER_BYTES / CHUNK;
    let head = futures::stream::once(async {
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from_static(b"{\"padding\": \""))
    });
    let body = futures::stream::iter(
        std::iter::repeat_n(bytes::Bytes::from(vec![b'x'; CHUNK]), chunks)
            .map(Ok::<_, std::convert::Infallible>),
    );
    Response::builder()
        .status(200)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from_stream(head.chain(body)))
        .unwrap_or_default()
}
