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
	"encoding/binary"
	"math/rand/v2"
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
	// Mergeable says that ID is not an idempotency key anyone will send
	// again, so a Recorder may store this event added into another
	// mergeable one of the same tenant, metric, properties and second: one
	// event whose Quantity is their sum and whose ID is that of the first.
	// Billing sums quantities, so it is unchanged; storage and forwarding
	// shrink from one event per call to one per second of busy traffic.
	// Middleware sets it (one event per API call, made up here); leave it
	// false for events whose ID a client may send again.
	Mergeable bool
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

// NewEventID returns a new UUIDv7 string (RFC 9562) for Event.ID. UUIDv7
// sorts by creation time, which keeps database indexes on the id
// append-mostly. The error is always nil; it is kept so that a future
// source of randomness may fail without an API change.
func NewEventID() (string, error) {
	return newEventID(time.Now()), nil
}

// newEventID builds a UUIDv7 from t and 74 random bits of math/rand/v2,
// whose generator is seeded from the OS and is per-thread, so this takes no
// system call and no lock on the request path (uuid.NewV7 does both). The
// id is an idempotency key, not a secret: it must be unique, not
// unguessable, and 74 random bits per millisecond make a collision
// vanishingly unlikely.
func newEventID(t time.Time) string {
	var id uuid.UUID
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	r := rand.Uint64()
	id[0], id[1], id[2], id[3], id[4], id[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	id[6] = 0x70 | byte(r>>8)&0x0f // version 7 + 4 random bits
	id[7] = byte(r)                // 8 random bits
	id[8] = 0x80 | id[8]&0x3f      // RFC 9562 variant
	return id.String()
}
