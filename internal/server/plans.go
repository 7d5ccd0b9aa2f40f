package server

import (
	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/middleware/entitlements"
)

// planTable shows middleware/entitlements' plan table (THE plan table) to
// core, with every known feature listed true or false.
type planTable struct{ t *entitlements.Plans }

func loadPlans(path string) (*entitlements.Plans, error) {
	if path == "" {
		return entitlements.Default(), nil
	}
	return entitlements.LoadFile(path)
}

func (p planTable) view(pl entitlements.Plan) core.Plan {
	features := map[string]bool{}
	for _, f := range p.t.Features() {
		features[f] = pl.Has(f)
	}
	return core.Plan{ID: pl.ID, Name: pl.Name, APICallsPerMonth: pl.Limits.APICallsPerMonth, RateLimitPerMinute: pl.Limits.RateLimitPerMinute,
		StorageMB: pl.Limits.StorageMB, TeamMembers: pl.Limits.TeamMembers, Features: features}
}

func (p planTable) Plans() []core.Plan {
	var out []core.Plan
	for _, pl := range p.t.List() {
		out = append(out, p.view(pl))
	}
	return out
}

func (p planTable) Plan(id string) (core.Plan, bool) {
	pl, ok := p.t.Get(id)
	if !ok {
		return core.Plan{}, false
	}
	return p.view(pl), true
}

func planIDs(t *entitlements.Plans) []string {
	var ids []string
	for _, pl := range t.List() {
		ids = append(ids, pl.ID)
	}
	return ids
}

// catalogModules lists internal/catalog's modules for GET /admin/modules.
// Health is not probed from the API server (the stack's containers are
// checked by `fast-saas health`), so it is left out.
type catalogModules struct{ c *catalog.Catalog }

func (m catalogModules) Modules() []core.Module {
	var out []core.Module
	for _, mod := range m.c.Modules() {
		out = append(out, core.Module{ID: mod.ID, Name: mod.Name, Layer: string(mod.Layer), Description: mod.Description, Default: mod.Default})
	}
	return out
}
