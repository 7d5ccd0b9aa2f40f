package sqlcore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

const outboxCols = `id, tenant_id, kind, event_id, payload, status, attempts, last_error, next_attempt_at, created_at, updated_at`

func scanOutbox(r Row) (store.OutboxItem, error) {
	var it store.OutboxItem
	var eventID nullStr
	var payload string
	var next, created, updated ts
	err := r.Scan(&it.ID, &it.TenantID, &it.Kind, &eventID, &payload, &it.Status, &it.Attempts, &it.LastError, &next, &created, &updated)
	it.EventID, it.Payload = string(eventID), []byte(payload)
	it.NextAttemptAt, it.CreatedAt, it.UpdatedAt = next.t, created.t, updated.t
	return it, err
}

// maxErrorLen bounds stored error messages (an upstream may answer with a page of HTML).
const maxErrorLen = 2000

func clip(s string) string {
	if len(s) > maxErrorLen {
		s = s[:maxErrorLen]
	}
	// An upstream error may carry any bytes; store valid text.
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// EnqueueOutbox adds a non-event Lago command.
func (d *DB) EnqueueOutbox(ctx context.Context, it store.OutboxItem) (store.OutboxItem, error) {
	const op = "enqueue outbox"
	if err := store.CheckText("kind", it.Kind, true, 100); err != nil {
		return store.OutboxItem{}, d.fail(op, err)
	}
	if it.Kind == store.OutboxKindEvent {
		return store.OutboxItem{}, d.fail(op, fmt.Errorf("%w: kind %q is created by InsertUsageBatch", store.ErrInvalid, it.Kind))
	}
	if !store.ValidID(it.TenantID) {
		return store.OutboxItem{}, d.fail(op, notFound("tenant"))
	}
	payload, err := store.NormalizeJSONObject("payload", it.Payload)
	if err != nil {
		return store.OutboxItem{}, d.fail(op, err)
	}
	now := d.clock()
	it = store.OutboxItem{
		ID: store.NewID(), TenantID: it.TenantID, Kind: it.Kind, Payload: []byte(payload),
		Status: store.OutboxPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}
	err = d.run(ctx, it.TenantID, true, func(c Conn) error {
		// Checked here rather than by a foreign key (see the Postgres migration 00002).
		var one int
		if err := c.QueryRow(ctx, `SELECT 1 FROM tenants WHERE id = ?`, it.TenantID).Scan(&one); err != nil {
			if isNoRows(err) {
				return notFound("tenant")
			}
			return err
		}
		_, err := c.Exec(ctx, `INSERT INTO lago_outbox (`+outboxCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
			it.ID, it.TenantID, it.Kind, nil, payload, string(it.Status), 0, "", d.t(now), d.t(now), d.t(now))
		return err
	})
	if err != nil {
		return store.OutboxItem{}, d.fail(op, err)
	}
	return it, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// ClaimOutbox leases up to limit due pending rows.
func (d *DB) ClaimOutbox(ctx context.Context, limit int, lease time.Duration) ([]store.OutboxItem, error) {
	const op = "claim outbox"
	if limit < 1 || limit > 1000 {
		return nil, d.fail(op, fmt.Errorf("%w: limit %d (1-1000)", store.ErrInvalid, limit))
	}
	if lease <= 0 {
		return nil, d.fail(op, fmt.Errorf("%w: lease %s", store.ErrInvalid, lease))
	}
	now := d.clock()
	var items []store.OutboxItem
	err := d.run(ctx, PlatformScope, true, func(c Conn) error {
		items = items[:0]
		var ids []string
		err := collect(ctx, c, `SELECT id FROM lago_outbox WHERE status = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`+d.be.SkipLocked(),
			[]any{string(store.OutboxPending), d.t(now), limit}, func(r Row) (string, error) {
				var id string
				return id, r.Scan(&id)
			}, &ids)
		if err != nil || len(ids) == 0 {
			return err
		}
		args := []any{d.t(now.Add(lease)), d.t(now)}
		for _, id := range ids {
			args = append(args, id)
		}
		if _, err := c.Exec(ctx, `UPDATE lago_outbox SET next_attempt_at = ?, updated_at = ? WHERE id IN (`+placeholders(len(ids))+`)`, args...); err != nil {
			return err
		}
		if err := collect(ctx, c, `SELECT `+outboxCols+` FROM lago_outbox WHERE id IN (`+placeholders(len(ids))+`) ORDER BY created_at, id`, args[2:], scanOutbox, &items); err != nil {
			return err
		}
		var eventIDs []any
		for _, it := range items {
			if it.EventID != "" {
				eventIDs = append(eventIDs, it.EventID)
			}
		}
		if len(eventIDs) == 0 {
			return nil
		}
		var events []store.UsageEvent
		if err := collect(ctx, c, `SELECT `+EventCols+` FROM usage_events WHERE id IN (`+placeholders(len(eventIDs))+`)`, eventIDs, scanEvent, &events); err != nil {
			return err
		}
		byID := make(map[string]*store.UsageEvent, len(events))
		for i := range events {
			byID[events[i].ID] = &events[i]
		}
		for i := range items {
			items[i].Event = byID[items[i].EventID]
		}
		return nil
	})
	if err != nil {
		return nil, d.fail(op, err)
	}
	return items, nil
}

// MarkOutboxSent marks rows delivered.
func (d *DB) MarkOutboxSent(ctx context.Context, ids []string) error {
	const op = "mark outbox sent"
	if len(ids) == 0 {
		return nil
	}
	args := []any{string(store.OutboxSent), d.t(d.clock())}
	for _, id := range ids {
		if !store.ValidID(id) {
			return d.fail(op, notFound("outbox item"))
		}
		args = append(args, id)
	}
	err := d.run(ctx, PlatformScope, true, func(c Conn) error {
		_, err := c.Exec(ctx, `UPDATE lago_outbox SET status = ?, updated_at = ? WHERE id IN (`+placeholders(len(ids))+`)`, args...)
		return err
	})
	return d.fail(op, err)
}

func (d *DB) markOutbox(ctx context.Context, op, id string, status store.OutboxStatus, lastError string, next time.Time) error {
	if !store.ValidID(id) {
		return d.fail(op, notFound("outbox item"))
	}
	err := d.run(ctx, PlatformScope, true, func(c Conn) error {
		n, err := c.Exec(ctx, `UPDATE lago_outbox SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = ?`,
			string(status), clip(lastError), d.t(next), d.t(d.clock()), id, string(store.OutboxPending))
		if err == nil && n == 0 {
			err = notFound("pending outbox item")
		}
		return err
	})
	return d.fail(op, err)
}

// MarkOutboxRetry records a failed attempt and when to try again.
func (d *DB) MarkOutboxRetry(ctx context.Context, id, lastError string, next time.Time) error {
	return d.markOutbox(ctx, "mark outbox retry", id, store.OutboxPending, lastError, next)
}

// MarkOutboxFailed gives up on a row (poison).
func (d *DB) MarkOutboxFailed(ctx context.Context, id, lastError string) error {
	return d.markOutbox(ctx, "mark outbox failed", id, store.OutboxFailed, lastError, d.clock())
}

// OutboxBacklog counts pending rows and finds the oldest.
func (d *DB) OutboxBacklog(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest ts
	err := d.run(ctx, PlatformScope, false, func(c Conn) error {
		return c.QueryRow(ctx, `SELECT count(*), min(created_at) FROM lago_outbox WHERE status = ?`, string(store.OutboxPending)).Scan(&n, &oldest)
	})
	if err != nil {
		return 0, time.Time{}, d.fail("outbox backlog", err)
	}
	return n, oldest.t, nil
}
