package core

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/fast-saas/fast-saas/middleware/entitlements"
)

// TestOverridesRateMatchesTag: the schema's maximum for an overridden rate
// limit is the plan table's.
func TestOverridesRateMatchesTag(t *testing.T) {
	t.Parallel()
	f, _ := reflect.TypeFor[Overrides]().FieldByName("RateLimitPerMinute")
	if got, want := f.Tag.Get("maximum"), strconv.FormatInt(entitlements.MaxRatePerMinute, 10); got != want {
		t.Errorf("maximum tag %q, entitlements.MaxRatePerMinute %s", got, want)
	}
}
