//! Dial plans of a site location (or of the customer, for a single-site customer).

use std::collections::BTreeSet;

use axum::extract::{Extension, Path, State as AxState};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::customers::customer_not_found;
use super::gate::ChannelScope;
use super::problem::{ApiError, FieldErrors};
use super::request::{self, RawBody};
use super::state::{DialPlanRec, RuleRec, State, dial_plan_key};
use liveplatform_contract::deployment_state;

pub fn routes() -> Router<App> {
    Router::new().route(
        "/v2/customer/{guid}/sitelocation/{site}/dialplan/{dial_plan}",
        get(get_plan).patch(modify_plan).delete(delete_plan),
    )
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Resolves customer and site; the site is one of the customer's site locations, or
/// the customer itself for a single-site customer [doc].
fn resolve(
    state: &State,
    scope: ChannelScope,
    guid: &str,
    site: &str,
    dial_plan: &str,
) -> Result<(String, String), ApiError> {
    let customer = state
        .customer(scope.0, guid)
        .ok_or_else(|| customer_not_found(guid))?;
    let site = site.to_ascii_lowercase();
    let is_own_site = state
        .sites
        .get(&site)
        .is_some_and(|s| s.customer_guid == customer.guid);
    if site != customer.guid && !is_own_site {
        return Err(ApiError::not_found(format!(
            "Site location {site} not found for customer {}",
            customer.guid
        )));
    }
    if !valid_id(dial_plan) {
        return Err(ApiError::field(
            "DialPlanId",
            "The dial plan id is 1 to 64 letters, digits, '_' or '-'.",
        ));
    }
    Ok((customer.guid.clone(), site))
}

fn rule_json(r: &RuleRec) -> Value {
    json!({"name": r.name, "prefix": r.prefix, "tag": r.tag})
}

async fn get_plan(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path((guid, site, dial_plan)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let state = app.lock_state();
    let (customer, site) = resolve(&state, scope, &guid, &site, &dial_plan)?;
    let plan = state
        .dial_plans
        .get(&dial_plan_key(&customer, &site, &dial_plan));
    let (id, rules) = match plan {
        Some(p) => (
            p.dial_plan_id.clone(),
            p.rules.iter().map(rule_json).collect(),
        ),
        None => (dial_plan, Vec::new()),
    };
    Ok(Json(json!([{"dialPlanId": id, "ruleDTO": rules}])))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Rule {
    name: Option<String>,
    prefix: Option<String>,
    tag: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Modify {
    dial_plan_id: Option<String>,
    add: Vec<Rule>,
    remove: Vec<Rule>,
}

fn read_rules(errors: &mut FieldErrors, field: &str, rules: Vec<Rule>) -> Vec<RuleRec> {
    rules
        .into_iter()
        .filter_map(|r| {
            let name = r.name.unwrap_or_default();
            let prefix = r.prefix.unwrap_or_default();
            let tag = r.tag.unwrap_or_default();
            if name.trim().is_empty() || name.len() > 64 {
                errors.add(field, "Every rule needs a name of at most 64 characters.");
                return None;
            }
            if prefix.is_empty() || prefix.len() > 64 {
                errors.add(
                    field,
                    format!("Rule {name}: the prefix is required (at most 64 characters)."),
                );
                return None;
            }
            if tag.len() > 64 {
                errors.add(
                    field,
                    format!("Rule {name}: the tag is at most 64 characters."),
                );
                return None;
            }
            Some(RuleRec { name, prefix, tag })
        })
        .collect()
}

async fn modify_plan(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path((guid, site, dial_plan)): Path<(String, String, String)>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let body: Modify = request::body(&body)?;
    let mut errors = FieldErrors::default();
    if let Some(id) = &body.dial_plan_id
        && !id.eq_ignore_ascii_case(&dial_plan)
    {
        errors.add(
            "DialPlanId",
            format!("The body names dial plan '{id}' but the path names '{dial_plan}'."),
        );
    }
    if body.add.is_empty() && body.remove.is_empty() {
        // A modification names what it changes [chosen]: a body with neither (an
        // empty one, or one of another request's fields) is refused, not a no-op.
        errors.add("Add", "Name the rules to add (Add) or to remove (Remove).");
    }
    let add = read_rules(&mut errors, "Add", body.add);
    let remove = read_rules(&mut errors, "Remove", body.remove);
    errors.into_result()?;
    let mut state = app.lock_state();
    let (customer, site) = resolve(&state, scope, &guid, &site, &dial_plan)?;
    if state
        .sites
        .get(&site)
        .is_some_and(|s| s.sbc_deployment_state == deployment_state::REMOVING)
    {
        return Err(ApiError::busy(format!(
            "Site location {site} is being removed."
        )));
    }
    let key = dial_plan_key(&customer, &site, &dial_plan);
    let mut rules = state
        .dial_plans
        .get(&key)
        .map(|p| p.rules.clone())
        .unwrap_or_default();
    let mut errors = FieldErrors::default();
    for r in &remove {
        match rules.iter().position(|x| x.name == r.name) {
            Some(i) => {
                rules.remove(i);
            }
            None => errors.add(
                "Remove",
                format!("Rule {} is not in dial plan {dial_plan}.", r.name),
            ),
        }
    }
    let mut names: BTreeSet<String> = rules.iter().map(|r| r.name.clone()).collect();
    for r in &add {
        if !names.insert(r.name.clone()) {
            errors.add(
                "Add",
                format!("Rule {} already exists in dial plan {dial_plan}.", r.name),
            );
        }
    }
    errors.into_result()?;
    rules.extend(add);
    state.dial_plans.insert(
        key,
        DialPlanRec {
            customer_guid: customer,
            site_location_id: site,
            dial_plan_id: dial_plan,
            rules,
        },
    );
    Ok(Json(json!(1)))
}

async fn delete_plan(
    AxState(app): AxState<App>,
    Extension(scope): Extension<ChannelScope>,
    Path((guid, site, dial_plan)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let mut state = app.lock_state();
    let (customer, site) = resolve(&state, scope, &guid, &site, &dial_plan)?;
    match state
        .dial_plans
        .remove(&dial_plan_key(&customer, &site, &dial_plan))
    {
        Some(_) => Ok(Json(json!(1))),
        None => Err(ApiError::not_found(format!(
            "Dial plan {dial_plan} not found on site location {site}"
        ))),
    }
}
