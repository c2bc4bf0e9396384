//! Licences and customers ("services").

use axum::extract::{Extension, Path, State as AxState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::App;
use super::gate::ChannelScope;
use super::problem::{ApiError, FieldErrors};
use super::request::{self, Query, RawBody, is_guid};
use super::state::{CustomerRec, State, TaskKind, now_text};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/v3/customer", post(create_customer).get(list_services))
        .route("/v2/customer", get(list_customers_brief))
        .route("/v2/customer/{guid}/action/upgrade", post(upgrade_license))
        .route(
            "/v3/customer/{guid}",
            get(get_customer).patch(change_license),
        )
        .route("/v3/customer/{guid}/licenseinfo", get(license_info))
        .route("/v2/customer/{guid}", axum::routing::delete(delete_service))
}

pub const CONFIGURATIONS: [&str; 2] = ["OcEssential_TENANT_TYPE", "OcEssential_IPGROUP_TYPE"];

pub fn customer_not_found(guid: &str) -> ApiError {
    ApiError::Bare(
        StatusCode::NOT_FOUND,
        format!("Customer with {guid} not found"),
    )
}

/// The customer `guid` as the caller's channel scope sees it, or the platform's
/// not-found answer.
pub fn visible_customer<'a>(
    state: &'a State,
    scope: ChannelScope,
    guid: &str,
) -> Result<&'a CustomerRec, ApiError> {
    state
        .customer(scope.0, guid)
        .ok_or_else(|| customer_not_found(guid))
}

fn invalid_license_change() -> ApiError {
    ApiError::Bare(
        StatusCode::BAD_REQUEST,
        "Invalid change for License Type!".into(),
    )
}

/// The platform's short-name rule [doc]: 3-15 characters, no spaces or dots, none of
/// `\ / : * ? " < > |`.
pub fn short_name_problem(name: &str) -> Option<&'static str> {
    let len = name.chars().count();
    if !(3..=15).contains(&len) {
        return Some("The customer short name must be 3 to 15 characters long.");
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c == '.' || "\\/:*?\"<>|".contains(c))
    {
        return Some(
            "The customer short name must not contain spaces, dots or any of \\ / : * ? \" < > |.",
        );
    }
    None
}

#[derive(Deserialize)]
struct CreateCustomer {
    configuration_name: Option<String>,
    customer_short_name: Option<String>,
    customer_full_name: Option<String>,
    ms_tenant_id: Option<String>,
    #[serde(default)]
    script_parameters: Option<Map<String, Value>>,
}

async fn create_customer(
    AxState(app): AxState<App>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let body: CreateCustomer = request::body(&body)?;
    let mut errors = FieldErrors::default();
    let configuration = body.configuration_name.unwrap_or_default();
    if !CONFIGURATIONS.contains(&configuration.as_str()) {
        errors.add(
            "ConfigurationName",
            format!(
                "The configuration name must be one of {}.",
                CONFIGURATIONS.join(", ")
            ),
        );
    }
    let short = body.customer_short_name.unwrap_or_default();
    if let Some(problem) = short_name_problem(&short) {
        errors.add("CustomerShortName", problem);
    }
    let full = body.customer_full_name.unwrap_or_default();
    if full.trim().is_empty() || full.chars().count() > 256 {
        errors.add(
            "CustomerFullName",
            "The customer full name is required (at most 256 characters).",
        );
    }
    let tenant = body.ms_tenant_id.unwrap_or_default().to_ascii_lowercase();
    if !is_guid(&tenant) {
        errors.add("MsTenantID", "The MsTenantID must be a GUID.");
    }
    errors.into_result()?;

    let timing = app.next_task();
    let mut state = app.lock_state();
    let mut errors = FieldErrors::default();
    let taken = state.customers.values().any(|c| c.short_name.eq_ignore_ascii_case(&short))
        || state.tasks.values().any(|t| {
            !t.is_final() && matches!(&t.kind, TaskKind::CreateCustomer { customer } if customer.short_name.eq_ignore_ascii_case(&short))
        });
    if taken {
        errors.add(
            "CustomerShortName",
            format!("The customer short name '{short}' is already used."),
        );
    }
    match state.leads.get(&tenant) {
        None => errors.add(
            "MsTenantID",
            "No lead exists for this tenant; create the consentless lead first.",
        ),
        Some(lead) if lead.status != "Active" => {
            errors.add(
                "MsTenantID",
                format!(
                    "The lead is {}; only an Active lead can become a customer.",
                    lead.status
                ),
            );
        }
        Some(lead) if lead.ump_customer_guid.is_some() => {
            errors.add("MsTenantID", "A customer already exists for this lead.");
        }
        Some(lead) if lead.pending_customer_task.is_some() => {
            errors.add(
                "MsTenantID",
                "A customer is already being created for this lead.",
            );
        }
        Some(_) => {}
    }
    errors.into_result()?;
    let customer = CustomerRec {
        guid: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant.clone(),
        short_name: short,
        full_name: full,
        configuration_name: configuration,
        license_type: 3,
        license_count: 0,
        script_parameters: body.script_parameters.unwrap_or_default(),
        created: now_text(),
        application_client_id: uuid::Uuid::new_v4().to_string(),
        pending_upgrade_task: None,
    };
    let id = format!("wst_{}", uuid::Uuid::new_v4());
    state.add_task(
        id.clone(),
        TaskKind::CreateCustomer {
            customer: Box::new(customer),
        },
        timing,
        None,
    );
    if let Some(lead) = state.leads.get_mut(&tenant) {
        lead.pending_customer_task = Some(id.clone());
    }
    Ok(Json(json!({"jobId": id})))
}

