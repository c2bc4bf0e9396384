//go:build tools

// Package tools pins kubeconform, built by hack/build-controlplane.sh.
package tools

import (
	_ "github.com/yannh/kubeconform/cmd/kubeconform"
)
