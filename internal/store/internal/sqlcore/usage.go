package sqlcore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

// EventCols are the usage_events columns in the order InsertEvents writes them.
const EventCols = `id, tenant_id, metric, quantity, properties, transaction_id, occurred_at, received_at`

func scanEvent(r Row) (store.UsageEvent, error) {
	var e store.UsageEvent
	var props string
	var occurred, received ts
	err := r.Scan(&e.ID, &e.TenantID, &e.Metric, &e.Quantity, &props, &e.TransactionID, &occurred, &received)
	e.Properties, e.OccurredAt, e.ReceivedAt = []byte(props), occurred.t, received.t
	return e, err
}

// PrepareEvents validates a batch, fills ids and receive times, normalizes
// times and JSON, and drops repeats of a (tenant, transaction_id) within the
// batch (the first wins). Exposed for the backends' benchmarks.
func PrepareEvents(events []store.UsageEvent, now time.Time) ([]store.UsageEvent, error) {
	out := make([]store.UsageEvent, 0, len(events))
	type pair struct{ tenant, tx string }
	seen := make(map[pair]struct{}, len(events))
	for i, e := range events {
		if !store.ValidID(e.TenantID) {
			return nil, fmt.Errorf("event %d: %w: tenant", i, store.ErrNotFound)
		}
		if e.ID == "" {
			e.ID = store.NewID()
		} else if !store.ValidID(e.ID) {
			return nil, fmt.Errorf("event %d: %w: id %q", i, store.ErrInvalid, e.ID)
		}
		if err := store.CheckText("metric", e.Metric, true, 100); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		if err := store.CheckText("transaction_id", e.TransactionID, true, 255); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		if err := store.CheckQuantity(e.Quantity); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		if e.OccurredAt.IsZero() {
			return nil, fmt.Errorf("event %d: %w: occurred_at is required", i, store.ErrInvalid)
		}
		props, err := store.NormalizeJSONObject("properties", e.Properties)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		e.Properties = []byte(props)
		e.OccurredAt = norm(e.OccurredAt)
		if e.ReceivedAt.IsZero() {
			e.ReceivedAt = now
		}
		e.ReceivedAt = norm(e.ReceivedAt)
		k := pair{e.TenantID, e.TransactionID}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, e)
	}
	return out, nil
}

// InsertUsageBatch stores a batch, skipping and counting duplicates.
func (d *DB) InsertUsageBatch(ctx context.Context, events []store.UsageEvent) (inserted, duplicates int, err error) {
	const op = "insert usage batch"
	if len(events) == 0 {
		return 0, 0, nil
	}
	batch, err := PrepareEvents(events, d.clock())
	if err != nil {
		return 0, 0, d.fail(op, err)
	}
	// Platform scope: a batch from the usage pipeline mixes tenants; each
	// row carries its tenant id and the foreign key rejects unknown ones.
	err = d.run(ctx, PlatformScope, true, func(c Conn) error {
		var err error
		inserted, err = d.be.InsertEvents(ctx, c, batch)
		return err
	})
	if err != nil {
		return 0, 0, d.fail(op, err)
	}
	return inserted, len(events) - inserted, nil
}

// ListUsageEvents lists a tenant's events, newest first.
func (d *DB) ListUsageEvents(ctx context.Context, tenantID string, f store.UsageFilter, p store.Page) ([]store.UsageEvent, string, error) {
	const op = "list usage events"
	limit, key, err := page(p, 2)
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	if !store.ValidID(tenantID) || !storable(f.Metric) {
		return nil, "", nil
	}
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	if f.Metric != "" {
		where, args = append(where, "metric = ?"), append(args, f.Metric)
	}
	if !f.From.IsZero() {
		where, args = append(where, "occurred_at >= ?"), append(args, d.t(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "occurred_at < ?"), append(args, d.t(f.To))
	}
	if key != nil {
		micros, err := strconv.ParseInt(key[0], 10, 64)
		if err != nil || !store.ValidID(key[1]) {
			return nil, "", d.fail(op, fmt.Errorf("%w: cursor", store.ErrInvalid))
		}
		at := d.t(time.UnixMicro(micros))
		where = append(where, "(occurred_at < ? OR (occurred_at = ? AND id < ?))")
		args = append(args, at, at, key[1])
	}
	q := `SELECT ` + EventCols + ` FROM usage_events WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY occurred_at DESC, id DESC LIMIT %d`, limit+1)
	var out []store.UsageEvent
	err = d.run(ctx, tenantID, false, func(c Conn) error {
		out = out[:0]
		return collect(ctx, c, q, args, scanEvent, &out)
	})
	if err != nil {
		return nil, "", d.fail(op, err)
	}
	items, next := trim(out, limit, func(e store.UsageEvent) []string {
		return []string{strconv.FormatInt(e.OccurredAt.UnixMicro(), 10), e.ID}
	})
	return items, next, nil
}

