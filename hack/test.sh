#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run runs exactly this):
# build (or reuse) the test control plane, format check, clippy with warnings as
# errors, the release binary of the Dockerfile (and what it must not carry), then
# every test of every crate of the workspace.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-0}"

echo "==> control plane binaries and pinned tools (hack/build-controlplane.sh; cached after the first run)"
OC_CONTROLPLANE_BIN="$(bash hack/build-controlplane.sh | tail -n 1)"
export OC_CONTROLPLANE_BIN
echo "    $OC_CONTROLPLANE_BIN"
echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> release binary as the Dockerfile builds it (hack/check-release.sh)"
bash hack/check-release.sh
echo "==> cargo test --workspace"
mkdir -p target
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.log
status=${PIPESTATUS[0]}
set -e
# End with one summary line over all test binaries.
awk -v status="$status" '/^test result:/ { n = split($0, a, /[ .;]+/); for (i = 1; i < n; i++) { if (a[i+1] == "passed") p += a[i]; if (a[i+1] == "failed") f += a[i]; if (a[i+1] == "ignored") g += a[i] } }
     END { printf "test result: %s. %d passed; %d failed; %d ignored (all test binaries)\n", ((f || status != 0) ? "FAILED" : "ok"), p, f, g }' target/test-output.log
exit "$status"
