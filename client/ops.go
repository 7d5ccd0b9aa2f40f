package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Operation ids of the API each method calls, for drift tests.
// (Method order follows the operation table.)

// Health calls getHealth (liveness; no credential needed).
func (c *Client) Health(ctx context.Context) (Health, error) {
	var out Health
	return out, c.Do(ctx, http.MethodGet, "/health", nil, nil, &out)
}

// Ready calls getReadiness. When a check is down the server answers 503
// with the check list: Ready returns that list together with an *Error
// (Status 503, Code "not_ready", Detail naming the checks that are down).
func (c *Client) Ready(ctx context.Context) (Readiness, error) {
	var out Readiness
	err := c.Do(ctx, http.MethodGet, "/health/ready", nil, nil, &out)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusServiceUnavailable && json.Unmarshal(e.Body, &out) == nil && out.Status != "" {
		var down []string
		for name, ch := range out.Checks {
			if ch.Status != "ok" {
				down = append(down, name)
			}
		}
		sort.Strings(down)
		e.Code, e.Detail = "not_ready", "checks down: "+strings.Join(down, ", ")
	}
	return out, err
}

// ListPlans calls listPlans.
func (c *Client) ListPlans(ctx context.Context) ([]Plan, error) {
	var out List[Plan]
	err := c.Do(ctx, http.MethodGet, "/api/v1/plans", nil, nil, &out)
	return out.Items, err
}

// CreateTenant calls createTenant.
func (c *Client) CreateTenant(ctx context.Context, in CreateTenant) (Tenant, error) {
	var out Tenant
	return out, c.Do(ctx, http.MethodPost, "/api/v1/tenants", nil, in, &out)
}

// ListTenants calls listTenants.
func (c *Client) ListTenants(ctx context.Context, p Page) (List[Tenant], error) {
	var out List[Tenant]
	return out, c.Do(ctx, http.MethodGet, "/api/v1/tenants", p.values(), nil, &out)
}

// GetTenant calls getTenant.
func (c *Client) GetTenant(ctx context.Context, id string) (Tenant, error) {
	var out Tenant
	return out, c.Do(ctx, http.MethodGet, "/api/v1/tenants/"+esc(id), nil, nil, &out)
}

// DeleteTenant calls deleteTenant (soft delete).
func (c *Client) DeleteTenant(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/tenants/"+esc(id), nil, nil, nil)
}

// ChangePlan calls changeTenantPlan.
func (c *Client) ChangePlan(ctx context.Context, id, plan string) (Tenant, error) {
	var out Tenant
	return out, c.Do(ctx, http.MethodPost, "/api/v1/tenants/"+esc(id)+"/change-plan", nil, map[string]string{"plan": plan}, &out)
}

// CreateUser calls createUser (platform admins).
func (c *Client) CreateUser(ctx context.Context, in CreateUser) (User, error) {
	var out User
	return out, c.Do(ctx, http.MethodPost, "/api/v1/users", nil, in, &out)
}

// AddMember calls addMember with a user id.
func (c *Client) AddMember(ctx context.Context, tenantID, userID, role string) (Member, error) {
	var out Member
	return out, c.Do(ctx, http.MethodPost, "/api/v1/tenants/"+esc(tenantID)+"/members", nil, map[string]string{"user_id": userID, "role": role}, &out)
}

// ListMembers calls listMembers.
func (c *Client) ListMembers(ctx context.Context, tenantID string, p Page) (List[Member], error) {
	var out List[Member]
	return out, c.Do(ctx, http.MethodGet, "/api/v1/tenants/"+esc(tenantID)+"/members", p.values(), nil, &out)
}

// ChangeMemberRole calls changeMemberRole.
func (c *Client) ChangeMemberRole(ctx context.Context, tenantID, userID, role string) (Member, error) {
	var out Member
	return out, c.Do(ctx, http.MethodPatch, "/api/v1/tenants/"+esc(tenantID)+"/members/"+esc(userID), nil, map[string]string{"role": role}, &out)
}

// RemoveMember calls removeMember.
func (c *Client) RemoveMember(ctx context.Context, tenantID, userID string) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/tenants/"+esc(tenantID)+"/members/"+esc(userID), nil, nil, nil)
}

// CreateAPIKey calls createAPIKey; the secret is in the result's Key.
func (c *Client) CreateAPIKey(ctx context.Context, tenantID string, in CreateAPIKey) (CreatedAPIKey, error) {
	var out CreatedAPIKey
	return out, c.Do(ctx, http.MethodPost, "/api/v1/tenants/"+esc(tenantID)+"/api-keys", nil, in, &out)
}

// ListAPIKeys calls listAPIKeys.
func (c *Client) ListAPIKeys(ctx context.Context, tenantID string, p Page) (List[APIKey], error) {
	var out List[APIKey]
	return out, c.Do(ctx, http.MethodGet, "/api/v1/tenants/"+esc(tenantID)+"/api-keys", p.values(), nil, &out)
}

// RevokeAPIKey calls revokeAPIKey.
func (c *Client) RevokeAPIKey(ctx context.Context, tenantID, keyID string) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/tenants/"+esc(tenantID)+"/api-keys/"+esc(keyID), nil, nil, nil)
}

// RotateAPIKey calls rotateAPIKey: a new key is issued, the old one keeps
// working for graceSeconds.
func (c *Client) RotateAPIKey(ctx context.Context, tenantID, keyID string, graceSeconds int) (CreatedAPIKey, error) {
	var out CreatedAPIKey
	return out, c.Do(ctx, http.MethodPost, "/api/v1/tenants/"+esc(tenantID)+"/api-keys/"+esc(keyID)+"/rotate", nil, map[string]int{"grace_seconds": graceSeconds}, &out)
}

// IngestUsage calls ingestUsageEvents (≤ 1000 events; idempotent by transaction id).
func (c *Client) IngestUsage(ctx context.Context, tenantID string, events []UsageEvent) (IngestResult, error) {
	var out IngestResult
	return out, c.Do(ctx, http.MethodPost, "/api/v1/tenants/"+esc(tenantID)+"/usage/events", nil, map[string]any{"events": events}, &out)
}

// UsageSummary calls getUsageSummary for a period of 7d, 30d or 90d.
func (c *Client) UsageSummary(ctx context.Context, tenantID, period string) (UsageSummary, error) {
	var out UsageSummary
	q := url.Values{}
	if period != "" {
		q.Set("period", period)
	}
	return out, c.Do(ctx, http.MethodGet, "/api/v1/tenants/"+esc(tenantID)+"/usage", q, nil, &out)
}

// UsageLimit calls checkUsageLimit.
func (c *Client) UsageLimit(ctx context.Context, tenantID string) (QuotaStatus, error) {
	var out QuotaStatus
	return out, c.Do(ctx, http.MethodGet, "/api/v1/tenants/"+esc(tenantID)+"/usage/limit", nil, nil, &out)
}
