//! Numbers: validation, upload, release, unassign and the V2/V3 listings.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Extension, State as AxState};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::gate::ChannelScope;
use super::problem::{ApiError, FieldErrors};
use super::request::{self, Query, RawBody, is_e164, is_guid, required_guid};
use super::state::{NumberRec, State, TaskKind, now_text};
use liveplatform_contract::number_status;

pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/v2/oc/numbers/action/number-status",
            post(validate_numbers),
        )
        .route("/v2/oc/numbers/action/upload", post(upload))
        .route("/v2/oc/numbers/action/release", post(release))
        .route("/v2/oc/numbers/action/unassign", post(unassign))
        .route("/v2/oc/numbers", get(list_v2))
        .route("/v3/oc/numbers", get(list_v3))
}

pub const USAGES: [&str; 4] = [
    "CallingUserAssignment",
    "ConferenceAssignment",
    "FirstPartyAppAssignment",
    "ThirdPartyAppAssignment",
];
pub const CAPABILITIES: [&str; 7] = [
    "InboundCalling",
    "OutboundCalling",
    "Office365",
    "UserAssignment",
    "FirstPartyAppAssignment",
    "ConferenceAssignment",
    "TollFree",
];

fn iso_country(number: &str) -> Option<&'static str> {
    [
        ("+1", "US"),
        ("+44", "GB"),
        ("+49", "DE"),
        ("+33", "FR"),
        ("+61", "AU"),
        ("+31", "NL"),
        ("+46", "SE"),
    ]
    .iter()
    .find(|(prefix, _)| number.starts_with(prefix))
    .map(|(_, iso)| *iso)
}

fn number_json(state: &State, n: &NumberRec, v3: bool) -> Value {
    let sbcs: Vec<Value> = state
        .seed
        .calling_profiles
        .iter()
        .filter(|p| p.id == n.calling_profile_id)
        .flat_map(|p| p.trunks.iter().flat_map(|t| t.sbcs.iter()))
        .map(|s| json!({"sbcName": s.name, "sbcId": s.id}))
        .collect();
    let mut v = json!({
        "id": n.id,
        "telephoneNumber": n.telephone_number,
        "callingProfileId": n.calling_profile_id,
        "source": n.source,
        "acquiredNumberStatus": n.acquired_number_status,
        "assignmentStatus": n.assignment_status,
        "acquiredCapabilities": n.capabilities,
        "availableCapabilities": n.capabilities,
        "isoCountryCode": iso_country(&n.telephone_number),
        "civicAddressId": n.civic_address_id,
        "locationId": n.location_id,
        "acquiredOn": n.acquired_on,
        "whenCreated": n.acquired_on,
        "tenantId": n.tenant_id,
        "uploadToAccountJobId": n.upload_to_account_job_id,
        "sbcList": sbcs,
    });
    if v3 {
        let customer = state.customer_of_tenant(&n.tenant_id);
        let lead = state.leads.get(&n.tenant_id);
        v["umpCustomerGuid"] = json!(customer.map(|c| c.guid.clone()));
        v["umpCustomerFullName"] = json!(customer.map(|c| c.full_name.clone()));
        v["msCompanyName"] = json!(lead.map(|l| l.company_name.clone()));
        v["ovocChannelId"] = json!(lead.and_then(|l| l.channel_id));
        v["ocSipConnectionName"] = json!(null);
    }
    v
}

/// The tenant's customer, as the numbers actions require one.
fn require_customer(state: &State, scope: ChannelScope, tenant: &str) -> Result<(), ApiError> {
    match state.customer_of_tenant(tenant) {
        Some(c) if state.channel_allows(scope.0, &c.tenant_id) => Ok(()),
        _ => Err(ApiError::field(
            "msTenantId",
            "No customer exists for this tenant; create the customer from its lead first.",
        )),
    }
}

#[derive(Deserialize)]
struct ValidateBody {
    #[serde(default)]
    telephone_numbers: Vec<String>,
    ms_tenant_id: Option<String>,
}

