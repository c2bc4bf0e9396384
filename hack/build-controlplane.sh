#!/usr/bin/env bash
# Builds what a local control plane runs, and nothing else: etcd, kube-apiserver,
# kube-controller-manager and kubectl, from the Go module proxy at the versions pinned
# in hack/controlplane/go.mod, into a cache folder outside target/ (so `cargo clean`
# keeps it). A second run with unchanged pins does nothing. The sandbox needs these
# alone; the tools only the tests use (helm, kubeconform, Argo CD, ...) are built by
# hack/build-test-tools.sh into the same folder.
#
# Prints the folder holding the binaries on its last line of stdout.
# Cache root: $OC_CACHE_DIR (default ~/.cache/oc-operator).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$here/controlplane"
cache_root="${OC_CACHE_DIR:-$HOME/.cache/oc-operator}"
start=$SECONDS
say() { echo "build-controlplane: [$((SECONDS - start)) s] $*" >&2; }

# The key covers the pins and this script.
key="$(cat "$module/go.mod" "$module/go.sum" "$module/tools.go" "$module/cmd/etcd/main.go" "$0" | sha256sum | cut -c1-16)"
out="$cache_root/controlplane/$key"

if [[ -x "$out/etcd" && -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" && -x "$out/kubectl" ]]; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "build-controlplane: Go is required (https://go.dev/dl)" >&2; exit 1; }
say "building etcd, kube-apiserver, kube-controller-manager and kubectl into $out (first run: several minutes)"
tmp="$out.partial.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
cd "$module"
export CGO_ENABLED=0
# Stamp the Kubernetes version, as release builds do (kubectl and the apiserver report
# it).
kube_version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' go.mod)"
minor="$(echo "$kube_version" | cut -d. -f2)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
flags=(-trimpath "-ldflags=$ldflags")
# One invocation: the four share most of their packages, which are compiled once.
go build "${flags[@]}" -o "$tmp/" ./cmd/etcd \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$tmp" "$out"
trap - EXIT
say "done"
echo "$out"
