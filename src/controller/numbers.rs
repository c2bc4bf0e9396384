//! One numbers listing per customer, shared by all its blocks: a short-lived cache
//! keyed by tenant, filled by one request at a time and dropped after writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::liveplatform::model::NumberRecord;
use crate::liveplatform::{LivePlatformClient, Result};

type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Arc<Vec<NumberRecord>>)>>>;

#[derive(Debug)]
pub struct NumbersCache {
    ttl: Duration,
    slots: Mutex<HashMap<String, Slot>>,
}

/// Page size of numbers listings.
const PAGE_SIZE: u32 = 1000;

impl NumbersCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, tenant: &str) -> Slot {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant.to_ascii_lowercase())
            .or_default()
            .clone()
    }

    /// The tenant's numbers, fetched at most once per `ttl` however many blocks ask.
    pub async fn list(
        &self,
        client: &LivePlatformClient,
        tenant: &str,
    ) -> Result<Arc<Vec<NumberRecord>>> {
        let slot = self.slot(tenant);
        let mut guard = slot.lock().await;
        if let Some((at, numbers)) = guard.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(numbers.clone());
        }
        let numbers = Arc::new(client.all_numbers(tenant, PAGE_SIZE).await?);
        *guard = Some((Instant::now(), numbers.clone()));
        Ok(numbers)
    }

    /// Forgets the tenant's listing (after a write changed it).
    pub async fn invalidate(&self, tenant: &str) {
        let slot = self.slot(tenant);
        *slot.lock().await = None;
    }
}
