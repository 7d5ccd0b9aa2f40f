package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/project"
)

// routeClient sends every request to one test server, keeping Host and
// path, so health's route checks run without DNS or TLS.
type routeClient struct {
	target *url.URL
	seen   []string
}

func (c *routeClient) Do(r *http.Request) (*http.Response, error) {
	c.seen = append(c.seen, r.URL.String())
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host, r2.Host = c.target.Scheme, c.target.Host, r.URL.Host
	return http.DefaultTransport.RoundTrip(r2)
}

// psAllHealthy renders ps output with every container of the selection
// running and healthy (one-shot jobs exited 0).
func psAllHealthy(t *testing.T, ids ...string) string {
	t.Helper()
	res, err := catalog.Default().Resolve(ids)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, m := range res.Modules {
		for _, c := range m.Containers {
			s := project.ContainerState{Name: "p-" + c.Name + "-1", Service: c.Name, State: "running", Health: "healthy"}
			if c.OneShot {
				s.State, s.Health = "exited", ""
			}
			line, _ := json.Marshal(s)
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func TestHealthHTTPRoutes(t *testing.T) {
	t.Parallel()
	dir := initProject(t, "example.com", "saas-api")
	ps := psAllHealthy(t, "saas-api")
	psArgs := "compose -f docker-compose.yml --profile core ps --all --format json"
	tests := []struct {
		name       string
		appStatus  int
		wantErr    bool
		wantOutput []string
	}{
		{"all up", http.StatusOK, false, []string{"saas-api http https://api.example.com/health ok HTTP 200", "saas-api http https://app.example.com/health ok HTTP 200", "All "}},
		{"app route down", http.StatusBadGateway, true, []string{"saas-api http https://api.example.com/health ok HTTP 200", "saas-api http https://app.example.com/health FAIL HTTP 502"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Host == "app.example.com" {
					w.WriteHeader(tt.appStatus)
					return
				}
				fmt.Fprintln(w, `{"status":"ok"}`)
			}))
			defer srv.Close()
			u, _ := url.Parse(srv.URL)
			client := &routeClient{target: u}
			docker := &fakeDocker{answers: map[string]string{"compose version": "Docker Compose version v2.32.4", psArgs: ps}}
			var out bytes.Buffer
			cmd := newHealthCmdWith(IO{In: strings.NewReader(""), Out: &out, Err: &out}, docker, client)
			cmd.SetArgs([]string{"--dir", dir})
			err := cmd.ExecuteContext(context.Background())
			var ee *ExitError
			if tt.wantErr != (errors.As(err, &ee) && ee.Code == 1) {
				t.Fatalf("error = %v, want ExitError(1): %v", err, tt.wantErr)
			}
			if !tt.wantErr && err != nil {
				t.Fatalf("error = %v", err)
			}
			for _, row := range tt.wantOutput {
				if !containsSpaced(out.String(), row) {
					t.Errorf("output lacks %q:\n%s", row, out.String())
				}
			}
			if len(client.seen) != 2 {
				t.Errorf("HTTP requests = %v, want the two saas-api routes", client.seen)
			}
			if got := strings.Join(docker.calls, "\n"); got != "compose version\n"+psArgs {
				t.Errorf("docker calls:\n%s\nwant:\ncompose version\n%s", got, psArgs)
			}
		})
	}
}

func TestHealthClientLocalDomain(t *testing.T) {
	t.Parallel()
	// A TLS server with a certificate nobody trusts stands in for Caddy's
	// internal CA; the localhost client reaches it via 127.0.0.1.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "" || !strings.HasSuffix(strings.Split(r.Host, ":")[0], ".localhost") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	client := healthClient("localhost", 5e9)
	resp, err := client.Get("https://api.localhost:" + u.Port() + "/health")
	if err != nil {
		t.Fatalf("GET through the localhost client: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("status = %d, want 204", resp.StatusCode)
	}
	// A public domain's client verifies certificates.
	if _, err := healthClient("example.com", 5e9).Get(srv.URL); err == nil {
		t.Error("public-domain client accepted an untrusted certificate")
	}
}
