//! The HTTP core of the Live Platform client: configuration, transport, token,
//! rate limits and the retry rules. The typed actions are in `calls.rs`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::action::Action;
use super::answer;
use super::auth::{Credentials, TokenSource};
use super::contract::{self, Budget};
use super::error::{Error, Result};
use super::rate_limit::RateLimiter;
use crate::backoff::Backoff;

/// Where and how to reach one Live Platform.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The REST root, `https://<host>/tenantui/api`.
    pub base_url: url::Url,
    /// The identity base (`https://login.microsoftonline.com` by default).
    pub identity_base: url::Url,
    /// The service provider's own Entra tenant id.
    pub sp_tenant_id: String,
    pub credentials: Credentials,
    /// Sent as `X-Ovoc-Channel-Id` on every call when set.
    pub channel_id: Option<i64>,
    pub budget: Budget,
    /// Calls in flight at once (at least 1); more wait for a free slot.
    pub max_in_flight: usize,
    /// Allow `http://` to hosts other than loopback (never needed in production).
    pub allow_insecure_http: bool,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// A configuration with the documented defaults.
    pub fn new(
        base_url: url::Url,
        sp_tenant_id: impl Into<String>,
        credentials: Credentials,
    ) -> Result<Self> {
        let identity_base = url::Url::parse(contract::DEFAULT_IDENTITY_BASE)
            .map_err(|e| Error::Config(format!("default identity base: {e}")))?;
        Ok(Self {
            base_url,
            identity_base,
            sp_tenant_id: sp_tenant_id.into(),
            credentials,
            channel_id: None,
            budget: contract::DEFAULT_BUDGET,
            max_in_flight: contract::DEFAULT_MAX_IN_FLIGHT,
            allow_insecure_http: false,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        })
    }
}

/// How often and how patiently the client retries by itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts of a read or task poll (first try included).
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// Longer Retry-After waits are handed back to the caller as
    /// [`Error::RateLimited`] instead of being slept through.
    pub max_inline_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(5)),
            max_inline_wait: Duration::from_secs(10),
        }
    }
}

/// Hooks for metrics and logs; every method has a no-op default.
pub trait CallObserver: Send + Sync + std::fmt::Debug {
    /// One HTTP exchange ended: `status` is `None` when no answer came.
    fn call(&self, _action: Action, _status: Option<u16>, _elapsed: Duration) {}
    /// The client is about to try `action` again.
    fn retry(&self, _action: Action) {}
    /// The client waited for its own rate limiter or a Retry-After.
    fn rate_limit_wait(&self, _action: Action, _waited: Duration) {}
    /// A call took its turn for the budget, and `calls` others still wait.
    fn waiting(&self, _calls: usize) {}
}

#[derive(Debug)]
struct NoObserver;
impl CallObserver for NoObserver {}

/// A client of one Live Platform. Cheap to clone; clones share token, limits and
/// connections.
#[derive(Debug, Clone)]
pub struct LivePlatformClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    tokens: TokenSource,
    limiter: RateLimiter,
    /// One permit per call in flight (`max_in_flight`).
    in_flight: tokio::sync::Semaphore,
    observer: Arc<dyn CallObserver>,
}

tokio::task_local! {
    /// A call the budget already admitted ([`LivePlatformClient::admit`]): the first
    /// request of that action made in its scope takes no second permit.
    static ADMITTED: std::cell::Cell<Option<Action>>;
}

/// One call of an action that the platform's budget admitted and that has not left
/// yet (see [`LivePlatformClient::admit`]).
#[derive(Debug)]
#[must_use = "the admitted call is made by `run`; dropped, its permit is spent for nothing"]
pub struct Admitted {
    action: Action,
}

impl Admitted {
    /// Makes the admitted call: `call`'s first request of this action leaves without
    /// waiting for the budget again (a retry inside it waits as any call does).
    pub async fn run<F: std::future::Future>(self, call: F) -> F::Output {
        ADMITTED
            .scope(std::cell::Cell::new(Some(self.action)), call)
            .await
    }
}

