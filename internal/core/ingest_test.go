package core

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// TestIngestLimitsMatchTags: the limits DecodeBody checks are the ones the
// struct tags give the OpenAPI schema (and MCP's validation).
func TestIngestLimitsMatchTags(t *testing.T) {
	t.Parallel()
	tag := func(typ reflect.Type, field, key string) string {
		f, ok := typ.FieldByName(field)
		if !ok {
			t.Fatalf("%s has no field %s", typ, field)
		}
		return f.Tag.Get(key)
	}
	ev, batch := reflect.TypeFor[IngestEvent](), reflect.TypeFor[IngestBatch]()
	for _, c := range []struct{ got, want string }{
		{tag(ev, "TransactionID", "maxLength"), strconv.Itoa(maxTransactionID)},
		{tag(ev, "TransactionID", "minLength"), "1"},
		{tag(ev, "Metric", "maxLength"), strconv.Itoa(maxMetric)},
		{tag(ev, "Metric", "minLength"), "1"},
		{tag(ev, "Metric", "pattern"), metricPattern},
		{tag(ev, "Quantity", "minimum"), "0"},
		{tag(ev, "Quantity", "maximum"), strconv.FormatFloat(maxQuantity, 'g', -1, 64)},
		{tag(batch, "Events", "maxItems"), strconv.Itoa(MaxIngestBatch)},
		{tag(batch, "Events", "minItems"), "1"},
	} {
		if c.got != c.want {
			t.Errorf("tag %q, DecodeBody checks %q", c.got, c.want)
		}
	}
}

func TestDecodeIngest(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", maxTransactionID) // 200 characters, 400 bytes
	tests := []struct {
		name, body  string
		status      int
		field       string
		wantInvalid string // a fragment of the detail
	}{
		{"good", `{"events":[{"transaction_id":"t1","metric":"api_calls","quantity":2.5,"properties":{"a":[1]},"timestamp":"2026-01-02T03:04:05Z"}]}`, 0, "", ""},
		{"nulls are absent", `{"events":[{"transaction_id":"t1","metric":"m","quantity":null,"properties":null,"timestamp":null}]}`, 0, "", ""},
		{"200 characters", `{"events":[{"transaction_id":"` + long + `","metric":"m"}]}`, 0, "", ""},
		{"not json", `{"events":`, http.StatusBadRequest, "body", "not valid JSON"},
		{"garbage", `nope`, http.StatusBadRequest, "body", "not valid JSON"},
		{"trailing data", `{"events":[{"transaction_id":"t","metric":"m"}]} {}`, http.StatusBadRequest, "body", "after the JSON value"},
		{"empty", `{"events":[]}`, http.StatusUnprocessableEntity, "body.events", "length >= 1"},
		{"missing events", `{}`, http.StatusUnprocessableEntity, "body.events", "length >= 1"},
		{"top-level array", `[1]`, http.StatusUnprocessableEntity, "body", "expected object, got array"},
		{"events not an array", `{"events":{"a":1}}`, http.StatusUnprocessableEntity, "body.events", "expected array, got object"},
		{"unknown top-level field", `{"events":[{"transaction_id":"t","metric":"m"}],"x":1}`, http.StatusUnprocessableEntity, "body.x", "unexpected property"},
		{"unknown event field", `{"events":[{"transaction_id":"t","metric":"m"},{"transaction_id":"t","metric":"m","admin":true}]}`, http.StatusUnprocessableEntity, "body.events[1].admin", "unexpected property"},
		{"wrong type", `{"events":[{"transaction_id":"t","metric":"m"},{"transaction_id":"t","metric":5}]}`, http.StatusUnprocessableEntity, "body.events[1].metric", "expected string, got number"},
		{"largest quantity", `{"events":[{"transaction_id":"t","metric":"m","quantity":1e15},{"transaction_id":"u","metric":"m","quantity":0}]}`, 0, "", ""},
		{"negative quantity", `{"events":[{"transaction_id":"t","metric":"m"},{"transaction_id":"u","metric":"api_calls","quantity":-3}]}`, http.StatusUnprocessableEntity, "body.events[1].quantity", "expected number >= 0"},
		{"quantity too large", `{"events":[{"transaction_id":"t","metric":"m","quantity":1.000001e15}]}`, http.StatusUnprocessableEntity, "body.events[0].quantity", "expected number <= 1e+15"},
		{"quantity beyond float64", `{"events":[{"transaction_id":"t","metric":"m","quantity":1e400}]}`, http.StatusUnprocessableEntity, "body.events[0].quantity", "number out of range: 1e400"},
		{"property beyond float64", `{"events":[{"transaction_id":"t","metric":"m","properties":{"k":-1e400}}]}`, http.StatusUnprocessableEntity, "body.events[0].properties", "number out of range: -1e400"},
		{"quantity as string", `{"events":[{"transaction_id":"t","metric":"m","quantity":"1"}]}`, http.StatusUnprocessableEntity, "body.events[0].quantity", "expected number, got string"},
		{"properties not an object", `{"events":[{"transaction_id":"t","metric":"m","properties":[1]}]}`, http.StatusUnprocessableEntity, "body.events[0].properties", "expected object, got array"},
		{"event not an object", `{"events":[7]}`, http.StatusUnprocessableEntity, "body.events[0]", "expected object, got number"},
		{"bad timestamp", `{"events":[{"transaction_id":"t","metric":"m","timestamp":"yesterday"}]}`, http.StatusUnprocessableEntity, "body.events[0].timestamp", "RFC 3339"},
		{"no transaction id", `{"events":[{"metric":"m"}]}`, http.StatusUnprocessableEntity, "body.events[0].transaction_id", "length >= 1"},
		{"transaction id too long", `{"events":[{"transaction_id":"` + long + `x","metric":"m"}]}`, http.StatusUnprocessableEntity, "body.events[0].transaction_id", "length <= 200"},
		{"metric too long", `{"events":[{"transaction_id":"t","metric":"` + strings.Repeat("m", maxMetric+1) + `"}]}`, http.StatusUnprocessableEntity, "body.events[0].metric", "length <= 100"},
		{"bad metric", `{"events":[{"transaction_id":"t","metric":"m"},{"transaction_id":"t","metric":"Api Calls"}]}`, http.StatusUnprocessableEntity, "body.events[1].metric", "pattern"},
		{"too many", `{"events":[` + strings.TrimSuffix(strings.Repeat(`{"transaction_id":"t","metric":"m"},`, MaxIngestBatch+1), ",") + `]}`, http.StatusUnprocessableEntity, "body.events", "length <= 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b IngestBatch
			b.DecodeBody([]byte(tt.body))
			err := b.Problem()
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if len(b.Events) == 0 {
					t.Fatal("no events decoded")
				}
				return
			}
			ce, ok := AsError(err)
			if !ok {
				t.Fatalf("got %v, want a %d naming %s", err, tt.status, tt.field)
			}
			wantCode := CodeValidation
			if tt.status == http.StatusBadRequest {
				wantCode = CodeMalformed
			}
			if ce.Status != tt.status || ce.Code != wantCode || ce.Field != tt.field || !strings.Contains(ce.Detail, tt.wantInvalid) {
				t.Errorf("got %d %s field %q %q, want %d %s field %q containing %q", ce.Status, ce.Code, ce.Field, ce.Detail, tt.status, wantCode, tt.field, tt.wantInvalid)
			}
			if b.Events != nil {
				t.Errorf("a refused body kept %d events", len(b.Events))
			}
		})
	}
}

