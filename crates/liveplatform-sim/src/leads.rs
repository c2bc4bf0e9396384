//! Leads (consentless) and channels.

use axum::extract::{Extension, Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::gate::ChannelScope;
use super::problem::{ApiError, FieldErrors};
use super::request::{self, Query, RawBody, is_guid, required_guid};
use super::state::{LeadRec, State, now_text};

pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/v2/oc/lead",
            get(get_leads).post(create_lead).delete(delete_lead),
        )
        .route("/v3/ovoc/channel/action/assign", put(assign_channel))
        .route("/v3/ovoc/channel/action/remove/", put(remove_channel))
        .route("/v3/ovoc/channel/action/remove", put(remove_channel))
        .route(
            "/ovoc/v1/topology/channels/",
            axum::routing::post(create_channel),
        )
        .route(
            "/ovoc/v1/topology/channels",
            axum::routing::post(create_channel),
        )
        .route("/ovoc/v1/topology/channels/{id}", get(get_channel))
}

fn invalid_lead() -> ApiError {
    ApiError::Bare(StatusCode::NOT_FOUND, "Invalild lead".into())
}

/// A lead in the platform's answer shape.
pub fn lead_json(state: &State, lead: &LeadRec) -> Value {
    json!({
        "id": lead.id,
        "tenantId": lead.tenant_id,
        "isDirectLead": true,
        "status": lead.status,
        "umpCustomerGuid": lead.ump_customer_guid,
        "isNotActive": lead.status != "Active",
        "channelId": lead.channel_id,
        "ovocChannelId": lead.channel_id,
        "tenantOrigin": "Direct",
        "operatorId": state.seed.sp_tenant_id,
        "consentedOn": lead.consented_on,
        "lastModifiedOn": lead.last_modified_on,
        "consentedCountries": [],
        "comments": null,
        "contactDetails": {
            "fullName": null, "email": null, "phoneNumber": null,
            "companyName": lead.company_name, "companySize": null
        },
        "contacts": [],
        "civicAddresses": [],
    })
}

#[derive(Deserialize)]
struct CreateLead {
    tenant_id: Option<String>,
    company_name: Option<String>,
}

async fn create_lead(
    AxState(app): AxState<App>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let body: CreateLead = request::body(&body)?;
    let mut errors = FieldErrors::default();
    let tenant = body
        .tenant_id
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let company = body.company_name.unwrap_or_default().trim().to_owned();
    if tenant.is_empty() {
        errors.add("TenantId", "The TenantId field is required.");
    } else if !is_guid(&tenant) {
        errors.add(
            "TenantId",
            format!("The value '{tenant}' is not a valid GUID."),
        );
    }
    if company.is_empty() {
        errors.add("CompanyName", "The CompanyName field is required.");
    } else if company.chars().count() > 256 {
        errors.add(
            "CompanyName",
            "The CompanyName must be at most 256 characters.",
        );
    }
    errors.into_result()?;
    let mut state = app.lock_state();
    let mut errors = FieldErrors::default();
    if !state.knows_tenant(&tenant) {
        errors.add(
            "TenantId",
            format!("The tenant '{tenant}' was not found in Microsoft Entra ID."),
        );
    }
    if state.leads.contains_key(&tenant) {
        errors.add("TenantId", "This MsTenant already exists as an UMP lead!");
    }
    if state
        .leads
        .values()
        .any(|l| l.company_name.eq_ignore_ascii_case(&company))
    {
        errors.add(
            "CompanyName",
            "Company name is already used for an UMP lead.",
        );
    }
    errors.into_result()?;
    let now = now_text();
    let lead = LeadRec {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant.clone(),
        company_name: company,
        status: "Active".into(),
        ump_customer_guid: None,
        channel_id: None,
        consented_on: now.clone(),
        last_modified_on: now,
        pending_customer_task: None,
    };
    let answer = lead_json(&state, &lead);
    state.leads.insert(tenant, lead);
    Ok(Json(answer))
}

async fn get_leads(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    query: Query,
) -> Result<Json<Value>, ApiError> {
    let state = app.lock_state();
    if query.get("msTenantId").is_some() {
        // Get Specific OC Lead: a plain array.
        let tenant = required_guid(&query, "msTenantId")?;
        let leads: Vec<Value> = state
            .leads
            .get(&tenant)
            .filter(|_| state.channel_allows(scope.0, &tenant))
            .map(|l| lead_json(&state, l))
            .into_iter()
            .collect();
        return Ok(Json(Value::Array(leads)));
    }
    // Get All OC Leads: paged, doubly wrapped as the manual shows.
    let page = query.int("PageNumber", 1)?;
    let size = query.int("PageSize", 10)?;
    if page < 1 {
        return Err(ApiError::field(
            "PageNumber",
            "PageNumber must be 1 or more.",
        ));
    }
    if !(1..=20_000).contains(&size) {
        return Err(ApiError::field(
            "PageSize",
            "PageSize must be between 1 and 20000.",
        ));
    }
    query.bool("checkOnline")?;
    let leads: Vec<Value> = state
        .leads
        .values()
        .filter(|l| state.channel_allows(scope.0, &l.tenant_id))
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .map(|l| lead_json(&state, l))
        .collect();
    Ok(Json(json!([leads])))
}