func checkRange(from, to time.Time) error {
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return fmt.Errorf("%w: time range [%s, %s)", store.ErrInvalid, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return nil
}

// UsageDaily sums usage per metric per UTC day over [from, to).
func (d *DB) UsageDaily(ctx context.Context, tenantID, metric string, from, to time.Time) ([]store.DailyUsage, error) {
	const op = "usage daily"
	if err := checkRange(from, to); err != nil {
		return nil, d.fail(op, err)
	}
	if !store.ValidID(tenantID) || !storable(metric) {
		return nil, nil
	}
	day := d.be.DayExpr("occurred_at")
	q := `SELECT metric, ` + day + ` AS day, sum(quantity), count(*) FROM usage_events WHERE tenant_id = ? AND occurred_at >= ? AND occurred_at < ?`
	args := []any{tenantID, d.t(from), d.t(to)}
	if metric != "" {
		q += ` AND metric = ?`
		args = append(args, metric)
	}
	q += ` GROUP BY metric, ` + day + ` ORDER BY metric, 2`
	var out []store.DailyUsage
	err := d.run(ctx, tenantID, false, func(c Conn) error {
		out = out[:0]
		return collect(ctx, c, q, args, func(r Row) (store.DailyUsage, error) {
			var u store.DailyUsage
			var dayNum int64
			err := r.Scan(&u.Metric, &dayNum, &u.Quantity, &u.Events)
			u.Day = time.Unix(dayNum*86400, 0).UTC()
			return u, err
		}, &out)
	})
	if err != nil {
		return nil, d.fail(op, err)
	}
	return out, nil
}

// UsageByTenant sums a metric over [from, to) per tenant.
func (d *DB) UsageByTenant(ctx context.Context, metric string, from, to time.Time) (map[string]float64, error) {
	const op = "usage by tenant"
	if err := checkRange(from, to); err != nil {
		return nil, d.fail(op, err)
	}
	out := map[string]float64{}
	if !storable(metric) {
		return out, nil
	}
	type tq struct {
		tenant string
		q      float64
	}
	var rows []tq
	err := d.run(ctx, PlatformScope, false, func(c Conn) error {
		rows = rows[:0]
		return collect(ctx, c, `SELECT tenant_id, sum(quantity) FROM usage_events WHERE metric = ? AND occurred_at >= ? AND occurred_at < ? GROUP BY tenant_id`,
			[]any{metric, d.t(from), d.t(to)}, func(r Row) (tq, error) {
				var x tq
				return x, r.Scan(&x.tenant, &x.q)
			}, &rows)
	})
	if err != nil {
		return nil, d.fail(op, err)
	}
	for _, x := range rows {
		out[x.tenant] = x.q
	}
	return out, nil
}

// UsageTotal sums a metric over [from, to).
func (d *DB) UsageTotal(ctx context.Context, tenantID, metric string, from, to time.Time) (float64, error) {
	const op = "usage total"
	if err := checkRange(from, to); err != nil {
		return 0, d.fail(op, err)
	}
	if !store.ValidID(tenantID) || !storable(metric) {
		return 0, nil
	}
	var total float64
	err := d.run(ctx, tenantID, false, func(c Conn) error {
		return c.QueryRow(ctx, `SELECT coalesce(sum(quantity), 0) FROM usage_events WHERE tenant_id = ? AND metric = ? AND occurred_at >= ? AND occurred_at < ?`,
			tenantID, metric, d.t(from), d.t(to)).Scan(&total)
	})
	if err != nil {
		return 0, d.fail(op, err)
	}
	return total, nil
}
