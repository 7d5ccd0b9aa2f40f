package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fast-saas/fast-saas/middleware/apikey"
	"github.com/fast-saas/fast-saas/middleware/authn"
)

func TestProtect(t *testing.T) {
	t.Setenv("FASTSAAS_LOGTO_ENDPOINT", "")
	key, err := apikey.Generate(apikey.KindTenant)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newServer(keyStore{key.Hash: {ID: "k", Kind: apikey.KindTenant, TenantID: "acme", Hash: key.Hash}})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := apikey.Generate(apikey.KindTenant)
	tests := []struct {
		path, auth string
		want       int
		wantBody   string
	}{
		{"/health", "", 200, ""},
		{"/hello", "", 401, ""},
		{"/hello", "Bearer " + other.Secret, 401, ""},
		{"/hello", "Bearer " + key.Secret, 200, "hello, tenant acme on the starter plan\n"},
		{"/sso", "Bearer " + key.Secret, 403, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, tt.path, nil)
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tt.want {
			t.Errorf("%s (authorization %v): status %d, want %d", tt.path, tt.auth != "", rec.Code, tt.want)
		}
		if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
			t.Errorf("%s: body %q, want %q", tt.path, rec.Body, tt.wantBody)
		}
	}
	var _ authn.KeyStore = keyStore{}
}
