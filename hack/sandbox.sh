#!/usr/bin/env bash
# The sandbox (README's first command): builds what it runs and nothing more (the
# control plane, the simulator and the operator, in crates/oc-dev), starts a local
# Kubernetes control plane, the Live Platform simulator on 127.0.0.1:8080 and the
# operator, applies examples/, waits until every object is Ready, prints how to use
# kubectl against it, and runs until Ctrl-C, then cleans up. Each step says what it
# does and how long the sandbox has been at it, so a first run of several minutes
# never looks hung. Works from any folder and with any CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS
step() { echo "sandbox: [$((SECONDS - start)) s] $*" >&2; }

# The operator builds beside the control plane: rustc and Go share the cores, and
# neither waits for the other.
step "the simulator and the operator (cargo build -p oc-dev), in the background"
cargo build --quiet -p oc-dev --bin oc-dev &
cargo_build=$!
trap 'kill "$cargo_build" 2>/dev/null || true' EXIT
step "control plane: etcd, kube-apiserver, kube-controller-manager, kubectl (hack/build-controlplane.sh; cached after the first run)"
OC_CONTROLPLANE_BIN="$(bash hack/build-controlplane.sh | tail -n 1)"
export OC_CONTROLPLANE_BIN
step "waiting for cargo"
wait "$cargo_build"
trap - EXIT
# Where cargo put it, whatever CARGO_TARGET_DIR or .cargo/config say.
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -E 's/.*"target_directory":"([^"]*)".*/\1/')"
step "starting (the sandbox reports each step below)"
exec "$target_dir/debug/oc-dev" --log-level "${OC_LOG_LEVEL:-warn}" sandbox
