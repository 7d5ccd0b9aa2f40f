package usage

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/middleware/metering"
)

// Errors returned by the recorders. Match with errors.Is.
var (
	// ErrInvalidEvent: the event lacks an id, tenant or metric, has a negative
	// quantity, or properties that do not marshal to a JSON object.
	ErrInvalidEvent = errors.New("invalid usage event")
	// ErrClosed: the recorder was closed.
	ErrClosed = errors.New("usage recorder closed")
	// ErrBufferFull: the in-process buffer stayed full until ctx ended.
	ErrBufferFull = errors.New("usage buffer full")
	// ErrUnavailable: the durable buffer (Redis) could not be written.
	ErrUnavailable = errors.New("usage buffer unavailable")
)

// validate checks what every hop downstream relies on. now fills a zero
// OccurredAt (the middleware always sets it; other callers may not).
func validate(e *metering.Event, now func() time.Time) error {
	switch {
	case e.ID == "":
		return fmt.Errorf("%w: id is required", ErrInvalidEvent)
	case e.TenantID == "":
		return fmt.Errorf("%w: tenant id is required", ErrInvalidEvent)
	case e.Metric == "":
		return fmt.Errorf("%w: metric is required", ErrInvalidEvent)
	case e.Quantity < 0:
		return fmt.Errorf("%w: quantity %d is negative", ErrInvalidEvent, e.Quantity)
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = now()
	}
	e.OccurredAt = e.OccurredAt.UTC()
	return nil
}

// toStore converts a metering event to the store's row. The event id becomes
// the transaction id, the idempotency key at every hop (store, Lago).
func toStore(e metering.Event) (store.UsageEvent, error) {
	props := json.RawMessage(`{}`)
	if len(e.Properties) > 0 {
		b, err := marshalProperties(e.Properties)
		if err != nil {
			return store.UsageEvent{}, fmt.Errorf("%w: properties: %v", ErrInvalidEvent, err)
		}
		props = b
	}
	return store.UsageEvent{
		TenantID:      e.TenantID,
		Metric:        e.Metric,
		Quantity:      float64(e.Quantity),
		Properties:    props,
		TransactionID: e.ID,
		OccurredAt:    e.OccurredAt.UTC(),
	}, nil
}

// wireEvent is the JSON form of an event inside a Redis Stream entry. Short
// keys: the stream holds every event until it is stored.
type wireEvent struct {
	ID         string          `json:"i"`
	TenantID   string          `json:"t"`
	Metric     string          `json:"m"`
	Quantity   int64           `json:"q"`
	Properties json.RawMessage `json:"p,omitempty"`
	OccurredAt int64           `json:"o"` // Unix microseconds
}

func encodeWire(e metering.Event) ([]byte, error) {
	row, err := toStore(e)
	if err != nil {
		return nil, err
	}
	return appendWire(make([]byte, 0, 160), row), nil
}

// appendWire appends the wire form of a store row made by toStore. It is
// hand-built: this runs once per API request on the hot path, and
// json.Marshal of the struct would scan the properties a second time.
func appendWire(b []byte, r store.UsageEvent) []byte {
	b = append(b, `{"i":`...)
	b = appendJSONString(b, r.TransactionID)
	b = append(b, `,"t":`...)
	b = appendJSONString(b, r.TenantID)
	b = append(b, `,"m":`...)
	b = appendJSONString(b, r.Metric)
	b = append(b, `,"q":`...)
	b = strconv.AppendInt(b, int64(r.Quantity), 10)
	b = append(b, `,"o":`...)
	b = strconv.AppendInt(b, r.OccurredAt.UnixMicro(), 10)
	if len(r.Properties) > 0 && string(r.Properties) != "{}" {
		b = append(b, `,"p":`...)
		b = append(b, r.Properties...)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Ids and metric codes are
// plain ASCII, copied as is; anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	if !plainJSON(s) {
		q, _ := json.Marshal(s)
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// marshalProperties is json.Marshal(p), byte for byte. The properties of
// a metered API call (method, route, status) are encoded on every request:
// small maps of plain strings and integers are written directly, in
// encoding/json's sorted key order, at a third of json.Marshal's cost
// (BenchmarkMarshalProperties); anything else goes through json.Marshal.
func marshalProperties(p map[string]any) ([]byte, error) {
	const fast = 8 // most keys written directly
	type prop struct {
		k string
		v any
	}
	if len(p) > fast {
		return json.Marshal(p)
	}
	var props [fast]prop
	n := 0
	for k, v := range p {
		if !plainJSON(k) {
			return json.Marshal(p)
		}
		switch v := v.(type) {
		case string:
			if !plainJSON(v) {
				return json.Marshal(p)
			}
		case int, int64, bool:
		default:
			return json.Marshal(p)
		}
		// Insertion into the sorted prefix: at most a few keys.
		i := n
		for ; i > 0 && props[i-1].k > k; i-- {
			props[i] = props[i-1]
		}
		props[i] = prop{k, v}
		n++
	}
	b := make([]byte, 0, 64)
	b = append(b, '{')
	for i, pr := range props[:n] {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, pr.k)
		b = append(b, ':')
		switch v := pr.v.(type) {
		case string:
			b = appendJSONString(b, v)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case bool:
			b = strconv.AppendBool(b, v)
		}
	}
	return append(b, '}'), nil
}

// plainJSON reports whether s is printable ASCII that encoding/json writes
// as it is between quotes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// decodeWire turns a stream entry back into a store row.
func decodeWire(b []byte) (store.UsageEvent, error) {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return store.UsageEvent{}, fmt.Errorf("%w: decode: %v", ErrInvalidEvent, err)
	}
	if w.ID == "" || w.TenantID == "" || w.Metric == "" || w.Quantity < 0 {
		return store.UsageEvent{}, fmt.Errorf("%w: incomplete entry", ErrInvalidEvent)
	}
	props := w.Properties
	if len(props) == 0 || string(props) == "null" {
		props = json.RawMessage(`{}`)
	}
	return store.UsageEvent{
		TenantID:      w.TenantID,
		Metric:        w.Metric,
		Quantity:      float64(w.Quantity),
		Properties:    props,
		TransactionID: w.ID,
		OccurredAt:    time.UnixMicro(w.OccurredAt).UTC(),
	}, nil
}
