package ai

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Langfuse is a client for the one Langfuse endpoint the API uses:
// GET /api/public/health (no authentication), which checks Langfuse's API
// and database and answers {"status": "OK", "version": "..."} or 503.
type Langfuse struct {
	b *base
}

// NewLangfuse returns a client for the Langfuse server at baseURL
// (e.g. http://langfuse:3000), which must come from configuration.
func NewLangfuse(baseURL string, opts Options) (*Langfuse, error) {
	b, err := newBase("langfuse", baseURL, opts)
	if err != nil {
		return nil, err
	}
	return &Langfuse{b: b}, nil
}

func (l *Langfuse) base() *base {
	if l == nil {
		return unconfigured("langfuse")
	}
	return l.b
}

// Service names the upstream in health reports and errors.
func (l *Langfuse) Service() string { return "langfuse" }

// Configured reports whether the client exists (nil means not configured).
func (l *Langfuse) Configured() bool { return l != nil }

// LangfuseHealth is the body of GET /api/public/health.
type LangfuseHealth struct {
	Status  string `json:"status"`
	Version string `json:"version"`
}

// Health calls GET /api/public/health. A 503 (database down) is an
// *UpstreamError with Status 503.
func (l *Langfuse) Health(ctx context.Context) (LangfuseHealth, error) {
	var out LangfuseHealth
	if err := l.base().callJSON(ctx, "health", http.MethodGet, "/api/public/health", nil, nil, &out); err != nil {
		return LangfuseHealth{}, err
	}
	return out, nil
}

// Ping checks Langfuse's health; the detail is its version.
func (l *Langfuse) Ping(ctx context.Context) (string, error) {
	h, err := l.Health(ctx)
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(h.Status, "ok") {
		return "", fmt.Errorf("langfuse: health: %w: status %q", ErrInvalidResponse, safeSnippet([]byte(h.Status), 64))
	}
	return "version " + safeSnippet([]byte(h.Version), 64), nil
}
