//! Leader election on a `coordination.k8s.io` Lease: only the replica holding the
//! Lease reconciles. Losing it stops the controllers at once (no write after that);
//! a shutdown signal stops them gracefully and releases the Lease for the next one.

use std::future::Future;
use std::time::Duration;

use kube_lease_manager::{LeaseCreateMode, LeaseManagerBuilder};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("leader election on Lease {namespace}/{name}: {source}")]
    Lease {
        namespace: String,
        name: String,
        #[source]
        source: kube_lease_manager::LeaseManagerError,
    },
    #[error(
        "lost the leader Lease {namespace}/{name}; stopped at once so another replica can take over"
    )]
    Lost { namespace: String, name: String },
}

/// Where and how to elect a leader.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a Lease holds without renewal.
    pub duration: Duration,
    /// Extra time granted before another replica takes an expired Lease.
    pub grace: Duration,
}

/// Waits for the Lease, then runs `work` (given a future that resolves when it must
/// stop gracefully) until `shutdown` resolves or the Lease is lost.
pub async fn lead<W, F>(
    client: kube::Client,
    config: LeaseConfig,
    shutdown: impl Future<Output = ()>,
    work: W,
) -> Result<(), Error>
where
    W: FnOnce(tokio::sync::oneshot::Receiver<()>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let err = |source| Error::Lease {
        namespace: config.namespace.clone(),
        name: config.name.clone(),
        source,
    };
    let manager = LeaseManagerBuilder::new(client, &config.name)
        .with_namespace(&config.namespace)
        .with_identity(&config.identity)
        .with_duration(config.duration.as_secs().max(2))
        .with_grace(config.grace.as_secs().max(1))
        .with_create_mode(LeaseCreateMode::AutoCreate)
        .build()
        .await
        .map_err(err)?;
    let (mut leading, lease_task) = manager.watch().await;
    tokio::pin!(shutdown);

    tracing::info!(lease = %config.name, identity = %config.identity, "waiting for the leader Lease");
    loop {
        if *leading.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = leading.changed() => {
                if changed.is_err() {
                    return Err(Error::Lost { namespace: config.namespace.clone(), name: config.name.clone() });
                }
            }
            _ = &mut shutdown => {
                drop(leading);
                let _ = lease_task.await;
                return Ok(());
            }
        }
    }
    tracing::info!(lease = %config.name, identity = %config.identity, "leading; controllers start");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let mut running = tokio::spawn(work(stop_rx));
    let result = loop {
        tokio::select! {
            changed = leading.changed() => {
                if changed.is_err() || !*leading.borrow_and_update() {
                    // No write may happen once another replica can lead.
                    running.abort();
                    break Err(Error::Lost { namespace: config.namespace.clone(), name: config.name.clone() });
                }
            }
            _ = &mut shutdown => {
                let _ = stop_tx.send(());
                let _ = (&mut running).await;
                break Ok(());
            }
            _ = &mut running => break Ok(()),
        }
    };
    // Closing the channel makes the manager release the Lease.
    drop(leading);
    let _ = lease_task.await;
    result
}
