//! The simulated platform's in-memory state: the records of every area and the
//! task clock. Handlers lock it for the length of one request; nothing awaits while
//! holding it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use super::seed::Seed;

/// Wall-clock time as the platform prints it.
pub fn now_text() -> String {
    jiff::Timestamp::now().to_string()
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadRec {
    pub id: String,
    pub tenant_id: String,
    pub company_name: String,
    /// `Active`, `Suspended` or `Removed`.
    pub status: String,
    pub ump_customer_guid: Option<String>,
    pub channel_id: Option<i64>,
    pub consented_on: String,
    pub last_modified_on: String,
    /// A Create Customer task running for this lead.
    pub pending_customer_task: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRec {
    pub guid: String,
    pub tenant_id: String,
    pub short_name: String,
    pub full_name: String,
    pub configuration_name: String,
    pub license_type: i64,
    pub license_count: i64,
    pub script_parameters: Map<String, Value>,
    pub created: String,
    pub application_client_id: String,
    /// A licence upgrade task running for this customer.
    pub pending_upgrade_task: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberRec {
    pub id: String,
    pub telephone_number: String,
    pub tenant_id: String,
    pub calling_profile_id: String,
    pub usage: String,
    pub capabilities: Vec<String>,
    /// `Upload Requested` [chosen], `Active`, `Release Requested`, ...
    pub acquired_number_status: String,
    /// `Unassigned`, `UserAssigned`, `ConferenceAssigned`, `VoiceApp`.
    pub assignment_status: String,
    pub civic_address_id: Option<String>,
    pub location_id: Option<String>,
    pub acquired_on: String,
    pub upload_to_account_job_id: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteRec {
    pub id: String,
    pub customer_guid: String,
    pub tenant_id: String,
    pub name: String,
    pub customer_type: String,
    pub sbc_id: String,
    pub onboarding_script: Option<String>,
    pub cleanup_script: Option<String>,
    /// Script parameters without the carrier password.
    pub script_parameters: Map<String, Value>,
    #[serde(skip)]
    pub carrier_password: Option<String>,
    pub has_carrier_password: bool,
    pub cac_profile: Option<String>,
    pub enable_cac: bool,
    pub flag_configure_sbc: bool,
    pub flag_carrier_registration: bool,
    pub sbc_deployment_state: i64,
    pub m365_deployment_state: i64,
    pub pending_tasks: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct RuleRec {
    pub name: String,
    pub prefix: String,
    pub tag: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DialPlanRec {
    pub customer_guid: String,
    pub site_location_id: String,
    pub dial_plan_id: String,
    pub rules: Vec<RuleRec>,
}

#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserRec {
    pub customer_guid: String,
    pub sip_address: String,
    pub object_id: String,
    /// The provisioned settings, as last sent (PascalCase names).
    pub settings: Map<String, Value>,
    pub line_uri: Option<String>,
    pub usage_location: Option<String>,
    pub enterprise_voice_enabled: bool,
    pub teams_calling_policy: Option<String>,
    pub online_voice_routing_policy: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelRec {
    pub id: i64,
    pub name: String,
    pub tenant_id: i64,
    pub ms_tenant_id: String,
}

/// How a new task will run: how long it takes, and whether it fails (a fault
/// injected by the admin API).
#[derive(Debug, Clone, Copy)]
pub struct TaskTiming {
    pub delay: Duration,
    pub will_fail: bool,
}

/// What a task does when it ends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TaskKind {
    CreateCustomer {
        customer: Box<CustomerRec>,
    },
    UpgradeLicense {
        customer_guid: String,
        license_type: i64,
        license_count: i64,
    },
    Upload {
        tenant_id: String,
        numbers: Vec<String>,
        injected_failures: BTreeMap<String, String>,
    },
    Release {
        tenant_id: String,
        numbers: Vec<String>,
    },
    Unassign {
        tenant_id: String,
        numbers: Vec<String>,
    },
    AddSite {
        site_id: String,
    },
    ModifySite {
        site_id: String,
        changes: Map<String, Value>,
    },
    DeleteSite {
        site_id: String,
    },
    ProvisionUser {
        customer_guid: String,
        sip_address: String,
        settings: Map<String, Value>,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRec {
    pub id: String,
    #[serde(flatten)]
    pub kind: TaskKind,
    pub status: String,
    pub messages: Vec<(String, String)>,
    pub output: Value,
    pub create_time: String,
    pub complete_time: Option<String>,
    pub will_fail: bool,
    pub total_numbers: Option<i64>,
    #[serde(skip)]
    pub started: Instant,
    #[serde(skip)]
    pub due: Instant,
}

impl TaskRec {
    pub fn is_final(&self) -> bool {
        matches!(
            self.status.as_str(),
            "CompletedSuccess" | "CompletedWithErrors" | "Failed" | "Cancelled"
        )
    }
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub client_id: String,
    pub expires: Instant,
}

/// The whole simulated platform.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    #[serde(skip)]
    pub seed: Seed,
    pub known_tenants: BTreeSet<String>,
    pub leads: BTreeMap<String, LeadRec>,
    pub customers: BTreeMap<String, CustomerRec>,
    pub numbers: BTreeMap<String, NumberRec>,
    pub sites: BTreeMap<String, SiteRec>,
    /// Keyed by `customer/site/dialPlanId`.
    pub dial_plans: BTreeMap<String, DialPlanRec>,
    /// Keyed by `customer/sip address` (lowercase).
    pub users: BTreeMap<String, UserRec>,
    pub tasks: BTreeMap<String, TaskRec>,
    pub channels: BTreeMap<i64, ChannelRec>,
    #[serde(skip)]
    pub tokens: HashMap<String, IssuedToken>,
    /// Numbers held by a running task: number -> task id.
    pub busy_numbers: BTreeMap<String, String>,
    next_task: u64,
    next_channel: i64,
}

pub fn dial_plan_key(customer: &str, site: &str, dial_plan: &str) -> String {
    format!("{customer}/{site}/{}", dial_plan.to_ascii_lowercase())
}

pub fn user_key(customer: &str, sip: &str) -> String {
    format!("{customer}/{}", sip.to_ascii_lowercase())
}

impl State {
    pub fn new(seed: Seed) -> Self {
        let known_tenants = seed
            .known_tenants
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        let channels: BTreeMap<i64, ChannelRec> = seed
            .channels
            .iter()
            .map(|c| {
                (
                    c.id,
                    ChannelRec {
                        id: c.id,
                        name: c.name.clone(),
                        tenant_id: c.tenant_id,
                        ms_tenant_id: c.ms_tenant_id.clone(),
                    },
                )
            })
            .collect();
        let next_channel = channels.keys().max().copied().unwrap_or(1000) + 1;
        Self {
            seed,
            known_tenants,
            leads: BTreeMap::new(),
            customers: BTreeMap::new(),
            numbers: BTreeMap::new(),
            sites: BTreeMap::new(),
            dial_plans: BTreeMap::new(),
            users: BTreeMap::new(),
            tasks: BTreeMap::new(),
            channels,
            tokens: HashMap::new(),
            busy_numbers: BTreeMap::new(),
            next_task: 1000,
            next_channel,
        }
    }

    pub fn knows_tenant(&self, tenant: &str) -> bool {
        self.seed.accept_any_tenant || self.known_tenants.contains(&tenant.to_ascii_lowercase())
    }

    pub fn next_channel_id(&mut self) -> i64 {
        let id = self.next_channel;
        self.next_channel += 1;
        id
    }

    /// A `tsk_<int>` id.
    pub fn next_int_task_id(&mut self) -> String {
        self.next_task += 1;
        format!("tsk_{}", self.next_task)
    }

    /// Whether a caller restricted to `channel` may see the tenant's lead and customer.
    pub fn channel_allows(&self, channel: Option<i64>, tenant: &str) -> bool {
        match channel {
            None => true,
            Some(c) => self
                .leads
                .get(tenant)
                .is_some_and(|l| l.channel_id == Some(c)),
        }
    }

    /// The customer for a guid, visible to the caller's channel.
    pub fn customer(&self, channel: Option<i64>, guid: &str) -> Option<&CustomerRec> {
        let guid = guid.to_ascii_lowercase();
        self.customers
            .get(&guid)
            .filter(|c| self.channel_allows(channel, &c.tenant_id))
    }

    pub fn customer_of_tenant(&self, tenant: &str) -> Option<&CustomerRec> {
        self.customers.values().find(|c| c.tenant_id == tenant)
    }

    /// Registers a task; it ends after `delay`, failing if `will_fail`.
    pub fn add_task(
        &mut self,
        id: String,
        kind: TaskKind,
        timing: TaskTiming,
        total_numbers: Option<i64>,
    ) -> String {
        let TaskTiming { delay, will_fail } = timing;
        let now = Instant::now();
        let task = TaskRec {
            id: id.clone(),
            kind,
            status: "Queued".into(),
            messages: vec![("Information".into(), "Task queued".into())],
            output: Value::Object(Map::new()),
            create_time: now_text(),
            complete_time: None,
            will_fail,
            total_numbers,
            started: now,
            due: now + delay,
        };
        self.tasks.insert(id.clone(), task);
        id
    }

    /// Moves every task along the clock: Queued for the first quarter of its time,
    /// InProgress until due, then final with its effects applied.
    pub fn advance(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .tasks
            .values()
            .filter(|t| !t.is_final())
            .filter_map(|t| {
                if now >= t.due {
                    return Some(t.id.clone());
                }
                None
            })
            .collect();
        for t in self
            .tasks
            .values_mut()
            .filter(|t| !t.is_final() && t.status == "Queued")
        {
            if now >= t.started + (t.due.saturating_duration_since(t.started)) / 4 {
                t.status = "InProgress".into();
                t.messages
                    .push(("Information".into(), "Task started".into()));
            }
        }
        for id in due {
            self.finish_task(&id);
        }
    }

    /// Ends every running task now (admin fast-forward).
    pub fn finish_all_tasks(&mut self) {
        let running: Vec<String> = self
            .tasks
            .values()
            .filter(|t| !t.is_final())
            .map(|t| t.id.clone())
            .collect();
        for id in running {
            self.finish_task(&id);
        }
    }

    pub fn release_busy(&mut self, task_id: &str) {
        self.busy_numbers.retain(|_, t| t != task_id);
    }
}
