//! The operator's client of the apiserver: every request and every watch are streams
//! of one HTTP/2 connection, as they are for client-go's clients.
//!
//! kube's own client speaks HTTP/1.1, where each request in flight needs a connection
//! of its own and the pool keeps every connection it opened. When a thousand
//! customers were declared at once, the operator held about 500 TLS connections to
//! the apiserver, 23 MiB of its heap at the peak (bench/README.md, stop 36). Here the
//! TLS handshake offers HTTP/2 first (ALPN); an apiserver behind something that only
//! speaks HTTP/1.1 still gets HTTP/1.1. Keep-alive pings find a connection that died
//! without a word, as client-go's read-idle timeout does. Everything else is kube's
//! client as `kube::Client::try_from` builds it: the same TLS settings and
//! credentials, retries of the apiserver's 429 and 503, extra headers.

use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::ConfigExt;
use kube::client::retry::RetryPolicy;
use tower::ServiceBuilder;
use tower::retry::RetryLayer;

/// A connection that has been quiet this long is pinged.
const PING_AFTER: Duration = Duration::from_secs(30);

/// A ping unanswered this long closes the connection; the next request opens another.
const PING_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("finding the apiserver's address and credentials (kubeconfig or in-cluster): {0}")]
    Infer(#[from] kube::config::InferConfigError),
    #[error("setting up the apiserver client (TLS, credentials, headers): {0}")]
    Setup(#[from] kube::Error),
    #[error("the kubeconfig's tls-server-name {name:?} is not a valid server name")]
    ServerName { name: String },
}

/// The client of the apiserver found as kube finds it (`KUBECONFIG`, the default
/// kubeconfig, or the pod's service account).
pub async fn connect() -> Result<kube::Client, Error> {
    client(kube::Config::infer().await?)
}

/// The client of the apiserver that `config` describes.
pub fn client(config: kube::Config) -> Result<kube::Client, Error> {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(config.connect_timeout);
    let tls = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http();
    let tls = match &config.tls_server_name {
        Some(name) => {
            let server_name = rustls::pki_types::ServerName::try_from(name.clone())
                .map_err(|_| Error::ServerName { name: name.clone() })?;
            tls.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(server_name))
        }
        None => tls,
    };
    let connector = tls.enable_all_versions().wrap_connector(tcp);
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .http2_keep_alive_interval(PING_AFTER)
        .http2_keep_alive_timeout(PING_TIMEOUT)
        .build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .default_retry
                .then(|| RetryLayer::new(RetryPolicy::server_retry())),
        )
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(http);
    Ok(kube::Client::new(service, config.default_namespace))
}
