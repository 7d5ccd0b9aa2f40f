// Package storetest is the one conformance suite every store backend runs:
// CRUD of every entity, uniqueness conflicts, typed errors for bad input,
// "another tenant cannot see or change it" for every tenant-scoped call,
// keyset pagination, idempotent usage ingest, the Lago outbox, concurrent
// writers and UTC day bucketing of events given in other zones.
//
// A backend's test calls Run with a Factory that returns a fresh, empty,
// migrated store using the given clock.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fast-saas/fast-saas/internal/store"
)

// Factory returns a fresh, empty store whose clock is now. The store is
// closed by the factory's own t.Cleanup.
type Factory func(t *testing.T, now func() time.Time) store.Store

// Clock is a settable test clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// start is the suite's clock origin: a fixed instant with a sub-second part
// to catch precision bugs.
var start = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

// env is one subtest's store and helpers.
type env struct {
	t     *testing.T
	s     store.Store
	clock *Clock
	ctx   context.Context
}

func newEnv(t *testing.T, f Factory) *env {
	t.Helper()
	c := NewClock(start)
	return &env{t: t, s: f(t, c.Now), clock: c, ctx: context.Background()}
}

func (e *env) user(email string) store.User {
	e.t.Helper()
	u, err := e.s.CreateUser(e.ctx, store.User{Email: email, Name: "User " + email, ExternalID: "sub|" + email})
	if err != nil {
		e.t.Fatalf("CreateUser(%q): %v", email, err)
	}
	return u
}

func (e *env) tenant(slug, ownerID string) store.Tenant {
	e.t.Helper()
	tn, err := e.s.CreateTenant(e.ctx, store.Tenant{Slug: slug, Name: "Tenant " + slug, Plan: "free"}, ownerID)
	if err != nil {
		e.t.Fatalf("CreateTenant(%q): %v", slug, err)
	}
	return tn
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func (e *env) key(tenantID, name string) store.APIKey {
	e.t.Helper()
	k, err := e.s.CreateAPIKey(e.ctx, store.APIKey{
		TenantID: tenantID, Name: name, Prefix: "fsk_" + name, Hash: hashOf(tenantID + name),
		Scopes: []string{"read", "usage:write"}, CreatedByLabel: "platform",
	})
	if err != nil {
		e.t.Fatalf("CreateAPIKey(%q): %v", name, err)
	}
	return k
}

func event(tenantID, metric, tx string, q float64, at time.Time) store.UsageEvent {
	return store.UsageEvent{TenantID: tenantID, Metric: metric, Quantity: q, TransactionID: tx, OccurredAt: at,
		Properties: json.RawMessage(`{"route":"/x"}`)}
}

// inParallel runs fn(0) … fn(n-1) concurrently and, once all have
// returned, reports their errors and stops the test if there were any.
func inParallel(t *testing.T, n int, fn func(w int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, n)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(w); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	failed := false
	for err := range errc {
		t.Error(err)
		failed = true
	}
	if failed {
		t.FailNow()
	}
}

// wantErr fails unless errors.Is(err, want) (want nil = no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// jsonEqual compares JSON documents semantically (Postgres jsonb reorders keys).
var jsonEqual = cmp.Comparer(func(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return cmp.Equal(x, y)
})

func diff(t *testing.T, what string, got, want any, opts ...cmp.Option) {
	t.Helper()
	opts = append(opts, jsonEqual, cmpopts.EquateEmpty())
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// Run runs the whole suite against the backend made by f.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*env)
	}{
		{"Tenants", testTenants},
		{"TenantList", testTenantList},
		{"Users", testUsers},
		{"Members", testMembers},
		{"LastOwner", testLastOwner},
		{"APIKeys", testAPIKeys},
		{"PlatformKeys", testPlatformKeys},
		{"Usage", testUsage},
		{"UsageTimezones", testUsageTimezones},
		{"UsageSums", testUsageSums},
		{"UsageSumsConcurrent", testUsageSumsConcurrent},
		{"UsageLargeBatch", testUsageLargeBatch},
		{"UsageBatchSizes", testUsageBatchSizes},
		{"Outbox", testOutbox},
		{"OutboxConcurrentClaims", testOutboxConcurrentClaims},
		{"Audit", testAudit},
		{"Overrides", testOverrides},
		{"CrossTenant", testCrossTenant},
		{"Pagination", testPagination},
		{"Tx", testTx},
		{"Concurrent", testConcurrent},
		{"Stats", testStats},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(newEnv(t, f))
		})
	}
}

func testTenants(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	owner := e.user("owner@example.com")
	in := store.Tenant{Slug: "acme", Name: "Acme", Plan: "pro", Settings: json.RawMessage(`{"b": 1, "a": [true]}`),
		Metadata: json.RawMessage(`{"source":"test"}`), LogtoOrgID: "org_1"}
	got, err := s.CreateTenant(ctx, in, owner.ID)
	wantErr(t, "CreateTenant", err, nil)
	if !store.ValidID(got.ID) {
		t.Fatalf("CreateTenant id = %q, want a UUID", got.ID)
	}
	want := in
	want.ID, want.Status = got.ID, store.TenantActive
	want.CreatedAt, want.UpdatedAt = start.Truncate(time.Microsecond), start.Truncate(time.Microsecond)
	diff(t, "CreateTenant", got, want)

	for name, get := range map[string]func() (store.Tenant, error){
		"GetTenant":        func() (store.Tenant, error) { return s.GetTenant(ctx, got.ID) },
		"TenantBySlug":     func() (store.Tenant, error) { return s.TenantBySlug(ctx, "acme") },
		"TenantByLogtoOrg": func() (store.Tenant, error) { return s.TenantByLogtoOrg(ctx, "org_1") },
	} {
		g, err := get()
		wantErr(t, name, err, nil)
		diff(t, name, g, want)
	}
	m, err := s.GetMember(ctx, got.ID, owner.ID)
	wantErr(t, "GetMember(owner)", err, nil)
	if m.Role != store.RoleOwner {
		t.Errorf("creator role = %q, want owner", m.Role)
	}

	e.clock.Advance(time.Hour)
	upd := got
	upd.Name, upd.Plan, upd.Status = "Acme Inc", "enterprise", store.TenantSuspended
	upd.Settings, upd.LogtoOrgID = json.RawMessage(`{"theme":"dark"}`), ""
	u2, err := s.UpdateTenant(ctx, upd)
	wantErr(t, "UpdateTenant", err, nil)
	upd.UpdatedAt = start.Add(time.Hour).Truncate(time.Microsecond)
	diff(t, "UpdateTenant", u2, upd)
	g, _ := s.GetTenant(ctx, got.ID)
	diff(t, "GetTenant after update", g, upd)
	_, err = s.TenantByLogtoOrg(ctx, "org_1")
	wantErr(t, "TenantByLogtoOrg after unlink", err, store.ErrNotFound)

	other := e.tenant("other", "")
	bad := []struct {
		name string
		t    store.Tenant
		want error
	}{
		{"duplicate slug", store.Tenant{Slug: "acme", Name: "X", Plan: "free"}, store.ErrConflict},
		{"bad slug", store.Tenant{Slug: "Bad_Slug", Name: "X", Plan: "free"}, store.ErrInvalid},
		{"slug with trailing dash", store.Tenant{Slug: "abc-", Name: "X", Plan: "free"}, store.ErrInvalid},
		{"unknown plan", store.Tenant{Slug: "p1", Name: "X", Plan: "platinum"}, store.ErrInvalid},
		{"bad status", store.Tenant{Slug: "p2", Name: "X", Plan: "free", Status: "deleted"}, store.ErrInvalid},
		{"empty name", store.Tenant{Slug: "p3", Name: " ", Plan: "free"}, store.ErrInvalid},
		{"settings not an object", store.Tenant{Slug: "p4", Name: "X", Plan: "free", Settings: json.RawMessage(`[1]`)}, store.ErrInvalid},
		{"metadata not JSON", store.Tenant{Slug: "p5", Name: "X", Plan: "free", Metadata: json.RawMessage(`{`)}, store.ErrInvalid},
		{"NUL in name", store.Tenant{Slug: "p6", Name: "a\x00b", Plan: "free"}, store.ErrInvalid},
		{"invalid UTF-8 in name", store.Tenant{Slug: "p7", Name: "a\xffb", Plan: "free"}, store.ErrInvalid},
		{"\\u0000 in settings", store.Tenant{Slug: "p8", Name: "X", Plan: "free", Settings: json.RawMessage(`{"a":"\u0000"}`)}, store.ErrInvalid},
	}
	for _, tc := range bad {
		_, err := s.CreateTenant(ctx, tc.t, "")
		wantErr(t, "CreateTenant "+tc.name, err, tc.want)
	}
	// Conflicts on update too: slug and Logto organization.
	o := other
	o.Slug = "acme"
	_, err = s.UpdateTenant(ctx, o)
	wantErr(t, "UpdateTenant duplicate slug", err, store.ErrConflict)
	upd.LogtoOrgID = "org_2"
	_, err = s.UpdateTenant(ctx, upd)
	wantErr(t, "UpdateTenant set org", err, nil)
	o = other
	o.LogtoOrgID = "org_2"
	_, err = s.UpdateTenant(ctx, o)
	wantErr(t, "UpdateTenant duplicate logto org", err, store.ErrConflict)
	o = other
	o.Plan = "gold"
	_, err = s.UpdateTenant(ctx, o)
	wantErr(t, "UpdateTenant unknown plan", err, store.ErrInvalid)

	// Unknown ids.
	for _, id := range []string{store.NewID(), "not-a-uuid", ""} {
		_, err := s.GetTenant(ctx, id)
		wantErr(t, fmt.Sprintf("GetTenant(%q)", id), err, store.ErrNotFound)
		_, err = s.UpdateTenant(ctx, store.Tenant{ID: id, Slug: "zz", Name: "X", Plan: "free", Status: store.TenantActive})
		wantErr(t, fmt.Sprintf("UpdateTenant(%q)", id), err, store.ErrNotFound)
	}
	_, err = s.TenantBySlug(ctx, "nope")
	wantErr(t, "TenantBySlug unknown", err, store.ErrNotFound)
	for _, junk := range []string{"a\x00b", "\xff\xfe"} {
		_, err = s.TenantBySlug(ctx, junk)
		wantErr(t, fmt.Sprintf("TenantBySlug(%q)", junk), err, store.ErrNotFound)
		_, err = s.TenantByLogtoOrg(ctx, junk)
		wantErr(t, fmt.Sprintf("TenantByLogtoOrg(%q)", junk), err, store.ErrNotFound)
		_, err = s.UserByEmail(ctx, junk)
		wantErr(t, fmt.Sprintf("UserByEmail(%q)", junk), err, store.ErrNotFound)
		_, err = s.UserByExternalID(ctx, junk)
		wantErr(t, fmt.Sprintf("UserByExternalID(%q)", junk), err, store.ErrNotFound)
	}

	// Owner must exist, and a failed owner insert leaves no tenant behind.
	_, err = s.CreateTenant(ctx, store.Tenant{Slug: "orphan", Name: "X", Plan: "free"}, store.NewID())
	wantErr(t, "CreateTenant unknown owner", err, store.ErrNotFound)
	_, err = s.TenantBySlug(ctx, "orphan")
	wantErr(t, "tenant of failed create", err, store.ErrNotFound)
}

