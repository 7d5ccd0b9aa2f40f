package sqlcore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

const auditCols = `id, tenant_id, principal, action, target, details, at`

func scanAudit(r Row) (store.AuditEntry, error) {
	var e store.AuditEntry
	var details string
	var at ts
	err := r.Scan(&e.ID, &e.TenantID, &e.Principal, &e.Action, &e.Target, &details, &at)
	e.Details, e.At = []byte(details), at.t
	return e, err
}

// AppendAudit adds an audit log entry.
func (d *DB) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	const op = "append audit"
	if !store.ValidID(e.TenantID) {
		return store.AuditEntry{}, d.fail(op, notFound("tenant"))
	}
	for _, f := range []struct {
		name, v  string
		required bool
	}{{"principal", e.Principal, true}, {"action", e.Action, true}, {"target", e.Target, false}} {
		if err := store.CheckText(f.name, f.v, f.required, 500); err != nil {
			return store.AuditEntry{}, d.fail(op, err)
		}
	}
	details, err := store.NormalizeJSONObject("details", e.Details)
	if err != nil {
		return store.AuditEntry{}, d.fail(op, err)
	}
	e.ID, e.Details = store.NewID(), []byte(details)
	if e.At.IsZero() {
		e.At = d.clock()
	}
	e.At = norm(e.At)
	err = d.run(ctx, e.TenantID, true, func(c Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES (?,?,?,?,?,?,?)`,
			e.ID, e.TenantID, e.Principal, e.Action, e.Target, details, d.t(e.At))
		return err
	})
	if err != nil {
		return store.AuditEntry{}, d.fail(op, err)
	}
	return e, nil
}

// ListAudit lists a tenant's audit log, newest first.
func (d *DB) ListAudit(ctx context.Context, tenantID string, f store.AuditFilter, p store.Page) ([]store.AuditEntry, string, error) {
	const op = "list audit"
	limit, key, err := page(p, 2)
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	if !store.ValidID(tenantID) {
		return nil, "", nil
	}
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	if !f.From.IsZero() {
		where, args = append(where, "at >= ?"), append(args, d.t(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "at < ?"), append(args, d.t(f.To))
	}
	if key != nil {
		micros, err := strconv.ParseInt(key[0], 10, 64)
		if err != nil || !store.ValidID(key[1]) {
			return nil, "", d.fail(op, fmt.Errorf("%w: cursor", store.ErrInvalid))
		}
		at := d.t(time.UnixMicro(micros))
		where = append(where, "(at < ? OR (at = ? AND id < ?))")
		args = append(args, at, at, key[1])
	}
	q := `SELECT ` + auditCols + ` FROM audit_log WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY at DESC, id DESC LIMIT %d`, limit+1)
	var out []store.AuditEntry
	err = d.run(ctx, tenantID, false, func(c Conn) error {
		out = out[:0]
		return collect(ctx, c, q, args, scanAudit, &out)
	})
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	items, next := trim(out, limit, func(e store.AuditEntry) []string {
		return []string{strconv.FormatInt(e.At.UnixMicro(), 10), e.ID}
	})
	return items, next, nil
}

// GetOverrides returns a tenant's plan overrides (zero when none).
func (d *DB) GetOverrides(ctx context.Context, tenantID string) (store.PlanOverrides, error) {
	const op = "get overrides"
	if !store.ValidID(tenantID) {
		return store.PlanOverrides{}, d.fail(op, notFound("tenant"))
	}
	var o store.PlanOverrides
	err := d.run(ctx, tenantID, false, func(c Conn) error {
		var raw nullStr
		err := c.QueryRow(ctx, `SELECT o.overrides FROM tenants t LEFT JOIN tenant_overrides o ON o.tenant_id = t.id WHERE t.id = ?`, tenantID).Scan(&raw)
		if isNoRows(err) {
			return notFound("tenant")
		}
		if err != nil || raw == "" {
			return err
		}
		return json.Unmarshal([]byte(raw), &o)
	})
	if err != nil {
		return store.PlanOverrides{}, d.fail(op, err)
	}
	return o, nil
}

func checkLimit(field string, v *int64) error {
	if v != nil && *v < store.Unlimited {
		return fmt.Errorf("%w: %s %d (>= 0, or -1 for unlimited)", store.ErrInvalid, field, *v)
	}
	return nil
}

// SetOverrides replaces a tenant's plan overrides.
func (d *DB) SetOverrides(ctx context.Context, tenantID string, o store.PlanOverrides) (store.PlanOverrides, error) {
	const op = "set overrides"
	if !store.ValidID(tenantID) {
		return store.PlanOverrides{}, d.fail(op, notFound("tenant"))
	}
	if err := checkLimit("rate_limit_per_minute", o.RateLimitPerMinute); err != nil {
		return store.PlanOverrides{}, d.fail(op, err)
	}
	if err := checkLimit("api_calls_per_month", o.APICallsPerMonth); err != nil {
		return store.PlanOverrides{}, d.fail(op, err)
	}
	for name := range o.Features {
		if err := store.CheckText("feature", name, true, 100); err != nil {
			return store.PlanOverrides{}, d.fail(op, err)
		}
	}
	raw, err := json.Marshal(o)
	if err != nil {
		return store.PlanOverrides{}, d.fail(op, err)
	}
	now := d.clock()
	err = d.run(ctx, tenantID, true, func(c Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO tenant_overrides (tenant_id, overrides, updated_at) VALUES (?,?,?)
ON CONFLICT (tenant_id) DO UPDATE SET overrides = excluded.overrides, updated_at = excluded.updated_at`,
			tenantID, string(raw), d.t(now))
		return err
	})
	if err != nil {
		return store.PlanOverrides{}, d.fail(op, err)
	}
	var out store.PlanOverrides
	_ = json.Unmarshal(raw, &out) // a copy the caller cannot alias
	return out, nil
}

