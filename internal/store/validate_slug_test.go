package store

import (
	"regexp"
	"strings"
	"testing"
)

// slugPattern is the rule ValidSlug implements by hand.
var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

func TestValidSlugMatchesPattern(t *testing.T) {
	for _, s := range []string{"", "a", "-", "a-", "-a", "a-b", "ab", "A", "a_b", "a.b", "a b", "acme-2",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "a" + strings.Repeat("-", 61) + "a", "a\n", "é"} {
		if got, want := ValidSlug(s), slugPattern.MatchString(s); got != want {
			t.Errorf("ValidSlug(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}

func FuzzValidSlug(f *testing.F) {
	for _, s := range []string{"acme", "a-b", "-a", strings.Repeat("z", 63)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidSlug(s), slugPattern.MatchString(s); got != want {
			t.Fatalf("ValidSlug(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
