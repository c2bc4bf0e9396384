//! Fault injection: set at start (`--faults FILE`) and changed at run time through
//! `PUT /admin/faults`. Bursts are counted down request by request, so tests can ask
//! for exactly "the next 3 calls fail"; rates apply at random.

use std::collections::BTreeMap;

use rand::Rng;

/// The size of an injected huge answer (`hugeAnswerBurst`): 64 MiB.
pub const HUGE_ANSWER_BYTES: usize = 64 * 1024 * 1024;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Added to every API answer.
    pub latency_ms: u64,
    /// Share (0..1) of API requests answered 503 before they are processed.
    pub server_error_rate: f64,
    /// The next N API requests are answered 503 before they are processed.
    pub server_error_burst: u32,
    /// Share of API requests whose connection is dropped before they are processed.
    pub drop_rate: f64,
    /// The next N API requests are dropped before they are processed.
    pub drop_burst: u32,
    /// The next N writes are processed and then their connection is dropped: the
    /// change happened, the answer is lost.
    pub drop_after_write_burst: u32,
    /// The next N API requests are answered 429.
    pub rate_limit_burst: u32,
    /// Retry-After sent with injected 429s, in seconds.
    pub retry_after_secs: u64,
    /// Lifetime of newly issued tokens, overriding the seed (early expiry).
    pub token_lifetime_secs: Option<u64>,
    /// Share of new tasks that end `Failed`.
    pub task_failure_rate: f64,
    /// The next N new tasks end `Failed`.
    pub fail_next_tasks: u32,
    /// Once a write's answer has been dropped (`dropAfterWriteBurst`), every API
    /// request is answered 503 until the faults are set again: a partition that
    /// begins with the lost answer, so nothing can be looked up either.
    pub partition_after_dropped_write: bool,
    /// Numbers whose upload fails, with the per-number error code.
    pub number_failures: BTreeMap<String, String>,
    /// Task duration overriding the seed.
    pub task_delay_ms: Option<u64>,
    /// The next N answers (of `endpoints`, or any) are replaced, once processed, by a
    /// body of `HUGE_ANSWER_BYTES` that never ends in valid JSON: a wrong endpoint or a
    /// proxy's page, which the client must not read whole.
    pub huge_answer_burst: u32,
    /// Numbers listings say they have a million pages and answer every page past the
    /// last with the last page's numbers again: a listing that never ends.
    pub endless_listings: bool,
    /// Limit request faults to these endpoints (`"POST /v2/oc/lead"`, as counted by
    /// `/admin/counters`); empty means every endpoint.
    pub endpoints: Vec<String>,
}

/// What to do with one incoming API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFault {
    None,
    ServerError,
    Drop,
    RateLimit { retry_after_secs: u64 },
}

fn roll(rate: f64) -> bool {
    rate > 0.0 && rand::rng().random_bool(rate.clamp(0.0, 1.0))
}

fn take(burst: &mut u32) -> bool {
    if *burst > 0 {
        *burst -= 1;
        true
    } else {
        false
    }
}

impl Faults {
    fn applies_to(&self, endpoint: &str) -> bool {
        self.endpoints.is_empty() || self.endpoints.iter().any(|e| e == endpoint)
    }

    /// Decides the fault of one request before it is processed.
    pub fn before(&mut self, endpoint: &str) -> RequestFault {
        if !self.applies_to(endpoint) {
            return RequestFault::None;
        }
        if take(&mut self.rate_limit_burst) {
            return RequestFault::RateLimit {
                retry_after_secs: self.retry_after_secs.max(1),
            };
        }
        if take(&mut self.drop_burst) || roll(self.drop_rate) {
            return RequestFault::Drop;
        }
        if take(&mut self.server_error_burst) || roll(self.server_error_rate) {
            return RequestFault::ServerError;
        }
        RequestFault::None
    }

    /// Whether the answer to a processed write is to be lost.
    pub fn drop_after(&mut self, endpoint: &str, is_write: bool) -> bool {
        let dropped =
            is_write && self.applies_to(endpoint) && take(&mut self.drop_after_write_burst);
        if dropped && self.partition_after_dropped_write {
            self.server_error_rate = 1.0;
            self.endpoints.clear();
        }
        dropped
    }

    /// Whether the answer to a processed request is to be replaced by a huge body.
    pub fn huge_answer(&mut self, endpoint: &str) -> bool {
        self.applies_to(endpoint) && take(&mut self.huge_answer_burst)
    }

    /// Whether a new task is to fail.
    pub fn task_fails(&mut self) -> bool {
        take(&mut self.fail_next_tasks) || roll(self.task_failure_rate)
    }
}
