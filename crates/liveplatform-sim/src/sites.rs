//! SIP connections (site locations on an SBC).

use axum::extract::{Extension, Path, State as AxState};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::App;
use super::customers::visible_customer;
use super::gate::ChannelScope;
use super::problem::{ApiError, FieldErrors};
use super::request::{self, RawBody};
use super::state::{SiteRec, State, TaskKind};
use liveplatform_contract::{MASKED_SECRET, deployment_state};

pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/v2/customer/{guid}/sitelocation/",
            post(add_site).patch(modify_site),
        )
        .route(
            "/v2/customer/{guid}/sitelocation",
            post(add_site).patch(modify_site),
        )
        .route("/v2/sitelocation/{id}", get(get_site).delete(delete_site))
}

/// The script parameter that carries the carrier password.
const PASSWORD_PARAM: &str = "CarrierUserPassword";
const CUSTOMER_TYPES: [&str; 2] = ["IPGROUP_TYPE", "TENANT_TYPE"];

fn text(v: &Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn site_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Site location {id} not found"))
}

fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

#[derive(Deserialize)]
struct AddSite {
    site_location_name: Option<String>,
    ovoc_customer_type: Option<String>,
    sbc_id: Option<Value>,
    sbc_onboarding_script: Option<String>,
    sbc_cleanup_script: Option<String>,
    #[serde(default)]
    script_parameters: Map<String, Value>,
}

fn check_sbc(state: &State, errors: &mut FieldErrors, sbc: &str) {
    if !state.seed.sbc_ids().any(|id| id == sbc) {
        errors.add("SbcId", format!("SBC '{sbc}' is not mapped by any calling profile; see the calling-profile SBC mapping."));
    }
}

async fn add_site(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path(guid): Path<String>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let body: AddSite = request::body(&body)?;
    let timing = app.next_task();
    let mut state = app.lock_state();
    let customer = visible_customer(&state, scope, &guid)?.clone();
    let mut errors = FieldErrors::default();
    let name = body
        .site_location_name
        .unwrap_or_default()
        .trim()
        .to_owned();
    if name.is_empty() || name.chars().count() > 64 {
        errors.add(
            "SiteLocationName",
            "The site location name is required (at most 64 characters).",
        );
    } else if state
        .sites
        .values()
        .any(|s| s.customer_guid == customer.guid && s.name.eq_ignore_ascii_case(&name))
    {
        errors.add(
            "SiteLocationName",
            format!("The customer already has a site location named '{name}'."),
        );
    }
    let customer_type = body
        .ovoc_customer_type
        .unwrap_or_else(|| "IPGROUP_TYPE".into());
    if !CUSTOMER_TYPES.contains(&customer_type.as_str()) {
        errors.add(
            "OvocCustomerType",
            format!(
                "The customer type must be one of {}.",
                CUSTOMER_TYPES.join(", ")
            ),
        );
    }
    let sbc = text(&body.sbc_id).unwrap_or_default();
    check_sbc(&state, &mut errors, &sbc);
    errors.into_result()?;
    let mut params = body.script_parameters;
    let password = params
        .keys()
        .find(|k| k.eq_ignore_ascii_case(PASSWORD_PARAM))
        .cloned()
        .and_then(|k| params.remove(&k))
        .and_then(|v| v.as_str().map(str::to_owned));
    let site_id = uuid::Uuid::new_v4().to_string();
    let task = state.next_int_task_id();
    state.sites.insert(
        site_id.clone(),
        SiteRec {
            id: site_id.clone(),
            customer_guid: customer.guid.clone(),
            tenant_id: customer.tenant_id.clone(),
            name,
            customer_type,
            sbc_id: sbc,
            onboarding_script: body.sbc_onboarding_script,
            cleanup_script: body.sbc_cleanup_script,
            cac_profile: param(&params, "CacProfile").map(str::to_owned),
            script_parameters: params,
            has_carrier_password: password.is_some(),
            carrier_password: password,
            enable_cac: false,
            flag_configure_sbc: true,
            flag_carrier_registration: false,
            sbc_deployment_state: deployment_state::DEPLOYING,
            m365_deployment_state: deployment_state::DEPLOYING,
            pending_tasks: vec![task.clone()],
        },
    );
    state.add_task(
        task.clone(),
        TaskKind::AddSite {
            site_id: site_id.clone(),
        },
        timing,
        None,
    );
    Ok(Json(json!({"siteLocationId": site_id, "taskId": task})))
}

#[derive(Deserialize)]
struct ModifySite {
    site_location_id: Option<String>,
    sbc_id: Option<Value>,
    sbc_site_name: Option<String>,
    cac_profile: Option<String>,
    enable_cac: Option<bool>,
    flag_configure_sbc: Option<bool>,
    flag_carrier_registration: Option<bool>,
}

