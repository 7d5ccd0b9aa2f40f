package sqlcore

import (
	"context"
	"fmt"

	"github.com/fast-saas/fast-saas/internal/store"
)

const memberCols = `m.tenant_id, m.user_id, m.role, m.invited_by, m.created_at, m.updated_at`

func scanMembership(r Row) (store.Membership, error) {
	var m store.Membership
	var inv nullStr
	var created, updated ts
	err := r.Scan(&m.TenantID, &m.UserID, &m.Role, &inv, &created, &updated)
	m.InvitedBy, m.CreatedAt, m.UpdatedAt = string(inv), created.t, updated.t
	return m, err
}

func scanMember(r Row) (store.Member, error) {
	var m store.Member
	var inv, ext nullStr
	var created, updated, uLast, uCreated, uUpdated ts
	u := &m.User
	err := r.Scan(&m.TenantID, &m.UserID, &m.Role, &inv, &created, &updated,
		&u.ID, &ext, &u.Email, &u.Name, &u.AvatarURL, &u.EmailVerified, &uLast, &uCreated, &uUpdated)
	m.InvitedBy, m.CreatedAt, m.UpdatedAt = string(inv), created.t, updated.t
	u.ExternalID, u.LastLoginAt, u.CreatedAt, u.UpdatedAt = string(ext), uLast.ptr(), uCreated.t, uUpdated.t
	return m, err
}

const memberJoin = `SELECT ` + memberCols + `, u.id, u.external_id, u.email, u.name, u.avatar_url, u.email_verified, u.last_login_at, u.created_at, u.updated_at
FROM memberships m JOIN users u ON u.id = m.user_id`

func badRole(r store.Role) error { return fmt.Errorf("%w: role %q", store.ErrInvalid, r) }

// AddMember adds a user to a tenant.
func (d *DB) AddMember(ctx context.Context, m store.Membership) (store.Membership, error) {
	const op = "add member"
	if !m.Role.Valid() {
		return store.Membership{}, d.fail(op, badRole(m.Role))
	}
	if !store.ValidID(m.TenantID) {
		return store.Membership{}, d.fail(op, notFound("tenant"))
	}
	if !store.ValidID(m.UserID) || (m.InvitedBy != "" && !store.ValidID(m.InvitedBy)) {
		return store.Membership{}, d.fail(op, notFound("user"))
	}
	m.CreatedAt = d.clock()
	m.UpdatedAt = m.CreatedAt
	err := d.run(ctx, m.TenantID, true, func(c Conn) error {
		// An unknown tenant or user fails the foreign key: fail maps it to ErrNotFound.
		_, err := c.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role, invited_by, created_at, updated_at) VALUES (?,?,?,?,?,?)`,
			m.TenantID, m.UserID, string(m.Role), orNil(m.InvitedBy), d.t(m.CreatedAt), d.t(m.UpdatedAt))
		return err
	})
	if err != nil {
		return store.Membership{}, d.fail(op, err)
	}
	return m, nil
}

// GetMember returns one membership with its user.
func (d *DB) GetMember(ctx context.Context, tenantID, userID string) (store.Member, error) {
	const op = "get member"
	if !store.ValidID(tenantID) || !store.ValidID(userID) {
		return store.Member{}, d.fail(op, notFound("member"))
	}
	var m store.Member
	err := d.run(ctx, tenantID, false, func(c Conn) error {
		var err error
		m, err = scanMember(c.QueryRow(ctx, memberJoin+` WHERE m.tenant_id = ? AND m.user_id = ?`, tenantID, userID))
		return err
	})
	if isNoRows(err) {
		return store.Member{}, d.fail(op, notFound("member"))
	}
	return m, d.fail(op, err)
}

// ListMembers lists a tenant's members by user id.
func (d *DB) ListMembers(ctx context.Context, tenantID string, p store.Page) ([]store.Member, string, error) {
	const op = "list members"
	limit, key, err := page(p, 1)
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	if !store.ValidID(tenantID) {
		return nil, "", nil
	}
	q := memberJoin + ` WHERE m.tenant_id = ?`
	args := []any{tenantID}
	if key != nil {
		if !store.ValidID(key[0]) {
			return nil, "", d.fail(op, fmt.Errorf("%w: cursor", store.ErrInvalid))
		}
		q += ` AND m.user_id > ?`
		args = append(args, key[0])
	}
	q += fmt.Sprintf(` ORDER BY m.user_id LIMIT %d`, limit+1)
	var out []store.Member
	err = d.run(ctx, tenantID, false, func(c Conn) error {
		out = out[:0]
		return collect(ctx, c, q, args, scanMember, &out)
	})
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	items, next := trim(out, limit, func(m store.Member) []string { return []string{m.UserID} })
	return items, next, nil
}

// lockOwners serializes owner changes of one tenant (so two concurrent
// demotions cannot both see "another owner remains") and returns the role
// of userID and the number of owners.
func (d *DB) lockOwners(ctx context.Context, c Conn, tenantID, userID string) (store.Role, int, error) {
	var id string
	if err := c.QueryRow(ctx, `SELECT id FROM tenants WHERE id = ?`+d.be.ForUpdate(), tenantID).Scan(&id); err != nil {
		if isNoRows(err) {
			return "", 0, notFound("member")
		}
		return "", 0, err
	}
	var role store.Role
	if err := c.QueryRow(ctx, `SELECT role FROM memberships WHERE tenant_id = ? AND user_id = ?`, tenantID, userID).Scan(&role); err != nil {
		if isNoRows(err) {
			return "", 0, notFound("member")
		}
		return "", 0, err
	}
	var owners int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE tenant_id = ? AND role = ?`, tenantID, string(store.RoleOwner)).Scan(&owners); err != nil {
		return "", 0, err
	}
	return role, owners, nil
}

