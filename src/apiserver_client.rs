//! The operator's client of the apiserver: its requests are streams of one HTTP/2
//! connection; each watch keeps a connection of its own.
//!
//! kube's own client speaks HTTP/1.1, where each request in flight needs a connection
//! of its own and the pool keeps every connection it opened. When a thousand
//! customers were declared at once, the operator held about 500 TLS connections to
//! the apiserver, 23 MiB of its heap at the peak (bench/README.md, stop 36). Here the
//! TLS handshake offers HTTP/2 first (ALPN); an apiserver behind something that only
//! speaks HTTP/1.1 still gets HTTP/1.1. Keep-alive pings find a connection that died
//! without a word, as client-go's read-idle timeout does.
//!
//! Watches stay on HTTP/1.1, one connection each (as many as there are kinds): a
//! watch whose events wait to be read (its controller busy) keeps its HTTP/2 stream's
//! share of the connection's flow-control window, and three such watches took the
//! whole window, so that no other answer came through, the status writes that would
//! have let the controllers read on included
//! (`a_watch_nobody_reads_holds_back_no_other_request`).
//!
//! Everything else is kube's client as `kube::Client::try_from` builds it: the same
//! TLS settings and credentials, retries of the apiserver's 429 and 503, extra
//! headers.

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
    // An HTTP/2 request is several small frames: with Nagle's algorithm the second
    // waits for the apiserver's delayed acknowledgement of the first (40 ms on Linux).
    tcp.set_nodelay(true);
    let tls = config.rustls_client_config()?;
    let server_name = match &config.tls_server_name {
        Some(name) => Some(
            rustls::pki_types::ServerName::try_from(name.clone())
                .map_err(|_| Error::ServerName { name: name.clone() })?,
        ),
        None => None,
    };
    // One connector per protocol offer: HTTP/1.1 only, or HTTP/2 first.
    let connector = |http2: bool| {
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http();
        let builder = match &server_name {
            Some(name) => builder.with_server_name_resolver(
                hyper_rustls::FixedServerNameResolver::new(name.clone()),
            ),
            None => builder,
        };
        if http2 {
            builder.enable_all_versions().wrap_connector(tcp.clone())
        } else {
            builder.enable_http1().wrap_connector(tcp.clone())
        }
    };
    let watches =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector(false));
    let requests = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .http2_keep_alive_interval(PING_AFTER)
        .http2_keep_alive_timeout(PING_TIMEOUT)
        .build(connector(true));
    let http = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        if is_watch(&request) {
            watches.request(request)
        } else {
            requests.request(request)
        }
    });
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

/// Whether `request` starts a watch (`?watch=true`, as kube and kubectl send it).
fn is_watch<B>(request: &http::Request<B>) -> bool {
    request.uri().query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| matches!(pair, "watch=true" | "watch=1"))
    })
}

#[cfg(test)]
mod tests {
    use super::is_watch;

    fn request(uri: &str) -> http::Request<()> {
        http::Request::get(uri).body(()).unwrap()
    }

    #[test]
    fn a_watch_is_told_by_its_query() {
        for (uri, watch) in [
            ("/api/v1/namespaces?watch=true&resourceVersion=1", true),
            (
                "/apis/oc.example/v1/occustomers?labelSelector=a&watch=1",
                true,
            ),
            ("/api/v1/namespaces?watch=false", false),
            ("/api/v1/namespaces?limit=500", false),
            ("/api/v1/namespaces/watch=true", false),
            ("/api/v1/namespaces", false),
        ] {
            assert_eq!(is_watch(&request(uri)), watch, "{uri}");
        }
    }
}
