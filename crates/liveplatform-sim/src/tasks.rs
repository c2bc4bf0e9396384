//! Tasks: how each kind of asynchronous work ends, and Get Task.

use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State as AxState};
use serde_json::{Value, json};

use super::App;
use super::problem::ApiError;
use super::state::{RuleRec, State, TaskKind, dial_plan_key, now_text, user_key};
use liveplatform_contract::{PROVISIONED_OBJECT_ID, deployment_state, number_error, number_status};

/// The dial plan that uploaded numbers are pushed into [doc].
pub const NUMBERS_DIAL_PLAN: &str = "OCDialPlan";

impl State {
    /// Ends task `id`: final status, output data, and its effect on the platform.
    pub fn finish_task(&mut self, id: &str) {
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        if task.is_final() {
            return;
        }
        let kind = task.kind.clone();
        let fails = task.will_fail;
        let (status, output, mut messages) = match kind {
            TaskKind::CreateCustomer { customer } => self.end_create_customer(*customer, fails),
            TaskKind::UpgradeLicense {
                customer_guid,
                license_type,
                license_count,
            } => self.end_upgrade(&customer_guid, license_type, license_count, fails),
            TaskKind::Upload {
                tenant_id,
                numbers,
                injected_failures,
            } => self.end_upload(id, &tenant_id, &numbers, &injected_failures, fails),
            TaskKind::Release { tenant_id, numbers } => {
                self.end_release(&tenant_id, &numbers, fails)
            }
            TaskKind::Unassign { tenant_id, numbers } => {
                self.end_unassign(&tenant_id, &numbers, fails)
            }
            TaskKind::AddSite { site_id } => self.end_add_site(&site_id, fails),
            TaskKind::ModifySite { site_id, changes } => {
                self.end_modify_site(&site_id, &changes, fails)
            }
            TaskKind::DeleteSite { site_id } => self.end_delete_site(&site_id, fails),
            TaskKind::ProvisionUser {
                customer_guid,
                sip_address,
                settings,
            } => self.end_provision(&customer_guid, &sip_address, settings, fails),
        };
        self.release_busy(id);
        for site in self.sites.values_mut() {
            site.pending_tasks.retain(|t| t != id);
        }
        if let Some(task) = self.tasks.get_mut(id) {
            task.status = status.into();
            task.output = output;
            // When the task was done, not when a request happened to look: a client
            // that learns task durations from these times would otherwise learn its
            // own polling delay, and wait longer each time.
            let late = Instant::now().saturating_duration_since(task.due);
            let done = jiff::Timestamp::now()
                .checked_sub(jiff::SignedDuration::try_from(late).unwrap_or_default())
                .unwrap_or_else(|_| jiff::Timestamp::now());
            task.complete_time = Some(done.to_string());
            task.messages.append(&mut messages);
        }
    }

    fn end_create_customer(&mut self, customer: super::state::CustomerRec, fails: bool) -> Ending {
        if let Some(lead) = self.leads.get_mut(&customer.tenant_id) {
            lead.pending_customer_task = None;
            if !fails {
                lead.ump_customer_guid = Some(customer.guid.clone());
                lead.last_modified_on = now_text();
            }
        }
        if fails {
            return failed(
                json!({}),
                "Customer creation failed: the tenant onboarding script returned an error. Retry the request.",
            );
        }
        let guid = customer.guid.clone();
        self.customers.insert(guid.clone(), customer);
        succeeded(json!({"umpCustomerGuid": guid}), "Customer created")
    }

    fn end_upgrade(&mut self, guid: &str, license_type: i64, count: i64, fails: bool) -> Ending {
        let Some(customer) = self.customers.get_mut(guid) else {
            return failed(json!({}), "The customer no longer exists.");
        };
        customer.pending_upgrade_task = None;
        if fails {
            return failed(
                json!({}),
                "Licence upgrade failed at Microsoft. Retry the request.",
            );
        }
        customer.license_type = license_type;
        customer.license_count = count;
        succeeded(
            json!({"umpCustomerGuid": guid, "licenseType": license_type}),
            "Licence upgraded",
        )
    }

