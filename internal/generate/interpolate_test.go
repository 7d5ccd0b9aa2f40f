package generate

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// refPattern is the rule varRefAt implements by hand: ${NAME}, or $${NAME}
// which Compose leaves to the container's shell.
var refPattern = regexp.MustCompile(`\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// interpolateByPattern is interpolate written with the pattern: the
// reference the hand-written scanner is compared with.
func interpolateByPattern(p *plan, where, v string) (string, error) {
	var err error
	out := refPattern.ReplaceAllStringFunc(v, func(ref string) string {
		if strings.HasPrefix(ref, "$$") {
			return ref
		}
		name := ref[2 : len(ref)-1]
		required, ok := p.required[name]
		if !ok {
			if err == nil {
				err = fmt.Errorf("%s references ${%s}, which is not a .env key of the selection", where, name)
			}
			return ref
		}
		if required {
			return "${" + name + ":?set " + name + " in .env}"
		}
		return "${" + name + ":-}"
	})
	return out, err
}

var interpolateSamples = []string{
	"", "plain", "$", "$$", "${", "${}", "${A}", "${A", "$A", "$${A}", "$$${A}", "$$$${A}", "${A}${B}", "x${A}y${B}z",
	"${_x1}", "${1A}", "${A-B}", "${A:-x}", "${UNKNOWN}", "${A}${UNKNOWN}", "$${UNKNOWN}", "${${A}}", "$${${A}}",
	"redis://:${A}@redis:6379/0", `exec x --requirepass "$$B"`, "${A}é${B}", "$\n${A}", "${é}", "}${A}{",
}

func TestInterpolateMatchesPattern(t *testing.T) {
	p := &plan{required: map[string]bool{"A": true, "B": false, "_x1": true}}
	for _, s := range interpolateSamples {
		got, gotErr := p.interpolate(s, "here")
		want, wantErr := interpolateByPattern(p, "here", s)
		if (gotErr == nil) != (wantErr == nil) || gotErr == nil && got != want {
			t.Errorf("interpolate(%q) = %q, %v; the pattern gives %q, %v", s, got, gotErr, want, wantErr)
		}
		if gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("interpolate(%q) error %q, the pattern gives %q", s, gotErr, wantErr)
		}
	}
}

func FuzzInterpolate(f *testing.F) {
	for _, s := range interpolateSamples {
		f.Add(s)
	}
	p := &plan{required: map[string]bool{"A": true, "B": false, "_x1": true}}
	f.Fuzz(func(t *testing.T, s string) {
		got, gotErr := p.interpolate(s, "here")
		want, wantErr := interpolateByPattern(p, "here", s)
		if (gotErr == nil) != (wantErr == nil) || gotErr == nil && got != want {
			t.Errorf("interpolate(%q) = %q, %v; the pattern gives %q, %v", s, got, gotErr, want, wantErr)
		}
	})
}
