//! The contenders the operator is measured against, in the same run and on fresh
//! simulators with the same settings: the calls a provider's own script would make
//! for the same workload (per customer: lead, customer and its task, upload and its
//! task), with the project's own client and its rate limiter at the same budget.
//!
//! - sequential: one call at a time, a poll every second;
//! - concurrent: every customer at once, each task looked at when it should be done
//!   (an expert's best).

use std::time::{Duration, Instant};

use oc_operator::liveplatform::contract::Budget;
use oc_operator::liveplatform::model::{
    ConfigurationType, CreateCustomer, CreateLead, TaskId, UploadNumbers, Usage,
};
use oc_operator::liveplatform::{ClientConfig, Credentials, LivePlatformClient};
use oc_operator::simulator::seed::{SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SP_TENANT};

const PROFILE: &str = "a3f1e2d4-6b7c-4d8e-9f0a-1b2c3d4e5f60";

/// The tenant of customer `i` (the operator's run uses the same ones).
pub fn tenant(i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", i + 1, i + 1)
}

/// The first number of customer `i`.
pub fn first_number(i: usize) -> u64 {
    14_250_000_000u64 + (i as u64) * 10_000
}

/// A client of the simulator at `sim_addr` with `budget`.
pub fn client(sim_addr: &str, budget: Budget) -> Result<LivePlatformClient, String> {
    let base = url::Url::parse(&format!(
        "http://{sim_addr}{}",
        oc_operator::liveplatform::contract::API_ROOT
    ))
    .map_err(|e| e.to_string())?;
    let mut config = ClientConfig::new(
        base,
        SANDBOX_SP_TENANT,
        Credentials {
            client_id: SANDBOX_CLIENT_ID.into(),
            client_secret: SANDBOX_CLIENT_SECRET.into(),
        },
    )
    .map_err(|e| e.to_string())?;
    config.identity_base =
        url::Url::parse(&format!("http://{sim_addr}")).map_err(|e| e.to_string())?;
    config.budget = budget;
    config.max_in_flight = 64;
    LivePlatformClient::new(config).map_err(|e| e.to_string())
}

/// Follows a task to its end: the first look after `first`, then every `every`.
async fn follow(
    client: &LivePlatformClient,
    task: &TaskId,
    first: Duration,
    every: Duration,
) -> Result<(), String> {
    tokio::time::sleep(first).await;
    loop {
        let t = client.get_task(task).await.map_err(|e| e.to_string())?;
        if t.status.is_final() {
            return Ok(());
        }
        tokio::time::sleep(every).await;
    }
}

/// One customer's whole onboarding.
async fn onboard(
    client: &LivePlatformClient,
    i: usize,
    numbers: usize,
    first: Duration,
    every: Duration,
) -> Result<(), String> {
    let tenant = tenant(i);
    client
        .create_lead(&CreateLead {
            tenant_id: tenant.clone(),
            company_name: format!("Company {i}"),
        })
        .await
        .map_err(|e| e.to_string())?;
    let task = client
        .create_customer(&CreateCustomer {
            configuration: ConfigurationType::TenantType,
            customer_short_name: format!("cust{i}"),
            customer_full_name: format!("Customer {i}"),
            ms_tenant_id: tenant.clone(),
            script_parameters: Default::default(),
        })
        .await
        .map_err(|e| e.to_string())?;
    follow(client, &task, first, every).await?;
    let base = first_number(i);
    let list: Vec<String> = (0..numbers as u64)
        .map(|n| format!("+{}", base + n))
        .collect();
    let task = client
        .upload_numbers(
            &tenant,
            &UploadNumbers::new(PROFILE, Usage::CallingUserAssignment, list),
        )
        .await
        .map_err(|e| e.to_string())?;
    follow(client, &task, first, every).await
}

/// Every customer, one call at a time, a poll every second.
pub async fn sequential(
    client: &LivePlatformClient,
    customers: usize,
    numbers: usize,
) -> Result<Duration, String> {
    let started = Instant::now();
    for i in 0..customers {
        onboard(
            client,
            i,
            numbers,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .await?;
    }
    Ok(started.elapsed())
}

/// Every customer at once, each task looked at when it should be done.
pub async fn concurrent(
    client: &LivePlatformClient,
    customers: usize,
    numbers: usize,
    task_time: Duration,
) -> Result<Duration, String> {
    let started = Instant::now();
    let runs = (0..customers).map(|i| onboard(client, i, numbers, task_time, task_time / 2));
    for result in futures::future::join_all(runs).await {
        result?;
    }
    Ok(started.elapsed())
}
