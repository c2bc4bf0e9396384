//! The platform's requests and answers for an end user: the provisioning body, the
//! user found by SIP address, and whether what the platform reports matches.

use crate::api::end_user::{OCEndUserSpec, OCEndUserStatus};
use crate::controller::customer_scope::CustomerScope;
use crate::controller::error::Result;
use liveplatform::Error as PlatformError;
use liveplatform::model::{EndUser, ProvisionEndUser};

use super::*;

/// Whether a listed user has voice settings (a line URI or Enterprise Voice): what
/// provisioning manages.
pub(super) fn is_voice_enabled(user: &EndUser) -> bool {
    user.enterprise_voice_enabled || user.line_uri.as_deref().is_some_and(|l| !l.is_empty())
}

/// The user as the platform lists it (paging through), if listed.
pub(super) async fn find_user(
    scope: &CustomerScope,
    sip: &str,
) -> Result<Option<EndUser>, PlatformError> {
    let wanted = sip.trim_start_matches("sip:").to_ascii_lowercase();
    let mut page = 1;
    loop {
        let users = scope
            .client
            .list_end_users(&scope.customer_id, page, PAGE_SIZE)
            .await?;
        let count = users.data.len();
        if let Some(user) = users.data.into_iter().find(|u| {
            let address = u
                .sip_address
                .as_deref()
                .or(u.user_principal_name.as_deref())
                .unwrap_or_default();
            address
                .trim_start_matches("sip:")
                .eq_ignore_ascii_case(&wanted)
        }) {
            return Ok(Some(user));
        }
        if count == 0 || i64::from(page) >= users.total_pages {
            return Ok(None);
        }
        page += 1;
    }
}

pub(super) fn settings(s: &OCEndUserSpec) -> ProvisionEndUser {
    let address = s.address.clone().unwrap_or_default();
    ProvisionEndUser {
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        city: address.city,
        department: s.department.clone(),
        office: s.office.clone(),
        postal_code: address.postal_code,
        state_or_province: address.state_or_province,
        street_address: address.street_address,
        usage_location: s.usage_location.clone(),
        enterprise_voice_enabled: Some(s.enterprise_voice_enabled),
        teams_calling_policy: s.teams_calling_policy.clone(),
        online_voice_routing_policy: s.online_voice_routing_policy.clone(),
        hosted_voice_mail: s.hosted_voicemail,
        line_uri: s.line_uri.clone(),
    }
}

/// The user as a provisioning of `spec` that ended leaves it, its object id from the
/// task: the settings sent, and those not sent as the status last recorded them.
pub(super) fn provisioned(
    spec: &OCEndUserSpec,
    status: &OCEndUserStatus,
    object_id: String,
) -> EndUser {
    let sent = settings(spec);
    EndUser {
        sip_address: Some(spec.sip_address.clone()),
        object_id: Some(object_id),
        line_uri: sent.line_uri,
        usage_location: sent.usage_location,
        enterprise_voice_enabled: sent
            .enterprise_voice_enabled
            .or(status.enterprise_voice_enabled)
            .unwrap_or_default(),
        online_voice_routing_policy: sent
            .online_voice_routing_policy
            .or_else(|| status.online_voice_routing_policy.clone()),
        teams_calling_policy: sent.teams_calling_policy,
        ..EndUser::default()
    }
}

/// What deleting an end user sends: no line URI, voice off.
pub(super) fn removal() -> ProvisionEndUser {
    ProvisionEndUser {
        enterprise_voice_enabled: Some(false),
        ..Default::default()
    }
}

/// Whether the listed user shows the settings the platform reports back.
pub(super) fn reported_matches(user: &EndUser, body: &ProvisionEndUser) -> bool {
    user.line_uri == body.line_uri
        && Some(user.enterprise_voice_enabled) == body.enterprise_voice_enabled
        && (body.online_voice_routing_policy.is_none()
            || user.online_voice_routing_policy == body.online_voice_routing_policy)
        && (body.teams_calling_policy.is_none()
            || user.teams_calling_policy == body.teams_calling_policy)
        && (body.usage_location.is_none() || user.usage_location == body.usage_location)
}
