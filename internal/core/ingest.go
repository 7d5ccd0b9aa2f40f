package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of one ingested event, as the struct tags of IngestEvent state
// them for the OpenAPI schema and MCP's validation (TestIngestLimitsMatchTags).
const (
	maxTransactionID = 200
	maxMetric        = 100
	metricPattern    = "^[a-z0-9_.:-]+$"
	// maxQuantity bounds one event's quantity: below 2^53, so whole
	// quantities stay exact in a float64, and no sum of events can
	// overflow to +Inf, which would make summaries unencodable. Negative
	// quantities are refused: they would let a tenant take back its own
	// metered usage (and its quota count).
	maxQuantity = 1e15
)

// IngestEvent is one event in an ingest batch.
type IngestEvent struct {
	TransactionID string         `json:"transaction_id" minLength:"1" maxLength:"200" doc:"Idempotency key, unique per tenant"`
	Metric        string         `json:"metric" minLength:"1" maxLength:"100" pattern:"^[a-z0-9_.:-]+$"`
	Quantity      *float64       `json:"quantity,omitempty" minimum:"0" maximum:"1e+15" doc:"Default 1"`
	Properties    map[string]any `json:"properties,omitempty"`
	Timestamp     *time.Time     `json:"timestamp,omitempty" doc:"RFC 3339; default now"`
}

// IngestBatch is the body of ingestUsageEvents. It decodes and checks
// itself in one pass (DecodeBody) instead of going through huma's generic
// validation, which decodes a body twice (once into maps to walk the
// schema, once into the struct) and walks it once more: for a batch of
// 1,000 events that was 59% of serve's CPU per ingest request with
// Postgres and 26% embedded. The checks are the schema's constraints, from
// the same struct tags; an absent field and a JSON null are the same.
type IngestBatch struct {
	Events []IngestEvent `json:"events" minItems:"1" maxItems:"1000"`

	decoded bool   // by DecodeBody; else by encoding/json (MCP's CallJSON)
	problem *Error // what DecodeBody found wrong, nil when the body is good
}

// BodyDecoder is a request body that decodes and validates itself. The
// REST adapter gives it the raw body and skips huma's validation of it;
// the handler reports Problem.
type BodyDecoder interface {
	DecodeBody(data []byte)
	Problem() error
}

var _ BodyDecoder = (*IngestBatch)(nil)

// Problem returns what is wrong with the body: a 400 for JSON that does
// not parse, a 422 naming the field otherwise; nil when it is good. A
// batch that encoding/json filled instead of DecodeBody (MCP's CallJSON)
// is checked on the first call.
func (b *IngestBatch) Problem() error {
	if !b.decoded {
		b.decoded, b.problem = true, checkIngest(b.Events)
	}
	if b.problem == nil {
		return nil // not a typed nil in an error
	}
	return b.problem
}

// ingestBody is IngestBatch's data without its methods, to decode into.
type ingestBody struct {
	Events []IngestEvent `json:"events"`
}

// DecodeBody decodes data strictly (unknown fields are refused, as the
// schema's additionalProperties: false) and checks every constraint. The
// common bodies take decodeIngestFast; the rest, encoding/json.
func (b *IngestBatch) DecodeBody(data []byte) {
	*b = IngestBatch{decoded: true}
	events, ok := decodeIngestFast(data)
	if !ok {
		var body ingestBody
		if err := decodeStrict(data, &body); err != nil {
			b.problem = ingestDecodeProblem(data, err)
			return
		}
		events = body.Events
	}
	if b.problem = checkIngest(events); b.problem == nil {
		b.Events = events
	}
}

// decodeStrict decodes one JSON value, refusing unknown fields and
// anything after the value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailingData
	}
	return nil
}

var errTrailingData = errors.New("unexpected data after the JSON value")

// ingestDecodeProblem turns a decoding error into the answer. To name the
// event at fault it decodes the events one by one — only on this path, so a
// good batch is decoded once.
func ingestDecodeProblem(data []byte, err error) *Error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, errTrailingData) {
		return Malformed("the body is not valid JSON: " + err.Error())
	}
	var outer struct {
		Events []json.RawMessage `json:"events"`
	}
	if decodeStrict(data, &outer) != nil {
		return fieldProblem("body", err)
	}
	for i, raw := range outer.Events {
		var e IngestEvent
		if err := decodeStrict(raw, &e); err != nil {
			return fieldProblem(fmt.Sprintf("body.events[%d]", i), err)
		}
	}
	return fieldProblem("body", err)
}

// fieldProblem is the 422 for a decoding error at location (body or one
// event), naming the field when the error knows it.
func fieldProblem(location string, err error) *Error {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		field := location
		if typ.Field != "" { // the path below the value decoded, e.g. "metric"
			field += "." + typ.Field
		}
		if kind := jsonKind(typ.Type); kind != "number" || !strings.HasPrefix(typ.Value, "number") {
			return Validation(field, fmt.Sprintf("expected %s, got %s", kind, typ.Value))
		}
		// A number that does not fit a float64 (1e400).
		return Validation(field, "number out of range: "+strings.TrimPrefix(typ.Value, "number "))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		// Named as huma names an unknown property: its own path.
		if unquoted, err := strconv.Unquote(name); err == nil {
			return Validation(location+"."+unquoted, "unexpected property")
		}
		return Validation(location, "unexpected property "+name)
	}
	var parse *time.ParseError
	if errors.As(err, &parse) {
		return Validation(location+".timestamp", "expected an RFC 3339 date-time: "+parse.Error())
	}
	return Validation(location, err.Error())
}

// jsonKind names a Go type of the ingest body as its JSON type.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Float64:
		return "number"
	case reflect.Slice:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
}

// checkIngest applies the schema's constraints to decoded events.
func checkIngest(events []IngestEvent) *Error {
	switch {
	case len(events) == 0:
		return Validation("body.events", "expected array length >= 1")
	case len(events) > MaxIngestBatch:
		return Validation("body.events", fmt.Sprintf("expected array length <= %d", MaxIngestBatch))
	}
	for i := range events {
		e := &events[i]
		at := func(field string) string { return fmt.Sprintf("body.events[%d].%s", i, field) }
		if msg := checkLength(e.TransactionID, maxTransactionID); msg != "" {
			return Validation(at("transaction_id"), msg)
		}
		if msg := checkLength(e.Metric, maxMetric); msg != "" {
			return Validation(at("metric"), msg)
		}
		if !metricChars(e.Metric) {
			return Validation(at("metric"), "expected string to match pattern "+metricPattern)
		}
		switch q := e.Quantity; {
		case q == nil: // default 1
		case *q < 0:
			return Validation(at("quantity"), "expected number >= 0")
		case *q > maxQuantity:
			return Validation(at("quantity"), "expected number <= "+strconv.FormatFloat(maxQuantity, 'g', -1, 64))
		}
	}
	return nil
}

// checkLength counts characters as JSON Schema (and huma) do: code points.
func checkLength(s string, max int) string {
	switch n := utf8.RuneCountInString(s); {
	case n < 1:
		return "expected length >= 1"
	case n > max:
		return fmt.Sprintf("expected length <= %d", max)
	}
	return ""
}

// metricChars reports whether s matches metricPattern (s is not empty).
func metricChars(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '.', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// Validation reports input that breaks the operation's schema, at a
// location such as body.events[3].metric: the same answer huma gives.
func Validation(location, detail string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeValidation, Field: location, Detail: detail}
}

// Malformed reports a request body that cannot be decoded at all.
func Malformed(detail string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeMalformed, Field: "body", Detail: detail}
}
