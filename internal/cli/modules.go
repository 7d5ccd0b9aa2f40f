package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"charm.land/huh/v2"
	"github.com/spf13/cobra"

	"github.com/fast-saas/fast-saas/internal/project"
)

func newAddCmd(io IO) *cobra.Command {
	var (
		dir string
		yes bool
	)
	cmd := &cobra.Command{
		Use:   "add <module>…",
		Short: "Add modules to the project and regenerate its files",
		Long: `Select more modules. Their dependencies are added too, the compose file,
Caddyfile and .env are regenerated, and missing secrets are generated.
Every secret already in .env is kept exactly as it is.

Run it in the project directory or point --dir at it. It asks for
confirmation unless --yes is given (required when stdin is not a terminal).
Then start the new services with: fast-saas up`,
		Example: `  fast-saas add n8n
  fast-saas add --yes langfuse ollama
  fast-saas add --dir ./mysaas posthog`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(dir)
			if err != nil {
				return err
			}
			ids := splitArgs(args)
			plan, err := p.PlanAdd(ids)
			if err != nil {
				return fmt.Errorf("add: %w", err)
			}
			if len(plan.Added) == 0 {
				if len(plan.Chosen) == len(p.Manifest.Modules) {
					fmt.Fprintf(io.Out, "Already selected: %s. Nothing to do.\n", strings.Join(ids, ", "))
					return nil
				}
				// Selected so far only as a dependency: record the choice so
				// the module stays when what needed it is removed. No
				// service changes, so no confirmation.
				if _, err := p.Add(ids); err != nil {
					return err
				}
				fmt.Fprintf(io.Out, "Already running as a dependency; now selected explicitly: %s\n", strings.Join(ids, ", "))
				return nil
			}
			question := "Add " + strings.Join(plan.Added, ", ") + "?"
			if err := confirm(io, yes, question); err != nil {
				return fmt.Errorf("add: %w", err)
			}
			res, err := p.Add(ids)
			if err != nil {
				return err
			}
			fmt.Fprintf(io.Out, "Added: %s\n", strings.Join(plan.Added, ", "))
			if len(res.Added) > 0 {
				fmt.Fprintf(io.Out, "  (as dependencies: %s)\n", strings.Join(res.Added, ", "))
			}
			printWritten(io.Out, res)
			fmt.Fprintln(io.Out, "Start the new services with: fast-saas up")
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func newRemoveCmd(io IO) *cobra.Command {
	var (
		dir          string
		yes, cascade bool
	)
	cmd := &cobra.Command{
		Use:     "remove <module>…",
		Aliases: []string{"rm"},
		Short:   "Remove modules from the project and regenerate its files",
		Long: `Deselect modules and regenerate the project's files.

A module that other selected modules depend on is not removed; the error
names them. Pass --cascade to remove those dependents as well. Dependencies
nothing needs any more leave the selection too. Secrets stay in .env (a
re-added module finds its passwords unchanged) and data volumes are kept.
Apply the change to a running stack with: fast-saas up`,
		Example: `  fast-saas remove n8n
  fast-saas remove --cascade --yes postgres`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(dir)
			if err != nil {
				return err
			}
			ids := splitArgs(args)
			plan, err := p.PlanRemove(ids, cascade)
			if err != nil {
				return fmt.Errorf("remove: %w", err)
			}
			if err := confirm(io, yes, "Remove "+strings.Join(plan.Removed, ", ")+"?"); err != nil {
				return fmt.Errorf("remove: %w", err)
			}
			res, err := p.Remove(ids, cascade)
			if err != nil {
				return err
			}
			fmt.Fprintf(io.Out, "Removed: %s\n", strings.Join(res.Removed, ", "))
			printWritten(io.Out, res)
			fmt.Fprintln(io.Out, "Stop the removed services with: fast-saas up (it removes orphan containers)")
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&cascade, "cascade", false, "also remove the modules that depend on the ones named")
	return cmd
}

// splitArgs accepts "a b", "a,b" and "a, b" alike.
func splitArgs(args []string) []string {
	return project.SplitModuleList(strings.Join(args, ","))
}

// errNeedYes is returned when confirmation is needed but nobody can answer.
var errNeedYes = errors.New("confirmation needed but stdin is not a terminal: re-run with --yes")

// confirm asks a yes/no question on a terminal; --yes answers it.
func confirm(io IO, yes bool, question string) error {
	if yes {
		return nil
	}
	if !stdinIsTerminal(io.In) {
		return errNeedYes
	}
	ok := false
	err := huh.NewForm(huh.NewGroup(huh.NewConfirm().Title(question).Value(&ok))).
		WithInput(io.In).WithOutput(io.Err).Run()
	if err != nil || !ok {
		return errors.New("cancelled")
	}
	return nil
}

func printWritten(w io.Writer, res project.Result) {
	if len(res.NewSecrets) > 0 {
		fmt.Fprintf(w, "New secrets in .env: %s\n", strings.Join(res.NewSecrets, ", "))
	}
	// Name the files people look at; the rest are counted.
	var named []string
	for _, f := range res.Files {
		switch f {
		case project.ManifestFile, project.EnvFileName, project.ComposeFile, "Caddyfile":
			named = append(named, f)
		}
	}
	if extra := len(res.Files) - len(named); extra > 0 {
		named = append(named, fmt.Sprintf("%d more", extra))
	}
	fmt.Fprintf(w, "Wrote %s\n", strings.Join(named, ", "))
}
