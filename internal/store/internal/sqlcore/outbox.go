package sqlcore

import (
	"context"
	"fmt"
	"slices"
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

// eventOutboxCols read an event row as an outbox item; the event's Lago
// delivery state lives on the row itself (lago_* columns).
const eventOutboxCols = EventCols + `, lago_status, lago_attempts, lago_last_error, lago_next_attempt_at, lago_updated_at`

func scanEventOutbox(r Row) (store.OutboxItem, error) {
	var e store.UsageEvent
	var it store.OutboxItem
	var props string
	var occurred, received, next, updated ts
	err := r.Scan(&e.ID, &e.TenantID, &e.Metric, &e.Quantity, &props, &e.TransactionID, &occurred, &received,
		&it.Status, &it.Attempts, &it.LastError, &next, &updated)
	e.Properties, e.OccurredAt, e.ReceivedAt = []byte(props), occurred.t, received.t
	it.ID, it.TenantID, it.Kind, it.EventID, it.Event = e.ID, e.TenantID, store.OutboxKindEvent, e.ID, &e
	it.Payload = []byte("{}")
	it.NextAttemptAt, it.CreatedAt, it.UpdatedAt = next.t, received.t, updated.t
	return it, err
}

type due struct {
	id    string
	at    time.Time
	event bool
}

// ClaimOutbox leases up to limit due pending rows: commands from
// lago_outbox and events (whose state is on usage_events), oldest due first.
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
		scanDue := func(event bool) func(Row) (due, error) {
			return func(r Row) (due, error) {
				x := due{event: event}
				var at ts
				err := r.Scan(&x.id, &at)
				x.at = at.t
				return x, err
			}
		}
		// Both sources are locked (SKIP LOCKED: concurrent claimers take
		// disjoint rows); rows beyond the merged limit are only locked until commit.
		var cands []due
		// 'pending' is a literal, not a parameter: only then can the planner
		// prove the partial indexes (WHERE status = 'pending') apply.
		if err := collect(ctx, c, `SELECT id, next_attempt_at FROM lago_outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`+d.be.SkipLocked(),
			[]any{d.t(now), limit}, scanDue(false), &cands); err != nil {
			return err
		}
		if err := collect(ctx, c, `SELECT id, lago_next_attempt_at FROM usage_events WHERE lago_status = 'pending' AND lago_next_attempt_at <= ? ORDER BY lago_next_attempt_at, id LIMIT ?`+d.be.SkipLocked(),
			[]any{d.t(now), limit}, scanDue(true), &cands); err != nil {
			return err
		}
		slices.SortFunc(cands, func(a, b due) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		if len(cands) > limit {
			cands = cands[:limit]
		}
		var cmdIDs, eventIDs []any
		for _, x := range cands {
			if x.event {
				eventIDs = append(eventIDs, x.id)
			} else {
				cmdIDs = append(cmdIDs, x.id)
			}
		}
		leased, at := d.t(now.Add(lease)), d.t(now)
		if len(cmdIDs) > 0 {
			if _, err := c.Exec(ctx, `UPDATE lago_outbox SET next_attempt_at = ?, updated_at = ? WHERE id IN (`+placeholders(len(cmdIDs))+`)`,
				append([]any{leased, at}, cmdIDs...)...); err != nil {
				return err
			}
			if err := collect(ctx, c, `SELECT `+outboxCols+` FROM lago_outbox WHERE id IN (`+placeholders(len(cmdIDs))+`)`, cmdIDs, scanOutbox, &items); err != nil {
				return err
			}
		}
		if len(eventIDs) > 0 {
			if _, err := c.Exec(ctx, `UPDATE usage_events SET lago_next_attempt_at = ?, lago_updated_at = ? WHERE id IN (`+placeholders(len(eventIDs))+`)`,
				append([]any{leased, at}, eventIDs...)...); err != nil {
				return err
			}
			if err := collect(ctx, c, `SELECT `+eventOutboxCols+` FROM usage_events WHERE id IN (`+placeholders(len(eventIDs))+`)`, eventIDs, scanEventOutbox, &items); err != nil {
				return err
			}
		}
		slices.SortFunc(items, func(a, b store.OutboxItem) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		return nil
	})
	if err != nil {
		return nil, d.fail(op, err)
	}
	return items, nil
}

// MarkOutboxSent marks rows (commands or events) delivered.
func (d *DB) MarkOutboxSent(ctx context.Context, ids []string) error {
	const op = "mark outbox sent"
	if len(ids) == 0 {
		return nil
	}
	var args []any
	for _, id := range ids {
		if !store.ValidID(id) {
			return d.fail(op, notFound("outbox item"))
		}
		args = append(args, id)
	}
	sent, now := string(store.OutboxSent), d.t(d.clock())
	err := d.run(ctx, PlatformScope, true, func(c Conn) error {
		if _, err := c.Exec(ctx, `UPDATE lago_outbox SET status = ?, updated_at = ? WHERE id IN (`+placeholders(len(ids))+`)`,
			append([]any{sent, now}, args...)...); err != nil {
			return err
		}
		_, err := c.Exec(ctx, `UPDATE usage_events SET lago_status = ?, lago_updated_at = ? WHERE id IN (`+placeholders(len(ids))+`)`,
			append([]any{sent, now}, args...)...)
		return err
	})
	return d.fail(op, err)
}

func (d *DB) markOutbox(ctx context.Context, op, id string, status store.OutboxStatus, lastError string, next time.Time) error {
	if !store.ValidID(id) {
		return d.fail(op, notFound("outbox item"))
	}
	args := []any{string(status), clip(lastError), d.t(next), d.t(d.clock()), id, string(store.OutboxPending)}
	err := d.run(ctx, PlatformScope, true, func(c Conn) error {
		n, err := c.Exec(ctx, `UPDATE lago_outbox SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = ?`, args...)
		if err != nil || n > 0 {
			return err
		}
		n, err = c.Exec(ctx, `UPDATE usage_events SET lago_status = ?, lago_attempts = lago_attempts + 1, lago_last_error = ?, lago_next_attempt_at = ?, lago_updated_at = ? WHERE id = ? AND lago_status = ?`, args...)
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

// OutboxBacklog counts pending commands and events and finds the oldest.
func (d *DB) OutboxBacklog(ctx context.Context) (int, time.Time, error) {
	var n, m int
	var oldest, oldestEvent ts
	err := d.run(ctx, PlatformScope, false, func(c Conn) error {
		// Literal 'pending' so the partial indexes apply (see ClaimOutbox).
		if err := c.QueryRow(ctx, `SELECT count(*), min(created_at) FROM lago_outbox WHERE status = 'pending'`).Scan(&n, &oldest); err != nil {
			return err
		}
		return c.QueryRow(ctx, `SELECT count(*), min(received_at) FROM usage_events WHERE lago_status = 'pending'`).Scan(&m, &oldestEvent)
	})
	if err != nil {
		return 0, time.Time{}, d.fail("outbox backlog", err)
	}
	first := oldest.t
	if oldestEvent.ok && (!oldest.ok || oldestEvent.t.Before(first)) {
		first = oldestEvent.t
	}
	return n + m, first, nil
}