    fn end_upload(
        &mut self,
        task_id: &str,
        tenant: &str,
        numbers: &[String],
        injected: &std::collections::BTreeMap<String, String>,
        fails: bool,
    ) -> Ending {
        let started = self
            .tasks
            .get(task_id)
            .map(|t| t.create_time.clone())
            .unwrap_or_default();
        let customer = self.customer_of_tenant(tenant).map(|c| c.guid.clone());
        let mut results = Vec::with_capacity(numbers.len());
        let mut uploaded: Vec<&str> = Vec::with_capacity(numbers.len());
        let mut ok = 0usize;
        for number in numbers {
            let failure = if fails {
                Some(number_error::INTERNAL_ERROR.to_owned())
            } else if let Some(code) = injected.get(number) {
                Some(code.clone())
            } else if self
                .seed
                .unsupported_country_prefixes
                .iter()
                .any(|p| number.starts_with(p.as_str()))
            {
                Some(number_error::UNKNOWN_COUNTRY_CODE.to_owned())
            } else if self
                .numbers
                .get(number)
                .is_some_and(|n| n.tenant_id != tenant)
            {
                Some(number_error::NUMBER_IN_USE.to_owned())
            } else {
                None
            };
            match failure {
                Some(code) => {
                    if self
                        .numbers
                        .get(number)
                        .is_some_and(|n| n.upload_to_account_job_id == task_id)
                    {
                        self.numbers.remove(number);
                    }
                    results.push(json!({
                        "telephoneNumber": number, "status": "Failed", "errorCode": code,
                        "errorMessage": number_error_message(&code),
                    }));
                }
                None => {
                    ok += 1;
                    if let Some(rec) = self.numbers.get_mut(number) {
                        rec.acquired_number_status = number_status::ACTIVE.into();
                        rec.acquired_on = now_text();
                    }
                    uploaded.push(number.as_str());
                    results.push(json!({"telephoneNumber": number, "status": "Success", "errorCode": null, "errorMessage": null}));
                }
            }
        }
        if let Some(guid) = &customer {
            self.push_number_rules(guid, &uploaded);
        }
        let status = if ok == numbers.len() {
            "CompletedSuccess"
        } else if ok == 0 {
            "Failed"
        } else {
            "CompletedWithErrors"
        };
        let mut messages = vec![info(format!("{ok} of {} numbers uploaded", numbers.len()))];
        if ok < numbers.len() {
            messages.push(err(format!(
                "{} numbers failed to upload; see OcUploadNumberResult",
                numbers.len() - ok
            )));
        }
        let output = json!({
            "NumbersUploaded": ok,
            "OcUploadNumberResult": results,
            "WorkflowVersion": 3,
            "CreateTime": started,
            "CompleteTime": now_text(),
        });
        (status, output, messages)
    }

    /// Adds a rule per uploaded number to the customer's numbers dial plan, once each.
    /// The rules are passed over once per upload against a set of the upload's
    /// numbers: a search of the rules per number made a block of 505,000 numbers
    /// quadratic (each upload of 1,000 numbers compared them with every rule so far).
    fn push_number_rules(&mut self, customer: &str, numbers: &[&str]) {
        let key = dial_plan_key(customer, customer, NUMBERS_DIAL_PLAN);
        let plan = self
            .dial_plans
            .entry(key)
            .or_insert_with(|| super::state::DialPlanRec {
                customer_guid: customer.to_owned(),
                site_location_id: customer.to_owned(),
                dial_plan_id: NUMBERS_DIAL_PLAN.into(),
                rules: Vec::new(),
            });
        // The uploaded numbers that already have a rule, found in one pass over the
        // rules without copying them (copying every rule's prefix per upload made a
        // block of 505,000 numbers spend minutes here, under the state's lock).
        let uploaded: std::collections::HashSet<&str> = numbers.iter().copied().collect();
        let mut present: std::collections::HashSet<String> = plan
            .rules
            .iter()
            .filter(|r| uploaded.contains(r.prefix.as_str()))
            .map(|r| r.prefix.clone())
            .collect();
        for number in numbers {
            if present.insert((*number).to_owned()) {
                plan.rules.push(RuleRec {
                    name: format!("OC{}", number.trim_start_matches('+')),
                    prefix: (*number).to_owned(),
                    tag: "OC".into(),
                });
            }
        }
    }

