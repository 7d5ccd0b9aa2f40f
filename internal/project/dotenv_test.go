package project

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseEnvValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"plain", "A=1\nB=two\n", map[string]string{"A": "1", "B": "two"}},
		{"no trailing newline", "A=1", map[string]string{"A": "1"}},
		{"comments and blanks", "# head\n\n  # indented\nA=1 # note\n", map[string]string{"A": "1"}},
		{"hash without space is data", "A=abc#def\n", map[string]string{"A": "abc#def"}},
		{"export prefix", "export A=1\n", map[string]string{"A": "1"}},
		{"spaces around equals", "A = 1  \n", map[string]string{"A": "1"}},
		{"empty value", "A=\nB=''\nC=\"\"\n", map[string]string{"A": "", "B": "", "C": ""}},
		{"single quotes are literal", `A='$2a$10$x y # z'` + "\n", map[string]string{"A": "$2a$10$x y # z"}},
		{"single quote escape", `A='it\'s'` + "\n", map[string]string{"A": "it's"}},
		{"double quote escapes", `A="a\"b\\c\nd\$e"` + "\n", map[string]string{"A": "a\"b\\c\nd$e"}},
		{"multiline double", "A=\"l1\nl2\"\nB=2\n", map[string]string{"A": "l1\nl2", "B": "2"}},
		{"quoted then comment", "A='x' # c\n", map[string]string{"A": "x"}},
		{"crlf", "A=1\r\nB='2'\r\n", map[string]string{"A": "1", "B": "2"}},
		{"last wins", "A=1\nA=2\n", map[string]string{"A": "2"}},
		{"dotted key", "a.b-c=1\n", map[string]string{"a.b-c": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := ParseEnv([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseEnv(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, f.Map()); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if got := string(f.Bytes()); got != tt.in {
				t.Errorf("Bytes() = %q, want the input %q back", got, tt.in)
			}
		})
	}
}

func TestParseEnvErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, wantSub string
	}{
		{"no equals", "A=1\nJUSTKEY\n", "line 2"},
		{"digit first", "1A=1\n", "line 1"},
		{"unterminated", "A=1\nB='open\nC=3\n", "unterminated"},
		{"junk after quote", "A='x' y\n", "unexpected text"},
		{"bad char in key", "A B=1\n", "expected '='"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseEnv([]byte(tt.in))
			if !errors.Is(err, ErrEnvSyntax) {
				t.Fatalf("ParseEnv(%q) error = %v, want ErrEnvSyntax", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.wantSub) {
				t.Errorf("error %q does not mention %q", err, tt.wantSub)
			}
		})
	}
}

func TestEnvSetKeepsOtherBytes(t *testing.T) {
	t.Parallel()
	in := "# keep me\nA = 'one'   # odd spacing\nB=2"
	f, err := ParseEnv([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Set("A", "one"); err != nil { // same value: untouched
		t.Fatal(err)
	}
	if err := f.Set("B", "three"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("C", "$2a$10$hash"); err != nil {
		t.Fatal(err)
	}
	want := "# keep me\nA = 'one'   # odd spacing\nB=three\nC='$2a$10$hash'\n"
	if got := string(f.Bytes()); got != want {
		t.Errorf("Bytes() = %q, want %q", got, want)
	}
	if err := f.Set("bad key", "x"); err == nil {
		t.Error("Set with an invalid key succeeded")
	}
	if err := f.Set("D", "a\x00b"); err == nil {
		t.Error("Set with a NUL byte succeeded")
	}
}

func TestFormatEnvLineRoundTrip(t *testing.T) {
	t.Parallel()
	values := []string{"", "abc", "a b", "$2a$10$abc", "it's", `back\slash`, "multi\nline", `q"uote`, "tab\there", "#hash", "a #b", "ünï"}
	for _, v := range values {
		line, err := FormatEnvLine("K", v)
		if err != nil {
			t.Fatalf("FormatEnvLine(%q): %v", v, err)
		}
		f, err := ParseEnv([]byte(line))
		if err != nil {
			t.Fatalf("ParseEnv(%q): %v", line, err)
		}
		if got, _ := f.Get("K"); got != v {
			t.Errorf("round trip of %q via %q = %q", v, line, got)
		}
	}
}

func FuzzParseEnv(f *testing.F) {
	for _, s := range []string{"A=1\n", "# c\nB='x y'\n", "C=\"a\\nb\"\n", "export D=4 # c", "E='\\''", "F=\"unterminated", "=x", "G=\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnv(data)
		if err != nil {
			if !errors.Is(err, ErrEnvSyntax) {
				t.Fatalf("error %v does not wrap ErrEnvSyntax", err)
			}
			return
		}
		if got := env.Bytes(); string(got) != string(data) {
			t.Fatalf("Bytes() = %q, want input %q", got, data)
		}
		// Rewriting every value through Set must keep the values.
		want := env.Map()
		for k, v := range want {
			if err := env.Set(k, v+"x"); err != nil {
				continue // value with control bytes: Set refuses, fine
			}
			again, err := ParseEnv(env.Bytes())
			if err != nil {
				t.Fatalf("reparse after Set(%q): %v\n%q", k, err, env.Bytes())
			}
			if got, _ := again.Get(k); got != v+"x" {
				t.Fatalf("after Set(%q, %q) got %q", k, v+"x", got)
			}
			env = again
		}
	})
}