async fn validate_numbers(
    AxState(app): AxState<App>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let body: ValidateBody = request::body(&body)?;
    let tenant = body.ms_tenant_id.unwrap_or_default().to_ascii_lowercase();
    let mut errors = FieldErrors::default();
    if !is_guid(&tenant) {
        errors.add("msTenantId", "The msTenantId must be a GUID.");
    }
    if body.telephone_numbers.is_empty() {
        errors.add("telephoneNumbers", "Give at least one telephone number.");
    }
    errors.into_result()?;
    let state = app.lock_state();
    let mut all_ok = true;
    let items: Vec<Value> = body
        .telephone_numbers
        .iter()
        .map(|number| {
            let record = state.numbers.get(number);
            let (result, detail, action): (&str, Vec<&str>, Option<&str>) = if !is_e164(number) {
                (
                    "Failed",
                    vec!["The number is not in E.164 format."],
                    Some("Correct the number format"),
                )
            } else if record.is_some_and(|r| r.tenant_id != tenant) {
                (
                    "Failed",
                    vec!["The number is acquired by another tenant."],
                    Some("Release the number from the other tenant"),
                )
            } else if state
                .seed
                .unsupported_country_prefixes
                .iter()
                .any(|p| number.starts_with(p.as_str()))
            {
                (
                    "Failed",
                    vec!["The number's country code is not supported."],
                    Some("Use a supported country"),
                )
            } else {
                ("Success", vec![], None)
            };
            all_ok &= result == "Success";
            let mine = record.filter(|r| r.tenant_id == tenant);
            json!({
                "telephoneNumber": number,
                "validationResult": result,
                "actionRequired": action,
                "validationDetail": detail,
                "telphoneNumberDetail": {
                    "numberFound": mine.is_some(),
                    "numberOffering": mine.map(|r| r.usage.clone()),
                    "assignmentStatus": mine.map(|r| r.assignment_status.clone()),
                },
            })
        })
        .collect();
    Ok(Json(
        json!({"validationResult": if all_ok { "Success" } else { "Failed" }, "telephoneNumbers": items}),
    ))
}

#[derive(Deserialize)]
struct UploadBody {
    calling_profile: Option<String>,
    usage: Option<String>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    phone_numbers_list: Vec<String>,
    civic_address_id: Option<String>,
    location_id: Option<String>,
}

/// Checks the numbers of a request: format, duplicates, size, and none in another
/// running task.
fn check_numbers(state: &State, errors: &mut FieldErrors, field: &str, numbers: &[String]) {
    let max = state.seed.max_numbers_per_request;
    if numbers.is_empty() {
        errors.add(field, "Give at least one telephone number.");
    }
    if numbers.len() > max {
        errors.add(
            field,
            format!(
                "At most {max} numbers are allowed per request; got {}.",
                numbers.len()
            ),
        );
    }
    let mut seen = BTreeSet::new();
    for n in numbers {
        if !is_e164(n) {
            errors.add(
                field,
                format!("{n}: not an E.164 number (+ and 2 to 15 digits)."),
            );
        } else if !seen.insert(n) {
            errors.add(field, format!("{n}: listed twice."));
        }
        if let Some(task) = state.busy_numbers.get(n) {
            errors.add(
                field,
                format!("{n}: the number is in another running operation ({task})."),
            );
        }
    }
}

/// A new numbers job: its task id, with its numbers held busy until it ends.
fn start_job(state: &mut State, numbers: &[String]) -> String {
    let id = format!("tsk_msjob_{}", uuid::Uuid::new_v4());
    for n in numbers {
        state.busy_numbers.insert(n.clone(), id.clone());
    }
    id
}

