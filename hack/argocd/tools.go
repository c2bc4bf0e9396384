//go:build tools

// Keeps Argo CD's multi-call binary (repo server, application controller) in this
// module's requirements, so that hack/build-controlplane.sh builds it at the pin.
package main

import _ "github.com/argoproj/argo-cd/v2/cmd"