#[derive(Deserialize)]
struct LicenseChange {
    upgrade_to_license: Option<i64>,
    license_count: Option<i64>,
}

fn read_change(body: &bytes::Bytes) -> Result<(i64, i64), ApiError> {
    let body: LicenseChange = request::body(body)?;
    let mut errors = FieldErrors::default();
    if body.upgrade_to_license.is_none() {
        errors.add(
            "UpgradeToLicense",
            "The UpgradeToLicense field is required.",
        );
    }
    match body.license_count {
        Some(n) if n >= 1 => {}
        _ => errors.add("LicenseCount", "The LicenseCount must be 1 or more."),
    }
    errors.into_result()?;
    Ok((
        body.upgrade_to_license.unwrap_or_default(),
        body.license_count.unwrap_or_default(),
    ))
}

async fn upgrade_license(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path(guid): Path<String>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let (to, count) = read_change(&body)?;
    let timing = app.next_task();
    let mut state = app.lock_state();
    let customer = visible_customer(&state, scope, &guid)?;
    if customer.license_type != 3
        || !(4..=5).contains(&to)
        || customer.pending_upgrade_task.is_some()
    {
        return Err(invalid_license_change());
    }
    let guid = customer.guid.clone();
    let id = state.next_int_task_id();
    state.add_task(
        id.clone(),
        TaskKind::UpgradeLicense {
            customer_guid: guid.clone(),
            license_type: to,
            license_count: count,
        },
        timing,
        None,
    );
    if let Some(c) = state.customers.get_mut(&guid) {
        c.pending_upgrade_task = Some(id.clone());
    }
    Ok(Json(Value::String(id)))
}

async fn change_license(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path(guid): Path<String>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let (to, count) = read_change(&body)?;
    let mut state = app.lock_state();
    let key = visible_customer(&state, scope, &guid)?.guid.clone();
    let customer = state
        .customers
        .get_mut(&key)
        .ok_or_else(|| customer_not_found(&guid))?;
    if !(4..=5).contains(&customer.license_type) || !(4..=5).contains(&to) {
        return Err(invalid_license_change());
    }
    customer.license_type = to;
    customer.license_count = count;
    Ok(Json(json!(1)))
}

