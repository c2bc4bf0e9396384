// Command argocd-redis serves an in-memory Redis (miniredis, the one Argo CD's own
// tests use) on a loopback address, for the Argo CD repo server and application
// controller of tests/operator/gitops.rs. It prints the address it listens on and
// serves until it is killed.
//
// Usage: argocd-redis
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alicebob/miniredis/v2"
)

func main() {
	server := miniredis.NewMiniRedis()
	if err := server.StartAddr("127.0.0.1:0"); err != nil {
		fmt.Fprintf(os.Stderr, "argocd-redis: %v\n", err)
		os.Exit(2)
	}
	fmt.Println(server.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	server.Close()
}
