//! The Live Platform clients the operator holds, one per OCPlatform by name, each
//! with the platform's generation and the credentials Secret's version it was built
//! from (see `platforms` for when they are built and rebuilt).

use std::collections::HashMap;

use crate::locked::Locked;
use liveplatform::LivePlatformClient;

/// One platform's client and what it was built from.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The client: its token cache and its rate limiter are the platform's.
    pub client: LivePlatformClient,
    /// The OCPlatform's generation the client's settings come from.
    pub generation: Option<i64>,
    /// The credentials Secret's resourceVersion the client's credentials come from.
    pub secret_version: Option<String>,
}

/// The clients, by OCPlatform name.
#[derive(Debug, Default)]
pub struct PlatformRegistry {
    entries: Locked<HashMap<String, Entry>>,
}

impl PlatformRegistry {
    pub fn get(&self, name: &str) -> Option<Entry> {
        self.entries.lock().get(name).cloned()
    }

    pub fn put(&self, name: &str, entry: Entry) {
        self.entries.lock().insert(name.to_owned(), entry);
    }

    /// The names of the platforms with a client.
    pub fn names(&self) -> Vec<String> {
        self.entries.lock().keys().cloned().collect()
    }

    pub fn forget(&self, name: &str) {
        self.entries.lock().remove(name);
    }
}
