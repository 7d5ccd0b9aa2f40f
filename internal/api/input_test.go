package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// specRoutes is the path table of spec/api.md (a contract): every API
// operation the server must serve, as "METHOD path".
var specRoutes = []string{
	"GET /health", "GET /health/ready",
	"GET /api/v1/plans", "GET /api/v1/plans/{plan}", "GET /api/v1/plans/{plan}/check/{feature}",
	"POST /api/v1/tenants", "GET /api/v1/tenants", "GET /api/v1/tenants/{id}", "PATCH /api/v1/tenants/{id}", "DELETE /api/v1/tenants/{id}",
	"POST /api/v1/tenants/{id}/change-plan", "POST /api/v1/tenants/{id}/suspend", "POST /api/v1/tenants/{id}/reactivate",
	"GET /api/v1/tenants/{id}/overrides", "PUT /api/v1/tenants/{id}/overrides", "GET /api/v1/tenants/{id}/overview",
	"POST /api/v1/users", "GET /api/v1/users", "GET /api/v1/users/{id}", "PATCH /api/v1/users/{id}", "GET /api/v1/me",
	"GET /api/v1/tenants/{id}/members", "POST /api/v1/tenants/{id}/members", "PATCH /api/v1/tenants/{id}/members/{userId}", "DELETE /api/v1/tenants/{id}/members/{userId}",
	"POST /api/v1/tenants/{id}/api-keys", "GET /api/v1/tenants/{id}/api-keys", "DELETE /api/v1/tenants/{id}/api-keys/{keyId}", "POST /api/v1/tenants/{id}/api-keys/{keyId}/rotate",
	"GET /api/v1/tenants/{id}/usage", "GET /api/v1/tenants/{id}/usage/events", "POST /api/v1/tenants/{id}/usage/events", "GET /api/v1/tenants/{id}/usage/limit",
	"GET /api/v1/tenants/{id}/audit", "GET /api/v1/admin/stats", "GET /api/v1/admin/modules",
	"GET /api/v1/ai/ollama/models", "POST /api/v1/ai/ollama/pull", "POST /api/v1/ai/ollama/generate", "POST /api/v1/ai/ollama/chat", "DELETE /api/v1/ai/ollama/models/{name}",
	"GET /api/v1/ai/langflow/flows", "GET /api/v1/ai/langflow/flows/{id}", "POST /api/v1/ai/langflow/flows/{id}/run", "GET /api/v1/ai/langflow/components",
	"POST /api/v1/ai/claude/run", "GET /api/v1/ai/claude/jobs", "GET /api/v1/ai/claude/jobs/{id}", "DELETE /api/v1/ai/claude/jobs/{id}",
	"GET /api/v1/ai/health", "GET /api/v1/ai/langfuse/health",
	// Added by us: Lago's webhooks (an inbound operation, not an MCP tool).
	"POST /api/v1/webhooks/lago",
}

