package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	tests := []struct {
		url      string
		wantCode int
		wantErr  string
	}{
		{srv.URL + "/health", 0, ""},
		{srv.URL + "/other", 1, "503 Service Unavailable"},
		{"http://127.0.0.1:1/health", 1, "probe:"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := Main([]string{"probe", tt.url}, strings.NewReader(""), &out, &errOut)
		if code != tt.wantCode {
			t.Errorf("probe %s: exit %d, want %d (stderr %q)", tt.url, code, tt.wantCode, errOut.String())
		}
		if !strings.Contains(errOut.String(), tt.wantErr) || (tt.wantErr == "") != (errOut.Len() == 0) {
			t.Errorf("probe %s: stderr %q, want it to contain %q", tt.url, errOut.String(), tt.wantErr)
		}
		if n := strings.Count(errOut.String(), "\n"); n > 1 {
			t.Errorf("probe %s: %d lines on stderr, want one", tt.url, n)
		}
	}
}
