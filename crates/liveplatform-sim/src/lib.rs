//! A faithful simulator of the Live Platform REST API for Operator Connect, with the
//! Entra ID identity endpoints beside it. It is a real HTTP server with real state,
//! asynchronous tasks, rate limits and fault injection; sandboxes, tests and
//! benchmarks talk to it exactly as to the real platform.
//!
//! - identity: `POST /{tenant}/oauth2/v2.0/token`, `GET /{tenant}/.well-known/openid-configuration`
//! - API: everything below `/tenantui/api`
//! - admin (tests and benchmarks): `/admin/...`, see `admin.rs`

mod admin;
pub mod admin_client;
mod customers;
mod dial_plans;
mod end_users;
pub mod faults;
mod gate;
mod identity;
mod leads;
mod numbers;
pub mod problem;
mod profiles;
mod request;
pub mod seed;
mod server;
mod sites;
pub mod state;
mod tasks;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use faults::Faults;
use gate::Limits;
use problem::ApiError;
pub use seed::Seed;
use state::State;

use liveplatform_contract::API_ROOT;

/// The shared state of a running simulator.
pub type App = Arc<Sim>;

#[derive(Debug)]
pub struct Sim {
    state: Mutex<State>,
    faults: Mutex<Faults>,
    counters: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    limits: Mutex<Limits>,
    /// When started (admin), every API request on arrival: when, which endpoint,
    /// which path and query.
    journal: Mutex<Option<Vec<JournalEntry>>>,
}

/// One API request in the journal.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Microseconds since the Unix epoch, on arrival.
    pub at_micros: i64,
    pub endpoint: String,
    /// The path and query as sent.
    pub uri: String,
}

/// The journal keeps at most this many requests; later ones are not recorded.
const JOURNAL_LIMIT: usize = 1_000_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Sim {
    pub fn new(seed: Seed, faults: Faults) -> Self {
        Self {
            state: Mutex::new(State::new(seed)),
            faults: Mutex::new(faults),
            counters: Mutex::new(BTreeMap::new()),
            limits: Mutex::new(Limits::default()),
            journal: Mutex::new(None),
        }
    }

    /// The state, with the task clock moved to now.
    pub fn lock_state(&self) -> MutexGuard<'_, State> {
        let mut state = lock(&self.state);
        state.advance();
        state
    }

    pub fn lock_faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    fn lock_limits(&self) -> MutexGuard<'_, Limits> {
        lock(&self.limits)
    }

    /// Counts one request of `endpoint` on arrival, under `total`; its outcome is
    /// counted by [`Sim::count`] (a request abandoned by its client has none).
    pub fn arrive(&self, endpoint: &str) {
        self.count(endpoint, "total");
    }

    /// Counts one request of `endpoint` under `outcome` (a status code or event).
    pub fn count(&self, endpoint: &str, outcome: &str) {
        let mut counters = lock(&self.counters);
        let entry = counters.entry(endpoint.to_owned()).or_default();
        *entry.entry(outcome.to_owned()).or_default() += 1;
    }

    /// Records a request in the journal, if it was started.
    pub fn journal(&self, endpoint: &str, uri: &axum::http::Uri) {
        let mut journal = lock(&self.journal);
        if let Some(entries) = journal.as_mut()
            && entries.len() < JOURNAL_LIMIT
        {
            entries.push(JournalEntry {
                at_micros: jiff::Timestamp::now().as_microsecond(),
                endpoint: endpoint.to_owned(),
                uri: uri
                    .path_and_query()
                    .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned()),
            });
        }
    }

    /// Starts the journal afresh.
    pub fn start_journal(&self) {
        *lock(&self.journal) = Some(Vec::new());
    }

    /// The requests journaled since it was started.
    pub fn journaled(&self) -> Vec<JournalEntry> {
        lock(&self.journal).clone().unwrap_or_default()
    }

    pub fn counters(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        lock(&self.counters).clone()
    }

    pub fn reset_counters(&self) {
        lock(&self.counters).clear();
    }

    /// How long new tasks take.
    pub fn task_delay(&self) -> Duration {
        let override_ms = self.lock_faults().task_delay_ms;
        let seed_ms = lock(&self.state).seed.task_delay_ms;
        Duration::from_millis(override_ms.unwrap_or(seed_ms))
    }

    /// How the next task will run (taken before the state is locked).
    pub fn next_task(&self) -> state::TaskTiming {
        state::TaskTiming {
            delay: self.task_delay(),
            will_fail: self.lock_faults().task_fails(),
        }
    }
}

/// Builds the simulator's router over `app`.
pub fn router(app: App) -> Router {
    let api = Router::new()
        .merge(leads::routes())
        .merge(customers::routes())
        .merge(profiles::routes())
        .merge(numbers::routes())
        .merge(sites::routes())
        .merge(end_users::routes())
        .merge(dial_plans::routes())
        .route("/v2/task/{task_id}", get(tasks::get_task))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            gate::api_gate,
        ));
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(identity::token))
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(identity::openid_configuration),
        )
        .nest(API_ROOT, api)
        .nest("/admin", admin::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/",
            put(method_not_allowed).get(|| async { "Live Platform simulator (oc-operator)" }),
        )
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

async fn unknown_route() -> ApiError {
    ApiError::not_found("No resource matches the request path.")
}

async fn method_not_allowed() -> ApiError {
    ApiError::Problem {
        status: StatusCode::METHOD_NOT_ALLOWED,
        title: "Method Not Allowed".into(),
        detail: "The resource does not support this method.".into(),
        error_code: None,
    }
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    app: App,
    shutdown: watch::Sender<bool>,
}

impl Simulator {
    /// Binds `listen` (port 0 picks a free port) and serves until dropped.
    pub async fn start(listen: SocketAddr, seed: Seed, faults: Faults) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app: App = Arc::new(Sim::new(seed, faults));
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(server::serve(listener, router(app.clone()), rx));
        Ok(Self {
            addr,
            app,
            shutdown,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The identity base URL (what `login.microsoftonline.com` is in production).
    pub fn identity_base(&self) -> url::Url {
        url_of(&format!("http://{}", self.addr))
    }

    /// The REST root, `http://addr/tenantui/api`.
    pub fn base_url(&self) -> url::Url {
        url_of(&format!("http://{}{API_ROOT}", self.addr))
    }

    /// The admin root, `http://addr/admin`.
    pub fn admin_url(&self) -> url::Url {
        url_of(&format!("http://{}/admin", self.addr))
    }

    /// In-process access to the simulator's state, for unit tests.
    pub fn app(&self) -> &App {
        &self.app
    }

    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop();
    }
}

fn url_of(text: &str) -> url::Url {
    // The text is built from a socket address and constant paths: always a URL.
    url::Url::parse(text).unwrap_or_else(|_| unreachable!("simulator URL {text} is valid"))
}
