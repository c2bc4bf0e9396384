//! What the shared machinery needs to know of each kind.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::common::Operation;
use crate::api::*;

/// A custom resource the operator reconciles.
pub trait Kind:
    Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    type Status: Clone + Default + Debug + PartialEq + Serialize + Send + Sync;

    fn status(&self) -> Option<&Self::Status>;
    fn conditions(status: &Self::Status) -> &[Condition];
    fn conditions_mut(status: &mut Self::Status) -> &mut Vec<Condition>;
    fn set_observed_generation(status: &mut Self::Status, generation: Option<i64>);

    /// `status.operation`, for kinds that start platform writes.
    fn operation_mut(_status: &mut Self::Status) -> Option<&mut Option<Operation>> {
        None
    }
}

macro_rules! status_access {
    ($status:ty) => {
        type Status = $status;

        fn status(&self) -> Option<&Self::Status> {
            self.status.as_ref()
        }

        fn conditions(status: &Self::Status) -> &[Condition] {
            &status.conditions
        }

        fn conditions_mut(status: &mut Self::Status) -> &mut Vec<Condition> {
            &mut status.conditions
        }

        fn set_observed_generation(status: &mut Self::Status, generation: Option<i64>) {
            status.observed_generation = generation;
        }
    };
}

macro_rules! kind {
    ($kind:ty, $status:ty, operation) => {
        impl Kind for $kind {
            status_access!($status);

            fn operation_mut(status: &mut Self::Status) -> Option<&mut Option<Operation>> {
                Some(&mut status.operation)
            }
        }
    };
    ($kind:ty, $status:ty) => {
        impl Kind for $kind {
            status_access!($status);
        }
    };
}

kind!(OCPlatform, OCPlatformStatus);
kind!(OCCustomer, OCCustomerStatus, operation);
kind!(OCNumberBlock, OCNumberBlockStatus, operation);
kind!(OCSipConnection, OCSipConnectionStatus, operation);
kind!(OCDialPlan, OCDialPlanStatus);
kind!(OCEndUser, OCEndUserStatus, operation);

/// `kind/namespace/name`, for logs and per-object state.
pub fn key<K: Kind>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&()),
        obj.meta().namespace.as_deref().unwrap_or(""),
        obj.meta().name.as_deref().unwrap_or("")
    )
}

/// A kind that belongs to a customer through `spec.customerRef`.
pub trait CustomerOwned: Kind + Resource<Scope = kube::core::NamespaceResourceScope> {
    /// How status messages name several of them.
    const WHAT: &'static str;
    /// The name of the OCCustomer (same namespace).
    fn customer(&self) -> &str;
}

macro_rules! customer_owned {
    ($kind:ty, $what:literal) => {
        impl CustomerOwned for $kind {
            const WHAT: &'static str = $what;
            fn customer(&self) -> &str {
                &self.spec.customer_ref.name
            }
        }
    };
}

customer_owned!(OCEndUser, "end users");
customer_owned!(OCDialPlan, "dial plans");
customer_owned!(OCSipConnection, "SIP connections");
customer_owned!(OCNumberBlock, "number blocks");
