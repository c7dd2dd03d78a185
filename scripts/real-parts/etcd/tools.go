//go:build tools

// Pins the etcd server module so `go mod tidy` records its whole dependency graph.
package tools

import _ "go.etcd.io/etcd/server/v3"
