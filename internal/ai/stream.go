package ai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"time"
)

// stream sends a request whose 2xx answer is NDJSON and yields each
// non-blank line. b.timeout bounds the wait for the response headers and
// then for each next line (an idle timeout), so a long download that keeps
// reporting progress is not cut off while a stalled one is. A line longer
// than b.maxBytes ends the stream with ErrResponseTooLarge. The byte slice
// yielded is only valid until the next iteration.
func (b *base) stream(ctx context.Context, op, method, escapedPath string, in any) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		idle := time.AfterFunc(b.timeout, func() { cancel(ErrTimeout) })
		defer idle.Stop()

		resp, err := b.send(ctx, op, method, escapedPath, nil, in, "application/x-ndjson")
		if err != nil {
			yield(nil, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			idle.Reset(b.timeout)
			yield(nil, b.readUpstreamError(ctx, op, resp))
			return
		}
		r := bufio.NewReaderSize(resp.Body, 32<<10)
		for {
			idle.Reset(b.timeout)
			line, err := readLine(r, b.maxBytes)
			if len(line) > 0 {
				if !yield(line, nil) {
					return
				}
			}
			switch {
			case err == nil:
				continue
			case errors.Is(err, io.EOF):
				return
			case errors.Is(err, ErrResponseTooLarge):
				yield(nil, fmt.Errorf("%s: %s: %w (line limit %d bytes)", b.service, op, ErrResponseTooLarge, b.maxBytes))
				return
			default:
				yield(nil, b.transportError(ctx, op, err))
				return
			}
		}
	}
}

// readLine returns the next non-blank line without its line ending, or
// ErrResponseTooLarge once a line exceeds max bytes. At the end of input it
// returns the last unterminated line (if any) together with io.EOF.
func readLine(r *bufio.Reader, max int64) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if int64(len(line))+int64(len(chunk)) > max+1 { // +1: the '\n' itself
			return nil, ErrResponseTooLarge
		}
		if line == nil && err == nil {
			// The whole line sits in the reader's buffer: use it in place
			// (valid until the next read, as stream documents).
			if chunk = bytes.TrimSpace(chunk); len(chunk) == 0 {
				continue
			}
			return chunk, nil
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue // blank line between records
			}
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			if int64(len(line)) > max { // an unterminated last line has no '\n' allowance
				return nil, ErrResponseTooLarge
			}
			return bytes.TrimSpace(line), err
		}
	}
}

// streamFailure is an {"error": "..."} line inside a 2xx stream: Ollama
// reports failures after the headers were sent this way.
type streamFailure struct{ msg string }

func (e *streamFailure) Error() string { return e.msg }

// parsePullLine decodes one NDJSON line of an Ollama pull stream. The line
// comes from the network: anything but a JSON object with a non-empty
// "status" (or an "error") is ErrInvalidResponse.
func parsePullLine(line []byte, out *PullProgress) error {
	// A flat struct: decoding into an embedded PullProgress costs twice
	// as much per line (BenchmarkParsePullLine).
	var doc struct {
		Status    string  `json:"status"`
		Digest    string  `json:"digest"`
		Total     int64   `json:"total"`
		Completed int64   `json:"completed"`
		Error     *string `json:"error"`
	}
	if err := json.Unmarshal(line, &doc); err != nil {
		return fmt.Errorf("%w: progress line: %v", ErrInvalidResponse, err)
	}
	if doc.Error != nil {
		msg := safeSnippet([]byte(*doc.Error), maxErrorBody)
		if msg == "" {
			msg = "unknown error"
		}
		return &streamFailure{msg: msg}
	}
	if doc.Status == "" {
		return fmt.Errorf("%w: progress line without status", ErrInvalidResponse)
	}
	if doc.Total < 0 || doc.Completed < 0 {
		return fmt.Errorf("%w: negative progress counters", ErrInvalidResponse)
	}
	*out = PullProgress{Status: doc.Status, Digest: doc.Digest, Total: doc.Total, Completed: doc.Completed}
	return nil
}

// lineError turns a parse failure into the package's error kinds. A stream
// only starts after a 2xx answer, so an in-stream failure carries 200 and
// maps to 502 (ProxyStatus).
func (b *base) lineError(op string, err error) error {
	var sf *streamFailure
	if errors.As(err, &sf) {
		return &UpstreamError{Service: b.service, Op: op, Status: http.StatusOK, Message: sf.msg, Body: sf.msg}
	}
	return fmt.Errorf("%s: %s: %w", b.service, op, err)
}
