//! Where each action of the API reference is sent: its HTTP method and its path, with
//! `{name}` standing for a value the call fills in (in the order the path names them),
//! written the way the simulator's router writes them. The calls in `calls` are built
//! from this table; a call's query and body are its own.

use reqwest::Method;

use super::action::Action;
use super::contract;

/// An action's method and path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
}

impl Route {
    fn new(method: Method, path: &'static str) -> Self {
        Self { method, path }
    }

    /// The path's segments with the placeholders filled in from `values`, in order;
    /// `None` when the count differs (a mistake in a call, caught by the tests).
    pub fn segments(&self, values: &[&str]) -> Option<Vec<String>> {
        let mut values = values.iter();
        let segments = self
            .path
            .trim_start_matches('/')
            .split('/')
            .map(
                |segment| match segment.starts_with('{') && segment.ends_with('}') {
                    true => values.next().map(|v| (*v).to_owned()),
                    false => Some(segment.to_owned()),
                },
            )
            .collect::<Option<Vec<_>>>()?;
        values.next().is_none().then_some(segments)
    }

    /// How many values the path takes.
    pub fn placeholders(&self) -> usize {
        self.path.split('/').filter(|s| s.starts_with('{')).count()
    }
}

impl Action {
    /// Where the action is sent on the platform; `None` for the two actions that go to
    /// the identity provider (the token and the tenant's validation), whose addresses
    /// come from the configuration.
    pub fn route(self) -> Option<Route> {
        use Method as M;
        let route = match self {
            Action::GetToken | Action::ValidateTenant => return None,
            Action::CreateLead => Route::new(M::POST, "/v2/oc/lead"),
            Action::GetLead | Action::ListLeads => Route::new(M::GET, "/v2/oc/lead"),
            Action::DeleteLead => Route::new(M::DELETE, "/v2/oc/lead"),
            Action::AssignChannel => Route::new(M::PUT, "/v3/ovoc/channel/action/assign"),
            Action::RemoveChannel => Route::new(M::PUT, "/v3/ovoc/channel/action/remove/"),
            Action::CreateChannel => Route::new(M::POST, "/ovoc/v1/topology/channels/"),
            Action::GetChannel => Route::new(M::GET, "/ovoc/v1/topology/channels/{id}"),
            Action::CreateCustomer => Route::new(M::POST, "/v3/customer"),
            Action::UpgradeLicense => Route::new(M::POST, "/v2/customer/{guid}/action/upgrade"),
            Action::ChangeLicense => Route::new(M::PATCH, "/v3/customer/{guid}"),
            Action::GetLicenseInfo => Route::new(M::GET, "/v3/customer/{guid}/licenseinfo"),
            Action::ListServices => Route::new(M::GET, "/v3/customer"),
            Action::ListCustomersBrief => Route::new(M::GET, "/v2/customer"),
            Action::GetCustomer => Route::new(M::GET, "/v3/customer/{guid}"),
            Action::DeleteService => Route::new(M::DELETE, "/v2/customer/{guid}"),
            Action::GetCallingProfiles => Route::new(M::GET, "/v2/oc/callingprofile"),
            Action::GetSbcMapping => Route::new(M::GET, contract::SBC_MAPPING_PATH),
            Action::ValidateNumbers => Route::new(M::POST, "/v2/oc/numbers/action/number-status"),
            Action::UploadNumbers => Route::new(M::POST, "/v2/oc/numbers/action/upload"),
            Action::ReleaseNumbers => Route::new(M::POST, "/v2/oc/numbers/action/release"),
            Action::UnassignNumbers => Route::new(M::POST, "/v2/oc/numbers/action/unassign"),
            Action::ListNumbersV2 => Route::new(M::GET, "/v2/oc/numbers"),
            Action::ListNumbersV3 => Route::new(M::GET, "/v3/oc/numbers"),
            Action::AddSipConnection => Route::new(M::POST, "/v2/customer/{guid}/sitelocation/"),
            Action::ModifySipConnection => {
                Route::new(M::PATCH, "/v2/customer/{guid}/sitelocation/")
            }
            Action::GetSipConnection => Route::new(M::GET, "/v2/sitelocation/{site}"),
            Action::DeleteSipConnection => Route::new(M::DELETE, "/v2/sitelocation/{site}"),
            Action::ListEndUsers => Route::new(M::GET, "/v3/customer/{guid}/user"),
            Action::ProvisionEndUser => Route::new(M::PUT, "/v2/customer/{guid}/user/{sip}/script"),
            Action::GetDialPlan => Route::new(
                M::GET,
                "/v2/customer/{guid}/sitelocation/{site}/dialplan/{dialplan}",
            ),
            Action::ModifyDialPlan => Route::new(
                M::PATCH,
                "/v2/customer/{guid}/sitelocation/{site}/dialplan/{dialplan}",
            ),
            Action::DeleteDialPlan => Route::new(
                M::DELETE,
                "/v2/customer/{guid}/sitelocation/{site}/dialplan/{dialplan}",
            ),
            Action::GetTask => Route::new(M::GET, "/v2/task/{task_id}"),
        };
        Some(route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_action_has_a_route_and_only_those() {
        for action in Action::ALL {
            let identity = matches!(action, Action::GetToken | Action::ValidateTenant);
            assert_eq!(action.route().is_none(), identity, "{action:?}");
        }
    }

    #[test]
    fn placeholders_are_filled_in_order_and_counted() {
        let route = Action::ProvisionEndUser.route().unwrap();
        assert_eq!(route.placeholders(), 2);
        assert_eq!(
            route.segments(&["c1", "ada@contoso.example"]).unwrap(),
            [
                "v2",
                "customer",
                "c1",
                "user",
                "ada@contoso.example",
                "script"
            ]
        );
        assert_eq!(route.segments(&["c1"]), None);
        assert_eq!(route.segments(&["c1", "ada", "extra"]), None);
        // A trailing slash is part of the path, as the platform's manuals write it.
        assert_eq!(
            Action::RemoveChannel
                .route()
                .unwrap()
                .segments(&[])
                .unwrap(),
            ["v3", "ovoc", "channel", "action", "remove", ""]
        );
    }
}