async fn license_info(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path(guid): Path<String>,
    query: Query,
) -> Result<Json<Value>, ApiError> {
    let months = query.int("nrOfMonths", 1)?;
    if !(1..=12).contains(&months) {
        return Err(ApiError::field(
            "nrOfMonths",
            "nrOfMonths must be between 1 and 12.",
        ));
    }
    let state = app.lock_state();
    let customer = visible_customer(&state, scope, &guid)?;
    let users = state
        .users
        .values()
        .filter(|u| u.customer_guid == customer.guid)
        .count();
    let voice = state
        .users
        .values()
        .filter(|u| u.customer_guid == customer.guid && u.enterprise_voice_enabled)
        .count();
    let numbers = state
        .numbers
        .values()
        .filter(|n| n.tenant_id == customer.tenant_id)
        .count();
    let now = jiff::Timestamp::now();
    let age_days = customer
        .created
        .parse::<jiff::Timestamp>()
        .map(|created| (now.as_second() - created.as_second()) / 86_400)
        .unwrap_or(0);
    let count = (30 * months).min(age_days + 1);
    // One record a day, dated at the start of its (UTC) day: reading the same day's
    // record twice gives the same answer, as from a daily job.
    let today = now.as_second() - now.as_second().rem_euclid(86_400);
    let records: Vec<Value> = (0..count)
        .map(|i| {
            let day = today - i * 86_400;
            let date = jiff::Timestamp::from_second(day)
                .map(|t| t.to_string())
                .unwrap_or_default();
            json!({
                "acquiredLicenses": customer.license_count,
                "totalMonitoredUsers": users,
                "currentlyLicensed": voice,
                "managedUsersOperatorConnect": users,
                "managedServiceNumbers": numbers,
                "lastUpdate": date,
                "umpCustomerGuid": customer.guid,
            })
        })
        .collect();
    Ok(Json(Value::Array(records)))
}

/// A customer in the V3 PascalCase shape.
fn service_json(state: &State, c: &CustomerRec, all_details: bool) -> Value {
    let active = state
        .users
        .values()
        .filter(|u| u.customer_guid == c.guid && u.enterprise_voice_enabled)
        .count();
    let mut v = json!({
        "UmpCustomerGuid": c.guid,
        "CustomerShortName": c.short_name,
        "CustomerFullName": c.full_name,
        "LicenseType": c.license_type,
        "LicensedUsersCount": c.license_count,
        "MsTenantId": c.tenant_id,
        "ActiveUserCount": active,
    });
    if all_details {
        let sites: Vec<Value> = state
            .sites
            .values()
            .filter(|s| s.customer_guid == c.guid)
            .map(|s| {
                json!({"id": s.id, "name": s.name, "sbcId": s.sbc_id,
                       "sbcDeploymentState": s.sbc_deployment_state, "sbcConfigurationType": s.customer_type})
            })
            .collect();
        v["SiteLocation"] = Value::Array(sites);
    }
    v
}

async fn list_services(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    query: Query,
) -> Result<Json<Value>, ApiError> {
    let all = query.bool("allDetails")?;
    let state = app.lock_state();
    let list: Vec<Value> = state
        .customers
        .values()
        .filter(|c| state.channel_allows(scope.0, &c.tenant_id))
        .map(|c| service_json(&state, c, all))
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn list_customers_brief(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
) -> Json<Value> {
    let state = app.lock_state();
    let list: Vec<Value> = state
        .customers
        .values()
        .filter(|c| state.channel_allows(scope.0, &c.tenant_id))
        .map(|c| json!({"Id": c.guid, "ShortName": c.short_name, "FullName": c.full_name, "LicenseType": c.license_type}))
        .collect();
    Json(Value::Array(list))
}

async fn get_customer(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path(guid): Path<String>,
    query: Query,
) -> Result<Json<Value>, ApiError> {
    let all = query.bool("allDetails")?;
    let state = app.lock_state();
    let c = visible_customer(&state, scope, &guid)?;
    let mut v = service_json(&state, c, all);
    v["MsDefaultDomain"] = json!(format!(
        "{}.onmicrosoft.com",
        c.short_name.to_ascii_lowercase()
    ));
    v["ApplicationClientId"] = json!(c.application_client_id);
    v["ApplicationClientSecret"] = json!(liveplatform_contract::MASKED_SECRET);
    v["ClientSecretExpirationDate"] = json!("2099-12-31T00:00:00Z");
    Ok(Json(v))
}

async fn delete_service(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path(guid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut state = app.lock_state();
    let c = visible_customer(&state, scope, &guid)?.clone();
    state.customers.remove(&c.guid);
    state.sites.retain(|_, s| s.customer_guid != c.guid);
    state.dial_plans.retain(|_, p| p.customer_guid != c.guid);
    state.users.retain(|_, u| u.customer_guid != c.guid);
    if let Some(lead) = state.leads.get_mut(&c.tenant_id) {
        lead.ump_customer_guid = None;
        lead.last_modified_on = now_text();
    }
    Ok(Json(json!(1)))
}
