//! What the shared machinery needs to know of each kind.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::common::{ManagementPolicy, Operation};
use crate::api::status::{OwnerStatus, ReconcileStatus};
use crate::api::*;

/// A custom resource the operator reconciles.
pub trait Kind:
    Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    type Spec: Debug + Send + Sync;
    type Status: Clone + Default + Debug + PartialEq + Serialize + Send + Sync;

    fn spec(&self) -> &Self::Spec;

    fn status(&self) -> Option<&Self::Status>;
    fn conditions(status: &Self::Status) -> &[Condition];
    fn conditions_mut(status: &mut Self::Status) -> &mut Vec<Condition>;
    /// The status fields every kind shares (`observedGeneration`, `lastChecked`,
    /// `rejectedGeneration`).
    fn reconciled(status: &Self::Status) -> &ReconcileStatus;
    fn reconciled_mut(status: &mut Self::Status) -> &mut ReconcileStatus;

    /// `status.operation`, for kinds that start platform writes.
    fn operation_mut(_status: &mut Self::Status) -> Option<&mut Option<Operation>> {
        None
    }

    /// `status.ownedSince` and `status.plannedActions`, for kinds that own a platform
    /// object.
    fn owner(_status: &Self::Status) -> Option<&OwnerStatus> {
        None
    }

    fn owner_mut(_status: &mut Self::Status) -> Option<&mut OwnerStatus> {
        None
    }

    /// Whether the status records a platform id or a write in flight, that is, a
    /// claim on the platform object (see `ownership`).
    fn records_claim(_status: &Self::Status) -> bool {
        false
    }

    /// `spec.managementPolicy`, for kinds that write to the platform.
    fn management_policy(&self) -> ManagementPolicy {
        ManagementPolicy::Manage
    }

    /// Whether reconciling it writes to the Live Platform. Only then can a cached copy
    /// older than its own last status write (an intent recorded, its task id not yet
    /// seen) lead to a write sent twice, and must be read again; an OCPlatform only
    /// reads, so its cached copy always does (and the operator needs no `get` on it).
    const WRITES_TO_PLATFORM: bool = true;
}

macro_rules! status_access {
    ($spec:ty, $status:ty) => {
        type Spec = $spec;
        type Status = $status;

        fn spec(&self) -> &Self::Spec {
            &self.spec
        }

        fn status(&self) -> Option<&Self::Status> {
            self.status.as_ref()
        }

        fn conditions(status: &Self::Status) -> &[Condition] {
            &status.reconcile.conditions
        }

        fn conditions_mut(status: &mut Self::Status) -> &mut Vec<Condition> {
            &mut status.reconcile.conditions
        }

        fn reconciled(status: &Self::Status) -> &ReconcileStatus {
            &status.reconcile
        }

        fn reconciled_mut(status: &mut Self::Status) -> &mut ReconcileStatus {
            &mut status.reconcile
        }
    };
}

macro_rules! kind {
    ($kind:ty, $spec:ty, $status:ty) => {
        impl Kind for $kind {
            status_access!($spec, $status);

            const WRITES_TO_PLATFORM: bool = false;
        }
    };
    ($kind:ty, $spec:ty, $status:ty, owner: |$s:ident| $claim:expr, $($operation:ident)?) => {
        impl Kind for $kind {
            status_access!($spec, $status);

            $(
                fn $operation(status: &mut Self::Status) -> Option<&mut Option<Operation>> {
                    Some(&mut status.operation)
                }
            )?

            fn owner(status: &Self::Status) -> Option<&OwnerStatus> {
                Some(&status.ownership)
            }

            fn owner_mut(status: &mut Self::Status) -> Option<&mut OwnerStatus> {
                Some(&mut status.ownership)
            }

            fn management_policy(&self) -> ManagementPolicy {
                self.spec.management_policy
            }

            fn records_claim($s: &Self::Status) -> bool {
                $claim
            }
        }
    };
}

kind!(OCPlatform, OCPlatformSpec, OCPlatformStatus);
kind!(OCCustomer, OCCustomerSpec, OCCustomerStatus,
    owner: |s| s.lead_id.is_some() || s.customer_id.is_some() || s.operation.is_some(),
    operation_mut);
kind!(OCNumberBlock, OCNumberBlockSpec, OCNumberBlockStatus,
    owner: |s| !s.active.is_empty() || s.operation.is_some(),
    operation_mut);
kind!(OCSipConnection, OCSipConnectionSpec, OCSipConnectionStatus,
    owner: |s| s.site_location_id.is_some() || s.operation.is_some(),
    operation_mut);
kind!(OCDialPlan, OCDialPlanSpec, OCDialPlanStatus, owner: |s| !s.managed_rules.is_empty(),);
kind!(OCEndUser, OCEndUserSpec, OCEndUserStatus,
    owner: |s| s.applied_generation.is_some() || s.operation.is_some(),
    operation_mut);

/// `kind/namespace/name`, for logs and per-object state.
pub fn key<K: Kind>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&()),
        obj.meta().namespace.as_deref().unwrap_or(""),
        obj.meta().name.as_deref().unwrap_or("")
    )
}

/// What finds `obj` in its cache: its namespace and name. An `ObjectRef` made from the
/// object itself also carries its uid and version; references that are kept (in the
/// ledgers, in a controller's queue until the object's next check) carry neither.
pub fn found_by<K: Kind>(obj: &K) -> kube::runtime::reflector::ObjectRef<K> {
    let meta = obj.meta();
    let found = kube::runtime::reflector::ObjectRef::new(meta.name.as_deref().unwrap_or_default());
    match meta.namespace.as_deref() {
        Some(namespace) => found.within(namespace),
        None => found,
    }
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
