package cli

import (
	"bytes"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/project"
)

// lineReader returns at most one line per Read, as a terminal in canonical
// mode does; huh's accessible prompts each wrap the reader in a new
// scanner and would otherwise lose buffered lines.
type lineReader struct{ rest string }

func (r *lineReader) Read(p []byte) (int, error) {
	if r.rest == "" {
		return 0, io.EOF
	}
	line := r.rest
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i+1]
	}
	n := copy(p, line)
	r.rest = r.rest[n:]
	return n, nil
}

// TestAskInitAccessible drives the interactive form in huh's line-based
// accessible mode: toggle one module on, one off, then answer the inputs.
func TestAskInitAccessible(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	mods := cat.Modules()
	index := func(id string) string {
		i := slices.IndexFunc(mods, func(m catalog.Module) bool { return m.ID == id })
		if i < 0 {
			t.Fatalf("no module %s", id)
		}
		return strconv.Itoa(i + 1) // the form numbers options from 1
	}
	input := strings.Join([]string{
		index("n8n"),         // select n8n
		index("uptime-kuma"), // deselect a default module
		"0",                  // done
		"example.org",
		"ops@example.org",
		"y",
	}, "\n") + "\n"
	opts := project.InitOptions{Domain: "localhost"}
	var out bytes.Buffer
	if err := askInit(IO{In: &lineReader{input}, Out: &out, Err: &out}, cat, &opts, true); err != nil {
		t.Fatalf("askInit: %v\n%s", err, out.String())
	}
	if opts.Domain != "example.org" || opts.Email != "ops@example.org" {
		t.Errorf("domain, email = %q, %q", opts.Domain, opts.Email)
	}
	want := append(slices.DeleteFunc(cat.DefaultSelection(), func(id string) bool { return id == "uptime-kuma" }), "n8n")
	got := slices.Clone(opts.Modules)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("modules = %v, want %v", got, want)
	}
}

func TestAskInitDeclined(t *testing.T) {
	t.Parallel()
	opts := project.InitOptions{Domain: "localhost"}
	var out bytes.Buffer
	err := askInit(IO{In: &lineReader{"0\nlocalhost\n\nn\n"}, Out: &out, Err: &out}, catalog.Default(), &opts, true)
	if err == nil || err.Error() != "init cancelled" {
		t.Fatalf("askInit declined: error = %v, want init cancelled\n%s", err, out.String())
	}
}
