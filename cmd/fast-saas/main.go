// Command fast-saas scaffolds, runs and operates a self-hosted SaaS stack.
// All behaviour lives in internal/cli; main only hands over the arguments.
package main

import (
	"os"

	"github.com/fast-saas/fast-saas/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
