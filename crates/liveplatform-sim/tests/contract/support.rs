//! A simulator on a free loopback port and a client configured for it.

use std::time::Duration;

use liveplatform::model::{
    ConfigurationType, CreateCustomer, CreateLead, LicenseChange, TaskId, UploadNumbers, Usage,
};
use liveplatform::{
    ClientConfig, Credentials, Error, LivePlatformClient, PollOptions, RetryPolicy, TaskOutcome,
};
use liveplatform_sim::admin_client::AdminClient;
use liveplatform_sim::seed::{SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET};
use liveplatform_sim::{Faults, Seed, Simulator};
use serde_json::Value;

pub const TENANT_A: &str = "0b7e6c1a-2f3d-4e5b-8a9c-1d2e3f4a5b6c";
pub const TENANT_B: &str = "1c8f7d2b-3a4e-4f6c-9b0d-2e3f4a5b6c7d";
pub const TENANT_C: &str = "2d9a8e3c-4b5f-4a7d-8c1e-3f4a5b6c7d8e";
pub const UNKNOWN_TENANT: &str = "9f9f9f9f-0000-4000-8000-000000000001";
pub const PROFILE_US: &str = "a3f1e2d4-6b7c-4d8e-9f0a-1b2c3d4e5f60";

pub struct Env {
    pub sim: Simulator,
    pub client: LivePlatformClient,
    admin: AdminClient,
    raw: reqwest::Client,
}

pub fn quick_seed() -> Seed {
    Seed {
        task_delay_ms: 150,
        ..Seed::default()
    }
}

pub fn config_for(sim: &Simulator) -> ClientConfig {
    let credentials = Credentials::with_secret(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET);
    let mut config = ClientConfig::new(sim.base_url(), Seed::default().sp_tenant_id, credentials)
        .expect("config");
    config.identity_base = sim.identity_base();
    config.retry = RetryPolicy {
        backoff: liveplatform::backoff::Backoff::new(
            Duration::from_millis(50),
            Duration::from_secs(2),
        ),
        ..RetryPolicy::default()
    };
    config
}

pub fn quick_poll() -> PollOptions {
    PollOptions {
        backoff: liveplatform::backoff::Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(300),
        ),
        patience: Duration::from_secs(20),
    }
}

impl Env {
    pub async fn start() -> Self {
        Self::with_seed(quick_seed()).await
    }

    pub async fn with_seed(seed: Seed) -> Self {
        let sim = Simulator::start(
            "127.0.0.1:0".parse().expect("addr"),
            seed,
            Faults::default(),
        )
        .await
        .expect("simulator");
        let client = LivePlatformClient::new(config_for(&sim)).expect("client");
        let admin = AdminClient::new(&sim.admin_url());
        Self {
            sim,
            client,
            admin,
            raw: reqwest::Client::new(),
        }
    }

    pub async fn set_faults(&self, faults: Value) {
        self.admin.set_faults(faults).await.expect("faults");
    }

    pub async fn admin_post(&self, path: &str, body: Value) {
        self.admin.post(path, body).await.expect("admin post");
    }

    pub async fn admin_put(&self, path: &str, body: Value) {
        self.admin.put(path, body).await.expect("admin put");
    }

    /// Requests of `endpoint` that ended in `outcome` (a status code, "total", "dropped").
    /// Uploads one number to `tenant` (US profile, calling user assignment): its task,
    /// or the client's error.
    pub async fn upload_one(&self, tenant: &str, number: &str) -> Result<TaskId, Error> {
        self.client
            .upload_numbers(
                tenant,
                &UploadNumbers::new(
                    PROFILE_US,
                    Usage::CallingUserAssignment,
                    vec![number.into()],
                ),
            )
            .await
    }

    pub fn admin(&self) -> &AdminClient {
        &self.admin
    }

    pub async fn count(&self, endpoint: &str, outcome: &str) -> u64 {
        self.admin.count(endpoint, outcome).await.expect("counters")
    }

    pub async fn state(&self) -> Value {
        self.admin.state().await.expect("state")
    }

    pub async fn lead(&self, tenant: &str, company: &str) {
        self.try_lead(tenant, company).await.expect("create lead");
    }

    /// Create Lead for `tenant`, with whatever the platform answers.
    pub async fn try_lead(
        &self,
        tenant: &str,
        company: &str,
    ) -> liveplatform::Result<Option<liveplatform::model::Lead>> {
        self.client
            .create_lead(&CreateLead {
                tenant_id: tenant.into(),
                company_name: company.into(),
            })
            .await
    }

    /// A lead and a licensed (OC Essentials) customer for `tenant`; the customer id.
    pub async fn customer(&self, tenant: &str, short: &str) -> String {
        self.lead(tenant, &format!("{short} Inc")).await;
        let task = self
            .client
            .create_customer(&CreateCustomer {
                configuration: ConfigurationType::TenantType,
                customer_short_name: short.into(),
                customer_full_name: format!("{short} Incorporated"),
                ms_tenant_id: tenant.into(),
                script_parameters: Default::default(),
            })
            .await
            .expect("create customer");
        let outcome = self.finish(&task).await;
        let TaskOutcome::Succeeded(task) = outcome else {
            panic!("customer creation: {outcome:?}")
        };
        task.output_str("ump_customer_guid")
            .expect("customer guid in task output")
            .to_owned()
    }

    /// Upgrades `customer` to licence type `to` (4 OC Essentials Plus, 5 OC Pro) with
    /// `count` licences and waits for the task to succeed.
    pub async fn upgrade(&self, customer: &str, to: i64, count: i64) {
        let task = self
            .client
            .upgrade_license(customer, &LicenseChange::new(to, count))
            .await
            .expect("upgrade licence");
        let outcome = self.finish(&task).await;
        assert!(matches!(outcome, TaskOutcome::Succeeded(_)), "{outcome:?}");
    }

    /// Uploads one number to `tenant` (see [`Env::upload_one`]) and waits for its task.
    pub async fn uploaded(&self, tenant: &str, number: &str) -> TaskOutcome {
        let task = self.upload_one(tenant, number).await.expect("upload");
        self.finish(&task).await
    }

    /// The channel of `tenant`'s lead.
    pub async fn channel_of(&self, tenant: &str) -> Option<i64> {
        let lead = self.client.get_lead(tenant).await.expect("get lead");
        lead.expect("the lead exists").channel_id
    }

    pub async fn finish(&self, task: &TaskId) -> TaskOutcome {
        self.client
            .poll_task(task, quick_poll())
            .await
            .expect("poll")
    }

    pub fn raw(&self) -> &reqwest::Client {
        &self.raw
    }
}

/// `err` is the platform's validation answer, naming `field` among the invalid ones.
#[track_caller]
pub fn assert_invalid(err: &Error, field: &str) {
    assert!(
        matches!(err, Error::Validation { fields, .. } if fields.contains_key(field)),
        "{field} should be invalid: {err:?}"
    );
}

/// `err`'s message says `text`.
#[track_caller]
pub fn assert_says(err: &Error, text: &str) {
    assert!(err.to_string().contains(text), "{text:?} not in: {err}");
}