    fn end_release(&mut self, tenant: &str, numbers: &[String], fails: bool) -> Ending {
        let job = uuid::Uuid::new_v4().to_string();
        if fails {
            for number in numbers {
                if let Some(rec) = self.numbers.get_mut(number) {
                    rec.acquired_number_status = number_status::ACTIVE.into();
                }
            }
            let output = json!({"MsReleaseJobId": job, "MsTenantId": tenant, "MsReleaseJobStatus": "Failed", "UmpReleaseJobStatus": "Failed"});
            return (
                "Failed",
                output,
                vec![err("Microsoft refused the release job. Retry the request.")],
            );
        }
        let customer = self.customer_of_tenant(tenant).map(|c| c.guid.clone());
        for number in numbers {
            self.numbers.remove(number);
            if let Some(guid) = &customer
                && let Some(plan) =
                    self.dial_plans
                        .get_mut(&dial_plan_key(guid, guid, NUMBERS_DIAL_PLAN))
            {
                plan.rules.retain(|r| &r.prefix != number);
            }
        }
        let output = json!({"MsReleaseJobId": job, "MsTenantId": tenant, "MsReleaseJobStatus": "Completed", "UmpReleaseJobStatus": "Completed"});
        (
            "CompletedSuccess",
            output,
            vec![info(format!("{} numbers released", numbers.len()))],
        )
    }

    fn end_unassign(&mut self, tenant: &str, numbers: &[String], fails: bool) -> Ending {
        if fails {
            return failed(
                json!({"MsTenantId": tenant}),
                "Microsoft refused the unassign job. Retry the request.",
            );
        }
        for number in numbers {
            if let Some(rec) = self.numbers.get_mut(number) {
                rec.assignment_status = number_status::UNASSIGNED.into();
            }
            let uri = format!("tel:{number}");
            for user in self.users.values_mut() {
                if user.line_uri.as_deref() == Some(uri.as_str()) {
                    user.line_uri = None;
                }
            }
        }
        succeeded(
            json!({"MsTenantId": tenant, "NumbersUnassigned": numbers.len()}),
            "Numbers unassigned",
        )
    }

    fn end_add_site(&mut self, site_id: &str, fails: bool) -> Ending {
        let Some(site) = self.sites.get_mut(site_id) else {
            return failed(json!({}), "The site location no longer exists.");
        };
        if fails {
            site.sbc_deployment_state = deployment_state::FAILED;
            site.m365_deployment_state = deployment_state::FAILED;
            return failed(
                json!({"siteLocationId": site_id}),
                "SBC onboarding script failed. Fix the script parameters and modify the SIP connection.",
            );
        }
        site.sbc_deployment_state = deployment_state::DEPLOYED;
        site.m365_deployment_state = deployment_state::DEPLOYED;
        succeeded(
            json!({"siteLocationId": site_id}),
            "SBC and Microsoft 365 configured",
        )
    }

    fn end_modify_site(
        &mut self,
        site_id: &str,
        changes: &serde_json::Map<String, Value>,
        fails: bool,
    ) -> Ending {
        let Some(site) = self.sites.get_mut(site_id) else {
            return failed(json!({}), "The site location no longer exists.");
        };
        if fails {
            return failed(
                json!({"siteLocationId": site_id}),
                "SBC reconfiguration failed. Retry the request.",
            );
        }
        for (key, value) in changes {
            match key.as_str() {
                "sbc_id" => site.sbc_id = value.as_str().unwrap_or_default().to_owned(),
                "sbc_site_name" => site.name = value.as_str().unwrap_or_default().to_owned(),
                "cac_profile" => site.cac_profile = value.as_str().map(str::to_owned),
                "enable_cac" => site.enable_cac = value.as_bool().unwrap_or(false),
                "flag_configure_sbc" => site.flag_configure_sbc = value.as_bool().unwrap_or(false),
                "flag_carrier_registration" => {
                    site.flag_carrier_registration = value.as_bool().unwrap_or(false)
                }
                _ => {}
            }
        }
        // A modify runs the scripts again: both sides end deployed.
        site.m365_deployment_state = deployment_state::DEPLOYED;
        site.sbc_deployment_state = deployment_state::DEPLOYED;
        succeeded(
            json!({"siteLocationId": site_id}),
            "SIP connection modified",
        )
    }

    fn end_delete_site(&mut self, site_id: &str, fails: bool) -> Ending {
        if fails {
            if let Some(site) = self.sites.get_mut(site_id) {
                site.sbc_deployment_state = deployment_state::DEPLOYED;
            }
            return failed(
                json!({"siteLocationId": site_id}),
                "SBC cleanup script failed. Retry the delete.",
            );
        }
        if let Some(site) = self.sites.remove(site_id) {
            self.dial_plans.retain(|_, p| {
                !(p.customer_guid == site.customer_guid && p.site_location_id == site.id)
            });
        }
        succeeded(json!({"siteLocationId": site_id}), "SIP connection removed")
    }

