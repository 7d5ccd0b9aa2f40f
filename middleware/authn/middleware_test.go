package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/middleware/apikey"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := newStore()
	es := ecSigner(t, 0, "ec-1")
	p := newIDP(t, es)
	a := newAuth(t, Options{LogtoEndpoint: p.srv.URL, Audience: testAudience, Keys: keyOnlyStore{s}, Now: clock.Now})
	key, rec := s.add(t, apikey.KindTenant, nil)
	jwtTok := sign(t, es, p.claims(clock.Now()))

	tests := []struct {
		name       string
		header     string
		optional   bool
		wantStatus int
		wantBody   string // for 2xx
		wantAuth   string // WWW-Authenticate
		wantCode   string // problem code
	}{
		{"api key", "Bearer " + key, false, 200, "tenant_key:" + rec.ID, "", ""},
		{"jwt", "Bearer " + jwtTok, false, 200, "user:user-123", "", ""},
		{"scheme is case-insensitive", "bearer " + key, false, 200, "tenant_key:" + rec.ID, "", ""},
		{"missing", "", false, 401, "", `Bearer realm="fast-saas"`, "unauthorized"},
		{"missing, optional", "", true, 204, "", "", ""},
		{"basic scheme", "Basic dXNlcjpwYXNz", false, 401, "",
			`Bearer realm="fast-saas", error="invalid_request", error_description="the Authorization header must be: Bearer <token>"`, "unauthorized"},
		{"empty bearer", "Bearer ", false, 401, "", "", "unauthorized"},
		{"two tokens", "Bearer a b", false, 401, "", "", "unauthorized"},
		{"bad key", "Bearer fsk_nope", false, 401, "",
			`Bearer realm="fast-saas", error="invalid_token", error_description="malformed api key"`, "invalid_token"},
		{"bad key, optional", "Bearer fsk_nope", true, 401, "", "", "invalid_token"},
		{"opaque token", "Bearer abcdef", false, 401, "",
			`Bearer realm="fast-saas", error="invalid_token", error_description="unrecognized token format"`, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := a.Middleware(okHandler())
			if tt.optional {
				h = a.Optional(okHandler())
			}
			rec := serve(h, tt.header)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus < 300 {
				if got := rec.Body.String(); got != tt.wantBody {
					t.Errorf("body = %q, want %q", got, tt.wantBody)
				}
				return
			}
			if got := rec.Header().Get("WWW-Authenticate"); tt.wantAuth != "" && got != tt.wantAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantAuth)
			}
			if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="fast-saas"`) {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
			}
			var body struct{ Code, Type string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if body.Code != tt.wantCode {
				t.Errorf("problem code = %q, want %q", body.Code, tt.wantCode)
			}
			if strings.Contains(rec.Body.String(), key) || strings.Contains(rec.Body.String(), jwtTok) {
				t.Error("response echoes the token")
			}
		})
	}
}

func TestDisabledMethods(t *testing.T) {
	t.Parallel()
	a := newAuth(t, Options{})
	for _, tok := range []string{"fsk_" + strings.Repeat("0", 49), "a.b.c"} {
		if _, err := a.Authenticate(context.Background(), tok); err == nil {
			t.Errorf("zero Options accepted %q", tok)
		}
	}
}

// FuzzAuthenticate feeds arbitrary Authorization headers through the
// middleware: nothing may panic, be accepted, or answer anything but 401.
func FuzzAuthenticate(f *testing.F) {
	clock := newClock()
	s := newStore()
	es := ecSigner(f, 0, "ec-1")
	p := newIDP(f, es)
	a := newAuth(f, Options{LogtoEndpoint: p.srv.URL, Audience: testAudience, Keys: keyOnlyStore{s}, Now: clock.Now})
	valid := sign(f, es, p.claims(clock.Now()))
	key, _ := s.add(f, apikey.KindTenant, nil)
	h := a.Middleware(okHandler())
	f.Add("Bearer " + valid[:len(valid)-2])
	f.Add("Bearer " + key[:len(key)-1] + "x")
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("bearer fsp_")
	f.Add("Basic x")
	f.Add("Bearer a.b.c")
	f.Fuzz(func(t *testing.T, header string) {
		if header == "Bearer "+valid || header == "Bearer "+key {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{header}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if token, _ := bearerToken(r); token == valid || token == key {
			return // the fuzzer rediscovered a valid credential with other spacing
		}
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("header %q: status %d, want 401; body %s", header, rec.Code, rec.Body)
		}
	})
}

func ExampleAuthenticator_Middleware() {
	// A KeyStore over your database; here an in-memory one.
	key, _ := apikey.Generate(apikey.KindTenant)
	store := mapStore{key.Hash: {ID: "key-1", Kind: apikey.KindTenant, TenantID: "t-1", Hash: key.Hash, Scopes: []string{"read"}}}

	auth, err := New(context.Background(), Options{
		Keys: store,
		// For Logto users as well:
		// LogtoEndpoint: "https://auth.example.com", Audience: "https://api.example.com",
	})
	if err != nil {
		panic(err)
	}
	defer auth.Close()

	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := FromContext(r.Context())
		fmt.Fprintf(w, "%s %s of tenant %s, read=%v", p.Kind, p.KeyID, p.TenantID, p.HasScope("read"))
	}))

	for _, header := range []string{"Bearer " + key.Secret, ""} {
		r := httptest.NewRequest("GET", "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		fmt.Println(rec.Code, rec.Body.String())
	}
	// Output:
	// 200 tenant_key key-1 of tenant t-1, read=true
	// 401 {"code":"unauthorized","detail":"a Bearer token is required","status":401,"title":"Unauthorized","type":"https://fast-saas.dev/problems/unauthorized"}
}

type mapStore map[[32]byte]KeyRecord

func (m mapStore) LookupKey(_ context.Context, h [32]byte) (KeyRecord, error) {
	if r, ok := m[h]; ok {
		return r, nil
	}
	return KeyRecord{}, ErrKeyNotFound
}
