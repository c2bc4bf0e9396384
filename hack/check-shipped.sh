#!/usr/bin/env bash
# Fails if the binary given carries code or paths that must not ship: the simulator,
# the test control plane, the developer tools (their crates' names and source paths,
# in this layout or the single-crate one before it), or a folder of the machine that
# built it (this checkout, the Cargo home).
#   bash hack/check-shipped.sh target/x86_64-unknown-linux-musl/image/oc-operator
set -euo pipefail
bin="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo_home="$(cd "${CARGO_HOME:-$HOME/.cargo}" 2>/dev/null && pwd || echo "${CARGO_HOME:-$HOME/.cargo}")"
found="$(strings -n 6 "$bin" | grep -o -F \
  -e liveplatform_sim -e liveplatform-sim -e "crates/testenv" -e "testenv::" -e oc_dev -e "crates/oc-dev" \
  -e "src/simulator/" -e "src/testenv/" -e "src/sandbox.rs" \
  -e "$root" -e "$cargo_home" | sort | uniq -c || true)"
if [[ -n "$found" ]]; then
  echo "check-shipped: $bin carries what must not ship:" >&2
  echo "$found" >&2
  exit 1
fi
echo "check-shipped: $bin carries no simulator, test control plane, developer tool or build path"
