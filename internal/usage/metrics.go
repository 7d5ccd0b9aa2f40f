package usage

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of saas_usage_events_total.
const (
	OutcomeAccepted  = "accepted"  // stored for the first time
	OutcomeDuplicate = "duplicate" // its transaction id was already stored
	OutcomeRejected  = "rejected"  // invalid, or refused by the store (unknown tenant)
)

// Stages of saas_usage_pipeline_lag_seconds.
const (
	StageBuffer = "buffer" // age of the oldest event waiting in the buffer
	StageStore  = "store"  // age of the oldest event of the last batch written to the store
	StageLago   = "lago"   // age of the oldest outbox row not yet sent to Lago
)

// Metrics are the pipeline's Prometheus collectors. One Metrics may be shared
// by recorders, consumers and the forwarder of a process.
type Metrics struct {
	Events       *prometheus.CounterVec // saas_usage_events_total{outcome}
	Lag          *prometheus.GaugeVec   // saas_usage_pipeline_lag_seconds{stage}
	LagoFailures *prometheus.CounterVec // lago_forward_failures_total{reason}
}

// NewMetrics creates the collectors and registers them on reg (nil: not
// registered, still usable). Collectors already registered on reg by another
// NewMetrics call are reused, so a process may call it more than once.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saas_usage_events_total",
			Help: "Usage events by outcome when written to the store: accepted, duplicate (same transaction id) or rejected.",
		}, []string{"outcome"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "saas_usage_pipeline_lag_seconds",
			Help: "Age in seconds of the oldest usage event not yet through a stage (buffer, store, lago).",
		}, []string{"stage"}),
		LagoFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lago_forward_failures_total",
			Help: "Failed attempts to forward outbox rows to Lago, by reason.",
		}, []string{"reason"}),
	}
	for _, o := range []string{OutcomeAccepted, OutcomeDuplicate, OutcomeRejected} {
		m.Events.WithLabelValues(o)
	}
	for _, s := range []string{StageBuffer, StageStore, StageLago} {
		m.Lag.WithLabelValues(s)
	}
	// Zero series exist from the start, so rate() and alerts see them.
	for _, r := range []string{ReasonUnavailable, ReasonServerError, ReasonRateLimited, ReasonUnauthorized,
		ReasonNotFound, ReasonRejected, ReasonBadRequest, ReasonInvalidRow, ReasonStore} {
		m.LagoFailures.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.Events, err = register(reg, m.Events); err != nil {
		return nil, err
	}
	if m.Lag, err = register(reg, m.Lag); err != nil {
		return nil, err
	}
	if m.LagoFailures, err = register(reg, m.LagoFailures); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// orNop returns m, or unregistered metrics when m is nil, so callers never
// check for nil.
func orNop(m *Metrics) *Metrics {
	if m != nil {
		return m
	}
	m, _ = NewMetrics(nil)
	return m
}
