//! The credentials Secrets that OCPlatforms name, each watched by its name (a field
//! selector on `metadata.name`), never every Secret of the operator's namespace: the
//! operator does not list or cache Helm's release Secrets or anything else kept
//! there. A change of a watched Secret reconciles the platforms that name it, so a
//! fixed Secret takes effect without a restart.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use crate::api::OCPlatform;

/// The platforms to reconcile because a Secret they name changed. `platforms` yields
/// a platform whenever the Secret it names may have changed (see `Watched::changes`);
/// the set of watched names follows `store`. Dropping the stream stops every watch.
pub fn platform_wakes(
    client: kube::Client,
    namespace: String,
    platforms: impl Stream<Item = Arc<OCPlatform>> + Send + 'static,
    store: Store<OCPlatform>,
) -> impl Stream<Item = ObjectRef<OCPlatform>> + Send + 'static {
    let (wake, wakes) = futures::channel::mpsc::unbounded();
    let manager = tokio::spawn(async move {
        let mut watches: HashMap<String, AbortOnDrop> = HashMap::new();
        let mut platforms = std::pin::pin!(platforms);
        while platforms.next().await.is_some() {
            let names = named(&store);
            watches.retain(|name, _| names.contains(name));
            for name in names {
                if watches.contains_key(&name) {
                    continue;
                }
                let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
                let watch = watch_one(api, name.clone(), store.clone(), wake.clone());
                watches.insert(name, AbortOnDrop(tokio::spawn(watch)));
            }
        }
    });
    let guard = AbortOnDrop(manager);
    wakes.map(move |platform| {
        let _running = &guard;
        platform
    })
}

/// The names of the credentials Secrets the platforms in `store` name.
fn named(store: &Store<OCPlatform>) -> BTreeSet<String> {
    store
        .state()
        .iter()
        .filter_map(|p| {
            p.spec
                .credentials_secret_ref
                .as_ref()
                .map(|r| r.name.clone())
        })
        .collect()
}

/// Watches the Secret `name` alone and wakes the platforms that name it.
async fn watch_one(
    api: Api<Secret>,
    name: String,
    store: Store<OCPlatform>,
    wake: futures::channel::mpsc::UnboundedSender<ObjectRef<OCPlatform>>,
) {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    watcher(api, config)
        .default_backoff()
        .touched_objects()
        .for_each(|event| {
            match event {
                Ok(_) => {
                    for platform in store.state() {
                        if platform.spec.credentials_secret_ref.as_ref().is_some_and(|r| r.name == name) {
                            // A closed channel means the controllers stopped.
                            let _ = wake.unbounded_send(ObjectRef::from_obj(&*platform));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(kind = "Secret", secret = %name, error = %e, "watch failed; retrying");
                }
            }
            futures::future::ready(())
        })
        .await;
}

/// A task that ends when its owner drops it.
pub(super) struct AbortOnDrop(pub(super) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
