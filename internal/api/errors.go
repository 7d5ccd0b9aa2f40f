package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/middleware/problem"
)

// Problem is every error body of the API: RFC 9457 problem+json with a
// stable code (the last segment of type) and, for input mistakes, the
// offending field.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Code      string              `json:"code"`
	Field     string              `json:"field,omitempty" doc:"The input field at fault, e.g. body.slug or query.limit"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []*huma.ErrorDetail `json:"errors,omitempty"`
}

func (p *Problem) Error() string  { return p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma send application/problem+json.
func (p *Problem) ContentType(string) string { return problem.ContentType }

// codeForStatus names the errors huma itself raises (decoding, validation,
// routing) so every client mistake has a stable code too.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return core.CodeMalformed
	case http.StatusUnauthorized:
		return core.CodeUnauthorized
	case http.StatusForbidden:
		return core.CodeForbidden
	case http.StatusNotFound:
		return core.CodeNotFound
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusNotAcceptable:
		return "not_acceptable"
	case http.StatusConflict:
		return core.CodeConflict
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusUnprocessableEntity:
		return core.CodeValidation
	case http.StatusTooManyRequests:
		return problem.CodeRateLimited
	case http.StatusServiceUnavailable:
		return core.CodeUnavailable
	}
	if status >= 500 {
		return core.CodeInternal
	}
	return "error"
}

// newProblem builds the body for any error huma or a handler produced.
// Internal causes are logged with the request id and never shown.
func newProblem(ctx context.Context, status int, msg string, errs ...error) *Problem {
	p := &Problem{Status: status, Detail: msg}
	var details []*huma.ErrorDetail
	for _, err := range errs {
		if err == nil {
			continue
		}
		if ce, ok := core.AsError(err); ok {
			p.Status, p.Code, p.Detail, p.Field = ce.Status, ce.Code, ce.Detail, ce.Field
			if ce.Status >= 500 && ce.Unwrap() != nil {
				logFault(ctx, ce.Status, err)
			}
			details = nil
			break
		}
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			details = append(details, d.ErrorDetail())
			continue
		}
		if p.Status >= 500 {
			logFault(ctx, p.Status, err)
			continue
		}
		details = append(details, &huma.ErrorDetail{Message: err.Error()})
	}
	if p.Code == "" {
		p.Code = codeForStatus(p.Status)
		p.Errors = details
		if len(details) > 0 {
			p.Field = core.DetailField(details[0])
		}
		// Decoding errors of huma (malformed JSON) arrive as 400 with detail
		// text only; keep their message, it names no secret.
		if p.Status == http.StatusInternalServerError {
			p.Detail = "internal error; quote the request id when reporting it"
		}
	}
	// A body that does not parse as JSON is 400; huma reports some as 422.
	if p.Status == http.StatusUnprocessableEntity && len(details) > 0 && strings.Contains(details[0].Message, "unmarshal") {
		p.Status, p.Code = http.StatusBadRequest, core.CodeMalformed
	}
	p.Type = problem.TypeFor(p.Code)
	p.Title = http.StatusText(p.Status)
	p.RequestID = RequestIDFrom(ctx)
	return p
}

func logFault(ctx context.Context, status int, err error) {
	l := loggerFrom(ctx)
	l.LogAttrs(ctx, slog.LevelError, "request failed", slog.Int("status", status), slog.String("error", err.Error()))
	if r := reporterFrom(ctx); r != nil {
		r(ctx, err)
	}
}

var installOnce sync.Once

// installErrorModel points huma's (package-level) error constructors at
// our Problem. It is idempotent; every API in the process shares it.
func installErrorModel() {
	installOnce.Do(func() {
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			return newProblem(context.Background(), status, msg, errs...)
		}
		huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			ctx := context.Background()
			if hctx != nil {
				ctx = hctx.Context()
			}
			return newProblem(ctx, status, msg, errs...)
		}
	})
}

// writeProblem answers a request outside huma (middleware, 404s of the
// mux) with the same problem shape.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, code, detail string) {
	problem.Write(w, status, problem.Problem{Code: code, Detail: detail, Extensions: map[string]any{"request_id": RequestIDFrom(r.Context())}})
}