/// A request before it is sent: path segments (encoded one by one), query, body.
#[derive(Debug)]
pub(super) struct Request {
    pub action: Action,
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl Request {
    /// The request of `action` to its route (see `routes`), with `values` for the
    /// path's placeholders, in order.
    pub fn to(action: Action, values: &[&str]) -> Result<Self> {
        let route = action
            .route()
            .ok_or_else(|| Error::Config(format!("{action} is not sent to the platform's API")))?;
        let segments = route.segments(values).ok_or_else(|| {
            Error::Config(format!(
                "{action} takes {} path values, not {}",
                route.placeholders(),
                values.len()
            ))
        })?;
        Ok(Self {
            action,
            method: route.method,
            segments,
            query: Vec::new(),
            body: None,
        })
    }

    pub fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    pub fn query_opt(self, name: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }

    pub fn json(mut self, body: &impl Serialize) -> Result<Self> {
        let action = self.action;
        self.body = Some(
            serde_json::to_value(body).map_err(|e| Error::UnexpectedAnswer {
                action,
                detail: format!("request body: {e}"),
            })?,
        );
        Ok(self)
    }
}

/// Says what went wrong in transport without echoing URLs with query strings.
pub(super) fn describe_transport(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else if e.is_request() {
        "the connection failed"
    } else {
        "transport error"
    };
    let mut source = std::error::Error::source(e);
    let mut root = None;
    while let Some(s) = source {
        root = Some(s.to_string());
        source = s.source();
    }
    match root {
        Some(root) => format!("{kind}: {root}"),
        None => kind.to_owned(),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn check_scheme(what: &str, url: &url::Url, allow_insecure: bool) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure || is_loopback(url) => Ok(()),
        "http" => Err(Error::Config(format!(
            "{what} {url} uses plain http to a host that is not loopback; use https (or allow insecure http explicitly for a test platform)"
        ))),
        other => Err(Error::Config(format!(
            "{what} {url}: unsupported scheme {other}"
        ))),
    }
}

impl LivePlatformClient {
    pub fn new(config: ClientConfig) -> Result<Self> {
        Self::with_observer(config, Arc::new(NoObserver))
    }

