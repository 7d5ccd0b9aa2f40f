package catalog

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// SecretFormat is the shape of a generated secret value.
type SecretFormat string

// Secret formats. Each matches what the consuming upstream expects
// (spec/upstreams.md §0.2).
const (
	// FormatHex is Bytes random bytes as lowercase hex (2×Bytes characters),
	// e.g. `openssl rand -hex 32`.
	FormatHex SecretFormat = "hex"
	// FormatBase64 is Bytes random bytes in standard base64 with padding.
	FormatBase64 SecretFormat = "base64"
	// FormatAlnum is a password of Bytes characters from [A-Za-z0-9]: safe
	// inside URLs (DSNs), shells and YAML without quoting.
	FormatAlnum SecretFormat = "alnum"
	// FormatRSAPEMBase64 is an RSA private key of at least 2048 bits, PEM
	// (PKCS#1 or PKCS#8), base64-encoded onto one line (Lago's
	// LAGO_RSA_PRIVATE_KEY). fast-saas only checks such values: the key is
	// made inside the stack on first boot (a FirstBoot secret).
	FormatRSAPEMBase64 SecretFormat = "rsa-pem-base64"
	// FormatBcrypt is the bcrypt hash of the secret named by DerivedFrom
	// (Caddy basic auth). It is derived, never generated on its own.
	FormatBcrypt SecretFormat = "bcrypt"
)

// Secret is one .env key whose value fast-saas generates.
type Secret struct {
	Key         string
	Format      SecretFormat
	Bytes       int // random bytes (hex, base64) or characters (alnum)
	Description string
	// DerivedFrom names the secret this one is computed from (FormatBcrypt).
	DerivedFrom string
	// FirstBoot marks a secret the stack creates itself on its first start
	// (a one-shot job writes it into a volume), so fast-saas never generates
	// or rotates it: a new project leaves the key empty, `env` checks the
	// value only when one is set, and a set value is handed to that job,
	// which installs it instead of generating one (projects created before
	// the job existed keep their key).
	FirstBoot bool
}

// AdminHashCost is the bcrypt cost of the Caddy basic-auth hash: bcrypt's
// minimum. The work factor only slows guessing of low-entropy passwords;
// ours is 32 random alphanumerics (~190 bits, and `env` flags a shorter
// one), and the hash sits in .env next to the password it protects, so a
// higher cost buys nothing while every step doubles the time `init` spends
// hashing and Caddy spends verifying (2.6 ms at this cost, 9.5 ms at 6 on
// the 2-core development machine under load).
// Hashes made at another cost keep matching (the cost is part of the hash).
const AdminHashCost = bcrypt.MinCost

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// ErrFirstBoot is wrapped by the error Generate returns for a FirstBoot
// secret.
var ErrFirstBoot = errors.New("created by the stack on first boot, not by fast-saas")

// Generate returns a fresh value in the secret's format, reading randomness
// from rand (crypto/rand.Reader in production). Derived secrets cannot be
// generated on their own (use Derive), nor can FirstBoot ones.
func (s Secret) Generate(rand io.Reader) (string, error) {
	if s.FirstBoot {
		return "", fmt.Errorf("generate %s: %w", s.Key, ErrFirstBoot)
	}
	switch s.Format {
	case FormatHex:
		b, err := randomBytes(rand, s.Bytes)
		if err != nil {
			return "", fmt.Errorf("generate %s: %w", s.Key, err)
		}
		return hex.EncodeToString(b), nil
	case FormatBase64:
		b, err := randomBytes(rand, s.Bytes)
		if err != nil {
			return "", fmt.Errorf("generate %s: %w", s.Key, err)
		}
		return base64.StdEncoding.EncodeToString(b), nil
	case FormatAlnum:
		return randomAlnum(rand, s.Bytes)
	case FormatRSAPEMBase64:
		return "", fmt.Errorf("generate %s: an RSA key is made inside the stack (mark the secret FirstBoot)", s.Key)
	case FormatBcrypt:
		return "", fmt.Errorf("generate %s: derived from %s, use Derive", s.Key, s.DerivedFrom)
	}
	return "", fmt.Errorf("generate %s: unknown format %q", s.Key, s.Format)
}

// Derive computes a derived secret (FormatBcrypt) from its source value.
func (s Secret) Derive(source string) (string, error) {
	if s.Format != FormatBcrypt {
		return "", fmt.Errorf("derive %s: format %q is not derived", s.Key, s.Format)
	}
	if source == "" {
		return "", fmt.Errorf("derive %s: %s is empty", s.Key, s.DerivedFrom)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(source), AdminHashCost)
	if err != nil {
		return "", fmt.Errorf("derive %s: %w", s.Key, err)
	}
	matched.Store(matchKey{string(h), source}, true)
	return string(h), nil
}

// Matches reports whether a derived value still corresponds to source, so a
// rotated password gets a new hash while an unchanged one keeps its hash.
func (s Secret) Matches(value, source string) bool {
	if s.Format != FormatBcrypt {
		return false
	}
	k := matchKey{value, source}
	if ok, seen := matched.Load(k); seen {
		return ok.(bool)
	}
	ok := bcrypt.CompareHashAndPassword([]byte(value), []byte(source)) == nil
	matched.Store(k, ok)
	return ok
}

// matched remembers the bcrypt verdicts of this process: a bcrypt
// comparison costs as much as hashing, and one command often asks twice
// about the same pair (init derives the hash, then reports on .env; `env
// --regen` keeps the hash, then checks .env). The answer for a (hash,
// password) pair never changes, so remembering it changes no result.
var matched sync.Map // matchKey → bool

type matchKey struct{ hash, source string }

