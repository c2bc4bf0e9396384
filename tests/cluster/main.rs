//! Tests against a real kube-apiserver, etcd and kube-controller-manager started by
//! `testenv` (one control plane for this test binary, a fresh namespace
//! per test).

mod support;

mod crds;
mod examples;
mod immutable;
mod invalid;
mod watch;
