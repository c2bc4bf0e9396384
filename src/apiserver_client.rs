//! The operator's client of the Kubernetes apiserver: kube's client with a bound on
//! the requests it has in flight at once.
//!
//! kube's client opens a new HTTP/1.1 connection (a TLS handshake, a read buffer and
//! a dispatch channel) for every request that finds no idle one, and keeps each open
//! for 90 s after. When thousands of objects are created at once (a GitOps sync, a
//! tenant's namespace applied whole), every one of their reconciles writes to the
//! apiserver at the same moment: at 1,000 customers the operator held about 500
//! connections, some 10 MiB of its heap, and the apiserver did as many handshakes.
//! With the bound, requests beyond it wait in kube's own queue (first come, first
//! served) until one of those in flight has its answer; a watch holds its place only
//! until its answer's headers come, so the long-running watches take none.

use kube::client::ClientBuilder;
use tower::limit::ConcurrencyLimitLayer;

/// The requests the operator has in flight to the apiserver at most, unless
/// `--apiserver-requests` says otherwise. The apiserver serves a client's requests
/// a few at a time anyway (its priority and fairness levels queue the rest), so more
/// would only hold more connections open.
pub const DEFAULT_REQUESTS_IN_FLIGHT: usize = 32;

/// A client of the apiserver `config` names that has at most `in_flight` requests
/// waiting for their answer at once (at least one).
pub fn bounded(config: kube::Config, in_flight: usize) -> Result<kube::Client, kube::Error> {
    let layer = ConcurrencyLimitLayer::new(in_flight.max(1));
    Ok(ClientBuilder::try_from(config)?.with_layer(&layer).build())
}

/// The client of the current kubeconfig (or the in-cluster service account), bounded
/// as [`bounded`].
pub async fn infer(in_flight: usize) -> Result<kube::Client, kube::Error> {
    let config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    bounded(config, in_flight)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// An HTTP server that answers every request after a pause, counting the
    /// requests it holds at once and the connections it was opened.
    async fn slow_server() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (held, peak) = (now.clone(), most.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (held, peak) = (held.clone(), peak.clone());
                tokio::spawn(async move {
                    let mut buffer = vec![0_u8; 8192];
                    loop {
                        // One request per read: the client's requests are small.
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        let at_once = held.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(at_once, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        held.fetch_sub(1, Ordering::SeqCst);
                        let body = r#"{"kind":"Status","apiVersion":"v1","status":"Success"}"#;
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, now, most)
    }

    #[tokio::test]
    async fn no_more_requests_than_the_bound_wait_for_an_answer_at_once() {
        let (url, _, most) = slow_server().await;
        let config = kube::Config::new(url.parse().expect("a url"));
        let client = bounded(config, 4).expect("a client");
        let requests = (0..40).map(|_| {
            let client = client.clone();
            async move {
                let request = http::Request::get("/version")
                    .body(Vec::new())
                    .expect("a request");
                client.request_text(request).await
            }
        });
        for answer in futures::future::join_all(requests).await {
            answer.expect("an answer");
        }
        let most = most.load(Ordering::SeqCst);
        assert!(
            (1..=4).contains(&most),
            "{most} requests were in flight at once"
        );
    }
}
