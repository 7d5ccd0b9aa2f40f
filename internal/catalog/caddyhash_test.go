package catalog

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/testenv"
)

// Caddy's basic auth accepts the hash Derive makes (bcrypt at
// AdminHashCost): the right password gets through, a wrong one does not.
// (basicauth, as the generated Caddyfile spells it for every Caddy 2.)
func TestCaddyAcceptsAdminHash(t *testing.T) {
	t.Parallel()
	caddy := testenv.Tool(t, "caddy")
	pw, err := password("CADDY_ADMIN_PASSWORD", "").Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := Secret{Key: "CADDY_ADMIN_HASH", Format: FormatBcrypt, DerivedFrom: "CADDY_ADMIN_PASSWORD"}.Derive(pw)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	config := fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n}\nhttp://%s {\n\tbasicauth {\n\t\tadmin {$CADDY_ADMIN_HASH}\n\t}\n\trespond \"ok\"\n}\n", addr)
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddy, "run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile")
	cmd.Env = []string{"CADDY_ADMIN_HASH=" + hash, "HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	out, err := os.Create(filepath.Join(dir, "caddy.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "caddy.log"))
			t.Logf("caddy log:\n%s", log)
		}
	})
	status := func(user, pass string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(20 * time.Second)
	for status("admin", "") == 0 {
		select {
		case <-exited:
			t.Fatal("caddy exited")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("caddy did not start listening")
		}
	}
	if got := status("admin", pw); got != http.StatusOK {
		t.Errorf("right password: status %d, want 200", got)
	}
	if got := status("admin", pw+"x"); got != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", got)
	}
}
