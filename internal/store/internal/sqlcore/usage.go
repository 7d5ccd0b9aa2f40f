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
	missing := 0
	for i := range events {
		if events[i].ID == "" {
			missing++
		}
	}
	ids := store.NewIDs(missing) // for the events without one, made together
	for i, e := range events {
		if !store.ValidID(e.TenantID) {
			return nil, fmt.Errorf("event %d: %w: tenant", i, store.ErrNotFound)
		}
		if e.ID == "" {
			e.ID, ids = ids[0], ids[1:]
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
	if p, ok := d.be.(InsertPreparer); ok && d.tx == nil {
		if err := p.PrepareInserts(ctx, len(batch)); err != nil {
			return 0, 0, d.fail(op, err)
		}
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

// daySpan splits [from, to) for the usage sums. The whole UTC days inside
// it, day numbers [first, end) (days since 1970-01-01), are read from
// usage_daily, which holds every stored event's quantity per tenant, metric
// and day; the parts before and after them, [from, head) and [tail, to),
// are read from the events. ok is false when the range holds no whole day:
// it is then read from the events alone.
func daySpan(from, to time.Time) (first, end int64, head, tail time.Time, ok bool) {
	const day = 24 * time.Hour
	// Truncate counts from the zero time, a UTC midnight, and a UTC day
	// is always 24 hours long.
	head, tail = from.Truncate(day), to.Truncate(day)
	if head.Before(from) {
		head = head.Add(day)
	}
	if !head.Before(tail) {
		return 0, 0, time.Time{}, time.Time{}, false
	}
	return head.Unix() / 86400, tail.Unix() / 86400, head, tail, true
}

// midnightDay is the day number of t when t is a UTC midnight.
func midnightDay(t time.Time) (int64, bool) {
	if !t.Equal(t.Truncate(24 * time.Hour)) {
		return 0, false
	}
	return t.Unix() / 86400, true
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
	filter, metricArg := "", []any(nil)
	if metric != "" {
		filter, metricArg = ` AND metric = ?`, []any{metric}
	}
	day := d.be.DayExpr("occurred_at")
	events := `SELECT metric, ` + day + ` AS day, sum(quantity), count(*) FROM usage_events WHERE tenant_id = ? AND occurred_at >= ? AND occurred_at < ?` +
		filter + ` GROUP BY metric, ` + day
	eventArgs := func(from, to time.Time) []any { return append([]any{tenantID, d.t(from), d.t(to)}, metricArg...) }
	q, args := events+` ORDER BY 1, 2`, eventArgs(from, to)
	if first, end, head, tail, ok := daySpan(from, to); ok {
		q = `SELECT metric, day, quantity, events FROM usage_daily WHERE tenant_id = ? AND day >= ? AND day < ?` + filter +
			` UNION ALL ` + events + ` UNION ALL ` + events + ` ORDER BY 1, 2`
		args = append(append(append([]any{tenantID, first, end}, metricArg...), eventArgs(from, head)...), eventArgs(tail, to)...)
	}
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
		const events = `SELECT tenant_id, quantity FROM usage_events WHERE metric = ? AND occurred_at >= ? AND occurred_at < ?`
		q := `SELECT tenant_id, sum(quantity) FROM usage_events WHERE metric = ? AND occurred_at >= ? AND occurred_at < ? GROUP BY tenant_id`
		args := []any{metric, d.t(from), d.t(to)}
		if first, end, head, tail, ok := daySpan(from, to); ok {
			q = `SELECT tenant_id, sum(quantity) FROM (SELECT tenant_id, quantity FROM usage_daily WHERE metric = ? AND day >= ? AND day < ?` +
				` UNION ALL ` + events + ` UNION ALL ` + events + `) AS u GROUP BY tenant_id`
			args = []any{metric, first, end, metric, d.t(from), d.t(head), metric, d.t(tail), d.t(to)}
		}
		return collect(ctx, c, q, args, func(r Row) (tq, error) {
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
	const events = `SELECT coalesce(sum(quantity), 0) FROM usage_events WHERE tenant_id = ? AND metric = ? AND occurred_at >= ? AND occurred_at < ?`
	q, args := events, []any{tenantID, metric, d.t(from), d.t(to)}
	if first, end, head, tail, ok := daySpan(from, to); ok {
		q = `SELECT (SELECT coalesce(sum(quantity), 0) FROM usage_daily WHERE tenant_id = ? AND metric = ? AND day >= ? AND day < ?)` +
			` + (` + events + `) + (` + events + `)`
		args = []any{tenantID, metric, first, end, tenantID, metric, d.t(from), d.t(head), tenantID, metric, d.t(tail), d.t(to)}
	}
	var total float64
	err := d.run(ctx, tenantID, false, func(c Conn) error {
		return c.QueryRow(ctx, q, args...).Scan(&total)
	})
	if err != nil {
		return 0, d.fail(op, err)
	}
	return total, nil
}
