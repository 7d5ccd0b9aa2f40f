// Package entitlements is the plan table of fast-saas: the limits and
// features of each plan, per-tenant overrides, and middleware that gates
// features by plan.
//
// The same table drives the API's /plans endpoints, the rate limiter, the
// monthly quota and Lago plan codes (plan ids equal Lago plan codes). The
// defaults are those of the spec (free, starter, pro, enterprise); a plans
// file (YAML or JSON, strictly parsed) replaces them. In limits, -1
// (Unlimited) means no limit.
package entitlements

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Unlimited as a limit value means "no limit".
const Unlimited int64 = -1

// MaxRatePerMinute is the highest finite rate limit a plan or an override
// may set: one request per microsecond. The rate limiter spaces requests in
// whole microseconds, so it cannot enforce a higher rate; use Unlimited.
const MaxRatePerMinute int64 = 60_000_000

// MaxCallsPerMonth is the highest finite monthly API-call quota a plan or
// an override may set: 2^53 − 1. Usage totals are float64 sums, exact up to
// 2^53, and JSON clients in JavaScript read larger integers inexactly; use
// Unlimited beyond.
const MaxCallsPerMonth int64 = 1<<53 - 1

// Feature keys of the default table.
const (
	FeatureCore              = "core"
	FeatureAdvancedAnalytics = "advanced_analytics"
	FeaturePrioritySupport   = "priority_support"
	FeatureCustomDomain      = "custom_domain"
	FeatureAPIAccess         = "api_access"
	FeatureSSO               = "sso"
	FeatureAuditLog          = "audit_log"
	FeatureWhiteLabel        = "white_label"
)

// DefaultFeatures lists the feature keys of the default table, in order.
func DefaultFeatures() []string {
	return []string{FeatureCore, FeatureAdvancedAnalytics, FeaturePrioritySupport, FeatureCustomDomain,
		FeatureAPIAccess, FeatureSSO, FeatureAuditLog, FeatureWhiteLabel}
}

// Errors matched with errors.Is.
var (
	ErrUnknownPlan    = errors.New("entitlements: unknown plan")
	ErrUnknownFeature = errors.New("entitlements: unknown feature")
	ErrInvalid        = errors.New("entitlements: invalid plan table")
)

// Limits are the numeric limits of a plan; -1 means unlimited.
type Limits struct {
	APICallsPerMonth   int64 `json:"api_calls_per_month" yaml:"api_calls_per_month"`
	RateLimitPerMinute int64 `json:"rate_limit_per_minute" yaml:"rate_limit_per_minute"`
	StorageMB          int64 `json:"storage_mb" yaml:"storage_mb"`
	TeamMembers        int64 `json:"team_members" yaml:"team_members"`
}

// Within reports whether used stays within limit (always true when limit is
// Unlimited). Use it as "may one more be used": Within(limit, used+1).
func Within(limit, used int64) bool {
	return limit == Unlimited || used <= limit
}

// Plan is one row of the plan table.
type Plan struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Limits   Limits   `json:"limits"`
	Features []string `json:"features"` // sorted as declared in the table's feature list
}

// Has reports whether the plan includes feature (before overrides).
func (p Plan) Has(feature string) bool { return slices.Contains(p.Features, feature) }

// Overrides adjust one tenant's plan. Nil fields keep the plan's value; -1
// means unlimited. Features entries switch a feature on (true) or off
// (false) whatever the plan says.
type Overrides struct {
	RateLimitPerMinute *int64          `json:"rate_limit_per_minute,omitempty" yaml:"rate_limit_per_minute,omitempty"`
	APICallsPerMonth   *int64          `json:"api_calls_per_month,omitempty" yaml:"api_calls_per_month,omitempty"`
	Features           map[string]bool `json:"features,omitempty" yaml:"features,omitempty"`
}

// IsZero reports whether o changes nothing.
func (o Overrides) IsZero() bool {
	return o.RateLimitPerMinute == nil && o.APICallsPerMonth == nil && len(o.Features) == 0
}

// Plans is an immutable plan table. The zero value is not usable; get one
// from Default, New, Parse or LoadFile.
type Plans struct {
	order    []string
	byID     map[string]Plan
	features []string
	known    map[string]bool
}

