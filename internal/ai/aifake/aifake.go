// Package aifake provides in-process fakes (httptest servers) of the AI
// upstreams that internal/ai talks to: Ollama, Langflow, Langfuse and our
// agent runner. Each fake follows the upstream's published HTTP contract —
// paths, methods, request bodies, status codes, error documents and auth
// headers — closely enough that a client which works against the fake
// works against the real service, and each can be scripted to fail:
// FailNext makes the next call of a route answer a given status or body,
// hang, or send an oversize body. Every request is recorded so tests can
// check what reached the wire (escaping, headers, bodies).
//
// Routes are named by their ServeMux pattern, e.g. "POST /api/pull".
package aifake

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Fault scripts the answer to one call of a route.
type Fault struct {
	// Status, when non-zero, is answered with Body (and ContentType,
	// default application/json) instead of the normal handling.
	Status      int
	Body        string
	ContentType string
	// Delay waits this long (or until the client gives up) before
	// answering; with Status zero the normal handler runs afterwards.
	Delay time.Duration
	// OversizeBytes, when non-zero, answers 200 with a valid JSON document
	// of at least that many bytes.
	OversizeBytes int
	// StallStream makes a streaming handler (Ollama pull) send its first
	// line and then go silent until the client disconnects.
	StallStream bool
}

// Request is a recorded request.
type Request struct {
	Method      string
	EscapedPath string // as sent on the wire, e.g. /api/v1/flows/a%2Fb
	Path        string // unescaped
	Query       url.Values
	Header      http.Header
	Body        []byte
}

// script holds the faults and the request log shared by every fake.
type script struct {
	mu       sync.Mutex
	faults   map[string][]Fault
	requests []Request
}

// FailNext queues a fault for the next call of route ("METHOD /pattern").
// Faults of one route are used in the order queued.
func (s *script) FailNext(route string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		s.faults = map[string][]Fault{}
	}
	s.faults[route] = append(s.faults[route], f)
}

// Requests returns a copy of the requests received so far.
func (s *script) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// LastRequest returns the most recent request (zero Request if none).
func (s *script) LastRequest() Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return Request{}
	}
	return s.requests[len(s.requests)-1]
}

type faultKey struct{}

// faultFrom returns the fault the wrapper passed to the handler, if any.
func faultFrom(ctx context.Context) (Fault, bool) {
	f, ok := ctx.Value(faultKey{}).(Fault)
	return f, ok
}

// handle registers h under pattern, recording each request and applying
// queued faults first.
func (s *script) handle(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.requests = append(s.requests, Request{
			Method:      r.Method,
			EscapedPath: r.URL.EscapedPath(),
			Path:        r.URL.Path,
			Query:       r.URL.Query(),
			Header:      r.Header.Clone(),
			Body:        body,
		})
		var f Fault
		var hasFault bool
		if q := s.faults[pattern]; len(q) > 0 {
			f, hasFault = q[0], true
			s.faults[pattern] = q[1:]
		}
		s.mu.Unlock()
		if !hasFault {
			h(w, r)
			return
		}
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case f.Status != 0:
			ct := f.ContentType
			if ct == "" {
				ct = "application/json"
			}
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(f.Status)
			_, _ = io.WriteString(w, f.Body)
		case f.OversizeBytes > 0:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"pad":"`+strings.Repeat("x", f.OversizeBytes)+`"}`)
		default:
			h(w, r.WithContext(context.WithValue(r.Context(), faultKey{}, f)))
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON decodes a request body; Ollama and Langflow ignore unknown
// fields, so the fakes do too (the agent is stricter, see agent.go).
func decodeJSON(r *http.Request, v any) error {
	return json.NewDecoder(r.Body).Decode(v)
}
