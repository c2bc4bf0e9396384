//go:build tools

// Package tools pins promtool, which checks and unit-tests the chart's alerting
// rules. Built by hack/build-controlplane.sh.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
