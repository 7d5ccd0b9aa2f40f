package generate

import (
	"regexp"
	"strings"
	"testing"
)

// The rules dnsName and plainEnv implement by hand.
var (
	dnsPattern      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	plainEnvPattern = regexp.MustCompile(`^[A-Za-z0-9_./:@,+=%-]*$`)
)

var nameSamples = []string{"", ".", "a", "a.", ".a", "a..b", "example.com", "sub.example.com", "-a.com", "a-.com",
	"a-b.c-d", "Example.com", "localhost", "a_b.com", "a b", "a.b.c.d.e", strings.Repeat("a", 63) + ".com",
	strings.Repeat("a", 64) + ".com", "a\n", "x:y@z/1,2+3=4%5-6", "it's", `a"b`, "$HOME", "é"}

func TestDNSNameMatchesPattern(t *testing.T) {
	for _, s := range nameSamples {
		if got, want := dnsName(s), dnsPattern.MatchString(s); got != want {
			t.Errorf("dnsName(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}

func TestPlainEnvMatchesPattern(t *testing.T) {
	for _, s := range nameSamples {
		if got, want := plainEnv(s), plainEnvPattern.MatchString(s); got != want {
			t.Errorf("plainEnv(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}

func FuzzNamesMatchPatterns(f *testing.F) {
	for _, s := range nameSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := dnsName(s), dnsPattern.MatchString(s); got != want {
			t.Fatalf("dnsName(%q) = %v, the pattern says %v", s, got, want)
		}
		if got, want := plainEnv(s), plainEnvPattern.MatchString(s); got != want {
			t.Fatalf("plainEnv(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
