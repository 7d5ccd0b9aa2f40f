// Package cli holds the fast-saas cobra commands. Commands parse flags and
// call into the packages that do the work; no business logic lives here.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// IO is the set of streams a command reads and writes. Tests pass buffers.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// ExitError carries a specific process exit code (for example `health`
// exits 1 when something is unhealthy). Its message, if any, is printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Main runs the fast-saas command line and returns the process exit code.
// Every failure prints one line, "fast-saas: <reason>", and exits non-zero.
func Main(args []string, in io.Reader, out, errOut io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRoot(IO{In: in, Out: out, Err: errOut})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
		if ee.Err == nil {
			return code
		}
	}
	fmt.Fprintf(errOut, "fast-saas: %v\n", err)
	return code
}

// NewRoot builds the command tree. Commands are listed here explicitly, one
// constructor per file, so the whole CLI surface is visible in one place.
func NewRoot(io IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "fast-saas",
		Short: "Self-hosted SaaS launchpad: scaffold, run and operate your stack",
		Long: `fast-saas gives a new SaaS auth, tenants, billing, storage, monitoring, error
tracking, analytics, email and an AI layer from open-source services you own.

Start a project:   fast-saas init mysaas
Run the API:       fast-saas serve`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	root.AddCommand(
		newVersionCmd(io),
		newServeCmd(io),
		newMigrateCmd(io),
		newKeysCmd(io),
		newProbeCmd(io),
		newMcpCmd(io),
		newInitCmd(io), newCatalogCmd(io), newAddCmd(io), newRemoveCmd(io), newEnvCmd(io), newUpCmd(io), newDownCmd(io), newLogsCmd(io), newHealthCmd(io), newDoctorCmd(io),
	)
	return root
}