// validKey reports whether s is a plan id or feature key: 1 to 63
// lowercase letters, digits, '-' or '_', starting and ending with a letter
// or digit. Written out rather than as the regular expression
// ^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$, whose compiled form (the bounded
// repetition unrolled 61 times) every command of the binary paid for at
// start-up.
func validKey(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '-' || c == '_') && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// New validates plans against the known feature keys (nil means
// DefaultFeatures) and returns the table.
func New(plans []Plan, features []string) (*Plans, error) {
	if features == nil {
		features = DefaultFeatures()
	}
	t := &Plans{byID: make(map[string]Plan, len(plans)), known: make(map[string]bool, len(features))}
	for _, f := range features {
		if !validKey(f) {
			return nil, fmt.Errorf("%w: feature key %q must be lowercase letters, digits, '-' or '_'", ErrInvalid, f)
		}
		if t.known[f] {
			return nil, fmt.Errorf("%w: feature %q declared twice", ErrInvalid, f)
		}
		t.known[f] = true
		t.features = append(t.features, f)
	}
	if len(plans) == 0 {
		return nil, fmt.Errorf("%w: no plans", ErrInvalid)
	}
	for _, p := range plans {
		if !validKey(p.ID) {
			return nil, fmt.Errorf("%w: plan id %q must be lowercase letters, digits, '-' or '_'", ErrInvalid, p.ID)
		}
		if _, dup := t.byID[p.ID]; dup {
			return nil, fmt.Errorf("%w: plan %q declared twice", ErrInvalid, p.ID)
		}
		for name, v := range map[string]int64{
			"api_calls_per_month": p.Limits.APICallsPerMonth, "rate_limit_per_minute": p.Limits.RateLimitPerMinute,
			"storage_mb": p.Limits.StorageMB, "team_members": p.Limits.TeamMembers,
		} {
			if v < Unlimited {
				return nil, fmt.Errorf("%w: plan %q: %s = %d (use -1 for unlimited)", ErrInvalid, p.ID, name, v)
			}
		}
		if r := p.Limits.RateLimitPerMinute; r > MaxRatePerMinute {
			return nil, fmt.Errorf("%w: plan %q: rate_limit_per_minute = %d is above %d (use -1 for unlimited)", ErrInvalid, p.ID, r, MaxRatePerMinute)
		}
		if c := p.Limits.APICallsPerMonth; c > MaxCallsPerMonth {
			return nil, fmt.Errorf("%w: plan %q: api_calls_per_month = %d is above %d (use -1 for unlimited)", ErrInvalid, p.ID, c, MaxCallsPerMonth)
		}
		set := map[string]bool{}
		for _, f := range p.Features {
			if !t.known[f] {
				return nil, fmt.Errorf("%w: plan %q: %w %q", ErrInvalid, p.ID, ErrUnknownFeature, f)
			}
			set[f] = true
		}
		p.Features = t.ordered(set)
		if p.Name == "" {
			p.Name = strings.ToUpper(p.ID[:1]) + p.ID[1:]
		}
		t.byID[p.ID] = p
		t.order = append(t.order, p.ID)
	}
	return t, nil
}

// ordered returns the enabled features of set in table order.
func (t *Plans) ordered(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for _, f := range t.features {
		if set[f] {
			out = append(out, f)
		}
	}
	return out
}

// Default returns the plan table of the spec.
func Default() *Plans {
	all := DefaultFeatures()
	t, err := New([]Plan{
		{ID: "free", Name: "Free", Limits: Limits{APICallsPerMonth: 1_000, RateLimitPerMinute: 60, StorageMB: 100, TeamMembers: 1},
			Features: []string{FeatureCore}},
		{ID: "starter", Name: "Starter", Limits: Limits{APICallsPerMonth: 10_000, RateLimitPerMinute: 300, StorageMB: 1_000, TeamMembers: 5},
			Features: []string{FeatureCore, FeatureAdvancedAnalytics, FeatureAPIAccess}},
		{ID: "pro", Name: "Pro", Limits: Limits{APICallsPerMonth: 100_000, RateLimitPerMinute: 1_000, StorageMB: 10_000, TeamMembers: 25},
			Features: slices.DeleteFunc(slices.Clone(all), func(f string) bool { return f == FeatureWhiteLabel })},
		{ID: "enterprise", Name: "Enterprise", Limits: Limits{APICallsPerMonth: Unlimited, RateLimitPerMinute: 5_000, StorageMB: Unlimited, TeamMembers: Unlimited},
			Features: all},
	}, all)
	if err != nil {
		panic("entitlements: default table is invalid: " + err.Error()) // a bug caught by tests
	}
	return t
}

