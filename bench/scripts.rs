//! The contenders the operator is measured against, in the same run and on fresh
//! simulators with the same settings: the calls a provider's own script would make
//! for the same workload, with the project's own client and its rate limiter at the
//! same budget. Per customer, the basic workload is: lead, customer and its task,
//! upload and its task. The full workload adds: the lead's channel, an upgrade to
//! OC Essentials Plus and its task, a SIP connection and its task, a dial plan with
//! two rules, and `users` end users, each provisioned with its task.
//!
//! - sequential: one call at a time, a poll every second;
//! - concurrent: every customer at once, and within a customer whatever does not
//!   depend on each other at once too, each task looked at when it should be done
//!   (an expert's best).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use liveplatform::contract::Budget;
use liveplatform::model::{
    AddSipConnection, AssignChannel, ConfigurationType, CreateCustomer, CreateLead, DialPlanRule,
    LeadRef, LicenseChange, ModifyDialPlan, ProvisionEndUser, Task, TaskId, UploadNumbers, Usage,
};
use liveplatform::{ClientConfig, Credentials, LivePlatformClient};
use liveplatform_sim::seed::{SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SP_TENANT};

const PROFILE: &str = "a3f1e2d4-6b7c-4d8e-9f0a-1b2c3d4e5f60";
/// The channel, SBC and scripts of the full workload (the simulator's seed has them).
pub const CHANNEL: i64 = 1574;
pub const SBC: &str = "11";
pub const ONBOARDING_SCRIPT: &str = "onboard-ipgroup-v1";
pub const CLEANUP_SCRIPT: &str = "cleanup-ipgroup-v1";
/// The licence count of the full workload (OC Essentials Plus).
pub const LICENSES: i64 = 10;

/// What each customer gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// Numbers in the customer's block.
    pub numbers: usize,
    /// `Some(users)`: the full workload with this many end users.
    pub full: Option<usize>,
}

impl Workload {
    /// The fewest platform calls one customer needs, task polls included (one per
    /// task): lead, customer + poll, upload(s) + polls; and for the full workload
    /// channel, upgrade + poll, site + poll, dial plan, and per user provision + poll.
    pub fn minimal_calls(&self) -> usize {
        let uploads = self.numbers.div_ceil(1000).max(1);
        let basic = 3 + 2 * uploads;
        match self.full {
            None => basic,
            Some(users) => basic + 1 + 2 + 2 + 1 + 2 * users,
        }
    }
}

/// The SIP address of end user `u` of customer `i`.
pub fn user(i: usize, u: usize) -> String {
    format!("user{u}@cust{i}.example.com")
}

