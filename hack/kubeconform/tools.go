//go:build tools

// Package tools pins kubeconform, built by hack/build-kubeconform.sh.
package tools

import (
	_ "github.com/yannh/kubeconform/cmd/kubeconform"
)
