package core

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/sqlite"
	"github.com/fast-saas/fast-saas/internal/store/sqlite/sqlitetest"
)

type onePlan struct{}

func (onePlan) Plans() []Plan { return []Plan{{ID: "free"}} }
func (onePlan) Plan(id string) (Plan, bool) {
	return Plan{ID: id}, id == "free"
}

func opByID(t *testing.T, s *Service, id string) Operation {
	t.Helper()
	for _, op := range s.Operations() {
		if op.ID == id {
			return op
		}
	}
	t.Fatalf("operation %s not in the table", id)
	return Operation{}
}

// listNames calls listTenants as c and returns the names of the page.
func listNames(t *testing.T, s *Service, c Caller) []string {
	t.Helper()
	out, err := opByID(t, s, "listTenants").CallJSON(WithCaller(context.Background(), c), nil)
	if err != nil {
		t.Fatalf("listTenants as %v: %v", c.Kind, err)
	}
	page := out.(*Body[List[Tenant]]).Body
	names := []string{}
	for _, it := range page.Items {
		names = append(names, it.Name)
	}
	checkEncoded(t, page)
	return names
}

// checkEncoded checks that a page's kept JSON (if it has any) is exactly
// the encoding of the page as it is now.
func checkEncoded(t *testing.T, page List[Tenant]) {
	t.Helper()
	kept := page.EncodedJSON()
	if kept == nil {
		return
	}
	page.text = nil
	var fresh bytes.Buffer
	if err := EncodeJSON(&fresh, page); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kept, fresh.Bytes()) {
		t.Errorf("kept JSON of the page\n%s\nis not its encoding\n%s", kept, fresh.Bytes())
	}
}

func call(t *testing.T, s *Service, id string, c Caller, in any) any {
	t.Helper()
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := opByID(t, s, id).CallJSON(WithCaller(context.Background(), c), raw)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return out
}

// Cached tenant lists never hide a change made through this process, and
// show changes made elsewhere (another replica, here the store directly)
// only after the cache TTL.
func TestTenantListCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := sqlitetest.Open(t, sqlite.Options{})
	u, err := st.CreateUser(ctx, store.User{ExternalID: "sub-u", Email: "u@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// A TTL longer than the test, so "not yet visible" is deterministic.
	s := &Service{Store: st, Plans: onePlan{}, CacheTTL: time.Hour}
	platform := Caller{Kind: PlatformCaller, Label: "platform:test"}
	user := Caller{Kind: UserCaller, UserID: u.ID, Label: "user:" + u.ID}
	check := func(step string, c Caller, want ...string) {
		t.Helper()
		got := listNames(t, s, c)
		if fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s: list as %v = %v, want %v", step, c.Kind, got, want)
		}
	}

	check("empty store", platform)
	if out := call(t, s, "listTenants", platform, nil).(*Body[List[Tenant]]).Body; out.EncodedJSON() == nil {
		t.Error("a cached page keeps no JSON: every request encodes it again")
	}
	check("empty store", user)
	created := call(t, s, "createTenant", platform, map[string]any{"Body": map[string]any{"slug": "a", "name": "A"}}).(*Body[Tenant]).Body
	check("after createTenant", platform, "A")
	check("after createTenant (not a member)", user)
	key := Caller{Kind: TenantKeyCaller, TenantID: created.ID, Scopes: []string{ScopeRead}, Label: "key:test"}
	check("tenant key", key, "A")
	if out := call(t, s, "listTenants", key, nil).(*Body[List[Tenant]]).Body; out.EncodedJSON() == nil {
		t.Error("a tenant key's page keeps no JSON: every request encodes it again")
	}
	check("tenant key without the read scope", Caller{Kind: TenantKeyCaller, TenantID: created.ID, Scopes: []string{ScopeUsageWrite}})
	call(t, s, "updateTenant", platform, map[string]any{"ID": created.ID, "Body": map[string]any{"name": "A2"}})
	check("after updateTenant", platform, "A2")
	check("after updateTenant", key, "A2")
	call(t, s, "addMember", platform, map[string]any{"ID": created.ID, "Body": map[string]any{"user_id": u.ID, "role": "viewer"}})
	check("after addMember", user, "A2")
	call(t, s, "suspendTenant", platform, map[string]any{"ID": created.ID})
	if got := listNames(t, s, platform); len(got) != 1 {
		t.Errorf("after suspendTenant: %v, want the suspended tenant listed", got)
	}
	call(t, s, "deleteTenant", platform, map[string]any{"ID": created.ID})
	check("after deleteTenant (cancelled tenants are not listed)", platform)
	check("after deleteTenant", key)
	check("after deleteTenant", user)

	// A tenant written by someone else is not seen until the TTL...
	if _, err := st.CreateTenant(ctx, store.Tenant{Slug: "b", Name: "B", Plan: "free"}, u.ID); err != nil {
		t.Fatal(err)
	}
	check("written elsewhere, within the TTL", platform)
	check("written elsewhere, within the TTL", user)
	// ...and a service without the cache sees it at once.
	uncached := &Service{Store: st, Plans: onePlan{}, CacheTTL: -1}
	if got := listNames(t, uncached, platform); fmt.Sprint(got) != "[B]" {
		t.Errorf("uncached list = %v, want [B]", got)
	}
	// Pages larger than the cached size always come from the store.
	out, err := opByID(t, s, "listTenants").CallJSON(WithCaller(ctx, platform), []byte(`{"Limit":50}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.(*Body[List[Tenant]]).Body.Items); n != 1 {
		t.Errorf("limit 50 page has %d tenants, want 1 (read from the store)", n)
	}
}