func testTenantList(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	u := e.user("lister@example.com")
	a := e.tenant("a-free", u.ID)
	b, _ := s.CreateTenant(ctx, store.Tenant{Slug: "b-pro", Name: "B", Plan: "pro"}, "")
	c, _ := s.CreateTenant(ctx, store.Tenant{Slug: "c-pro-suspended", Name: "C", Plan: "pro", Status: store.TenantSuspended}, u.ID)
	d, _ := s.CreateTenant(ctx, store.Tenant{Slug: "d-cancelled", Name: "D", Plan: "free", Status: store.TenantCancelled}, u.ID)
	ids := func(ts []store.Tenant) []string {
		var out []string
		for _, x := range ts {
			out = append(out, x.Slug)
		}
		return out
	}
	cases := []struct {
		name string
		f    store.TenantFilter
		want []string
	}{
		{"default hides cancelled", store.TenantFilter{}, []string{a.Slug, b.Slug, c.Slug}},
		{"include cancelled", store.TenantFilter{IncludeCancelled: true}, []string{a.Slug, b.Slug, c.Slug, d.Slug}},
		{"status cancelled", store.TenantFilter{Status: store.TenantCancelled}, []string{d.Slug}},
		{"status suspended", store.TenantFilter{Status: store.TenantSuspended}, []string{c.Slug}},
		{"plan pro", store.TenantFilter{Plan: "pro"}, []string{b.Slug, c.Slug}},
		{"member", store.TenantFilter{MemberUserID: u.ID}, []string{a.Slug, c.Slug}},
		{"member incl cancelled", store.TenantFilter{MemberUserID: u.ID, IncludeCancelled: true}, []string{a.Slug, c.Slug, d.Slug}},
		{"unknown member", store.TenantFilter{MemberUserID: store.NewID()}, nil},
	}
	for _, tc := range cases {
		got, next, err := s.ListTenants(ctx, tc.f, store.Page{})
		wantErr(t, "ListTenants "+tc.name, err, nil)
		diff(t, "ListTenants "+tc.name, ids(got), tc.want)
		if next != "" {
			t.Errorf("ListTenants %s: next cursor %q on a single page", tc.name, next)
		}
	}
	_, _, err := s.ListTenants(ctx, store.TenantFilter{Plan: "gold"}, store.Page{})
	wantErr(t, "ListTenants unknown plan", err, store.ErrInvalid)
	_, _, err = s.ListTenants(ctx, store.TenantFilter{Status: "gone"}, store.Page{})
	wantErr(t, "ListTenants bad status", err, store.ErrInvalid)
}

func testUsers(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	login := start.Add(-time.Hour)
	in := store.User{ExternalID: "logto|abc", Email: "Alice@Example.com", Name: "Alice", AvatarURL: "https://x/a.png", EmailVerified: true, LastLoginAt: &login}
	u, err := s.CreateUser(ctx, in)
	wantErr(t, "CreateUser", err, nil)
	want := in
	l := login.Truncate(time.Microsecond)
	want.ID, want.LastLoginAt = u.ID, &l
	want.CreatedAt, want.UpdatedAt = start.Truncate(time.Microsecond), start.Truncate(time.Microsecond)
	diff(t, "CreateUser", u, want)
	for name, get := range map[string]func() (store.User, error){
		"GetUser":              func() (store.User, error) { return s.GetUser(ctx, u.ID) },
		"UserByExternalID":     func() (store.User, error) { return s.UserByExternalID(ctx, "logto|abc") },
		"UserByEmail (exact)":  func() (store.User, error) { return s.UserByEmail(ctx, "Alice@Example.com") },
		"UserByEmail (folded)": func() (store.User, error) { return s.UserByEmail(ctx, "alice@EXAMPLE.COM") },
	} {
		g, err := get()
		wantErr(t, name, err, nil)
		diff(t, name, g, want)
	}
	// A user without an external id yet (created by the platform), twice: "" is not a value.
	_, err = s.CreateUser(ctx, store.User{Email: "noext1@example.com"})
	wantErr(t, "CreateUser without external id", err, nil)
	_, err = s.CreateUser(ctx, store.User{Email: "noext2@example.com"})
	wantErr(t, "second CreateUser without external id", err, nil)

	bad := []struct {
		name string
		u    store.User
		want error
	}{
		{"duplicate email, other case", store.User{Email: "ALICE@example.COM"}, store.ErrConflict},
		{"duplicate external id", store.User{Email: "other@example.com", ExternalID: "logto|abc"}, store.ErrConflict},
		{"bad email", store.User{Email: "not-an-email"}, store.ErrInvalid},
		{"empty email", store.User{}, store.ErrInvalid},
	}
	for _, tc := range bad {
		_, err := s.CreateUser(ctx, tc.u)
		wantErr(t, "CreateUser "+tc.name, err, tc.want)
	}

	e.clock.Advance(time.Minute)
	upd := u
	upd.Name, upd.EmailVerified, upd.LastLoginAt = "Alice B", false, nil
	upd.Email = "alice@new.example"
	got, err := s.UpdateUser(ctx, upd)
	wantErr(t, "UpdateUser", err, nil)
	upd.UpdatedAt = start.Add(time.Minute).Truncate(time.Microsecond)
	diff(t, "UpdateUser", got, upd)
	_, err = s.UserByEmail(ctx, "alice@example.com")
	wantErr(t, "UserByEmail old email", err, store.ErrNotFound)
	upd.Email = "NOEXT1@example.com"
	_, err = s.UpdateUser(ctx, upd)
	wantErr(t, "UpdateUser duplicate email", err, store.ErrConflict)
	upd.Email = "bad"
	_, err = s.UpdateUser(ctx, upd)
	wantErr(t, "UpdateUser bad email", err, store.ErrInvalid)
	_, err = s.UpdateUser(ctx, store.User{ID: store.NewID(), Email: "x@example.com"})
	wantErr(t, "UpdateUser unknown", err, store.ErrNotFound)
	for _, id := range []string{store.NewID(), "junk"} {
		_, err = s.GetUser(ctx, id)
		wantErr(t, "GetUser unknown", err, store.ErrNotFound)
	}
	_, err = s.UserByExternalID(ctx, "")
	wantErr(t, "UserByExternalID empty", err, store.ErrNotFound)

	// Co-member filter: bob shares a tenant with carol, not with dave.
	bob, carol, dave := e.user("bob@example.com"), e.user("carol@example.com"), e.user("dave@example.com")
	tn := e.tenant("team", bob.ID)
	if _, err := s.AddMember(ctx, store.Membership{TenantID: tn.ID, UserID: carol.ID, Role: store.RoleMember}); err != nil {
		t.Fatal(err)
	}
	e.tenant("solo", dave.ID)
	got2, _, err := s.ListUsers(ctx, store.UserFilter{SharesTenantWith: bob.ID}, store.Page{})
	wantErr(t, "ListUsers co-members", err, nil)
	var emails []string
	for _, x := range got2 {
		emails = append(emails, x.Email)
	}
	diff(t, "ListUsers co-members", emails, []string{bob.Email, carol.Email})
}

