package project

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "f")
	for i, step := range []struct {
		data      string
		perm      os.FileMode
		d         durability
		wantWrote bool
	}{
		{"one", 0o600, syncFileAndDir, true},
		{"one", 0o600, syncFile, false}, // identical: left alone
		{"one", 0o644, volatile, true},  // same bytes, other mode
		{"two", 0o644, syncFile, true},
	} {
		wrote, err := writeFileAtomic(path, []byte(step.data), step.perm, step.d)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if wrote != step.wantWrote {
			t.Errorf("step %d: wrote = %v, want %v", i, wrote, step.wantWrote)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != step.data {
			t.Errorf("step %d: content %q, %v; want %q", i, got, err, step.data)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != step.perm {
			t.Errorf("step %d: mode %v, want %v", i, st.Mode().Perm(), step.perm)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d entries left in the directory, want 1 (no temporary files)", len(entries))
	}
}
