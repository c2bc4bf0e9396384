//! How often Ready objects are checked for drift: every kind's planner ends a
//! reconcile with nothing to do by waiting this long, and the interval stretches with
//! the number of objects so that drift checks keep to their share of a platform's
//! budget.

use std::time::Duration;

use kube::runtime::controller::Action;
use rand::Rng;

/// The share of a platform's budget that drift checks of Ready objects may take
/// [chosen]: the rest is for the work people asked for.
const DRIFT_SHARE: f64 = 0.1;
/// Platform reads of one object's drift check, on average over the kinds [chosen]: a
/// customer reads three (lead, customer, licence info), a block a page of numbers per
/// thousand, the others one or two.
const DRIFT_READS_PER_OBJECT: f64 = 2.0;

/// How often Ready objects of a platform are checked for drift: its
/// `driftCheckSeconds`, stretched when `objects` objects checked that often would
/// take more than [`DRIFT_SHARE`] of its budget. At the reference's 20 requests a
/// second, 600 s holds up to 600 objects; 2,000 objects are checked every 2,000 s.
pub fn drift_seconds(spec: &crate::api::OCPlatformSpec, objects: usize) -> i64 {
    let budget = spec.rate_limit.requests_per_second.max(0.1) * DRIFT_SHARE;
    let needed = (objects as f64 * DRIFT_READS_PER_OBJECT / budget).ceil();
    // `needed` is finite and non-negative; the cast saturates at the bound.
    spec.drift_check_seconds.max(needed.min(86_400.0) as i64)
}

/// Requeue after the drift interval, with up to 10 % jitter.
pub fn drift_requeue(seconds: i64) -> Action {
    let base = Duration::from_secs(u64::try_from(seconds).unwrap_or(600).max(30));
    let jitter = rand::rng().random_range(0..=base.as_millis() as u64 / 10);
    Action::requeue(base + Duration::from_millis(jitter))
}

#[cfg(test)]
mod tests {
    use super::drift_seconds;
    use crate::api::OCPlatformSpec;

    fn spec(rps: f64, drift: i64) -> OCPlatformSpec {
        serde_json::from_value(serde_json::json!({
            "baseUrl": "https://live.example.com",
            "serviceProviderTenantId": "8d2c5e4f-9a1b-4c3d-8e7f-0a1b2c3d4e5f",
            "credentialsSecretRef": {"name": "creds"},
            "allowedNamespaces": [],
            "rateLimit": {"requestsPerSecond": rps},
            "driftCheckSeconds": drift,
        }))
        .expect("a valid spec")
    }

    #[test]
    fn drift_checks_keep_to_a_tenth_of_the_budget() {
        // (requests a second, driftCheckSeconds, objects) -> seconds between checks
        let cases = [
            ((20.0, 600, 0), 600),
            ((20.0, 600, 600), 600),
            ((20.0, 600, 601), 601),
            ((20.0, 600, 2_000), 2_000),
            ((40.0, 600, 2_000), 1_000),
            ((20.0, 3_600, 2_000), 3_600),
            ((20.0, 600, 10_000_000), 86_400),
        ];
        for ((rps, drift, objects), want) in cases {
            assert_eq!(
                drift_seconds(&spec(rps, drift), objects),
                want,
                "{rps} rps, {drift} s, {objects} objects"
            );
        }
    }
}
