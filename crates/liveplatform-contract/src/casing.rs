//! Case-insensitive JSON property names.
//!
//! The Live Platform's manuals spell the same property several ways (`msTenantID`,
//! `msTenantId`, `MsTenantId`; camelCase leads next to PascalCase customers). Both the
//! client (for answers) and the simulator (for request bodies) therefore turn every
//! property name into one canonical snake_case form before deserialising, so a struct
//! field `ms_tenant_id` matches all of those spellings.

use serde_json::{Map, Value};

/// Properties whose values are maps keyed by data (field names of a validation error,
/// script variables), not by schema: their keys are kept as sent.
const OPAQUE_KEYS: &[&str] = &["errors", "script_parameters", "customer_variables"];

/// `msTenantID` -> `ms_tenant_id`, `LineURI` -> `line_uri`, `m365Info` -> `m365_info`,
/// `access_token` -> `access_token`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' || c == ' ' || c == '_' {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower);
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Rewrites every property name of `value` (recursively) with [`snake_case`].
pub fn normalize_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, inner) in map {
                let key = snake_case(&key);
                let inner = if OPAQUE_KEYS.contains(&key.as_str()) {
                    inner
                } else {
                    normalize_keys(inner)
                };
                out.insert(key, inner);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_the_manuals_meet() {
        for (raw, want) in [
            ("msTenantID", "ms_tenant_id"),
            ("msTenantId", "ms_tenant_id"),
            ("MsTenantId", "ms_tenant_id"),
            ("UpgradetoLicense", "upgradeto_license"),
            ("upgradeToLicense", "upgrade_to_license"),
            ("LineURI", "line_uri"),
            ("m365DeploymentState", "m365_deployment_state"),
            ("access_token", "access_token"),
            ("enableCAC", "enable_cac"),
            ("CacProfile", "cac_profile"),
            ("telphoneNumberDetail", "telphone_number_detail"),
            ("OcUploadNumberResult", "oc_upload_number_result"),
        ] {
            assert_eq!(snake_case(raw), want, "{raw}");
        }
    }

    #[test]
    fn opaque_maps_keep_their_keys() {
        let v = serde_json::json!({"Errors": {"TenantId": ["x"]}, "SipAddress": "a", "list": [{"PageSize": 1}]});
        let n = normalize_keys(v);
        assert_eq!(n["errors"]["TenantId"][0], "x");
        assert_eq!(n["sip_address"], "a");
        assert_eq!(n["list"][0]["page_size"], 1);
    }
}
