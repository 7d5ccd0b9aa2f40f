package catalog

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/testenv"
)

// runLagoKeys runs the lago-keys job's script as the container would
// (Compose's $$ unescaped), with the key directory moved to dir.
func runLagoKeys(t *testing.T, dir, envKey string) (stdout, stderr string, err error) {
	t.Helper()
	var script string
	for _, c := range lagoModule().Containers {
		if c.Name == "lago-keys" {
			script = c.Entrypoint[2]
		}
	}
	if script == "" {
		t.Fatal("lago module has no lago-keys job")
	}
	script = strings.ReplaceAll(strings.ReplaceAll(script, "$$", "$"), lagoKeyDir, dir)
	cmd := exec.Command(testenv.Tool(t, "sh"), "-c", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if envKey != "" {
		cmd.Env = append(cmd.Env, "LAGO_RSA_PRIVATE_KEY="+envKey)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func pkcs1Key(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

// The lago-keys job, run for real with the tools of the Lago image
// (openssl, base64, cmp): it generates a key once and keeps it, installs the
// .env key of an older project instead, and refuses a malformed one.
func TestLagoKeysJob(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "openssl")
	testenv.Tool(t, "base64")
	testenv.Tool(t, "cmp")
	secret := Secret{Key: "LAGO_RSA_PRIVATE_KEY", Format: FormatRSAPEMBase64, FirstBoot: true}

	t.Run("generate once", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if _, stderr, err := runLagoKeys(t, dir, ""); err != nil {
			t.Fatalf("job failed: %v\n%s", err, stderr)
		}
		path := filepath.Join(dir, "private.pem")
		first, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("private.pem mode %v, want 0600", st.Mode().Perm())
		}
		// Lago decodes LAGO_RSA_PRIVATE_KEY as base64 PEM; the generated file is
		// such a PEM, RSA of at least 2048 bits.
		if err := secret.Check(base64.StdEncoding.EncodeToString(first)); err != nil {
			t.Errorf("generated key: %v", err)
		}
		if _, err := os.Stat(path + ".new"); !os.IsNotExist(err) {
			t.Errorf("temporary file left behind: %v", err)
		}
		out, stderr, err := runLagoKeys(t, dir, "")
		if err != nil {
			t.Fatalf("second run failed: %v\n%s", err, stderr)
		}
		if again, _ := os.ReadFile(path); !bytes.Equal(again, first) {
			t.Error("second run replaced the key")
		}
		if !strings.Contains(out, "present") {
			t.Errorf("second run output %q, want it to say the key is present", out)
		}
	})

	t.Run("install the .env key", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		old := pkcs1Key(t)
		if _, stderr, err := runLagoKeys(t, dir, old); err != nil {
			t.Fatalf("job failed: %v\n%s", err, stderr)
		}
		want, _ := base64.StdEncoding.DecodeString(old)
		got, err := os.ReadFile(filepath.Join(dir, "private.pem"))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("private.pem is not the .env key (err %v)", err)
		}
		// Same key again: quiet. Another key: kept, with a warning.
		if _, stderr, err := runLagoKeys(t, dir, old); err != nil || stderr != "" {
			t.Errorf("rerun with the same key: err %v, stderr %q", err, stderr)
		}
		_, stderr, err := runLagoKeys(t, dir, pkcs1Key(t))
		if err != nil {
			t.Fatalf("rerun with another key failed: %v", err)
		}
		if !strings.Contains(stderr, "differs") {
			t.Errorf("rerun with another key: stderr %q, want a warning", stderr)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "private.pem")); !bytes.Equal(got, want) {
			t.Error("a different .env key replaced the installed one")
		}
	})

	t.Run("refuse a malformed key", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		for _, bad := range []string{base64.StdEncoding.EncodeToString([]byte("not a key")), "***"} {
			if _, _, err := runLagoKeys(t, dir, bad); err == nil {
				t.Errorf("job accepted %q", bad)
			}
			if _, err := os.Stat(filepath.Join(dir, "private.pem")); !os.IsNotExist(err) {
				t.Fatalf("malformed key %q was installed", bad)
			}
		}
	})
}
