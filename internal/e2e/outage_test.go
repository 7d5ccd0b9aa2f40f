package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

// proxy is a TCP forwarder we can cut and restore, standing in for
// stopping and restarting Postgres or Redis (the real servers are shared
// with other tests, so we do not stop them).
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut refuses new connections and breaks the open ones.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *proxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("restore proxy on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func retarget(t *testing.T, raw, addr string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

type readiness struct {
	status int
	checks map[string]struct {
		Status string `json:"status"`
	}
	took time.Duration
}

// getStatus GETs url with a bearer token and returns the status code.
func getStatus(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v (the server must keep answering)", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func ready(t *testing.T, base string) readiness {
	start := time.Now()
	resp, err := http.Get(base + "/health/ready")
	if err != nil {
		t.Fatalf("ready: %v (the server must keep answering)", err)
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]struct {
			Status string `json:"status"`
		} `json:"checks"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return readiness{status: resp.StatusCode, checks: body.Checks, took: time.Since(start)}
}

// TestDependencyOutage cuts Redis, then Postgres, under traffic: the
// server keeps running, /health/ready reports the dead dependency (each
// check is bounded by a 1 s timeout), and service resumes by itself when
// the dependency returns.
func TestDependencyOutage(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	_, prefix := testenv.Redis(t)
	pgURL, _ := url.Parse(pg)
	rURL, _ := url.Parse(testenv.RedisURL(t))
	pgProxy, rProxy := newProxy(t, pgURL.Host), newProxy(t, rURL.Host)
	s := start(t, "DATABASE_URL="+retarget(t, pg, pgProxy.addr), "REDIS_URL="+retarget(t, rURL.String(), rProxy.addr),
		"FASTSAAS_REDIS_PREFIX="+prefix, "FASTSAAS_IP_RATE_LIMIT=-1")
	ctx := context.Background()
	admin := client.New(s.base, s.platformKey)
	tenant, err := admin.CreateTenant(ctx, client.CreateTenant{Slug: "outage", Name: "Outage", Plan: "enterprise"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := admin.CreateAPIKey(ctx, tenant.ID, client.CreateAPIKey{Name: "k", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	keyed := admin.WithToken(key.Key)

	// Background traffic during the whole test.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, _ = keyed.GetTenant(cctx, tenant.ID)
				cancel()
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	waitReady := func(what string, want int, dep string) readiness {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := ready(t, s.base)
			if r.status == want && (dep == "" || (want == 200) == (r.checks[dep].Status == "ok")) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: readiness %d %v after 30 s, want %d", what, r.status, r.checks, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitReady("start", http.StatusOK, "")

	for _, dep := range []struct {
		name  string
		proxy *proxy
	}{{"redis", rProxy}, {"store", pgProxy}} {
		dep.proxy.cut()
		r := waitReady(dep.name+" cut", http.StatusServiceUnavailable, dep.name)
		t.Logf("%s down: readiness answered 503 in %v", dep.name, r.took)
		// The bound is the 1 s check timeout plus scheduling on a shared
		// machine; a hang would show as tens of seconds.
		if r.took > 5*time.Second {
			t.Errorf("%s down: readiness took %v", dep.name, r.took)
		}
		if _, err := http.Get(s.base + "/health"); err != nil {
			t.Fatalf("%s down: liveness failed: %v (process crashed?)", dep.name, err)
		}
		if dep.name == "store" {
			// A request that needs the database is our fault, not the
			// caller's, and temporary: 503, never 500. (Lookups cached
			// for a couple of seconds may still answer 200 meanwhile.)
			deadline := time.Now().Add(15 * time.Second)
			for {
				code := getStatus(t, s.base+"/api/v1/tenants/"+tenant.ID, key.Key)
				if code == http.StatusServiceUnavailable {
					break
				}
				if code != http.StatusOK || time.Now().After(deadline) {
					t.Fatalf("store down: GET tenant answered %d, want 503", code)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		dep.proxy.restore()
		waitReady(dep.name+" restored", http.StatusOK, dep.name)
		// Service resumes: a request that needs the dependency works again.
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := keyed.GetTenant(ctx, tenant.ID)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s restored: requests still fail after 30 s: %v", dep.name, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if _, err := admin.CreateAPIKey(ctx, tenant.ID, client.CreateAPIKey{Name: "after-" + dep.name, Scopes: []string{"read"}}); err != nil && !strings.Contains(err.Error(), "409") {
			t.Fatalf("%s restored: write failed: %v", dep.name, err)
		}
	}
}
