package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fast-saas/fast-saas/internal/store"
)

// CopyEvents writes events into table (usage_stage, or usage_events for
// the benchmark's raw baseline, with lago set) with one COPY FROM STDIN in
// Postgres's binary format, built here rather than by pgx.CopyFrom, which
// looks up an encode plan for every value: its encoding was a fifth of
// serve's CPU per ingested batch. The columns are sqlcore.EventCols, plus
// lago_next_attempt_at and lago_updated_at (both = received_at) with lago.
func CopyEvents(ctx context.Context, conn *pgconn.PgConn, table string, events []store.UsageEvent, lago bool) (int64, error) {
	buf := copyBufs.Get().(*bytes.Buffer)
	buf.Reset()
	if err := encodeEvents(buf, events, lago); err != nil {
		copyBufs.Put(buf)
		return 0, err
	}
	cols := eventColumns
	if lago {
		cols = append(cols[:len(cols):len(cols)], "lago_next_attempt_at", "lago_updated_at")
	}
	sql := "COPY " + pgx.Identifier{table}.Sanitize() + " (" + strings.Join(cols, ", ") + ") FROM STDIN BINARY"
	tag, err := conn.CopyFrom(ctx, bytes.NewReader(buf.Bytes()), sql)
	if err != nil {
		// When the connection fails, pgconn may return before its sending
		// goroutine stops reading buf: the buffer is not reused.
		return 0, err
	}
	copyBufs.Put(buf)
	return tag.RowsAffected(), nil
}

var copyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// copySignature starts a binary COPY stream: the signature, then 32-bit
// flags and header extension length, both 0.
const copySignature = "PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// postgresEpoch is where timestamptz counts from, in microseconds of Unix time.
const postgresEpoch = 946684800 * 1_000_000

// encodeEvents appends the binary COPY stream of events: per row a 16-bit
// field count, then per field a 32-bit length and the value in the
// column type's binary form (uuid: 16 bytes; text: UTF-8; float8: IEEE
// 754 big-endian; jsonb: version 1 then the text; timestamptz:
// microseconds since 2000-01-01 UTC), and a trailer of -1.
func encodeEvents(buf *bytes.Buffer, events []store.UsageEvent, lago bool) error {
	fields := uint16(8)
	if lago {
		fields = 10
	}
	buf.Grow(len(copySignature) + len(events)*(2+10*4+2*16+8+3*8+64) + 2)
	buf.WriteString(copySignature)
	var b [8]byte
	u16 := func(v uint16) { binary.BigEndian.PutUint16(b[:2], v); buf.Write(b[:2]) }
	u32 := func(v uint32) { binary.BigEndian.PutUint32(b[:4], v); buf.Write(b[:4]) }
	u64 := func(v uint64) { u32(8); binary.BigEndian.PutUint64(b[:], v); buf.Write(b[:]) }
	id := func(field string, i int, s string) error {
		v, err := uuid.Parse(s)
		if err != nil {
			return fmt.Errorf("event %d: %s: %w", i, field, err)
		}
		u32(16)
		buf.Write(v[:])
		return nil
	}
	text := func(s string) { u32(uint32(len(s))); buf.WriteString(s) }
	timestamp := func(t time.Time) { u64(uint64(t.Unix()*1_000_000 + int64(t.Nanosecond())/1000 - postgresEpoch)) }
	for i := range events {
		e := &events[i]
		u16(fields)
		if err := id("id", i, e.ID); err != nil {
			return err
		}
		if err := id("tenant", i, e.TenantID); err != nil {
			return err
		}
		text(e.Metric)
		u64(math.Float64bits(e.Quantity))
		u32(uint32(1 + len(e.Properties)))
		buf.WriteByte(1) // jsonb's binary format version
		buf.Write(e.Properties)
		text(e.TransactionID)
		timestamp(e.OccurredAt)
		timestamp(e.ReceivedAt)
		if lago {
			timestamp(e.ReceivedAt)
			timestamp(e.ReceivedAt)
		}
	}
	u16(0xffff) // trailer: a field count of -1
	return nil
}
