package sqlcore

import (
	"context"
	"fmt"
	"strings"

	"github.com/fast-saas/fast-saas/internal/store"
)

const userCols = `id, external_id, email, name, avatar_url, email_verified, last_login_at, created_at, updated_at`

func scanUser(r Row) (store.User, error) {
	var u store.User
	var ext nullStr
	var last, created, updated ts
	err := r.Scan(&u.ID, &ext, &u.Email, &u.Name, &u.AvatarURL, &u.EmailVerified, &last, &created, &updated)
	u.ExternalID, u.LastLoginAt, u.CreatedAt, u.UpdatedAt = string(ext), last.ptr(), created.t, updated.t
	return u, err
}

// emailKey is the case-insensitive uniqueness key of an email, computed in
// Go so SQLite (ASCII-only lower()) and Postgres agree.
func emailKey(email string) string { return strings.ToLower(email) }

func checkUser(u store.User) error {
	if err := store.CheckEmail(u.Email); err != nil {
		return err
	}
	if err := store.CheckText("external id", u.ExternalID, false, 255); err != nil {
		return err
	}
	if err := store.CheckText("name", u.Name, false, 200); err != nil {
		return err
	}
	return store.CheckText("avatar url", u.AvatarURL, false, 2048)
}

// CreateUser inserts a user.
func (d *DB) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	const op = "create user"
	if err := checkUser(u); err != nil {
		return store.User{}, d.fail(op, err)
	}
	u.ID = store.NewID()
	u.CreatedAt = d.clock()
	u.UpdatedAt = u.CreatedAt
	u.LastLoginAt = normPtr(u.LastLoginAt)
	err := d.run(ctx, PlatformScope, true, func(c Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO users (`+userCols+`, email_norm) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			u.ID, orNil(u.ExternalID), u.Email, u.Name, u.AvatarURL, u.EmailVerified, d.tp(u.LastLoginAt),
			d.t(u.CreatedAt), d.t(u.UpdatedAt), emailKey(u.Email))
		return err
	})
	if err != nil {
		return store.User{}, d.fail(op, err)
	}
	return u, nil
}

func (d *DB) getUser(ctx context.Context, op, where string, arg any) (store.User, error) {
	var u store.User
	err := d.run(ctx, PlatformScope, false, func(c Conn) error {
		var err error
		u, err = scanUser(c.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE `+where, arg))
		return err
	})
	if isNoRows(err) {
		return store.User{}, d.fail(op, notFound("user"))
	}
	return u, d.fail(op, err)
}

// GetUser returns a user by id.
func (d *DB) GetUser(ctx context.Context, userID string) (store.User, error) {
	if !store.ValidID(userID) {
		return store.User{}, d.fail("get user", notFound("user"))
	}
	return d.getUser(ctx, "get user", `id = ?`, userID)
}

// UserByExternalID finds a user by Logto subject.
func (d *DB) UserByExternalID(ctx context.Context, externalID string) (store.User, error) {
	if externalID == "" || !storable(externalID) {
		return store.User{}, d.fail("user by external id", notFound("user"))
	}
	return d.getUser(ctx, "user by external id", `external_id = ?`, externalID)
}

// UserByEmail finds a user by email, case-insensitively.
func (d *DB) UserByEmail(ctx context.Context, email string) (store.User, error) {
	if !storable(email) {
		return store.User{}, d.fail("user by email", notFound("user"))
	}
	return d.getUser(ctx, "user by email", `email_norm = ?`, emailKey(email))
}

// ListUsers lists users by id.
func (d *DB) ListUsers(ctx context.Context, f store.UserFilter, p store.Page) ([]store.User, string, error) {
	const op = "list users"
	limit, key, err := page(p, 1)
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	var where []string
	var args []any
	if f.SharesTenantWith != "" {
		if !store.ValidID(f.SharesTenantWith) {
			return nil, "", nil
		}
		where = append(where, `id IN (SELECT m2.user_id FROM memberships m1 JOIN memberships m2 ON m2.tenant_id = m1.tenant_id WHERE m1.user_id = ?)`)
		args = append(args, f.SharesTenantWith)
	}
	if key != nil {
		if !store.ValidID(key[0]) {
			return nil, "", d.fail(op, fmt.Errorf("%w: cursor", store.ErrInvalid))
		}
		where, args = append(where, "id > ?"), append(args, key[0])
	}
	q := `SELECT ` + userCols + ` FROM users`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY id LIMIT %d`, limit+1)
	var out []store.User
	err = d.run(ctx, PlatformScope, false, func(c Conn) error {
		out = out[:0]
		return collect(ctx, c, q, args, scanUser, &out)
	})
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	items, next := trim(out, limit, func(u store.User) []string { return []string{u.ID} })
	return items, next, nil
}

// UpdateUser writes the mutable fields of u.
func (d *DB) UpdateUser(ctx context.Context, u store.User) (store.User, error) {
	const op = "update user"
	if !store.ValidID(u.ID) {
		return store.User{}, d.fail(op, notFound("user"))
	}
	if err := checkUser(u); err != nil {
		return store.User{}, d.fail(op, err)
	}
	now := d.clock()
	var out store.User
	err := d.run(ctx, PlatformScope, true, func(c Conn) error {
		n, err := c.Exec(ctx, `UPDATE users SET external_id = ?, email = ?, email_norm = ?, name = ?, avatar_url = ?, email_verified = ?, last_login_at = ?, updated_at = ? WHERE id = ?`,
			orNil(u.ExternalID), u.Email, emailKey(u.Email), u.Name, u.AvatarURL, u.EmailVerified, d.tp(u.LastLoginAt), d.t(now), u.ID)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("user")
		}
		out, err = scanUser(c.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, u.ID))
		return err
	})
	if err != nil {
		return store.User{}, d.fail(op, err)
	}
	return out, nil
}