    fn end_provision(
        &mut self,
        guid: &str,
        sip: &str,
        settings: serde_json::Map<String, Value>,
        fails: bool,
    ) -> Ending {
        let Some(tenant) = self.customers.get(guid).map(|c| c.tenant_id.clone()) else {
            return failed(json!({}), "The customer no longer exists.");
        };
        if fails {
            return failed(
                json!({"sipAddress": sip}),
                "The Teams PowerShell script failed. Retry the request.",
            );
        }
        let line_uri = settings
            .get("LineURI")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(uri) = &line_uri {
            let number = number_of(uri);
            match self.numbers.get(&number) {
                Some(rec)
                    if rec.tenant_id == tenant
                        && rec.acquired_number_status == number_status::ACTIVE => {}
                _ => {
                    return failed(
                        json!({"sipAddress": sip}),
                        format!(
                            "LineURI {uri}: {number} is not an active number of this customer; upload it first."
                        ),
                    );
                }
            }
        }
        let key = user_key(guid, sip);
        let previous = self.users.get(&key).and_then(|u| u.line_uri.clone());
        if let Some(prev) = previous.filter(|p| Some(p) != line_uri.as_ref()) {
            let number = number_of(&prev);
            if let Some(rec) = self.numbers.get_mut(&number) {
                rec.assignment_status = number_status::UNASSIGNED.into();
            }
        }
        if let Some(uri) = &line_uri {
            let number = number_of(uri);
            if let Some(rec) = self.numbers.get_mut(&number) {
                rec.assignment_status = number_status::USER_ASSIGNED.into();
            }
        }
        let user = self
            .users
            .entry(key)
            .or_insert_with(|| super::state::UserRec {
                customer_guid: guid.to_owned(),
                sip_address: sip.to_owned(),
                object_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            });
        let text = |k: &str| settings.get(k).and_then(Value::as_str).map(str::to_owned);
        user.line_uri = line_uri;
        user.usage_location = text("UsageLocation").or(user.usage_location.take());
        user.teams_calling_policy = text("TeamsCallingPolicy").or(user.teams_calling_policy.take());
        user.online_voice_routing_policy =
            text("OnlineVoiceRoutingPolicy").or(user.online_voice_routing_policy.take());
        if let Some(v) = settings
            .get("EnterpriseVoiceEnabled")
            .and_then(Value::as_bool)
        {
            user.enterprise_voice_enabled = v;
        }
        for (k, v) in settings {
            user.settings.insert(k, v);
        }
        succeeded(
            json!({"sipAddress": sip, PROVISIONED_OBJECT_ID: user.object_id}),
            "End user provisioned",
        )
    }
}

/// How a task ended: its final status, output data and execution messages.
type Ending = (&'static str, Value, Vec<(String, String)>);

fn failed(output: Value, message: impl Into<String>) -> Ending {
    ("Failed", output, vec![err(message)])
}

fn succeeded(output: Value, message: impl Into<String>) -> Ending {
    ("CompletedSuccess", output, vec![info(message)])
}

fn info(message: impl Into<String>) -> (String, String) {
    ("Information".into(), message.into())
}

fn err(message: impl Into<String>) -> (String, String) {
    ("Error".into(), message.into())
}

fn number_error_message(code: &str) -> &'static str {
    match code {
        number_error::UNKNOWN_COUNTRY_CODE => {
            "The number's country code is not supported by the calling profile."
        }
        number_error::UNABLE_TO_RETRIEVE_LOCATION => {
            "The civic address or location could not be found."
        }
        number_error::NUMBER_IN_USE => "The number is already acquired by another tenant.",
        _ => "An internal error occurred while uploading the number.",
    }
}

/// `GET /v2/task/{taskId}`.
pub async fn get_task(
    AxState(app): AxState<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = app.lock_state();
    let task = state
        .tasks
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("Task {id} not found")))?;
    let messages: Vec<Value> = task
        .messages
        .iter()
        .map(|(l, m)| json!({"level": l, "message": m}))
        .collect();
    Ok(Json(json!({
        "id": task.id,
        "status": task.status,
        "details": [],
        "executionMessages": messages,
        "outputData": task.output,
        "createTime": task.create_time,
        "completeTime": task.complete_time,
        "cancellationRequested": false,
        "totalNumbersCount": task.total_numbers,
    })))
}

/// The number of a line URI: `tel:+14255550100;ext=12` -> `+14255550100`.
fn number_of(line_uri: &str) -> String {
    line_uri
        .trim_start_matches("tel:")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned()
}
