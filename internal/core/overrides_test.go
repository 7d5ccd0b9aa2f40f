package core

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/fast-saas/fast-saas/middleware/entitlements"
)

// TestOverridesMaximaMatchTags: the schema's maxima for overridden limits
// are the plan table's.
func TestOverridesMaximaMatchTags(t *testing.T) {
	t.Parallel()
	for field, max := range map[string]int64{"RateLimitPerMinute": entitlements.MaxRatePerMinute, "APICallsPerMonth": entitlements.MaxCallsPerMonth} {
		f, _ := reflect.TypeFor[Overrides]().FieldByName(field)
		if got, want := f.Tag.Get("maximum"), strconv.FormatInt(max, 10); got != want {
			t.Errorf("%s: maximum tag %q, entitlements %s", field, got, want)
		}
	}
}
