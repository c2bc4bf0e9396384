//! What a SIP connection checks and reads on the platform outside its planner's
//! steps: its SBC against the calling profiles, a site found by name, drift.

use crate::api::OCSipConnection;
use crate::api::sip_connection::OCSipConnectionSpec;
use crate::controller::context::Context;
use crate::controller::customer_scope::{CustomerScope, namespace_of};
use crate::controller::error::{Error, Result};
use crate::controller::secret_access::{self, Purpose};
use liveplatform::contract::deployment_state::DEPLOYED;
use liveplatform::model::{AddSipConnection, ModifySipConnection, SbcInfo, SipConnection};
use liveplatform::secret::Secret as SecretString;

/// Refuses, before any call, an SBC that no calling profile of the platform maps.
pub(super) fn check_sbc(obj: &OCSipConnection, scope: &CustomerScope) -> Result<()> {
    let known: Vec<String> = scope
        .platform
        .status
        .iter()
        .flat_map(|s| s.calling_profiles.iter())
        .flat_map(|p| p.sbcs.iter().map(|s| s.id.clone()))
        .collect();
    if known.is_empty() {
        return Err(Error::Dependency(format!(
            "OCPlatform {} has not published its calling profiles yet",
            scope.platform.metadata.name.as_deref().unwrap_or_default()
        )));
    }
    if !known.contains(&obj.spec.sbc_id) {
        let mut known = known;
        known.sort();
        known.dedup();
        return Err(Error::InvalidSpec(format!(
            "SBC {} is not mapped by any calling profile of OCPlatform {}; use one of {}",
            obj.spec.sbc_id,
            scope.platform.metadata.name.as_deref().unwrap_or_default(),
            known.join(", ")
        )));
    }
    Ok(())
}

/// The id of the customer's site location named like this object's site, if any:
/// from Get Specific Customer with all details, which lists that customer's sites
/// (listing every service of the platform would grow with the platform's customers,
/// and be read once for each of them).
pub(super) async fn find_by_name(
    spec: &OCSipConnectionSpec,
    scope: &CustomerScope,
) -> Result<Option<String>> {
    let customer = scope.client.get_customer(&scope.customer_id, true).await?;
    Ok(customer
        .service
        .site_location
        .into_iter()
        .find(|site| {
            site.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&spec.site_name))
        })
        .and_then(|site| site.id))
}

/// Whether the platform's site differs from the spec in what Get SIP Connection shows.
/// The site as an add or modify of `spec` leaves it once its task ended well: what
/// [`drifted`] compares, as sent, and deployed on the SBC and in Microsoft 365.
pub(super) fn deployed_as_sent(spec: &OCSipConnectionSpec) -> SipConnection {
    SipConnection {
        site_name: Some(spec.site_name.clone()),
        sbc_deployment_state: Some(DEPLOYED),
        m365_deployment_state: Some(DEPLOYED),
        sbc_info: Some(SbcInfo {
            sbc_id: Some(spec.sbc_id.clone()),
            cac_profile: spec.cac_profile.clone(),
            flag_configure_sbc: spec.configure_sbc,
            ..SbcInfo::default()
        }),
        ..SipConnection::default()
    }
}

pub(super) fn drifted(spec: &OCSipConnectionSpec, site: &SipConnection) -> bool {
    let info = site.sbc_info.clone().unwrap_or_default();
    site.site_name.as_deref() != Some(spec.site_name.as_str())
        || info.sbc_id.as_deref() != Some(spec.sbc_id.as_str())
        || (spec.cac_profile.is_some() && info.cac_profile != spec.cac_profile)
        || info.flag_configure_sbc != spec.configure_sbc
}

pub(super) async fn carrier_password(
    ctx: &Context,
    obj: &OCSipConnection,
) -> Result<Option<SecretString>> {
    let Some(reference) = &obj.spec.carrier_password_secret_ref else {
        return Ok(None);
    };
    let ns = namespace_of(obj);
    let secret = secret_access::get(ctx, &ns, &reference.name, Purpose::CarrierPassword)
        .await?
        .ok_or_else(|| {
            Error::Dependency(format!(
                "Secret {ns}/{} (the carrier password) does not exist",
                reference.name
            ))
        })?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&reference.key))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::Dependency(format!(
                "Secret {ns}/{} has no (or an empty) key {}: put the site's carrier password there",
                reference.name, reference.key
            ))
        })?;
    Ok(Some(SecretString::new(value)))
}

pub(super) fn add_request(
    spec: &OCSipConnectionSpec,
    password: Option<SecretString>,
) -> AddSipConnection {
    let mut params = serde_json::Map::new();
    for (k, v) in &spec.script_parameters {
        params.insert(k.clone(), v.clone().into());
    }
    if let Some(cac) = &spec.cac_profile {
        params
            .entry("CacProfile")
            .or_insert_with(|| cac.clone().into());
    }
    AddSipConnection {
        site_location_name: spec.site_name.clone(),
        ovoc_customer_type: spec.customer_type.platform_value().to_owned(),
        sbc_id: spec.sbc_id.clone(),
        sbc_onboarding_script: spec.onboarding_script.clone(),
        sbc_cleanup_script: spec.cleanup_script.clone(),
        script_parameters: params,
        carrier_password: password,
    }
}

pub(super) fn modify_request(spec: &OCSipConnectionSpec, id: &str) -> ModifySipConnection {
    ModifySipConnection {
        site_location_id: id.to_owned(),
        sbc_id: Some(spec.sbc_id.clone()),
        sbc_site_name: Some(spec.site_name.clone()),
        cac_profile: spec.cac_profile.clone(),
        enable_cac: Some(spec.enable_cac),
        flag_configure_sbc: Some(spec.configure_sbc),
        flag_carrier_registration: Some(spec.carrier_registration),
    }
}
