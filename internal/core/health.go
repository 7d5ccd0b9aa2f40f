package core

import (
	"context"
	"net/http"
	"reflect"
	"time"
)

// Check is one readiness check (store, Redis, usage pipeline lag…). Fn
// should honour ctx; a check that does not is still reported down when
// its timeout passes.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Health is the liveness answer: the process is up and serving.
type Health struct {
	Status string `json:"status" enum:"ok" doc:"Always ok: an answer at all means the process is alive"`
}

// HealthOutput is GET /health's output.
type HealthOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         Health
}

// HealthBody is the exact body GET /health answers with (what huma writes
// for HealthOutput); a fast REST path may write it directly.
const HealthBody = `{"status":"ok"}` + "\n"

// CheckResult is one readiness check's outcome.
type CheckResult struct {
	Status    string `json:"status" enum:"ok,down"`
	Error     string `json:"error,omitempty" doc:"Why the check is down"`
	LatencyMS int64  `json:"latency_ms" doc:"How long the check took, in milliseconds"`
}

// Readiness is the readiness answer: every check with its outcome.
type Readiness struct {
	Status string                 `json:"status" enum:"ok,down" doc:"ok when every check is ok"`
	Checks map[string]CheckResult `json:"checks" doc:"Each dependency by name: store, redis (when configured), usage_pipeline"`
}

// ReadinessOutput is GET /health/ready's output. Status is 200 when
// ready, 503 when a check is down; the body is the check list either way.
type ReadinessOutput struct {
	Status       int
	CacheControl string `header:"Cache-Control"`
	Body         Readiness
}

// defaultCheckTimeout bounds one readiness check: a dead dependency is
// reported within about a second instead of hanging the probe.
const defaultCheckTimeout = time.Second

func (s *Service) healthOps() []Operation {
	const g = "health"
	return []Operation{
		newOp(s, Operation{ID: "getHealth", Method: http.MethodGet, Path: "/health", Summary: "Liveness: the process is up", Group: g, Access: public},
			func(ctx context.Context, c *Call, in *struct{}) (*HealthOutput, error) {
				return &HealthOutput{CacheControl: "no-store", Body: Health{Status: "ok"}}, nil
			}),
		newOp(s, Operation{ID: "getReadiness", Method: http.MethodGet, Path: "/health/ready",
			Summary: "Readiness: store, Redis and usage pipeline lag, each check bounded by a timeout (503 when one is down)",
			Group:   g, Access: public, FailStatus: http.StatusServiceUnavailable},
			func(ctx context.Context, c *Call, in *struct{}) (*ReadinessOutput, error) {
				r := s.Readiness(ctx)
				out := &ReadinessOutput{Status: http.StatusOK, CacheControl: "no-store", Body: r}
				if r.Status != "ok" {
					out.Status = http.StatusServiceUnavailable
				}
				return out, nil
			}),
	}
}

// Readiness runs every check of s.Ready concurrently, each bounded by
// s.CheckTimeout, and reports them all.
func (s *Service) Readiness(ctx context.Context) Readiness {
	timeout := s.CheckTimeout
	if timeout <= 0 {
		timeout = defaultCheckTimeout
	}
	type res struct {
		name string
		CheckResult
	}
	out := make(chan res, len(s.Ready))
	for _, c := range s.Ready {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			errc := make(chan error, 1) // buffered: a stuck check's goroutine can still finish
			go func() { errc <- c.Fn(cctx) }()
			var err error
			select {
			case err = <-errc:
			case <-cctx.Done():
				err = cctx.Err()
			}
			cr := CheckResult{Status: "ok", LatencyMS: time.Since(start).Milliseconds()}
			if err != nil {
				cr.Status, cr.Error = "down", err.Error()
			}
			out <- res{c.Name, cr}
		}()
	}
	r := Readiness{Status: "ok", Checks: make(map[string]CheckResult, len(s.Ready))}
	for range s.Ready {
		x := <-out
		r.Checks[x.name] = x.CheckResult
		if x.Status != "ok" {
			r.Status = "down"
		}
	}
	return r
}

// AnswerStatus is the HTTP status of an operation's output: its Status
// field when it has one that is set (readiness), else the operation's
// success status.
func (o Operation) AnswerStatus(out any) int {
	v := reflect.ValueOf(out)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return o.Status
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName("Status"); f.IsValid() && f.Kind() == reflect.Int && f.Int() != 0 {
			return int(f.Int())
		}
	}
	return o.Status
}
