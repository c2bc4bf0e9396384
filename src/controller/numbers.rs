//! One numbers listing per customer, shared by all its blocks: a short-lived cache
//! keyed by platform and tenant (as the ledgers and snapshots are: the same tenant on
//! two OCPlatforms is two customers), filled by one request at a time, and kept
//! current by the operator's own writes.
//!
//! A large block is uploaded in many requests (at most the platform's limit each).
//! Listing the whole tenant again after each one would cost a page per thousand
//! numbers per request: about 5,000 pages for a block of 100,000 numbers. Instead a
//! write that the platform accepted, and then its task's outcome, are applied to the
//! listing held here ("projected"), which then lives as long as such writes keep
//! landing. Once every write applied to it has ended, its task's outcome having said
//! what happened to each number, the listing is "settled": as good as the platform's
//! own word for a block's report. While a write is still running it is good only for
//! deciding the next write (see `number_block::plan`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use liveplatform::{LivePlatformClient, Result};

use super::tenant_numbers::TenantNumbers;
use crate::locked::Locked;

/// How long a listing the operator's writes keep current lives after the last write
/// it took in [chosen]: longer than any upload task takes, short enough that a
/// change someone made elsewhere is seen within minutes.
const PROJECTED_LIFETIME: Duration = Duration::from_secs(600);

/// How long a listing read for a write is kept, after it stopped being good for a
/// new read (`ttl`), for that write's answer to be applied to it [chosen]: when the
/// budget is taken, validating and uploading take tens of seconds, and a listing
/// dropped meanwhile is read again whole after the write.
const ANSWER_WINDOW: Duration = Duration::from_secs(60);

/// A tenant's numbers as last read, and since when.
#[derive(Debug)]
struct Held {
    at: Instant,
    numbers: Arc<TenantNumbers>,
    projected: bool,
    /// Writes applied when they were accepted whose end is not applied yet.
    running: usize,
}

/// What is applied to a held listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    /// A write the platform accepted: its numbers' states while its task runs.
    Accepted,
    /// The end of such a write's task, from its outcome.
    Ended,
    /// The known outcome of a write of another kind that ended (an end user's line
    /// URI assigning or freeing a number): it changes what the listing says, not
    /// how many of the blocks' writes are running.
    Outside,
}

type Slot = Arc<tokio::sync::Mutex<Option<Held>>>;

/// The tenant's numbers as this cache gives them.
#[derive(Debug, Clone)]
pub struct Numbers {
    pub numbers: Arc<TenantNumbers>,
    /// Writes of the operator were applied to what the platform last listed.
    pub projected: bool,
    /// Every write applied has ended (always so for a listing not projected).
    pub settled: bool,
}

#[derive(Debug)]
pub struct NumbersCache {
    ttl: Duration,
    /// By (OCPlatform name, tenant in lower case).
    slots: Locked<HashMap<(String, String), Slot>>,
}

/// Page size of numbers listings.
const PAGE_SIZE: u32 = 1000;

