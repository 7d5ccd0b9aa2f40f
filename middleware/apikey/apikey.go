// Package apikey implements the fast-saas API key format.
//
// A key is a prefix naming its kind ("fsp_" for platform admin keys, "fsk_"
// for tenant keys), 32 random bytes in base62 (always 43 characters,
// left-padded with '0'), and a CRC-32 (IEEE) checksum of prefix+body in
// base62 (always 6 characters):
//
//	fsk_0u8cV0S5aWZ7...43 chars...Xq9 + 2bT1Zq
//
// The checksum lets secret scanners and the server reject a mistyped or
// truncated key without a database lookup. It is not a security measure: the
// 256 random bits are. Keys are stored only as their SHA-256 (Hash); 256
// random bits make a slow password hash unnecessary, so verification is one
// indexed lookup. The first 12 characters are kept for display.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
)

// Kind is the kind of principal a key authenticates.
type Kind int

// Key kinds. The zero Kind is invalid.
const (
	KindPlatform Kind = iota + 1 // platform admin key, prefix "fsp_"
	KindTenant                   // tenant key, prefix "fsk_"
)

// Prefixes of the two key kinds.
const (
	PlatformPrefix = "fsp_"
	TenantPrefix   = "fsk_"
)

// Lengths of the parts of a key.
const (
	prefixLen   = 4
	bodyLen     = 43 // ceil(256 / log2(62))
	checksumLen = 6  // ceil(32 / log2(62))
	// Len is the length of every valid key.
	Len = prefixLen + bodyLen + checksumLen
	// DisplayLen is how many leading characters are kept for display.
	DisplayLen = 12
)

// Errors returned by Parse. They never include the key itself.
var (
	ErrMalformed   = errors.New("apikey: malformed key")
	ErrBadChecksum = errors.New("apikey: checksum mismatch")
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// digit maps a byte to its base62 value, or 0xff when it is not a base62 digit.
var digit = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// String returns "platform" or "tenant".
func (k Kind) String() string {
	switch k {
	case KindPlatform:
		return "platform"
	case KindTenant:
		return "tenant"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Prefix returns the key prefix of the kind, or "" for an invalid kind.
func (k Kind) Prefix() string {
	switch k {
	case KindPlatform:
		return PlatformPrefix
	case KindTenant:
		return TenantPrefix
	}
	return ""
}

// Key is a freshly generated key. Secret is shown to its owner once and
// never stored; Hash and Display are what a store keeps.
type Key struct {
	Kind    Kind
	Secret  string   // the full key, e.g. "fsk_…"
	Hash    [32]byte // SHA-256 of Secret
	Display string   // the first DisplayLen characters of Secret
}

// Generate returns a new random key of the given kind.
func Generate(kind Kind) (Key, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Key{}, fmt.Errorf("generate api key: %w", err)
	}
	return fromBytes(kind, raw)
}

// fromBytes builds the key for 32 given bytes (split out for tests).
func fromBytes(kind Kind, raw [32]byte) (Key, error) {
	prefix := kind.Prefix()
	if prefix == "" {
		return Key{}, fmt.Errorf("generate api key: invalid kind %d", int(kind))
	}
	b := make([]byte, 0, Len)
	b = append(b, prefix...)
	b = appendBase62(b, new(big.Int).SetBytes(raw[:]), bodyLen)
	b = appendBase62(b, new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE(b))), checksumLen)
	s := string(b)
	return Key{Kind: kind, Secret: s, Hash: Hash(s), Display: s[:DisplayLen]}, nil
}

// appendBase62 appends n in base62, left-padded with '0' to width digits.
func appendBase62(dst []byte, n *big.Int, width int) []byte {
	var buf [bodyLen]byte
	base := big.NewInt(62)
	mod := new(big.Int)
	i := width
	for n.Sign() > 0 && i > 0 {
		n.DivMod(n, base, mod)
		i--
		buf[i] = alphabet[mod.Int64()]
	}
	for i > 0 {
		i--
		buf[i] = '0'
	}
	return append(dst, buf[:width]...)
}

// Parse checks the shape and checksum of s and returns its kind. It does no
// lookup and allocates nothing, so it is safe to call on every request
// before touching a store. Errors never contain s.
func Parse(s string) (Kind, error) {
	if len(s) != Len {
		return 0, ErrMalformed
	}
	var kind Kind
	switch s[:prefixLen] {
	case PlatformPrefix:
		kind = KindPlatform
	case TenantPrefix:
		kind = KindTenant
	default:
		return 0, ErrMalformed
	}
	for i := prefixLen; i < prefixLen+bodyLen; i++ {
		if digit[s[i]] == 0xff {
			return 0, ErrMalformed
		}
	}
	var sum uint64
	for i := prefixLen + bodyLen; i < Len; i++ {
		d := digit[s[i]]
		if d == 0xff {
			return 0, ErrMalformed
		}
		sum = sum*62 + uint64(d)
	}
	if sum != uint64(crc32.ChecksumIEEE([]byte(s[:prefixLen+bodyLen]))) {
		return 0, ErrBadChecksum
	}
	return kind, nil
}

// LooksLikeKey reports whether s starts with a key prefix, so a caller can
// tell "an API key (maybe malformed)" from "some other kind of token".
func LooksLikeKey(s string) bool {
	return len(s) >= prefixLen && (s[:prefixLen] == PlatformPrefix || s[:prefixLen] == TenantPrefix)
}

// Hash returns the SHA-256 of a key: the only form in which keys are stored.
func Hash(s string) [32]byte {
	if len(s) <= Len {
		var buf [Len]byte // keys fit on the stack: no allocation on the hot path
		n := copy(buf[:], s)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(s))
}
