package sqlcore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

const keyCols = `id, tenant_id, name, prefix, hash, scopes, expires_at, last_used_at, revoked_at, created_by, created_by_label, created_at`

func scanKey(r Row) (store.APIKey, error) {
	var k store.APIKey
	var scopes string
	var createdBy nullStr
	var expires, lastUsed, revoked, created ts
	err := r.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &k.Hash, &scopes, &expires, &lastUsed, &revoked, &createdBy, &k.CreatedByLabel, &created)
	if err != nil {
		return k, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return k, fmt.Errorf("decode scopes: %w", err)
	}
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = expires.ptr(), lastUsed.ptr(), revoked.ptr()
	k.CreatedBy, k.CreatedAt = string(createdBy), created.t
	return k, nil
}

// CreateAPIKey stores a tenant API key.
func (d *DB) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	const op = "create api key"
	if err := store.CheckHash(k.Hash); err != nil {
		return store.APIKey{}, d.fail(op, err)
	}
	if err := store.CheckText("name", k.Name, true, 200); err != nil {
		return store.APIKey{}, d.fail(op, err)
	}
	if err := store.CheckText("prefix", k.Prefix, false, store.DisplayPrefixLen); err != nil {
		return store.APIKey{}, d.fail(op, err)
	}
	if err := store.CheckText("created by label", k.CreatedByLabel, false, 200); err != nil {
		return store.APIKey{}, d.fail(op, err)
	}
	if !store.ValidID(k.TenantID) {
		return store.APIKey{}, d.fail(op, notFound("tenant"))
	}
	if k.CreatedBy != "" && !store.ValidID(k.CreatedBy) {
		return store.APIKey{}, d.fail(op, notFound("user"))
	}
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	scopes, _ := json.Marshal(k.Scopes)
	k.ID = store.NewID()
	k.CreatedAt = d.clock()
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = normPtr(k.ExpiresAt), normPtr(k.LastUsedAt), normPtr(k.RevokedAt)
	k.Hash = append([]byte(nil), k.Hash...)
	err := d.run(ctx, k.TenantID, true, func(c Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			k.ID, k.TenantID, k.Name, k.Prefix, k.Hash, string(scopes), d.tp(k.ExpiresAt), d.tp(k.LastUsedAt),
			d.tp(k.RevokedAt), orNil(k.CreatedBy), k.CreatedByLabel, d.t(k.CreatedAt))
		return err
	})
	if err != nil {
		return store.APIKey{}, d.fail(op, err)
	}
	return k, nil
}

// GetAPIKey returns a tenant's key.
func (d *DB) GetAPIKey(ctx context.Context, tenantID, keyID string) (store.APIKey, error) {
	const op = "get api key"
	if !store.ValidID(tenantID) || !store.ValidID(keyID) {
		return store.APIKey{}, d.fail(op, notFound("api key"))
	}
	var k store.APIKey
	err := d.run(ctx, tenantID, false, func(c Conn) error {
		var err error
		k, err = scanKey(c.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE tenant_id = ? AND id = ?`, tenantID, keyID))
		return err
	})
	if isNoRows(err) {
		return store.APIKey{}, d.fail(op, notFound("api key"))
	}
	return k, d.fail(op, err)
}

// APIKeyByHash finds a key by the SHA-256 of its secret.
func (d *DB) APIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	const op = "api key by hash"
	if len(hash) != store.HashLen {
		return store.APIKey{}, d.fail(op, notFound("api key"))
	}
	var k store.APIKey
	err := d.run(ctx, PlatformScope, false, func(c Conn) error {
		var err error
		k, err = scanKey(c.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = ?`, hash))
		return err
	})
	if isNoRows(err) {
		return store.APIKey{}, d.fail(op, notFound("api key"))
	}
	return k, d.fail(op, err)
}

// ListAPIKeys lists a tenant's keys by id.
func (d *DB) ListAPIKeys(ctx context.Context, tenantID string, p store.Page) ([]store.APIKey, string, error) {
	const op = "list api keys"
	limit, key, err := page(p, 1)
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	if !store.ValidID(tenantID) {
		return nil, "", nil
	}
	q := `SELECT ` + keyCols + ` FROM api_keys WHERE tenant_id = ?`
	args := []any{tenantID}
	if key != nil {
		if !store.ValidID(key[0]) {
			return nil, "", d.fail(op, fmt.Errorf("%w: cursor", store.ErrInvalid))
		}
		q += ` AND id > ?`
		args = append(args, key[0])
	}
	q += fmt.Sprintf(` ORDER BY id LIMIT %d`, limit+1)
	var out []store.APIKey
	err = d.run(ctx, tenantID, false, func(c Conn) error {
		out = out[:0]
		return collect(ctx, c, q, args, scanKey, &out)
	})
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	items, next := trim(out, limit, func(k store.APIKey) []string { return []string{k.ID} })
	return items, next, nil
}

// RevokeAPIKey sets the key's revocation time (zero = now). A key already
// revoked earlier keeps its earlier time.
func (d *DB) RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time) (store.APIKey, error) {
	const op = "revoke api key"
	if !store.ValidID(tenantID) || !store.ValidID(keyID) {
		return store.APIKey{}, d.fail(op, notFound("api key"))
	}
	if at.IsZero() {
		at = d.clock()
	}
	var k store.APIKey
	err := d.run(ctx, tenantID, true, func(c Conn) error {
		_, err := c.Exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND (revoked_at IS NULL OR revoked_at > ?)`,
			d.t(at), tenantID, keyID, d.t(at))
		if err != nil {
			return err
		}
		k, err = scanKey(c.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE tenant_id = ? AND id = ?`, tenantID, keyID))
		return err
	})
	if isNoRows(err) {
		return store.APIKey{}, d.fail(op, notFound("api key"))
	}
	return k, d.fail(op, err)
}

