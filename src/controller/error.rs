//! Errors of a reconcile, and what each means for conditions and retries.

use std::time::Duration;

use crate::api::conditions::reason;
use liveplatform;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Live Platform call failed.
    #[error(transparent)]
    Platform(#[from] liveplatform::Error),

    /// A Kubernetes API call failed.
    #[error("Kubernetes API: {context}: {source}")]
    Kube {
        context: String,
        #[source]
        source: kube::Error,
    },

    /// The spec cannot be acted on as it is; says what to change.
    #[error("{0}")]
    InvalidSpec(String),

    /// The platform refused the request in a way only a spec change can fix.
    #[error("{0}")]
    Rejected(String),

    /// Something in Kubernetes this object needs is missing or not ready yet (a
    /// Secret, the platform); retried with backoff and on the dependency's change.
    #[error("{0}")]
    Dependency(String),

    /// The platform's credentials are not sent where its spec points (see
    /// [`super::endpoint_hosts`]); says what the installer or the Secret's owner can
    /// do. Looked at again when the platform or its Secret changes.
    #[error("{0}")]
    CredentialsWithheld(String),

    /// A task the operator started ended badly; worth another try later.
    #[error("{0}")]
    TaskFailed(String),
}

/// How an error shows in conditions and how the object is retried.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Reason of `Synced=False`.
    pub synced_reason: &'static str,
    /// Reason of `Ready=False`, when the error also decides readiness.
    pub ready_reason: Option<&'static str>,
    /// Retry only after the spec changes.
    pub terminal: bool,
    /// The platform asked to wait this long.
    pub retry_after: Option<Duration>,
}

impl Error {
    pub fn kube(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let context = context.into();
        move |source| Error::Kube { context, source }
    }

    pub fn verdict(&self) -> Verdict {
        use liveplatform::Error as P;
        let v = |synced_reason, ready_reason, terminal| Verdict {
            synced_reason,
            ready_reason,
            terminal,
            retry_after: None,
        };
        match self {
            Error::Platform(P::RateLimited { retry_after, .. }) => Verdict {
                retry_after: Some(*retry_after),
                ..v(reason::THROTTLED, None, false)
            },
            Error::Platform(P::Transient { .. } | P::OutcomeUnknown { .. }) => {
                v(reason::API_UNAVAILABLE, None, false)
            }
            Error::Platform(P::Unauthorized { .. }) => v(reason::UNAUTHORIZED, None, false),
            Error::Platform(P::Busy { .. }) => v(
                reason::RECONCILE_ERROR,
                Some(reason::WAITING_FOR_TASK),
                false,
            ),
            Error::Platform(
                P::Validation { .. } | P::Rejected { .. } | P::LicenseRequired { .. },
            ) => v(reason::RECONCILE_ERROR, Some(reason::REJECTED), true),
            Error::Platform(
                P::NotFound { .. } | P::UnexpectedAnswer { .. } | P::AnswerTooLarge { .. },
            ) => v(reason::RECONCILE_ERROR, None, false),
            Error::Platform(P::Config(_)) | Error::InvalidSpec(_) => {
                v(reason::RECONCILE_ERROR, Some(reason::INVALID_SPEC), true)
            }
            Error::Rejected(_) => v(reason::RECONCILE_ERROR, Some(reason::REJECTED), true),
            Error::Dependency(_) => v(
                reason::RECONCILE_ERROR,
                Some(reason::WAITING_FOR_DEPENDENCY),
                false,
            ),
            Error::CredentialsWithheld(_) => v(
                reason::RECONCILE_ERROR,
                Some(reason::CREDENTIALS_WITHHELD),
                false,
            ),
            Error::TaskFailed(_) | Error::Kube { .. } => v(reason::RECONCILE_ERROR, None, false),
        }
    }

    /// The condition message: what happened and what to do about it.
    pub fn advice(&self) -> String {
        use liveplatform::Error as P;
        let what = self.to_string();
        let todo = match self {
            Error::Platform(P::RateLimited { .. }) => {
                "the operator retries after the platform's Retry-After"
            }
            Error::Platform(P::Transient { .. }) => {
                "the operator retries with backoff; check the platform's availability if this persists"
            }
            Error::Platform(P::OutcomeUnknown { .. }) => {
                "the operator looks the platform state up before writing again"
            }
            Error::Platform(P::Busy { .. }) => {
                "the operator retries with backoff once that task ends, looking the platform up first"
            }
            Error::Platform(P::Unauthorized { .. }) => {
                "check the OCPlatform's credentials: the client id and secret of its credentials Secret (a fixed Secret takes effect without a restart), or for workloadIdentity the application's federated identity credential (issuer, subject and audience of the operator's ServiceAccount token)"
            }
            Error::Platform(P::Validation { .. } | P::Rejected { .. }) | Error::Rejected(_) => {
                "fix the spec; the operator does not retry until the spec changes"
            }
            Error::Platform(P::LicenseRequired { .. }) => {
                "upgrade the customer's licence to OcEssentialsPlus or OcPro"
            }
            Error::Platform(P::Config(_)) | Error::InvalidSpec(_) => {
                "fix the spec; nothing is sent to the platform until then"
            }
            Error::Platform(P::NotFound { .. } | P::UnexpectedAnswer { .. })
            | Error::TaskFailed(_) => "the operator retries with backoff",
            Error::Platform(P::AnswerTooLarge { .. }) => {
                "the operator stopped reading it and retries with backoff"
            }
            Error::Kube { .. } => {
                "the operator retries with backoff; check its RBAC if this persists"
            }
            Error::Dependency(_) => "the operator retries when it appears",
            Error::CredentialsWithheld(_) => {
                "nothing is sent to the platform until then; the operator looks again when the OCPlatform or its Secret changes"
            }
        };
        format!("{what}; {todo}")
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether a Kubernetes error is a 404.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}
