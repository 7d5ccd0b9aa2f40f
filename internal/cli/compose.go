package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/project"
)

// dockerRunner runs the docker CLI. The production one executes the docker
// binary found on PATH; tests put a fake `docker` script there.
type dockerRunner interface {
	// Run executes docker with args in dir, streaming its output.
	Run(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) error
}

// errDockerMissing is returned when no docker binary is on PATH.
var errDockerMissing = errors.New("docker is not installed or not on PATH: install Docker Engine (https://docs.docker.com/engine/install/)")

// errComposeMissing is returned when `docker compose version` fails.
var errComposeMissing = errors.New("the Docker Compose plugin is missing (`docker compose version` failed): install docker-compose-plugin (https://docs.docker.com/compose/install/linux/)")

type execDocker struct{}

func (execDocker) Run(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) error {
	path, err := exec.LookPath("docker")
	if err != nil {
		return errDockerMissing
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Stdin = nil
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// compose runs `docker compose …` for one project, after checking that the
// compose plugin is there (so a missing plugin gives a clear message rather
// than docker's "unknown command").
type compose struct {
	docker  dockerRunner
	project *project.Project
	stdout  io.Writer
	stderr  io.Writer
}

func (c compose) check(ctx context.Context) error {
	var out strings.Builder
	err := c.docker.Run(ctx, c.project.Dir, []string{"compose", "version"}, &out, &out)
	if errors.Is(err, errDockerMissing) {
		return err
	}
	if err != nil {
		return errComposeMissing
	}
	return nil
}

// baseArgs returns `compose -f docker-compose.yml [-f docker-compose.local.yml]
// --profile …` with the profiles of the selected layers, or of every layer
// when all is set (so `down` also stops services of removed layers).
func (c compose) baseArgs(all bool) ([]string, error) {
	args := []string{"compose"}
	for _, f := range c.project.ComposeFiles() {
		args = append(args, "-f", f)
	}
	var profiles []string
	if all {
		for _, l := range catalog.Layers() {
			if p := l.Profile(); p != "" {
				profiles = append(profiles, p)
			}
		}
	} else {
		res, err := c.project.Resolve()
		if err != nil {
			return nil, err
		}
		profiles = project.Profiles(res.Modules)
	}
	for _, p := range profiles {
		args = append(args, "--profile", p)
	}
	return args, nil
}

func containsLayer(ls []catalog.Layer, l catalog.Layer) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

// run checks the plugin and runs compose with the base args plus extra.
func (c compose) run(ctx context.Context, all bool, extra ...string) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	args, err := c.baseArgs(all)
	if err != nil {
		return err
	}
	return c.docker.Run(ctx, c.project.Dir, append(args, extra...), c.stdout, c.stderr)
}

// openProject loads the project of --dir (default: the working directory).
func openProject(dir string) (*project.Project, error) {
	p, err := project.Open(dir, catalog.Default())
	if err != nil {
		return nil, err
	}
	p.Version = Version
	return p, nil
}

func addDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVarP(dir, "dir", "C", ".", "project directory (where fast-saas.yaml is)")
}

func newUpCmd(io IO) *cobra.Command { return newUpCmdWith(io, execDocker{}) }

func newUpCmdWith(io IO, docker dockerRunner) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the stack with docker compose",
		Long: `Start every selected module with docker compose, detached.

Runs: docker compose -f docker-compose.yml [-f docker-compose.local.yml]
      --profile <layer>… up -d --remove-orphans
with one --profile for every layer of the selection. Orphans are containers
of modules you removed. It refuses to start while .env has a problem that
` + "`fast-saas env`" + ` reports (a missing, placeholder or malformed value).`,
		Example: `  fast-saas up
  fast-saas up --dir ./mysaas`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := openProject(dir)
			if err != nil {
				return err
			}
			// Never start services on a missing, placeholder or malformed
			// secret: upstreams would boot with it and keep it.
			problems, err := p.CheckEnv()
			if err != nil {
				return fmt.Errorf("up: %w", err)
			}
			if len(problems) > 0 {
				var keys []string
				for _, pr := range problems {
					keys = append(keys, pr.Key)
				}
				return fmt.Errorf("up: .env is not ready (%s); see `fast-saas env`", strings.Join(keys, ", "))
			}
			c := compose{docker: docker, project: p, stdout: io.Out, stderr: io.Err}
			if err := c.run(cmd.Context(), false, "up", "-d", "--remove-orphans"); err != nil {
				return fmt.Errorf("up: %w", err)
			}
			fmt.Fprintln(io.Out, "Stack started. Check it with: fast-saas health")
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}

func newDownCmd(io IO) *cobra.Command { return newDownCmdWith(io, execDocker{}) }

func newDownCmdWith(io IO, docker dockerRunner) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the stack (every profile); data volumes are kept",
		Long: `Stop and remove the stack's containers with docker compose down.

Every layer's profile is passed, so services of layers you no longer select
are stopped too. Named volumes (your data) are kept.`,
		Example: `  fast-saas down`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := openProject(dir)
			if err != nil {
				return err
			}
			c := compose{docker: docker, project: p, stdout: io.Out, stderr: io.Err}
			if err := c.run(cmd.Context(), true, "down", "--remove-orphans"); err != nil {
				return fmt.Errorf("down: %w", err)
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}

func newLogsCmd(io IO) *cobra.Command { return newLogsCmdWith(io, execDocker{}) }

func newLogsCmdWith(io IO, docker dockerRunner) *cobra.Command {
	var (
		dir    string
		follow bool
		tail   string
	)
	cmd := &cobra.Command{
		Use:   "logs [module|service]…",
		Short: "Show the stack's logs (all services, or some modules)",
		Long: `Show container logs through docker compose logs.

Arguments may be module ids (every container of the module) or compose
service names.`,
		Example: `  fast-saas logs
  fast-saas logs -f lago
  fast-saas logs --tail 50 logto caddy`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(dir)
			if err != nil {
				return err
			}
			extra := []string{"logs", "--tail", tail}
			if follow {
				extra = append(extra, "--follow")
			}
			extra = append(extra, servicesFor(p.Catalog, args)...)
			c := compose{docker: docker, project: p, stdout: io.Out, stderr: io.Err}
			if err := c.run(cmd.Context(), false, extra...); err != nil {
				return fmt.Errorf("logs: %w", err)
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log output")
	cmd.Flags().StringVar(&tail, "tail", "200", `lines to show from the end of each log ("all" for everything)`)
	return cmd
}

// servicesFor expands module ids to their compose services; other names
// are passed through as service names.
func servicesFor(cat *catalog.Catalog, names []string) []string {
	var out []string
	for _, n := range names {
		m, ok := cat.Lookup(n)
		if !ok || len(m.Containers) == 0 {
			out = append(out, n)
			continue
		}
		for _, c := range m.Containers {
			out = append(out, c.Name)
		}
	}
	return out
}

// stdinIsTerminal reports whether r is an interactive terminal.
func stdinIsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
