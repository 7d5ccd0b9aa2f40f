// Package harness is the shared machinery of the load and fault harness
// (bench/cmd/load, bench/cmd/faults): it builds the real fast-saas binary,
// runs `fast-saas serve` as a child process on loopback, starts dedicated
// Redis and Postgres instances the run owns (so stopping them disturbs
// nothing else on the machine), talks to the API over plain HTTP, generates
// bounded closed-loop load and reads the server's CPU and memory from /proc.
//
// Everything here listens on 127.0.0.1 only and stops what it started.
package harness
