//! The condition vocabulary every kind shares: types, reasons, and how to read them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// The platform matches the spec of `observedGeneration`.
pub const READY: &str = "Ready";
/// The last reconcile reached the API and did what it meant to.
pub const SYNCED: &str = "Synced";
/// OCCustomer: the licence matches the spec.
pub const LICENSED: &str = "Licensed";
/// OCCustomer: the lead is in the declared channel.
pub const CHANNEL_ASSIGNED: &str = "ChannelAssigned";
/// OCNumberBlock: every declared number is on the platform.
pub const NUMBERS_UPLOADED: &str = "NumbersUploaded";
/// Objects under `managementPolicy: ObserveOnly`: whether the platform matches the
/// spec, that is, whether `status.plannedActions` is empty.
pub const PLATFORM_MATCHES: &str = "PlatformMatches";
/// kstatus: work is under way (not Ready for this generation, nothing stalls it).
pub const RECONCILING: &str = "Reconciling";
/// kstatus: only a person can move the object on (see `reason::NEEDS_A_PERSON`).
pub const STALLED: &str = "Stalled";

/// Declares each reason as a constant and as a variant of `Reason` (its name is its
/// text), and `ALL` with every one of them, so that a reason cannot be added without
/// the health checks (Argo CD, kstatus) deciding it: `Reason::needs_a_person` matches
/// every variant.
macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident = $variant:ident,)*) => {
        $($(#[$doc])* pub const $name: &str = stringify!($variant);)*
        /// Every reason the operator writes.
        pub const ALL: &[&str] = &[$(stringify!($variant)),*];

        /// A reason as a type, to decide on (the conditions carry its text).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Reason {
            $($variant,)*
        }

        impl Reason {
            pub const EVERY: &[Reason] = &[$(Reason::$variant),*];

            /// The text the conditions carry.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => stringify!($variant),)*
                }
            }

            /// The reason a condition's text names, if the operator writes it.
            pub fn parse(text: &str) -> Option<Reason> {
                Reason::EVERY.iter().copied().find(|r| r.as_str() == text)
            }
        }
    };
}

/// Reasons of `Ready` (and of `Synced`, below).
pub mod reason {
    reasons! {
        AVAILABLE = Available,
        CREATING = Creating,
        UPDATING = Updating,
        DELETING = Deleting,
        WAITING_FOR_CUSTOMER = WaitingForCustomer,
        WAITING_FOR_TASK = WaitingForTask,
        INVALID_SPEC = InvalidSpec,
        REJECTED = Rejected,
        /// Another object owns the platform object this one names.
        CONFLICT = Conflict,
        /// The platform already has what this object would create, no object owns it,
        /// and the object does not carry the adoption opt-in.
        ALREADY_EXISTS = AlreadyExists,
        /// OCCustomer: the platform shows the lead suspended or removed; it is looked
        /// at again on a timer, so it becomes Ready by itself once the lead is active
        /// (which the tenant's administrator does).
        LEAD_NOT_ACTIVE = LeadNotActive,
        /// OCNumberBlock `NumbersUploaded=False`: the platform refused some numbers.
        PARTLY_FAILED = PartlyFailed,
        /// OCNumberBlock: numbers that left the spec stay, being assigned in Teams.
        NUMBERS_ASSIGNED = NumbersAssigned,
        /// OCEndUser: the customer's spec keeps an OcEssentials licence, which allows
        /// no end users; a person must upgrade the customer's licence.
        LICENSE_REQUIRED = LicenseRequired,
        /// OCEndUser: the customer's licence upgrade is declared and under way; the
        /// user goes on by itself once the platform shows it.
        WAITING_FOR_LICENSE = WaitingForLicense,
        /// Deleted while annotated `operatorconnect.io/protected: "true"`: the deletion
        /// waits, and nothing is released or deleted on the platform, until a person
        /// removes the annotation.
        DELETION_PROTECTED = DeletionProtected,
        /// `ChannelAssigned=False`: the spec names no channel.
        NO_CHANNEL = NoChannel,
        PAUSED = Paused,
        /// `managementPolicy: ObserveOnly` and the platform differs from the spec: the
        /// calls that would make it match are in `status.plannedActions`, and nothing
        /// is sent until the policy is `Manage` (Ready=False, PlatformMatches=False).
        CHANGES_PLANNED = ChangesPlanned,
        /// `PlatformMatches=True`: the platform matches the spec; nothing is planned.
        MATCHES = Matches,
        WAITING_FOR_PLATFORM = WaitingForPlatform,
        WAITING_FOR_DEPENDENCY = WaitingForDependency,
        NAMESPACE_NOT_ALLOWED = NamespaceNotAllowed,
        /// OCPlatform (and the objects on it): its `baseUrl` or `identityBaseUrl`
        /// names a host the operator's installer did not allow, and its credentials
        /// Secret is not labelled for it, so no credentials are sent there.
        CREDENTIALS_WITHHELD = CredentialsWithheld,
        /// Reasons of `Synced`.
        SUCCEEDED = Succeeded,
        THROTTLED = Throttled,
        API_UNAVAILABLE = ApiUnavailable,
        UNAUTHORIZED = Unauthorized,
        RECONCILE_ERROR = ReconcileError,
    }

