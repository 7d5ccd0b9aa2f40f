// Command servepprof is fast-saas with a profiling listener, for the load
// harness (`go run ./bench/cmd/load -pprof DIR`) and for looking by hand:
// the same internal/cli.Main as cmd/fast-saas, plus net/http/pprof's CPU
// profile and execution trace (/debug/pprof/trace?seconds=N, for
// `go tool trace`) on the loopback address in FASTSAAS_BENCH_PPROF_ADDR.
// The released binary has no such listener; this one is never shipped.
package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"

	"github.com/fast-saas/fast-saas/internal/cli"
)

func main() {
	if addr := os.Getenv("FASTSAAS_BENCH_PPROF_ADDR"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "servepprof:", err)
			os.Exit(1)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() { _ = http.Serve(ln, mux) }()
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
