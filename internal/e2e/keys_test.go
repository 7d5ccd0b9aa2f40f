package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/client"
)

// TestKeysCreatePlatform: `fast-saas keys create-platform` mints a key in
// the same store that a running server then accepts.
func TestKeysCreatePlatform(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startIn(t, dir, "DATABASE_URL=", "REDIS_URL=")
	out, err := exec.Command(binary, "keys", "create-platform", "--data-dir", dir, "--name", "ops").Output()
	if err != nil {
		t.Fatalf("keys create-platform: %v", err)
	}
	key := strings.TrimSpace(string(out))
	if !keyRE.MatchString(key) || key == s.platformKey {
		t.Fatalf("printed %q, want one new fsp_ key and nothing else", out)
	}
	if _, err := client.New(s.base, key).ListTenants(context.Background(), client.Page{}); err != nil {
		t.Fatalf("new platform key refused: %v", err)
	}
}
