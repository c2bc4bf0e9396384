//! The platform's requests of a number block, built from its spec, and the
//! failures recorded from their answers.

use crate::api::common::WriteAction;
use crate::api::number_block::{FailedNumber, OCNumberBlockSpec};
use crate::controller::customer_scope::CustomerScope;
use crate::controller::error::Result;
use liveplatform::Conflict;
use liveplatform::model::{NumberOutcome, UploadNumbers, ValidateNumbers};

use super::*;

pub(super) fn record_failures<'a>(
    draft: &mut Draft,
    failures: impl Iterator<Item = &'a NumberOutcome>,
) {
    for f in failures {
        draft
            .status
            .failed
            .retain(|x| x.number != f.telephone_number);
        draft.status.failed.push(FailedNumber {
            number: f.telephone_number.clone(),
            reason: f.error_code.clone().unwrap_or_default(),
            message: f.error_message.clone(),
        });
    }
    draft.status.failed.sort_by(|a, b| a.number.cmp(&b.number));
}

pub(super) fn upload_request(spec: &OCNumberBlockSpec, numbers: Vec<String>) -> UploadNumbers {
    let mut body = UploadNumbers::new(spec.calling_profile_id.clone(), usage(spec), numbers);
    body.capabilities = spec.capabilities.iter().map(|c| capability(*c)).collect();
    body.civic_address_id = spec.civic_address_id.clone();
    body.location_id = spec.location_id.clone();
    body
}

/// Validates numbers an upload task failed: the ones validation refuses, each with
/// what the platform says is wrong and what to do.
pub(super) async fn validate(
    scope: &CustomerScope,
    numbers: Vec<String>,
) -> Result<Vec<NumberOutcome>> {
    let check = scope
        .client
        .validate_numbers(&ValidateNumbers {
            telephone_numbers: numbers,
            ms_tenant_id: scope.tenant.clone(),
        })
        .await?;
    Ok(check
        .telephone_numbers
        .iter()
        .filter(|n| !n.validation_result.eq_ignore_ascii_case("Success"))
        .map(|n| {
            let detail: Vec<String> = n
                .validation_detail
                .iter()
                .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned))
                .collect();
            let message = [
                detail.join("; "),
                n.action_required.clone().unwrap_or_default(),
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(": ");
            NumberOutcome {
                telephone_number: n.telephone_number.clone(),
                status: "Failed".into(),
                error_code: Some("validation_failed".into()),
                error_message: Some(message).filter(|m| !m.is_empty()),
            }
        })
        .collect())
}

/// A refusal caused by the numbers' state on the platform rather than by the spec.
pub(super) fn state_changed(action: WriteAction, error: &liveplatform::Error) -> bool {
    let liveplatform::Error::Validation { fields, .. } = error else {
        return false;
    };
    match action {
        WriteAction::ReleaseNumbers | WriteAction::UnassignNumbers => {
            fields.values().flatten().next().is_some()
        }
        _ => matches!(
            error.conflict(),
            Some(Conflict::OperationRunning | Conflict::AlreadyAcquired)
        ),
    }
}

pub(super) fn usage(spec: &OCNumberBlockSpec) -> liveplatform::model::Usage {
    use crate::api::number_block::Usage as U;
    use liveplatform::model::Usage as P;
    match spec.usage {
        U::CallingUserAssignment => P::CallingUserAssignment,
        U::ConferenceAssignment => P::ConferenceAssignment,
        U::FirstPartyAppAssignment => P::FirstPartyAppAssignment,
        U::ThirdPartyAppAssignment => P::ThirdPartyAppAssignment,
    }
}

pub(super) fn capability(
    c: crate::api::number_block::Capability,
) -> liveplatform::model::Capability {
    use crate::api::number_block::Capability as C;
    use liveplatform::model::Capability as P;
    match c {
        C::InboundCalling => P::InboundCalling,
        C::OutboundCalling => P::OutboundCalling,
        C::Office365 => P::Office365,
        C::UserAssignment => P::UserAssignment,
        C::FirstPartyAppAssignment => P::FirstPartyAppAssignment,
        C::ConferenceAssignment => P::ConferenceAssignment,
        C::TollFree => P::TollFree,
    }
}
