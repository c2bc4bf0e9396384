//! The client's retry rules against injected platform faults.

use std::time::{Duration, Instant};

use liveplatform::contract::Budget;
use liveplatform::model::CreateLead;
use liveplatform::{Error, LivePlatformClient};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says() {
    let env = Env::start().await;
    env.client.check_credentials().await.unwrap();
    env.set_faults(json!({"rateLimitBurst": 1, "retryAfterSecs": 1}))
        .await;
    let started = Instant::now();
    env.client.list_services(false).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "did not wait: {:?}",
        started.elapsed()
    );
    assert_eq!(env.count("GET /v3/customer", "429").await, 1);
    assert_eq!(env.count("GET /v3/customer", "200").await, 1);
}

#[tokio::test]
async fn a_long_retry_after_is_handed_to_the_caller() {
    let env = Env::start().await;
    env.set_faults(json!({"rateLimitBurst": 1, "retryAfterSecs": 30}))
        .await;
    let err = env.client.list_services(false).await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(30)),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(env.count("GET /v3/customer", "total").await, 1);
}

#[tokio::test]
async fn the_platforms_own_budget_answers_429_and_the_client_recovers() {
    let seed = liveplatform_sim::Seed {
        requests_per_second: 2.0,
        burst: 2,
        ..quick_seed()
    };
    let env = Env::with_seed(seed).await;
    for _ in 0..4 {
        env.client.calling_profiles().await.unwrap();
    }
    assert!(env.count("GET /v2/oc/callingprofile", "429").await >= 1);
    assert_eq!(env.count("GET /v2/oc/callingprofile", "200").await, 4);
}

