package project

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

func TestParseComposePS(t *testing.T) {
	t.Parallel()
	want := []ContainerState{
		{Name: "p-db-1", Service: "db", State: "running", Health: "healthy"},
		{Name: "p-migrate-1", Service: "migrate", State: "exited", ExitCode: 0},
	}
	tests := []struct{ name, in string }{
		{"ndjson", `{"Name":"p-db-1","Service":"db","State":"running","Health":"healthy","Publishers":[]}` + "\n" +
			`{"Name":"p-migrate-1","Service":"migrate","State":"exited","Health":"","ExitCode":0}` + "\n"},
		{"array", `[{"Name":"p-db-1","Service":"db","State":"running","Health":"healthy"},{"Name":"p-migrate-1","Service":"migrate","State":"exited","ExitCode":0}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseComposePS([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got, err := ParseComposePS([]byte("  \n")); err != nil || got != nil {
		t.Errorf("empty output = %v, %v; want nil, nil", got, err)
	}
	for _, bad := range []string{"{", "[1,2]", `{"Name":1}`, "not json"} {
		if _, err := ParseComposePS([]byte(bad)); err == nil {
			t.Errorf("ParseComposePS(%q) succeeded", bad)
		}
	}
}

func FuzzParseComposePS(f *testing.F) {
	f.Add([]byte(`{"Service":"db","State":"running","Health":"healthy"}`))
	f.Add([]byte(`[{"Service":"db","State":"exited","ExitCode":1}]`))
	f.Add([]byte("{}\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		states, err := ParseComposePS(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		mods := []catalog.Module{{ID: "m", Containers: []catalog.Container{{Name: "db"}, {Name: "job", OneShot: true}}}}
		for _, s := range states {
			mods[0].Containers = append(mods[0].Containers, catalog.Container{Name: s.Service})
		}
		if got := ContainerChecks(mods, states); len(got) != len(mods[0].Containers) {
			t.Fatalf("%d checks for %d containers", len(got), len(mods[0].Containers))
		}
	})
}

func TestContainerChecks(t *testing.T) {
	t.Parallel()
	mods := []catalog.Module{
		{ID: "a", Containers: []catalog.Container{{Name: "web"}, {Name: "migrate", OneShot: true}}},
		{ID: "b", Containers: []catalog.Container{{Name: "worker"}, {Name: "db"}, {Name: "gone"}, {Name: "seed", OneShot: true}, {Name: "warm"}}},
		{ID: "ext", External: true},
	}
	states := []ContainerState{
		{Service: "web", State: "running", Health: "healthy"},
		{Service: "migrate", State: "exited", ExitCode: 0},
		{Service: "worker", State: "running"},
		{Service: "db", State: "running", Health: "unhealthy"},
		{Service: "seed", State: "exited", ExitCode: 3},
		{Service: "warm", State: "restarting"},
	}
	got := map[string]string{}
	ok := map[string]bool{}
	for _, c := range ContainerChecks(mods, states) {
		got[c.Target] = c.Status
		ok[c.Target] = c.OK
	}
	want := map[string]string{"web": "healthy", "migrate": "exited(0)", "worker": "running", "db": "unhealthy", "gone": "missing", "seed": "exited(3)", "warm": "restarting"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	wantOK := map[string]bool{"web": true, "migrate": true, "worker": true, "db": false, "gone": false, "seed": false, "warm": false}
	if diff := cmp.Diff(wantOK, ok); diff != "" {
		t.Errorf("ok (-want +got):\n%s", diff)
	}
}

// hostRewriter sends every request to one test server, keeping the path,
// so RouteChecks can be tested without DNS.
type hostRewriter struct {
	target *url.URL
	client *http.Client
	seen   []string
}

func (h *hostRewriter) Do(r *http.Request) (*http.Response, error) {
	h.seen = append(h.seen, r.URL.String())
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host = h.target.Scheme, h.target.Host
	r2.Host = r.URL.Host
	return h.client.Do(r2)
}

func TestRouteChecks(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Host {
		case "ok.example.com":
			w.WriteHeader(http.StatusOK)
		case "console.example.com", "open.example.com":
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	client := &hostRewriter{target: u, client: srv.Client()}
	mods := []catalog.Module{
		{ID: "a", Routes: []catalog.Route{{Subdomain: "ok", HealthPath: "/health"}, {Subdomain: "nohealth"}}},
		{ID: "b", Routes: []catalog.Route{{Subdomain: "console", HealthPath: "/", AdminConsole: true}}},
		{ID: "c", Routes: []catalog.Route{{Subdomain: "open", HealthPath: "/", AdminConsole: true}}},
		{ID: "d", Routes: []catalog.Route{{Subdomain: "down", HealthPath: "/api/health"}}},
	}
	checks := RouteChecks(context.Background(), client, "example.com", mods, []string{"c"}, 5*time.Second)
	got := map[string]bool{}
	for _, c := range checks {
		got[c.Target] = c.OK
	}
	want := map[string]bool{
		"https://ok.example.com/health":       true,
		"https://console.example.com/":        true,  // 401 from basic auth
		"https://open.example.com/":           false, // basic auth turned off: 401 is a failure
		"https://down.example.com/api/health": false,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("route checks (-want +got):\n%s", diff)
	}
}

func TestRouteChecksUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(srv.URL)
	srv.Close() // nothing listens any more
	client := &hostRewriter{target: u, client: &http.Client{}}
	mods := []catalog.Module{{ID: "a", Routes: []catalog.Route{{Subdomain: "x", HealthPath: "/"}}}}
	checks := RouteChecks(context.Background(), client, "example.com", mods, nil, 2*time.Second)
	if len(checks) != 1 || checks[0].OK || checks[0].Status != "unreachable" {
		t.Fatalf("checks = %+v, want one unreachable", checks)
	}
}
