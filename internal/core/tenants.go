package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/usage"
)

// Tenant is a tenant as the API shows it.
type Tenant struct {
	ID         string     `json:"id"`
	Slug       string     `json:"slug"`
	Name       string     `json:"name"`
	Plan       string     `json:"plan"`
	Status     string     `json:"status" enum:"active,suspended,cancelled"`
	Settings   JSONObject `json:"settings"`
	Metadata   JSONObject `json:"metadata"`
	LogtoOrgID string     `json:"logto_org_id,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

func jsonObject(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m) // the store only holds JSON objects
	}
	return m
}

func rawObject(m map[string]any) json.RawMessage {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m) // a decoded JSON object always re-encodes
	return b
}

func tenantView(t store.Tenant) Tenant {
	return Tenant{ID: t.ID, Slug: t.Slug, Name: t.Name, Plan: t.Plan, Status: string(t.Status),
		Settings: objectOf(t.Settings), Metadata: objectOf(t.Metadata), LogtoOrgID: t.LogtoOrgID,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

type createTenantInput struct {
	Body struct {
		Slug        string         `json:"slug" pattern:"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$" doc:"URL-safe unique name"`
		Name        string         `json:"name" minLength:"1" maxLength:"200"`
		Plan        string         `json:"plan,omitempty" maxLength:"64" doc:"Plan id (default free)"`
		Settings    map[string]any `json:"settings,omitempty"`
		Metadata    map[string]any `json:"metadata,omitempty"`
		OwnerUserID string         `json:"owner_user_id,omitempty" format:"uuid" doc:"Platform admins only: the user who becomes owner"`
		LogtoOrgID  string         `json:"logto_org_id,omitempty" maxLength:"200" doc:"Platform admins only: link to a Logto organization"`
	}
}

type listTenantsInput struct {
	ListParams
	Status string `query:"status" enum:"active,suspended,cancelled" doc:"Only tenants in this status"`
	Plan   string `query:"plan" maxLength:"64" doc:"Only tenants on this plan"`
}

type tenantInput struct{ TenantPath }

type updateTenantInput struct {
	TenantPath
	Body struct {
		Name     *string        `json:"name,omitempty" minLength:"1" maxLength:"200"`
		Settings map[string]any `json:"settings,omitempty"`
		Metadata map[string]any `json:"metadata,omitempty"`
	}
}

type changePlanInput struct {
	TenantPath
	Body struct {
		Plan string `json:"plan" maxLength:"64"`
	}
}

// Overrides are per-tenant limits and features overriding the plan; -1 = unlimited.
// The maxima are entitlements.MaxRatePerMinute (one request per microsecond,
// the limiter's resolution) and entitlements.MaxCallsPerMonth (2^53 − 1;
// TestOverridesMaximaMatchTags).
type Overrides struct {
	RateLimitPerMinute *int64          `json:"rate_limit_per_minute,omitempty" minimum:"-1" maximum:"60000000"`
	APICallsPerMonth   *int64          `json:"api_calls_per_month,omitempty" minimum:"-1" maximum:"9007199254740991"`
	Features           map[string]bool `json:"features,omitempty"`
}

type putOverridesInput struct {
	TenantPath
	Body Overrides
}

// Overview is a tenant with its members, keys and usage in one answer.
type Overview struct {
	Tenant  Tenant       `json:"tenant"`
	Members []Member     `json:"members"`
	APIKeys []APIKey     `json:"api_keys"`
	Usage   UsageSummary `json:"usage"`
	Quota   QuotaStatus  `json:"quota"`
}

// enqueueLago adds Lago sync commands for t to the outbox, inside the
// caller's transaction, in the payload format of internal/usage's
// forwarder: the tenant change and its Lago command commit together, and
// a Lago outage only delays the command.
func (s *Service) enqueueLago(ctx context.Context, q store.Queries, t store.Tenant, kinds ...string) error {
	if !s.Lago {
		return nil
	}
	for _, k := range kinds {
		var it store.OutboxItem
		switch k {
		case store.OutboxKindCreateCustomer:
			it = usage.CreateCustomerItem(t.ID, t.Name, "")
		case store.OutboxKindCreateSubscription:
			it = usage.CreateSubscriptionItem(t.ID, t.Plan, t.Name)
		case store.OutboxKindChangePlan:
			it = usage.ChangePlanItem(t.ID, t.Plan)
		default:
			return fmt.Errorf("enqueue lago: unknown kind %q", k)
		}
		if _, err := q.EnqueueOutbox(ctx, it); err != nil {
			return fmt.Errorf("enqueue lago %s: %w", k, err)
		}
	}
	return nil
}

// knownFeatures refuses feature keys that no plan knows: a misspelt key
// would be stored and grant nothing. Every plan of the catalog lists every
// known feature, true or false (PlanCatalog).
func (s *Service) knownFeatures(features map[string]bool) error {
	if len(features) == 0 {
		return nil
	}
	known := map[string]bool{}
	for _, p := range s.Plans.Plans() {
		for f := range p.Features {
			known[f] = true
		}
	}
	for _, f := range slices.Sorted(maps.Keys(features)) {
		if !known[f] {
			return Invalid("features", fmt.Sprintf("unknown feature %q (known: %s)", f, strings.Join(slices.Sorted(maps.Keys(known)), ", ")))
		}
	}
	return nil
}

func (s *Service) validPlan(plan string) error {
	if _, ok := s.Plans.Plan(plan); !ok {
		return Invalid("plan", fmt.Sprintf("unknown plan %q", plan))
	}
	return nil
}

// tenantListKey identifies one page of a tenant list by everything the
// store query depends on: whose tenants (a user's memberships, or every
// tenant for platform admins), the filters and the page.
type tenantListKey struct {
	filter store.TenantFilter
	page   store.Page
}

// maxCachedLists bounds the tenant-list cache; with pages of at most
// maxCachedListLimit tenants it holds a few MiB at most.
const (
	maxCachedLists     = 256
	maxCachedListLimit = 20
)

// listTenants lists tenants visible through f (all, or a user's
// memberships), a page at a time. Pages of the default size are reused for
// the cache TTL: a dashboard polling its tenant list would otherwise read
// and render the same rows from the store on every request (about 3/4 of
// a platform-key list request's CPU), and a reused page keeps its JSON, so
// it is encoded once (encoding was half of what remained). Tenant and
// membership changes made through this process drop every cached page at
// once; changes made through another replica show within the TTL, as for
// the tenant and role caches of authorization. A cached page is shared by
// the requests that reuse it and must not be modified.
func (s *Service) listTenants(ctx context.Context, f store.TenantFilter, p store.Page) (*Body[List[Tenant]], error) {
	s.caches()
	key := tenantListKey{filter: f, page: p}
	cacheable := p.Limit <= maxCachedListLimit && len(p.Cursor) <= 512
	now := time.Now()
	if cacheable {
		if out, ok := s.lists.get(key, now); ok {
			return out, nil
		}
	}
	gen := s.listGen.Load()
	items, next, err := s.Store.ListTenants(ctx, f, p)
	if err != nil {
		return nil, storeErr(err, "tenants")
	}
	out := listOf(items, next, tenantView)
	if cacheable {
		out = keepJSON(out)
		s.lists.put(key, out, now)
		// An invalidation since the read (forgetLists bumps listGen, then
		// empties the cache) may have missed this page: drop it again.
		if s.listGen.Load() != gen {
			s.lists.drop(key)
		}
	}
	return out, nil
}

func (s *Service) setStatus(ctx context.Context, c *Call, id string, to store.TenantStatus, action string) (*Body[Tenant], error) {
	var out store.Tenant
	err := s.Store.Tx(ctx, func(tx store.Tx) error {
		t, err := tx.GetTenant(ctx, id)
		if err != nil {
			return storeErr(err, "tenant")
		}
		if t.Status == store.TenantCancelled {
			return NotFound("tenant")
		}
		t.Status = to
		if out, err = tx.UpdateTenant(ctx, t); err != nil {
			return storeErr(err, "tenant")
		}
		return audit(ctx, tx, c, t.ID, action, "tenant:"+t.ID, nil)
	})
	s.forgetTenant(id)
	if err != nil {
		return nil, err
	}
	return &Body[Tenant]{Body: tenantView(out)}, nil
}

func (s *Service) tenantOps() []Operation {
	const g = "tenants"
	return []Operation{
		newOp(s, Operation{ID: "createTenant", Method: http.MethodPost, Path: "/api/v1/tenants", Summary: "Create a tenant (the creator becomes its owner)", Group: g,
			Access: Access{NoKeys: true}, Status: http.StatusCreated},
			func(ctx context.Context, c *Call, in *createTenantInput) (*Body[Tenant], error) {
				b := in.Body
				if b.Plan == "" {
					b.Plan = "free"
				}
				if err := s.validPlan(b.Plan); err != nil {
					return nil, err
				}
				owner := ""
				switch c.Caller.Kind {
				case UserCaller:
					if b.OwnerUserID != "" || b.LogtoOrgID != "" {
						return nil, Forbidden("owner_user_id and logto_org_id are for platform admins")
					}
					owner = c.Caller.UserID
				case PlatformCaller:
					owner = b.OwnerUserID
				}
				var out store.Tenant
				err := s.Store.Tx(ctx, func(tx store.Tx) error {
					t, err := tx.CreateTenant(ctx, store.Tenant{Slug: b.Slug, Name: b.Name, Plan: b.Plan,
						Settings: rawObject(b.Settings), Metadata: rawObject(b.Metadata), LogtoOrgID: b.LogtoOrgID}, owner)
					if err != nil {
						if errors.Is(err, store.ErrNotFound) {
							return Invalid("owner_user_id", "no such user")
						}
						return storeErr(err, "tenant")
					}
					out = t
					if err := audit(ctx, tx, c, t.ID, "tenant.create", "tenant:"+t.ID, map[string]string{"plan": t.Plan, "owner": owner}); err != nil {
						return err
					}
					return s.enqueueLago(ctx, tx, t, store.OutboxKindCreateCustomer, store.OutboxKindCreateSubscription)
				})
				s.forgetTenant(out.ID) // cached lists do not show it yet
				if err != nil {
					return nil, err
				}
				return &Body[Tenant]{Body: tenantView(out)}, nil
			}),
		newOp(s, Operation{ID: "listTenants", Method: http.MethodGet, Path: "/api/v1/tenants", Summary: "List the tenants the caller can see", Group: g, Access: authenticated},
			func(ctx context.Context, c *Call, in *listTenantsInput) (*Body[List[Tenant]], error) {
				f := store.TenantFilter{Status: store.TenantStatus(in.Status), Plan: in.Plan}
				switch c.Caller.Kind {
				case UserCaller:
					f.MemberUserID = c.Caller.UserID
					if f.Status == store.TenantCancelled {
						return listOf[store.Tenant](nil, "", tenantView), nil
					}
					if c.Caller.OrganizationID != "" {
						// An organization token selects the tenant linked to
						// its Logto organization, if the user is a member.
						t, err := s.Store.TenantByLogtoOrg(ctx, c.Caller.OrganizationID)
						if err != nil || t.Status == store.TenantCancelled || (f.Status != "" && f.Status != t.Status) || (f.Plan != "" && f.Plan != t.Plan) {
							return listOf[store.Tenant](nil, "", tenantView), nil
						}
						if role, err := s.role(ctx, t.ID, c.Caller.UserID); err != nil || role == "" {
							return listOf[store.Tenant](nil, "", tenantView), nil
						}
						return listOf([]store.Tenant{t}, "", tenantView), nil
					}
				case TenantKeyCaller:
					// A key sees exactly its own tenant: the page kept with
					// the cached tenant, shared and encoded once.
					e, err := s.tenantEntry(ctx, c.Caller.TenantID)
					t := e.t
					if err != nil || t.Status == store.TenantCancelled || (f.Status != "" && f.Status != t.Status) || (f.Plan != "" && f.Plan != t.Plan) || !c.Caller.HasScope(ScopeRead) {
						return listOf[store.Tenant](nil, "", tenantView), nil
					}
					return e.keyPage(), nil
				}
				return s.listTenants(ctx, f, in.page())
			}),
		newOp(s, Operation{ID: "getTenant", Method: http.MethodGet, Path: "/api/v1/tenants/{id}", Summary: "Get a tenant", Group: g, Access: tenantAccess(store.RoleViewer, ScopeRead)},
			func(ctx context.Context, c *Call, in *tenantInput) (*Body[Tenant], error) {
				return &Body[Tenant]{Body: tenantView(c.Tenant)}, nil
			}),
		newOp(s, Operation{ID: "updateTenant", Method: http.MethodPatch, Path: "/api/v1/tenants/{id}", Summary: "Update a tenant's name, settings or metadata", Group: g, Access: tenantAccess(store.RoleAdmin, ScopeWrite)},
			func(ctx context.Context, c *Call, in *updateTenantInput) (*Body[Tenant], error) {
				var out store.Tenant
				err := s.Store.Tx(ctx, func(tx store.Tx) error {
					t, err := tx.GetTenant(ctx, c.Tenant.ID)
					if err != nil {
						return storeErr(err, "tenant")
					}
					if in.Body.Name != nil {
						t.Name = *in.Body.Name
					}
					if in.Body.Settings != nil {
						t.Settings = rawObject(in.Body.Settings)
					}
					if in.Body.Metadata != nil {
						t.Metadata = rawObject(in.Body.Metadata)
					}
					if out, err = tx.UpdateTenant(ctx, t); err != nil {
						return storeErr(err, "tenant")
					}
					return audit(ctx, tx, c, t.ID, "tenant.update", "tenant:"+t.ID, nil)
				})
				s.forgetTenant(c.Tenant.ID)
				if err != nil {
					return nil, err
				}
				return &Body[Tenant]{Body: tenantView(out)}, nil
			}),
		newOp(s, Operation{ID: "deleteTenant", Method: http.MethodDelete, Path: "/api/v1/tenants/{id}", Summary: "Delete a tenant (soft: status cancelled, data kept)", Group: g, Access: tenantAccess(store.RoleOwner, ""), Status: http.StatusNoContent},
			func(ctx context.Context, c *Call, in *tenantInput) (*Empty, error) {
				if _, err := s.setStatus(ctx, c, c.Tenant.ID, store.TenantCancelled, "tenant.delete"); err != nil {
					return nil, err
				}
				return &Empty{}, nil
			}),
		newOp(s, Operation{ID: "changeTenantPlan", Method: http.MethodPost, Path: "/api/v1/tenants/{id}/change-plan", Summary: "Change a tenant's plan (synced to Lago)", Group: g, Access: tenantAccess(store.RoleOwner, "")},
			func(ctx context.Context, c *Call, in *changePlanInput) (*Body[Tenant], error) {
				if err := s.validPlan(in.Body.Plan); err != nil {
					return nil, err
				}
				var out store.Tenant
				err := s.Store.Tx(ctx, func(tx store.Tx) error {
					t, err := tx.GetTenant(ctx, c.Tenant.ID)
					if err != nil {
						return storeErr(err, "tenant")
					}
					from := t.Plan
					t.Plan = in.Body.Plan
					if out, err = tx.UpdateTenant(ctx, t); err != nil {
						return storeErr(err, "tenant")
					}
					if err := audit(ctx, tx, c, t.ID, "tenant.change_plan", "tenant:"+t.ID, map[string]string{"from": from, "to": t.Plan}); err != nil {
						return err
					}
					if from == t.Plan {
						return nil
					}
					return s.enqueueLago(ctx, tx, out, store.OutboxKindChangePlan)
				})
				s.forgetTenant(c.Tenant.ID)
				if err != nil {
					return nil, err
				}
				return &Body[Tenant]{Body: tenantView(out)}, nil
			}),
		newOp(s, Operation{ID: "suspendTenant", Method: http.MethodPost, Path: "/api/v1/tenants/{id}/suspend", Summary: "Suspend a tenant", Group: g, Access: platformOnly},
			func(ctx context.Context, c *Call, in *tenantInput) (*Body[Tenant], error) {
				return s.setStatus(ctx, c, in.ID, store.TenantSuspended, "tenant.suspend")
			}),
		newOp(s, Operation{ID: "reactivateTenant", Method: http.MethodPost, Path: "/api/v1/tenants/{id}/reactivate", Summary: "Reactivate a suspended tenant", Group: g, Access: platformOnly},
			func(ctx context.Context, c *Call, in *tenantInput) (*Body[Tenant], error) {
				return s.setStatus(ctx, c, in.ID, store.TenantActive, "tenant.reactivate")
			}),
		newOp(s, Operation{ID: "getTenantOverrides", Method: http.MethodGet, Path: "/api/v1/tenants/{id}/overrides", Summary: "Get per-tenant plan overrides", Group: g, Access: platformOnly},
			func(ctx context.Context, c *Call, in *tenantInput) (*Body[Overrides], error) {
				o, err := s.Store.GetOverrides(ctx, in.ID)
				if err != nil {
					return nil, storeErr(err, "tenant")
				}
				return &Body[Overrides]{Body: Overrides(o)}, nil
			}),
		newOp(s, Operation{ID: "setTenantOverrides", Method: http.MethodPut, Path: "/api/v1/tenants/{id}/overrides", Summary: "Replace per-tenant plan overrides (-1 = unlimited)", Group: g, Access: platformOnly},
			func(ctx context.Context, c *Call, in *putOverridesInput) (*Body[Overrides], error) {
				if err := s.knownFeatures(in.Body.Features); err != nil {
					return nil, err
				}
				var out store.PlanOverrides
				err := s.Store.Tx(ctx, func(tx store.Tx) error {
					var err error
					if out, err = tx.SetOverrides(ctx, in.ID, store.PlanOverrides(in.Body)); err != nil {
						return storeErr(err, "tenant")
					}
					return audit(ctx, tx, c, in.ID, "tenant.set_overrides", "tenant:"+in.ID, in.Body)
				})
				if err != nil {
					return nil, err
				}
				return &Body[Overrides]{Body: Overrides(out)}, nil
			}),
		newOp(s, Operation{ID: "getTenantOverview", Method: http.MethodGet, Path: "/api/v1/tenants/{id}/overview", Summary: "Tenant, members, API keys and usage in one call", Group: g, Access: tenantAccess(store.RoleViewer, ScopeRead)},
			func(ctx context.Context, c *Call, in *tenantInput) (*Body[Overview], error) {
				ov := Overview{Tenant: tenantView(c.Tenant)}
				members, _, err := s.Store.ListMembers(ctx, c.Tenant.ID, store.Page{Limit: store.MaxLimit})
				if err != nil {
					return nil, storeErr(err, "members")
				}
				for _, m := range members {
					ov.Members = append(ov.Members, memberView(m))
				}
				ov.APIKeys = []APIKey{}
				// Key metadata is admin material: viewers and members see the count only through stats.
				if c.Role.AtLeast(store.RoleAdmin) || c.Caller.Kind == PlatformCaller || c.Caller.HasScope(ScopeKeysManage) {
					keys, _, err := s.Store.ListAPIKeys(ctx, c.Tenant.ID, store.Page{Limit: store.MaxLimit})
					if err != nil {
						return nil, storeErr(err, "api keys")
					}
					for _, k := range keys {
						ov.APIKeys = append(ov.APIKeys, keyView(k))
					}
				}
				to := s.now()
				if ov.Usage, err = s.summary(ctx, c.Tenant, to.AddDate(0, 0, -30), to); err != nil {
					return nil, err
				}
				if ov.Quota, err = s.quota(ctx, c.Tenant); err != nil {
					return nil, err
				}
				return &Body[Overview]{Body: ov}, nil
			}),
	}
}
