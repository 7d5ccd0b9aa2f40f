package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"charm.land/huh/v2"
	"github.com/spf13/cobra"

	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/project"
)

type initFlags struct {
	modules, layers string
	domain, email   string
	local, gpu      bool
	yes, force      bool
}

func newInitCmd(io IO) *cobra.Command {
	var f initFlags
	cmd := &cobra.Command{
		Use:   "init [dir]",
		Short: "Create a project: pick modules, write compose, Caddyfile and .env",
		Long: `Create a fast-saas project in dir (default: the current directory).

On a terminal, init asks which modules to run, the domain and the ACME email.
With --yes, or when stdin is not a terminal, it uses the flags only:
--modules and --layers add up (the essential layer — Postgres, Redis, Caddy —
is always included); with neither, the default selection (essential, core and
ops layers) is used. Dependencies are added automatically and reported.

init writes fast-saas.yaml (the manifest), docker-compose.yml, the Caddyfile,
.env (mode 0600, every secret freshly generated) and .env.example. Keys that
the stack makes itself on first boot (Lago's RSA key, by its lago-keys job)
are left empty. It refuses a directory that already has files unless --force
is given.`,
		Example: `  fast-saas init mysaas
  fast-saas init mysaas --yes --domain example.com --email ops@example.com
  fast-saas init mysaas --yes --layers core,ai --domain localhost
  fast-saas init . --yes --modules logto,lago,n8n --local`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return runInit(io, dir, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.modules, "modules", "", "comma-separated module ids (list them with: fast-saas catalog)")
	fl.StringVar(&f.layers, "layers", "", "comma-separated layers whose modules are all selected: core, ops, growth, ai")
	fl.StringVar(&f.domain, "domain", "localhost", "base domain; services get <sub>.<domain> (localhost: local CA, no DNS)")
	fl.StringVar(&f.email, "email", "", "ACME account email for Let's Encrypt; also the first admin of Lago and Langfuse")
	fl.BoolVar(&f.local, "local", false, "development stack: up/down/logs add docker-compose.local.yml (service ports on 127.0.0.1)")
	fl.BoolVar(&f.gpu, "gpu", false, "reserve NVIDIA GPUs for ollama")
	fl.BoolVarP(&f.yes, "yes", "y", false, "do not ask; use the flags (the default when stdin is not a terminal)")
	fl.BoolVar(&f.force, "force", false, "write into a directory that already has files")
	return cmd
}

func runInit(io IO, dir string, f initFlags) error {
	cat := catalog.Default()
	layers, err := parseLayers(f.layers)
	if err != nil {
		return err
	}
	opts := project.InitOptions{
		Modules: project.SplitModuleList(f.modules),
		Layers:  layers,
		Domain:  f.domain,
		Email:   f.email,
		Local:   f.local,
		GPU:     f.gpu,
		Force:   f.force,
		Version: Version,
	}
	if !f.yes && stdinIsTerminal(io.In) {
		// ACCESSIBLE=1 (huh's convention) gives line-based prompts that
		// screen readers can follow.
		if err := askInit(io, cat, &opts, os.Getenv("ACCESSIBLE") != ""); err != nil {
			return err
		}
	}
	p, res, err := project.Init(dir, cat, opts)
	if err != nil {
		return err
	}
	printInitReport(io.Out, p, res)
	return nil
}

func parseLayers(s string) ([]catalog.Layer, error) {
	var out []catalog.Layer
	for _, name := range project.SplitModuleList(s) {
		l, err := catalog.ParseLayer(name)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// askInit runs the interactive form, pre-filled from the flags.
func askInit(io IO, cat *catalog.Catalog, opts *project.InitOptions, accessible bool) error {
	preselected, err := project.SelectionFor(cat, opts.Layers, opts.Modules)
	if err != nil {
		return err
	}
	pre := make(map[string]bool)
	for _, id := range preselected {
		pre[id] = true
	}
	var options []huh.Option[string]
	for _, m := range cat.Modules() {
		label := fmt.Sprintf("%-9s %-14s %s", m.Layer, m.ID, m.Description)
		options = append(options, huh.NewOption(label, m.ID).Selected(pre[m.ID]))
	}
	var chosen []string
	confirm := true
	form := huh.NewForm(
		huh.NewGroup(
			huh.NewMultiSelect[string]().
				Title("Modules").
				Description("space toggles, enter confirms; dependencies are added for you").
				Options(options...).
				Height(min(len(options)+2, 20)).
				Validate(func(ids []string) error {
					if len(ids) == 0 {
						return errors.New("select at least one module")
					}
					return nil
				}).
				Value(&chosen),
		),
		huh.NewGroup(
			huh.NewInput().Title("Domain").
				Description("services get <sub>.<domain>; localhost for a local stack").
				Value(&opts.Domain).Validate(project.ValidateDomain),
			huh.NewInput().Title("ACME email").
				Description("for Let's Encrypt; may stay empty for localhost").
				Value(&opts.Email).Validate(func(s string) error {
				if s == "" {
					return nil
				}
				return project.ValidateEmail(s)
			}),
			huh.NewConfirm().Title("Write the project?").Value(&confirm),
		),
	).WithInput(io.In).WithOutput(io.Err).WithAccessible(accessible)
	if err := form.Run(); err != nil {
		if errors.Is(err, huh.ErrUserAborted) {
			return errors.New("init cancelled")
		}
		return fmt.Errorf("init form: %w", err)
	}
	if !confirm {
		return errors.New("init cancelled")
	}
	opts.Modules, opts.Layers = chosen, nil
	return nil
}

func printInitReport(w io.Writer, p *project.Project, res project.Result) {
	fmt.Fprintf(w, "Created a fast-saas project in %s (catalog %s, domain %s)\n", p.Dir, catalog.Version, p.Manifest.Domain)
	fmt.Fprintf(w, "Modules (%d): %s\n", len(res.Modules), strings.Join(moduleIDs(res.Modules), ", "))
	if len(res.Added) > 0 {
		fmt.Fprintf(w, "Added as dependencies: %s\n", strings.Join(res.Added, ", "))
	}
	fmt.Fprintf(w, "Generated %d secrets in %s (mode 0600)\n", len(res.NewSecrets), filepath.Join(p.Dir, project.EnvFileName))
	problems, err := p.CheckEnv()
	if err == nil && len(problems) > 0 {
		fmt.Fprintln(w, "\nTo fill in before `fast-saas up` (edit .env, or re-run init with the flag):")
		for _, pr := range problems {
			fmt.Fprintf(w, "  %s: %s\n", pr.Key, pr.Problem)
		}
	}
	fmt.Fprintln(w, "\nNext steps:")
	if p.Dir != "." {
		fmt.Fprintf(w, "  cd %s\n", p.Dir)
	}
	fmt.Fprintln(w, "  fast-saas env       # check .env again")
	fmt.Fprintln(w, "  fast-saas doctor    # check Docker, ports, memory and DNS")
	fmt.Fprintln(w, "  fast-saas up        # start the stack")
	fmt.Fprintln(w, "  fast-saas health    # see every module's health")
}

func moduleIDs(mods []catalog.Module) []string {
	ids := make([]string, len(mods))
	for i, m := range mods {
		ids[i] = m.ID
	}
	return ids
}
