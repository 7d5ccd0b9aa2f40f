package core

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/validation"

	"github.com/fast-saas/fast-saas/internal/store"
)

// Error is a failure with a public meaning: an HTTP status, a stable code
// (the last segment of the problem type URI), a safe detail and, for
// input mistakes, the offending field. Anything that is not an *Error is
// an internal fault: adapters report it as 500 and log the cause.
type Error struct {
	Status int
	Code   string
	Detail string
	Field  string
	cause  error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s", e.Status, e.Code)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.cause }

// Stable error codes (problem type = https://fast-saas.dev/problems/<code>).
const (
	CodeNotFound          = "not_found"
	CodeConflict          = "conflict"
	CodeInvalid           = "invalid_input"
	CodeValidation        = "validation_failed" // the input breaks the operation's schema
	CodeMalformed         = "malformed_request" // the body cannot be decoded
	CodeUnauthorized      = "unauthorized"
	CodeForbidden         = "forbidden"
	CodeInsufficientScope = "insufficient_scope"
	CodeLastOwner         = "last_owner"
	CodeTenantSuspended   = "tenant_suspended"
	CodeUnavailable       = "unavailable"
	CodeUpstream          = "upstream_error"
	CodeInternal          = "internal"
)

// NotFound is what a caller gets for anything absent or not visible to it;
// the same answer for both keeps tenant existence from leaking.
func NotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Detail: what + " not found"}
}

// Invalid reports a client mistake in one input field.
func Invalid(field, detail string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: field, Detail: detail}
}

// Conflict reports a uniqueness or state conflict.
func Conflict(detail string) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeConflict, Detail: detail}
}

// Forbidden reports a principal that may see the resource but not do this.
func Forbidden(detail string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Detail: detail}
}

// Unauthenticated reports a missing or unusable credential.
func Unauthenticated() *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Detail: "a valid bearer token is required"}
}

// Unavailable reports a dependency that is not configured or not reachable.
func Unavailable(detail string, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Detail: detail, cause: cause}
}

// AsError returns err as *Error when it is one (or wraps one).
//
// An unreachable database is an *Error too (503), wherever it surfaced —
// a handler, authorization or a cache — so no outage is reported as 500.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	if errors.Is(err, store.ErrUnavailable) {
		return unavailable(err), true
	}
	return nil, false
}

func unavailable(cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Detail: "the database is unavailable; try again shortly", cause: cause}
}

// DetailField names the input a schema validation error is about. huma
// reports a missing required property at the object that lacks it
// ("body"); the field at fault is the property itself ("body.name").
func DetailField(d *huma.ErrorDetail) string {
	before, after, _ := strings.Cut(validation.MsgExpectedRequiredProperty, "%s")
	name, ok := strings.CutPrefix(d.Message, before)
	if name, ok2 := strings.CutSuffix(name, after); ok && ok2 && name != "" {
		if d.Location == "" {
			return name
		}
		return d.Location + "." + name
	}
	return d.Location
}
