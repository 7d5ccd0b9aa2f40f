package generate

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

// FuzzQuoteEnv: any value written to .env reads back identically through
// Compose's own .env parser (values come from users and upstream secrets).
func FuzzQuoteEnv(f *testing.F) {
	for _, seed := range []string{"", "plain", "$2a$08$abc./xyz", "it's", `back\slash\`, "a b # c", "new\nline", `"q"`, "${HOME}", "=x=", "\t"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		// .env files are text: NUL and invalid UTF-8 are not representable.
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return
		}
		// The parser trims surrounding whitespace of bare values and treats
		// other control characters as text; we only guarantee printable
		// values plus newline, tab and CR.
		for _, r := range v {
			if r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
				return
			}
		}
		src := "KEY=" + QuoteEnv(v) + "\n"
		got, err := dotenv.UnmarshalBytesWithLookup([]byte(src), nil)
		if err != nil {
			t.Fatalf("parse %q: %v", src, err)
		}
		if got["KEY"] != v {
			t.Fatalf("round trip of %q via %q = %q", v, src, got["KEY"])
		}
	})
}
