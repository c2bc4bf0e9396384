//! What an object that belongs to a customer (`spec.customerRef`) works with: the
//! OCCustomer, its platform id and tenant, and the platform client. Shared by number
//! blocks, SIP connections, dial plans and end users.

use kube::ResourceExt;
use kube::api::Api;

use super::context::Context;
use super::error::{Error, Result};
use super::kind::Kind;
use super::platforms;
use super::status::StatusDraft;
use crate::api::conditions::{READY, reason};
use crate::api::{OCCustomer, OCPlatform};
use crate::liveplatform::LivePlatformClient;

pub struct CustomerScope {
    pub client: LivePlatformClient,
    pub platform: OCPlatform,
    pub customer: OCCustomer,
    /// The customer's id on the platform (`umpCustomerGuid`).
    pub customer_id: String,
    /// The customer's tenant, lower case.
    pub tenant: String,
}

impl CustomerScope {
    pub fn drift_seconds(&self) -> i64 {
        self.platform.spec.drift_check_seconds
    }
}

/// The scope of an object in `namespace` naming customer `name`, or `None` with
/// `Ready=False` saying what it waits for (and no platform call).
pub async fn customer_scope<K: Kind>(
    ctx: &Context,
    namespace: &str,
    name: &str,
    draft: &mut StatusDraft<K>,
) -> Result<Option<CustomerScope>> {
    let customers: Api<OCCustomer> = Api::namespaced(ctx.client.clone(), namespace);
    let customer = customers.get_opt(name).await.map_err(Error::kube(format!(
        "reading OCCustomer {namespace}/{name}"
    )))?;
    let Some(customer) = customer else {
        draft.condition(
            READY,
            false,
            reason::WAITING_FOR_CUSTOMER,
            format!("OCCustomer {name} does not exist; create it or fix customerRef"),
        );
        return Ok(None);
    };
    let Some(customer_id) = customer.status.as_ref().and_then(|s| s.customer_id.clone()) else {
        draft.condition(
            READY,
            false,
            reason::WAITING_FOR_CUSTOMER,
            format!("OCCustomer {name} is not a customer on the platform yet"),
        );
        return Ok(None);
    };
    let Some((client, platform)) =
        platforms::access(ctx, namespace, &customer.spec.platform_ref.name, draft).await?
    else {
        return Ok(None);
    };
    let tenant = customer.spec.tenant_id.to_ascii_lowercase();
    Ok(Some(CustomerScope {
        client,
        platform,
        customer,
        customer_id,
        tenant,
    }))
}

/// The namespace of `obj`.
pub fn namespace_of<K: Kind>(obj: &K) -> String {
    obj.namespace().unwrap_or_default()
}
