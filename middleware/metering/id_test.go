package metering

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestNewEventIDIsUUIDv7(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 1, 2, 3, 456_000_000, time.UTC)
	seen := make(map[string]bool)
	for range 10000 {
		s := newEventID(at)
		id, err := uuid.Parse(s)
		if err != nil {
			t.Fatalf("newEventID = %q: %v", s, err)
		}
		if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
			t.Fatalf("%s: version %d variant %v, want 7 / RFC4122", s, id.Version(), id.Variant())
		}
		sec, nsec := id.Time().UnixTime()
		if got := time.Unix(sec, nsec).UTC(); !got.Equal(at) {
			t.Fatalf("%s: embedded time %v, want %v", s, got, at)
		}
		if seen[s] {
			t.Fatalf("duplicate id %s within one millisecond", s)
		}
		seen[s] = true
	}
	// Ids of later milliseconds sort after earlier ones.
	a, b := newEventID(at), newEventID(at.Add(time.Millisecond))
	if !(a < b) {
		t.Errorf("%s (t) >= %s (t+1ms): UUIDv7 must sort by time", a, b)
	}
}
