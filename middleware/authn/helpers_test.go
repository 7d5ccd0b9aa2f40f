package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/fast-saas/fast-saas/middleware/apikey"
)

const (
	testAudience = "https://api.example.com"
)

// fakeClock is a settable clock shared by the authenticator and the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signer is one signing key of the fake identity provider.
type signer struct {
	kid    string
	alg    string
	key    any // *ecdsa.PrivateKey or *rsa.PrivateKey
	public any
}

var (
	keysOnce sync.Once
	ecKeys   [3]*ecdsa.PrivateKey
	rsaKey   *rsa.PrivateKey
)

// testKeys generates the (slow) keys once per test binary.
func testKeys(t testing.TB) ([3]*ecdsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		for i := range ecKeys {
			k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			if err != nil {
				panic(err)
			}
			ecKeys[i] = k
		}
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return ecKeys, rsaKey
}

func ecSigner(t testing.TB, i int, kid string) signer {
	ec, _ := testKeys(t)
	return signer{kid: kid, alg: "ES384", key: ec[i], public: &ec[i].PublicKey}
}

func rsaSigner(t testing.TB, kid string) signer {
	_, r := testKeys(t)
	return signer{kid: kid, alg: "RS256", key: r, public: &r.PublicKey}
}

// idp is a fake Logto: it serves /oidc/jwks from a replaceable key list and
// can be switched off.
type idp struct {
	t       testing.TB
	srv     *httptest.Server
	mu      sync.Mutex
	signers []signer
	down    atomic.Bool
	hits    atomic.Int64
}

func newIDP(t testing.TB, signers ...signer) *idp {
	t.Helper()
	p := &idp{t: t, signers: signers}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oidc/jwks", func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		if p.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		var set jwkset.JWKSMarshal
		for _, s := range p.signers {
			j, err := jwkset.NewJWKFromKey(s.public, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
				KID: s.kid, ALG: jwkset.ALG(s.alg), USE: jwkset.UseSig}})
			if err != nil {
				p.t.Errorf("jwk: %v", err)
				return
			}
			set.Keys = append(set.Keys, j.Marshal())
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) setSigners(s ...signer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signers = s
}

func (p *idp) issuer() string { return p.srv.URL + "/oidc" }

// claims returns valid claims for this idp at now.
func (p *idp) claims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":             p.issuer(),
		"aud":             testAudience,
		"sub":             "user-123",
		"iat":             now.Unix(),
		"exp":             now.Add(time.Hour).Unix(),
		"scope":           "read write",
		"organization_id": "org-1",
		"client_id":       "app-1",
		"email":           "ada@example.com",
	}
}

func sign(t testing.TB, s signer, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(s.alg), claims)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	out, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return out
}

// fakeStore is a counting in-memory KeyStore + KeyToucher.
type fakeStore struct {
	mu      sync.Mutex
	recs    map[[32]byte]KeyRecord
	err     error
	calls   atomic.Int64
	touched chan string
}

func newStore() *fakeStore {
	return &fakeStore{recs: map[[32]byte]KeyRecord{}, touched: make(chan string, 100)}
}

func (s *fakeStore) LookupKey(_ context.Context, h [32]byte) (KeyRecord, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return KeyRecord{}, s.err
	}
	r, ok := s.recs[h]
	if !ok {
		return KeyRecord{}, ErrKeyNotFound
	}
	return r, nil
}

func (s *fakeStore) Touch(_ context.Context, id string, _ time.Time) error {
	s.touched <- id
	return nil
}

// add creates a key of the given kind and stores the record edited by mod.
func (s *fakeStore) add(t testing.TB, kind apikey.Kind, mod func(*KeyRecord)) (string, KeyRecord) {
	t.Helper()
	k, err := apikey.Generate(kind)
	if err != nil {
		t.Fatal(err)
	}
	rec := KeyRecord{ID: "key-" + k.Display, Kind: kind, Hash: k.Hash, Scopes: []string{"read"}, CreatedBy: "user-1"}
	if kind == apikey.KindTenant {
		rec.TenantID = "tenant-1"
	}
	if mod != nil {
		mod(&rec)
	}
	s.set(rec)
	return k.Secret, rec
}

func (s *fakeStore) set(rec KeyRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[rec.Hash] = rec
}

func (s *fakeStore) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// keyOnlyStore hides Touch, for tests that do not want a toucher.
type keyOnlyStore struct{ s *fakeStore }

func (k keyOnlyStore) LookupKey(ctx context.Context, h [32]byte) (KeyRecord, error) {
	return k.s.LookupKey(ctx, h)
}

func newAuth(t testing.TB, opts Options) *Authenticator {
	t.Helper()
	a, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := FromContext(r.Context())
		if !ok {
			w.WriteHeader(http.StatusNoContent) // anonymous
			return
		}
		_, _ = w.Write([]byte(p.Kind.String() + ":" + p.Subject))
	})
}

func serve(h http.Handler, authorization string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}
