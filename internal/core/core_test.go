package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

func TestPeriodRange(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 15, 13, 30, 0, 0, time.UTC)
	s := &Service{Now: func() time.Time { return now }}
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		period     string
		from, to   time.Time
		wantFrom   time.Time
		wantTo     time.Time
		wantErrFor string
	}{
		{period: "", wantFrom: day(15).AddDate(0, 0, -29), wantTo: now},
		{period: "7d", wantFrom: day(9), wantTo: now},
		{period: "90d", wantFrom: day(15).AddDate(0, 0, -89), wantTo: now},
		{period: "1y", wantErrFor: "period"},
		{from: day(1), to: day(10), wantFrom: day(1), wantTo: day(10)},
		{from: day(1), wantFrom: day(1), wantTo: now},
		{to: day(10), wantErrFor: "from"},
		{from: day(10), to: day(1), wantErrFor: "from"},
		{from: day(1).AddDate(-2, 0, 0), to: day(1), wantErrFor: "from"},
		{period: "7d", from: day(1), to: day(2), wantErrFor: "period"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v %v", tt.period, tt.from, tt.to), func(t *testing.T) {
			from, to, err := s.periodRange(tt.period, tt.from, tt.to)
			if tt.wantErrFor != "" {
				e, ok := AsError(err)
				if !ok || e.Field != tt.wantErrFor || e.Status != http.StatusUnprocessableEntity {
					t.Fatalf("err = %v, want a 422 naming %s", err, tt.wantErrFor)
				}
				return
			}
			if err != nil || !from.Equal(tt.wantFrom) || !to.Equal(tt.wantTo) {
				t.Errorf("got [%v, %v) %v, want [%v, %v)", from, to, err, tt.wantFrom, tt.wantTo)
			}
		})
	}
}

func TestStoreErr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err      error
		status   int
		code     string
		field    string
		internal bool
	}{
		{fmt.Errorf("get: %w", store.ErrNotFound), 404, CodeNotFound, "", false},
		{fmt.Errorf("add: %w", store.ErrConflict), 409, CodeConflict, "", false},
		{fmt.Errorf("remove: %w", store.ErrLastOwner), 409, CodeLastOwner, "", false},
		{fmt.Errorf("list: %w", fmt.Errorf("%w: cursor", store.ErrInvalid)), 400, "bad_cursor", "cursor", false},
		{fmt.Errorf("%w: role %q", store.ErrInvalid, "god"), 422, CodeInvalid, "role", false},
		{errors.New("connection reset"), 0, "", "", true},
	}
	for _, tt := range tests {
		got := storeErr(tt.err, "thing")
		e, ok := AsError(got)
		if tt.internal {
			if ok || !errors.Is(got, tt.err) {
				t.Errorf("storeErr(%v) = %v, want an internal error wrapping it", tt.err, got)
			}
			continue
		}
		if !ok || e.Status != tt.status || e.Code != tt.code || e.Field != tt.field {
			t.Errorf("storeErr(%v) = %+v, want %d %s field %q", tt.err, got, tt.status, tt.code, tt.field)
		}
	}
	if storeErr(nil, "x") != nil {
		t.Error("storeErr(nil) != nil")
	}
}

func TestMayGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		caller Caller
		role   store.Role
		scopes []string
		ok     bool
	}{
		{Caller{Kind: UserCaller}, store.RoleAdmin, AllScopes, true},
		{Caller{Kind: UserCaller}, store.RoleMember, []string{ScopeRead, ScopeUsageWrite, ScopeAI}, true},
		{Caller{Kind: UserCaller}, store.RoleMember, []string{ScopeKeysManage}, false},
		{Caller{Kind: UserCaller}, store.RoleViewer, []string{ScopeUsageWrite}, false},
		{Caller{Kind: TenantKeyCaller, Scopes: []string{ScopeKeysManage, ScopeRead}}, "", []string{ScopeRead}, true},
		{Caller{Kind: TenantKeyCaller, Scopes: []string{ScopeKeysManage}}, "", []string{ScopeWrite}, false},
		{Caller{Kind: PlatformCaller}, "", AllScopes, true},
		{Caller{Kind: PlatformCaller}, "", []string{"root"}, false},
	}
	for _, tt := range tests {
		err := mayGrant(&Call{Caller: tt.caller, Role: tt.role}, tt.scopes)
		if (err == nil) != tt.ok {
			t.Errorf("mayGrant(%v as %s/%s, %v) = %v, want ok=%v", tt.caller.Kind, tt.role, tt.caller.Scopes, tt.scopes, err, tt.ok)
		}
	}
}

func TestTTLCache(t *testing.T) {
	t.Parallel()
	c := newTTLCache[string, int](time.Second, 2)
	now := time.Unix(1000, 0)
	c.put("a", 1, now)
	if v, ok := c.get("a", now.Add(999*time.Millisecond)); !ok || v != 1 {
		t.Errorf("fresh get = %v %v", v, ok)
	}
	if _, ok := c.get("a", now.Add(1001*time.Millisecond)); ok {
		t.Error("expired entry returned")
	}
	c.drop("a")
	if _, ok := c.get("a", now); ok {
		t.Error("dropped entry returned")
	}
	c.put("a", 1, now)
	c.put("b", 2, now)
	c.put("c", 3, now) // over max: the cache starts over, bounded
	if len(c.m) > 2 {
		t.Errorf("cache holds %d entries, max 2", len(c.m))
	}
}

func TestCallJSONAuthorizesAndDecodesStrictly(t *testing.T) {
	t.Parallel()
	s := &Service{}
	var getPlan Operation
	for _, op := range s.Operations() {
		if op.ID == "getPlatformStats" {
			getPlan = op
		}
	}
	if getPlan.ID == "" {
		t.Fatal("getPlatformStats not in the table")
	}
	// Anonymous and non-platform callers are refused before any store use
	// (the service has no store: reaching it would panic).
	for _, c := range []Caller{{}, {Kind: UserCaller, UserID: "u"}, {Kind: TenantKeyCaller, TenantID: "t", Scopes: AllScopes}} {
		_, err := getPlan.CallJSON(WithCaller(context.Background(), c), nil)
		e, ok := AsError(err)
		want := http.StatusForbidden
		if c.Kind == Anonymous {
			want = http.StatusUnauthorized
		}
		if !ok || e.Status != want {
			t.Errorf("as %v: %v, want %d", c.Kind, err, want)
		}
	}
	_, err := getPlan.CallJSON(WithCaller(context.Background(), Caller{Kind: PlatformCaller}), []byte(`{"unknown":1}`))
	if e, ok := AsError(err); !ok || e.Status != http.StatusUnprocessableEntity {
		t.Errorf("unknown field: %v, want 422", err)
	}
}
