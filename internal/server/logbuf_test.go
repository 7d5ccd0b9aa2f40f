package server

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncWriter is an io.Writer that the flush timer's goroutine and the test
// may use at once; it counts the writes it receives.
type syncWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	err    error
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	if w.err != nil {
		return 0, w.err
	}
	return w.buf.Write(p)
}

func (w *syncWriter) state() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.writes
}

func TestLogBufferWritesInChunks(t *testing.T) {
	t.Parallel()
	out := &syncWriter{}
	b := newLogBuffer(out)
	b.period = time.Hour // only Flush and size write here
	for i := range 3 {
		fmt.Fprintf(b, "line %d\n", i)
	}
	if got, _ := out.state(); got != "" {
		t.Fatalf("written before a flush: %q", got)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, writes := out.state(); got != "line 0\nline 1\nline 2\n" || writes != 1 {
		t.Fatalf("after Flush: %q in %d writes, want the three lines in one", got, writes)
	}

	// A full buffer goes out at once, whole lines in order.
	line := strings.Repeat("x", 99) + "\n"
	n := logBufferSize/len(line) + 1
	for range n {
		b.Write([]byte(line))
	}
	got, writes := out.state()
	if writes != 2 || len(got) != len("line 0\nline 1\nline 2\n")+n*len(line) {
		t.Fatalf("after %d bytes: %d bytes in %d writes, want all of them in a second write", n*len(line), len(got), writes)
	}
}

func TestLogBufferFlushesWithinThePeriod(t *testing.T) {
	t.Parallel()
	out := &syncWriter{}
	b := newLogBuffer(out)
	b.Write([]byte("waiting\n"))
	waitForOutput(t, out, "waiting\n")
	b.Write([]byte("again\n")) // schedules its own flush
	waitForOutput(t, out, "waiting\nagain\n")
}

// waitForOutput waits until out holds want, without a Flush.
func waitForOutput(t *testing.T, out *syncWriter, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if got, _ := out.state(); got == want {
			return
		}
		if time.Now().After(deadline) {
			got, _ := out.state()
			t.Fatalf("output %q, want %q: buffered lines were not written out", got, want)
		}
	}
}

func TestLogBufferWarningsGoOutAtOnce(t *testing.T) {
	t.Parallel()
	out := &syncWriter{}
	b := newLogBuffer(out)
	b.period = time.Hour
	log := slog.New(flushingHandler{slog.NewJSONHandler(b, nil), b}).With("component", "test")
	log.Info("request")
	if got, _ := out.state(); got != "" {
		t.Fatalf("an info line was written at once: %q", got)
	}
	log.Warn("store unreachable")
	got, _ := out.state()
	if !strings.Contains(got, `"msg":"request"`) || !strings.Contains(got, `"msg":"store unreachable"`) ||
		strings.Index(got, "request") > strings.Index(got, "unreachable") || !strings.Contains(got, `"component":"test"`) {
		t.Fatalf("after a warning: %q, want the info line, then the warning, with the logger's attributes", got)
	}
}

func TestLogBufferReportsAWriteError(t *testing.T) {
	t.Parallel()
	broken := errors.New("disk full")
	out := &syncWriter{err: broken}
	b := newLogBuffer(out)
	b.Write([]byte("lost\n"))
	if err := b.Flush(); !errors.Is(err, broken) {
		t.Fatalf("Flush = %v, want %v", err, broken)
	}
	if err := b.Flush(); err != nil {
		t.Fatalf("second Flush = %v, want nil (the error is reported once)", err)
	}
	// A failed timed flush is reported by the next call.
	b.period = time.Millisecond
	_, before := out.state()
	b.Write([]byte("lost too\n"))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, writes := out.state(); writes > before {
			break // the timer tried
		}
		if time.Now().After(deadline) {
			t.Fatal("the timed flush never ran")
		}
	}
	if _, err := b.Write([]byte("x\n")); !errors.Is(err, broken) {
		t.Fatalf("Write after a failed timed flush = %v, want %v", err, broken)
	}
}