/// The dial plan rules of the full workload.
pub fn rules() -> Vec<DialPlanRule> {
    vec![
        DialPlanRule {
            name: "local".into(),
            prefix: "+1425".into(),
            tag: "Local".into(),
        },
        DialPlanRule {
            name: "seattle".into(),
            prefix: "+1206".into(),
            tag: "Seattle".into(),
        },
    ]
}

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
        liveplatform::contract::API_ROOT
    ))
    .map_err(|e| e.to_string())?;
    let mut config = ClientConfig::new(
        base,
        SANDBOX_SP_TENANT,
        Credentials::with_secret(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
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
) -> Result<Task, String> {
    tokio::time::sleep(first).await;
    loop {
        let t = client.get_task(task).await.map_err(|e| e.to_string())?;
        if t.status.is_final() {
            return Ok(t);
        }
        tokio::time::sleep(every).await;
    }
}

/// How a script paces itself: when it first looks at a task and how often after,
/// and whether independent steps of one customer run at once.
#[derive(Clone, Copy)]
struct Pace {
    first: Duration,
    every: Duration,
    parallel: bool,
}

impl Pace {
    /// An expert's: independent steps at once, each task looked at when it should be
    /// done.
    fn expert(task_time: Duration) -> Self {
        Pace {
            first: task_time,
            every: task_time / 2,
            parallel: true,
        }
    }
}

/// One customer's whole onboarding; `answered` is set when its first call is
/// answered.
async fn onboard(
    client: &LivePlatformClient,
    i: usize,
    work: Workload,
    pace: Pace,
    answered: &OnceLock<Instant>,
) -> Result<(), String> {
    let err = |e: liveplatform::Error| e.to_string();
    let follow = |task: TaskId| async move { follow(client, &task, pace.first, pace.every).await };
    let tenant = tenant(i);
    client
        .create_lead(&CreateLead {
            tenant_id: tenant.clone(),
            company_name: format!("Company {i}"),
        })
        .await
        .map_err(err)?;
    let _ = answered.set(Instant::now());
    if work.full.is_some() {
        client
            .assign_channel(&AssignChannel {
                lead: LeadRef::MsTenantId(tenant.clone()),
                channel_id: CHANNEL,
            })
            .await
            .map_err(err)?;
    }
    let task = client
        .create_customer(&CreateCustomer {
            configuration: ConfigurationType::TenantType,
            customer_short_name: format!("cust{i}"),
            customer_full_name: format!("Customer {i}"),
            ms_tenant_id: tenant.clone(),
            script_parameters: Default::default(),
        })
        .await
        .map_err(err)?;
    let created = follow(task).await?;
    let guid = created
        .output_str("ump_customer_guid")
        .ok_or("the customer task reported no guid")?
        .to_owned();
    let base = first_number(i);
    let numbers = async {
        let all: Vec<String> = (0..work.numbers as u64)
            .map(|n| format!("+{}", base + n))
            .collect();
        for chunk in all.chunks(1000) {
            let task = client
                .upload_numbers(
                    &tenant,
                    &UploadNumbers::new(PROFILE, Usage::CallingUserAssignment, chunk.to_vec()),
                )
                .await
                .map_err(err)?;
            follow(task).await?;
        }
        Ok::<(), String>(())
    };
    let Some(users) = work.full else {
        return numbers.await;
    };
    let site = async {
        let added = client
            .add_sip_connection(
                &guid,
                &AddSipConnection {
                    site_location_name: format!("Site{i}"),
                    ovoc_customer_type: "IPGROUP_TYPE".into(),
                    sbc_id: SBC.into(),
                    sbc_onboarding_script: Some(ONBOARDING_SCRIPT.into()),
                    sbc_cleanup_script: Some(CLEANUP_SCRIPT.into()),
                    script_parameters: Default::default(),
                    carrier_password: Some(liveplatform::secret::Secret::new("carrier")),
                },
            )
            .await
            .map_err(err)?;
        follow(TaskId(added.task_id)).await?;
        client
            .modify_dial_plan(
                &guid,
                &added.site_location_id,
                &ModifyDialPlan {
                    dial_plan_id: "main".into(),
                    add: rules(),
                    remove: Vec::new(),
                },
            )
            .await
            .map_err(err)?;
        Ok::<(), String>(())
    };
    let licensed_users = async {
        let task = client
            .upgrade_license(&guid, &LicenseChange::new(4, LICENSES))
            .await
            .map_err(err)?;
        follow(task).await?;
        let provision = |u: usize| {
            let guid = guid.clone();
            async move {
                let body = ProvisionEndUser {
                    line_uri: Some(format!("tel:+{}", base + u as u64)),
                    usage_location: Some("US".into()),
                    enterprise_voice_enabled: Some(true),
                    ..Default::default()
                };
                let task = client
                    .provision_end_user(&guid, &user(i, u), &body)
                    .await
                    .map_err(err)?;
                follow(task).await.map(|_| ())
            }
        };
        if pace.parallel {
            for result in futures::future::join_all((0..users).map(provision)).await {
                result?;
            }
        } else {
            for u in 0..users {
                provision(u).await?;
            }
        }
        Ok::<(), String>(())
    };
    if pace.parallel {
        let (a, b, c) = futures::join!(numbers, site, licensed_users);
        a.and(b).and(c)
    } else {
        numbers.await?;
        site.await?;
        licensed_users.await
    }
}

/// Every customer, one call at a time, a poll every second.
pub async fn sequential(
    client: &LivePlatformClient,
    customers: usize,
    work: Workload,
) -> Result<Duration, String> {
    let started = Instant::now();
    let pace = Pace {
        first: Duration::from_secs(1),
        every: Duration::from_secs(1),
        parallel: false,
    };
    for i in 0..customers {
        onboard(client, i, work, pace, &OnceLock::new()).await?;
    }
    Ok(started.elapsed())
}

/// Every customer at once, each task looked at when it should be done.
pub async fn concurrent(
    client: &LivePlatformClient,
    customers: usize,
    work: Workload,
    task_time: Duration,
) -> Result<Duration, String> {
    concurrent_counting(client, customers, work, task_time, &AtomicUsize::new(0)).await
}

/// [`concurrent`], counting in `done` the customers done so far.
pub async fn concurrent_counting(
    client: &LivePlatformClient,
    customers: usize,
    work: Workload,
    task_time: Duration,
    done: &AtomicUsize,
) -> Result<Duration, String> {
    let started = Instant::now();
    let runs = (0..customers).map(|i| {
        let answered = OnceLock::new();
        async move {
            onboard(client, i, work, Pace::expert(task_time), &answered).await?;
            done.fetch_add(1, Ordering::Relaxed);
            Ok::<(), String>(())
        }
    });
    for result in futures::future::join_all(runs).await {
        result?;
    }
    Ok(started.elapsed())
}

/// Customer `i` (lead and customer, nothing else) arriving while others onboard
/// through the same client, taken as the concurrent script takes every customer;
/// returns how long until its first call was answered and until it was onboarded.
pub async fn arriving(
    client: &LivePlatformClient,
    i: usize,
    task_time: Duration,
) -> Result<(Duration, Duration), String> {
    let started = Instant::now();
    let answered = OnceLock::new();
    let work = Workload {
        numbers: 0,
        full: None,
    };
    onboard(client, i, work, Pace::expert(task_time), &answered).await?;
    let first = answered.get().map_or(Duration::ZERO, |at| *at - started);
    Ok((first, started.elapsed()))
}
