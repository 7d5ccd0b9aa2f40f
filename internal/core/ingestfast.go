package core

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// decodeIngestFast decodes the ingest bodies clients send, in one pass
// over data with few allocations; encoding/json took about a third of
// serve's CPU per ingested batch with Postgres.
//
// It takes a subset of JSON: strings without escapes, each event field at
// most once, event fields and object keys as written in the schema, no
// null, nesting up to maxFastDepth. On anything else it declines (ok is
// false), and DecodeBody decodes with encoding/json, which also words the
// errors. What it accepts, it decodes exactly as encoding/json does
// (FuzzDecodeIngestFast compares the two).
func decodeIngestFast(data []byte) (events []IngestEvent, ok bool) {
	p := fastParser{data: data}
	if !p.next('{') || !p.key("events") || !p.next('[') {
		return nil, false
	}
	// Sized for events of about 60 bytes; append grows it for shorter ones.
	events = make([]IngestEvent, 0, min(len(data)/60+1, MaxIngestBatch))
	for {
		var e IngestEvent
		if !p.event(&e) {
			return nil, false
		}
		events = append(events, e)
		if p.next(',') {
			continue
		}
		if !p.next(']') {
			return nil, false
		}
		break
	}
	if !p.next('}') {
		return nil, false
	}
	p.space()
	return events, p.i == len(data)
}

// maxFastDepth bounds the nesting of properties that decodeIngestFast
// takes (encoding/json allows 10,000).
const maxFastDepth = 32

type fastParser struct {
	data   []byte
	i      int
	metric string // the last metric, shared by the events that repeat it
}

// space skips JSON whitespace.
func (p *fastParser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips whitespace and then c, reporting whether c was there.
func (p *fastParser) next(c byte) bool {
	p.space()
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

// key reads "name" and the colon after it.
func (p *fastParser) key(name string) bool {
	raw, ok := p.plain()
	return ok && string(raw) == name && p.next(':')
}

// plain reads a string without escapes or control characters and
// returns its bytes, checked to be UTF-8 (encoding/json would replace
// bad bytes with U+FFFD).
func (p *fastParser) plain() ([]byte, bool) {
	if !p.next('"') {
		return nil, false
	}
	start, ascii := p.i, true
	for ; p.i < len(p.data); p.i++ {
		switch c := p.data[p.i]; {
		case c == '"':
			raw := p.data[start:p.i]
			p.i++
			return raw, ascii || utf8.Valid(raw)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// event reads one event object into e.
func (p *fastParser) event(e *IngestEvent) bool {
	if !p.next('{') {
		return false
	}
	if p.next('}') {
		return true
	}
	var seen uint8
	for {
		name, ok := p.plain()
		if !ok || !p.next(':') {
			return false
		}
		var field uint8
		switch string(name) {
		case "transaction_id":
			field = 1
			var raw []byte
			raw, ok = p.plain()
			e.TransactionID = string(raw)
		case "metric":
			field = 2
			var raw []byte
			if raw, ok = p.plain(); ok && string(raw) != p.metric {
				p.metric = string(raw)
			}
			e.Metric = p.metric
		case "quantity":
			field = 4
			var q float64
			q, ok = p.number()
			e.Quantity = &q
		case "timestamp":
			field = 8
			ok = p.timestamp(e)
		case "properties":
			field = 16
			e.Properties, ok = p.object(1)
		}
		if !ok || field == 0 || seen&field != 0 {
			return false
		}
		seen |= field
		if p.next(',') {
			continue
		}
		return p.next('}')
	}
}

// timestamp reads a string and parses it as encoding/json would: with
// time.Time's UnmarshalJSON, given the quoted text.
func (p *fastParser) timestamp(e *IngestEvent) bool {
	p.space()
	start := p.i
	if _, ok := p.plain(); !ok {
		return false
	}
	var t time.Time
	if t.UnmarshalJSON(p.data[start:p.i]) != nil {
		return false
	}
	e.Timestamp = &t
	return true
}

// number reads a number in JSON's grammar and parses it as encoding/json
// does; one out of float64's range is declined.
func (p *fastParser) number() (float64, bool) {
	p.space()
	d, start := p.data, p.i
	digits := func() bool {
		from := p.i
		for p.i < len(d) && d[p.i] >= '0' && d[p.i] <= '9' {
			p.i++
		}
		return p.i > from
	}
	if p.i < len(d) && d[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(d) && d[p.i] == '0':
		p.i++
	case !digits():
		return 0, false
	}
	if p.i < len(d) && d[p.i] == '.' {
		p.i++
		if !digits() {
			return 0, false
		}
	}
	if p.i < len(d) && (d[p.i] == 'e' || d[p.i] == 'E') {
		p.i++
		if p.i < len(d) && (d[p.i] == '+' || d[p.i] == '-') {
			p.i++
		}
		if !digits() {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(d[start:p.i]), 64)
	return f, err == nil
}

// object reads a JSON object into a map, as encoding/json decodes one into
// map[string]any (a repeated key keeps its last value).
func (p *fastParser) object(depth int) (map[string]any, bool) {
	if depth > maxFastDepth || !p.next('{') {
		return nil, false
	}
	m := map[string]any{}
	if p.next('}') {
		return m, true
	}
	for {
		k, ok := p.plain()
		if !ok || !p.next(':') {
			return nil, false
		}
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		m[string(k)] = v
		if p.next(',') {
			continue
		}
		return m, p.next('}')
	}
}

// value reads any JSON value but null, as encoding/json decodes one into
// an interface: objects as map[string]any, arrays as []any, numbers as
// float64.
func (p *fastParser) value(depth int) (any, bool) {
	p.space()
	if p.i >= len(p.data) {
		return nil, false
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		raw, ok := p.plain()
		return string(raw), ok
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case p.literal("true"):
		return true, true
	case p.literal("false"):
		return false, true
	}
	return nil, false
}

func (p *fastParser) array(depth int) ([]any, bool) {
	if depth > maxFastDepth || !p.next('[') {
		return nil, false
	}
	a := []any{}
	if p.next(']') {
		return a, true
	}
	for {
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if p.next(',') {
			continue
		}
		return a, p.next(']')
	}
}

// literal skips word when the data continues with it.
func (p *fastParser) literal(word string) bool {
	if len(p.data)-p.i >= len(word) && string(p.data[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}
