package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzOperationInput sends arbitrary bodies and path values to every
// operation as the platform admin (who passes authorization everywhere,
// so decoding and validation are what is exercised): no input may cause
// a 5xx, and every error must be problem+json.
func FuzzOperationInput(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"slug":"a","name":"b"}`, `{"events":[{"transaction_id":"t","metric":"m","quantity":1e308}]}`,
		`{"scopes":["read"],"name":"k","expires_at":"2000-01-01T00:00:00Z"}`, `{"role":"owner","user_id":"x"}`,
		`{"settings":{"a":[1,{"b":null}]}}`, `[`, `null`, `"\u0000"`, `{"plan":"free"}`, `{"grace_seconds":1e9}`,
	} {
		f.Add(uint8(0), seed, "x")
	}
	w := newWorld(f, "")
	ops := w.h.(*Handler).Ops
	f.Fuzz(func(t *testing.T, which uint8, body, pathValue string) {
		op := ops[int(which)%len(ops)]
		r := w.request(op)
		if strings.ContainsAny(pathValue, "/?#%") || pathValue == "" {
			pathValue = "x"
		}
		// Replace the operation's first path value with the fuzzed one half
		// of the time; keep the valid ids otherwise so bodies get decoded.
		if which&0x80 != 0 {
			r.URL.Path = strings.Replace(r.URL.Path, w.tenantA, pathValue, 1)
		}
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			r = httptest.NewRequest(r.Method, r.URL.String(), bytes.NewBufferString(body))
			r.Header.Set("Content-Type", "application/json")
		}
		r.Header.Set("Authorization", "Bearer "+w.tokens["platform"])
		rec := httptest.NewRecorder()
		w.h.ServeHTTP(rec, r)
		aiUnconfigured := strings.HasPrefix(op.Path, "/api/v1/ai/") && rec.Code == http.StatusServiceUnavailable
		if rec.Code >= 500 && !aiUnconfigured {
			t.Fatalf("%s %s with body %q: %d %s", r.Method, r.URL.Path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s: error %d with content type %q", r.Method, r.URL.Path, rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}
