package server

import "github.com/fast-saas/fast-saas/internal/core"

// defaultPlans is the plan table of spec/plans-and-metrics.md as core
// shows it. TEMPORARY: middleware/entitlements is THE plan table (and
// reads FASTSAAS_PLANS_FILE); this copy goes as soon as it lands.
type defaultPlans struct{ plans []core.Plan }

func newDefaultPlans() *defaultPlans {
	all := func(except ...string) map[string]bool {
		m := map[string]bool{"core": true, "advanced_analytics": true, "priority_support": true, "custom_domain": true,
			"api_access": true, "sso": true, "audit_log": true, "white_label": true}
		for _, e := range except {
			m[e] = false
		}
		return m
	}
	only := func(on ...string) map[string]bool {
		m := all()
		for k := range m {
			m[k] = false
		}
		for _, f := range on {
			m[f] = true
		}
		return m
	}
	return &defaultPlans{plans: []core.Plan{
		{ID: "free", Name: "Free", APICallsPerMonth: 1000, RateLimitPerMinute: 60, StorageMB: 100, TeamMembers: 1, Features: only("core")},
		{ID: "starter", Name: "Starter", APICallsPerMonth: 10000, RateLimitPerMinute: 300, StorageMB: 1000, TeamMembers: 5, Features: only("core", "advanced_analytics", "api_access")},
		{ID: "pro", Name: "Pro", APICallsPerMonth: 100000, RateLimitPerMinute: 1000, StorageMB: 10000, TeamMembers: 25, Features: all("white_label")},
		{ID: "enterprise", Name: "Enterprise", APICallsPerMonth: -1, RateLimitPerMinute: 5000, StorageMB: -1, TeamMembers: -1, Features: all()},
	}}
}

func (p *defaultPlans) Plans() []core.Plan { return p.plans }

func (p *defaultPlans) Plan(id string) (core.Plan, bool) {
	for _, pl := range p.plans {
		if pl.ID == id {
			return pl, true
		}
	}
	return core.Plan{}, false
}