async fn delete_lead(AxState(app): AxState<App>, query: Query) -> Result<Json<Value>, ApiError> {
    let tenant = required_guid(&query, "msTenantId")?;
    let mut state = app.lock_state();
    let lead = state.leads.get(&tenant).ok_or_else(invalid_lead)?;
    if lead.ump_customer_guid.is_some() || lead.pending_customer_task.is_some() {
        return Err(ApiError::Bare(
            StatusCode::BAD_REQUEST,
            "The lead has a licensed customer; delete the service first.".into(),
        ));
    }
    state.leads.remove(&tenant);
    Ok(Json(json!(1)))
}

#[derive(Deserialize)]
struct AssignChannel {
    lead_ms_tenant_id: Option<String>,
    lead_id: Option<String>,
    ump_customer_guid: Option<String>,
    channel_id: Option<Value>,
}

async fn assign_channel(
    AxState(app): AxState<App>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let body: AssignChannel = request::body(&body)?;
    let refs = [
        &body.lead_ms_tenant_id,
        &body.lead_id,
        &body.ump_customer_guid,
    ]
    .iter()
    .filter(|r| r.as_deref().is_some_and(|s| !s.is_empty()))
    .count();
    if refs != 1 {
        return Err(ApiError::field(
            "Lead",
            "Give exactly one of leadMsTenantId, leadId or umpCustomerGuid.",
        ));
    }
    let channel_id = match &body.channel_id {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::field(
            "ChannelId",
            "The ChannelId field is required and must be an integer.",
        )
    })?;
    let mut state = app.lock_state();
    let tenant = if let Some(t) = &body.lead_ms_tenant_id {
        Some(t.to_ascii_lowercase())
    } else if let Some(id) = &body.lead_id {
        state
            .leads
            .values()
            .find(|l| l.id.eq_ignore_ascii_case(id))
            .map(|l| l.tenant_id.clone())
    } else {
        body.ump_customer_guid
            .as_deref()
            .and_then(|g| state.customers.get(&g.to_ascii_lowercase()))
            .map(|c| c.tenant_id.clone())
    };
    let tenant = tenant
        .filter(|t| state.leads.contains_key(t))
        .ok_or_else(invalid_lead)?;
    if !state.channels.contains_key(&channel_id) {
        return Err(ApiError::field(
            "ChannelId",
            format!("Channel {channel_id} does not exist."),
        ));
    }
    let lead = state.leads.get_mut(&tenant).ok_or_else(invalid_lead)?;
    if lead.status != "Active" {
        return Err(ApiError::field(
            "Lead",
            format!(
                "The lead is {}; only an Active lead can be assigned to a channel.",
                lead.status
            ),
        ));
    }
    lead.channel_id = Some(channel_id);
    lead.last_modified_on = now_text();
    Ok(Json(
        json!({"status": "Success", "succeeded": true, "message": "Lead successfully assigned to the channel"}),
    ))
}

async fn remove_channel(AxState(app): AxState<App>, query: Query) -> Result<Json<Value>, ApiError> {
    let tenant = required_guid(&query, "msTenantId")?;
    let mut state = app.lock_state();
    let lead = state.leads.get_mut(&tenant).ok_or_else(invalid_lead)?;
    let Some(channel) = lead.channel_id.take() else {
        return Err(ApiError::Bare(
            StatusCode::BAD_REQUEST,
            "The lead is not assigned to a channel.".into(),
        ));
    };
    lead.last_modified_on = now_text();
    Ok(Json(
        json!({"status": true, "data": format!("Removed channel {channel}")}),
    ))
}

#[derive(Deserialize)]
struct CreateChannel {
    name: Option<String>,
    tenant_id: Option<i64>,
    ms_tenant_id: Option<String>,
}

async fn create_channel(
    AxState(app): AxState<App>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let body: CreateChannel = request::body(&body)?;
    let mut errors = FieldErrors::default();
    let name = body.name.unwrap_or_default();
    if name.trim().is_empty() {
        errors.add("name", "The name field is required.");
    }
    if body.tenant_id.is_none() {
        errors.add("tenantId", "The tenantId field is required.");
    }
    let ms_tenant = body.ms_tenant_id.unwrap_or_default();
    if !is_guid(&ms_tenant) {
        errors.add("msTenantId", "The msTenantId must be a GUID.");
    }
    errors.into_result()?;
    let mut state = app.lock_state();
    if state
        .channels
        .values()
        .any(|c| c.name.eq_ignore_ascii_case(&name))
    {
        return Err(ApiError::conflict(format!(
            "A channel named '{name}' already exists."
        )));
    }
    let id = state.next_channel_id();
    state.channels.insert(
        id,
        super::state::ChannelRec {
            id,
            name,
            tenant_id: body.tenant_id.unwrap_or_default(),
            ms_tenant_id: ms_tenant.to_ascii_lowercase(),
        },
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "url": format!("ovoc/v1/topology/channels/{id}")})),
    )
        .into_response())
}

async fn get_channel(
    AxState(app): AxState<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::field("id", "The channel id must be an integer."))?;
    let state = app.lock_state();
    let c = state
        .channels
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("Channel {id} not found")))?;
    Ok(Json(
        json!({"id": c.id, "name": c.name, "tenantId": c.tenant_id, "msTenantId": c.ms_tenant_id}),
    ))
}
