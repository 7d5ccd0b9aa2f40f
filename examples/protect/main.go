// Command protect guards a plain net/http server with the fast-saas
// middleware: API keys (and Logto tokens when FASTSAAS_LOGTO_ENDPOINT and
// FASTSAAS_LOGTO_AUDIENCE are set), tenant resolution, a plan feature gate
// and a health endpoint. It prints a demo tenant key to try with curl.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/fast-saas/fast-saas/middleware/apikey"
	"github.com/fast-saas/fast-saas/middleware/authn"
	"github.com/fast-saas/fast-saas/middleware/entitlements"
	"github.com/fast-saas/fast-saas/middleware/health"
	"github.com/fast-saas/fast-saas/middleware/tenancy"
)

func main() {
	key, err := apikey.Generate(apikey.KindTenant)
	if err != nil {
		log.Fatal(err)
	}
	h, err := newServer(keyStore{key.Hash: {ID: "demo-key", Kind: apikey.KindTenant, TenantID: "acme", Hash: key.Hash}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("curl -H 'Authorization: Bearer %s' localhost:8080/hello\n", key.Secret) // a throwaway demo key
	log.Fatal(http.ListenAndServe("localhost:8080", h))
}

func newServer(keys authn.KeyStore) (http.Handler, error) {
	auth, err := authn.New(context.Background(), authn.Options{Keys: keys,
		LogtoEndpoint: os.Getenv("FASTSAAS_LOGTO_ENDPOINT"), Audience: os.Getenv("FASTSAAS_LOGTO_AUDIENCE")})
	if err != nil {
		return nil, err
	}
	tenants, err := tenancy.New(tenancy.Options{Resolver: oneTenant{}})
	if err != nil {
		return nil, err
	}
	protect := func(h http.Handler) http.Handler { return auth.Middleware(tenants.Handler(h)) }
	mux := http.NewServeMux()
	mux.Handle("GET /health", health.Handler{})
	mux.Handle("GET /hello", protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenancy.FromContext(r.Context())
		fmt.Fprintf(w, "hello, tenant %s on the %s plan\n", t.Tenant.Slug, t.Tenant.Plan)
	})))
	mux.Handle("GET /sso", protect(entitlements.RequireFeature(entitlements.FeatureSSO)(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "sso settings") }))))
	return mux, nil
}

// keyStore and oneTenant stand in for your database.
type keyStore map[[32]byte]authn.KeyRecord

func (s keyStore) LookupKey(_ context.Context, h [32]byte) (authn.KeyRecord, error) {
	if r, ok := s[h]; ok {
		return r, nil
	}
	return authn.KeyRecord{}, authn.ErrKeyNotFound
}

type oneTenant struct{}

func (oneTenant) Resolve(_ context.Context, p authn.Principal, _ string) (tenancy.Tenant, tenancy.Role, error) {
	if p.TenantID != "acme" && !p.IsPlatform() {
		return tenancy.Tenant{}, "", tenancy.ErrNotFound
	}
	return tenancy.Tenant{ID: "acme", Slug: "acme", Plan: "starter", Status: tenancy.StatusActive}, tenancy.RoleMember, nil
}
