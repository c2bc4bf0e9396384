//! The controllers' watch caches, and when they have synced.
//!
//! `/readyz` of the leading replica waits for every controller's first full listing.
//! kube-runtime's `Store::wait_until_ready` cannot tell us: the controller itself
//! waits on that signal, and it wakes only one waiter, so a second one may sleep
//! forever (and could steal the controller's wake-up). Instead each controller is
//! built on its own watch stream, which marks its kind synced when the first listing
//! is complete.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use futures::TryStreamExt;
use kube::api::Api;
use kube::runtime::reflector::store::Writer;
use kube::runtime::{Controller, WatchStreamExt, watcher};

use super::kind::Kind;
use crate::telemetry::Readiness;

/// The kinds whose first listing has not completed yet; when none is left, the
/// readiness learns that the caches have synced.
#[derive(Clone)]
pub struct CacheSync {
    pending: Arc<Mutex<BTreeSet<String>>>,
    readiness: Readiness,
}

impl CacheSync {
    pub fn new(readiness: Readiness) -> Self {
        Self {
            pending: Arc::default(),
            readiness,
        }
    }

    /// A controller for `api`, whose cache counts toward this sync.
    pub fn controller<K: Kind>(&self, api: Api<K>, wc: watcher::Config) -> Controller<K> {
        let kind = K::kind(&()).into_owned();
        self.lock().insert(kind.clone());
        let writer = Writer::<K>::default();
        let reader = writer.as_reader();
        let sync = self.clone();
        let stream = watcher(api, wc)
            .inspect_ok(move |event| {
                if matches!(event, watcher::Event::InitDone) {
                    sync.listed(&kind);
                }
            })
            .reflect(writer)
            .applied_objects();
        Controller::for_stream(stream, reader)
    }

    fn listed(&self, kind: &str) {
        let mut pending = self.lock();
        if pending.remove(kind) && pending.is_empty() {
            self.readiness.set_caches_synced();
            tracing::info!("watch caches synced");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // A panic while holding this lock leaves a set that is still valid.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}