func randomBytes(rand io.Reader, n int) ([]byte, error) {
	if n <= 0 {
		return nil, errors.New("secret length must be positive")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, fmt.Errorf("read random bytes: %w", err)
	}
	return b, nil
}

// randomAlnum draws n characters uniformly from alnum by rejection sampling
// (bytes ≥ 248 are discarded so every character is equally likely).
func randomAlnum(rand io.Reader, n int) (string, error) {
	if n <= 0 {
		return "", errors.New("secret length must be positive")
	}
	const limit = 256 - 256%len(alnum)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alnum[int(b)%len(alnum)])
			}
		}
	}
	return string(out), nil
}

// placeholderParts are fragments of sample values shipped in upstream files
// ("changeme", "your-secret-here", "REPLACE_WITH_LONG_SECRET"); they are long
// or punctuated enough that a random value never contains them.
var placeholderParts = []string{"changeme", "change_me", "change-me", "replace_with", "replace-me", "your-", "your_", "placeholder"}

// placeholderValues are whole default values seen in upstream files.
var placeholderValues = []string{
	"example", "mysecret", "mysalt", "miniosecret", "myredissecret", "rustfsadmin",
	"secret", "password", "admin", "todo", "test",
}

// Check reports why value is not an acceptable value for s: empty, a known
// placeholder, weak (too short or one repeated character) or in the wrong
// format. It returns nil for a good value.
func (s Secret) Check(value string) error {
	if value == "" {
		return fmt.Errorf("%s is empty", s.Key)
	}
	if strings.TrimSpace(value) != value {
		return fmt.Errorf("%s has leading or trailing whitespace", s.Key)
	}
	switch s.Format {
	case FormatBcrypt:
		if _, err := bcrypt.Cost([]byte(value)); err != nil {
			return fmt.Errorf("%s is not a bcrypt hash", s.Key)
		}
		return nil
	case FormatRSAPEMBase64:
		return checkRSA(s.Key, value)
	}
	lower := strings.ToLower(value)
	for _, p := range placeholderParts {
		if strings.Contains(lower, p) {
			return fmt.Errorf("%s is a placeholder value (contains %q); generate a real one with `fast-saas env rotate %s`", s.Key, p, s.Key)
		}
	}
	if slices.Contains(placeholderValues, lower) {
		return fmt.Errorf("%s is a placeholder value (%q); generate a real one with `fast-saas env rotate %s`", s.Key, value, s.Key)
	}
	if strings.Count(value, value[:1]) == len(value) {
		return fmt.Errorf("%s is weak: one repeated character", s.Key)
	}
	switch s.Format {
	case FormatHex:
		if len(value) != 2*s.Bytes {
			return fmt.Errorf("%s must be %d hex characters, got %d", s.Key, 2*s.Bytes, len(value))
		}
		if _, err := hex.DecodeString(value); err != nil {
			return fmt.Errorf("%s must be hex (0-9, a-f)", s.Key)
		}
	case FormatBase64:
		b, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return fmt.Errorf("%s must be standard base64", s.Key)
		}
		if len(b) != s.Bytes {
			return fmt.Errorf("%s must encode %d bytes, got %d", s.Key, s.Bytes, len(b))
		}
	case FormatAlnum:
		if len(value) < s.Bytes {
			return fmt.Errorf("%s is weak: %d characters, want at least %d", s.Key, len(value), s.Bytes)
		}
		for _, r := range value {
			if !strings.ContainsRune(alnum, r) {
				return fmt.Errorf("%s must contain only letters and digits (it is used inside URLs)", s.Key)
			}
		}
	default:
		return fmt.Errorf("%s: unknown format %q", s.Key, s.Format)
	}
	return nil
}

func checkRSA(key, value string) error {
	der, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return fmt.Errorf("%s must be a base64-encoded PEM key on one line", key)
	}
	block, _ := pem.Decode(der)
	if block == nil {
		return fmt.Errorf("%s does not contain a PEM block", key)
	}
	var priv *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		var k any
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		if err == nil {
			var ok bool
			if priv, ok = k.(*rsa.PrivateKey); !ok {
				return fmt.Errorf("%s is not an RSA key", key)
			}
		}
	default:
		return fmt.Errorf("%s has PEM type %q, want an RSA private key", key, block.Type)
	}
	if err != nil {
		return fmt.Errorf("%s: parse RSA key: %w", key, err)
	}
	if priv.N.BitLen() < 2048 {
		return fmt.Errorf("%s is weak: %d-bit RSA, want 2048", key, priv.N.BitLen())
	}
	return nil
}

// FillSecrets sets every missing or invalid-derived secret of secrets in env,
// generating values from rand. Existing valid values are never touched (a
// derived hash is recomputed only when it no longer matches its source), and
// FirstBoot secrets are left as they are, set or not.
// It returns the keys it set, in order.
func FillSecrets(secrets []Secret, env map[string]string, rand io.Reader) ([]string, error) {
	var set []string
	var derived []Secret
	for _, s := range secrets {
		if s.FirstBoot {
			continue
		}
		if s.DerivedFrom != "" {
			derived = append(derived, s)
			continue
		}
		if env[s.Key] != "" {
			continue
		}
		v, err := s.Generate(rand)
		if err != nil {
			return set, err
		}
		env[s.Key] = v
		set = append(set, s.Key)
	}
	for _, s := range derived {
		src := env[s.DerivedFrom]
		if cur := env[s.Key]; cur != "" && s.Matches(cur, src) {
			continue
		}
		v, err := s.Derive(src)
		if err != nil {
			return set, err
		}
		env[s.Key] = v
		set = append(set, s.Key)
	}
	return set, nil
}