// PlatformStats computes the admin overview.
func (d *DB) PlatformStats(ctx context.Context, since time.Time) (store.PlatformStats, error) {
	st := store.PlatformStats{
		TenantsByPlan:     map[string]int{},
		TenantsByStatus:   map[store.TenantStatus]int{},
		MembershipsByRole: map[store.Role]int{},
		UsageByMetric:     map[string]float64{},
	}
	now := d.clock()
	err := d.run(ctx, PlatformScope, false, func(c Conn) error {
		type kv struct {
			k string
			n int
		}
		scanKV := func(r Row) (kv, error) {
			var x kv
			return x, r.Scan(&x.k, &x.n)
		}
		var plans, statuses, roles []kv
		if err := collect(ctx, c, `SELECT plan, count(*) FROM tenants WHERE status <> ? GROUP BY plan`, []any{string(store.TenantCancelled)}, scanKV, &plans); err != nil {
			return err
		}
		if err := collect(ctx, c, `SELECT status, count(*) FROM tenants GROUP BY status`, nil, scanKV, &statuses); err != nil {
			return err
		}
		if err := collect(ctx, c, `SELECT role, count(*) FROM memberships GROUP BY role`, nil, scanKV, &roles); err != nil {
			return err
		}
		for _, x := range plans {
			st.TenantsByPlan[x.k] = x.n
		}
		for _, x := range statuses {
			st.TenantsByStatus[store.TenantStatus(x.k)] = x.n
		}
		for _, x := range roles {
			st.MembershipsByRole[store.Role(x.k)] = x.n
		}
		if err := c.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&st.Users); err != nil {
			return err
		}
		if err := c.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE (revoked_at IS NULL OR revoked_at > ?) AND (expires_at IS NULL OR expires_at > ?)`,
			d.t(now), d.t(now)).Scan(&st.ActiveAPIKeys); err != nil {
			return err
		}
		type mq struct {
			metric string
			q      float64
			n      int64
		}
		var usage []mq
		// From a UTC midnight on, whole days: the daily totals. Otherwise
		// every event since then (no index leads with the time).
		q, args := `SELECT metric, sum(quantity), count(*) FROM usage_events WHERE occurred_at >= ? GROUP BY metric`, []any{d.t(since)}
		if first, ok := midnightDay(since); ok {
			q, args = `SELECT metric, sum(quantity), CAST(sum(events) AS BIGINT) FROM usage_daily WHERE day >= ? GROUP BY metric`, []any{first}
		}
		if err := collect(ctx, c, q, args, func(r Row) (mq, error) {
			var x mq
			return x, r.Scan(&x.metric, &x.q, &x.n)
		}, &usage); err != nil {
			return err
		}
		for _, x := range usage {
			st.UsageByMetric[x.metric] = x.q
			st.UsageEvents += x.n
		}
		return nil
	})
	if err != nil {
		return store.PlatformStats{}, d.fail("platform stats", err)
	}
	return st, nil
}
