#!/usr/bin/env bash
# Builds the release binary exactly as the Dockerfile does (static, musl) and checks
# that it is static and runs. No container engine is needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=x86_64-unknown-linux-musl
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
# ring compiles some C: musl-gcc from Debian's musl-tools, as in the Dockerfile.
if ! command -v musl-gcc >/dev/null 2>&1; then
  apt-get install -y -q musl-tools >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q musl-tools >/dev/null; }
fi
export CC_x86_64_unknown_linux_musl=musl-gcc
cargo build --release --locked --target "$target" --bin oc-operator
bin="target/$target/release/oc-operator"
if ldd "$bin" 2>&1 | grep -q "=>"; then
  echo "check-release: $bin is dynamically linked" >&2
  ldd "$bin" >&2
  exit 1
fi
"$bin" --version
crds="$("$bin" crds)"
grep -q "kind: CustomResourceDefinition" <<<"$crds"
echo "check-release: static release binary OK ($(du -h "$bin" | cut -f1))"