func testMembers(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	owner, u := e.user("o@example.com"), e.user("m@example.com")
	tn := e.tenant("members", owner.ID)
	m, err := s.AddMember(ctx, store.Membership{TenantID: tn.ID, UserID: u.ID, Role: store.RoleViewer, InvitedBy: owner.ID})
	wantErr(t, "AddMember", err, nil)
	want := store.Membership{TenantID: tn.ID, UserID: u.ID, Role: store.RoleViewer, InvitedBy: owner.ID,
		CreatedAt: start.Truncate(time.Microsecond), UpdatedAt: start.Truncate(time.Microsecond)}
	diff(t, "AddMember", m, want)
	got, err := s.GetMember(ctx, tn.ID, u.ID)
	wantErr(t, "GetMember", err, nil)
	diff(t, "GetMember", got, store.Member{Membership: want, User: u})

	list, next, err := s.ListMembers(ctx, tn.ID, store.Page{})
	wantErr(t, "ListMembers", err, nil)
	if len(list) != 2 || next != "" {
		t.Fatalf("ListMembers: got %d members, next %q; want 2, \"\"", len(list), next)
	}
	ms, err := s.MembershipsOfUser(ctx, u.ID)
	wantErr(t, "MembershipsOfUser", err, nil)
	diff(t, "MembershipsOfUser", ms, []store.Membership{want})

	e.clock.Advance(time.Second)
	m2, err := s.UpdateMemberRole(ctx, tn.ID, u.ID, store.RoleAdmin)
	wantErr(t, "UpdateMemberRole", err, nil)
	want.Role, want.UpdatedAt = store.RoleAdmin, start.Add(time.Second).Truncate(time.Microsecond)
	diff(t, "UpdateMemberRole", m2, want)

	other := e.user("x@example.com")
	bad := []struct {
		name string
		m    store.Membership
		want error
	}{
		{"duplicate pair", store.Membership{TenantID: tn.ID, UserID: u.ID, Role: store.RoleMember}, store.ErrConflict},
		{"bad role", store.Membership{TenantID: tn.ID, UserID: other.ID, Role: "superuser"}, store.ErrInvalid},
		{"empty role", store.Membership{TenantID: tn.ID, UserID: other.ID}, store.ErrInvalid},
		{"unknown user", store.Membership{TenantID: tn.ID, UserID: store.NewID(), Role: store.RoleMember}, store.ErrNotFound},
		{"unknown tenant", store.Membership{TenantID: store.NewID(), UserID: other.ID, Role: store.RoleMember}, store.ErrNotFound},
		{"unknown inviter", store.Membership{TenantID: tn.ID, UserID: other.ID, Role: store.RoleMember, InvitedBy: store.NewID()}, store.ErrNotFound},
	}
	for _, tc := range bad {
		_, err := s.AddMember(ctx, tc.m)
		wantErr(t, "AddMember "+tc.name, err, tc.want)
	}
	_, err = s.UpdateMemberRole(ctx, tn.ID, u.ID, "root")
	wantErr(t, "UpdateMemberRole bad role", err, store.ErrInvalid)
	_, err = s.UpdateMemberRole(ctx, tn.ID, other.ID, store.RoleMember)
	wantErr(t, "UpdateMemberRole non-member", err, store.ErrNotFound)

	wantErr(t, "RemoveMember", s.RemoveMember(ctx, tn.ID, u.ID), nil)
	_, err = s.GetMember(ctx, tn.ID, u.ID)
	wantErr(t, "GetMember after remove", err, store.ErrNotFound)
	wantErr(t, "RemoveMember again", s.RemoveMember(ctx, tn.ID, u.ID), store.ErrNotFound)
	wantErr(t, "RemoveMember bad id", s.RemoveMember(ctx, tn.ID, "junk"), store.ErrNotFound)
}

func testLastOwner(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	o1, o2 := e.user("o1@example.com"), e.user("o2@example.com")
	tn := e.tenant("owners", o1.ID)
	_, err := s.UpdateMemberRole(ctx, tn.ID, o1.ID, store.RoleAdmin)
	wantErr(t, "demote sole owner", err, store.ErrLastOwner)
	wantErr(t, "remove sole owner", s.RemoveMember(ctx, tn.ID, o1.ID), store.ErrLastOwner)
	_, err = s.UpdateMemberRole(ctx, tn.ID, o1.ID, store.RoleOwner)
	wantErr(t, "owner stays owner", err, nil)

	_, err = s.AddMember(ctx, store.Membership{TenantID: tn.ID, UserID: o2.ID, Role: store.RoleOwner})
	wantErr(t, "add second owner", err, nil)
	_, err = s.UpdateMemberRole(ctx, tn.ID, o1.ID, store.RoleMember)
	wantErr(t, "demote one of two owners", err, nil)
	wantErr(t, "remove last owner", s.RemoveMember(ctx, tn.ID, o2.ID), store.ErrLastOwner)
	wantErr(t, "remove former owner", s.RemoveMember(ctx, tn.ID, o1.ID), nil)

	// Two owners demoting each other concurrently: exactly one may win.
	_, err = s.AddMember(ctx, store.Membership{TenantID: tn.ID, UserID: o1.ID, Role: store.RoleOwner})
	wantErr(t, "re-add owner", err, nil)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []string{o1.ID, o2.ID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.UpdateMemberRole(ctx, tn.ID, id, store.RoleViewer)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrLastOwner):
			t.Fatalf("concurrent demotion: unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("concurrent demotions: %d succeeded, want exactly 1 (errors %v)", ok, errs)
	}
}

