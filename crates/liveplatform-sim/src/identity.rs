//! The Entra ID endpoints the platform relies on: client-credentials tokens and the
//! OpenID metadata used to validate tenant ids.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::App;
use super::request::RawBody;
use super::request::is_guid;
use super::state::IssuedToken;
use liveplatform_contract as contract;

fn oauth_error(status: StatusCode, error: &str, description: String) -> Response {
    (status, Json(json!({"error": error, "error_description": description, "error_codes": [], "trace_id": uuid::Uuid::new_v4().to_string()})))
        .into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token` with a client-credentials form.
pub async fn token(
    AxState(app): AxState<App>,
    Path(tenant): Path<String>,
    RawBody(body): RawBody,
) -> Response {
    app.arrive("POST /{tenant}/oauth2/v2.0/token");
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let lifetime = {
        let override_secs = app.lock_faults().token_lifetime_secs;
        let state = app.lock_state();
        if !state.seed.sp_tenant_id.eq_ignore_ascii_case(&tenant) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."
                ),
            );
        }
        Duration::from_secs(override_secs.unwrap_or(state.seed.token_lifetime_secs))
    };
    if field("grant_type") != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type; use client_credentials."
                .into(),
        );
    }
    if field("scope") != contract::SCOPE {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!(
                "AADSTS70011: The provided value for the input parameter 'scope' is not valid. Use {}.",
                contract::SCOPE
            ),
        );
    }
    let client_id = field("client_id").to_owned();
    let mut state = app.lock_state();
    let Some(known) = state
        .seed
        .credentials
        .iter()
        .find(|c| c.client_id == client_id)
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant."
            ),
        );
    };
    if known.client_secret != field("client_secret") {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!(
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value for app '{client_id}'."
            ),
        );
    }
    let access_token = format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.{}.{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    state.tokens.retain(|_, t| Instant::now() < t.expires);
    state.tokens.insert(
        access_token.clone(),
        IssuedToken {
            client_id,
            expires: Instant::now() + lifetime,
        },
    );
    let secs = lifetime.as_secs();
    Json(json!({"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": access_token}))
        .into_response()
}

/// `GET /{tenant}/.well-known/openid-configuration`.
pub async fn openid_configuration(
    AxState(app): AxState<App>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    app.arrive("GET /{tenant}/.well-known/openid-configuration");
    let known = is_guid(&tenant) && app.lock_state().knows_tenant(&tenant);
    if !known {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            format!(
                "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let base = format!("http://{host}/{tenant}");
    Json(json!({
        "issuer": format!("https://login.microsoftonline.com/{tenant}/v2.0"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": "NA",
    }))
    .into_response()
}
