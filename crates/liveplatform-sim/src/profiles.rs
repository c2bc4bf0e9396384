//! Calling profiles and their SBC mapping, from the seed.

use axum::extract::State as AxState;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::App;
use super::seed::{CallingProfileSeed, SbcSeed};
use liveplatform_contract::SBC_MAPPING_PATH;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/v2/oc/callingprofile", get(calling_profiles))
        .route(SBC_MAPPING_PATH, get(sbc_mapping))
}

fn sbc_json(s: &SbcSeed) -> Value {
    json!({"sbcId": s.id, "fqdn": s.fqdn, "ipAddress": s.ip_address, "name": s.name})
}

fn profile_json(p: &CallingProfileSeed) -> Value {
    json!({
        "callingProfileId": p.id,
        "name": p.name,
        "enviroment": p.environment,
        "region": p.region,
        "carrier": p.carrier,
        "offerTypes": p.offer_types.iter().map(|o| json!({"offerTypeName": o, "testNumbers": []})).collect::<Vec<_>>(),
        "isEmergencyProfile": p.is_emergency_profile,
        "emergencyDialStrings": if p.is_emergency_profile { json!(["911", "112"]) } else { json!([]) },
        "trunksEnrolled": p.trunks.iter().map(|t| json!({
            "trunkFqdn": t.fqdn,
            "trunkId": t.id,
            "matchingSbcList": t.sbcs.iter().map(sbc_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

async fn calling_profiles(AxState(app): AxState<App>) -> Json<Value> {
    let state = app.lock_state();
    Json(Value::Array(
        state
            .seed
            .calling_profiles
            .iter()
            .map(profile_json)
            .collect(),
    ))
}

async fn sbc_mapping(AxState(app): AxState<App>) -> Json<Value> {
    let state = app.lock_state();
    let rows: Vec<Value> = state
        .seed
        .calling_profiles
        .iter()
        .map(|p| {
            let sbcs: Vec<Value> = p
                .trunks
                .iter()
                .flat_map(|t| t.sbcs.iter())
                .map(|s| json!({"sbcId": s.id, "fqdn": s.fqdn, "name": s.name}))
                .collect();
            json!({"callingProfileId": p.id, "sbcs": sbcs})
        })
        .collect();
    Json(Value::Array(rows))
}
