package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fast-saas/fast-saas/internal/project"
)

func newEnvCmd(io IO) *cobra.Command {
	var (
		dir    string
		regen  bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Check .env against the selection; --regen rewrites the project's files",
		Long: `Validate .env for the selected modules: every key present, no placeholder,
weak or wrongly formatted secret, every required value filled in, and
COMPOSE_PROFILES matching the selected layers. Exits 1 listing the problems.

--regen regenerates every file from fast-saas.yaml (after editing it by hand or
upgrading fast-saas). Existing .env values are kept byte for byte; only missing
secrets are generated. To replace a secret on purpose use: fast-saas env rotate KEY`,
		Example: `  fast-saas env
  fast-saas env --json
  fast-saas env --regen
  fast-saas env rotate GLITCHTIP_SECRET_KEY`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := openProject(dir)
			if err != nil {
				return err
			}
			if regen {
				res, err := p.Regenerate()
				if err != nil {
					return fmt.Errorf("env --regen: %w", err)
				}
				printWritten(io.Out, res)
			}
			problems, err := p.CheckEnv()
			if err != nil {
				return fmt.Errorf("env: %w", err)
			}
			if asJSON {
				if problems == nil {
					problems = []project.EnvProblem{}
				}
				enc := json.NewEncoder(io.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(problems); err != nil {
					return err
				}
			} else if len(problems) == 0 {
				fmt.Fprintln(io.Out, ".env is complete: every key present, every secret well-formed.")
			} else {
				tw := tabwriter.NewWriter(io.Out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "KEY\tMODULE\tPROBLEM")
				for _, pr := range problems {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", pr.Key, dash(pr.Module), pr.Problem)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if len(problems) > 0 {
				return &ExitError{Code: 1, Err: fmt.Errorf("env: %d problem(s) in %s", len(problems), project.EnvFileName)}
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().BoolVar(&regen, "regen", false, "regenerate every file first, keeping existing secrets")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the problems as a JSON array")
	cmd.AddCommand(newEnvRotateCmd(io))
	return cmd
}

func newEnvRotateCmd(io IO) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "rotate KEY",
		Short: "Replace one generated secret with a fresh value",
		Long: `Generate a new value for one secret of .env and regenerate the files that
use it (a basic-auth hash follows its password). Only generated secrets can be
rotated. Restart the affected services afterwards (fast-saas up).

Careful: some upstreams encrypt stored data with their key (for example Lago's
encryption keys, n8n's encryption key) and a database role keeps its old
password until it is changed in Postgres; rotating those breaks the service.
Keys the stack makes itself on first boot (LAGO_RSA_PRIVATE_KEY, kept in the
lago-keys volume) are not rotated here.`,
		Example: `  fast-saas env rotate CADDY_ADMIN_PASSWORD`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(dir)
			if err != nil {
				return err
			}
			res, err := p.RotateSecret(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(io.Out, "Rotated: %s\n", strings.Join(res.NewSecrets, ", "))
			fmt.Fprintln(io.Out, "Restart the services that use it with: fast-saas up")
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}
