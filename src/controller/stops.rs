//! Why a planner stops short, as types: a spec that cannot be carried out as it is
//! ([`Rejection`], `Step::Reject`) and a write that ended badly on the platform
//! ([`Failure`], `Step::Fail`). The planners decide with these values and their tests
//! assert on them; the message a person reads in the object's condition is written
//! here, once.

use std::fmt;

use crate::api::common::WriteAction;
use crate::api::customer::LicenseType;

/// A spec that cannot be carried out as it is: nothing is retried until it changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// Microsoft Entra ID does not know the tenant.
    UnknownTenant { tenant: String, error: String },
    /// The customer has a licence type the operator does not manage.
    UnmanagedLicence { customer: String, code: i64 },
    /// The spec asks for OcEssentials, and the customer has a higher licence.
    NoWayBackToEssentials { customer: String, have: LicenseType },
    /// The platform refused the licence change, the customer's licence read just now.
    LicenceChangeRefused {
        customer: String,
        have: LicenseType,
        want: LicenseType,
    },
    /// A site location's deployment failed (its SBC or Microsoft 365 part).
    SiteDeploymentFailed {
        site: String,
        sbc: &'static str,
        microsoft_365: &'static str,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::UnknownTenant { tenant, error } => write!(
                f,
                "tenant {tenant} is unknown to Microsoft Entra ID ({error}); check spec.tenantId"
            ),
            Rejection::UnmanagedLicence { customer, code } => write!(
                f,
                "customer {customer} has licence type {code}, which the operator does not manage"
            ),
            Rejection::NoWayBackToEssentials { customer, have } => write!(
                f,
                "customer {customer} has licence {}; a licence cannot go back to OcEssentials, so set spec.license.type to OcEssentialsPlus or OcPro",
                have.name()
            ),
            Rejection::LicenceChangeRefused {
                customer,
                have,
                want,
            } => write!(
                f,
                "the platform refused changing the licence of customer {customer} from {} to {}, as read just now (\"Invalid change for License Type!\"); check spec.license against the customer's licence in the Live Platform portal",
                have.name(),
                want.name()
            ),
            Rejection::SiteDeploymentFailed {
                site,
                sbc,
                microsoft_365,
            } => write!(
                f,
                "the deployment of site location {site} failed (SBC {sbc}, Microsoft 365 {microsoft_365}); fix the script parameters or the SBC, which modifies the site"
            ),
        }
    }
}

/// A write that ended badly on the platform: it is over, and the reconcile is tried
/// again with backoff.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The write.
    pub action: WriteAction,
    /// What it was about, where the action alone does not say (a user, a site).
    pub target: Option<String>,
    /// The task that ended badly.
    pub task: String,
    /// The platform's words for what went wrong.
    pub detail: String,
}

impl Failure {
    pub fn new(action: WriteAction, task: &str, detail: impl Into<String>) -> Self {
        Failure {
            action,
            target: None,
            task: task.to_owned(),
            detail: detail.into(),
        }
    }

    pub fn of(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match (self.action, &self.target) {
            (WriteAction::CreateCustomer, _) => "creating the customer".to_owned(),
            (WriteAction::UpgradeLicense, _) => "the licence upgrade".to_owned(),
            (WriteAction::ProvisionEndUser, Some(user)) => format!("provisioning {user}"),
            (WriteAction::DeleteSipConnection, Some(site)) => {
                format!("removing site location {site}")
            }
            (action, Some(target)) => format!("{action} of {target}"),
            (action, None) => action.to_string(),
        };
        write!(f, "{what} failed (task {}): {}", self.task, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_names_what_failed_and_its_task() {
        let cases = [
            (
                Failure::new(WriteAction::CreateCustomer, "t1", "boom"),
                "creating the customer failed (task t1): boom",
            ),
            (
                Failure::new(WriteAction::ProvisionEndUser, "t2", "no").of("alice@contoso.com"),
                "provisioning alice@contoso.com failed (task t2): no",
            ),
            (
                Failure::new(WriteAction::UploadNumbers, "t3", "refused"),
                "Upload Numbers to Customer failed (task t3): refused",
            ),
            (
                Failure::new(WriteAction::DeleteSipConnection, "t4", "busy").of("s1"),
                "removing site location s1 failed (task t4): busy",
            ),
        ];
        for (failure, message) in cases {
            assert_eq!(failure.to_string(), message);
        }
    }

    #[test]
    fn a_rejection_says_what_to_fix() {
        let rejection = Rejection::NoWayBackToEssentials {
            customer: "g1".into(),
            have: LicenseType::OcPro,
        };
        let message = rejection.to_string();
        assert!(message.contains("OcPro"), "{message}");
        assert!(message.contains("set spec.license.type"), "{message}");
    }
}
