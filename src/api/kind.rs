//! What the declaration of every kind of this group shares.

/// Declares a kind's spec as a custom resource of `operatorconnect.io/v1alpha1` in
/// the `operatorconnect` category (`kubectl get operatorconnect` lists every kind).
/// `resource(...)` takes the kind's own `#[kube(...)]` arguments (kind, plural, short
/// name, scope, status, doc) and `columns(...)` its own `printcolumn`s: `kubectl get`
/// shows `Ready` and its reason first, those next, and `Age` last, the same for every
/// kind. The spec's doc comments stay what `kubectl explain` shows.
macro_rules! declare_kind {
    (
        $(#[doc = $doc:literal])*
        resource($($resource:tt)*)
        columns($($column:tt)*)
        $(#[$attribute:meta])*
        pub struct $spec:ident $fields:tt
    ) => {
        $(#[doc = $doc])*
        #[derive(
            kube::CustomResource,
            kube::KubeSchema,
            serde::Serialize,
            serde::Deserialize,
            Clone,
            Debug,
            PartialEq
        )]
        #[kube(
            group = "operatorconnect.io",
            version = "v1alpha1",
            category = "operatorconnect",
            $($resource)*,
            printcolumn(
                name = "Ready",
                type_ = "string",
                json_path = ".status.conditions[?(@.type==\"Ready\")].status"
            ),
            printcolumn(
                name = "Reason",
                type_ = "string",
                json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
            ),
            $($column)*,
            printcolumn(
                name = "Age",
                type_ = "date",
                json_path = ".metadata.creationTimestamp"
            )
        )]
        $(#[$attribute])*
        pub struct $spec $fields
    };
}

pub(crate) use declare_kind;