func testAPIKeys(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	u := e.user("k@example.com")
	tn := e.tenant("keys", u.ID)
	exp := start.Add(24 * time.Hour)
	in := store.APIKey{TenantID: tn.ID, Name: "ci", Prefix: "fsk_abcdefgh", Hash: hashOf("secret"), Scopes: []string{"read", "write"},
		ExpiresAt: &exp, CreatedBy: u.ID, CreatedByLabel: "user:" + u.ID}
	k, err := s.CreateAPIKey(ctx, in)
	wantErr(t, "CreateAPIKey", err, nil)
	want := in
	ex := exp.Truncate(time.Microsecond)
	want.ID, want.ExpiresAt, want.CreatedAt = k.ID, &ex, start.Truncate(time.Microsecond)
	diff(t, "CreateAPIKey", k, want)
	for name, get := range map[string]func() (store.APIKey, error){
		"GetAPIKey":    func() (store.APIKey, error) { return s.GetAPIKey(ctx, tn.ID, k.ID) },
		"APIKeyByHash": func() (store.APIKey, error) { return s.APIKeyByHash(ctx, hashOf("secret")) },
	} {
		g, err := get()
		wantErr(t, name, err, nil)
		diff(t, name, g, want)
	}
	if !k.Usable(start) || k.Usable(exp) {
		t.Errorf("Usable: want usable before expiry and not at it")
	}
	_, err = s.APIKeyByHash(ctx, hashOf("other"))
	wantErr(t, "APIKeyByHash unknown", err, store.ErrNotFound)
	_, err = s.APIKeyByHash(ctx, []byte("short"))
	wantErr(t, "APIKeyByHash short", err, store.ErrNotFound)

	bad := []struct {
		name string
		k    store.APIKey
		want error
	}{
		{"duplicate hash", store.APIKey{TenantID: tn.ID, Name: "dup", Hash: hashOf("secret")}, store.ErrConflict},
		{"short hash", store.APIKey{TenantID: tn.ID, Name: "x", Hash: []byte{1, 2, 3}}, store.ErrInvalid},
		{"no name", store.APIKey{TenantID: tn.ID, Hash: hashOf("n")}, store.ErrInvalid},
		{"unknown tenant", store.APIKey{TenantID: store.NewID(), Name: "x", Hash: hashOf("t")}, store.ErrNotFound},
		{"unknown creator", store.APIKey{TenantID: tn.ID, Name: "x", Hash: hashOf("c"), CreatedBy: store.NewID()}, store.ErrNotFound},
	}
	for _, tc := range bad {
		_, err := s.CreateAPIKey(ctx, tc.k)
		wantErr(t, "CreateAPIKey "+tc.name, err, tc.want)
	}

	used := start.Add(time.Minute)
	wantErr(t, "TouchAPIKey", s.TouchAPIKey(ctx, tn.ID, k.ID, used), nil)
	g, _ := s.GetAPIKey(ctx, tn.ID, k.ID)
	if g.LastUsedAt == nil || !g.LastUsedAt.Equal(used.Truncate(time.Microsecond)) {
		t.Errorf("LastUsedAt = %v, want %v", g.LastUsedAt, used)
	}

	// Revoke with a grace period, then immediately: the earlier time wins.
	grace := start.Add(time.Hour)
	r, err := s.RevokeAPIKey(ctx, tn.ID, k.ID, grace)
	wantErr(t, "RevokeAPIKey grace", err, nil)
	if !r.Usable(start) || r.Usable(grace) {
		t.Errorf("after grace revoke: usable now=%v at grace=%v; want true, false", r.Usable(start), r.Usable(grace))
	}
	r, err = s.RevokeAPIKey(ctx, tn.ID, k.ID, time.Time{})
	wantErr(t, "RevokeAPIKey now", err, nil)
	if r.RevokedAt == nil || !r.RevokedAt.Equal(start.Truncate(time.Microsecond)) || r.Usable(start) {
		t.Errorf("after revoke now: RevokedAt=%v usable=%v", r.RevokedAt, r.Usable(start))
	}
	r, _ = s.RevokeAPIKey(ctx, tn.ID, k.ID, grace)
	if !r.RevokedAt.Equal(start.Truncate(time.Microsecond)) {
		t.Errorf("re-revoke later moved RevokedAt to %v", r.RevokedAt)
	}
	_, err = s.RevokeAPIKey(ctx, tn.ID, store.NewID(), time.Time{})
	wantErr(t, "RevokeAPIKey unknown", err, store.ErrNotFound)
	wantErr(t, "TouchAPIKey unknown", s.TouchAPIKey(ctx, tn.ID, store.NewID(), used), store.ErrNotFound)
	// A key without scopes reads back as an empty list.
	k2, err := s.CreateAPIKey(ctx, store.APIKey{TenantID: tn.ID, Name: "bare", Hash: hashOf("bare")})
	wantErr(t, "CreateAPIKey bare", err, nil)
	g2, _ := s.GetAPIKey(ctx, tn.ID, k2.ID)
	if g2.Scopes == nil || len(g2.Scopes) != 0 || g2.CreatedBy != "" {
		t.Errorf("bare key: Scopes=%#v CreatedBy=%q, want empty", g2.Scopes, g2.CreatedBy)
	}
}

func testPlatformKeys(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	k, err := s.CreatePlatformKey(ctx, store.PlatformKey{Name: "root", Prefix: "fsp_12345678", Hash: hashOf("p")})
	wantErr(t, "CreatePlatformKey", err, nil)
	g, err := s.PlatformKeyByHash(ctx, hashOf("p"))
	wantErr(t, "PlatformKeyByHash", err, nil)
	diff(t, "PlatformKeyByHash", g, k)
	_, err = s.CreatePlatformKey(ctx, store.PlatformKey{Name: "dup", Hash: hashOf("p")})
	wantErr(t, "CreatePlatformKey dup", err, store.ErrConflict)
	_, err = s.CreatePlatformKey(ctx, store.PlatformKey{Name: "bad", Hash: []byte("x")})
	wantErr(t, "CreatePlatformKey bad hash", err, store.ErrInvalid)
	r, err := s.RevokePlatformKey(ctx, k.ID, time.Time{})
	wantErr(t, "RevokePlatformKey", err, nil)
	if r.RevokedAt == nil {
		t.Errorf("RevokePlatformKey: RevokedAt nil")
	}
	_, err = s.RevokePlatformKey(ctx, store.NewID(), time.Time{})
	wantErr(t, "RevokePlatformKey unknown", err, store.ErrNotFound)
	_, err = s.PlatformKeyByHash(ctx, hashOf("q"))
	wantErr(t, "PlatformKeyByHash unknown", err, store.ErrNotFound)
	list, _, err := s.ListPlatformKeys(ctx, store.Page{})
	wantErr(t, "ListPlatformKeys", err, nil)
	diff(t, "ListPlatformKeys", list, []store.PlatformKey{r})
}

