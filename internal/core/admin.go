package core

import (
	"context"
	"net/http"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

// AuditEntry is one audit log line.
type AuditEntry struct {
	ID        string         `json:"id"`
	Principal string         `json:"principal" doc:"Who: user:<id>, key:<id>, platform, or lago (a verified Lago webhook)"`
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	Details   map[string]any `json:"details"`
	At        time.Time      `json:"at"`
}

type auditInput struct {
	TenantPath
	ListParams
	From time.Time `query:"from" doc:"RFC 3339 start (inclusive)"`
	To   time.Time `query:"to" doc:"RFC 3339 end (exclusive)"`
}

// Stats is the platform overview.
type Stats struct {
	TenantsByPlan     map[string]int     `json:"tenants_by_plan"`
	TenantsByStatus   map[string]int     `json:"tenants_by_status"`
	Users             int                `json:"users"`
	MembershipsByRole map[string]int     `json:"memberships_by_role"`
	ActiveAPIKeys     int                `json:"active_api_keys"`
	UsageEvents30d    int64              `json:"usage_events_30d" doc:"Stored usage events (API calls of one tenant, route, method, status and second are one event)"`
	Usage30d          map[string]float64 `json:"usage_30d" doc:"Summed quantity per metric"`
}

func (s *Service) auditOps() []Operation {
	return []Operation{
		newOp(s, Operation{ID: "listAudit", Method: http.MethodGet, Path: "/api/v1/tenants/{id}/audit", Summary: "A tenant's audit log, newest first", Group: "audit", Access: tenantAccess(store.RoleAdmin, ScopeRead)},
			func(ctx context.Context, c *Call, in *auditInput) (*Body[List[AuditEntry]], error) {
				items, next, err := s.Store.ListAudit(ctx, c.Tenant.ID, store.AuditFilter{From: in.From, To: in.To}, in.page())
				if err != nil {
					return nil, storeErr(err, "audit")
				}
				return listOf(items, next, func(e store.AuditEntry) AuditEntry {
					return AuditEntry{ID: e.ID, Principal: e.Principal, Action: e.Action, Target: e.Target, Details: jsonObject(e.Details), At: e.At}
				}), nil
			}),
	}
}

func (s *Service) adminOps() []Operation {
	const g = "admin"
	return []Operation{
		newOp(s, Operation{ID: "getPlatformStats", Method: http.MethodGet, Path: "/api/v1/admin/stats", Summary: "Platform statistics", Group: g, Access: platformOnly},
			func(ctx context.Context, c *Call, in *struct{}) (*Body[Stats], error) {
				// The last 30 UTC days and today so far: whole days, which
				// the store sums from its daily totals.
				st, err := s.Store.PlatformStats(ctx, s.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -30))
				if err != nil {
					return nil, storeErr(err, "stats")
				}
				out := Stats{TenantsByPlan: st.TenantsByPlan, TenantsByStatus: map[string]int{}, Users: st.Users,
					MembershipsByRole: map[string]int{}, ActiveAPIKeys: st.ActiveAPIKeys, UsageEvents30d: st.UsageEvents, Usage30d: st.UsageByMetric}
				for k, v := range st.TenantsByStatus {
					out.TenantsByStatus[string(k)] = v
				}
				for k, v := range st.MembershipsByRole {
					out.MembershipsByRole[string(k)] = v
				}
				return &Body[Stats]{Body: out}, nil
			}),
		newOp(s, Operation{ID: "listModules", Method: http.MethodGet, Path: "/api/v1/admin/modules", Summary: "Catalog modules with layer and health", Group: g, Access: platformOnly},
			func(ctx context.Context, c *Call, in *struct{}) (*Body[List[Module]], error) {
				mods := []Module{}
				if s.Modules != nil {
					mods = append(mods, s.Modules.Modules()...)
				}
				return &Body[List[Module]]{Body: List[Module]{Items: mods}}, nil
			}),
	}
}