async fn upload(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    query: Query,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let tenant = required_guid(&query, "msTenantId")?;
    let body: UploadBody = request::body(&body)?;
    let timing = app.next_task();
    let injected: BTreeMap<String, String> = {
        let faults = app.lock_faults();
        body.phone_numbers_list
            .iter()
            .filter_map(|n| {
                faults
                    .number_failures
                    .get(n)
                    .map(|c| (n.clone(), c.clone()))
            })
            .collect()
    };
    let mut state = app.lock_state();
    let mut errors = FieldErrors::default();
    let profile = body.calling_profile.unwrap_or_default();
    if !state
        .seed
        .calling_profiles
        .iter()
        .any(|p| p.id.eq_ignore_ascii_case(&profile))
    {
        errors.add(
            "CallingProfile",
            format!("Calling profile '{profile}' does not exist; see GET /v2/oc/callingprofile."),
        );
    }
    let usage = body.usage.unwrap_or_default();
    if !USAGES.contains(&usage.as_str()) {
        errors.add(
            "Usage",
            format!("Usage must be one of {}.", USAGES.join(", ")),
        );
    }
    for c in &body.capabilities {
        if !CAPABILITIES.contains(&c.as_str()) {
            errors.add("Capabilities", format!("Unknown capability '{c}'."));
        }
    }
    if body.location_id.is_some() && body.civic_address_id.is_none() {
        errors.add("LocationId", "A location needs its civic address id.");
    }
    let numbers = body.phone_numbers_list;
    check_numbers(&state, &mut errors, "PhoneNumbersList", &numbers);
    for n in &numbers {
        if state.numbers.get(n).is_some_and(|r| r.tenant_id == tenant) {
            errors.add(
                "PhoneNumbersList",
                format!("{n}: already acquired by this tenant."),
            );
        }
    }
    errors.into_result()?;
    require_customer(&state, scope, &tenant)?;

    let id = start_job(&mut state, &numbers);
    let now = now_text();
    for n in &numbers {
        if state.numbers.contains_key(n) {
            continue; // another tenant's number: fails in the task as number_in_use
        }
        state.numbers.insert(
            n.clone(),
            NumberRec {
                id: uuid::Uuid::new_v4().to_string(),
                telephone_number: n.clone(),
                tenant_id: tenant.clone(),
                calling_profile_id: profile.to_ascii_lowercase(),
                usage: usage.clone(),
                capabilities: body.capabilities.clone(),
                acquired_number_status: number_status::UPLOAD_REQUESTED.into(),
                assignment_status: number_status::UNASSIGNED.into(),
                civic_address_id: body.civic_address_id.clone(),
                location_id: body.location_id.clone(),
                acquired_on: now.clone(),
                upload_to_account_job_id: id.clone(),
                source: "webapi".into(),
            },
        );
    }
    let total = numbers.len() as i64;
    state.add_task(
        id.clone(),
        TaskKind::Upload {
            tenant_id: tenant,
            numbers,
            injected_failures: injected,
        },
        timing,
        Some(total),
    );
    Ok(Json(json!({"taskId": id})))
}

#[derive(Deserialize)]
struct Range {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
struct ReleaseBody {
    telephone_numbers: Option<Vec<String>>,
    phone_number_ranges: Option<Vec<Range>>,
}

/// Expands `start..=end` (same length, same leading digits) to its numbers.
fn expand(errors: &mut FieldErrors, range: &Range, max: usize, out: &mut Vec<String>) {
    let (Some(start), Some(end)) = (range.start.as_deref(), range.end.as_deref()) else {
        errors.add("PhoneNumberRanges", "Each range needs a start and an end.");
        return;
    };
    if !is_e164(start) || !is_e164(end) || start.len() != end.len() {
        errors.add(
            "PhoneNumberRanges",
            format!("{start}..{end}: both ends must be E.164 numbers of the same length."),
        );
        return;
    }
    let (Ok(a), Ok(b)) = (start[1..].parse::<u64>(), end[1..].parse::<u64>()) else {
        errors.add("PhoneNumberRanges", format!("{start}..{end}: not numeric."));
        return;
    };
    if a > b {
        errors.add(
            "PhoneNumberRanges",
            format!("{start}..{end}: the start is after the end."),
        );
        return;
    }
    if (b - a) as usize >= max.saturating_sub(out.len()) {
        errors.add(
            "PhoneNumberRanges",
            format!("At most {max} numbers are allowed per request."),
        );
        return;
    }
    let width = start.len() - 1;
    out.extend((a..=b).map(|n| format!("+{n:0width$}")));
}

async fn release(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    query: Query,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let tenant = required_guid(&query, "msTenantId")?;
    let body: ReleaseBody = request::body(&body)?;
    let timing = app.next_task();
    let mut state = app.lock_state();
    let max = state.seed.max_numbers_per_request;
    let mut errors = FieldErrors::default();
    let mut numbers = body.telephone_numbers.unwrap_or_default();
    for range in body.phone_number_ranges.iter().flatten() {
        expand(&mut errors, range, max, &mut numbers);
    }
    errors.into_result()?;
    let mut errors = FieldErrors::default();
    check_numbers(&state, &mut errors, "TelephoneNumbers", &numbers);
    for n in &numbers {
        match state.numbers.get(n).filter(|r| r.tenant_id == tenant) {
            None => errors.add(
                "TelephoneNumbers",
                format!("{n}: not a number of this tenant."),
            ),
            Some(r) if r.assignment_status != number_status::UNASSIGNED => errors.add(
                "TelephoneNumbers",
                format!(
                    "{n}: the number is {}; unassign it before release.",
                    r.assignment_status
                ),
            ),
            Some(r) if r.acquired_number_status != number_status::ACTIVE => {
                errors.add(
                    "TelephoneNumbers",
                    format!("{n}: the number is {}.", r.acquired_number_status),
                );
            }
            Some(_) => {}
        }
    }
    errors.into_result()?;
    require_customer(&state, scope, &tenant)?;
    let id = start_job(&mut state, &numbers);
    for n in &numbers {
        if let Some(r) = state.numbers.get_mut(n) {
            r.acquired_number_status = number_status::RELEASE_REQUESTED.into();
        }
    }
    let total = numbers.len() as i64;
    state.add_task(
        id.clone(),
        TaskKind::Release {
            tenant_id: tenant,
            numbers,
        },
        timing,
        Some(total),
    );
    Ok(Json(json!({"taskId": id})))
}

#[derive(Deserialize)]
struct UnassignBody {
    #[serde(default)]
    telephone_numbers: Vec<String>,
}

async fn unassign(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    query: Query,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let tenant = required_guid(&query, "msTenantId")?;
    let body: UnassignBody = request::body(&body)?;
    let timing = app.next_task();
    let mut state = app.lock_state();
    let mut errors = FieldErrors::default();
    let numbers = body.telephone_numbers;
    check_numbers(&state, &mut errors, "TelephoneNumbers", &numbers);
    for n in &numbers {
        if state.numbers.get(n).is_none_or(|r| r.tenant_id != tenant) {
            errors.add(
                "TelephoneNumbers",
                format!("{n}: not a number of this tenant."),
            );
        }
    }
    errors.into_result()?;
    require_customer(&state, scope, &tenant)?;
    let id = start_job(&mut state, &numbers);
    let total = numbers.len() as i64;
    state.add_task(
        id.clone(),
        TaskKind::Unassign {
            tenant_id: tenant,
            numbers,
        },
        timing,
        Some(total),
    );
    Ok(Json(json!({"taskId": id})))
}

fn tenant_numbers<'a>(
    state: &'a State,
    scope: ChannelScope,
    tenant: &'a str,
) -> impl Iterator<Item = &'a NumberRec> {
    let visible = state.channel_allows(scope.0, tenant);
    state
        .numbers
        .values()
        .filter(move |n| visible && n.tenant_id == tenant)
}

