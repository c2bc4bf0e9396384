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
    if form.contains_key("client_assertion") || form.contains_key("client_assertion_type") {
        if field("client_assertion_type") != contract::CLIENT_ASSERTION_TYPE {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "AADSTS50027: client_assertion_type must be {}.",
                    contract::CLIENT_ASSERTION_TYPE
                ),
            );
        }
        if let Err(refusal) = check_assertion(
            &state.seed.federated_credentials,
            &client_id,
            field("client_assertion"),
            jiff::Timestamp::now().as_second(),
        ) {
            return refusal.into_response(&client_id, &tenant);
        }
    } else {
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

/// Why a client assertion was refused, as Entra says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssertionRefusal {
    /// Not a JWT whose claims can be read.
    Malformed,
    /// No federated credential of this application for the token's issuer.
    Issuer(String),
    /// None for the token's subject.
    Subject(String),
    /// None for the token's audience.
    Audience,
    /// The token has expired (or has no expiry).
    Expired,
    /// The application has no federated credential at all.
    UnknownClient,
}

impl AssertionRefusal {
    fn into_response(self, client_id: &str, tenant: &str) -> Response {
        let (status, error, text) = match self {
            Self::Malformed => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "AADSTS50027: JWT token is invalid or malformed.".to_owned(),
            ),
            Self::UnknownClient => (
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                format!("AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}', or has no federated identity credential."),
            ),
            Self::Issuer(issuer) => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                format!("AADSTS700211: No matching federated identity record found for presented assertion issuer '{issuer}'."),
            ),
            Self::Subject(subject) => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                format!("AADSTS700213: No matching federated identity record found for presented assertion subject '{subject}'."),
            ),
            Self::Audience => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "AADSTS700212: No matching federated identity record found for presented assertion audience.".to_owned(),
            ),
            Self::Expired => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "AADSTS700024: Client assertion is not within its valid time range.".to_owned(),
            ),
        };
        oauth_error(status, error, text)
    }
}

/// Checks a client assertion (a JWT) for `client_id` against the seeded federated
/// credentials at unix time `now`: issuer, subject, audience, expiry.
pub fn check_assertion(
    federated: &[crate::seed::FederatedCredential],
    client_id: &str,
    assertion: &str,
    now: i64,
) -> Result<(), AssertionRefusal> {
    use base64::Engine as _;
    let claims: serde_json::Value = assertion
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(AssertionRefusal::Malformed)?;
    let mine: Vec<_> = federated
        .iter()
        .filter(|f| f.client_id == client_id)
        .collect();
    if mine.is_empty() {
        return Err(AssertionRefusal::UnknownClient);
    }
    let issuer = claims["iss"].as_str().unwrap_or_default();
    let subject = claims["sub"].as_str().unwrap_or_default();
    let audiences: Vec<&str> = match &claims["aud"] {
        serde_json::Value::String(a) => vec![a.as_str()],
        serde_json::Value::Array(list) => list.iter().filter_map(|a| a.as_str()).collect(),
        _ => Vec::new(),
    };
    let mine: Vec<_> = mine.into_iter().filter(|f| f.issuer == issuer).collect();
    if mine.is_empty() {
        return Err(AssertionRefusal::Issuer(issuer.to_owned()));
    }
    let mine: Vec<_> = mine.into_iter().filter(|f| f.subject == subject).collect();
    if mine.is_empty() {
        return Err(AssertionRefusal::Subject(subject.to_owned()));
    }
    if !mine
        .iter()
        .any(|f| audiences.contains(&f.audience.as_str()))
    {
        return Err(AssertionRefusal::Audience);
    }
    match claims["exp"].as_i64() {
        Some(exp) if exp > now => Ok(()),
        _ => Err(AssertionRefusal::Expired),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::FederatedCredential;
    use base64::Engine as _;

    /// An unsigned JWT with `claims` (the simulator reads claims only).
    fn jwt(claims: serde_json::Value) -> String {
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.signature",
            b64(&json!({"alg": "RS256"})),
            b64(&claims)
        )
    }

    #[test]
    fn an_assertion_must_match_issuer_subject_and_audience_and_be_current() {
        let federated = [FederatedCredential {
            client_id: "app".into(),
            issuer: "https://issuer".into(),
            subject: "system:serviceaccount:ops:oc".into(),
            audience: "api://AzureADTokenExchange".into(),
        }];
        let good = json!({"iss": "https://issuer", "sub": "system:serviceaccount:ops:oc", "aud": ["api://AzureADTokenExchange"], "exp": 2000});
        let with = |key: &str, value: serde_json::Value| {
            let mut claims = good.clone();
            claims[key] = value;
            jwt(claims)
        };
        for (client, assertion, now, expected) in [
            ("app", jwt(good.clone()), 1000, Ok(())),
            (
                "app",
                with("aud", json!("api://AzureADTokenExchange")),
                1000,
                Ok(()),
            ),
            (
                "app",
                jwt(good.clone()),
                2000,
                Err(AssertionRefusal::Expired),
            ),
            (
                "app",
                with("exp", json!(null)),
                1000,
                Err(AssertionRefusal::Expired),
            ),
            (
                "app",
                with("iss", json!("https://other")),
                1000,
                Err(AssertionRefusal::Issuer("https://other".into())),
            ),
            (
                "app",
                with("sub", json!("system:serviceaccount:ops:x")),
                1000,
                Err(AssertionRefusal::Subject(
                    "system:serviceaccount:ops:x".into(),
                )),
            ),
            (
                "app",
                with("aud", json!(["api://other"])),
                1000,
                Err(AssertionRefusal::Audience),
            ),
            (
                "other-app",
                jwt(good.clone()),
                1000,
                Err(AssertionRefusal::UnknownClient),
            ),
            (
                "app",
                "not-a-jwt".to_owned(),
                1000,
                Err(AssertionRefusal::Malformed),
            ),
        ] {
            assert_eq!(
                check_assertion(&federated, client, &assertion, now),
                expected,
                "{client} {assertion} at {now}"
            );
        }
    }
}