func testUsage(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	tn := e.tenant("usage", "")
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	batch := []store.UsageEvent{
		event(tn.ID, "api_calls", "t1", 1, day.Add(1*time.Hour)),
		event(tn.ID, "api_calls", "t2", 2, day.Add(2*time.Hour)),
		event(tn.ID, "tokens", "t3", 100.5, day.Add(25*time.Hour)),
		event(tn.ID, "api_calls", "t1", 9, day.Add(3*time.Hour)), // repeat within the batch
	}
	ins, dup, err := s.InsertUsageBatch(ctx, batch)
	wantErr(t, "InsertUsageBatch", err, nil)
	if ins != 3 || dup != 1 {
		t.Fatalf("InsertUsageBatch = (%d, %d), want (3, 1)", ins, dup)
	}
	ins, dup, err = s.InsertUsageBatch(ctx, batch)
	wantErr(t, "InsertUsageBatch again", err, nil)
	if ins != 0 || dup != 4 {
		t.Fatalf("same batch again = (%d, %d), want (0, 4)", ins, dup)
	}
	ins, dup, err = s.InsertUsageBatch(ctx, []store.UsageEvent{event(tn.ID, "api_calls", "t2", 1, day), event(tn.ID, "api_calls", "t4", 4, day.Add(4*time.Hour))})
	wantErr(t, "InsertUsageBatch mixed", err, nil)
	if ins != 1 || dup != 1 {
		t.Fatalf("mixed batch = (%d, %d), want (1, 1)", ins, dup)
	}

	all, _, err := s.ListUsageEvents(ctx, tn.ID, store.UsageFilter{}, store.Page{})
	wantErr(t, "ListUsageEvents", err, nil)
	var txs []string
	for _, ev := range all {
		txs = append(txs, ev.TransactionID)
	}
	diff(t, "ListUsageEvents newest first", txs, []string{"t3", "t4", "t2", "t1"})
	first := all[3]
	want := batch[0]
	want.ID, want.ReceivedAt = first.ID, start.Truncate(time.Microsecond)
	diff(t, "stored event", first, want)

	filtered, _, err := s.ListUsageEvents(ctx, tn.ID, store.UsageFilter{Metric: "api_calls", From: day.Add(2 * time.Hour), To: day.Add(4 * time.Hour)}, store.Page{})
	wantErr(t, "ListUsageEvents filtered", err, nil)
	if len(filtered) != 1 || filtered[0].TransactionID != "t2" {
		t.Errorf("filtered events = %+v, want only t2 ([from, to) on occurred_at)", filtered)
	}

	daily, err := s.UsageDaily(ctx, tn.ID, "", day, day.Add(48*time.Hour))
	wantErr(t, "UsageDaily", err, nil)
	diff(t, "UsageDaily", daily, []store.DailyUsage{
		{Metric: "api_calls", Day: day, Quantity: 7, Events: 3},
		{Metric: "tokens", Day: day.Add(24 * time.Hour), Quantity: 100.5, Events: 1},
	})
	daily, err = s.UsageDaily(ctx, tn.ID, "tokens", day, day.Add(24*time.Hour))
	wantErr(t, "UsageDaily tokens first day", err, nil)
	diff(t, "UsageDaily tokens first day", daily, []store.DailyUsage(nil))
	total, err := s.UsageTotal(ctx, tn.ID, "api_calls", day, day.Add(24*time.Hour))
	wantErr(t, "UsageTotal", err, nil)
	if total != 7 {
		t.Errorf("UsageTotal = %v, want 7", total)
	}
	total, err = s.UsageTotal(ctx, tn.ID, "api_calls", day.Add(24*time.Hour), day.Add(48*time.Hour))
	if err != nil || total != 0 {
		t.Errorf("UsageTotal of an empty range = %v, %v; want 0, nil", total, err)
	}
	_, err = s.UsageTotal(ctx, tn.ID, "api_calls", day, day)
	wantErr(t, "UsageTotal empty range", err, store.ErrInvalid)
	_, err = s.UsageDaily(ctx, tn.ID, "", day.Add(time.Hour), day)
	wantErr(t, "UsageDaily reversed range", err, store.ErrInvalid)

	bad := []struct {
		name string
		ev   store.UsageEvent
		want error
	}{
		{"unknown tenant", event(store.NewID(), "m", "x1", 1, day), store.ErrNotFound},
		{"malformed tenant", event("nope", "m", "x1", 1, day), store.ErrNotFound},
		{"no metric", event(tn.ID, "", "x2", 1, day), store.ErrInvalid},
		{"no transaction id", event(tn.ID, "m", "", 1, day), store.ErrInvalid},
		{"no time", event(tn.ID, "m", "x3", 1, time.Time{}), store.ErrInvalid},
		{"NUL in transaction id", event(tn.ID, "m", "x\x00", 1, day), store.ErrInvalid},
		{"invalid UTF-8 in metric", event(tn.ID, "m\xff", "x5", 1, day), store.ErrInvalid},
		{"properties not an object", store.UsageEvent{TenantID: tn.ID, Metric: "m", TransactionID: "x4", OccurredAt: day, Properties: json.RawMessage(`"s"`)}, store.ErrInvalid},
	}
	for _, tc := range bad {
		_, _, err := s.InsertUsageBatch(ctx, []store.UsageEvent{event(tn.ID, "m", "good-"+tc.name, 1, day), tc.ev})
		wantErr(t, "InsertUsageBatch "+tc.name, err, tc.want)
	}
	// A failed batch stores nothing, not even its valid events.
	evs, _, _ := s.ListUsageEvents(ctx, tn.ID, store.UsageFilter{Metric: "m"}, store.Page{})
	if len(evs) != 0 {
		t.Errorf("failed batches left %d events behind", len(evs))
	}
	ins, dup, err = s.InsertUsageBatch(ctx, nil)
	if ins != 0 || dup != 0 || err != nil {
		t.Errorf("empty batch = (%d, %d, %v)", ins, dup, err)
	}
}

func testUsageTimezones(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	tn := e.tenant("tz", "")
	tokyo := time.FixedZone("JST", 9*3600)
	ny := time.FixedZone("EST", -5*3600)
	// 2026-03-10 08:30 JST = 2026-03-09 23:30 UTC; 2026-03-09 20:00 EST = 2026-03-10 01:00 UTC.
	evs := []store.UsageEvent{
		event(tn.ID, "api_calls", "jst", 1, time.Date(2026, 3, 10, 8, 30, 0, 0, tokyo)),
		event(tn.ID, "api_calls", "est", 10, time.Date(2026, 3, 9, 20, 0, 0, 0, ny)),
	}
	if _, _, err := s.InsertUsageBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	d9 := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	daily, err := s.UsageDaily(ctx, tn.ID, "api_calls", d9, d9.Add(48*time.Hour))
	wantErr(t, "UsageDaily", err, nil)
	diff(t, "UsageDaily across zones", daily, []store.DailyUsage{
		{Metric: "api_calls", Day: d9, Quantity: 1, Events: 1},
		{Metric: "api_calls", Day: d9.Add(24 * time.Hour), Quantity: 10, Events: 1},
	})
	// Range bounds given in another zone mean the same instants.
	total, err := s.UsageTotal(ctx, tn.ID, "api_calls", time.Date(2026, 3, 10, 9, 0, 0, 0, tokyo), time.Date(2026, 3, 10, 0, 0, 0, 0, ny))
	wantErr(t, "UsageTotal zoned range", err, nil)
	if total != 10 {
		t.Errorf("UsageTotal [00:00Z, 05:00Z) = %v, want 10", total)
	}
	got, _, _ := s.ListUsageEvents(ctx, tn.ID, store.UsageFilter{}, store.Page{})
	for _, ev := range got {
		if ev.OccurredAt.Location() != time.UTC {
			t.Errorf("event %s OccurredAt in %v, want UTC", ev.TransactionID, ev.OccurredAt.Location())
		}
	}
}

