//! Microsoft Entra ID client-credentials tokens, cached and renewed before expiry. The
//! client proves itself with a client secret or with a federated credential (workload
//! identity): a token file, re-read at every token request so a rotated file counts.

use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

use super::action::Action;
use super::answer;
use super::contract::{self, TOKEN_REFRESH_MARGIN};
use super::error::{Error, Result};
use crate::secret::Secret;

/// The service provider's Entra ID application and how it proves itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub proof: Proof,
}

/// How the client proves it is the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A client secret.
    ClientSecret(Secret),
    /// A federated credential: the signed token in this file (the pod's projected
    /// ServiceAccount token, which the kubelet rotates) is sent as a client assertion.
    /// The file is read at every token request.
    FederatedTokenFile(PathBuf),
}

impl Credentials {
    /// An application that proves itself with a client secret.
    pub fn with_secret(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        Self {
            client_id: client_id.into(),
            proof: Proof::ClientSecret(client_secret.into()),
        }
    }

    /// An application that proves itself with the federated token in `token_file`.
    pub fn federated(client_id: impl Into<String>, token_file: impl Into<PathBuf>) -> Self {
        Self {
            client_id: client_id.into(),
            proof: Proof::FederatedTokenFile(token_file.into()),
        }
    }
}

#[derive(Debug, Clone)]
struct CachedToken {
    token: Secret,
    renew_at: Instant,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// Fetches and caches bearer tokens; one fetch at a time.
#[derive(Debug)]
pub struct TokenSource {
    http: reqwest::Client,
    token_url: url::Url,
    credentials: RwLock<Credentials>,
    cached: Mutex<Option<CachedToken>>,
    /// Token requests are calls too: counted like every other (a refused secret
    /// shows as `get_token` answered 400 or 401).
    observer: std::sync::Arc<dyn super::client::CallObserver>,
}

impl TokenSource {
    pub fn new(
        http: reqwest::Client,
        identity_base: &url::Url,
        sp_tenant_id: &str,
        credentials: Credentials,
        observer: std::sync::Arc<dyn super::client::CallObserver>,
    ) -> Result<Self> {
        let base = identity_base.as_str().trim_end_matches('/');
        let token_url =
            url::Url::parse(&format!("{base}{}", contract::token_path(sp_tenant_id)))
                .map_err(|e| Error::Config(format!("identity base {identity_base}: {e}")))?;
        Ok(Self {
            http,
            token_url,
            credentials: RwLock::new(credentials),
            cached: Mutex::new(None),
            observer,
        })
    }

    /// Replaces the credentials (a rotated Secret); the cached token is dropped.
    pub async fn set_credentials(&self, credentials: Credentials) {
        let changed = {
            let mut current = self.credentials.write().unwrap_or_else(|p| p.into_inner());
            let changed = *current != credentials;
            *current = credentials;
            changed
        };
        if changed {
            *self.cached.lock().await = None;
        }
    }

    /// A valid token, from the cache or freshly fetched.
    pub async fn token(&self) -> Result<Secret> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets `token` after the platform refused it, so the next call fetches anew.
    pub async fn invalidate(&self, token: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == token) {
            *cached = None;
        }
    }

    async fn fetch(&self) -> Result<CachedToken> {
        let action = Action::GetToken;
        let credentials = self
            .credentials
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let assertion = match &credentials.proof {
            Proof::ClientSecret(_) => None,
            Proof::FederatedTokenFile(path) => {
                Some(read_assertion(action, &credentials.client_id, path).await?)
            }
        };
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", credentials.client_id.as_str()),
            ("scope", contract::SCOPE),
        ];
        match (&credentials.proof, &assertion) {
            (_, Some(assertion)) => {
                form.push(("client_assertion_type", contract::CLIENT_ASSERTION_TYPE));
                form.push(("client_assertion", assertion.expose()));
            }
            (Proof::ClientSecret(secret), None) => form.push(("client_secret", secret.expose())),
            (Proof::FederatedTokenFile(_), None) => {}
        }
        let started = Instant::now();
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                self.observer.call(action, None, started.elapsed());
                Error::Transient {
                    action,
                    detail: super::client::describe_transport(&e),
                }
            })?;
        let status = response.status().as_u16();
        self.observer.call(action, Some(status), started.elapsed());
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = super::body::read(response)
            .await
            .map_err(|unread| match unread {
                super::body::Unread::Transport(e) => Error::Transient {
                    action,
                    detail: super::client::describe_transport(&e),
                },
                super::body::Unread::TooLarge => Error::AnswerTooLarge {
                    action,
                    detail: unread.describe(),
                },
            })?;
        let value = match status {
            // Entra answers a bad client with 400/401 and an OAuth error body.
            400 | 401 => {
                let detail = match answer::parse_body(&body) {
                    serde_json::Value::Object(map) => map
                        .get("error_description")
                        .or_else(|| map.get("error"))
                        .and_then(|v| v.as_str())
                        .unwrap_or("the identity endpoint refused the client's proof")
                        .to_owned(),
                    _ => "the identity endpoint refused the client's proof".to_owned(),
                };
                return Err(Error::Unauthorized {
                    action,
                    detail: format!("client {}: {detail}", credentials.client_id),
                });
            }
            _ => answer::classify(action, status, retry_after.as_deref(), &body)?,
        };
        let answer: TokenAnswer = answer::decode(action, value)?;
        if answer.access_token.is_empty() {
            return Err(Error::UnexpectedAnswer {
                action,
                detail: "empty access_token".into(),
            });
        }
        let lifetime = answer
            .expires_in
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .map_or(contract::TOKEN_LIFETIME, Duration::from_secs);
        // Renew early: at the margin before expiry, or halfway for short-lived tokens.
        let margin = TOKEN_REFRESH_MARGIN.min(lifetime / 2);
        Ok(CachedToken {
            token: Secret::new(answer.access_token),
            renew_at: started + lifetime - margin,
        })
    }
}

/// The federated token in `path`, trimmed. A missing or empty file is refused like a
/// bad credential (retried): the kubelet writes it before the container starts and
/// rewrites it as it rotates, so it is a mounting problem to fix, not a spec problem.
async fn read_assertion(action: Action, client_id: &str, path: &std::path::Path) -> Result<Secret> {
    let text = tokio::fs::read_to_string(path).await.map_err(|e| Error::Unauthorized {
        action,
        detail: format!(
            "client {client_id}: reading the federated token file {}: {e}; is the projected ServiceAccount token mounted there?",
            path.display()
        ),
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::Unauthorized {
            action,
            detail: format!(
                "client {client_id}: the federated token file {} is empty",
                path.display()
            ),
        });
    }
    Ok(Secret::new(token.to_owned()))
}
