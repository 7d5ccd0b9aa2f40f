package problem

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		p      Problem
		want   map[string]any
	}{
		{
			name:   "derived type and title",
			status: http.StatusForbidden,
			p:      Problem{Code: CodeTenantSuspended, Detail: "tenant is suspended"},
			want: map[string]any{
				"type": "https://fast-saas.dev/problems/tenant_suspended", "title": "Forbidden",
				"status": float64(403), "detail": "tenant is suspended", "code": "tenant_suspended",
			},
		},
		{
			name:   "status argument wins",
			status: http.StatusUnauthorized,
			p:      Problem{Status: 500, Type: "https://example.com/x", Title: "Custom"},
			want:   map[string]any{"type": "https://example.com/x", "title": "Custom", "status": float64(401)},
		},
		{
			name:   "no code is about:blank",
			status: http.StatusNotFound,
			p:      Problem{},
			want:   map[string]any{"type": "about:blank", "title": "Not Found", "status": float64(404)},
		},
		{
			name:   "extensions cannot override standard members",
			status: http.StatusTooManyRequests,
			p:      Problem{Code: CodeRateLimited, Extensions: map[string]any{"status": 200, "retry_after": 3}},
			want: map[string]any{
				"type": TypeBase + "rate_limited", "title": "Too Many Requests", "status": float64(429),
				"code": "rate_limited", "retry_after": float64(3),
			},
		},
		{
			name:   "unmarshalable extension is dropped",
			status: http.StatusBadRequest,
			p:      Problem{Code: "bad", Extensions: map[string]any{"f": func() {}}},
			want:   map[string]any{"type": TypeBase + "bad", "title": "Bad Request", "status": float64(400), "code": "bad"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			rec.Header().Set("WWW-Authenticate", "Bearer")
			Write(rec, tt.status, tt.p)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("Content-Type"); got != ContentType {
				t.Errorf("Content-Type = %q, want %q", got, ContentType)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
				t.Errorf("pre-set header lost: WWW-Authenticate = %q", got)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, rec.Body)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProblemError(t *testing.T) {
	t.Parallel()
	got := New(403, CodeForbidden, "no").Error()
	if want := "403 forbidden: no"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func ExampleWrite() {
	rec := httptest.NewRecorder()
	Write(rec, http.StatusForbidden, Problem{Code: "feature_not_in_plan", Detail: `plan "free" does not include "sso"`})
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Print(rec.Body.String())
	// Output:
	// 403 application/problem+json
	// {"code":"feature_not_in_plan","detail":"plan \"free\" does not include \"sso\"","status":403,"title":"Forbidden","type":"https://fast-saas.dev/problems/feature_not_in_plan"}
}
