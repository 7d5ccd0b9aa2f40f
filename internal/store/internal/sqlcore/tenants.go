package sqlcore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fast-saas/fast-saas/internal/store"
)

const tenantCols = `id, slug, name, plan, status, settings, metadata, logto_org_id, created_at, updated_at`

func scanTenant(r Row) (store.Tenant, error) {
	var t store.Tenant
	var settings, metadata string
	var org nullStr
	var created, updated ts
	err := r.Scan(&t.ID, &t.Slug, &t.Name, &t.Plan, &t.Status, &settings, &metadata, &org, &created, &updated)
	t.Settings, t.Metadata = []byte(settings), []byte(metadata)
	t.LogtoOrgID, t.CreatedAt, t.UpdatedAt = string(org), created.t, updated.t
	return t, err
}

// checkTenant validates t and normalizes its JSON fields in place.
func (d *DB) checkTenant(t *store.Tenant) (settings, metadata string, err error) {
	if !store.ValidSlug(t.Slug) {
		return "", "", fmt.Errorf("%w: slug %q", store.ErrInvalid, t.Slug)
	}
	if err := store.CheckText("name", t.Name, true, 200); err != nil {
		return "", "", err
	}
	if err := d.plans.Check(t.Plan); err != nil {
		return "", "", err
	}
	if !t.Status.Valid() {
		return "", "", fmt.Errorf("%w: status %q", store.ErrInvalid, t.Status)
	}
	if err := store.CheckText("logto organization id", t.LogtoOrgID, false, 200); err != nil {
		return "", "", err
	}
	if settings, err = store.NormalizeJSONObject("settings", t.Settings); err != nil {
		return "", "", err
	}
	if metadata, err = store.NormalizeJSONObject("metadata", t.Metadata); err != nil {
		return "", "", err
	}
	t.Settings, t.Metadata = []byte(settings), []byte(metadata)
	return settings, metadata, nil
}

// CreateTenant inserts a tenant and its owner membership in one transaction.
func (d *DB) CreateTenant(ctx context.Context, t store.Tenant, ownerUserID string) (store.Tenant, error) {
	const op = "create tenant"
	if t.Status == "" {
		t.Status = store.TenantActive
	}
	settings, metadata, err := d.checkTenant(&t)
	if err != nil {
		return store.Tenant{}, d.fail(op, err)
	}
	if ownerUserID != "" && !store.ValidID(ownerUserID) {
		return store.Tenant{}, d.fail(op, notFound("owner user"))
	}
	t.ID = store.NewID()
	t.CreatedAt = d.clock()
	t.UpdatedAt = t.CreatedAt
	err = d.run(ctx, t.ID, true, func(c Conn) error {
		if _, err := c.Exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			t.ID, t.Slug, t.Name, t.Plan, string(t.Status), settings, metadata, orNil(t.LogtoOrgID),
			d.t(t.CreatedAt), d.t(t.UpdatedAt)); err != nil {
			return err
		}
		if ownerUserID == "" {
			return nil
		}
		_, err := c.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role, invited_by, created_at, updated_at) VALUES (?,?,?,?,?,?)`,
			t.ID, ownerUserID, string(store.RoleOwner), nil, d.t(t.CreatedAt), d.t(t.CreatedAt))
		return err
	})
	if err != nil {
		return store.Tenant{}, d.fail(op, err)
	}
	return t, nil
}

func (d *DB) getTenant(ctx context.Context, op, scope, where string, arg any) (store.Tenant, error) {
	var t store.Tenant
	err := d.run(ctx, scope, false, func(c Conn) error {
		var err error
		t, err = scanTenant(c.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE `+where, arg))
		return err
	})
	if isNoRows(err) {
		return store.Tenant{}, d.fail(op, notFound("tenant"))
	}
	return t, d.fail(op, err)
}

// GetTenant returns the tenant with id tenantID.
func (d *DB) GetTenant(ctx context.Context, tenantID string) (store.Tenant, error) {
	if !store.ValidID(tenantID) {
		return store.Tenant{}, d.fail("get tenant", notFound("tenant"))
	}
	return d.getTenant(ctx, "get tenant", tenantID, `id = ?`, tenantID)
}

