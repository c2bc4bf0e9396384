//! What can go wrong in a Live Platform call, told apart the way a controller must act
//! on it: fix the spec, wait and retry, or look the state up before writing again.

use std::collections::BTreeMap;
use std::time::Duration;

use super::action::Action;

/// An error of one Live Platform call. Every variant names the action that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// HTTP 400 with field messages: the request itself is wrong.
    #[error("{action}: the platform rejected the request: {}", format_fields(.fields))]
    Validation {
        action: Action,
        fields: BTreeMap<String, Vec<String>>,
    },

    /// A 4xx other than the ones below, with the platform's explanation.
    #[error("{action}: the platform refused the request (HTTP {status}): {detail}")]
    Rejected {
        action: Action,
        status: u16,
        detail: String,
    },

    /// HTTP 409: an earlier task on the same object still runs (see
    /// `contract::BUSY_CODE`); the write may be sent again once it ends.
    #[error("{action}: the platform is still running an earlier task on this object: {detail}")]
    Busy { action: Action, detail: String },

    /// The object named in the request does not exist.
    #[error("{action}: not found: {detail}")]
    NotFound { action: Action, detail: String },

    /// The credentials were refused, or a fresh token was refused again.
    #[error("{action}: unauthorized: {detail}")]
    Unauthorized { action: Action, detail: String },

    /// The customer's licence does not allow the action (OC Essentials).
    #[error("{action}: the customer's licence does not allow this: {detail}")]
    LicenseRequired { action: Action, detail: String },

    /// HTTP 429 after the retries the client allows itself.
    #[error("{action}: rate limited by the platform, retry after {retry_after:?}")]
    RateLimited {
        action: Action,
        retry_after: Duration,
    },

    /// 5xx, timeout or connection failure of a call that changed nothing (a read, or a
    /// write that was never sent).
    #[error("{action}: the platform is unavailable: {detail}")]
    Transient { action: Action, detail: String },

    /// A write was sent but its answer is unknown (timeout, dropped connection, 5xx).
    /// It may or may not have taken effect: look the state up before writing again.
    #[error(
        "{action}: the outcome of the write is unknown ({detail}); look the state up before retrying"
    )]
    OutcomeUnknown { action: Action, detail: String },

    /// The answer had a shape the client does not understand.
    #[error("{action}: unexpected answer: {detail}")]
    UnexpectedAnswer { action: Action, detail: String },

    /// A read's answer, or a listing, went on past what the client reads
    /// (`contract::MAX_ANSWER_BYTES`, `contract::MAX_LISTING_PAGES`). A write's answer
    /// cut this way is `OutcomeUnknown` instead.
    #[error("{action}: the answer is too large: {detail}")]
    AnswerTooLarge { action: Action, detail: String },

    /// The client's configuration is unusable (bad URL, plain http to a remote host).
    #[error("Live Platform client configuration: {0}")]
    Config(String),
}

fn format_fields(fields: &BTreeMap<String, Vec<String>>) -> String {
    if fields.is_empty() {
        return "no details given".to_owned();
    }
    fields
        .iter()
        .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// The action that failed, when the error belongs to one.
    pub fn action(&self) -> Option<Action> {
        match self {
            Error::Validation { action, .. }
            | Error::Rejected { action, .. }
            | Error::Busy { action, .. }
            | Error::NotFound { action, .. }
            | Error::Unauthorized { action, .. }
            | Error::LicenseRequired { action, .. }
            | Error::RateLimited { action, .. }
            | Error::Transient { action, .. }
            | Error::OutcomeUnknown { action, .. }
            | Error::UnexpectedAnswer { action, .. }
            | Error::AnswerTooLarge { action, .. } => Some(*action),
            Error::Config(_) => None,
        }
    }

    /// Worth trying again later without a change of input.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::Transient { .. }
                | Error::OutcomeUnknown { .. }
                | Error::Busy { .. }
        )
    }

    /// How long the platform asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The field messages of a validation error, flattened, for matching by callers
    /// (for example "already exists").
    pub fn messages(&self) -> Vec<String> {
        match self {
            Error::Validation { fields, .. } => fields.values().flatten().cloned().collect(),
            Error::Rejected { detail, .. }
            | Error::Busy { detail, .. }
            | Error::NotFound { detail, .. }
            | Error::LicenseRequired { detail, .. } => vec![detail.clone()],
            _ => Vec::new(),
        }
    }
}

/// A write refused because of an earlier write on the same platform object, not because
/// of the request: the state the earlier write leaves is what to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The tenant already has a lead.
    LeadExists,
    /// A customer is already being created from this lead.
    CustomerBeingCreated,
    /// The lead already has its customer.
    CustomerExists,
    /// A number is in another running task.
    OperationRunning,
    /// The tenant already holds the number.
    AlreadyAcquired,
    /// The customer's licence does not admit the change: it may already have been
    /// made, or an earlier change may still run.
    LicenceChangeRefused,
}

impl Error {
    /// The conflict this refusal stands for, read from the platform's validation
    /// messages or a refusal's detail (the texts are pinned in
    /// `contract::conflict_text`).
    pub fn conflict(&self) -> Option<Conflict> {
        use super::contract::conflict_text as text;
        if let Error::Rejected { detail, .. } = self {
            return detail
                .contains(text::LICENCE_CHANGE_REFUSED)
                .then_some(Conflict::LicenceChangeRefused);
        }
        let Error::Validation { fields, .. } = self else {
            return None;
        };
        let said = |words: &str| fields.values().flatten().any(|m| m.contains(words));
        [
            (text::LEAD_EXISTS, Conflict::LeadExists),
            (text::CUSTOMER_BEING_CREATED, Conflict::CustomerBeingCreated),
            (text::CUSTOMER_EXISTS, Conflict::CustomerExists),
            (text::OPERATION_RUNNING, Conflict::OperationRunning),
            (text::ALREADY_ACQUIRED, Conflict::AlreadyAcquired),
        ]
        .into_iter()
        .find_map(|(words, conflict)| said(words).then_some(conflict))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