func TestOpenAPIMatchesTableAndSpec(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	h := w.h.(*Handler)
	var table []string
	ids := map[string]bool{}
	for _, op := range h.Ops {
		table = append(table, op.Method+" "+op.Path)
		if ids[op.ID] {
			t.Errorf("duplicate operation id %s", op.ID)
		}
		ids[op.ID] = true
	}
	slices.Sort(table)
	want := slices.Clone(specRoutes)
	slices.Sort(want)
	if !slices.Equal(table, want) {
		t.Errorf("operation table differs from spec/api.md paths:\n table-only: %v\n spec-only: %v", minus(table, want), minus(want, table))
	}

	for _, path := range []string{"/openapi.json", "/openapi-3.0.json"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(rec.Body.Bytes())
		if err != nil {
			t.Fatalf("load %s: %v", path, err)
		}
		if path == "/openapi-3.0.json" {
			if err := doc.Validate(context.Background()); err != nil {
				t.Errorf("%s does not validate: %v", path, err)
			}
		}
		var served []string
		for p, item := range doc.Paths.Map() {
			for m, op := range item.Operations() {
				served = append(served, m+" "+p)
				if op.OperationID == "" || !ids[op.OperationID] {
					t.Errorf("%s %s %s: operation id %q not in the table", path, m, p, op.OperationID)
				}
			}
		}
		slices.Sort(served)
		if !slices.Equal(served, table) {
			t.Errorf("%s differs from the table:\n openapi-only: %v\n table-only: %v", path, minus(served, table), minus(table, served))
		}
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestBadInput: every client mistake is a 4xx problem+json, never a 500.
func TestBadInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	tok := w.tokens["platform"]
	ten := "/api/v1/tenants/" + w.tenantA
	big := `{"slug":"x","name":"` + strings.Repeat("a", 2<<20) + `"}`
	tests := []struct {
		name, method, path, body string
		want                     int
		wantCode                 string
		// wantField is the input at fault, named as huma's validation
		// names it (location, then path), whichever check refused it.
		wantField string
	}{
		{"malformed json", "POST", "/api/v1/tenants", `{"slug":`, 400, "malformed_request", "body"},
		{"not an object", "POST", "/api/v1/tenants", `[1,2]`, 422, "validation_failed", "body"},
		{"wrong type", "POST", "/api/v1/tenants", `{"slug":5,"name":"x"}`, 422, "validation_failed", "body.slug"},
		{"unknown field", "POST", "/api/v1/tenants", `{"slug":"ok","name":"x","admin":true}`, 422, "validation_failed", "body.admin"},
		{"missing field", "POST", "/api/v1/tenants", `{"slug":"ok"}`, 422, "validation_failed", "body.name"},
		{"bad slug", "POST", "/api/v1/tenants", `{"slug":"Bad Slug","name":"x"}`, 422, "validation_failed", "body.slug"},
		{"unknown plan", "POST", "/api/v1/tenants", `{"slug":"ok","name":"x","plan":"platinum"}`, 422, "invalid_input", "body.plan"},
		{"duplicate slug", "POST", "/api/v1/tenants", `{"slug":"tenant-a","name":"x"}`, 409, "conflict", ""},
		{"oversize body", "POST", "/api/v1/tenants", big, 413, "body_too_large", ""},
		{"bad uuid", "GET", "/api/v1/tenants/not-a-uuid", "", 422, "validation_failed", "path.id"},
		{"unknown tenant", "GET", "/api/v1/tenants/0190a0a0-0000-7000-8000-000000000000", "", 404, "not_found", ""},
		{"bad cursor", "GET", "/api/v1/tenants?cursor=%21%21garbage", "", 400, "bad_cursor", "query.cursor"},
		{"limit too big", "GET", "/api/v1/tenants?limit=1000", "", 422, "validation_failed", "query.limit"},
		{"limit not a number", "GET", "/api/v1/tenants?limit=ten", "", 422, "validation_failed", "query.limit"},
		{"bad period", "GET", ten + "/usage?period=1y", "", 422, "validation_failed", "query.period"},
		{"bad from", "GET", ten + "/usage?from=yesterday", "", 422, "validation_failed", "query.from"},
		{"period and range", "GET", ten + "/usage?period=7d&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z", "", 422, "invalid_input", "query.period"},
		{"from after to", "GET", ten + "/usage?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "", 422, "invalid_input", "query.from"},
		{"empty ingest", "POST", ten + "/usage/events", `{"events":[]}`, 422, "validation_failed", "body.events"},
		{"ingest without transaction id", "POST", ten + "/usage/events", `{"events":[{"metric":"api_calls"}]}`, 422, "validation_failed", "body.events[0].transaction_id"},
		{"ingest batch too big", "POST", ten + "/usage/events", `{"events":[` + strings.TrimSuffix(strings.Repeat(`{"transaction_id":"t","metric":"m"},`, 1001), ",") + `]}`, 422, "validation_failed", "body.events"},
		{"ingest not json", "POST", ten + "/usage/events", `{"events":[{"transaction_id":"t"`, 400, "malformed_request", "body"},
		{"ingest trailing data", "POST", ten + "/usage/events", `{"events":[{"transaction_id":"t","metric":"m"}]}]`, 400, "malformed_request", "body"},
		{"ingest unknown field", "POST", ten + "/usage/events", `{"events":[{"transaction_id":"t","metric":"m","admin":true}]}`, 422, "validation_failed", "body.events[0].admin"},
		{"ingest wrong type", "POST", ten + "/usage/events", `{"events":[{"transaction_id":"t","metric":5}]}`, 422, "validation_failed", "body.events[0].metric"},
		{"ingest bad metric", "POST", ten + "/usage/events", `{"events":[{"transaction_id":"t","metric":"API calls"}]}`, 422, "validation_failed", "body.events[0].metric"},
		{"ingest null events", "POST", ten + "/usage/events", `{"events":null}`, 422, "validation_failed", "body.events"},
		{"ingest negative quantity", "POST", ten + "/usage/events", `{"events":[{"transaction_id":"t","metric":"api_calls","quantity":-1000}]}`, 422, "validation_failed", "body.events[0].quantity"},
		{"ingest quantity too large", "POST", ten + "/usage/events", `{"events":[{"transaction_id":"t","metric":"m","quantity":1e308}]}`, 422, "validation_failed", "body.events[0].quantity"},
		{"override rate above the limiter's resolution", "PUT", ten + "/overrides", `{"rate_limit_per_minute":9223372036854775807}`, 422, "validation_failed", "body.rate_limit_per_minute"},
		{"override quota beyond an exact JSON integer", "PUT", ten + "/overrides", `{"api_calls_per_month":1e300}`, 422, "validation_failed", "body.api_calls_per_month"},
		{"override of an unknown feature", "PUT", ten + "/overrides", `{"features":{"ssoo":true}}`, 422, "invalid_input", "body.features"},
		{"bad role", "POST", ten + "/members", `{"email":"fresh@example.com","role":"god"}`, 422, "validation_failed", "body.role"},
		{"bad scope", "POST", ten + "/api-keys", `{"name":"k","scopes":["root"]}`, 422, "validation_failed", "body.scopes[0]"},
		{"negative grace", "POST", ten + "/api-keys/" + w.targetKey + "/rotate", `{"grace_seconds":-5}`, 422, "validation_failed", "body.grace_seconds"},
		{"key expiring in the past", "POST", ten + "/api-keys", `{"name":"k","scopes":["read"],"expires_at":"2001-01-01T00:00:00Z"}`, 422, "invalid_input", "body.expires_at"},
		{"member by id and email", "POST", ten + "/members", `{"user_id":"0190a0a0-0000-7000-8000-000000000000","email":"a@example.com"}`, 422, "invalid_input", "body.user_id"},
		{"unknown owner", "POST", "/api/v1/tenants", `{"slug":"owned","name":"x","owner_user_id":"0190a0a0-0000-7000-8000-000000000000"}`, 422, "invalid_input", "body.owner_user_id"},
		{"change to an unknown plan", "POST", ten + "/change-plan", `{"plan":"platinum"}`, 422, "invalid_input", "body.plan"},
		{"events from after to", "GET", ten + "/usage/events?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "", 422, "invalid_input", "query.from"},
		{"unknown route", "GET", "/api/v1/nothing", "", 404, "not_found", ""},
		{"wrong method", "PUT", "/api/v1/tenants", `{}`, 405, "method_not_allowed", ""},
		{"unknown user", "POST", ten + "/members", `{"email":"nobody@example.com"}`, 404, "not_found", ""},
		{"bad bearer", "GET", "/api/v1/tenants", "", 401, "invalid_token", ""},
		{"webhook without signature", "POST", "/api/v1/webhooks/lago", `{"webhook_type":"invoice.created"}`, 401, "missing_signature", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tok
			if tt.name == "bad bearer" {
				token = "fsp_notavalidkey"
			}
			code, body := do(t, w.h, tt.method, tt.path, token, tt.body)
			if code != tt.want || body["code"] != tt.wantCode {
				t.Errorf("%s %s: got %d %v, want %d %s; body %v", tt.method, tt.path, code, body["code"], tt.want, tt.wantCode, body)
			}
			if field, _ := body["field"].(string); field != tt.wantField {
				t.Errorf("%s %s: field %q, want %q", tt.method, tt.path, field, tt.wantField)
			}
			if body["type"] != "https://fast-saas.dev/problems/"+tt.wantCode {
				t.Errorf("type = %v, want the code's problem type", body["type"])
			}
		})
	}
}

// TestIngestProblemNamesField: the ingest body checks itself
// (core.IngestBatch), and its answer names the event and field at fault
// as huma's validation does for every other body.
func TestIngestProblemNamesField(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	path := "/api/v1/tenants/" + w.tenantA + "/usage/events"
	for body, field := range map[string]string{
		`{"events":[{"transaction_id":"t","metric":"m"},{"transaction_id":"t","metric":5}]}`:                                      "body.events[1].metric",
		`{"events":[{"transaction_id":"t","metric":"m","quantity":1},{"transaction_id":"","metric":"m"}]}`:                        "body.events[1].transaction_id",
		`{"events":[{"transaction_id":"t","metric":"m","timestamp":"soon"}]}`:                                                     "body.events[0].timestamp",
		`{"events":[{"transaction_id":"t","metric":"m"},{"transaction_id":"u","metric":"m","timestamp":"0001-01-01T00:00:00Z"}]}`: "body.events[1].timestamp",
		`{"events":[{"transaction_id":"t","metric":"m","timestamp":"1969-12-31T23:59:59Z"}]}`:                                     "body.events[0].timestamp",
		`{"events":[{"transaction_id":"t","metric":"m","timestamp":"2999-01-01T00:00:00Z"}]}`:                                     "body.events[0].timestamp",
		`{"events":[{"transaction_id":"t","metric":"m"}],"extra":1}`:                                                              "body.extra",
	} {
		code, got := do(t, w.h, "POST", path, w.tokens["platform"], body)
		if code != http.StatusUnprocessableEntity || got["field"] != field || got["detail"] == "" {
			t.Errorf("%s: got %d field %v detail %v, want 422 naming %s", body, code, got["field"], got["detail"], field)
		}
	}
	// A good batch still goes through, and the same transaction id again is a duplicate.
	good := `{"events":[{"transaction_id":"names-field-1","metric":"api_calls","properties":{"route":"/x"}}]}`
	for i, want := range []float64{1, 0} {
		code, got := do(t, w.h, "POST", path, w.tokens["platform"], good)
		if code != http.StatusAccepted || got["accepted"] != want {
			t.Errorf("ingest #%d: got %d %v, want 202 accepted %v", i+1, code, got, want)
		}
	}
}
