package catalog

import (
	"crypto/rand"
	"encoding/base64"

	"strings"
	"testing"
)

func allSecrets() []Secret {
	var out []Secret
	for _, m := range Default().Modules() {
		out = append(out, m.Secrets...)
	}
	return out
}

func TestGeneratedSecretsPassCheck(t *testing.T) {
	t.Parallel()
	env := map[string]string{}
	set, err := FillSecrets(allSecrets(), env, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != len(allSecrets()) {
		t.Errorf("FillSecrets set %d keys, want %d", len(set), len(allSecrets()))
	}
	for _, s := range allSecrets() {
		v := env[s.Key]
		if err := s.Check(v); err != nil {
			t.Errorf("%s: generated value fails Check: %v", s.Key, err)
		}
		if s.Format == FormatBcrypt && !s.Matches(v, env[s.DerivedFrom]) {
			t.Errorf("%s does not match %s", s.Key, s.DerivedFrom)
		}
		if strings.ContainsAny(v, "\n\r") {
			t.Errorf("%s: value spans lines", s.Key)
		}
	}
}

func TestSecretFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s       Secret
		wantLen int
		alpha   string
	}{
		{Secret{Key: "H", Format: FormatHex, Bytes: 32}, 64, "0123456789abcdef"},
		{Secret{Key: "IV", Format: FormatHex, Bytes: 16}, 32, "0123456789abcdef"},
		{Secret{Key: "P", Format: FormatAlnum, Bytes: 32}, 32, alnum},
		{Secret{Key: "B", Format: FormatBase64, Bytes: 32}, 44, alnum + "+/="},
	}
	for _, tt := range tests {
		v, err := tt.s.Generate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != tt.wantLen {
			t.Errorf("%s: len = %d, want %d", tt.s.Key, len(v), tt.wantLen)
		}
		if strings.Trim(v, tt.alpha) != "" {
			t.Errorf("%s: %q has characters outside %q", tt.s.Key, v, tt.alpha)
		}
		w, _ := tt.s.Generate(rand.Reader)
		if v == w {
			t.Errorf("%s: two generations are equal", tt.s.Key)
		}
	}
	rsaSecret := Secret{Key: "LAGO_RSA_PRIVATE_KEY", Format: FormatRSAPEMBase64}
	v, err := rsaSecret.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemText, err := base64.StdEncoding.DecodeString(v)
	if err != nil || !strings.HasPrefix(string(pemText), "-----BEGIN RSA PRIVATE KEY-----") {
		t.Errorf("RSA secret is not base64 of a PEM RSA key: %.40q", pemText)
	}
	if _, err := (Secret{Key: "H", Format: FormatBcrypt, DerivedFrom: "P"}).Generate(rand.Reader); err == nil {
		t.Error("a derived secret was generated on its own")
	}
}

// zeroReader yields zero bytes: it exercises the encoding paths
// deterministically (Check rejects the result as weak, as it should).
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestCheckRejects(t *testing.T) {
	t.Parallel()
	hex32 := Secret{Key: "K", Format: FormatHex, Bytes: 32}
	pw := Secret{Key: "P", Format: FormatAlnum, Bytes: 32}
	b64 := Secret{Key: "B", Format: FormatBase64, Bytes: 32}
	rsaS := Secret{Key: "R", Format: FormatRSAPEMBase64}
	hash := Secret{Key: "H", Format: FormatBcrypt, DerivedFrom: "P"}
	zeros, _ := hex32.Generate(zeroReader{})
	tests := []struct {
		name  string
		s     Secret
		value string
		want  string
	}{
		{"empty", hex32, "", "is empty"},
		{"placeholder", hex32, "changeme", "placeholder"},
		{"upstream sample", pw, "REPLACE_WITH_LONG_SECRET", "placeholder"},
		{"default key", pw, "rustfsadmin", "placeholder"},
		{"all zeros", hex32, zeros, "weak"},
		{"short hex", hex32, "abcdef", "must be 64 hex characters"},
		{"not hex", hex32, strings.Repeat("g1", 32), "must be hex"},
		{"short password", pw, "Abc123", "weak"},
		{"password with symbols", pw, strings.Repeat("aB3$", 8), "only letters and digits"},
		{"space", pw, " " + strings.Repeat("aB3", 11), "whitespace"},
		{"bad base64", b64, "*?*", "base64"},
		{"base64 wrong size", b64, base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!")), "must encode 32 bytes"},
		{"rsa not base64", rsaS, "-----BEGIN", "base64"},
		{"rsa no pem", rsaS, base64.StdEncoding.EncodeToString([]byte("hello")), "PEM"},
		{"not bcrypt", hash, "plain", "bcrypt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.s.Check(tt.value)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check(%q) = %v, want error containing %q", tt.value, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.s.Key) {
				t.Errorf("error %q does not name the key %s", err, tt.s.Key)
			}
		})
	}
}

func TestFillSecretsKeepsExisting(t *testing.T) {
	t.Parallel()
	secrets := []Secret{
		{Key: "HASH", Format: FormatBcrypt, DerivedFrom: "PW"},
		{Key: "PW", Format: FormatAlnum, Bytes: 32},
		{Key: "KEY", Format: FormatHex, Bytes: 32},
	}
	env := map[string]string{"KEY": "kept-as-is"}
	set, err := FillSecrets(secrets, env, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if env["KEY"] != "kept-as-is" {
		t.Errorf("existing KEY overwritten: %q", env["KEY"])
	}
	if strings.Join(set, ",") != "PW,HASH" {
		t.Errorf("set = %v, want [PW HASH]", set)
	}
	hash := env["HASH"]
	// Unchanged password: the hash (random salt) is kept byte-identical.
	if set, _ := FillSecrets(secrets, env, rand.Reader); len(set) != 0 || env["HASH"] != hash {
		t.Errorf("second fill changed %v", set)
	}
	// Rotated password: the hash follows.
	env["PW"] = "RotatedPasswordRotatedPassword12"
	if set, _ := FillSecrets(secrets, env, rand.Reader); strings.Join(set, ",") != "HASH" {
		t.Errorf("after rotation set = %v, want [HASH]", set)
	}
	if !secrets[0].Matches(env["HASH"], env["PW"]) {
		t.Error("hash does not match the rotated password")
	}
}

// The alphanumeric generator must be unbiased: over many draws every
// character appears, and no character dominates.
func TestRandomAlnumCoversAlphabet(t *testing.T) {
	t.Parallel()
	v, err := randomAlnum(rand.Reader, 62*200)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[rune]int{}
	for _, r := range v {
		counts[r]++
	}
	if len(counts) != len(alnum) {
		t.Fatalf("saw %d distinct characters, want %d", len(counts), len(alnum))
	}
	for r, n := range counts {
		// Expected 200 each; 5 standard deviations ≈ 70.
		if n < 100 || n > 300 {
			t.Errorf("character %q drawn %d times, want about 200", r, n)
		}
	}

}

// BenchmarkFillSecretsAll generates every secret of the full catalog (the
// rest of `init --yes`'s work). RSA key generation for Lago dominates.
func BenchmarkFillSecretsAll(b *testing.B) {
	secrets := allSecrets()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FillSecrets(secrets, map[string]string{}, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFillSecretsWithoutRSA(b *testing.B) {
	var secrets []Secret
	for _, s := range allSecrets() {
		if s.Format != FormatRSAPEMBase64 {
			secrets = append(secrets, s)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FillSecrets(secrets, map[string]string{}, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}
