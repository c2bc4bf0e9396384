#!/usr/bin/env bash
# Builds the tools only the tests use into the control plane's folder (the first
# argument, as hack/build-controlplane.sh prints it), each pinned by a Go module of its
# own under hack/ and keyed by it, so changing one pin rebuilds only that tool, and a
# tool whose key is unchanged is not built again:
# - helm (hack/helm), which the chart tests install and render the chart with;
# - kubeconform (hack/kubeconform), the manifest validator of the chart tests;
# - argocd-health (hack/argocd), Argo CD's own code running the chart's health checks;
# - kstatus (hack/kstatus), the kstatus rules that Flux applies;
# - promtool (hack/promtool), which checks and unit-tests the chart's alerting rules;
# - argocd and argocd-redis (hack/argocd), Argo CD's repo server and application
#   controller (one multi-call binary) with the in-memory Redis of Argo CD's tests, and
#   Argo CD's CRDs beside them, for the real Argo CD sync of tests/operator/gitops.rs.
# hack/test.sh runs it in the background while cargo compiles.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: hack/build-test-tools.sh <the folder hack/build-controlplane.sh printed>}"
start=$SECONDS
say() { echo "build-test-tools: [$((SECONDS - start)) s] $*" >&2; }

# build_tool NAME MODULE PACKAGE [LDFLAGS]
build_tool() {
  local name="$1" tool_module="$here/$2" package="$3" ldflags="${4:--s -w}" tool_key
  # Stamped flags (helm's) are part of the key; the default ones are not.
  tool_key="$( (find "$tool_module" -name '*.go' | sort | xargs cat "$tool_module/go.mod" "$tool_module/go.sum"; [[ "$ldflags" == "-s -w" ]] || echo "$ldflags") | sha256sum | cut -c1-16)"
  if [[ -x "$out/$name" && "$(cat "$out/$name.key" 2>/dev/null)" == "$tool_key" ]]; then
    return 0
  fi
  command -v go >/dev/null || { echo "build-test-tools: Go is required (https://go.dev/dl)" >&2; exit 1; }
  say "building $name"
  (cd "$tool_module" && CGO_ENABLED=0 go build -trimpath "-ldflags=$ldflags" -o "$out/$name.partial" "$package")
  mv "$out/$name.partial" "$out/$name"
  echo "$tool_key" > "$out/$name.key"
}

# helm's own release build stamps the Kubernetes version that `helm template` and
# `helm lint` assume without a cluster (else v1.20, below the chart's kubeVersion);
# stamp the pinned control plane's.
minor="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/controlplane/go.mod" | cut -d. -f2)"
helm_ldflags="-s -w"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
done
build_tool helm helm helm.sh/helm/v3/cmd/helm "$helm_ldflags"
build_tool kubeconform kubeconform github.com/yannh/kubeconform/cmd/kubeconform
build_tool argocd-health argocd .
build_tool kstatus kstatus .
build_tool promtool promtool github.com/prometheus/prometheus/cmd/promtool
build_tool argocd argocd github.com/argoproj/argo-cd/v2/cmd
build_tool argocd-redis argocd ./redis
if [[ ! -f "$out/argocd-crds/$(cat "$out/argocd.key")" ]]; then
  source="$(cd "$here/argocd" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v2)"
  rm -rf "$out/argocd-crds" && mkdir -p "$out/argocd-crds"
  cp "$source/manifests/crds/application-crd.yaml" "$source/manifests/crds/appproject-crd.yaml" "$out/argocd-crds/"
  touch "$out/argocd-crds/$(cat "$out/argocd.key")"
fi
say "done"