    impl Reason {
        /// Whether only a person can move an object with this reason on: a spec to
        /// fix, a conflict to settle, a licence to upgrade, a lead the tenant must
        /// reactivate, numbers to unassign in Teams or that the platform refused,
        /// credentials to fix, a protected deletion. Argo CD shows them Degraded,
        /// kstatus Stalled; every other reason moves on by itself (Progressing,
        /// Reconciling).
        pub const fn needs_a_person(self) -> bool {
            match self {
                Reason::Rejected
                | Reason::InvalidSpec
                | Reason::Conflict
                | Reason::AlreadyExists
                | Reason::LeadNotActive
                | Reason::NamespaceNotAllowed
                | Reason::CredentialsWithheld
                | Reason::LicenseRequired
                | Reason::NumbersAssigned
                | Reason::PartlyFailed
                | Reason::Unauthorized
                | Reason::DeletionProtected => true,
                Reason::Available
                | Reason::Creating
                | Reason::Updating
                | Reason::Deleting
                | Reason::WaitingForCustomer
                | Reason::WaitingForTask
                | Reason::WaitingForLicense
                | Reason::NoChannel
                | Reason::Paused
                | Reason::ChangesPlanned
                | Reason::Matches
                | Reason::WaitingForPlatform
                | Reason::WaitingForDependency
                | Reason::Succeeded
                | Reason::Throttled
                | Reason::ApiUnavailable
                | Reason::ReconcileError => false,
            }
        }
    }

    /// The reasons only a person can move on (see [`Reason::needs_a_person`]).
    pub fn needs_a_person_reasons() -> Vec<&'static str> {
        Reason::EVERY
            .iter()
            .filter(|r| r.needs_a_person())
            .map(|r| r.as_str())
            .collect()
    }

    /// Whether `reason` is one only a person can move on.
    pub fn needs_a_person(reason: &str) -> bool {
        Reason::parse(reason).is_some_and(Reason::needs_a_person)
    }
}

/// The condition of `type_` in `conditions`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` carries `reason`.
pub fn has_reason(conditions: &[Condition], type_: &str, reason: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.reason == reason)
}

/// Whether `type_` is `True` and was written for `generation`.
pub fn is_true_for(conditions: &[Condition], type_: &str, generation: Option<i64>) -> bool {
    find(conditions, type_)
        .is_some_and(|c| c.status == "True" && c.observed_generation == generation)
}

#[cfg(test)]
mod tests {
    use super::reason::{self, Reason};

    #[test]
    fn every_reason_reads_back_from_its_text() {
        assert_eq!(Reason::EVERY.len(), reason::ALL.len());
        for text in reason::ALL {
            let parsed = Reason::parse(text).expect("a reason the operator writes");
            assert_eq!(parsed.as_str(), *text);
        }
        assert_eq!(Reason::parse("SomethingElse"), None);
        assert!(!reason::needs_a_person("SomethingElse"));
    }

    #[test]
    fn a_conflict_needs_a_person_and_a_running_task_does_not() {
        assert!(reason::needs_a_person(reason::CONFLICT));
        assert!(!reason::needs_a_person(reason::WAITING_FOR_TASK));
    }
}
