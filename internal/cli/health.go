package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fast-saas/fast-saas/internal/project"
)

func newHealthCmd(io IO) *cobra.Command {
	return newHealthCmdWith(io, execDocker{}, nil)
}

// newHealthCmdWith takes the docker runner and, for tests, the HTTP client
// (nil: one built for the project's domain, see healthClient).
func newHealthCmdWith(io IO, docker dockerRunner, client project.HTTPDoer) *cobra.Command {
	var (
		dir     string
		asJSON  bool
		useHTTP bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Show each selected module's health; exit 1 if anything is unhealthy",
		Long: `Check every selected module:

  container  the state and health check of each of its containers, from
             docker compose ps (one-shot jobs must have exited with 0)
  http       for modules with a public route and a health path, a GET
             through the published URL https://<sub>.<domain><path>

Exits 0 when everything is healthy, 1 otherwise. --http=false skips the
requests through the public URLs (for example before DNS is set up).`,
		Example: `  fast-saas health
  fast-saas health --json | jq '.checks[] | select(.ok == false)'
  fast-saas health --http=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := openProject(dir)
			if err != nil {
				return err
			}
			res, err := p.Resolve()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c := compose{docker: docker, project: p, stdout: io.Out, stderr: io.Err}
			if err := c.check(ctx); err != nil {
				return fmt.Errorf("health: %w", err)
			}
			args, err := c.baseArgs(false)
			if err != nil {
				return err
			}
			var out, errOut strings.Builder
			if err := docker.Run(ctx, p.Dir, append(args, "ps", "--all", "--format", "json"), &out, &errOut); err != nil {
				return fmt.Errorf("health: %w: %s", err, firstLineOf(errOut.String()))
			}
			states, err := project.ParseComposePS([]byte(out.String()))
			if err != nil {
				return fmt.Errorf("health: %w", err)
			}
			checks := project.ContainerChecks(res.Modules, states)
			if useHTTP {
				cl := client
				if cl == nil {
					cl = healthClient(p.Manifest.Domain, timeout)
				}
				checks = append(checks, project.RouteChecks(ctx, cl, p.Manifest.Domain, res.Modules, p.Manifest.Options.NoBasicAuth, timeout)...)
			}
			healthy := true
			for _, ch := range checks {
				healthy = healthy && ch.OK
			}
			if asJSON {
				if checks == nil {
					checks = []project.Check{}
				}
				enc := json.NewEncoder(io.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					Healthy bool            `json:"healthy"`
					Checks  []project.Check `json:"checks"`
				}{healthy, checks}); err != nil {
					return err
				}
			} else if err := writeChecks(io.Out, checks); err != nil {
				return err
			}
			if !healthy {
				return &ExitError{Code: 1, Err: fmt.Errorf("health: %d of %d checks failing", countFailing(checks), len(checks))}
			}
			if !asJSON {
				fmt.Fprintf(io.Out, "All %d checks pass.\n", len(checks))
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"healthy": bool, "checks": [...]} as JSON`)
	cmd.Flags().BoolVar(&useHTTP, "http", true, "also GET each route's health path through its public URL")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "timeout of each HTTP check")
	return cmd
}

func countFailing(checks []project.Check) int {
	n := 0
	for _, c := range checks {
		if !c.OK {
			n++
		}
	}
	return n
}

func writeChecks(w io.Writer, checks []project.Check) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODULE\tCHECK\tTARGET\tSTATUS\tDETAIL")
	for _, c := range checks {
		mark := "ok"
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\n", c.Module, c.Kind, c.Target, mark, c.Status, c.Detail)
	}
	return tw.Flush()
}

// healthClient builds the client for route checks: it does not follow
// redirects (a 3xx already proves the route works), and for localhost
// domains it dials 127.0.0.1 and accepts Caddy's internal CA, which this
// process does not trust.
func healthClient(domain string, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		TLSHandshakeTimeout: timeout,
		DisableKeepAlives:   true,
	}
	if project.IsLocalDomain(domain) {
		dialer := &net.Dialer{Timeout: timeout}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		}
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback to our own Caddy with its internal CA
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
