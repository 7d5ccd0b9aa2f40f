package core

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fastTaken are bodies of the kinds clients send, which decodeIngestFast
// must take (else ingest silently falls back to the slow decode).
var fastTaken = []string{
	`{"events":[{"transaction_id":"t1","metric":"api_calls"}]}`,
	" \t\r\n{ \"events\" : [ { \"transaction_id\" : \"t1\" , \"metric\" : \"m\" , \"quantity\" : 2 } , {\"metric\":\"m\",\"transaction_id\":\"t2\"} ] } \n",
	`{"events":[{"transaction_id":"t","metric":"m","quantity":0},{"transaction_id":"u","metric":"m","quantity":-0},{"transaction_id":"v","metric":"n","quantity":12.5e-3},{"transaction_id":"w","metric":"m","quantity":1E+3}]}`,
	`{"events":[{"transaction_id":"t","metric":"m","timestamp":"2026-11-26T10:00:00Z"},{"transaction_id":"u","metric":"m","timestamp":"2026-11-26T11:00:00.123456+01:00"}]}`,
	`{"events":[{"transaction_id":"zürich-東京-🙂","metric":"m","properties":{}}]}`,
	`{"events":[{"transaction_id":"t","metric":"m","properties":{"route":"/v1/x","n":3,"ok":true,"no":false,"list":[1,"a",[],{}],"deep":{"a":{"b":[{"c":-1.5}]}},"route":"/v1/y"}}]}`,
	`{"events":[{}]}`,
	string(ingestPayload(MaxIngestBatch)),
}

// fastDeclined are valid (or invalid) bodies outside the fast subset:
// encoding/json decodes them, or words their error.
var fastDeclined = []string{
	`{"events":[{"transaction_id":"t\"1","metric":"m"}]}`,    // an escape
	`{"events":[{"transaction_id":"t\u00e9","metric":"m"}]}`, // a \u escape
	`{"events":[{"transaction_id":"t","metric":"m","quantity":null}]}`,
	`{"events":[{"transaction_id":"t","metric":"m","properties":{"a":null}}]}`,
	`{"events":[{"Transaction_ID":"t","metric":"m"}]}`, // a key in other case
	`{"events":[{"transaction_id":"t","transaction_id":"u","metric":"m"}]}`,
	`{"events":[{"transaction_id":"t","metric":"m","admin":true}]}`,
	`{"events":[{"transaction_id":"t","metric":"m"}],"more":1}`,
	`{"events":[{"transaction_id":"t","metric":"m"}]} x`,
	`{"events":[]}`, `{"events":null}`, `[]`, ``, `{`,
	`{"events":[{"transaction_id":"t","metric":"m","quantity":01}]}`,
	`{"events":[{"transaction_id":"t","metric":"m","quantity":1.}]}`,
	`{"events":[{"transaction_id":"t","metric":"m","quantity":+1}]}`,
	`{"events":[{"transaction_id":"t","metric":"m","quantity":1e400}]}`,
	`{"events":[{"transaction_id":"t","metric":"m","quantity":"1"}]}`,
	`{"events":[{"transaction_id":"t","metric":"m","timestamp":"2026-13-01T00:00:00Z"}]}`,
	`{"events":[{"transaction_id":"t","metric":"m","properties":[1]}]}`,
	`{"events":[{"transaction_id":"t","metric":"m","properties":{"a":tru}}]}`,
	"{\"events\":[{\"transaction_id\":\"\xff\",\"metric\":\"m\"}]}", // not UTF-8
	`{"events":[{"transaction_id":"t","metric":"m","properties":` + nested(maxFastDepth+1) + `}]}`,
}

// nested is n objects, one inside the other.
func nested(n int) string {
	s := "1"
	for range n {
		s = `{"a":` + s + `}`
	}
	return s
}

func TestDecodeIngestFast(t *testing.T) {
	t.Parallel()
	for _, body := range fastTaken {
		got, ok := decodeIngestFast([]byte(body))
		if !ok {
			t.Errorf("declined %.120q", body)
			continue
		}
		decodesLikeEncodingJSON(t, body, got)
	}
	for _, body := range fastDeclined {
		if got, ok := decodeIngestFast([]byte(body)); ok {
			t.Errorf("took %q: %+v", body, got)
		}
	}
	// The limit itself is taken.
	if _, ok := decodeIngestFast([]byte(`{"events":[{"properties":` + nested(maxFastDepth) + `}]}`)); !ok {
		t.Errorf("declined properties nested %d deep", maxFastDepth)
	}
}

// FuzzDecodeIngestFast: whatever decodeIngestFast takes, encoding/json
// (DecodeBody's other path) decodes to the same events.
func FuzzDecodeIngestFast(f *testing.F) {
	for _, body := range append(append([]string{}, fastTaken[:len(fastTaken)-1]...), fastDeclined...) {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, ok := decodeIngestFast([]byte(body))
		if !ok {
			return
		}
		decodesLikeEncodingJSON(t, body, got)
	})
}

// decodesLikeEncodingJSON fails t unless encoding/json, DecodeBody's
// other path, decodes body to the events decodeIngestFast took from it.
func decodesLikeEncodingJSON(t *testing.T, body string, got []IngestEvent) {
	t.Helper()
	var want ingestBody
	if err := decodeStrict([]byte(body), &want); err != nil {
		t.Fatalf("%.120q: taken, but encoding/json says %v", body, err)
	}
	if diff := cmp.Diff(want.Events, got); diff != "" {
		t.Fatalf("%.120q (-encoding/json +fast):\n%s", body, diff)
	}
}
