//! The simulator's HTTP server. Each connection carries a kill switch so that fault
//! injection can drop it mid-request, as a broken network or a crashed front end
//! would: the client sees the connection close without an answer.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// Put into every request's extensions; notifying it closes the connection.
#[derive(Debug, Clone)]
pub struct ConnectionKill(pub Arc<Notify>);

impl ConnectionKill {
    /// Closes the connection; the current request never gets an answer.
    pub async fn drop_connection(&self) -> ! {
        self.0.notify_one();
        loop {
            std::future::pending::<()>().await;
        }
    }
}

/// Accepts connections until `shutdown` turns true.
pub async fn serve(listener: TcpListener, router: Router, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(connection(stream, peer, router.clone(), shutdown.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "simulator: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let kill = Arc::new(Notify::new());
    let switch = ConnectionKill(kill.clone());
    let service = router.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(switch.clone());
        request
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::select! {
        result = conn => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "simulator: connection ended with an error");
            }
        }
        _ = kill.notified() => tracing::debug!(%peer, "simulator: connection dropped by fault injection"),
        _ = shutdown.changed() => {}
    }
}
