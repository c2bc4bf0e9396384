use std::time::Duration;

use liveplatform::model::TenantValidation;
use liveplatform::{Credentials, Error, LivePlatformClient};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn validate_tenant_tells_known_from_unknown() {
    let env = Env::start().await;
    match env.client.validate_tenant(TENANT_A).await.unwrap() {
        TenantValidation::Valid { issuer } => assert!(issuer.contains(TENANT_A), "{issuer}"),
        other => panic!("{other:?}"),
    }
    match env.client.validate_tenant(UNKNOWN_TENANT).await.unwrap() {
        TenantValidation::Unknown { error } => assert!(error.contains("AADSTS90002"), "{error}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bad_client_credentials_are_unauthorized_with_the_entra_text() {
    let env = Env::start().await;
    let mut config = config_for(&env.sim);
    config.credentials = Credentials::with_secret("not-registered", "x");
    let client = LivePlatformClient::new(config).unwrap();
    let err = client.calling_profiles().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert_says(&err, "AADSTS700016");
    // The secret never shows in the error or the client's Debug.
    let mut config = config_for(&env.sim);
    config.credentials.proof = liveplatform::Proof::ClientSecret("super-secret-value".into());
    let client = LivePlatformClient::new(config).unwrap();
    assert!(!format!("{client:?}").contains("super-secret-value"));
}

#[tokio::test]
async fn wrong_secret_is_unauthorized() {
    let env = Env::start().await;
    let mut config = config_for(&env.sim);
    config.credentials.proof = liveplatform::Proof::ClientSecret("wrong".into());
    let client = LivePlatformClient::new(config).unwrap();
    let err = client.check_credentials().await.unwrap_err();
    assert_says(&err, "AADSTS7000215");
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_and_the_call_succeeds() {
    let env = Env::start().await;
    env.client.calling_profiles().await.unwrap();
    assert_eq!(
        env.count("POST /{tenant}/oauth2/v2.0/token", "total").await,
        1
    );
    env.admin_post("/tokens/expire", json!({})).await;
    let profiles = env.client.calling_profiles().await.unwrap();
    assert_eq!(profiles.len(), 2);
    assert_eq!(env.count("GET /v2/oc/callingprofile", "401").await, 1);
    assert_eq!(env.count("GET /v2/oc/callingprofile", "200").await, 2);
    assert_eq!(
        env.count("POST /{tenant}/oauth2/v2.0/token", "total").await,
        2
    );
}

#[tokio::test]
async fn short_lived_tokens_are_renewed_before_they_expire() {
    let env = Env::start().await;
    env.set_faults(json!({"tokenLifetimeSecs": 2})).await;
    env.client.calling_profiles().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    env.client.calling_profiles().await.unwrap();
    // Renewed at half its life, so no call was refused.
    assert_eq!(env.count("GET /v2/oc/callingprofile", "401").await, 0);
    assert_eq!(
        env.count("POST /{tenant}/oauth2/v2.0/token", "total").await,
        2
    );
}

#[tokio::test]
async fn rotated_credentials_take_effect_without_a_new_client() {
    let env = Env::start().await;
    let mut config = config_for(&env.sim);
    config.credentials.proof = liveplatform::Proof::ClientSecret("old-and-revoked".into());
    let client = LivePlatformClient::new(config).unwrap();
    assert!(client.check_credentials().await.is_err());
    client
        .set_credentials(config_for(&env.sim).credentials)
        .await;
    client.check_credentials().await.unwrap();
}

/// An unsigned JWT with `claims` (the simulator reads the claims; Entra would also
/// check the issuer's signature).
fn assertion(claims: serde_json::Value) -> String {
    use base64::Engine as _;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!("{}.{}.sig", b64(json!({"alg": "RS256"})), b64(claims))
}

#[tokio::test]
async fn a_federated_credential_is_read_from_its_file_at_each_token_request() {
    let mut seed = quick_seed();
    seed.federated_credentials = vec![liveplatform_sim::seed::FederatedCredential {
        client_id: "wi-app".into(),
        issuer: "https://cluster.example".into(),
        subject: "system:serviceaccount:ops:oc".into(),
        audience: liveplatform::contract::FEDERATED_TOKEN_AUDIENCE.into(),
    }];
    let env = Env::with_seed(seed).await;
    let file = std::env::temp_dir().join(format!("oc-assertion-{}", uuid::Uuid::new_v4()));
    let mut config = config_for(&env.sim);
    config.credentials = Credentials::federated("wi-app", &file);
    let client = LivePlatformClient::new(config).unwrap();

    // No file yet: refused before any request, saying where it looked.
    let err = client.check_credentials().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );

    let exp = jiff::Timestamp::now().as_second() + 600;
    let claims = |sub: &str| json!({"iss": "https://cluster.example", "sub": sub, "aud": [liveplatform::contract::FEDERATED_TOKEN_AUDIENCE], "exp": exp});
    std::fs::write(&file, assertion(claims("system:serviceaccount:ops:other"))).unwrap();
    let err = client.check_credentials().await.unwrap_err();
    assert_says(&err, "AADSTS700213");

    std::fs::write(
        &file,
        format!("{}\n", assertion(claims("system:serviceaccount:ops:oc"))),
    )
    .unwrap();
    client
        .check_credentials()
        .await
        .expect("the rotated file is read");
    let _ = std::fs::remove_file(&file);
}
