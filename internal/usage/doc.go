// Package usage is the durable usage pipeline of fast-saas:
//
//	metering.Recorder ──► buffer ──► store (batch insert, idempotent) ──► outbox ──► Lago
//
// Two buffers implement metering.Recorder:
//
//   - RedisRecorder + Consumer (production, any number of replicas): Record
//     returns once XADD has put the event in a Redis Stream — that is the
//     durable write an API 202 waits for — or, buffered, once the event is
//     queued for the next XADD (metered API calls, by default in serve).
//     Consumers in one consumer group read
//     batches with XREADGROUP, insert them with one store call, and only then
//     XACK + XDEL them. A consumer that dies between read and ack leaves its
//     entries pending; another consumer takes them over with XAUTOCLAIM after
//     an idle time and inserts them again, which the store de-duplicates by
//     (tenant, transaction_id). The stream is never trimmed: unacknowledged
//     data is never thrown away.
//   - MemoryBuffer (embedded mode, SQLite): a bounded in-process queue flushed
//     in batches by size or time and on Close. RecordSync writes straight
//     through to the store for callers that must acknowledge only after a
//     durable write (the ingest API).
//
// The Forwarder drains the store's Lago outbox: usage events in batches of at
// most 100 (transaction_id = event id, external_subscription_id = tenant id),
// and customer/subscription commands. Failures back off exponentially with
// jitter; an event Lago rejects as invalid is marked failed with the reason
// and never retried, without holding back the valid events of its batch.
//
// Events are idempotent end to end: the event id is the store's
// transaction_id and Lago's transaction_id, so at-least-once delivery at each
// hop adds up to exactly-once counting.
//
// Mergeable events (the metering middleware's API calls) of one batch or one
// stream entry are stored as one event per tenant, metric, properties and
// second, with the summed quantity (see merger).
package usage
