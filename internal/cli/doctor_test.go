package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/project"
)

// fakeDocker answers docker invocations from a table keyed by the joined
// argv and records every call.
type fakeDocker struct {
	answers map[string]string // argv → stdout
	fail    map[string]string // argv → stderr, and the call fails
	missing bool
	calls   []string
}

func (f *fakeDocker) Run(_ context.Context, _ string, args []string, stdout, stderr io.Writer) error {
	argv := strings.Join(args, " ")
	f.calls = append(f.calls, argv)
	if f.missing {
		return errDockerMissing
	}
	if msg, ok := f.fail[argv]; ok {
		fmt.Fprintln(stderr, msg)
		return errors.New("exit status 1")
	}
	fmt.Fprint(stdout, f.answers[argv])
	return nil
}

type fakeResolver map[string][]string

func (r fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	if addrs, ok := r[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func initProject(t *testing.T, domain string, modules ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "proj")
	_, _, err := project.Init(dir, catalog.Default(), project.InitOptions{Domain: domain, Email: "a@b.co", Modules: modules})
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	return dir
}

const memInfo = "MemTotal:       4000000 kB\nMemFree:         100000 kB\nMemAvailable:    1500000 kB\n"

func runDoctor(t *testing.T, d *doctor, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newDoctorCmdWith(IO{In: strings.NewReader(""), Out: &out, Err: &errOut}, d)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestDoctor(t *testing.T) {
	t.Parallel()
	dir := initProject(t, "example.com", "uptime-kuma")
	healthyDocker := func() *fakeDocker {
		return &fakeDocker{answers: map[string]string{
			"version --format {{.Server.Version}}": "27.3.1\n",
			"compose version --short":              "2.32.4\n",
		}}
	}
	freePorts := func(string, string) (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
	allDNS := fakeResolver{"status.example.com": {"203.0.113.7"}}
	res, err := catalog.Default().Resolve([]string{"uptime-kuma"})
	if err != nil {
		t.Fatal(err)
	}
	need := 0
	for _, m := range res.Modules {
		need += m.MemoryMB
	}
	tests := []struct {
		name     string
		d        *doctor
		dir      string
		wantRows []string // substrings, one row each
		wantFail bool
	}{
		{
			name: "all good",
			d:    &doctor{docker: healthyDocker(), listen: freePorts, memInfo: func() ([]byte, error) { return []byte(memInfo), nil }, resolver: allDNS, ports: []int{80, 443}},
			dir:  dir,
			wantRows: []string{"docker    ok      Docker Engine 27.3.1", "compose   ok      Docker Compose 2.32.4", "port 80   ok      free", "port 443  ok      free",
				fmt.Sprintf("memory ok selection needs about %d MiB; host has 3906 MiB, 1464 MiB available", need), "dns status.example.com  ok  203.0.113.7"},
		},
		{
			name: "port in use, no dns, too little memory",
			d: &doctor{docker: healthyDocker(),
				listen: func(_, addr string) (net.Listener, error) {
					if addr == ":80" {
						return nil, &net.OpError{Op: "listen", Err: syscall.EADDRINUSE}
					}
					return net.Listen("tcp", "127.0.0.1:0")
				},
				memInfo:  func() ([]byte, error) { return []byte("MemTotal: 512000 kB\n"), nil },
				resolver: fakeResolver{}, ports: []int{80, 443}},
			dir:      dir,
			wantRows: []string{"port 80   FAIL    in use", "port 443  ok", fmt.Sprintf("memory FAIL selection needs about %d MiB; host has 500 MiB", need), "dns status.example.com  FAIL  does not resolve"},
			wantFail: true,
		},
		{
			name:     "docker missing, no project",
			d:        &doctor{docker: &fakeDocker{missing: true}, listen: freePorts, memInfo: func() ([]byte, error) { return []byte(memInfo), nil }, resolver: allDNS, ports: []int{443}},
			dir:      t.TempDir(),
			wantRows: []string{"docker    FAIL    docker is not installed", "compose   FAIL    needs docker", "project   skip    no fast-saas.yaml here"},
			wantFail: true,
		},
		{
			name: "daemon down, plugin missing",
			d: &doctor{docker: &fakeDocker{fail: map[string]string{
				"version --format {{.Server.Version}}": "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
				"compose version --short":              "docker: 'compose' is not a docker command.",
			}}, listen: freePorts, memInfo: func() ([]byte, error) { return []byte(memInfo), nil }, resolver: allDNS},
			dir:      dir,
			wantRows: []string{"docker    FAIL    the Docker daemon does not answer", "Cannot connect to the Docker daemon", "compose   FAIL    the Docker Compose plugin is missing"},
			wantFail: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.d.timeout = time.Second
			out, err := runDoctor(t, tt.d, "--dir", tt.dir)
			for _, row := range tt.wantRows {
				if !containsSpaced(out, row) {
					t.Errorf("output lacks %q:\n%s", row, out)
				}
			}
			var ee *ExitError
			if tt.wantFail {
				if !errors.As(err, &ee) || ee.Code != 1 {
					t.Errorf("error = %v, want ExitError code 1", err)
				}
			} else if err != nil {
				t.Errorf("error = %v, want nil", err)
			}
		})
	}
}

// containsSpaced matches want against got with runs of blanks collapsed,
// so expectations do not depend on tabwriter's column widths.
func containsSpaced(got, want string) bool {
	squash := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, line := range strings.Split(got, "\n") {
		if strings.Contains(squash(line), squash(want)) {
			return true
		}
	}
	return false
}

func TestDoctorLocalDomainSkipsDNS(t *testing.T) {
	t.Parallel()
	dir := initProject(t, "localhost")
	d := &doctor{docker: &fakeDocker{}, listen: func(string, string) (net.Listener, error) { return nil, &net.OpError{Err: syscall.EACCES} },
		memInfo: func() ([]byte, error) { return []byte(memInfo), nil }, resolver: fakeResolver{}, ports: []int{80}, timeout: time.Second}
	out, _ := runDoctor(t, d, "--dir", dir)
	for _, row := range []string{"dns skip localhost is local", "port 80 skip cannot test without root"} {
		if !containsSpaced(out, row) {
			t.Errorf("output lacks %q:\n%s", row, out)
		}
	}
}

func TestParseMemInfo(t *testing.T) {
	t.Parallel()
	total, avail, err := parseMemInfo([]byte(memInfo))
	if err != nil || total != 3906 || avail != 1464 {
		t.Errorf("parseMemInfo = %d, %d, %v; want 3906, 1464, nil", total, avail, err)
	}
	total, avail, err = parseMemInfo([]byte("MemTotal: 2048 kB\n"))
	if err != nil || total != 2 || avail != 2 {
		t.Errorf("without MemAvailable = %d, %d, %v; want 2, 2, nil", total, avail, err)
	}
	for _, bad := range []string{"", "MemTotal: lots\n", "garbage"} {
		if _, _, err := parseMemInfo([]byte(bad)); err == nil {
			t.Errorf("parseMemInfo(%q) succeeded", bad)
		}
	}
}