async fn list_v2(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    query: Query,
) -> Result<Json<Value>, ApiError> {
    let tenant = required_guid(&query, "msTenantId")?;
    let state = app.lock_state();
    Ok(Json(Value::Array(
        tenant_numbers(&state, scope, &tenant)
            .map(|n| number_json(&state, n, false))
            .collect(),
    )))
}

async fn list_v3(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    query: Query,
) -> Result<Json<Value>, ApiError> {
    let tenant = required_guid(&query, "msTenantId")?;
    let page = query.int("PageNumber", 1)?;
    let size = query.int("PageSize", 200)?;
    if page < 1 {
        return Err(ApiError::field(
            "PageNumber",
            "PageNumber must be 1 or more.",
        ));
    }
    if !(1..=10_000).contains(&size) {
        return Err(ApiError::field(
            "PageSize",
            "PageSize must be between 1 and 10000.",
        ));
    }
    let status = query.get("acquiredNumberStatus").map(str::to_owned);
    let endless = app.lock_faults().endless_listings;
    let state = app.lock_state();
    let matching: Vec<&NumberRec> = tenant_numbers(&state, scope, &tenant)
        .filter(|n| {
            status
                .as_deref()
                .is_none_or(|s| n.acquired_number_status.eq_ignore_ascii_case(s))
        })
        .collect();
    let total = matching.len() as i64;
    let pages = (total + size - 1) / size;
    // An endless listing (a fault) answers every page past the last with the last.
    let shown = if endless {
        page.min(pages.max(1))
    } else {
        page
    };
    let data: Vec<Value> = matching
        .iter()
        .skip(((shown - 1) * size) as usize)
        .take(size as usize)
        .map(|n| number_json(&state, n, true))
        .collect();
    let (pages, total) = if endless {
        (1_000_000, 1_000_000 * size)
    } else {
        (pages, total)
    };
    Ok(Json(json!({
        "currentPage": page,
        "pageSize": size,
        "totalPages": pages,
        "totalRecords": total,
        "data": data,
    })))
}