#[tokio::test]
async fn the_client_budget_paces_calls_instead_of_drawing_429s() {
    let env = Env::start().await;
    let mut config = config_for(&env.sim);
    config.budget = Budget {
        per_second: 5.0,
        burst: 1,
    };
    let client = LivePlatformClient::new(config).unwrap();
    let started = Instant::now();
    for _ in 0..6 {
        client.calling_profiles().await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(env.count("GET /v2/oc/callingprofile", "429").await, 0);
}

#[tokio::test]
async fn no_more_calls_than_max_in_flight_are_open_at_once() {
    let env = Env::start().await;
    env.set_faults(json!({"latencyMs": 300})).await;
    let mut config = config_for(&env.sim);
    config.max_in_flight = 2;
    let client = LivePlatformClient::new(config).unwrap();
    let started = Instant::now();
    let calls = (0..6).map(|_| client.calling_profiles());
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    // Six calls of at least 300 ms, two at a time: three rounds.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(env.count("GET /v2/oc/callingprofile", "200").await, 6);
}

#[tokio::test]
async fn server_errors_are_retried_for_reads() {
    let env = Env::start().await;
    env.set_faults(json!({"serverErrorBurst": 2})).await;
    env.client.calling_profiles().await.unwrap();
    assert_eq!(env.count("GET /v2/oc/callingprofile", "503").await, 2);
    assert_eq!(env.count("GET /v2/oc/callingprofile", "200").await, 1);
}

#[tokio::test]
async fn server_errors_are_not_retried_for_writes() {
    let env = Env::start().await;
    env.customer(TENANT_A, "contoso").await;
    env.set_faults(
        json!({"serverErrorBurst": 1, "endpoints": ["POST /v2/oc/numbers/action/upload"]}),
    )
    .await;
    let err = env.upload_one(TENANT_A, "+14255551000").await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert_says(&err, "look the state up");
    assert_eq!(
        env.count("POST /v2/oc/numbers/action/upload", "total")
            .await,
        1
    );
}

#[tokio::test]
async fn reads_exhaust_their_attempts_then_fail_transient() {
    let env = Env::start().await;
    env.set_faults(json!({"serverErrorRate": 1.0})).await;
    let err = env.client.list_customers_brief().await.unwrap_err();
    assert!(matches!(err, Error::Transient { .. }), "{err:?}");
    assert_eq!(env.count("GET /v2/customer", "503").await, 4);
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_a_read() {
    let env = Env::start().await;
    env.set_faults(json!({"dropBurst": 1})).await;
    env.client.list_customers_brief().await.unwrap();
    assert_eq!(env.count("GET /v2/customer", "dropped").await, 1);
    assert_eq!(env.count("GET /v2/customer", "200").await, 1);
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_is_unknown_and_did_happen() {
    let env = Env::start().await;
    env.set_faults(json!({"dropAfterWriteBurst": 1})).await;
    let err = env.try_lead(TENANT_A, "Contoso").await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(
        env.count("POST /v2/oc/lead", "total").await,
        1,
        "the write was repeated"
    );
    // Looking the state up shows what happened.
    assert!(env.client.get_lead(TENANT_A).await.unwrap().is_some());
}

#[tokio::test]
async fn a_partition_can_begin_with_a_lost_answer_and_end_when_faults_are_set_again() {
    let env = Env::start().await;
    env.set_faults(json!({
        "dropAfterWriteBurst": 1,
        "partitionAfterDroppedWrite": true,
        "endpoints": ["POST /v2/oc/lead"],
    }))
    .await;
    // Reads of other endpoints work until the answer is lost...
    assert!(env.client.get_lead(TENANT_A).await.unwrap().is_none());
    let err = env.try_lead(TENANT_A, "Contoso").await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    // ...then nothing answers, on any endpoint...
    let err = env.client.get_lead(TENANT_A).await.unwrap_err();
    assert!(matches!(err, Error::Transient { .. }), "{err:?}");
    // ...until the faults are set again; the write had happened.
    env.set_faults(json!({})).await;
    assert!(env.client.get_lead(TENANT_A).await.unwrap().is_some());
}

#[tokio::test]
async fn timeouts_make_reads_transient_and_writes_unknown() {
    let env = Env::start().await;
    let mut config = config_for(&env.sim);
    config.request_timeout = Duration::from_millis(300);
    config.retry.max_attempts = 2;
    let client = LivePlatformClient::new(config).unwrap();
    client.check_credentials().await.unwrap();
    env.set_faults(json!({"latencyMs": 800})).await;
    let err = client.list_customers_brief().await.unwrap_err();
    assert!(matches!(err, Error::Transient { .. }), "{err:?}");
    let err = client
        .create_lead(&CreateLead {
            tenant_id: TENANT_B.into(),
            company_name: "Fabrikam".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(env.count("GET /v2/customer", "total").await, 2);
}

#[tokio::test]
async fn a_platform_that_is_down_gives_transient_errors_not_panics() {
    let env = Env::start().await;
    let config = config_for(&env.sim);
    drop(env);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = LivePlatformClient::new(config).unwrap();
    let err = client.calling_profiles().await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

/// Counts the client's waits for its own budget, by action.
#[derive(Debug, Default)]
struct BudgetWaits(std::sync::Mutex<Vec<liveplatform::Action>>);

impl liveplatform::CallObserver for BudgetWaits {
    fn rate_limit_wait(&self, action: liveplatform::Action, _waited: Duration) {
        self.0.lock().unwrap().push(action);
    }
}

#[tokio::test]
async fn an_admitted_call_takes_no_second_permit_and_the_next_one_waits() {
    let env = Env::start().await;
    let mut config = config_for(&env.sim);
    // One call in the bucket, the next a second later.
    config.budget = Budget {
        per_second: 1.0,
        burst: 1,
    };
    let waits = std::sync::Arc::new(BudgetWaits::default());
    let client = LivePlatformClient::with_observer(config, waits.clone()).unwrap();
    let action = liveplatform::Action::GetCallingProfiles;
    let admitted = client.admit(action).await;
    admitted.run(client.calling_profiles()).await.unwrap();
    assert!(
        waits.0.lock().unwrap().is_empty(),
        "the admitted call waited for a second permit"
    );
    // The bucket is empty now: the next call waits for its own permit.
    client.calling_profiles().await.unwrap();
    assert_eq!(*waits.0.lock().unwrap(), [action]);
    assert_eq!(env.count("GET /v2/oc/callingprofile", "200").await, 2);
}

#[tokio::test]
async fn a_huge_answer_to_a_read_is_not_read_whole() {
    let env = Env::start().await;
    env.client.check_credentials().await.unwrap();
    env.set_faults(json!({"hugeAnswerBurst": 1, "endpoints": ["GET /v3/customer"]}))
        .await;
    let err = env.client.list_services(false).await.unwrap_err();
    assert!(matches!(err, Error::AnswerTooLarge { .. }), "{err:?}");
    assert_says(&err, "goes on past 16 MiB");
    assert_eq!(env.count("GET /v3/customer", "huge-answer").await, 1);
    // Not retried: the same endpoint answers again at once when asked again.
    env.client.list_services(false).await.unwrap();
}

#[tokio::test]
async fn a_huge_answer_to_a_write_leaves_its_outcome_unknown() {
    let env = Env::start().await;
    env.set_faults(json!({"hugeAnswerBurst": 1, "endpoints": ["POST /v2/oc/lead"]}))
        .await;
    let err = env.try_lead(TENANT_A, "Contoso").await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    // The write happened; only its answer was not read.
    assert!(env.client.get_lead(TENANT_A).await.unwrap().is_some());
}

#[tokio::test]
async fn an_endless_listing_is_given_up_on_after_the_page_cap() {
    let mut seed = quick_seed();
    seed.requests_per_second = 100_000.0;
    seed.burst = 10_000;
    let env = Env::with_seed(seed).await;
    env.customer(TENANT_A, "contoso").await;
    env.uploaded(TENANT_A, "+14255550100").await;
    env.set_faults(json!({"endlessListings": true})).await;
    let mut config = config_for(&env.sim);
    config.budget = Budget {
        per_second: 100_000.0,
        burst: 10_000,
    };
    let client = LivePlatformClient::new(config).unwrap();
    let mut pages = 0_u32;
    let err = client
        .each_numbers_page(TENANT_A, 1000, |_| pages += 1)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AnswerTooLarge { .. }), "{err:?}");
    assert_says(&err, "goes on past 2000 pages");
    assert_eq!(pages, liveplatform::contract::MAX_LISTING_PAGES);
}
