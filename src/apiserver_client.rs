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
//! The requests of routine reconciles (onboarding, task polls, drift checks) are at
//! most [`ROUTINE_IN_FLIGHT`] at a time; those of a person's change and a deletion
//! ([`Lane::Change`]) are never held, nor those made outside a reconcile (the leader
//! Lease's renewals, the watches' listings). When a thousand customers are declared at once,
//! the apiserver shares its cores among every request it holds: a change's first
//! status write (the intent that must be saved before its platform call) took as long
//! as the slowest of hundreds of routine writes beside it (a spec change p99 of 109 to
//! 339 ms at C=1,000, bench/README.md, stop 38). A bound on every request (stop 36)
//! made it worse: the change then waited behind the bound.
//!
//! Everything else is kube's client as `kube::Client::try_from` builds it: the same
//! TLS settings and credentials, retries of the apiserver's 429 and 503, extra
//! headers.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::ConfigExt;
use kube::client::retry::RetryPolicy;
use liveplatform::rate_limit::{Caller, Lane};
use tower::ServiceBuilder;
use tower::retry::RetryLayer;

/// How many requests of routine reconciles are sent at once; the rest wait in the
/// operator for one of them to be answered. Enough to keep an
/// apiserver busy (a write takes a few milliseconds), few enough that a change's
/// write is not one among hundreds.
pub const ROUTINE_IN_FLIGHT: usize = 16;

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
    let routine = Arc::new(tokio::sync::Semaphore::new(ROUTINE_IN_FLIGHT));
    let http = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let watches = watches.clone();
        let requests = requests.clone();
        let routine = routine.clone();
        async move {
            if is_watch(&request) {
                return watches.request(request).await;
            }
            // kube's client calls this service from a task of its own (a buffer), but
            // the future is polled by the task that sent the request: its lane is the
            // reconcile's. Held until the answer's head arrives; never closed.
            let _turn = match Caller::scoped().map(|caller| caller.lane) {
                Some(Lane::Routine) => routine.acquire_owned().await.ok(),
                Some(Lane::Change) | None => None,
            };
            requests.request(request).await
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
    use super::{ROUTINE_IN_FLIGHT, client, is_watch};
    use liveplatform::rate_limit::{Caller, Lane};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A plain HTTP server that answers `/fast` at once and holds every other request
    /// until `release` is notified; it counts the requests that reached it.
    async fn holding_server() -> (String, Arc<AtomicUsize>, Arc<tokio::sync::Notify>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let arrived = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(tokio::sync::Notify::new());
        let (counter, released) = (arrived.clone(), release.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (counter, released) = (counter.clone(), released.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    loop {
                        while !head.ends_with(b"\r\n\r\n") {
                            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                                return;
                            }
                            head.push(byte[0]);
                        }
                        counter.fetch_add(1, Ordering::SeqCst);
                        if !head.starts_with(b"GET /fast") {
                            released.notified().await;
                        }
                        head.clear();
                        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, arrived, release)
    }

    async fn get(client: &kube::Client, path: &str) -> String {
        let request = http::Request::get(path).body(Vec::new()).unwrap();
        client.request_text(request).await.expect("an answer")
    }

    /// Routine requests beyond the bound wait in the operator; a person's change and a
    /// request made outside a reconcile (a Lease renewal) are sent at once beside them.
    #[tokio::test]
    async fn a_change_passes_routine_requests_held_at_their_bound() {
        let (url, arrived, release) = holding_server().await;
        let client = client(kube::Config::new(url.parse().unwrap())).expect("a client");
        let routine: Vec<_> = (0..=ROUTINE_IN_FLIGHT)
            .map(|i| {
                let client = client.clone();
                let slow = async move { get(&client, &format!("/slow/{i}")).await };
                tokio::spawn(Caller::new(Lane::Routine, "bulk").scope(slow))
            })
            .collect();
        while arrived.load(Ordering::SeqCst) < ROUTINE_IN_FLIGHT {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let change = Caller::new(Lane::Change, "tenant").scope(get(&client, "/fast"));
        let answer = tokio::time::timeout(std::time::Duration::from_secs(30), change)
            .await
            .expect("a change waited behind routine requests");
        assert_eq!(answer, "{}");
        let unscoped =
            tokio::time::timeout(std::time::Duration::from_secs(30), get(&client, "/fast"))
                .await
                .expect("a request outside a reconcile waited behind routine requests");
        assert_eq!(unscoped, "{}");
        assert_eq!(
            arrived.load(Ordering::SeqCst),
            ROUTINE_IN_FLIGHT + 2,
            "the routine request beyond the bound was sent"
        );
        // Answered one by one, every routine request is sent in the end.
        for task in routine {
            release.notify_waiters();
            while !task.is_finished() {
                release.notify_waiters();
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            assert_eq!(task.await.unwrap(), "{}");
        }
        assert_eq!(arrived.load(Ordering::SeqCst), ROUTINE_IN_FLIGHT + 3);
    }

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
