//! Teams end users of a customer (OC Essentials Plus and OC Pro only).

use axum::extract::{Extension, Path, State as AxState};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::App;
use super::customers::customer_not_found;
use super::gate::ChannelScope;
use super::problem::{ApiError, FieldErrors};
use super::request::{self, Query, RawBody, is_e164};
use super::state::{CustomerRec, State, TaskKind, UserRec};
use liveplatform_contract::LICENSE_REQUIRED_CODE;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/v3/customer/{guid}/user", get(list_users))
        .route("/v2/customer/{guid}/user/{sip}/script", put(provision))
}

/// The customer, if its licence allows end users.
fn licensed(state: &State, scope: ChannelScope, guid: &str) -> Result<CustomerRec, ApiError> {
    let customer = state
        .customer(scope.0, guid)
        .cloned()
        .ok_or_else(|| customer_not_found(guid))?;
    if !(4..=5).contains(&customer.license_type) {
        return Err(ApiError::Problem {
            status: StatusCode::FORBIDDEN,
            title: "Forbidden".into(),
            detail: format!(
                "Customer {} has licence type {}; end users need OC Essentials Plus (4) or OC Pro (5). Upgrade the licence first.",
                customer.guid, customer.license_type
            ),
            error_code: Some(LICENSE_REQUIRED_CODE.into()),
        });
    }
    Ok(customer)
}

fn user_json(u: &UserRec) -> Value {
    json!({
        "Identity": u.sip_address,
        "SipAddress": format!("sip:{}", u.sip_address),
        "LineURI": u.line_uri,
        "UsageLocation": u.usage_location,
        "ObjectId": u.object_id,
        "UserPrincipalName": u.sip_address,
        "EnterpriseVoiceEnabled": u.enterprise_voice_enabled,
        "OnlineVoiceRoutingPolicy": u.online_voice_routing_policy,
        "TeamsCallingPolicy": u.teams_calling_policy,
        "OnlinePstnGateway": null,
    })
}

async fn list_users(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path(guid): Path<String>,
    query: Query,
) -> Result<Json<Value>, ApiError> {
    let page = query.int("PageNumber", 1)?;
    let size = query.int("PageSize", 100)?;
    if page < 1 {
        return Err(ApiError::field(
            "PageNumber",
            "PageNumber must be 1 or more.",
        ));
    }
    if !(2..=10_000).contains(&size) {
        return Err(ApiError::field(
            "PageSize",
            "PageSize must be between 2 and 10000.",
        ));
    }
    let state = app.lock_state();
    let customer = licensed(&state, scope, &guid)?;
    let users: Vec<&UserRec> = state
        .users
        .values()
        .filter(|u| u.customer_guid == customer.guid)
        .collect();
    let total = users.len() as i64;
    let data: Vec<Value> = users
        .iter()
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .map(|u| user_json(u))
        .collect();
    Ok(Json(json!({
        "currentPage": page, "pageSize": size, "totalPages": (total + size - 1) / size,
        "totalRecords": total, "data": data,
    })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Provision {
    first_name: Option<String>,
    last_name: Option<String>,
    city: Option<String>,
    department: Option<String>,
    office: Option<String>,
    postal_code: Option<String>,
    state_or_province: Option<String>,
    street_address: Option<String>,
    usage_location: Option<String>,
    enterprise_voice_enabled: Option<bool>,
    teams_calling_policy: Option<String>,
    online_voice_routing_policy: Option<String>,
    hosted_voice_mail: Option<bool>,
    line_uri: Option<String>,
}

fn valid_line_uri(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("tel:") else {
        return false;
    };
    let number = rest.split(';').next().unwrap_or_default();
    is_e164(number)
        && rest[number.len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ";=".contains(c))
}

async fn provision(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path((guid, sip)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let body: Provision = request::body(&body)?;
    let mut errors = FieldErrors::default();
    let sip = sip.trim_start_matches("sip:").to_owned();
    if !sip.contains('@') || sip.len() > 256 {
        errors.add(
            "SipAddress",
            format!("'{sip}' is not a SIP address (user@domain)."),
        );
    }
    if let Some(uri) = &body.line_uri
        && !valid_line_uri(uri)
    {
        errors.add(
            "LineURI",
            format!("'{uri}' is not a line URI of the form tel:+<E.164>[;ext=<digits>]."),
        );
    }
    if let Some(loc) = &body.usage_location
        && (loc.len() != 2 || !loc.chars().all(|c| c.is_ascii_uppercase()))
    {
        errors.add(
            "UsageLocation",
            "The usage location is an ISO 3166 alpha-2 country code, such as US.",
        );
    }
    errors.into_result()?;
    let timing = app.next_task();
    let mut state = app.lock_state();
    let customer = licensed(&state, scope, &guid)?;
    let running = state.tasks.values().any(|t| {
        !t.is_final()
            && matches!(&t.kind, TaskKind::ProvisionUser { customer_guid, sip_address, .. }
                if customer_guid == &customer.guid && sip_address.eq_ignore_ascii_case(&sip))
    });
    if running {
        return Err(ApiError::busy(format!(
            "A provisioning task for {sip} is already running."
        )));
    }
    let mut settings = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            settings.insert(k.to_owned(), v);
        }
    };
    put("FirstName", body.first_name.map(Value::String));
    put("LastName", body.last_name.map(Value::String));
    put("City", body.city.map(Value::String));
    put("Department", body.department.map(Value::String));
    put("Office", body.office.map(Value::String));
    put("PostalCode", body.postal_code.map(Value::String));
    put("StateOrProvince", body.state_or_province.map(Value::String));
    put("StreetAddress", body.street_address.map(Value::String));
    put("UsageLocation", body.usage_location.map(Value::String));
    put(
        "EnterpriseVoiceEnabled",
        body.enterprise_voice_enabled.map(Value::Bool),
    );
    put(
        "TeamsCallingPolicy",
        body.teams_calling_policy.map(Value::String),
    );
    put(
        "OnlineVoiceRoutingPolicy",
        body.online_voice_routing_policy.map(Value::String),
    );
    put("HostedVoiceMail", body.hosted_voice_mail.map(Value::Bool));
    put("LineURI", body.line_uri.map(Value::String));
    let task = state.next_int_task_id();
    state.add_task(
        task.clone(),
        TaskKind::ProvisionUser {
            customer_guid: customer.guid,
            sip_address: sip,
            settings,
        },
        timing,
        None,
    );
    Ok(Json(json!({"taskId": task})))
}
