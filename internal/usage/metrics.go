package usage

import "github.com/fast-saas/fast-saas/internal/metrics"

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

// Metrics are the pipeline's metrics. One Metrics may be shared by
// recorders, consumers and the forwarder of a process.
type Metrics struct {
	Events       *metrics.CounterVec // saas_usage_events_total{outcome}
	Lag          *metrics.GaugeVec   // saas_usage_pipeline_lag_seconds{stage}
	LagoFailures *metrics.CounterVec // lago_forward_failures_total{reason}
}

// NewMetrics creates the metrics on reg (nil: not exported, still usable).
// Metrics already on reg from another NewMetrics call are shared, so a
// process may call it more than once.
func NewMetrics(reg *metrics.Registry) (*Metrics, error) {
	var m Metrics
	var err error
	if m.Events, err = reg.Counter("saas_usage_events_total",
		"Usage events by outcome when written to the store: accepted, duplicate (same transaction id) or rejected.", "outcome"); err != nil {
		return nil, err
	}
	if m.Lag, err = reg.Gauge("saas_usage_pipeline_lag_seconds",
		"Age in seconds of the oldest usage event not yet through a stage (buffer, store, lago).", "stage"); err != nil {
		return nil, err
	}
	if m.LagoFailures, err = reg.Counter("lago_forward_failures_total",
		"Failed attempts to forward outbox rows to Lago, by reason.", "reason"); err != nil {
		return nil, err
	}
	// Zero series exist from the start, so rate() and alerts see them.
	for _, o := range []string{OutcomeAccepted, OutcomeDuplicate, OutcomeRejected} {
		m.Events.WithLabelValues(o)
	}
	for _, s := range []string{StageBuffer, StageStore, StageLago} {
		m.Lag.WithLabelValues(s)
	}
	for _, r := range []string{ReasonUnavailable, ReasonServerError, ReasonRateLimited, ReasonUnauthorized,
		ReasonNotFound, ReasonRejected, ReasonBadRequest, ReasonInvalidRow, ReasonStore} {
		m.LagoFailures.WithLabelValues(r)
	}
	return &m, nil
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