// TestIngestBatchDecodedElsewhere: a batch that encoding/json filled (MCP's
// CallJSON) is checked when its Problem is asked for.
func TestIngestBatchDecodedElsewhere(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"events":null}`: "body.events",
		`{"events":[{"transaction_id":"t","metric":"Bad"}]}`: "body.events[0].metric",
		`{"events":[{"transaction_id":"t","metric":"ok"}]}`:  "",
	} {
		var b IngestBatch
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatal(err)
		}
		err := b.Problem()
		if ce, _ := AsError(err); (want == "") != (err == nil) || (ce != nil && ce.Field != want) {
			t.Errorf("%s: got %v, want a problem at %q", body, err, want)
		}
	}
}

// hadHuma is the reference DecodeBody replaced, huma's own path: the body
// decoded into maps and validated against the operation's schema, then
// decoded into the type.
type hadHuma struct {
	reg    huma.Registry
	schema *huma.Schema
}

func newHadHuma() hadHuma {
	reg := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer)
	return hadHuma{reg: reg, schema: reg.Schema(reflect.TypeFor[IngestBatch](), true, "")}
}

// accepts reports whether the schema and a strict decode accept data.
func (h hadHuma) accepts(data []byte) ([]IngestEvent, bool) {
	var parsed any
	if json.Unmarshal(data, &parsed) != nil {
		return nil, false
	}
	res := &huma.ValidateResult{}
	huma.Validate(h.reg, h.schema, huma.NewPathBuffer([]byte{}, 0), huma.ModeWriteToServer, parsed, res)
	if len(res.Errors) > 0 {
		return nil, false
	}
	var body ingestBody
	if json.Unmarshal(data, &body) != nil {
		return nil, false
	}
	return body.Events, true
}

// FuzzDecodeIngest holds DecodeBody to what it replaced: whatever the schema
// and a strict decode accept, it accepts with the same events; whatever it
// accepts meets every constraint; whatever it refuses is a 400 or 422 naming
// a body location. Nulls are where they differ: a JSON null for an optional
// field of an event is taken as absent, where the schema refuses it, and
// "events": null is refused like an empty list, where the schema let it
// through to ingest nothing.
func FuzzDecodeIngest(f *testing.F) {
	for _, seed := range []string{
		`{"events":[{"transaction_id":"t1","metric":"api_calls","quantity":2.5,"properties":{"a":[1]},"timestamp":"2026-01-02T03:04:05Z"}]}`,
		`{"events":[{"transaction_id":"t","metric":"M"}]}`, `{"events":[{"transaction_id":"","metric":"m"}]}`,
		`{"events":[{"transaction_id":"t","metric":"m","x":1}]}`, `{"events":[]}`, `{"events":null}`, `[1]`, `{`,
		`{"events":[{"transaction_id":"t","metric":"m","quantity":null}]}`, `{"events":[{"transaction_id":"t","metric":"a-b.c:d_9"}]} x`,
		`{"events":[{"transaction_id":"\u00e9\u00e9","metric":"m","timestamp":"2026-13-01T00:00:00Z"}]}`,
		`{"events":[{"transaction_id":"t","metric":"m","quantity":-1}]}`, `{"events":[{"transaction_id":"t","metric":"m","quantity":1e16}]}`,
	} {
		f.Add(seed)
	}
	ref := newHadHuma()
	pattern := regexp.MustCompile(metricPattern)
	f.Fuzz(func(t *testing.T, body string) {
		var b IngestBatch
		b.DecodeBody([]byte(body))
		err := b.Problem()
		want, refOK := ref.accepts([]byte(body))
		if refOK && want == nil {
			// "events": null passes the schema (a nil slice is nullable)
			// and used to ingest nothing with a 202; it is refused now,
			// like an empty list.
			if err == nil {
				t.Fatalf("%q: accepted without events", body)
			}
			return
		}
		if refOK {
			if err != nil {
				t.Fatalf("%q: the schema accepts it, DecodeBody says %v", body, err)
			}
			if !slices.EqualFunc(b.Events, want, sameEvent) {
				t.Fatalf("%q: decoded %+v, want %+v", body, b.Events, want)
			}
			return
		}
		if err == nil {
			if len(b.Events) < 1 || len(b.Events) > MaxIngestBatch {
				t.Fatalf("%q: accepted %d events", body, len(b.Events))
			}
			for i, e := range b.Events {
				if n := utf8.RuneCountInString(e.TransactionID); n < 1 || n > maxTransactionID {
					t.Fatalf("%q: event %d: transaction id of %d characters", body, i, n)
				}
				if n := utf8.RuneCountInString(e.Metric); n < 1 || n > maxMetric || !pattern.MatchString(e.Metric) {
					t.Fatalf("%q: event %d: metric %q", body, i, e.Metric)
				}
				if q := e.Quantity; q != nil && (*q < 0 || *q > maxQuantity) {
					t.Fatalf("%q: event %d: quantity %v", body, i, *q)
				}
			}
			if !strings.Contains(body, "null") {
				t.Fatalf("%q: accepted, but the schema refuses it and it has no null", body)
			}
			return
		}
		ce, ok := AsError(err)
		if !ok || (ce.Status != http.StatusBadRequest && ce.Status != http.StatusUnprocessableEntity) || !strings.HasPrefix(ce.Field, "body") {
			t.Fatalf("%q: refused with %v, want a 400 or 422 naming a body location", body, err)
		}
	})
}

func sameEvent(a, b IngestEvent) bool {
	return a.TransactionID == b.TransactionID && a.Metric == b.Metric &&
		reflect.DeepEqual(a.Quantity, b.Quantity) && reflect.DeepEqual(a.Properties, b.Properties) &&
		((a.Timestamp == nil && b.Timestamp == nil) || (a.Timestamp != nil && b.Timestamp != nil && a.Timestamp.Equal(*b.Timestamp)))
}

func ingestPayload(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"transaction_id":"w3-%d-%d","metric":"api_calls","quantity":1,"properties":{"route":"/v1/x","n":%d},"timestamp":%q}`,
			i, i*7, i, time.Date(2026, 11, 26, 10, 0, i%60, 0, time.UTC).Format(time.RFC3339))
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkDecodeIngest compares one batch of 1,000 events through
// DecodeBody with encoding/json alone and with the path it replaced
// (huma's schema validation, then the decode into the type).
func BenchmarkDecodeIngest(b *testing.B) {
	data := ingestPayload(MaxIngestBatch)
	b.Run("DecodeBody", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var batch IngestBatch
			batch.DecodeBody(data)
			if batch.Problem() != nil {
				b.Fatal(batch.Problem())
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) { // DecodeBody's path for bodies the fast decoder declines
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var body ingestBody
			if err := decodeStrict(data, &body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("schema+decode", func(b *testing.B) {
		ref := newHadHuma()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, ok := ref.accepts(data); !ok {
				b.Fatal("refused")
			}
		}
	})
}
