// Command argocd-redis serves an in-memory Redis (miniredis, the one Argo CD's own
// tests use) on a loopback address, for the Argo CD repo server and application
// controller of tests/operator/gitops.rs. It prints the address it listens on and
// serves until it is killed. miniredis lets keys expire only when told that time
// passed, so the wall clock is passed on to it every tenth of a second: Argo CD's
// caches (the Git references its repo server resolves, for one) expire as they would
// in a real Redis.
//
// Usage: argocd-redis
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

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
	tick := time.NewTicker(100 * time.Millisecond)
	last := time.Now()
	for {
		select {
		case <-stop:
			server.Close()
			return
		case now := <-tick.C:
			server.FastForward(now.Sub(last))
			last = now
		}
	}
}
