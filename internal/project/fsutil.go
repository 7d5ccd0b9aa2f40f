package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// durability says how hard writeFileAtomic makes a file survive a power
// loss. Only files that cannot be rebuilt need it (.env holds the secrets,
// fast-saas.yaml the selection); everything else is regenerated from those
// two by `env --regen`, and an fsync per file would make up most of init's
// run time.
type durability int

const (
	// volatile: no fsync (a generated, rebuildable file).
	volatile durability = iota
	// syncFile: fsync the content before the rename; the caller fsyncs the
	// directory once after its last rename there (syncDir).
	syncFile
	// syncFileAndDir: fsync the content, then the directory after the rename.
	syncFileAndDir
)

// writeFileAtomic replaces path with data: it writes a temporary file in the
// same directory and renames it over path, so readers see either the old or
// the new file, never half of one. The file gets exactly mode perm even when
// path existed with another mode (a fresh inode). A file that already has
// exactly data and perm is left alone; wrote reports whether it was not.
func writeFileAtomic(path string, data []byte, perm os.FileMode, d durability) (wrote bool, err error) {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Mode().Perm() == perm && st.Size() == int64(len(data)) {
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
			return false, nil
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600; Chmod sets the wanted mode regardless
	// of the umask.
	if err := tmp.Chmod(perm); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if d != volatile {
		if err := tmp.Sync(); err != nil {
			return false, fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if d == syncFileAndDir {
		syncDir(dir)
	}
	return true, nil
}

// syncDir makes the renames done in dir durable. Best effort: some
// filesystems cannot sync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// dirIsEmpty reports whether dir is missing or has no entries.
func dirIsEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if !st.IsDir() {
		return false, fmt.Errorf("%s is not a directory", dir)
	}
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}