    pub fn with_observer(config: ClientConfig, observer: Arc<dyn CallObserver>) -> Result<Self> {
        check_scheme("base URL", &config.base_url, config.allow_insecure_http)?;
        check_scheme(
            "identity base",
            &config.identity_base,
            config.allow_insecure_http,
        )?;
        if config.sp_tenant_id.trim().is_empty() {
            return Err(Error::Config(
                "the service provider tenant id is empty".into(),
            ));
        }
        // Any plain http was vetted by check_scheme above; otherwise refuse it outright.
        let uses_plain_http =
            config.base_url.scheme() == "http" || config.identity_base.scheme() == "http";
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .https_only(!uses_plain_http)
            .user_agent(concat!("oc-operator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let tokens = TokenSource::new(
            http.clone(),
            &config.identity_base,
            &config.sp_tenant_id,
            config.credentials.clone(),
            observer.clone(),
        )?;
        let limiter = RateLimiter::new(config.budget);
        let in_flight = tokio::sync::Semaphore::new(config.max_in_flight.max(1));
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                tokens,
                limiter,
                in_flight,
                observer,
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Uses new credentials from now on (a rotated Secret); no restart needed.
    pub async fn set_credentials(&self, credentials: Credentials) {
        self.inner.tokens.set_credentials(credentials).await;
    }

    /// Fetches (or reuses) a token: proves the credentials work.
    pub async fn check_credentials(&self) -> Result<()> {
        self.inner.tokens.token().await.map(|_| ())
    }

    pub(super) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(super) fn observer(&self) -> &dyn CallObserver {
        self.inner.observer.as_ref()
    }

    fn url(&self, segments: &[String], query: &[(&'static str, String)]) -> Result<url::Url> {
        let mut url = self.inner.config.base_url.clone();
        {
            let mut path = url.path_segments_mut().map_err(|()| {
                Error::Config(format!(
                    "base URL {} cannot take a path",
                    self.inner.config.base_url
                ))
            })?;
            path.pop_if_empty();
            for segment in segments {
                path.push(segment);
            }
        }
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in query {
                pairs.append_pair(name, value);
            }
        }
        Ok(url)
    }

    /// Waits until the platform's budget admits one call of `action` (as the caller
    /// of the current task), and returns it to be made by [`Admitted::run`]. What the
    /// caller does in between happens with the call's permit in hand: the operator
    /// records its intent to write there, so that a process stopped while its calls
    /// wait in line leaves no intent whose call never left.
    pub async fn admit(&self, action: Action) -> Admitted {
        self.wait_for_budget(action).await;
        Admitted { action }
    }

    /// The permit for one call of `action` if the budget admits it now, with no call
    /// waiting in line before it.
    pub fn admit_now(&self, action: Action) -> Option<Admitted> {
        self.inner
            .limiter
            .try_acquire(action, Instant::now())
            .ok()
            .map(|()| Admitted { action })
    }

    /// Waits for the budget's permit for one request of `action`.
    async fn wait_for_budget(&self, action: Action) {
        let waited = self.inner.limiter.acquire(action).await;
        self.observer().waiting(self.inner.limiter.waiting());
        if waited > Duration::from_millis(5) {
            self.observer().rate_limit_wait(action, waited);
        }
    }

    /// Sends one request under the retry rules and returns the normalised answer.
    ///
    /// - 401: the token is dropped and the call tried once more with a fresh one.
    /// - 429: waited out (Retry-After) while attempts and `max_inline_wait` allow;
    ///   the request was refused, so this holds for writes too.
    /// - connection refused: the request never left, so it is tried again.
    /// - 5xx, timeout, cut-off answer: reads are retried with backoff; a write
    ///   fails with [`Error::OutcomeUnknown`] and is never repeated here.
    pub(super) async fn send(&self, request: Request) -> Result<Value> {
        let action = request.action;
        let url = self.url(&request.segments, &request.query)?;
        let policy = self.inner.config.retry;
        let mut refreshed = false;
        let mut attempt: u32 = 0;
        loop {
            // The first attempt of a call admitted beforehand has its permit.
            let admitted = attempt == 0
                && ADMITTED
                    .try_with(|admitted| {
                        let mine = admitted.get() == Some(action);
                        if mine {
                            admitted.set(None);
                        }
                        mine
                    })
                    .unwrap_or(false);
            if !admitted {
                self.wait_for_budget(action).await;
            }
            let token = self.inner.tokens.token().await?;
            // The semaphore is never closed, so a permit always comes.
            let permit = self.inner.in_flight.acquire().await.ok();
            // A 429 that came back while this call waited for a slot holds it back
            // too: sent now, it would only be refused again.
            if let Some(wait) = self.inner.limiter.held_back(Instant::now()) {
                tokio::time::sleep(wait).await;
            }
            let result = self.exchange(action, &request, url.clone(), &token).await;
            drop(permit);
            attempt += 1;
            if let Err(Error::RateLimited { retry_after, .. }) = &result {
                self.inner.limiter.throttled(*retry_after, Instant::now());
            }
            let retry_delay = match &result {
                Ok(_) => return result,
                Err(Error::Unauthorized { .. }) if !refreshed => {
                    refreshed = true;
                    self.inner.tokens.invalidate(&token).await;
                    Some(Duration::ZERO)
                }
                Err(Error::RateLimited { retry_after, .. })
                    if attempt < policy.max_attempts && *retry_after <= policy.max_inline_wait =>
                {
                    self.observer().rate_limit_wait(action, *retry_after);
                    Some(
                        policy
                            .backoff
                            .delay_honouring(attempt - 1, Some(*retry_after)),
                    )
                }
                Err(Error::Transient { .. }) if attempt < policy.max_attempts => {
                    Some(policy.backoff.delay(attempt - 1))
                }
                Err(_) => None,
            };
            match retry_delay {
                Some(delay) => {
                    self.observer().retry(action);
                    tracing::debug!(
                        action = action.label(),
                        attempt,
                        ?delay,
                        "retrying Live Platform call"
                    );
                    tokio::time::sleep(delay).await;
                }
                None => return result,
            }
        }
    }

    async fn exchange(
        &self,
        action: Action,
        request: &Request,
        url: url::Url,
        token: &crate::secret::Secret,
    ) -> Result<Value> {
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), url)
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(channel) = self.inner.config.channel_id {
            builder = builder.header(contract::CHANNEL_HEADER, channel.to_string());
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let started = Instant::now();
        let lost = |e: reqwest::Error| {
            let detail = describe_transport(&e);
            if e.is_connect() || !action.is_write() {
                Error::Transient { action, detail }
            } else {
                Error::OutcomeUnknown { action, detail }
            }
        };
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                self.observer().call(action, None, started.elapsed());
                return Err(lost(e));
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match super::body::read(response).await {
            Ok(b) => b,
            Err(unread) => {
                self.observer()
                    .call(action, Some(status), started.elapsed());
                return Err(match unread {
                    super::body::Unread::Transport(e) => lost(e),
                    // A write's answer not read whole: its outcome is not known.
                    super::body::Unread::TooLarge if action.is_write() => Error::OutcomeUnknown {
                        action,
                        detail: format!("its answer was not read: {}", unread.describe()),
                    },
                    super::body::Unread::TooLarge => Error::AnswerTooLarge {
                        action,
                        detail: unread.describe(),
                    },
                });
            }
        };
        self.observer()
            .call(action, Some(status), started.elapsed());
        tracing::debug!(
            action = action.label(),
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Live Platform call"
        );
        answer::classify(action, status, retry_after.as_deref(), &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> ClientConfig {
        ClientConfig::new(
            url::Url::parse(base).unwrap(),
            "sp",
            Credentials::with_secret("id", "s"),
        )
        .unwrap()
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(LivePlatformClient::new(config("https://lp.example.com/tenantui/api")).is_ok());
        let mut local = config("http://127.0.0.1:8080/tenantui/api");
        local.identity_base = url::Url::parse("http://127.0.0.1:8080").unwrap();
        assert!(LivePlatformClient::new(local).is_ok());
        let err =
            LivePlatformClient::new(config("http://lp.example.com/tenantui/api")).unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        let mut allowed = config("http://lp.example.com/tenantui/api");
        allowed.allow_insecure_http = true;
        assert!(LivePlatformClient::new(allowed).is_ok());
    }

    #[test]
    fn segments_are_encoded() {
        let c = LivePlatformClient::new(config("https://lp.example.com/tenantui/api")).unwrap();
        let segs = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let url = c
            .url(
                &segs(&["v2", "customer", "g", "user", "a b@x.com", "script"]),
                &[("msTenantId", "t".into())],
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://lp.example.com/tenantui/api/v2/customer/g/user/a%20b@x.com/script?msTenantId=t"
        );
        let trailing = c
            .url(&segs(&["v2", "customer", "g", "sitelocation", ""]), &[])
            .unwrap();
        assert!(trailing.as_str().ends_with("/sitelocation/"));
    }

    #[test]
    fn debug_hides_the_client_secret() {
        let c = config("https://lp.example.com/tenantui/api");
        assert!(!format!("{c:?}").contains("\"s\""));
        assert!(format!("{c:?}").contains("<redacted>"));
    }
}
