package storetest

import (
	"encoding/base64"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

// testCrossTenant calls every tenant-scoped operation with tenant B's id and
// tenant A's object: each must answer ErrNotFound (or an empty result for
// lists and sums) and leave A's data unchanged.
func testCrossTenant(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	ua, ub := e.user("a@example.com"), e.user("b@example.com")
	a, b := e.tenant("tenant-a", ua.ID), e.tenant("tenant-b", ub.ID)
	keyA := e.key(a.ID, "a-key")
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, _, err := s.InsertUsageBatch(ctx, []store.UsageEvent{event(a.ID, "api_calls", "shared-tx", 5, day.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, store.AuditEntry{TenantID: a.ID, Principal: "platform", Action: "a.secret"}); err != nil {
		t.Fatal(err)
	}
	ov := store.PlanOverrides{APICallsPerMonth: ptr(42)}
	if _, err := s.SetOverrides(ctx, a.ID, ov); err != nil {
		t.Fatal(err)
	}

	notFound := []struct {
		name string
		call func() error
	}{
		{"GetMember", func() error { _, err := s.GetMember(ctx, b.ID, ua.ID); return err }},
		{"UpdateMemberRole", func() error { _, err := s.UpdateMemberRole(ctx, b.ID, ua.ID, store.RoleViewer); return err }},
		{"RemoveMember", func() error { return s.RemoveMember(ctx, b.ID, ua.ID) }},
		{"GetAPIKey", func() error { _, err := s.GetAPIKey(ctx, b.ID, keyA.ID); return err }},
		{"RevokeAPIKey", func() error { _, err := s.RevokeAPIKey(ctx, b.ID, keyA.ID, time.Time{}); return err }},
		{"TouchAPIKey", func() error { return s.TouchAPIKey(ctx, b.ID, keyA.ID, start) }},
	}
	for _, tc := range notFound {
		wantErr(t, tc.name+" with another tenant's id", tc.call(), store.ErrNotFound)
	}

	// Lists and sums under B show nothing of A.
	members, _, err := s.ListMembers(ctx, b.ID, store.Page{})
	wantErr(t, "ListMembers(B)", err, nil)
	if len(members) != 1 || members[0].UserID != ub.ID {
		t.Errorf("ListMembers(B) = %+v, want only B's owner", members)
	}
	keys, _, err := s.ListAPIKeys(ctx, b.ID, store.Page{})
	if err != nil || len(keys) != 0 {
		t.Errorf("ListAPIKeys(B) = %d keys, %v; want none", len(keys), err)
	}
	evs, _, err := s.ListUsageEvents(ctx, b.ID, store.UsageFilter{}, store.Page{})
	if err != nil || len(evs) != 0 {
		t.Errorf("ListUsageEvents(B) = %d events, %v; want none", len(evs), err)
	}
	daily, err := s.UsageDaily(ctx, b.ID, "", day, day.Add(24*time.Hour))
	if err != nil || len(daily) != 0 {
		t.Errorf("UsageDaily(B) = %+v, %v; want none", daily, err)
	}
	total, err := s.UsageTotal(ctx, b.ID, "api_calls", day, day.Add(24*time.Hour))
	if err != nil || total != 0 {
		t.Errorf("UsageTotal(B) = %v, %v; want 0", total, err)
	}
	audit, _, err := s.ListAudit(ctx, b.ID, store.AuditFilter{}, store.Page{})
	if err != nil || len(audit) != 0 {
		t.Errorf("ListAudit(B) = %d entries, %v; want none", len(audit), err)
	}
	gotOv, err := s.GetOverrides(ctx, b.ID)
	wantErr(t, "GetOverrides(B)", err, nil)
	diff(t, "GetOverrides(B)", gotOv, store.PlanOverrides{})
	if _, err := s.SetOverrides(ctx, b.ID, store.PlanOverrides{APICallsPerMonth: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	ms, err := s.MembershipsOfUser(ctx, ua.ID)
	if err != nil || len(ms) != 1 || ms[0].TenantID != a.ID {
		t.Errorf("MembershipsOfUser(a) = %+v, %v; want only tenant A", ms, err)
	}

	// A transaction id is unique per tenant: B may reuse A's.
	ins, dup, err := s.InsertUsageBatch(ctx, []store.UsageEvent{event(b.ID, "api_calls", "shared-tx", 1, day)})
	if err != nil || ins != 1 || dup != 0 {
		t.Errorf("B reusing A's transaction id = (%d, %d, %v), want (1, 0, nil)", ins, dup, err)
	}

	// A's data is untouched by everything above.
	m, err := s.GetMember(ctx, a.ID, ua.ID)
	if err != nil || m.Role != store.RoleOwner {
		t.Errorf("A's owner after cross-tenant calls: %+v, %v", m, err)
	}
	k, err := s.GetAPIKey(ctx, a.ID, keyA.ID)
	if err != nil || k.RevokedAt != nil || k.LastUsedAt != nil {
		t.Errorf("A's key after cross-tenant calls: revoked %v, last used %v, err %v", k.RevokedAt, k.LastUsedAt, err)
	}
	total, _ = s.UsageTotal(ctx, a.ID, "api_calls", day, day.Add(24*time.Hour))
	if total != 5 {
		t.Errorf("A's usage = %v, want 5", total)
	}
	gotOv, _ = s.GetOverrides(ctx, a.ID)
	diff(t, "A's overrides", gotOv, ov)
}

// walk pages through a list with the given limit and checks every item is
// seen exactly once, in order.
func walk[T any](t *testing.T, name string, limit int, want []string, id func(T) string, list func(store.Page) ([]T, string, error)) {
	t.Helper()
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > len(want)+1 {
			t.Fatalf("%s: more pages than items; cursor loop?", name)
		}
		items, next, err := list(store.Page{Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatalf("%s page %d: %v", name, pages, err)
		}
		if len(items) > limit {
			t.Fatalf("%s page %d: %d items over limit %d", name, pages, len(items), limit)
		}
		for _, it := range items {
			got = append(got, id(it))
		}
		if next == "" {
			break
		}
		cursor = next
	}
	diff(t, name+" walked", got, want)
}

func testPagination(e *env) {
	t, s, ctx := e.t, e.s, e.ctx
	owner := e.user("pager@example.com")
	var tenantIDs, userIDs, keyIDs, platformIDs []string
	main := e.tenant("p-main", owner.ID)
	tenantIDs = append(tenantIDs, main.ID)
	userIDs = append(userIDs, owner.ID)
	memberIDs := []string{owner.ID}
	for i := range 6 {
		tn := e.tenant(fmt.Sprintf("p-%d", i), "")
		tenantIDs = append(tenantIDs, tn.ID)
		u := e.user(fmt.Sprintf("p%d@example.com", i))
		userIDs = append(userIDs, u.ID)
		if _, err := s.AddMember(ctx, store.Membership{TenantID: main.ID, UserID: u.ID, Role: store.RoleMember}); err != nil {
			t.Fatal(err)
		}
		memberIDs = append(memberIDs, u.ID)
		keyIDs = append(keyIDs, e.key(main.ID, fmt.Sprintf("k%d", i)).ID)
		pk, err := s.CreatePlatformKey(ctx, store.PlatformKey{Name: "p", Hash: hashOf(fmt.Sprint("pk", i))})
		if err != nil {
			t.Fatal(err)
		}
		platformIDs = append(platformIDs, pk.ID)
	}
	slices.Sort(memberIDs)
	// Events: pairs share an occurred_at, so the id tie-breaker matters.
	var batch []store.UsageEvent
	for i := range 7 {
		batch = append(batch, event(main.ID, "api_calls", fmt.Sprint("pg", i), 1, start.Add(-time.Duration(i/2)*time.Minute)))
	}
	if _, _, err := s.InsertUsageBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	all, _, err := s.ListUsageEvents(ctx, main.ID, store.UsageFilter{}, store.Page{Limit: 100})
	if err != nil || len(all) != 7 {
		t.Fatalf("ListUsageEvents all = %d, %v", len(all), err)
	}
	var eventIDs []string
	for _, ev := range all {
		eventIDs = append(eventIDs, ev.ID)
	}
	var auditIDs []string
	for i := range 7 {
		a, err := s.AppendAudit(ctx, store.AuditEntry{TenantID: main.ID, Principal: "platform", Action: "x", At: start.Add(-time.Duration(i/3) * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		auditIDs = append(auditIDs, a.ID)
	}
	// Newest first, ties by id descending: reconstruct the expected order.
	want := slices.Clone(auditIDs)
	slices.SortStableFunc(want, func(x, y string) int {
		ix, iy := slices.Index(auditIDs, x), slices.Index(auditIDs, y)
		if ix/3 != iy/3 {
			return ix/3 - iy/3
		}
		return -compare(x, y)
	})

	for _, limit := range []int{1, 3, 7, 100} {
		t.Run(fmt.Sprint("limit", limit), func(t *testing.T) {
			walk(t, "ListTenants", limit, tenantIDs, func(x store.Tenant) string { return x.ID },
				func(p store.Page) ([]store.Tenant, string, error) { return s.ListTenants(ctx, store.TenantFilter{}, p) })
			walk(t, "ListUsers", limit, userIDs, func(x store.User) string { return x.ID },
				func(p store.Page) ([]store.User, string, error) { return s.ListUsers(ctx, store.UserFilter{}, p) })
			walk(t, "ListMembers", limit, memberIDs, func(x store.Member) string { return x.UserID },
				func(p store.Page) ([]store.Member, string, error) { return s.ListMembers(ctx, main.ID, p) })
			walk(t, "ListAPIKeys", limit, keyIDs, func(x store.APIKey) string { return x.ID },
				func(p store.Page) ([]store.APIKey, string, error) { return s.ListAPIKeys(ctx, main.ID, p) })
			walk(t, "ListPlatformKeys", limit, platformIDs, func(x store.PlatformKey) string { return x.ID },
				func(p store.Page) ([]store.PlatformKey, string, error) { return s.ListPlatformKeys(ctx, p) })
			walk(t, "ListUsageEvents", limit, eventIDs, func(x store.UsageEvent) string { return x.ID },
				func(p store.Page) ([]store.UsageEvent, string, error) {
					return s.ListUsageEvents(ctx, main.ID, store.UsageFilter{}, p)
				})
			walk(t, "ListAudit", limit, want, func(x store.AuditEntry) string { return x.ID },
				func(p store.Page) ([]store.AuditEntry, string, error) {
					return s.ListAudit(ctx, main.ID, store.AuditFilter{}, p)
				})
		})
	}
	// Events are newest first with ties broken by id, descending.
	for i := 1; i < len(all); i++ {
		p, c := all[i-1], all[i]
		if p.OccurredAt.Before(c.OccurredAt) || (p.OccurredAt.Equal(c.OccurredAt) && compare(p.ID, c.ID) < 0) {
			t.Errorf("events out of order at %d: %v/%s before %v/%s", i, p.OccurredAt, p.ID, c.OccurredAt, c.ID)
		}
	}

	badCursors := []string{
		"!!!",
		base64.RawURLEncoding.EncodeToString([]byte("not json")),
		store.EncodeCursor("a", "b", "c"),
		store.EncodeCursor("not-a-uuid"),
	}
	for _, c := range badCursors {
		_, _, err := s.ListTenants(ctx, store.TenantFilter{}, store.Page{Cursor: c})
		wantErr(t, fmt.Sprintf("ListTenants cursor %q", c), err, store.ErrInvalid)
		_, _, err = s.ListUsageEvents(ctx, main.ID, store.UsageFilter{}, store.Page{Cursor: c})
		wantErr(t, fmt.Sprintf("ListUsageEvents cursor %q", c), err, store.ErrInvalid)
		_, _, err = s.ListMembers(ctx, main.ID, store.Page{Cursor: c})
		wantErr(t, fmt.Sprintf("ListMembers cursor %q", c), err, store.ErrInvalid)
		_, _, err = s.ListAudit(ctx, main.ID, store.AuditFilter{}, store.Page{Cursor: c})
		wantErr(t, fmt.Sprintf("ListAudit cursor %q", c), err, store.ErrInvalid)
	}
	_, _, err = s.ListUsageEvents(ctx, main.ID, store.UsageFilter{}, store.Page{Cursor: store.EncodeCursor("x", store.NewID())})
	wantErr(t, "ListUsageEvents cursor with bad time", err, store.ErrInvalid)
	for _, limit := range []int{-1, 101} {
		_, _, err := s.ListAPIKeys(ctx, main.ID, store.Page{Limit: limit})
		wantErr(t, fmt.Sprintf("ListAPIKeys limit %d", limit), err, store.ErrInvalid)
		_, _, err = s.ListUsers(ctx, store.UserFilter{}, store.Page{Limit: limit})
		wantErr(t, fmt.Sprintf("ListUsers limit %d", limit), err, store.ErrInvalid)
	}
	// Default limit is 20.
	var many []store.UsageEvent
	for i := range 25 {
		many = append(many, event(main.ID, "bulk", fmt.Sprint("bulk", i), 1, start))
	}
	if _, _, err := s.InsertUsageBatch(ctx, many); err != nil {
		t.Fatal(err)
	}
	page1, next, err := s.ListUsageEvents(ctx, main.ID, store.UsageFilter{Metric: "bulk"}, store.Page{})
	if err != nil || len(page1) != store.DefaultLimit || next == "" {
		t.Errorf("default page = %d items, next %q, %v; want %d and a cursor", len(page1), next, err, store.DefaultLimit)
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