async fn modify_site(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path(guid): Path<String>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let body: ModifySite = request::body(&body)?;
    let timing = app.next_task();
    let mut state = app.lock_state();
    let customer = visible_customer(&state, scope, &guid)?.clone();
    let site_id = body.site_location_id.clone().unwrap_or_default();
    if site_id.is_empty() {
        return Err(ApiError::field(
            "SiteLocationId",
            "The SiteLocationId field is required.",
        ));
    }
    let site = state
        .sites
        .get(&site_id)
        .filter(|s| s.customer_guid == customer.guid)
        .ok_or_else(|| site_not_found(&site_id))?;
    if let Some(pending) = site.pending_tasks.first() {
        return Err(ApiError::busy(format!(
            "Site location {site_id} has a running task ({pending}); wait for it to end."
        )));
    }
    let mut changes = Map::new();
    let mut errors = FieldErrors::default();
    if let Some(sbc) = text(&body.sbc_id) {
        check_sbc(&state, &mut errors, &sbc);
        changes.insert("sbc_id".into(), json!(sbc));
    }
    if let Some(name) = body.sbc_site_name.filter(|n| !n.trim().is_empty()) {
        changes.insert("sbc_site_name".into(), json!(name));
    }
    for (key, value) in [
        ("cac_profile", body.cac_profile.map(Value::String)),
        ("enable_cac", body.enable_cac.map(Value::Bool)),
        (
            "flag_configure_sbc",
            body.flag_configure_sbc.map(Value::Bool),
        ),
        (
            "flag_carrier_registration",
            body.flag_carrier_registration.map(Value::Bool),
        ),
    ] {
        if let Some(value) = value {
            changes.insert(key.into(), value);
        }
    }
    errors.into_result()?;
    let task = state.next_int_task_id();
    if let Some(site) = state.sites.get_mut(&site_id) {
        site.sbc_deployment_state = deployment_state::DEPLOYING;
        site.pending_tasks.push(task.clone());
    }
    state.add_task(
        task.clone(),
        TaskKind::ModifySite { site_id, changes },
        timing,
        None,
    );
    Ok(Json(json!({"taskId": task})))
}

async fn get_site(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = app.lock_state();
    let s = state
        .sites
        .get(&id)
        .filter(|s| state.channel_allows(scope.0, &s.tenant_id))
        .ok_or_else(|| site_not_found(&id))?;
    let mut variables = s.script_parameters.clone();
    if s.has_carrier_password {
        variables.insert(PASSWORD_PARAM.into(), json!(MASKED_SECRET));
    }
    let p = |name: &str| param(&s.script_parameters, name);
    Ok(Json(json!({
        "tenantId": s.tenant_id,
        "siteName": s.name,
        "onlinePstnGateway": p("OnlinePstnGateway"),
        "m365DeploymentState": s.m365_deployment_state,
        "sbcDeploymentState": s.sbc_deployment_state,
        "pendingTasks": s.pending_tasks,
        "m365Info": {"m365Scripts": {"onboarding": "New-CsOnlinePSTNGateway", "cleanup": "Remove-CsOnlinePSTNGateway"}},
        "sbcInfo": {
            "sbcConfigurationType": s.customer_type,
            "cacProfile": s.cac_profile,
            "carrierHostName": p("CarrierHostName"),
            "carrierId": p("CarrierId"),
            "carrierMainLine": p("CarrierMainLine"),
            "carrierUserName": p("CarrierUserName"),
            "flagConfigureSbc": s.flag_configure_sbc,
            "sbcId": s.sbc_id,
            "sbcScripts": {
                "onboardingScript": s.onboarding_script,
                "cleanupScript": s.cleanup_script,
                "customerVariables": variables,
            },
        },
    })))
}

async fn delete_site(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let timing = app.next_task();
    let mut state = app.lock_state();
    let site = state
        .sites
        .get(&id)
        .filter(|s| state.channel_allows(scope.0, &s.tenant_id))
        .ok_or_else(|| site_not_found(&id))?;
    if site.sbc_deployment_state == deployment_state::REMOVING {
        let pending = site.pending_tasks.first().cloned().unwrap_or_default();
        return Err(ApiError::busy(format!(
            "Site location {id} is already being removed ({pending})."
        )));
    }
    let task = state.next_int_task_id();
    if let Some(site) = state.sites.get_mut(&id) {
        site.sbc_deployment_state = deployment_state::REMOVING;
        site.m365_deployment_state = deployment_state::REMOVING;
        site.pending_tasks = vec![task.clone()];
    }
    state.add_task(
        task.clone(),
        TaskKind::DeleteSite { site_id: id },
        timing,
        None,
    );
    Ok(Json(
        json!({"status": true, "msg": "queued", "sbcCleanupTaskId": task, "o365CleanupTask": "tsk_0"}),
    ))
}