// TouchAPIKey records the last use of a key.
func (d *DB) TouchAPIKey(ctx context.Context, tenantID, keyID string, at time.Time) error {
	const op = "touch api key"
	if !store.ValidID(tenantID) || !store.ValidID(keyID) {
		return d.fail(op, notFound("api key"))
	}
	if at.IsZero() {
		at = d.clock()
	}
	err := d.run(ctx, tenantID, true, func(c Conn) error {
		n, err := c.Exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE tenant_id = ? AND id = ?`, d.t(at), tenantID, keyID)
		if err == nil && n == 0 {
			err = notFound("api key")
		}
		return err
	})
	return d.fail(op, err)
}

const platformKeyCols = `id, name, prefix, hash, created_at, revoked_at`

func scanPlatformKey(r Row) (store.PlatformKey, error) {
	var k store.PlatformKey
	var created, revoked ts
	err := r.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &created, &revoked)
	k.CreatedAt, k.RevokedAt = created.t, revoked.ptr()
	return k, err
}

// CreatePlatformKey stores a platform admin key.
func (d *DB) CreatePlatformKey(ctx context.Context, k store.PlatformKey) (store.PlatformKey, error) {
	const op = "create platform key"
	if err := store.CheckHash(k.Hash); err != nil {
		return store.PlatformKey{}, d.fail(op, err)
	}
	if err := store.CheckText("name", k.Name, true, 200); err != nil {
		return store.PlatformKey{}, d.fail(op, err)
	}
	if err := store.CheckText("prefix", k.Prefix, false, store.DisplayPrefixLen); err != nil {
		return store.PlatformKey{}, d.fail(op, err)
	}
	k.ID = store.NewID()
	k.CreatedAt = d.clock()
	k.RevokedAt = normPtr(k.RevokedAt)
	k.Hash = append([]byte(nil), k.Hash...)
	err := d.run(ctx, PlatformScope, true, func(c Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO platform_keys (`+platformKeyCols+`) VALUES (?,?,?,?,?,?)`,
			k.ID, k.Name, k.Prefix, k.Hash, d.t(k.CreatedAt), d.tp(k.RevokedAt))
		return err
	})
	if err != nil {
		return store.PlatformKey{}, d.fail(op, err)
	}
	return k, nil
}

// PlatformKeyByHash finds a platform key by hash.
func (d *DB) PlatformKeyByHash(ctx context.Context, hash []byte) (store.PlatformKey, error) {
	const op = "platform key by hash"
	if len(hash) != store.HashLen {
		return store.PlatformKey{}, d.fail(op, notFound("platform key"))
	}
	var k store.PlatformKey
	err := d.run(ctx, PlatformScope, false, func(c Conn) error {
		var err error
		k, err = scanPlatformKey(c.QueryRow(ctx, `SELECT `+platformKeyCols+` FROM platform_keys WHERE hash = ?`, hash))
		return err
	})
	if isNoRows(err) {
		return store.PlatformKey{}, d.fail(op, notFound("platform key"))
	}
	return k, d.fail(op, err)
}

// ListPlatformKeys lists platform keys by id.
func (d *DB) ListPlatformKeys(ctx context.Context, p store.Page) ([]store.PlatformKey, string, error) {
	const op = "list platform keys"
	limit, key, err := page(p, 1)
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	q := `SELECT ` + platformKeyCols + ` FROM platform_keys`
	var args []any
	if key != nil {
		if !store.ValidID(key[0]) {
			return nil, "", d.fail(op, fmt.Errorf("%w: cursor", store.ErrInvalid))
		}
		q += ` WHERE id > ?`
		args = append(args, key[0])
	}
	q += fmt.Sprintf(` ORDER BY id LIMIT %d`, limit+1)
	var out []store.PlatformKey
	err = d.run(ctx, PlatformScope, false, func(c Conn) error {
		out = out[:0]
		return collect(ctx, c, q, args, scanPlatformKey, &out)
	})
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	items, next := trim(out, limit, func(k store.PlatformKey) []string { return []string{k.ID} })
	return items, next, nil
}

// RevokePlatformKey revokes a platform key at `at` (zero = now).
func (d *DB) RevokePlatformKey(ctx context.Context, keyID string, at time.Time) (store.PlatformKey, error) {
	const op = "revoke platform key"
	if !store.ValidID(keyID) {
		return store.PlatformKey{}, d.fail(op, notFound("platform key"))
	}
	if at.IsZero() {
		at = d.clock()
	}
	var k store.PlatformKey
	err := d.run(ctx, PlatformScope, true, func(c Conn) error {
		_, err := c.Exec(ctx, `UPDATE platform_keys SET revoked_at = ? WHERE id = ? AND (revoked_at IS NULL OR revoked_at > ?)`, d.t(at), keyID, d.t(at))
		if err != nil {
			return err
		}
		k, err = scanPlatformKey(c.QueryRow(ctx, `SELECT `+platformKeyCols+` FROM platform_keys WHERE id = ?`, keyID))
		return err
	})
	if isNoRows(err) {
		return store.PlatformKey{}, d.fail(op, notFound("platform key"))
	}
	return k, d.fail(op, err)
}
