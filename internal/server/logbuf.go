package server

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Log buffering: the access log is one line per request, and one write
// system call per line cost about 6% of serve's CPU per request under load.
const (
	logBufferSize  = 32 << 10               // written out once this much is waiting
	logFlushPeriod = 100 * time.Millisecond // the longest a line waits
)

// logBuffer collects log lines and writes them to out in chunks: once
// logBufferSize bytes wait, logFlushPeriod after the first waiting line,
// and at once when Flush is called (after a warning or error, and on
// shutdown). Lines are never split or reordered. A process killed with
// SIGKILL loses at most the last logFlushPeriod of lines.
type logBuffer struct {
	mu      sync.Mutex
	out     io.Writer
	period  time.Duration // logFlushPeriod; tests lengthen it
	buf     []byte
	pending bool // a flush is scheduled
	err     error
}

func newLogBuffer(out io.Writer) *logBuffer {
	return &logBuffer{out: out, period: logFlushPeriod, buf: make([]byte, 0, logBufferSize)}
}

// Write takes one record's output. It reports the error of an earlier
// write to out, if any, once.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) >= logBufferSize {
		b.flushLocked()
	} else if !b.pending {
		b.pending = true
		time.AfterFunc(b.period, b.flushScheduled)
	}
	err := b.err
	b.err = nil
	return len(p), err
}

// Flush writes out what is waiting.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	err := b.err
	b.err = nil
	return err
}

// flushScheduled is the timer's flush; an error it meets is kept for the
// next Write or Flush to report.
func (b *logBuffer) flushScheduled() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *logBuffer) flushLocked() {
	b.pending = false
	if len(b.buf) == 0 {
		return
	}
	if _, err := b.out.Write(b.buf); err != nil {
		b.err = err
	}
	b.buf = b.buf[:0]
}

// flushingHandler flushes the buffer after every record of level Warn or
// above, so that warnings and errors are not held back with the access
// lines.
type flushingHandler struct {
	slog.Handler
	buf *logBuffer
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		_ = h.buf.Flush()
	}
	return err
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(attrs), h.buf}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.buf}
}
