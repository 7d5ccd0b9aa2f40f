// Package metering records one usage event per successful tenant request and
// enforces the monthly quota of a plan.
//
// The package defines the contract between the HTTP layer and a usage
// pipeline: the middleware builds an Event and hands it to a Recorder. How
// the event becomes durable (a Redis Stream, an in-process buffer, a direct
// database write) is the Recorder's business; a Recorder that wants to stay
// off the hot path enqueues and returns. The fast-saas server plugs in the
// pipeline from its usage package; users of this library plug in their own.
package metering

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// DefaultMetric is the metric code of one API call. It equals the Lago
// billable metric code for API calls.
const DefaultMetric = "api_calls"

// Event is one usage record: "tenant TenantID used Quantity of Metric at
// OccurredAt".
type Event struct {
	// ID is a UUIDv7 string. It is the idempotency key of the event all the
	// way to the billing system (Lago's transaction_id): recording the same
	// ID twice must count once.
	ID string
	// TenantID identifies the tenant that is billed.
	TenantID string
	// Metric is the billable metric code, e.g. "api_calls".
	Metric string
	// Quantity is how much of Metric was used; 1 for one API call.
	Quantity int64
	// Properties are free-form attributes forwarded to the billing system
	// (route, method, status…). They must be JSON-marshalable.
	Properties map[string]any
	// OccurredAt is when the usage happened (UTC).
	OccurredAt time.Time
}

// Recorder accepts usage events. Implementations must be safe for
// concurrent use. Record should return quickly: an implementation backed by
// a network store is expected to buffer, or to make exactly one bounded
// write; it must honour ctx cancellation.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// RecorderFunc adapts a function to the Recorder interface.
type RecorderFunc func(ctx context.Context, e Event) error

// Record calls f(ctx, e).
func (f RecorderFunc) Record(ctx context.Context, e Event) error { return f(ctx, e) }

// NewEventID returns a new UUIDv7 string for Event.ID. UUIDv7 sorts by
// creation time, which keeps database indexes on the id append-mostly.
func NewEventID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new event id: %w", err)
	}
	return id.String(), nil
}