// testUsageSums checks UsageTotal, UsageDaily and UsageByTenant against
// sums over the events themselves, for ranges made of whole UTC days (read
// from the daily totals), of parts of days (read from the events) and of
// both, after batches that repeat events already stored: a duplicate must
// count once. Quantities are multiples of 1/4, so every sum is exact in
// any order.
func testUsageSums(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	a, b := e.tenant("sums-a", ""), e.tenant("sums-b", "")
	d0 := time.Date(2026, 2, 26, 0, 0, 0, 0, time.UTC) // four days over the end of February
	type key struct{ tenant, tx string }
	stored := map[key]store.UsageEvent{}
	var n int
	mk := func(tenant, metric string, at time.Time) store.UsageEvent {
		n++
		return event(tenant, metric, fmt.Sprintf("e%d", n), float64(n%7)+0.25*float64(n%4), at)
	}
	epoch := time.Unix(0, 0).UTC()
	all := []store.UsageEvent{ // days before 1970 have negative numbers
		mk(a.ID, "api_calls", epoch.Add(-12*time.Hour)),
		mk(a.ID, "api_calls", epoch.Add(-time.Microsecond)),
		mk(a.ID, "api_calls", epoch.Add(6*time.Hour)),
	}
	for i := range 96 { // every 55 minutes: events on each side of every midnight
		at := d0.Add(time.Duration(i) * 55 * time.Minute)
		all = append(all, mk(a.ID, "api_calls", at), mk(b.ID, "api_calls", at.Add(time.Minute)))
		if i%3 == 0 {
			all = append(all, mk(a.ID, "tokens", at.Add(2*time.Minute)))
		}
	}
	insert := func(batch []store.UsageEvent) {
		t.Helper()
		ins, _, err := s.InsertUsageBatch(ctx, batch)
		wantErr(t, "InsertUsageBatch", err, nil)
		fresh := 0
		for _, ev := range batch {
			if _, ok := stored[key{ev.TenantID, ev.TransactionID}]; !ok {
				stored[key{ev.TenantID, ev.TransactionID}] = ev
				fresh++
			}
		}
		if ins != fresh {
			t.Fatalf("InsertUsageBatch inserted %d, want %d new of %d", ins, fresh, len(batch))
		}
	}
	insert(all[:100])
	insert(all[50:150]) // half of it stored already
	dup := append([]store.UsageEvent(nil), all[150:]...)
	for i := range dup[:20] { // same keys, other quantities: the first write wins
		dup[i].Quantity += 1000
	}
	insert(dup[:20])
	insert(all[140:])

	sum := func(tenant, metric string, from, to time.Time) (total float64, daily []store.DailyUsage) {
		byDay := map[[2]string]*store.DailyUsage{}
		for _, ev := range stored {
			if ev.TenantID != tenant || (metric != "" && ev.Metric != metric) || ev.OccurredAt.Before(from) || !ev.OccurredAt.Before(to) {
				continue
			}
			total += ev.Quantity
			day := ev.OccurredAt.UTC().Truncate(24 * time.Hour)
			k := [2]string{ev.Metric, day.Format(time.DateOnly)}
			if byDay[k] == nil {
				byDay[k] = &store.DailyUsage{Metric: ev.Metric, Day: day}
			}
			byDay[k].Quantity += ev.Quantity
			byDay[k].Events++
		}
		for _, d := range byDay {
			daily = append(daily, *d)
		}
		slices.SortFunc(daily, func(x, y store.DailyUsage) int {
			if c := strings.Compare(x.Metric, y.Metric); c != 0 {
				return c
			}
			return x.Day.Compare(y.Day)
		})
		return total, daily
	}
	ny := time.FixedZone("EST", -5*3600)
	ranges := []struct {
		name     string
		from, to time.Time
	}{
		{"whole days", d0, d0.AddDate(0, 0, 3)},
		{"one whole day", d0.AddDate(0, 0, 1), d0.AddDate(0, 0, 2)},
		{"the month of February", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"days and a part after", d0, d0.AddDate(0, 0, 2).Add(7*time.Hour + 30*time.Minute)},
		{"a part before and days", d0.Add(13 * time.Hour), d0.AddDate(0, 0, 3)},
		{"parts on both sides", d0.Add(23*time.Hour + 59*time.Minute), d0.AddDate(0, 0, 3).Add(time.Minute)},
		{"within a day", d0.Add(time.Hour), d0.Add(20 * time.Hour)},
		{"across one midnight", d0.Add(20 * time.Hour), d0.Add(30 * time.Hour)},
		{"midnights of another zone", time.Date(2026, 2, 26, 0, 0, 0, 0, ny), time.Date(2026, 2, 28, 0, 0, 0, 0, ny)},
		{"up to a microsecond after an event", d0, d0.Add(55*time.Minute + time.Microsecond)},
		{"the last day before 1970", epoch.Add(-24 * time.Hour), epoch},
		{"days around 1970", epoch.Add(-48 * time.Hour), epoch.Add(24 * time.Hour)},
		{"parts of days around 1970", epoch.Add(-13 * time.Hour), epoch.Add(7 * time.Hour)},
	}
	for _, r := range ranges {
		for _, tenant := range []string{a.ID, b.ID} {
			for _, metric := range []string{"api_calls", "tokens"} {
				want, _ := sum(tenant, metric, r.from, r.to)
				got, err := s.UsageTotal(ctx, tenant, metric, r.from, r.to)
				wantErr(t, "UsageTotal "+r.name, err, nil)
				if got != want {
					t.Errorf("UsageTotal %s (%s, %s) = %v, want %v", r.name, tenant, metric, got, want)
				}
			}
			for _, metric := range []string{"", "tokens"} {
				_, want := sum(tenant, metric, r.from, r.to)
				got, err := s.UsageDaily(ctx, tenant, metric, r.from, r.to)
				wantErr(t, "UsageDaily "+r.name, err, nil)
				diff(t, fmt.Sprintf("UsageDaily %s (%s, %q)", r.name, tenant, metric), got, want)
			}
		}
		byTenant, err := s.UsageByTenant(ctx, "api_calls", r.from, r.to)
		wantErr(t, "UsageByTenant "+r.name, err, nil)
		want := map[string]float64{}
		for _, tenant := range []string{a.ID, b.ID} {
			if total, daily := sum(tenant, "api_calls", r.from, r.to); len(daily) > 0 {
				want[tenant] = total
			}
		}
		for id := range byTenant { // other tests' tenants share the store
			if id != a.ID && id != b.ID {
				delete(byTenant, id)
			}
		}
		diff(t, "UsageByTenant "+r.name, byTenant, want)
	}
}

// testUsageSumsConcurrent has concurrent batches add to the same daily
// totals (three tenants, two days, events in either order): none may fail,
// and the totals must count every event once. (It does not prove that
// Postgres batches cannot deadlock on those rows: its aggregate hands the
// same keys over in the same order even without the insert's ORDER BY.)
func testUsageSumsConcurrent(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	tenants := []string{e.tenant("conc-a", "").ID, e.tenant("conc-b", "").ID, e.tenant("conc-c", "").ID}
	day := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	const workers, batches = 6, 8
	inParallel(t, workers, func(w int) error {
		for b := range batches {
			var batch []store.UsageEvent
			for i := range 12 { // 2 per (tenant, day)
				tn, d := tenants[i%3], day.Add(time.Duration(i%2)*24*time.Hour+time.Hour)
				batch = append(batch, event(tn, "api_calls", fmt.Sprintf("w%d-b%d-%d", w, b, i), 1, d))
			}
			if (w+b)%2 == 1 {
				slices.Reverse(batch)
			}
			if _, _, err := s.InsertUsageBatch(ctx, batch); err != nil {
				return fmt.Errorf("worker %d batch %d: %w", w, b, err)
			}
		}
		return nil
	})
	for _, tn := range tenants {
		daily, err := s.UsageDaily(ctx, tn, "api_calls", day, day.Add(48*time.Hour))
		wantErr(t, "UsageDaily", err, nil)
		const each = workers * batches * 2
		diff(t, "UsageDaily after concurrent batches", daily, []store.DailyUsage{
			{Metric: "api_calls", Day: day, Quantity: each, Events: each},
			{Metric: "api_calls", Day: day.Add(24 * time.Hour), Quantity: each, Events: each},
		})
	}
}

func testOutbox(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	tn := e.tenant("outbox", "")
	day := start.Add(-time.Hour)
	if _, _, err := s.InsertUsageBatch(ctx, []store.UsageEvent{event(tn.ID, "api_calls", "o1", 1, day), event(tn.ID, "api_calls", "o2", 2, day)}); err != nil {
		t.Fatal(err)
	}
	cmd, err := s.EnqueueOutbox(ctx, store.OutboxItem{TenantID: tn.ID, Kind: store.OutboxKindCreateCustomer, Payload: json.RawMessage(`{"external_id":"x"}`)})
	wantErr(t, "EnqueueOutbox", err, nil)
	_, err = s.EnqueueOutbox(ctx, store.OutboxItem{TenantID: store.NewID(), Kind: store.OutboxKindChangePlan})
	wantErr(t, "EnqueueOutbox unknown tenant", err, store.ErrNotFound)
	_, err = s.EnqueueOutbox(ctx, store.OutboxItem{TenantID: tn.ID, Kind: ""})
	wantErr(t, "EnqueueOutbox no kind", err, store.ErrInvalid)
	_, err = s.EnqueueOutbox(ctx, store.OutboxItem{TenantID: tn.ID, Kind: store.OutboxKindEvent})
	wantErr(t, "EnqueueOutbox event kind", err, store.ErrInvalid)

	n, oldest, err := s.OutboxBacklog(ctx)
	wantErr(t, "OutboxBacklog", err, nil)
	if n != 3 || !oldest.Equal(start.Truncate(time.Microsecond)) {
		t.Errorf("OutboxBacklog = %d, %v; want 3, %v", n, oldest, start)
	}

	items, err := s.ClaimOutbox(ctx, 10, time.Minute)
	wantErr(t, "ClaimOutbox", err, nil)
	if len(items) != 3 {
		t.Fatalf("ClaimOutbox: %d items, want 3", len(items))
	}
	var events int
	for _, it := range items {
		if it.Status != store.OutboxPending || it.TenantID != tn.ID {
			t.Errorf("claimed item %+v: want pending of tenant %s", it, tn.ID)
		}
		switch it.Kind {
		case store.OutboxKindEvent:
			events++
			if it.Event == nil || it.Event.ID != it.EventID || it.Event.TenantID != tn.ID {
				t.Errorf("event item without its event: %+v", it)
			}
		case store.OutboxKindCreateCustomer:
			diff(t, "command payload", it.Payload, cmd.Payload)
		}
	}
	if events != 2 {
		t.Errorf("claimed %d event items, want 2", events)
	}
	// Leased: a second claimer sees nothing until the lease ends.
	again, err := s.ClaimOutbox(ctx, 10, time.Minute)
	if err != nil || len(again) != 0 {
		t.Fatalf("second claim under lease = %d items, %v; want 0", len(again), err)
	}
	wantErr(t, "MarkOutboxSent", s.MarkOutboxSent(ctx, []string{items[0].ID}), nil)
	wantErr(t, "MarkOutboxRetry", s.MarkOutboxRetry(ctx, items[1].ID, "lago: 503", start.Add(10*time.Minute)), nil)
	wantErr(t, "MarkOutboxFailed", s.MarkOutboxFailed(ctx, items[2].ID, "lago: 422 invalid"), nil)
	wantErr(t, "MarkOutboxFailed twice", s.MarkOutboxFailed(ctx, items[2].ID, "x"), store.ErrNotFound)
	wantErr(t, "MarkOutboxRetry unknown", s.MarkOutboxRetry(ctx, store.NewID(), "x", start), store.ErrNotFound)

	e.clock.Advance(5 * time.Minute) // lease over, retry not yet due
	if got, _ := s.ClaimOutbox(ctx, 10, time.Minute); len(got) != 0 {
		t.Fatalf("claim before retry is due: %d items, want 0", len(got))
	}
	e.clock.Advance(5 * time.Minute)
	got, err := s.ClaimOutbox(ctx, 10, time.Minute)
	wantErr(t, "ClaimOutbox after retry due", err, nil)
	if len(got) != 1 || got[0].ID != items[1].ID || got[0].Attempts != 1 || got[0].LastError != "lago: 503" {
		t.Fatalf("claim after retry: %+v; want item %s with 1 attempt and its error", got, items[1].ID)
	}
	n, _, _ = s.OutboxBacklog(ctx)
	if n != 1 {
		t.Errorf("backlog = %d, want 1 (sent and failed rows are not pending)", n)
	}
	_, err = s.ClaimOutbox(ctx, 0, time.Minute)
	wantErr(t, "ClaimOutbox limit 0", err, store.ErrInvalid)
}

