package project

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// ContainerState is one entry of `docker compose ps --format json`.
type ContainerState struct {
	Name     string `json:"Name"`
	Service  string `json:"Service"`
	State    string `json:"State"`  // running, exited, restarting, created, paused, dead
	Health   string `json:"Health"` // healthy, unhealthy, starting, "" (no health check)
	ExitCode int    `json:"ExitCode"`
}

// maxPSOutput bounds what ParseComposePS accepts; a stack's ps output is a
// few kilobytes.
const maxPSOutput = 16 << 20

// ParseComposePS parses `docker compose ps --format json` output. Compose
// v2.21+ prints one JSON object per line; older releases print one array.
// Both are accepted; empty output means no containers.
func ParseComposePS(data []byte) ([]ContainerState, error) {
	if len(data) > maxPSOutput {
		return nil, fmt.Errorf("docker compose ps: output larger than %d bytes", maxPSOutput)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] == '[' {
		var states []ContainerState
		if err := json.Unmarshal(trimmed, &states); err != nil {
			return nil, fmt.Errorf("docker compose ps: %w", err)
		}
		return states, nil
	}
	var states []ContainerState
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	for {
		var s ContainerState
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			return states, nil
		}
		if err != nil {
			return nil, fmt.Errorf("docker compose ps: entry %d: %w", len(states)+1, err)
		}
		states = append(states, s)
	}
}

// Check is one health check result.
type Check struct {
	Module string `json:"module"`
	Kind   string `json:"kind"`   // "container" or "http"
	Target string `json:"target"` // compose service or URL
	OK     bool   `json:"ok"`
	Status string `json:"status"` // short state: healthy, unhealthy, missing, HTTP 200…
	Detail string `json:"detail,omitempty"`
}

// ContainerChecks judges every container of mods from ps output: a
// long-running container must be running and not unhealthy or still
// starting; a one-shot job must have exited with code 0. External modules
// (connected, not run) have no containers to check.
func ContainerChecks(mods []catalog.Module, states []ContainerState) []Check {
	byService := make(map[string]ContainerState, len(states))
	for _, s := range states {
		byService[s.Service] = s
	}
	var checks []Check
	for _, m := range mods {
		for _, c := range m.Containers {
			ch := Check{Module: m.ID, Kind: "container", Target: c.Name}
			s, ok := byService[c.Name]
			switch {
			case !ok:
				ch.Status, ch.Detail = "missing", "no container (run `fast-saas up`)"
			case c.OneShot:
				ch.OK = s.State == "exited" && s.ExitCode == 0
				ch.Status = s.State
				if s.State == "exited" {
					ch.Status = fmt.Sprintf("exited(%d)", s.ExitCode)
				}
				if !ch.OK {
					ch.Detail = "one-shot job did not complete successfully; see `fast-saas logs " + c.Name + "`"
				}
			case s.State != "running":
				ch.Status, ch.Detail = s.State, "not running; see `fast-saas logs "+c.Name+"`"
			case s.Health == "unhealthy" || s.Health == "starting":
				ch.Status = s.Health
				ch.Detail = "health check not passing yet"
				if s.Health == "unhealthy" {
					ch.Detail = "health check failing; see `fast-saas logs " + c.Name + "`"
				}
			default:
				ch.OK = true
				ch.Status = "running"
				if s.Health != "" {
					ch.Status = s.Health
				}
			}
			checks = append(checks, ch)
		}
	}
	return checks
}

// HTTPDoer sends a request; *http.Client satisfies it.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// RouteURL is the public URL of a route's health endpoint.
func RouteURL(domain string, r catalog.Route) string {
	return "https://" + r.Subdomain + "." + domain + r.HealthPath
}

// RouteChecks requests every route of mods that has a HealthPath through
// its public URL. 2xx and 3xx count as healthy. A 401 from a console that
// Caddy guards with basic auth counts too: it proves Caddy routes there and
// the container's own health is checked separately.
func RouteChecks(ctx context.Context, client HTTPDoer, domain string, mods []catalog.Module, noBasicAuth []string, timeout time.Duration) []Check {
	var checks []Check
	for _, m := range mods {
		for _, r := range m.Routes {
			if r.HealthPath == "" {
				continue
			}
			url := RouteURL(domain, r)
			ch := Check{Module: m.ID, Kind: "http", Target: url}
			guarded := r.AdminConsole && !contains(noBasicAuth, m.ID)
			status, err := get(ctx, client, url, timeout)
			switch {
			case err != nil:
				ch.Status, ch.Detail = "unreachable", err.Error()
			case status >= 200 && status < 400:
				ch.OK, ch.Status = true, fmt.Sprintf("HTTP %d", status)
			case status == http.StatusUnauthorized && guarded:
				ch.OK, ch.Status, ch.Detail = true, "HTTP 401", "behind basic auth"
			default:
				ch.Status = fmt.Sprintf("HTTP %d", status)
			}
			checks = append(checks, ch)
		}
	}
	return checks
}

func get(ctx context.Context, client HTTPDoer, url string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, oneLine(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// oneLine keeps table cells and the CLI's one-line errors on one line.
func oneLine(err error) error {
	msg := err.Error()
	if !strings.ContainsAny(msg, "\r\n") {
		return err
	}
	return errors.New(strings.NewReplacer("\r", " ", "\n", " ").Replace(msg))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