// List returns the plans in table order.
func (t *Plans) List() []Plan {
	out := make([]Plan, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, t.clonePlan(id))
	}
	return out
}

// Get returns the plan with this id.
func (t *Plans) Get(id string) (Plan, bool) {
	if _, ok := t.byID[id]; !ok {
		return Plan{}, false
	}
	return t.clonePlan(id), true
}

func (t *Plans) clonePlan(id string) Plan {
	p := t.byID[id]
	p.Features = slices.Clone(p.Features)
	return p
}

// Features returns the known feature keys in table order.
func (t *Plans) Features() []string { return slices.Clone(t.features) }

// KnownFeature reports whether feature is a key of this table.
func (t *Plans) KnownFeature(feature string) bool { return t.known[feature] }

// Limits returns the plan's limits with the tenant's overrides applied.
func (t *Plans) Limits(plan string, o Overrides) (Limits, error) {
	p, ok := t.byID[plan]
	if !ok {
		return Limits{}, fmt.Errorf("%w %q", ErrUnknownPlan, plan)
	}
	l := p.Limits
	if o.RateLimitPerMinute != nil && *o.RateLimitPerMinute >= Unlimited {
		l.RateLimitPerMinute = *o.RateLimitPerMinute
	}
	if o.APICallsPerMonth != nil && *o.APICallsPerMonth >= Unlimited {
		l.APICallsPerMonth = *o.APICallsPerMonth
	}
	return l, nil
}

// HasFeature reports whether a tenant on plan, with overrides o, has
// feature. An unknown plan or feature yields false and an error.
func (t *Plans) HasFeature(plan, feature string, o Overrides) (bool, error) {
	p, ok := t.byID[plan]
	if !ok {
		return false, fmt.Errorf("%w %q", ErrUnknownPlan, plan)
	}
	if !t.known[feature] {
		return false, fmt.Errorf("%w %q", ErrUnknownFeature, feature)
	}
	if v, ok := o.Features[feature]; ok {
		return v, nil
	}
	return p.Has(feature), nil
}

// Validate checks overrides against the table: known features only,
// limits ≥ -1, a rate limit ≤ MaxRatePerMinute.
func (t *Plans) Validate(o Overrides) error {
	for name, v := range map[string]*int64{"rate_limit_per_minute": o.RateLimitPerMinute, "api_calls_per_month": o.APICallsPerMonth} {
		if v != nil && *v < Unlimited {
			return fmt.Errorf("override %s = %d: use -1 for unlimited or a value ≥ 0", name, *v)
		}
	}
	if r := o.RateLimitPerMinute; r != nil && *r > MaxRatePerMinute {
		return fmt.Errorf("override rate_limit_per_minute = %d: at most %d, or -1 for unlimited", *r, MaxRatePerMinute)
	}
	if c := o.APICallsPerMonth; c != nil && *c > MaxCallsPerMonth {
		return fmt.Errorf("override api_calls_per_month = %d: at most %d, or -1 for unlimited", *c, MaxCallsPerMonth)
	}
	for _, f := range slices.Sorted(maps.Keys(o.Features)) {
		if !t.known[f] {
			return fmt.Errorf("override: %w %q", ErrUnknownFeature, f)
		}
	}
	return nil
}

// Resolve computes the effective entitlement of a tenant: limits and the
// set of enabled features after overrides. Override entries naming unknown
// features are ignored (Validate refuses them on the way in).
func (t *Plans) Resolve(plan string, o Overrides) (Entitlement, error) {
	l, err := t.Limits(plan, o)
	if err != nil {
		return Entitlement{}, err
	}
	set := make(map[string]bool, len(t.features))
	for _, f := range t.byID[plan].Features {
		set[f] = true
	}
	for f, on := range o.Features {
		if t.known[f] {
			set[f] = on
		}
	}
	return Entitlement{Plan: plan, Limits: l, Features: t.ordered(set)}, nil
}

// Entitlement is what one tenant may use: its plan's limits and features
// after overrides.
type Entitlement struct {
	Plan     string   `json:"plan"`
	Limits   Limits   `json:"limits"`
	Features []string `json:"features"`
}

// Has reports whether the entitlement includes feature.
func (e Entitlement) Has(feature string) bool { return slices.Contains(e.Features, feature) }
