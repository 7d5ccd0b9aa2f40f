package aifake_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/ai/aifake"
)

// These tests drive the fakes with raw HTTP, the way the upstreams' own
// documentation does (curl examples), independent of internal/ai, so the
// fakes cannot drift to whatever our client happens to send.

type rawCase struct {
	name        string
	method      string
	path        string
	header      map[string]string
	body        string
	wantStatus  int
	wantType    string // Content-Type prefix
	wantInBody  string
	wantHeaders map[string]string
}

func runRaw(t *testing.T, base string, cases []rawCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.wantStatus, body)
			}
			if ct := resp.Header.Get("Content-Type"); tc.wantType != "" && !strings.HasPrefix(ct, tc.wantType) {
				t.Fatalf("Content-Type = %q, want %q", ct, tc.wantType)
			}
			if !strings.Contains(string(body), tc.wantInBody) {
				t.Fatalf("body = %s, want it to contain %s", body, tc.wantInBody)
			}
			for k, v := range tc.wantHeaders {
				if got := resp.Header.Get(k); got != v {
					t.Fatalf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestOllamaContract(t *testing.T) {
	o := aifake.NewOllama(t)
	o.AddModel("llama3.2", 10)
	o.AddRemote("gemma3", 100)
	runRaw(t, o.URL, []rawCase{
		{"root", "GET", "/", nil, "", 200, "text/plain", "Ollama is running", nil},
		{"version", "GET", "/api/version", nil, "", 200, "application/json", `"version":"0.12.6"`, nil},
		{"tags", "GET", "/api/tags", nil, "", 200, "application/json", `"name":"llama3.2:latest"`, nil},
		{"generate streams by default", "POST", "/api/generate", nil, `{"model":"llama3.2","prompt":"hi"}`, 200, "application/x-ndjson", `"done":false`, nil},
		{"generate unknown model", "POST", "/api/generate", nil, `{"model":"nope","prompt":"hi"}`, 404, "application/json", `"error":`, nil},
		{"generate without model", "POST", "/api/generate", nil, `{"prompt":"hi"}`, 400, "application/json", `"error":"model is required"`, nil},
		{"chat not streamed", "POST", "/api/chat", nil, `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false}`, 200, "application/json", `"role":"assistant"`, nil},
		{"pull not streamed", "POST", "/api/pull", nil, `{"model":"gemma3","stream":false}`, 200, "application/json", `{"status":"success"}`, nil},
		{"pull legacy name field", "POST", "/api/pull", nil, `{"name":"gemma3","stream":false}`, 200, "application/json", `"success"`, nil},
		{"delete", "DELETE", "/api/delete", nil, `{"model":"gemma3"}`, 200, "", "", nil},
		{"delete again", "DELETE", "/api/delete", nil, `{"model":"gemma3"}`, 404, "application/json", `not found`, nil},
		{"wrong method", "GET", "/api/pull", nil, "", 405, "", "", nil},
	})

	// The streamed pull is NDJSON: one JSON object per line, ending in success.
	resp, err := http.Post(o.URL+"/api/pull", "application/json", strings.NewReader(`{"model":"gemma3"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("Content-Type = %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var last map[string]any
	for sc.Scan() {
		last = nil
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
	}
	if last["status"] != "success" {
		t.Fatalf("last line = %v", last)
	}
}

func TestLangflowContract(t *testing.T) {
	l := aifake.NewLangflow(t, "sk-test")
	id := l.AddFlow(aifake.FakeFlow{Name: "f", EndpointName: "ep"})
	key := map[string]string{"x-api-key": "sk-test"}
	runRaw(t, l.URL, []rawCase{
		{"health needs no key", "GET", "/health", nil, "", 200, "application/json", `"status":"ok"`, nil},
		{"health_check needs no key", "GET", "/health_check", nil, "", 200, "application/json", `"db":"ok"`, nil},
		{"no key", "GET", "/api/v1/flows/", nil, "", 403, "application/json", `"detail":"An API key must be passed as query or header"`, nil},
		{"wrong key", "GET", "/api/v1/flows/", map[string]string{"x-api-key": "nope"}, "", 403, "application/json", `"detail"`, nil},
		{"key as query parameter", "GET", "/api/v1/flows/?x-api-key=sk-test", nil, "", 200, "application/json", id, nil},
		{"list is an array by default", "GET", "/api/v1/flows/", key, "", 200, "application/json", `[{`, nil},
		{"paginated list", "GET", "/api/v1/flows/?get_all=false&page=1&size=10", key, "", 200, "application/json", `"total":1`, nil},
		{"bad bool", "GET", "/api/v1/flows/?get_all=maybe", key, "", 422, "application/json", `"bool_parsing"`, nil},
		{"get flow", "GET", "/api/v1/flows/" + id, key, "", 200, "application/json", `"endpoint_name":"ep"`, nil},
		{"get flow bad uuid", "GET", "/api/v1/flows/xyz", key, "", 422, "application/json", `"uuid_parsing"`, nil},
		{"run by endpoint name", "POST", "/api/v1/run/ep?stream=false", key, `{"input_value":"hi"}`, 200, "application/json", `"session_id"`, nil},
		{"run unknown", "POST", "/api/v1/run/nope", key, `{}`, 404, "application/json", `"detail"`, nil},
		{"run bad output type", "POST", "/api/v1/run/ep", key, `{"output_type":"xml"}`, 422, "application/json", `"literal_error"`, nil},
		{"components", "GET", "/api/v1/all", key, "", 200, "application/json", `"ChatInput"`, nil},
	})
	l.SetDatabaseDown(true)
	runRaw(t, l.URL, []rawCase{
		{"health_check with the database down", "GET", "/health_check", nil, "", 500, "application/json", `"detail":{`, nil},
	})
}

func TestAgentContract(t *testing.T) {
	a := aifake.NewAgent(t, "agent-key")
	auth := map[string]string{"Authorization": "Bearer agent-key"}
	runRaw(t, a.URL, []rawCase{
		{"health needs no key", "GET", "/health", nil, "", 200, "application/json", `"status":"ok"`, nil},
		{"no key", "GET", "/v1/jobs", nil, "", 401, "application/problem+json", `"code":"unauthorized"`,
			map[string]string{"WWW-Authenticate": `Bearer realm="fast-saas-agent"`}},
		{"wrong key", "GET", "/v1/jobs", map[string]string{"Authorization": "Bearer agent-kex"}, "", 401, "application/problem+json", `"unauthorized"`, nil},
		{"basic auth is not bearer", "GET", "/v1/jobs", map[string]string{"Authorization": "Basic YWdlbnQta2V5"}, "", 401, "", "", nil},
		{"submit", "POST", "/v1/jobs", auth, `{"prompt":"hi"}`, 202, "application/json", `"status":"queued"`, nil},
		{"unknown field", "POST", "/v1/jobs", auth, `{"prompt":"hi","promt":"x"}`, 400, "application/problem+json", `"invalid_request"`, nil},
		{"malformed", "POST", "/v1/jobs", auth, `{"prompt":`, 400, "application/problem+json", `"invalid_request"`, nil},
		{"wrong type", "POST", "/v1/jobs", auth, `{"prompt":"hi","max_turns":"10"}`, 400, "application/problem+json", `"invalid_request"`, nil},
		{"missing prompt", "POST", "/v1/jobs", auth, `{}`, 422, "application/problem+json", `"validation_failed"`, nil},
		{"body too large", "POST", "/v1/jobs", auth, `{"prompt":"` + strings.Repeat("x", 300<<10) + `"}`, 413, "application/problem+json", `"body_too_large"`, nil},
		{"bad limit", "GET", "/v1/jobs?limit=0", auth, "", 400, "application/problem+json", `"invalid_request"`, nil},
		{"bad status", "GET", "/v1/jobs?status=done", auth, "", 400, "application/problem+json", `"invalid_request"`, nil},
		{"list", "GET", "/v1/jobs", auth, "", 200, "application/json", `"next_cursor":""`, nil},
		{"unknown job", "GET", "/v1/jobs/0193a5c8-7d2e-7cc1-9d5e-2b1b3e0f4a10", auth, "", 404, "application/problem+json", `"not_found"`, nil},
	})

	a.MaxQueued = 1 // one job is already queued by the submit case above
	runRaw(t, a.URL, []rawCase{
		{"queue full", "POST", "/v1/jobs", auth, `{"prompt":"again"}`, 429, "application/problem+json", `"queue_full"`,
			map[string]string{"Retry-After": "30"}},
	})
	a.SetDraining(true)
	runRaw(t, a.URL, []rawCase{
		{"draining", "GET", "/health", nil, "", 503, "application/json", `"status":"draining"`, nil},
	})
}

func TestFaultsAreConsumedInOrder(t *testing.T) {
	l := aifake.NewLangfuse(t)
	l.FailNext("GET /api/public/health", aifake.Fault{Status: 502, Body: "first"})
	l.FailNext("GET /api/public/health", aifake.Fault{Status: 504, Body: "second"})
	for _, want := range []int{502, 504, 200} {
		resp, err := http.Get(l.URL + "/api/public/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("status = %d, want %d", resp.StatusCode, want)
		}
	}
	if n := len(l.Requests()); n != 3 {
		t.Fatalf("recorded %d requests, want 3", n)
	}
}
