// Package problem writes RFC 9457 "problem details" responses
// (application/problem+json) for the fast-saas middleware packages.
//
// Every problem carries a stable machine-readable Code; its Type URI is
// derived from the code (https://fast-saas.dev/problems/<code>) so clients
// can switch on either without parsing human text.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ContentType is the media type of RFC 9457 problem documents.
const ContentType = "application/problem+json"

// TypeBase prefixes every problem code to form its type URI.
const TypeBase = "https://fast-saas.dev/problems/"

// Stable problem codes used by the middleware. Other packages may define
// their own codes; these are listed so callers can match on them.
const (
	CodeUnauthorized      = "unauthorized"        // missing or invalid credentials
	CodeInvalidToken      = "invalid_token"       // a bearer token that failed verification
	CodeAuthUnavailable   = "auth_unavailable"    // the identity provider (JWKS) cannot be reached
	CodeForbidden         = "forbidden"           // authenticated but not allowed
	CodeNotFound          = "not_found"           // absent, or not visible to this principal
	CodeTenantSuspended   = "tenant_suspended"    // tenant is suspended or cancelled
	CodeFeatureNotInPlan  = "feature_not_in_plan" // plan does not include the feature
	CodeRateLimited       = "rate_limited"        // too many requests
	CodeQuotaExceeded     = "quota_exceeded"      // monthly quota used up
	CodeInsufficientScope = "insufficient_scope"  // key/token lacks a scope
	CodeInternal          = "internal"            // our fault
	CodeUnavailable       = "unavailable"         // a dependency is down
)

// Problem is an RFC 9457 problem details object with the fast-saas
// extension member "code".
type Problem struct {
	// Type is a URI identifying the problem type. Empty means TypeFor(Code),
	// or "about:blank" when Code is empty too.
	Type string `json:"type"`
	// Title is a short, human-readable summary of the problem type.
	// Empty means http.StatusText(Status).
	Title string `json:"title"`
	// Status is the HTTP status code; Write fills it from its argument.
	Status int `json:"status"`
	// Detail explains this occurrence. It must never contain secrets.
	Detail string `json:"detail,omitempty"`
	// Instance is an optional URI reference identifying this occurrence.
	Instance string `json:"instance,omitempty"`
	// Code is the stable machine-readable problem code.
	Code string `json:"code,omitempty"`
	// Extensions are extra members merged into the top-level object. They
	// cannot override the standard members above.
	Extensions map[string]any `json:"-"`
}

// TypeFor returns the type URI of a problem code.
func TypeFor(code string) string {
	if code == "" {
		return "about:blank"
	}
	return TypeBase + code
}

// New returns a Problem with the given status, code and detail; Type and
// Title are derived.
func New(status int, code, detail string) Problem {
	return Problem{Status: status, Code: code, Detail: detail, Type: TypeFor(code), Title: http.StatusText(status)}
}

// Error lets a Problem travel as an error value.
func (p Problem) Error() string {
	s := strconv.Itoa(p.Status) + " " + p.Code
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// MarshalJSON renders the standard members followed by Extensions.
func (p Problem) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, 6+len(p.Extensions))
	for k, v := range p.Extensions {
		m[k] = v
	}
	typ := p.Type
	if typ == "" {
		typ = TypeFor(p.Code)
	}
	title := p.Title
	if title == "" {
		title = http.StatusText(p.Status)
	}
	m["type"] = typ
	m["title"] = title
	m["status"] = p.Status
	if p.Detail != "" {
		m["detail"] = p.Detail
	}
	if p.Instance != "" {
		m["instance"] = p.Instance
	}
	if p.Code != "" {
		m["code"] = p.Code
	}
	return json.Marshal(m)
}

// Write sends p as an application/problem+json response with the given
// HTTP status (which also becomes p.Status). Headers already set on w (for
// example WWW-Authenticate or Retry-After) are kept.
func Write(w http.ResponseWriter, status int, p Problem) {
	p.Status = status
	body, err := json.Marshal(p)
	if err != nil {
		// Only a non-marshalable extension value can get here; drop them
		// rather than fail to answer.
		p.Extensions = nil
		body, _ = json.Marshal(p)
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// Error is a shortcut for Write(w, status, New(status, code, detail)).
func Error(w http.ResponseWriter, status int, code, detail string) {
	Write(w, status, New(status, code, detail))
}