// testUsageLargeBatch: a batch larger than the backends' statement sizes
// (SQLite inserts 500 rows per statement), partly already stored, mixing
// tenants, is stored once per (tenant, transaction_id) with exact counts,
// each event pending for Lago.
func testUsageLargeBatch(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	a, b := e.tenant("large-a", ""), e.tenant("large-b", "")
	mk := func(from, to int) []store.UsageEvent {
		var out []store.UsageEvent
		for i := from; i < to; i++ {
			tn := a.ID
			if i%3 == 0 {
				tn = b.ID
			}
			out = append(out, event(tn, "api_calls", fmt.Sprint("big", i), float64(i%5), start.Add(time.Duration(i)*time.Second)))
		}
		return out
	}
	// 0..499 stored first; the big batch re-sends 200..499 and adds 500..1233.
	ins, dup, err := s.InsertUsageBatch(ctx, mk(0, 500))
	if err != nil || ins != 500 || dup != 0 {
		t.Fatalf("first batch: inserted %d, duplicates %d, %v; want 500, 0, nil", ins, dup, err)
	}
	ins, dup, err = s.InsertUsageBatch(ctx, mk(200, 1234))
	if err != nil || ins != 734 || dup != 300 {
		t.Fatalf("large batch: inserted %d, duplicates %d, %v; want 734, 300, nil", ins, dup, err)
	}
	var wantA, wantB float64
	var nB int
	for _, ev := range mk(0, 1234) {
		if ev.TenantID == b.ID {
			wantB += ev.Quantity
			nB++
		} else {
			wantA += ev.Quantity
		}
	}
	to := start.Add(2 * time.Hour)
	for _, tc := range []struct {
		tenant string
		want   float64
	}{{a.ID, wantA}, {b.ID, wantB}} {
		got, err := s.UsageTotal(ctx, tc.tenant, "api_calls", start, to)
		if err != nil || got != tc.want {
			t.Errorf("UsageTotal(%s) = %v, %v; want %v", tc.tenant, got, err, tc.want)
		}
	}
	var listed int
	cursor := ""
	for {
		page, next, err := s.ListUsageEvents(ctx, b.ID, store.UsageFilter{}, store.Page{Limit: 100, Cursor: cursor})
		if err != nil {
			t.Fatalf("ListUsageEvents: %v", err)
		}
		listed += len(page)
		if next == "" {
			break
		}
		cursor = next
	}
	if listed != nB {
		t.Errorf("tenant b lists %d events, want %d", listed, nB)
	}
	backlog, _, err := s.OutboxBacklog(ctx)
	if err != nil || backlog != 1234 {
		t.Errorf("OutboxBacklog = %d, %v; want 1234 (every stored event pending once)", backlog, err)
	}
}

// testUsageBatchSizes: a batch of any size is stored whole, once. A store
// may write a batch in parts of a few fixed sizes (SQLite's prepared
// multi-row inserts); the sizes here fall on, next to and between them,
// and every batch is sent twice, the second time with one new event.
func testUsageBatchSizes(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	tn := e.tenant("sizes", "")
	var want float64
	for _, n := range []int{1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 255, 256, 257, 399, 499, 500, 501} {
		batch := make([]store.UsageEvent, n)
		for i := range batch {
			batch[i] = event(tn.ID, "api_calls", fmt.Sprintf("size%d-%d", n, i), float64(1+i%7), start.Add(time.Duration(i)*time.Millisecond))
			want += batch[i].Quantity
		}
		ins, dup, err := s.InsertUsageBatch(ctx, batch)
		if err != nil || ins != n || dup != 0 {
			t.Fatalf("batch of %d: inserted %d, duplicates %d, %v; want %d, 0, nil", n, ins, dup, err, n)
		}
		again := append(batch, event(tn.ID, "api_calls", fmt.Sprintf("size%d-new", n), 1, start))
		want++
		ins, dup, err = s.InsertUsageBatch(ctx, again)
		if err != nil || ins != 1 || dup != n {
			t.Fatalf("batch of %d sent again with one new event: inserted %d, duplicates %d, %v; want 1, %d, nil", n, ins, dup, err, n)
		}
	}
	got, err := s.UsageTotal(ctx, tn.ID, "api_calls", start, start.Add(time.Hour))
	if err != nil || got != want {
		t.Errorf("UsageTotal = %v, %v; want %v", got, err, want)
	}
}

// testOutboxConcurrentClaims: forwarder replicas claiming at once never get
// the same row, and together they drain the outbox.
func testOutboxConcurrentClaims(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	tn := e.tenant("claims", "")
	const events = 120
	var batch []store.UsageEvent
	for i := range events {
		batch = append(batch, event(tn.ID, "api_calls", fmt.Sprint("c", i), 1, start))
	}
	if _, _, err := s.InsertUsageBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				items, err := s.ClaimOutbox(ctx, 7, time.Hour)
				if err != nil {
					errc <- err
					return
				}
				if len(items) == 0 {
					return
				}
				ids := make([]string, len(items))
				for i, it := range items {
					ids[i] = it.ID
				}
				mu.Lock()
				for _, id := range ids {
					seen[id]++
				}
				mu.Unlock()
				if err := s.MarkOutboxSent(ctx, ids); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if len(seen) != events {
		t.Errorf("claimers saw %d distinct rows, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %s claimed %d times", id, n)
		}
	}
	if n, _, _ := s.OutboxBacklog(ctx); n != 0 {
		t.Errorf("backlog after draining = %d, want 0", n)
	}
}

func testAudit(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	tn := e.tenant("audit", "")
	var made []store.AuditEntry
	for i := range 3 {
		a, err := s.AppendAudit(ctx, store.AuditEntry{TenantID: tn.ID, Principal: "platform", Action: "tenant.update",
			Target: fmt.Sprintf("tenant:%d", i), Details: json.RawMessage(`{"i":` + fmt.Sprint(i) + `}`), At: start.Add(time.Duration(i) * time.Hour)})
		wantErr(t, "AppendAudit", err, nil)
		made = append(made, a)
	}
	got, _, err := s.ListAudit(ctx, tn.ID, store.AuditFilter{}, store.Page{})
	wantErr(t, "ListAudit", err, nil)
	diff(t, "ListAudit newest first", got, []store.AuditEntry{made[2], made[1], made[0]})
	got, _, err = s.ListAudit(ctx, tn.ID, store.AuditFilter{From: start.Add(time.Hour), To: start.Add(2 * time.Hour)}, store.Page{})
	wantErr(t, "ListAudit range", err, nil)
	diff(t, "ListAudit range", got, []store.AuditEntry{made[1]})
	_, err = s.AppendAudit(ctx, store.AuditEntry{TenantID: tn.ID, Action: "x"})
	wantErr(t, "AppendAudit no principal", err, store.ErrInvalid)
	_, err = s.AppendAudit(ctx, store.AuditEntry{TenantID: store.NewID(), Principal: "p", Action: "x"})
	wantErr(t, "AppendAudit unknown tenant", err, store.ErrNotFound)
}

