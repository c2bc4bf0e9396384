//! Logging setup: JSON lines by default (one object per event, with the span's
//! fields), or human-readable text. The level comes from `--log-level` or `RUST_LOG`.

use clap::ValueEnum;
use std::sync::atomic::Ordering::SeqCst;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// Installs the global subscriber. `level` is an `EnvFilter` directive such as
/// `info` or `oc_operator=debug,kube=info`; `RUST_LOG` wins when set.
pub fn init_logging(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging was already set up: {e}");
    }
}

/// Readiness as `/readyz` reports it.
///
/// A replica is ready once every kind can be listed with its identity (CRDs installed,
/// RBAC granted) and, while it leads and runs the controllers, once their watch
/// caches have synced. A replica waiting for the Lease has no caches and is ready on
/// the first condition alone, so a standby counts as available.
#[derive(Debug, Clone, Default)]
pub struct Readiness(std::sync::Arc<ReadinessState>);

#[derive(Debug, Default)]
struct ReadinessState {
    api_access: std::sync::atomic::AtomicBool,
    leading: std::sync::atomic::AtomicBool,
    caches_synced: std::sync::atomic::AtomicBool,
}

impl Readiness {
    /// Every kind can (or can no longer) be listed with the operator's identity.
    pub fn set_api_access(&self, ok: bool) {
        self.0.api_access.store(ok, SeqCst);
    }

    /// The controllers start (true) or stop (false) in this replica; their caches
    /// start unsynced.
    pub fn set_leading(&self, leading: bool) {
        self.0.caches_synced.store(false, SeqCst);
        self.0.leading.store(leading, SeqCst);
    }

    /// The controllers' watch caches hold a first full listing of every kind.
    pub fn set_caches_synced(&self) {
        self.0.caches_synced.store(true, SeqCst);
    }

    /// Whether the controllers' caches have synced since they last started.
    pub fn caches_synced(&self) -> bool {
        self.0.caches_synced.load(SeqCst)
    }

    /// `Ok` when ready, otherwise what is missing.
    pub fn check(&self) -> Result<(), &'static str> {
        if !self.0.api_access.load(SeqCst) {
            return Err(
                "not ready: the operator cannot list every kind yet (CRDs installed? RBAC granted?)",
            );
        }
        if self.0.leading.load(SeqCst) && !self.caches_synced() {
            return Err("not ready: the controllers' watch caches have not synced yet");
        }
        Ok(())
    }

    pub fn get(&self) -> bool {
        self.check().is_ok()
    }
}

/// Serves, on `listener`, `/healthz` (the process runs), `/readyz` (see [`Readiness`])
/// and `/metrics` (Prometheus text).
pub async fn serve_admin(
    listener: tokio::net::TcpListener,
    readiness: Readiness,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
) -> std::io::Result<()> {
    use axum::http::{StatusCode, header};
    use axum::routing::get;
    let router = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        )
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move {
                    match readiness.check() {
                        Ok(()) => (StatusCode::OK, "ready"),
                        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
                    }
                }
            }),
        );
    axum::serve(listener, router).await
}

#[cfg(test)]
mod tests {
    use super::Readiness;

    #[test]
    fn readiness_needs_api_access_and_synced_caches_while_leading() {
        let r = Readiness::default();
        assert!(r.check().unwrap_err().contains("cannot list"));
        r.set_api_access(true);
        assert!(r.get(), "a standby with API access is ready");
        r.set_leading(true);
        assert!(r.check().unwrap_err().contains("caches"));
        r.set_caches_synced();
        assert!(r.get());
        // Leading again (after losing and regaining the Lease) starts unsynced.
        r.set_leading(false);
        assert!(r.get());
        r.set_leading(true);
        assert!(!r.get());
        r.set_caches_synced();
        r.set_api_access(false);
        assert!(!r.get());
    }
}
