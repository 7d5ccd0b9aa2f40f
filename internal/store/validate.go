package store

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Validation shared by every backend, so both reject the same input with the
// same typed error before any SQL runs.

// ValidSlug reports whether s is a well-formed tenant slug: 1 to 63
// lowercase letters, digits and hyphens, starting and ending with a letter
// or digit (a DNS label). Written out rather than as the regular expression
// ^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$, whose compiled form (the bounded
// repetition unrolled 61 times) cost every command of the binary ~100 KB of
// heap at start-up.
func ValidSlug(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// ValidID reports whether s is a UUID as the store issues them. Calls given
// a malformed id answer ErrNotFound: no object can have it.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// NewID returns a fresh UUIDv7 string (time-ordered, so ids sort by creation).
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// NewIDs returns n fresh UUIDv7 strings at once, for the events of an
// ingested batch: one read of random bytes and one string for all of them
// instead of n of each (NewID was 7% of serve's CPU per ingested batch).
// They share the current millisecond (one more per 4,096) and count up in
// the 12 bits after it, so they sort in order among themselves; the 62
// random bits keep them unique.
func NewIDs(n int) []string {
	if n <= 0 {
		return nil
	}
	random := make([]byte, 16*n)
	_, _ = rand.Read(random) // crypto/rand.Read does not fail (Go 1.24 on)
	text := make([]byte, 36*n)
	ms := uint64(time.Now().UnixMilli())
	for i := range n {
		u := random[16*i : 16*i+16]
		at := ms + uint64(i>>12)
		for j := range 6 { // 48-bit Unix milliseconds, big-endian
			u[j] = byte(at >> (40 - 8*j))
		}
		u[6] = 0x70 | byte(i>>8)&0x0f // version 7, then the counter's high bits
		u[7] = byte(i)
		u[8] = u[8]&0x3f | 0x80 // the RFC 9562 variant
		t := text[36*i : 36*i+36]
		hex.Encode(t[0:8], u[0:4])
		hex.Encode(t[9:13], u[4:6])
		hex.Encode(t[14:18], u[6:8])
		hex.Encode(t[19:23], u[8:10])
		hex.Encode(t[24:36], u[10:16])
		t[8], t[13], t[18], t[23] = '-', '-', '-', '-'
	}
	all := string(text)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = all[36*i : 36*i+36]
	}
	return ids
}

// PlanSet validates plan ids against the configured plan table. The table
// itself lives with the entitlements; the store only needs the ids.
type PlanSet []string

// DefaultPlans are the plan ids of the default plan table.
var DefaultPlans = PlanSet{"free", "starter", "pro", "enterprise"}

// Check returns nil when plan is known, ErrInvalid otherwise.
func (ps PlanSet) Check(plan string) error {
	if slices.Contains(ps, plan) {
		return nil
	}
	return fmt.Errorf("%w: plan %q", ErrInvalid, plan)
}

// NormalizeJSONObject returns raw compacted, or {} when empty; it must be a
// JSON object. (Compacting keeps key order; Postgres jsonb normalizes it.)
func NormalizeJSONObject(field string, raw json.RawMessage) (string, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return "{}", nil
	}
	// Postgres rejects invalid UTF-8 and \u0000 in jsonb: refuse them on every backend.
	if trimmed[0] != '{' || !utf8.Valid(trimmed) || bytes.Contains(trimmed, []byte(`\u0000`)) {
		return "", fmt.Errorf("%w: %s must be a JSON object", ErrInvalid, field)
	}
	// Compact validates as it goes (one scan instead of json.Valid's and
	// its own; this runs for every usage event at ingest).
	var buf bytes.Buffer
	buf.Grow(len(trimmed))
	if err := json.Compact(&buf, trimmed); err != nil {
		return "", fmt.Errorf("%w: %s must be a JSON object: %v", ErrInvalid, field, err)
	}
	return buf.String(), nil
}

// CheckText rejects empty (when required) or over-long values.
func CheckText(field, v string, required bool, max int) error {
	if required && strings.TrimSpace(v) == "" {
		return fmt.Errorf("%w: %s is required", ErrInvalid, field)
	}
	if len(v) > max {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, field, max)
	}
	return CheckUTF8(field, v)
}

// CheckUTF8 rejects text Postgres cannot store (invalid UTF-8, NUL), so
// both backends refuse the same input.
func CheckUTF8(field, v string) error {
	if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
		return fmt.Errorf("%w: %s is not valid UTF-8 text", ErrInvalid, field)
	}
	return nil
}

// CheckEmail does the minimal shape check; deliverability is not the store's business.
func CheckEmail(email string) error {
	at := strings.IndexByte(email, '@')
	if at <= 0 || at == len(email)-1 || len(email) > 320 || strings.ContainsAny(email, " \t\r\n") || CheckUTF8("email", email) != nil {
		return fmt.Errorf("%w: email %q", ErrInvalid, email)
	}
	return nil
}

// CheckHash requires a SHA-256 digest.
func CheckHash(h []byte) error {
	if len(h) != HashLen {
		return fmt.Errorf("%w: key hash must be %d bytes, got %d", ErrInvalid, HashLen, len(h))
	}
	return nil
}

// CheckQuantity rejects NaN and infinities.
func CheckQuantity(q float64) error {
	if math.IsNaN(q) || math.IsInf(q, 0) {
		return fmt.Errorf("%w: quantity %v", ErrInvalid, q)
	}
	return nil
}

// PageLimit returns the effective limit of p: 0 → DefaultLimit; outside 1–MaxLimit → ErrInvalid.
func PageLimit(p Page) (int, error) {
	switch {
	case p.Limit == 0:
		return DefaultLimit, nil
	case p.Limit < 1 || p.Limit > MaxLimit:
		return 0, fmt.Errorf("%w: limit %d (1-%d)", ErrInvalid, p.Limit, MaxLimit)
	}
	return p.Limit, nil
}

// EncodeCursor turns the sort key of the last item of a page into an opaque cursor.
func EncodeCursor(key ...string) string {
	b, _ := json.Marshal(key)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a cursor made by EncodeCursor with n key parts.
// "" is the first page (nil, nil); anything malformed is ErrInvalid.
func DecodeCursor(cursor string, n int) ([]string, error) {
	if cursor == "" {
		return nil, nil
	}
	bad := fmt.Errorf("%w: cursor", ErrInvalid)
	if len(cursor) > 512 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, bad
	}
	var key []string
	if err := json.Unmarshal(b, &key); err != nil || len(key) != n {
		return nil, bad
	}
	for _, k := range key {
		if k == "" {
			return nil, bad
		}
	}
	return key, nil
}
