package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/core"
)

// InProcess runs operations directly through core, as the caller in the
// context (core.WithCaller; NewHandler puts the HTTP caller there).
type InProcess struct{}

// Call implements Backend.
func (InProcess) Call(ctx context.Context, c Call) (json.RawMessage, error) {
	raw, err := c.shape.coreInput(c.Args)
	if err != nil {
		return nil, fmt.Errorf("encode input of %s: %w", c.Op.ID, err)
	}
	out, err := c.Op.CallJSON(ctx, raw)
	if err != nil {
		if ce, ok := core.AsError(err); ok {
			// Its detail is public by contract; the cause is only logged.
			return nil, &Problem{Status: ce.Status, Code: ce.Code, Detail: ce.Detail, Field: c.shape.argField(ce.Field), cause: ce.Unwrap()}
		}
		return nil, fmt.Errorf("%s: %w", c.Op.ID, err)
	}
	body, ok := bodyOf(out)
	if !ok {
		return nil, nil
	}
	b, ok := body.(json.RawMessage)
	if !ok {
		if b, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encode answer of %s: %w", c.Op.ID, err)
		}
	}
	if st := c.Op.AnswerStatus(out); st >= 400 {
		return nil, &failedAnswer{status: st, body: b}
	}
	return b, nil
}

// failedAnswer is a failure that an operation answers with its usual
// document rather than a problem (readiness: 503 with the check list).
// The tool result is that document, with isError set.
type failedAnswer struct {
	status int
	body   json.RawMessage
}

func (f *failedAnswer) Error() string { return fmt.Sprintf("answered %d", f.status) }

// Remote runs operations by calling the REST API, so the server does the
// authentication, rate limiting and usage metering of every call.
type Remote struct {
	Client *client.Client
}

// Call implements Backend: path arguments fill the path (escaped), query
// arguments the query string, body arguments the JSON body.
func (r Remote) Call(ctx context.Context, c Call) (json.RawMessage, error) {
	pathParams := map[string]string{}
	query := url.Values{}
	var reqBody any
	var body map[string]any
	for _, p := range c.shape.Params {
		v, ok := c.Args[p.Name]
		if !ok || v == nil {
			continue
		}
		switch p.In {
		case inPath:
			pathParams[p.Name] = scalarString(v)
		case inQuery:
			if list, ok := v.([]any); ok {
				vals := make([]string, len(list))
				for i, e := range list {
					vals[i] = scalarString(e)
				}
				if p.Explode {
					query[p.Name] = vals
				} else {
					query.Set(p.Name, strings.Join(vals, ","))
				}
				continue
			}
			query.Set(p.Name, scalarString(v))
		case inBody:
			if c.shape.BodyArg {
				b, err := json.Marshal(v)
				if err != nil {
					return nil, fmt.Errorf("encode body of %s: %w", c.Op.ID, err)
				}
				reqBody = json.RawMessage(b)
				continue
			}
			if body == nil {
				body = map[string]any{}
			}
			body[p.Name] = v
		}
	}
	if c.shape.Body && !c.shape.BodyArg && (body != nil || !c.shape.bodyOptional) {
		if body == nil {
			body = map[string]any{}
		}
		reqBody = body
	}
	path, err := expandPath(c.Op.Path, pathParams)
	if err != nil {
		return nil, &Problem{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Detail: err.Error()}
	}
	var out json.RawMessage
	if err := r.Client.Do(ctx, c.Op.Method, path, query, reqBody, &out); err != nil {
		var p *client.Error
		if errors.As(err, &p) {
			if p.Status == c.Op.FailStatus && isObject(p.Body) {
				return nil, &failedAnswer{status: p.Status, body: p.Body}
			}
			return nil, problemFromClient(p, c.shape)
		}
		// The API is unreachable or answered nonsense: the agent should
		// know it was not its input.
		return nil, &Problem{Status: http.StatusBadGateway, Code: "api_unreachable", Detail: err.Error()}
	}
	return out, nil
}

// isObject reports whether b is one JSON object.
func isObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}

func problemFromClient(p *client.Error, sh *shape) *Problem {
	return &Problem{Status: p.Status, Code: p.Code, Detail: p.Detail, Field: sh.argField(p.Field)}
}

// expandPath fills every {name} of a route pattern with its argument,
// escaped as one path segment, so "a/b" or ".." cannot reach another route.
func expandPath(pattern string, params map[string]string) (string, error) {
	var b strings.Builder
	rest := pattern
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("path %q: unclosed {", pattern)
		}
		name := rest[i+1 : i+j]
		v := params[name]
		if v == "" {
			return "", fmt.Errorf("argument %s is required", name)
		}
		b.WriteString(rest[:i])
		b.WriteString(url.PathEscape(v))
		rest = rest[i+j+1:]
	}
}

// scalarString renders a JSON scalar argument for a path or query string.
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}
