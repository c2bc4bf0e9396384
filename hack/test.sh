#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run runs exactly this):
# build (or reuse) the test control plane and, in the background, the tools only the
# tests use; format check, clippy with warnings as errors, the release binary of the
# Dockerfile (and what it must not carry); then every test of every crate of the
# workspace.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-0}"

echo "==> control plane (hack/build-controlplane.sh; cached after the first run)"
OC_CONTROLPLANE_BIN="$(bash hack/build-controlplane.sh | tail -n 1)"
export OC_CONTROLPLANE_BIN
echo "    $OC_CONTROLPLANE_BIN"
# The tools only the tests use build beside cargo (Go and rustc share the cores), and
# are joined before the tests run.
mkdir -p target
echo "==> test tools in the background (hack/build-test-tools.sh; log: target/test-tools.log)"
bash hack/build-test-tools.sh "$OC_CONTROLPLANE_BIN" > target/test-tools.log 2>&1 &
tools=$!
trap 'kill "$tools" 2>/dev/null || true' EXIT
echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> release binary as the Dockerfile builds it (hack/check-release.sh)"
bash hack/check-release.sh
echo "==> cargo test --workspace --no-run (compiling the tests)"
cargo test --workspace --locked --no-run
echo "==> waiting for the test tools"
if ! wait "$tools"; then
  cat target/test-tools.log
  echo "hack/build-test-tools.sh failed" >&2
  exit 1
fi
echo "==> cargo test --workspace"
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.log
status=${PIPESTATUS[0]}
set -e
# End with one summary line over all test binaries.
awk -v status="$status" '/^test result:/ { n = split($0, a, /[ .;]+/); for (i = 1; i < n; i++) { if (a[i+1] == "passed") p += a[i]; if (a[i+1] == "failed") f += a[i]; if (a[i+1] == "ignored") g += a[i] } }
     END { printf "test result: %s. %d passed; %d failed; %d ignored (all test binaries)\n", ((f || status != 0) ? "FAILED" : "ok"), p, f, g }' target/test-output.log
exit "$status"
