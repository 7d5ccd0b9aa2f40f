package aifake

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Langfuse fakes GET /api/public/health of Langfuse: no authentication,
// 200 {"status": "OK", "version": "..."} while its database answers, 503
// when it does not (SetDatabaseDown).
type Langfuse struct {
	script
	Server  *httptest.Server
	URL     string
	Version string
	dbDown  atomic.Bool
}

// NewLangfuse starts a fake Langfuse, closed when the test ends.
func NewLangfuse(t testing.TB) *Langfuse {
	l := &Langfuse{Version: "3.112.0"}
	mux := http.NewServeMux()
	l.handle(mux, "GET /api/public/health", func(w http.ResponseWriter, _ *http.Request) {
		if l.dbDown.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "Database not available", "version": l.Version})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "OK", "version": l.Version})
	})
	l.Server = httptest.NewServer(mux)
	l.URL = l.Server.URL
	t.Cleanup(l.Server.Close)
	return l
}

// SetDatabaseDown makes the health check answer 503 (true) or 200 (false).
func (l *Langfuse) SetDatabaseDown(down bool) { l.dbDown.Store(down) }
