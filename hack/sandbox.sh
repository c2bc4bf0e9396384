#!/usr/bin/env bash
# The sandbox (README's first command): builds what it needs, starts a local
# Kubernetes control plane, the Live Platform simulator on 127.0.0.1:8080 and the
# operator, applies examples/, waits until every object is Ready, prints how to use
# kubectl against it, and runs until Ctrl-C, then cleans up. The sandbox is a
# developer tool (crates/oc-dev), not part of the operator's binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OC_CONTROLPLANE_BIN="$(bash hack/build-controlplane.sh | tail -n 1)"
export OC_CONTROLPLANE_BIN
cargo build --quiet -p oc-dev --bin oc-dev
exec ./target/debug/oc-dev --log-level "${OC_LOG_LEVEL:-warn}" sandbox
