package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fast-saas/fast-saas/internal/store"
)

// TestNewIDs: NewIDs makes valid, distinct UUIDv7s of the current time that
// sort in the order made, beyond one millisecond's 4,096 too.
func TestNewIDs(t *testing.T) {
	if got := store.NewIDs(0); len(got) != 0 {
		t.Errorf("NewIDs(0) = %v, want none", got)
	}
	before := time.Now().Truncate(time.Millisecond)
	ids := store.NewIDs(10_000)
	after := time.Now().Add(3 * time.Millisecond) // the 10,000th is two milliseconds on
	if len(ids) != 10_000 {
		t.Fatalf("len = %d, want 10000", len(ids))
	}
	if !slices.IsSorted(ids) {
		t.Error("ids do not sort in the order made")
	}
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Error("ids repeat")
	}
	for i, id := range ids {
		u, err := uuid.Parse(id)
		if err != nil || !store.ValidID(id) {
			t.Fatalf("id %d = %q: %v", i, id, err)
		}
		if u.Version() != 7 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("id %d = %q: version %d, variant %v; want 7, RFC 4122, lowercase", i, id, u.Version(), u.Variant())
		}
		sec, nsec := u.Time().UnixTime()
		if at := time.Unix(sec, nsec); at.Before(before) || at.After(after) {
			t.Fatalf("id %d = %q carries %s, want within [%s, %s]", i, id, at, before, after)
		}
	}
	// Two calls never share an id.
	again := store.NewIDs(10_000)
	if len(slices.Compact(slices.Sorted(slices.Values(append(again, ids...))))) != 20_000 {
		t.Error("a second call repeats an id of the first")
	}
}
