package entitlements

import (
	"regexp"
	"strings"
	"testing"
)

// keyPattern is the rule validKey implements by hand.
var keyPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$`)

func TestValidKeyMatchesPattern(t *testing.T) {
	for _, s := range []string{"", "a", "_", "-", "a_", "_a", "a-b", "a_b", "api_calls", "A", "a.b", "a b",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "a" + strings.Repeat("_", 61) + "a", "a\n"} {
		if got, want := validKey(s), keyPattern.MatchString(s); got != want {
			t.Errorf("validKey(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}

func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"pro", "api_calls", "-x", strings.Repeat("z", 63)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validKey(s), keyPattern.MatchString(s); got != want {
			t.Fatalf("validKey(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