impl NumbersCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slots: Locked::new(HashMap::new()),
        }
    }

    /// The tenant's slot. Slots whose listing has expired are dropped on the way: at
    /// 1,000 customers of 100 numbers, listings kept after their use held tens of
    /// megabytes. A listing is kept a while after it may be read (see
    /// [`ANSWER_WINDOW`]).
    fn slot(&self, platform: &str, tenant: &str) -> Slot {
        let mut slots = self.slots.lock();
        slots.retain(|_, slot| match slot.try_lock() {
            // In use: kept.
            Err(_) => true,
            Ok(held) => held
                .as_ref()
                .is_some_and(|held| held.at.elapsed() < self.kept(held)),
        });
        slots
            .entry((platform.to_owned(), tenant.to_ascii_lowercase()))
            .or_default()
            .clone()
    }

    /// How long `held` is good for a read.
    fn lifetime(&self, held: &Held) -> Duration {
        if held.projected {
            PROJECTED_LIFETIME.max(self.ttl)
        } else {
            self.ttl
        }
    }

    /// How long `held` is kept: to be read, or to take a write's answer.
    fn kept(&self, held: &Held) -> Duration {
        self.lifetime(held).max(ANSWER_WINDOW)
    }

    /// The numbers of `tenant` on the OCPlatform `platform` (whose client is
    /// `client`), fetched at most once per `ttl` however many blocks ask (or kept
    /// current by writes, see the module's comment).
    pub async fn list(
        &self,
        client: &LivePlatformClient,
        platform: &str,
        tenant: &str,
    ) -> Result<Numbers> {
        let slot = self.slot(platform, tenant);
        let mut guard = slot.lock().await;
        if let Some(held) = guard.as_ref()
            && held.at.elapsed() < self.lifetime(held)
        {
            return Ok(Numbers {
                numbers: held.numbers.clone(),
                projected: held.projected,
                settled: held.running == 0,
            });
        }
        let mut numbers = TenantNumbers::default();
        client
            .each_numbers_page(tenant, PAGE_SIZE, |page| numbers.add_page(page))
            .await?;
        let numbers = Arc::new(numbers);
        *guard = Some(Held {
            at: Instant::now(),
            numbers: numbers.clone(),
            projected: false,
            running: 0,
        });
        Ok(Numbers {
            numbers,
            projected: false,
            settled: true,
        })
    }

    /// Applies what a write did to the tenant's listing, if one is held and still
    /// good; it then lives on as a projected listing. Without one, nothing is held
    /// and the next block lists the tenant.
    pub async fn project(
        &self,
        platform: &str,
        tenant: &str,
        projection: Projection,
        change: impl FnOnce(&mut TenantNumbers),
    ) {
        let slot = self.slot(platform, tenant);
        let mut guard = slot.lock().await;
        let Some(held) = guard.as_mut() else {
            return;
        };
        // A listing read for this write may be older than `ttl` by the time the
        // answer comes (validation and the upload take their time): it is still the
        // platform's last word plus the operator's own writes.
        if held.at.elapsed() >= self.kept(held) {
            *guard = None;
            return;
        }
        change(Arc::make_mut(&mut held.numbers));
        held.at = Instant::now();
        held.projected = true;
        // An end whose start was applied to an earlier listing (dropped since): that
        // listing was read after the start and shows it already.
        held.running = match projection {
            Projection::Accepted => held.running + 1,
            Projection::Ended => held.running.saturating_sub(1),
            Projection::Outside => held.running,
        };
    }

    /// Forgets the tenant's listing (a write whose effect is not known).
    pub async fn invalidate(&self, platform: &str, tenant: &str) {
        let slot = self.slot(platform, tenant);
        *slot.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listing_is_dropped_once_it_can_neither_be_read_nor_take_an_answer() {
        let cache = NumbersCache::new(Duration::from_secs(2));
        let ago = |secs| {
            Instant::now()
                .checked_sub(Duration::from_secs(secs))
                .unwrap()
        };
        for (tenant, secs, projected) in [
            ("old", 61, false),
            ("answering", 30, false),
            ("projected", 61, true),
            ("projected-old", 601, true),
        ] {
            *cache.slot("p", tenant).lock().await = Some(Held {
                at: ago(secs),
                numbers: Arc::default(),
                projected,
                running: 0,
            });
        }
        let _ = cache.slot("p", "new");
        let tenants: Vec<String> = {
            let slots = cache.slots.lock();
            let mut t: Vec<String> = slots.keys().map(|(_, t)| t.clone()).collect();
            t.sort();
            t
        };
        assert_eq!(tenants, ["answering", "new", "projected"]);
    }

    #[tokio::test]
    async fn a_listing_is_settled_once_every_write_applied_to_it_has_ended() {
        let cache = NumbersCache::new(Duration::from_secs(60));
        *cache.slot("p", "t").lock().await = Some(Held {
            at: Instant::now(),
            numbers: Arc::default(),
            projected: false,
            running: 0,
        });
        let settled = |cache: &NumbersCache| {
            let slot = cache.slot("p", "t");
            let held = slot.try_lock().expect("not in use");
            held.as_ref().map(|h| (h.projected, h.running == 0))
        };
        cache.project("p", "t", Projection::Accepted, |_| {}).await;
        cache.project("p", "t", Projection::Accepted, |_| {}).await;
        cache.project("p", "t", Projection::Ended, |_| {}).await;
        assert_eq!(settled(&cache), Some((true, false)));
        cache.project("p", "t", Projection::Ended, |_| {}).await;
        assert_eq!(settled(&cache), Some((true, true)));
    }

    #[tokio::test]
    async fn another_kinds_ended_write_changes_the_listing_but_not_the_running_writes() {
        use liveplatform::model::NumberRecord;
        let cache = NumbersCache::new(Duration::from_secs(60));
        let mut numbers = TenantNumbers::default();
        numbers.add_page([NumberRecord {
            telephone_number: "+14255550100".into(),
            acquired_number_status: NumberRecord::ACTIVE.into(),
            assignment_status: NumberRecord::USER_ASSIGNED.into(),
            ..NumberRecord::default()
        }]);
        *cache.slot("p", "t").lock().await = Some(Held {
            at: Instant::now(),
            numbers: Arc::new(numbers),
            projected: false,
            running: 1,
        });
        cache
            .project("p", "t", Projection::Outside, |numbers| {
                numbers.assignment(Some("+14255550100"), None);
            })
            .await;
        let slot = cache.slot("p", "t");
        let held = slot.try_lock().expect("not in use");
        let held = held.as_ref().expect("held");
        assert_eq!((held.projected, held.running), (true, 1));
        assert!(held.numbers.assigned().is_empty());
    }

    #[tokio::test]
    async fn the_same_tenant_on_another_platform_has_a_listing_of_its_own() {
        let cache = NumbersCache::new(Duration::from_secs(60));
        *cache.slot("one", "t").lock().await = Some(Held {
            at: Instant::now(),
            numbers: Arc::default(),
            projected: false,
            running: 0,
        });
        cache
            .project("one", "t", Projection::Accepted, |_| {})
            .await;
        assert!(
            cache
                .slot("other", "t")
                .try_lock()
                .expect("not in use")
                .is_none()
        );
        cache.invalidate("other", "T").await;
        let held = cache.slot("one", "t");
        let held = held.try_lock().expect("not in use");
        assert_eq!(held.as_ref().map(|h| h.running), Some(1));
    }
}
