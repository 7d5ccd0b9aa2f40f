package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/project"
)

// Doctor check outcomes. Only fail makes `doctor` exit 1.
const (
	statusOK   = "ok"
	statusWarn = "warn"
	statusFail = "FAIL"
	statusSkip = "skip"
)

type doctorCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

type hostResolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// doctor holds the host probes as fields so tests can replace each one.
type doctor struct {
	docker   dockerRunner
	listen   func(network, addr string) (net.Listener, error)
	memInfo  func() ([]byte, error)
	resolver hostResolver
	ports    []int
	timeout  time.Duration
}

func newDoctorCmd(io IO) *cobra.Command {
	return newDoctorCmdWith(io, &doctor{
		docker:   execDocker{},
		listen:   net.Listen,
		memInfo:  func() ([]byte, error) { return os.ReadFile("/proc/meminfo") },
		resolver: net.DefaultResolver,
		ports:    []int{80, 443},
		timeout:  3 * time.Second,
	})
}

func newDoctorCmdWith(io IO, d *doctor) *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this host: Docker, compose plugin, ports 80/443, memory, DNS",
		Long: `Check that this machine can run the project's stack:

  docker          the docker CLI is installed and the daemon answers
  compose         the Docker Compose plugin (docker compose version)
  port 80/443     free for Caddy (in use is a failure; already used by this
                  stack after ` + "`fast-saas up`" + ` is expected)
  memory          the selection's RAM estimate against the host's memory
  dns             every public subdomain resolves (skipped for localhost)

Without a project in --dir only the host checks run. Exits 1 if a check fails.`,
		Example: `  fast-saas doctor
  fast-saas doctor --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var p *project.Project
			if _, err := os.Stat(dir + "/" + project.ManifestFile); err == nil {
				if p, err = openProject(dir); err != nil {
					return err
				}
			}
			checks := d.run(cmd.Context(), p)
			failing := 0
			for _, c := range checks {
				if c.Status == statusFail {
					failing++
				}
			}
			if asJSON {
				enc := json.NewEncoder(io.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(checks); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(io.Out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
				for _, c := range checks {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Status, c.Detail)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if failing > 0 {
				return &ExitError{Code: 1, Err: fmt.Errorf("doctor: %d check(s) failed", failing)}
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the checks as a JSON array")
	return cmd
}

func (d *doctor) run(ctx context.Context, p *project.Project) []doctorCheck {
	checks := []doctorCheck{d.checkDocker(ctx), d.checkCompose(ctx)}
	for _, port := range d.ports {
		checks = append(checks, d.checkPort(port))
	}
	if p == nil {
		return append(checks, doctorCheck{"project", statusSkip, "no " + project.ManifestFile + " here: memory and DNS checks need a project (--dir)"})
	}
	res, err := p.Resolve()
	if err != nil {
		return append(checks, doctorCheck{"project", statusFail, err.Error()})
	}
	checks = append(checks, d.checkMemory(res.Modules))
	return append(checks, d.checkDNS(ctx, p.Manifest.Domain, res.Modules)...)
}

func (d *doctor) dockerOutput(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*d.timeout)
	defer cancel()
	var out, errOut bytes.Buffer
	err := d.docker.Run(ctx, ".", args, &out, &errOut)
	if err != nil {
		if msg := firstLineOf(errOut.String()); msg != "" && !errors.Is(err, errDockerMissing) {
			return "", fmt.Errorf("%s", msg)
		}
		return "", err
	}
	return firstLineOf(out.String()), nil
}

func (d *doctor) checkDocker(ctx context.Context) doctorCheck {
	v, err := d.dockerOutput(ctx, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		if errors.Is(err, errDockerMissing) {
			return doctorCheck{"docker", statusFail, err.Error()}
		}
		return doctorCheck{"docker", statusFail, "the Docker daemon does not answer (is it running, and may this user use it?): " + err.Error()}
	}
	return doctorCheck{"docker", statusOK, "Docker Engine " + v}
}

func (d *doctor) checkCompose(ctx context.Context) doctorCheck {
	v, err := d.dockerOutput(ctx, "compose", "version", "--short")
	if err != nil {
		if errors.Is(err, errDockerMissing) {
			return doctorCheck{"compose", statusFail, "needs docker"}
		}
		return doctorCheck{"compose", statusFail, errComposeMissing.Error()}
	}
	return doctorCheck{"compose", statusOK, "Docker Compose " + v}
}

func (d *doctor) checkPort(port int) doctorCheck {
	name := fmt.Sprintf("port %d", port)
	ln, err := d.listen("tcp", fmt.Sprintf(":%d", port))
	switch {
	case err == nil:
		_ = ln.Close()
		return doctorCheck{name, statusOK, "free"}
	case errors.Is(err, syscall.EADDRINUSE):
		return doctorCheck{name, statusFail, "in use: Caddy needs it (fine if it is this stack's Caddy, already up)"}
	case errors.Is(err, syscall.EACCES):
		return doctorCheck{name, statusSkip, "cannot test without root; Docker binds it itself"}
	default:
		return doctorCheck{name, statusWarn, err.Error()}
	}
}

func (d *doctor) checkMemory(mods []catalog.Module) doctorCheck {
	need := 0
	for _, m := range mods {
		need += m.MemoryMB
	}
	data, err := d.memInfo()
	if err != nil {
		return doctorCheck{"memory", statusWarn, fmt.Sprintf("selection needs about %d MiB; cannot read host memory: %v", need, err)}
	}
	total, avail, err := parseMemInfo(data)
	if err != nil {
		return doctorCheck{"memory", statusWarn, fmt.Sprintf("selection needs about %d MiB; %v", need, err)}
	}
	detail := fmt.Sprintf("selection needs about %d MiB; host has %d MiB, %d MiB available", need, total, avail)
	switch {
	case need > total:
		return doctorCheck{"memory", statusFail, detail + ": remove modules or use a bigger host"}
	case need > avail:
		return doctorCheck{"memory", statusWarn, detail + ": other processes use the rest"}
	}
	return doctorCheck{"memory", statusOK, detail}
}

// parseMemInfo returns MemTotal and MemAvailable in MiB from /proc/meminfo.
func parseMemInfo(data []byte) (totalMiB, availMiB int, err error) {
	var total, avail int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.Atoi(fields[0])
		if err != nil || n < 0 {
			continue
		}
		switch key {
		case "MemTotal":
			total = n
		case "MemAvailable":
			avail = n
		}
	}
	if total == 0 {
		return 0, 0, errors.New("no MemTotal in /proc/meminfo")
	}
	if avail == 0 {
		avail = total
	}
	return total / 1024, avail / 1024, nil
}

// checkDNS resolves every public hostname of the selection concurrently.
func (d *doctor) checkDNS(ctx context.Context, domain string, mods []catalog.Module) []doctorCheck {
	var hosts []string
	for _, m := range mods {
		for _, r := range m.Routes {
			hosts = append(hosts, r.Subdomain+"."+domain)
		}
	}
	if len(hosts) == 0 {
		return nil
	}
	if project.IsLocalDomain(domain) {
		return []doctorCheck{{"dns", statusSkip, domain + " is local: *.localhost resolves to this machine"}}
	}
	checks := make([]doctorCheck, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, d.timeout)
			defer cancel()
			addrs, err := d.resolver.LookupHost(ctx, h)
			switch {
			case err != nil:
				checks[i] = doctorCheck{"dns " + h, statusFail, "does not resolve: add an A/AAAA record pointing to this host (" + oneLineErr(err) + ")"}
			default:
				checks[i] = doctorCheck{"dns " + h, statusOK, strings.Join(addrs, ", ")}
			}
		}()
	}
	wg.Wait()
	return checks
}

func oneLineErr(err error) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(err.Error())
}