// TenantBySlug finds a tenant by its slug.
func (d *DB) TenantBySlug(ctx context.Context, slug string) (store.Tenant, error) {
	if !store.ValidSlug(slug) {
		return store.Tenant{}, d.fail("tenant by slug", notFound("tenant"))
	}
	return d.getTenant(ctx, "tenant by slug", PlatformScope, `slug = ?`, slug)
}

// TenantByLogtoOrg finds the tenant linked to a Logto organization.
func (d *DB) TenantByLogtoOrg(ctx context.Context, orgID string) (store.Tenant, error) {
	if orgID == "" || !storable(orgID) {
		return store.Tenant{}, d.fail("tenant by logto org", notFound("tenant"))
	}
	return d.getTenant(ctx, "tenant by logto org", PlatformScope, `logto_org_id = ?`, orgID)
}

// ListTenants lists tenants by id, filtered.
func (d *DB) ListTenants(ctx context.Context, f store.TenantFilter, p store.Page) ([]store.Tenant, string, error) {
	const op = "list tenants"
	limit, key, err := page(p, 1)
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	var where []string
	var args []any
	switch {
	case f.Status != "":
		if !f.Status.Valid() {
			return nil, "", d.fail(op, fmt.Errorf("%w: status %q", store.ErrInvalid, f.Status))
		}
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	case !f.IncludeCancelled:
		where, args = append(where, "status <> ?"), append(args, string(store.TenantCancelled))
	}
	if f.Plan != "" {
		if err := d.plans.Check(f.Plan); err != nil {
			return nil, "", d.fail(op, err)
		}
		where, args = append(where, "plan = ?"), append(args, f.Plan)
	}
	if f.MemberUserID != "" {
		if !store.ValidID(f.MemberUserID) {
			return nil, "", nil
		}
		where = append(where, "id IN (SELECT tenant_id FROM memberships WHERE user_id = ?)")
		args = append(args, f.MemberUserID)
	}
	if key != nil {
		if !store.ValidID(key[0]) {
			return nil, "", d.fail(op, fmt.Errorf("%w: cursor", store.ErrInvalid))
		}
		where, args = append(where, "id > ?"), append(args, key[0])
	}
	q := `SELECT ` + tenantCols + ` FROM tenants`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY id LIMIT %d`, limit+1)
	var out []store.Tenant
	err = d.run(ctx, PlatformScope, false, func(c Conn) error {
		out = out[:0]
		return collect(ctx, c, q, args, scanTenant, &out)
	})
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	items, next := trim(out, limit, func(t store.Tenant) []string { return []string{t.ID} })
	return items, next, nil
}

// UpdateTenant writes the mutable fields of t.
func (d *DB) UpdateTenant(ctx context.Context, t store.Tenant) (store.Tenant, error) {
	const op = "update tenant"
	if !store.ValidID(t.ID) {
		return store.Tenant{}, d.fail(op, notFound("tenant"))
	}
	settings, metadata, err := d.checkTenant(&t)
	if err != nil {
		return store.Tenant{}, d.fail(op, err)
	}
	now := d.clock()
	var out store.Tenant
	err = d.run(ctx, t.ID, true, func(c Conn) error {
		n, err := c.Exec(ctx, `UPDATE tenants SET slug = ?, name = ?, plan = ?, status = ?, settings = ?, metadata = ?, logto_org_id = ?, updated_at = ? WHERE id = ?`,
			t.Slug, t.Name, t.Plan, string(t.Status), settings, metadata, orNil(t.LogtoOrgID), d.t(now), t.ID)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("tenant")
		}
		out, err = scanTenant(c.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = ?`, t.ID))
		return err
	})
	if err != nil {
		return store.Tenant{}, d.fail(op, err)
	}
	return out, nil
}

// collect runs q and appends every scanned row to out.
func collect[T any](ctx context.Context, c Conn, q string, args []any, scan func(Row) (T, error), out *[]T) error {
	rows, err := c.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		*out = append(*out, v)
	}
	return rows.Err()
}

// ErrNoRows is what a backend's QueryRow.Scan returns for an empty result;
// backends translate their driver's own sentinel into it.
var ErrNoRows = errors.New("no rows")

func isNoRows(err error) bool { return errors.Is(err, ErrNoRows) }

// storable reports whether a lookup value could be stored at all; one that
// could not (bad UTF-8, NUL) matches nothing, on every backend.
func storable(s string) bool { return store.CheckUTF8("", s) == nil }
