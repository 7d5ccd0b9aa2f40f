package entitlements

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr(v int64) *int64 { return &v }

// The default table must be exactly the one in spec/plans-and-metrics.md.
func TestDefaultMatchesSpec(t *testing.T) {
	t.Parallel()
	want := []Plan{
		{ID: "free", Name: "Free", Limits: Limits{1000, 60, 100, 1}, Features: []string{"core"}},
		{ID: "starter", Name: "Starter", Limits: Limits{10000, 300, 1000, 5}, Features: []string{"core", "advanced_analytics", "api_access"}},
		{ID: "pro", Name: "Pro", Limits: Limits{100000, 1000, 10000, 25}, Features: []string{"core", "advanced_analytics",
			"priority_support", "custom_domain", "api_access", "sso", "audit_log"}},
		{ID: "enterprise", Name: "Enterprise", Limits: Limits{-1, 5000, -1, -1}, Features: []string{"core", "advanced_analytics",
			"priority_support", "custom_domain", "api_access", "sso", "audit_log", "white_label"}},
	}
	if diff := cmp.Diff(want, Default().List()); diff != "" {
		t.Errorf("default plans (-want +got):\n%s", diff)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	plans := Default()
	tests := []struct {
		name    string
		plan    string
		o       Overrides
		want    Limits
		wantErr error
	}{
		{"plan as is", "starter", Overrides{}, Limits{10000, 300, 1000, 5}, nil},
		{"rate override", "free", Overrides{RateLimitPerMinute: ptr(100000)}, Limits{1000, 100000, 100, 1}, nil},
		{"unlimited calls", "free", Overrides{APICallsPerMonth: ptr(-1)}, Limits{-1, 60, 100, 1}, nil},
		{"zero is a real limit", "pro", Overrides{APICallsPerMonth: ptr(0)}, Limits{0, 1000, 10000, 25}, nil},
		{"invalid override ignored", "free", Overrides{RateLimitPerMinute: ptr(-5)}, Limits{1000, 60, 100, 1}, nil},
		{"unknown plan", "gold", Overrides{}, Limits{}, ErrUnknownPlan},
		{"empty plan", "", Overrides{}, Limits{}, ErrUnknownPlan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := plans.Limits(tt.plan, tt.o)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Limits = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHasFeature(t *testing.T) {
	t.Parallel()
	plans := Default()
	tests := []struct {
		plan, feature string
		o             Overrides
		want          bool
		wantErr       error
	}{
		{"free", "core", Overrides{}, true, nil},
		{"free", "sso", Overrides{}, false, nil},
		{"pro", "sso", Overrides{}, true, nil},
		{"pro", "white_label", Overrides{}, false, nil},
		{"enterprise", "white_label", Overrides{}, true, nil},
		{"free", "sso", Overrides{Features: map[string]bool{"sso": true}}, true, nil},
		{"pro", "sso", Overrides{Features: map[string]bool{"sso": false}}, false, nil},
		{"free", "teleport", Overrides{}, false, ErrUnknownFeature},
		{"gold", "core", Overrides{}, false, ErrUnknownPlan},
	}
	for _, tt := range tests {
		t.Run(tt.plan+"/"+tt.feature, func(t *testing.T) {
			t.Parallel()
			got, err := plans.HasFeature(tt.plan, tt.feature, tt.o)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("HasFeature = %v, %v; want %v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestResolveAndValidate(t *testing.T) {
	t.Parallel()
	plans := Default()
	o := Overrides{RateLimitPerMinute: ptr(7), Features: map[string]bool{"sso": true, "core": false, "bogus": true}}
	got, err := plans.Resolve("starter", o)
	if err != nil {
		t.Fatal(err)
	}
	want := Entitlement{Plan: "starter", Limits: Limits{10000, 7, 1000, 5}, Features: []string{"advanced_analytics", "api_access", "sso"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resolve (-want +got):\n%s", diff)
	}
	if err := plans.Validate(o); !errors.Is(err, ErrUnknownFeature) {
		t.Errorf("Validate = %v, want ErrUnknownFeature", err)
	}
	if err := plans.Validate(Overrides{APICallsPerMonth: ptr(-2)}); err == nil {
		t.Error("Validate accepted -2")
	}
	if err := plans.Validate(Overrides{RateLimitPerMinute: ptr(MaxRatePerMinute + 1)}); err == nil {
		t.Error("Validate accepted a rate limit above MaxRatePerMinute")
	}
	if err := plans.Validate(Overrides{APICallsPerMonth: ptr(MaxCallsPerMonth + 1)}); err == nil {
		t.Error("Validate accepted a quota above MaxCallsPerMonth")
	}
	if err := plans.Validate(Overrides{RateLimitPerMinute: ptr(MaxRatePerMinute), APICallsPerMonth: ptr(MaxCallsPerMonth), Features: map[string]bool{"sso": true}}); err != nil {
		t.Errorf("Validate rejected valid overrides: %v", err)
	}
	if _, err := plans.Resolve("gold", Overrides{}); !errors.Is(err, ErrUnknownPlan) {
		t.Errorf("Resolve(gold) err = %v", err)
	}
}

// List and Get hand out copies: callers cannot change the table.
func TestImmutable(t *testing.T) {
	t.Parallel()
	plans := Default()
	p, _ := plans.Get("free")
	p.Features[0] = "white_label"
	plans.List()[0].Features[0] = "white_label"
	if ok, _ := plans.HasFeature("free", "core", Overrides{}); !ok {
		t.Error("modifying a returned plan changed the table")
	}
}

const validYAML = `
features: [core, reports]
plans:
  - id: hobby
    limits: {api_calls_per_month: 50, rate_limit_per_minute: 5, storage_mb: 10, team_members: 1}
    features: [core]
  - id: team
    name: Team plan
    limits:
      api_calls_per_month: -1
      rate_limit_per_minute: 600
      storage_mb: -1
      team_members: 50
    features: [reports, core]
`

func TestParse(t *testing.T) {
	t.Parallel()
	want := []Plan{
		{ID: "hobby", Name: "Hobby", Limits: Limits{50, 5, 10, 1}, Features: []string{"core"}},
		{ID: "team", Name: "Team plan", Limits: Limits{-1, 600, -1, 50}, Features: []string{"core", "reports"}},
	}
	jsonDoc := `{"features":["core","reports"],"plans":[
	  {"id":"hobby","limits":{"api_calls_per_month":50,"rate_limit_per_minute":5,"storage_mb":10,"team_members":1},"features":["core"]},
	  {"id":"team","name":"Team plan","limits":{"api_calls_per_month":-1,"rate_limit_per_minute":600,"storage_mb":-1,"team_members":50},"features":["reports","core"]}]}`
	for name, doc := range map[string]string{"yaml": validYAML, "json": jsonDoc} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			plans, err := Parse([]byte(doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(want, plans.List()); diff != "" {
				t.Errorf("plans (-want +got):\n%s", diff)
			}
			if ok, err := plans.HasFeature("hobby", "sso", Overrides{}); ok || !errors.Is(err, ErrUnknownFeature) {
				t.Errorf("sso is not a feature of this table: got %v, %v", ok, err)
			}
		})
	}
}

func TestParseDefaultFeaturesWhenOmitted(t *testing.T) {
	t.Parallel()
	plans, err := Parse([]byte("plans:\n  - id: x\n    limits: {api_calls_per_month: 1, rate_limit_per_minute: 1, storage_mb: 1, team_members: 1}\n    features: [sso]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultFeatures(), plans.Features()); diff != "" {
		t.Errorf("features (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	limits := "{api_calls_per_month: 1, rate_limit_per_minute: 1, storage_mb: 1, team_members: 1}"
	tests := map[string]string{
		"empty":              "",
		"no plans":           "plans: []",
		"unknown top field":  "plan: []",
		"unknown plan field": "plans:\n  - id: a\n    price: 3\n    limits: " + limits,
		"unknown limit":      "plans:\n  - id: a\n    limits: {api_calls_per_month: 1, rate_limit_per_minute: 1, storage_mb: 1, team_members: 1, seats: 1}",
		"missing limit":      "plans:\n  - id: a\n    limits: {api_calls_per_month: 1, rate_limit_per_minute: 1, storage_mb: 1}",
		"below -1":           "plans:\n  - id: a\n    limits: {api_calls_per_month: -2, rate_limit_per_minute: 1, storage_mb: 1, team_members: 1}",
		"rate too high":      "plans:\n  - id: a\n    limits: {api_calls_per_month: 1, rate_limit_per_minute: 60000001, storage_mb: 1, team_members: 1}",
		"quota too high":     "plans:\n  - id: a\n    limits: {api_calls_per_month: 9007199254740992, rate_limit_per_minute: 1, storage_mb: 1, team_members: 1}",
		"unknown feature":    "plans:\n  - id: a\n    limits: " + limits + "\n    features: [teleport]",
		"duplicate plan":     "plans:\n  - id: a\n    limits: " + limits + "\n  - id: a\n    limits: " + limits,
		"bad plan id":        "plans:\n  - id: Gold Plan\n    limits: " + limits,
		"duplicate feature":  "features: [a, a]\nplans:\n  - id: a\n    limits: " + limits,
		"two documents":      "plans:\n  - id: a\n    limits: " + limits + "\n---\nplans: []",
		"string limit":       "plans:\n  - id: a\n    limits: {api_calls_per_month: lots, rate_limit_per_minute: 1, storage_mb: 1, team_members: 1}",
		"json unknown field": `{"plans":[],"x":1}`,
		"json trailing":      `{"plans":[{"id":"a","limits":{"api_calls_per_month":1,"rate_limit_per_minute":1,"storage_mb":1,"team_members":1}}]} {}`,
		"json float":         `{"plans":[{"id":"a","limits":{"api_calls_per_month":1.5,"rate_limit_per_minute":1,"storage_mb":1,"team_members":1}}]}`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse([]byte(doc)); !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "plans.yaml")
	if err := os.WriteFile(path, []byte(validYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	plans, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plans.Get("team"); !ok {
		t.Error("plan team missing")
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("LoadFile of a missing file succeeded")
	}
}

func TestRequireFeature(t *testing.T) {
	t.Parallel()
	plans := Default()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tests := []struct {
		name       string
		plan       string // "" = no entitlement in context
		o          Overrides
		wantStatus int
	}{
		{"pro has sso", "pro", Overrides{}, 204},
		{"free lacks sso", "free", Overrides{}, 403},
		{"override grants sso", "free", Overrides{Features: map[string]bool{"sso": true}}, 204},
		{"no tenant resolved", "", Overrides{}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.plan != "" {
				e, err := plans.Resolve(tt.plan, tt.o)
				if err != nil {
					t.Fatal(err)
				}
				r = r.WithContext(NewContext(r.Context(), &e))
			}
			rec := httptest.NewRecorder()
			RequireFeature(FeatureSSO)(ok).ServeHTTP(rec, r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus == 403 {
				var body struct{ Code string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Code != "feature_not_in_plan" {
					t.Errorf("body = %s, want code feature_not_in_plan", rec.Body)
				}
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	e, _ := Default().Resolve("starter", Overrides{})
	ctx := NewContext(context.Background(), &e)
	for feature, want := range map[string]bool{"api_access": true, "sso": false, "nonsense": false} {
		if got := Allowed(ctx, feature); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", feature, got, want)
		}
	}
	if Allowed(context.Background(), "core") {
		t.Error("Allowed without an entitlement = true")
	}
	if got, ok := FromContext(ctx); !ok || got.Plan != "starter" {
		t.Errorf("FromContext = %+v, %v", got, ok)
	}
}

func TestWithin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		limit, used int64
		want        bool
	}{{-1, 1 << 60, true}, {10, 10, true}, {10, 11, false}, {0, 0, true}, {0, 1, false}} {
		if got := Within(tt.limit, tt.used); got != tt.want {
			t.Errorf("Within(%d, %d) = %v, want %v", tt.limit, tt.used, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(validYAML))
	f.Add([]byte(`{"plans":[{"id":"a","limits":{"api_calls_per_month":1,"rate_limit_per_minute":1,"storage_mb":1,"team_members":1}}]}`))
	f.Add([]byte("plans:\n  - id: a\n    limits: {api_calls_per_month: 1}\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		plans, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not wrapping ErrInvalid: %v", err)
			}
			return
		}
		// Whatever is accepted is a consistent table.
		for _, p := range plans.List() {
			l, err := plans.Limits(p.ID, Overrides{})
			if err != nil {
				t.Fatalf("listed plan %q has no limits: %v", p.ID, err)
			}
			for _, v := range []int64{l.APICallsPerMonth, l.RateLimitPerMinute, l.StorageMB, l.TeamMembers} {
				if v < Unlimited {
					t.Fatalf("plan %q accepted with limit %d", p.ID, v)
				}
			}
			for _, feat := range p.Features {
				if !plans.KnownFeature(feat) {
					t.Fatalf("plan %q has unknown feature %q", p.ID, feat)
				}
			}
		}
	})
}

func ExamplePlans_Limits() {
	plans := Default()
	limits, _ := plans.Limits("free", Overrides{})
	fmt.Println(limits.RateLimitPerMinute, limits.APICallsPerMonth)

	unlimited := int64(-1)
	limits, _ = plans.Limits("free", Overrides{APICallsPerMonth: &unlimited})
	fmt.Println(limits.APICallsPerMonth == Unlimited)

	_, err := plans.Limits("gold", Overrides{})
	fmt.Println(err)
	// Output:
	// 60 1000
	// true
	// entitlements: unknown plan "gold"
}

func ExampleRequireFeature() {
	plans := Default()
	sso := RequireFeature(FeatureSSO)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "SSO settings")
	}))
	for _, plan := range []string{"pro", "free"} {
		// In a server, package tenancy puts the tenant's entitlement in the
		// context; here we do it by hand.
		e, _ := plans.Resolve(plan, Overrides{})
		r := httptest.NewRequest("GET", "/sso", nil)
		r = r.WithContext(NewContext(r.Context(), &e))
		rec := httptest.NewRecorder()
		sso.ServeHTTP(rec, r)
		var problem struct{ Code, Detail string }
		_ = json.Unmarshal(rec.Body.Bytes(), &problem)
		if rec.Code == http.StatusOK {
			fmt.Println(plan, rec.Code, strings.TrimSpace(rec.Body.String()))
		} else {
			fmt.Println(plan, rec.Code, problem.Code+":", problem.Detail)
		}
	}
	// Output:
	// pro 200 SSO settings
	// free 403 feature_not_in_plan: the free plan does not include sso
}