func ptr(v int64) *int64 { return &v }

func testOverrides(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	tn := e.tenant("overrides", "")
	o, err := s.GetOverrides(ctx, tn.ID)
	wantErr(t, "GetOverrides none", err, nil)
	diff(t, "GetOverrides none", o, store.PlanOverrides{})
	in := store.PlanOverrides{RateLimitPerMinute: ptr(100000), APICallsPerMonth: ptr(store.Unlimited), Features: map[string]bool{"sso": true, "white_label": false}}
	got, err := s.SetOverrides(ctx, tn.ID, in)
	wantErr(t, "SetOverrides", err, nil)
	diff(t, "SetOverrides", got, in)
	got, _ = s.GetOverrides(ctx, tn.ID)
	diff(t, "GetOverrides", got, in)
	in2 := store.PlanOverrides{APICallsPerMonth: ptr(5)}
	if _, err := s.SetOverrides(ctx, tn.ID, in2); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetOverrides(ctx, tn.ID)
	diff(t, "GetOverrides replaced", got, in2)
	_, err = s.SetOverrides(ctx, tn.ID, store.PlanOverrides{RateLimitPerMinute: ptr(-2)})
	wantErr(t, "SetOverrides -2", err, store.ErrInvalid)
	_, err = s.SetOverrides(ctx, store.NewID(), in)
	wantErr(t, "SetOverrides unknown tenant", err, store.ErrNotFound)
	_, err = s.GetOverrides(ctx, store.NewID())
	wantErr(t, "GetOverrides unknown tenant", err, store.ErrNotFound)
}

func testTx(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	u := e.user("tx@example.com")
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Tx) error {
		tn, err := tx.CreateTenant(ctx, store.Tenant{Slug: "rolled-back", Name: "R", Plan: "free"}, u.ID)
		if err != nil {
			return err
		}
		if _, err := tx.GetTenant(ctx, tn.ID); err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx returned %v, want fn's error", err)
	}
	_, err = s.TenantBySlug(ctx, "rolled-back")
	wantErr(t, "tenant of rolled-back Tx", err, store.ErrNotFound)

	// Read-modify-write across tenant and platform scopes in one Tx.
	tn := e.tenant("rmw", u.ID)
	err = s.Tx(ctx, func(tx store.Tx) error {
		cur, err := tx.GetTenant(ctx, tn.ID)
		if err != nil {
			return err
		}
		cur.Plan = "starter"
		if _, err := tx.UpdateTenant(ctx, cur); err != nil {
			return err
		}
		if _, err := tx.TenantBySlug(ctx, "rmw"); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, store.AuditEntry{TenantID: tn.ID, Principal: "user:" + u.ID, Action: "tenant.change_plan"})
		return err
	})
	wantErr(t, "Tx commit", err, nil)
	g, _ := s.GetTenant(ctx, tn.ID)
	if g.Plan != "starter" {
		t.Errorf("plan after committed Tx = %q, want starter", g.Plan)
	}
	a, _, _ := s.ListAudit(ctx, tn.ID, store.AuditFilter{}, store.Page{})
	if len(a) != 1 {
		t.Errorf("audit entries after committed Tx = %d, want 1", len(a))
	}
}

func testConcurrent(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	const workers, perWorker = 8, 5
	tenants := make([][]string, workers)
	inParallel(t, workers, func(w int) error {
		for i := range perWorker {
			tn, err := s.CreateTenant(ctx, store.Tenant{Slug: fmt.Sprintf("w%d-%d", w, i), Name: "W", Plan: "free"}, "")
			if err != nil {
				return err
			}
			tenants[w] = append(tenants[w], tn.ID)
			var batch []store.UsageEvent
			for j := range 20 {
				batch = append(batch, event(tn.ID, "api_calls", fmt.Sprintf("tx%d", j), 1, start))
			}
			// Every worker also re-sends its previous tenant's batch: duplicates under contention.
			if i > 0 {
				for j := range 20 {
					batch = append(batch, event(tenants[w][i-1], "api_calls", fmt.Sprintf("tx%d", j), 1, start))
				}
			}
			ins, dup, err := s.InsertUsageBatch(ctx, batch)
			if err != nil {
				return err
			}
			if ins != 20 || dup != len(batch)-20 {
				return fmt.Errorf("worker %d batch %d: inserted %d dup %d, want 20, %d", w, i, ins, dup, len(batch)-20)
			}
		}
		return nil
	})
	st, err := s.PlatformStats(ctx, start.Add(-time.Hour))
	wantErr(t, "PlatformStats", err, nil)
	if st.TenantsByPlan["free"] != workers*perWorker || st.UsageEvents != workers*perWorker*20 {
		t.Errorf("after concurrent writers: %d tenants, %d events; want %d, %d",
			st.TenantsByPlan["free"], st.UsageEvents, workers*perWorker, workers*perWorker*20)
	}
	n, _, _ := s.OutboxBacklog(ctx)
	if n != workers*perWorker*20 {
		t.Errorf("outbox backlog = %d, want one row per event (%d)", n, workers*perWorker*20)
	}
}

func testStats(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	o, m := e.user("so@example.com"), e.user("sm@example.com")
	a := e.tenant("sa", o.ID)
	b, _ := s.CreateTenant(ctx, store.Tenant{Slug: "sb", Name: "B", Plan: "pro", Status: store.TenantSuspended}, o.ID)
	_, _ = s.CreateTenant(ctx, store.Tenant{Slug: "sc", Name: "C", Plan: "pro", Status: store.TenantCancelled}, "")
	if _, err := s.AddMember(ctx, store.Membership{TenantID: a.ID, UserID: m.ID, Role: store.RoleMember}); err != nil {
		t.Fatal(err)
	}
	e.key(a.ID, "live")
	dead := e.key(b.ID, "dead")
	if _, err := s.RevokeAPIKey(ctx, b.ID, dead.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.InsertUsageBatch(ctx, []store.UsageEvent{
		event(a.ID, "api_calls", "1", 3, start.Add(-time.Hour)),
		event(a.ID, "api_calls", "1b", 4, start.Add(-90*time.Minute)), // the same day: one daily row of two events
		event(b.ID, "tokens", "2", 5, start.Add(-2*time.Hour)),
		event(a.ID, "api_calls", "old", 100, start.Add(-40*24*time.Hour)),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.PlatformStats(ctx, start.Add(-30*24*time.Hour))
	wantErr(t, "PlatformStats", err, nil)
	diff(t, "PlatformStats", got, store.PlatformStats{
		TenantsByPlan:     map[string]int{"free": 1, "pro": 1},
		TenantsByStatus:   map[store.TenantStatus]int{store.TenantActive: 1, store.TenantSuspended: 1, store.TenantCancelled: 1},
		Users:             2,
		MembershipsByRole: map[store.Role]int{store.RoleOwner: 2, store.RoleMember: 1},
		ActiveAPIKeys:     1,
		UsageEvents:       3,
		UsageByMetric:     map[string]float64{"api_calls": 7, "tokens": 5},
	})
	// From a midnight on, the usage comes from the daily totals.
	midnight, err := s.PlatformStats(ctx, start.Truncate(24*time.Hour).AddDate(0, 0, -30))
	wantErr(t, "PlatformStats from a midnight", err, nil)
	if midnight.UsageEvents != got.UsageEvents || !cmp.Equal(midnight.UsageByMetric, got.UsageByMetric) {
		t.Errorf("PlatformStats from a midnight: %d events %v; want %d events %v",
			midnight.UsageEvents, midnight.UsageByMetric, got.UsageEvents, got.UsageByMetric)
	}
	byTenant, err := s.UsageByTenant(ctx, "api_calls", start.Add(-50*24*time.Hour), start)
	wantErr(t, "UsageByTenant", err, nil)
	diff(t, "UsageByTenant", byTenant, map[string]float64{a.ID: 107})
	byTenant, err = s.UsageByTenant(ctx, "tokens", start.Add(-time.Hour), start)
	wantErr(t, "UsageByTenant last hour", err, nil)
	diff(t, "UsageByTenant last hour", byTenant, map[string]float64{})
	_, err = s.UsageByTenant(ctx, "tokens", start, start)
	wantErr(t, "UsageByTenant empty range", err, store.ErrInvalid)
}
