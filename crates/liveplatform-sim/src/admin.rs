//! The simulator's admin side, for tests, sandboxes and benchmarks (not part of the
//! platform): fault injection, call counters, a dump of the whole state, and a few
//! levers that stand in for things that happen outside the operator.
//!
//! - `GET|PUT /admin/faults`: read or replace the fault settings ([`Faults`])
//! - `GET|DELETE /admin/counters`: calls by endpoint and outcome; reset
//! - `GET /admin/state`: the whole state as JSON (carrier passwords left out)
//! - `POST /admin/tenants` `{"tenantId"}`: a tenant that passes validation
//! - `POST /admin/federated-credentials` `{"clientId", "issuer", "subject",
//!   "audience"}`: a federated identity credential the identity endpoint accepts
//!   (what the provider's Entra admin adds for workload identity)
//! - `PUT /admin/leads/{tenant}/status` `{"status"}`: suspend or remove a lead
//! - `PUT /admin/numbers/{number}/assignment` `{"assignmentStatus"}`: a number
//!   assigned in Teams by someone else
//! - `POST /admin/tasks/finish`: end every running task now
//! - `POST /admin/tokens/expire`: every issued token stops working
//! - `POST|GET /admin/journal`: start a journal of every API request (when, which
//!   endpoint, which path and query); read it

use axum::extract::{Path, State as AxState};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::faults::Faults;
use super::problem::ApiError;
use super::request::{self, RawBody, is_e164, is_guid};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/faults", get(get_faults).put(put_faults))
        .route("/counters", get(get_counters).delete(reset_counters))
        .route("/state", get(dump))
        .route("/tenants", post(add_tenant))
        .route("/federated-credentials", post(add_federated_credential))
        .route("/leads/{tenant}/status", put(lead_status))
        .route("/numbers/{number}/assignment", put(number_assignment))
        .route("/tasks/finish", post(finish_tasks))
        .route("/tokens/expire", post(expire_tokens))
        .route("/journal", post(start_journal).get(get_journal))
}

async fn start_journal(AxState(app): AxState<App>) -> Json<Value> {
    app.start_journal();
    Json(json!({"journal": "started"}))
}

async fn get_journal(AxState(app): AxState<App>) -> Json<Value> {
    Json(json!(app.journaled()))
}

async fn get_faults(AxState(app): AxState<App>) -> Json<Faults> {
    Json(app.lock_faults().clone())
}

async fn put_faults(
    AxState(app): AxState<App>,
    RawBody(body): RawBody,
) -> Result<Json<Faults>, ApiError> {
    let faults: Faults = serde_json::from_slice(&body)
        .map_err(|e| ApiError::field("$", format!("Not a fault configuration: {e}")))?;
    *app.lock_faults() = faults.clone();
    Ok(Json(faults))
}

async fn get_counters(AxState(app): AxState<App>) -> Json<Value> {
    Json(json!(app.counters()))
}

async fn reset_counters(AxState(app): AxState<App>) -> Json<Value> {
    app.reset_counters();
    Json(json!({}))
}

async fn dump(AxState(app): AxState<App>) -> Result<Json<Value>, ApiError> {
    let state = app.lock_state();
    serde_json::to_value(&*state)
        .map(Json)
        .map_err(|e| ApiError::unavailable(format!("state dump: {e}")))
}

#[derive(Deserialize)]
struct Tenant {
    tenant_id: String,
}

async fn add_tenant(
    AxState(app): AxState<App>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let body: Tenant = request::body(&body)?;
    if !is_guid(&body.tenant_id) {
        return Err(ApiError::field("tenantId", "Not a GUID."));
    }
    app.lock_state()
        .known_tenants
        .insert(body.tenant_id.to_ascii_lowercase());
    Ok(Json(json!(1)))
}

async fn add_federated_credential(
    AxState(app): AxState<App>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    // The seed's own (camelCase) form, not the platform's spelling-blind one.
    let credential: crate::seed::FederatedCredential = serde_json::from_slice(&body)
        .map_err(|e| ApiError::field("$", format!("The JSON value could not be converted: {e}")))?;
    app.lock_state().seed.federated_credentials.push(credential);
    Ok(Json(json!(1)))
}

#[derive(Deserialize)]
struct Status {
    status: String,
}

async fn lead_status(
    AxState(app): AxState<App>,
    Path(tenant): Path<String>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let body: Status = request::body(&body)?;
    if !["Active", "Suspended", "Removed"].contains(&body.status.as_str()) {
        return Err(ApiError::field(
            "status",
            "One of Active, Suspended, Removed.",
        ));
    }
    let mut state = app.lock_state();
    let lead = state
        .leads
        .get_mut(&tenant.to_ascii_lowercase())
        .ok_or_else(|| ApiError::not_found("no such lead"))?;
    lead.status = body.status;
    Ok(Json(json!(1)))
}

#[derive(Deserialize)]
struct Assignment {
    assignment_status: String,
}

async fn number_assignment(
    AxState(app): AxState<App>,
    Path(number): Path<String>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let body: Assignment = request::body(&body)?;
    if ![
        "Unassigned",
        "UserAssigned",
        "ConferenceAssigned",
        "VoiceApp",
    ]
    .contains(&body.assignment_status.as_str())
    {
        return Err(ApiError::field(
            "assignmentStatus",
            "One of Unassigned, UserAssigned, ConferenceAssigned, VoiceApp.",
        ));
    }
    if !is_e164(&number) {
        return Err(ApiError::field("number", "Not an E.164 number."));
    }
    let mut state = app.lock_state();
    let rec = state
        .numbers
        .get_mut(&number)
        .ok_or_else(|| ApiError::not_found("no such number"))?;
    rec.assignment_status = body.assignment_status;
    Ok(Json(json!(1)))
}

async fn finish_tasks(AxState(app): AxState<App>) -> Json<Value> {
    app.lock_state().finish_all_tasks();
    Json(json!(1))
}

async fn expire_tokens(AxState(app): AxState<App>) -> Json<Value> {
    app.lock_state().tokens.clear();
    Json(json!(1))
}
