package usage

import "github.com/fast-saas/fast-saas/internal/store"

// mergeKey is what mergeable events must share to become one stored event.
// The second keeps each stored event's time within a second of the calls it
// counts, the resolution of Lago's event timestamp.
type mergeKey struct {
	tenant, metric, props string
	second                int64
}

// merger adds up the mergeable events (metering.Event.Mergeable) of one
// batch. The merged event keeps the first event's transaction id and time
// and carries the sum of the quantities; events that are not mergeable
// pass through as they are. A busy tenant's API calls thus become one
// store row, one outbox row and one Lago event per route, status and
// second, instead of one per call.
//
// Merging stays within a batch that is stored, or appended to the Redis
// stream, as one unit, so a retry of that unit repeats the same merged
// events and the store still counts each once.
type merger struct {
	at map[mergeKey]int // index in rows of the event a key merges into
}

// add appends ev to rows, or adds its quantity to the earlier mergeable
// row with the same key.
func (m *merger) add(rows []store.UsageEvent, ev store.UsageEvent, mergeable bool) []store.UsageEvent {
	if !mergeable {
		return append(rows, ev)
	}
	if m.at == nil {
		m.at = make(map[mergeKey]int)
	}
	k := mergeKey{tenant: ev.TenantID, metric: ev.Metric, props: string(ev.Properties), second: ev.OccurredAt.Unix()}
	if i, ok := m.at[k]; ok {
		rows[i].Quantity += ev.Quantity
		return rows
	}
	m.at[k] = len(rows)
	return append(rows, ev)
}

// reset forgets the rows of the previous batch.
func (m *merger) reset() { clear(m.at) }