// UpdateMemberRole changes a member's role, never demoting the last owner.
func (d *DB) UpdateMemberRole(ctx context.Context, tenantID, userID string, role store.Role) (store.Membership, error) {
	const op = "update member role"
	if !role.Valid() {
		return store.Membership{}, d.fail(op, badRole(role))
	}
	if !store.ValidID(tenantID) || !store.ValidID(userID) {
		return store.Membership{}, d.fail(op, notFound("member"))
	}
	now := d.clock()
	var m store.Membership
	err := d.run(ctx, tenantID, true, func(c Conn) error {
		cur, owners, err := d.lockOwners(ctx, c, tenantID, userID)
		if err != nil {
			return err
		}
		if cur == store.RoleOwner && role != store.RoleOwner && owners <= 1 {
			return store.ErrLastOwner
		}
		if _, err := c.Exec(ctx, `UPDATE memberships SET role = ?, updated_at = ? WHERE tenant_id = ? AND user_id = ?`,
			string(role), d.t(now), tenantID, userID); err != nil {
			return err
		}
		m, err = scanMembership(c.QueryRow(ctx, `SELECT `+memberCols+` FROM memberships m WHERE m.tenant_id = ? AND m.user_id = ?`, tenantID, userID))
		return err
	})
	if err != nil {
		return store.Membership{}, d.fail(op, err)
	}
	return m, nil
}

// RemoveMember removes a member, never the last owner.
func (d *DB) RemoveMember(ctx context.Context, tenantID, userID string) error {
	const op = "remove member"
	if !store.ValidID(tenantID) || !store.ValidID(userID) {
		return d.fail(op, notFound("member"))
	}
	err := d.run(ctx, tenantID, true, func(c Conn) error {
		cur, owners, err := d.lockOwners(ctx, c, tenantID, userID)
		if err != nil {
			return err
		}
		if cur == store.RoleOwner && owners <= 1 {
			return store.ErrLastOwner
		}
		_, err = c.Exec(ctx, `DELETE FROM memberships WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
		return err
	})
	return d.fail(op, err)
}

// MembershipsOfUser lists all memberships of a user, by tenant id.
func (d *DB) MembershipsOfUser(ctx context.Context, userID string) ([]store.Membership, error) {
	const op = "memberships of user"
	if !store.ValidID(userID) {
		return nil, nil
	}
	var out []store.Membership
	err := d.run(ctx, PlatformScope, false, func(c Conn) error {
		out = out[:0]
		return collect(ctx, c, `SELECT `+memberCols+` FROM memberships m WHERE m.user_id = ? ORDER BY m.tenant_id`, []any{userID}, scanMembership, &out)
	})
	if err != nil {
		return nil, d.fail(op, err)
	}
	return out, nil
}
