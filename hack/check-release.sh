#!/usr/bin/env bash
# Builds the operator's release binary exactly as the Dockerfile does (static, musl)
# and checks that it is static, runs, and ships nothing but the operator: no
# simulator, no test control plane, no developer tool, and no path of the machine
# that built it. No container engine is needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=x86_64-unknown-linux-musl
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
# ring compiles some C: musl-gcc from Debian's musl-tools, as in the Dockerfile.
if ! command -v musl-gcc >/dev/null 2>&1; then
  apt-get install -y -q musl-tools >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q musl-tools >/dev/null; }
fi
export CC_x86_64_unknown_linux_musl=musl-gcc
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
# As the Dockerfile: dependencies' source paths are written as /cargo.
export RUSTFLAGS="--remap-path-prefix=$cargo_home=/cargo"
# The image profile (Cargo.toml): optimised for size, as the Dockerfile builds it.
cargo build --profile image --locked --target "$target" -p oc-operator --bin oc-operator
bin="target/$target/image/oc-operator"
if ldd "$bin" 2>&1 | grep -q "=>"; then
  echo "check-release: $bin is dynamically linked" >&2
  ldd "$bin" >&2
  exit 1
fi
"$bin" --version
crds="$("$bin" crds)"
grep -q "kind: CustomResourceDefinition" <<<"$crds"
bash hack/check-shipped.sh "$bin"
echo "check-release: static release binary OK ($(du -h "$bin" | cut -f1), $(stat -c %s "$bin") bytes)"
