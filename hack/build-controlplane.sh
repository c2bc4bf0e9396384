#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from the Go module
# proxy, at the versions pinned in hack/controlplane/go.mod (and helm, pinned in
# hack/helm/go.mod, a module of its own, and the tools below with their own modules
# and keys), into a cache folder outside target/ (so `cargo clean` keeps it). A second
# run with unchanged pins does nothing.
#
# Prints the folder holding the binaries on its last line of stdout.
# Cache root: $OC_CACHE_DIR (default ~/.cache/oc-operator).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$here/controlplane"
cache_root="${OC_CACHE_DIR:-$HOME/.cache/oc-operator}"
helm_module="$here/helm"
out=""  # set below, once the key is known

# Tools with a Go module of their own and a key of their own (so changing one pin
# rebuilds only that tool), built into the control plane's folder: kubeconform
# (hack/kubeconform), the manifest validator of the chart tests; argocd-health
# (hack/argocd), Argo CD's own code running the chart's health checks; kstatus
# (hack/kstatus), the kstatus rules that Flux applies; promtool (hack/promtool), which
# checks and unit-tests the chart's alerting rules; argocd and argocd-redis (hack/argocd),
# Argo CD's own repo server and application controller (one multi-call binary) with
# the in-memory Redis of Argo CD's tests, and Argo CD's CRDs beside them, for the real
# Argo CD sync of tests/operator/gitops.rs.
build_tool() {
  local name="$1" tool_module="$here/$2" package="$3" tool_key
  tool_key="$(find "$tool_module" -name '*.go' | sort | xargs cat "$tool_module/go.mod" "$tool_module/go.sum" | sha256sum | cut -c1-16)"
  if [[ -x "$out/$name" && "$(cat "$out/$name.key" 2>/dev/null)" == "$tool_key" ]]; then
    return 0
  fi
  echo "build-controlplane: building $name into $out" >&2
  (cd "$tool_module" && CGO_ENABLED=0 go build -trimpath "-ldflags=-s -w" -o "$out/$name.partial" "$package")
  mv "$out/$name.partial" "$out/$name"
  echo "$tool_key" > "$out/$name.key"
}
build_tools() {
  build_tool kubeconform kubeconform github.com/yannh/kubeconform/cmd/kubeconform
  build_tool argocd-health argocd .
  build_tool kstatus kstatus .
  build_tool promtool promtool github.com/prometheus/prometheus/cmd/promtool
  build_tool argocd argocd github.com/argoproj/argo-cd/v2/cmd
  build_tool argocd-redis argocd ./redis
  if [[ ! -f "$out/argocd-crds/$(cat "$out/argocd.key")" ]]; then
    local source
    source="$(cd "$here/argocd" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v2)"
    rm -rf "$out/argocd-crds" && mkdir -p "$out/argocd-crds"
    cp "$source/manifests/crds/application-crd.yaml" "$source/manifests/crds/appproject-crd.yaml" "$out/argocd-crds/"
    touch "$out/argocd-crds/$(cat "$out/argocd.key")"
  fi
}
# End of the tools.

# The key covers the pins and this script, but for its tools' part above.
key="$( (cat "$module/go.mod" "$module/go.sum" "$module/tools.go" "$module/cmd/etcd/main.go" "$helm_module/go.mod" "$helm_module/go.sum"; sed '/^# Tools with a Go module of their own/,/^# End of the tools/d' "$0") | sha256sum | cut -c1-16)"
out="$cache_root/controlplane/$key"

if [[ -x "$out/etcd" && -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" && -x "$out/kubectl" && -x "$out/helm" ]]; then
  build_tools
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "build-controlplane: Go is required (https://go.dev/dl)" >&2; exit 1; }
echo "build-controlplane: building the control plane into $out (first run: several minutes)" >&2
tmp="$out.partial.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
cd "$module"
export CGO_ENABLED=0
# Stamp the Kubernetes version, as release builds do (tools such as helm read it).
kube_version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' go.mod)"
minor="$(echo "$kube_version" | cut -d. -f2)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
flags=(-trimpath "-ldflags=$ldflags")
go build "${flags[@]}" -o "$tmp/etcd" ./cmd/etcd
go build "${flags[@]}" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl
# helm's own release build stamps the Kubernetes version that `helm template` and
# `helm lint` assume without a cluster (else v1.20, below the chart's kubeVersion);
# stamp the pinned control plane's.
helm_ldflags="-s -w"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
done
(cd "$helm_module" && go build -trimpath "-ldflags=$helm_ldflags" -o "$tmp/helm" helm.sh/helm/v3/cmd/helm)
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
build_tools
echo "build-controlplane: done" >&2
echo "$out"
