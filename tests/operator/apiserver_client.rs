//! The operator's apiserver client against the real apiserver: the requests it has in
//! flight at once share one connection (HTTP/2), where kube's own client opens a
//! connection for each of them and keeps it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};

use crate::support::plane;

/// Requests sent at once in each test.
const AT_ONCE: usize = 32;

/// A TCP relay to the apiserver at `upstream` (host:port) that counts the connections
/// made through it: its URL (the same host, so the apiserver's certificate still
/// names it) and the count.
async fn counting_relay(upstream: String) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("https://127.0.0.1:{port}"), accepted)
}

/// How many connections a client made by `build` opens for one request and then
/// [`AT_ONCE`] requests sent together, each answered by the apiserver.
async fn connections_of(build: impl Fn(kube::Config) -> kube::Client) -> usize {
    let mut config = plane().config().await.unwrap();
    let upstream = config
        .cluster_url
        .authority()
        .expect("the kubeconfig names the apiserver's host and port")
        .to_string();
    let (relay, accepted) = counting_relay(upstream).await;
    config.cluster_url = relay.parse().unwrap();
    let namespaces: Api<Namespace> = Api::all(build(config));
    let list = || async { namespaces.list(&ListParams::default().limit(1)).await };
    list().await.expect("a namespace listing through the relay");
    let together = futures::future::join_all((0..AT_ONCE).map(|_| list())).await;
    for answer in together {
        answer.expect("a namespace listing through the relay");
    }
    accepted.load(Ordering::SeqCst)
}

#[tokio::test]
async fn requests_in_flight_together_share_one_connection() {
    let operator = connections_of(|config| {
        oc_operator::apiserver_client::client(config).expect("the operator's client")
    })
    .await;
    assert_eq!(
        operator, 1,
        "the operator's client opened {operator} connections for {AT_ONCE} requests at once"
    );
}

/// What the test above guards against: kube's own client (HTTP/1.1) opens a connection
/// per request in flight. If this ever fails, kube's client has changed and the
/// operator's own may no longer be needed.
#[tokio::test]
async fn kubes_own_client_opens_a_connection_per_request_in_flight() {
    let kube =
        connections_of(|config| kube::Client::try_from(config).expect("kube's client")).await;
    assert!(
        kube > AT_ONCE / 2,
        "kube's own client opened only {kube} connections for {AT_ONCE} requests at once"
    );
}

/// A watch whose events nobody reads (a controller busy elsewhere) holds back only
/// itself: the client's other requests are still answered.
#[tokio::test]
async fn a_watch_nobody_reads_holds_back_no_other_request() {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{PostParams, WatchEvent, WatchParams};

    let admin = plane().client().await.unwrap();
    let ns = crate::support::create_namespace(&admin, "unread-watch").await;
    let config = plane().config().await.unwrap();
    let client = oc_operator::apiserver_client::client(config).expect("the operator's client");
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    // Three watches (a controller has one per kind) sent megabytes of events that
    // nobody reads: more than an HTTP/2 connection's flow-control window.
    let mut watches = Vec::new();
    for _ in 0..3 {
        watches.push(
            maps.watch(&WatchParams::default(), "0")
                .await
                .unwrap()
                .boxed(),
        );
    }
    let writer: Api<ConfigMap> = Api::namespaced(admin, &ns);
    let filler = "x".repeat(512 * 1024);
    for i in 0..24 {
        let map: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("filler-{i}")},
            "data": {"filler": filler},
        }))
        .unwrap();
        writer.create(&PostParams::default(), &map).await.unwrap();
    }
    let other = tokio::time::timeout(std::time::Duration::from_secs(60), maps.get("filler-0"))
        .await
        .expect("a request of the client is held back by its unread watch");
    other.expect("the config map");
    // The watches still have their events, in order.
    for mut watch in watches {
        let first = loop {
            match watch.next().await {
                Some(Ok(WatchEvent::Bookmark(_))) => continue,
                other => break other,
            }
        };
        match first {
            Some(Ok(WatchEvent::Added(map))) => {
                assert_eq!(map.metadata.name.as_deref(), Some("filler-0"))
            }
            other => panic!("a watch's first event: {other:?}"),
        }
    }
}
