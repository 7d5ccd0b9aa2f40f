package harness

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of 5", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(seq(100)...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(1, 2, 3), 100, 3 * time.Millisecond},
		{"p0 is the min", ms(1, 2, 3), 0, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(p%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// TestLoadCountsStatuses runs the generator against a server that answers
// every third request with 503, and checks the accounting.
func TestLoadCountsStatuses(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	res := Load(context.Background(), LoadOptions{Conns: 4, Duration: 300 * time.Millisecond,
		Next: func(int, int) (*http.Request, error) { return http.NewRequest(http.MethodGet, srv.URL, nil) }})
	// Requests still in flight when the run ends are abandoned, not
	// counted: at most one per connection.
	served := int(n.Load())
	if got := res.Requests + res.Failures; got > served || served-got > 4 {
		t.Errorf("requests + failures = %d, want %d (what the server answered) minus at most 4 in flight", got, served)
	}
	if res.Statuses[200] != res.Requests || res.Statuses[503] != res.Failures {
		t.Errorf("statuses %v, want 200×%d and 503×%d", res.Statuses, res.Requests, res.Failures)
	}
	if res.Failures == 0 || res.Requests == 0 {
		t.Fatalf("got %d ok and %d failed, want both", res.Requests, res.Failures)
	}
	if res.FirstErr == nil || !strings.Contains(res.FirstErr.Error(), "503") {
		t.Errorf("FirstErr = %v, want the 503", res.FirstErr)
	}
	if res.P50 <= 0 || res.P99 < res.P50 {
		t.Errorf("p50 %v, p99 %v: want 0 < p50 ≤ p99", res.P50, res.P99)
	}
}

func TestReadProcSelf(t *testing.T) {
	t.Parallel()
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatalf("ReadProc of this process: %v (the harness needs Linux's /proc)", err)
	}
	if s.RSSKiB <= 0 || s.HWMKiB < s.RSSKiB {
		t.Errorf("RSS %d KiB, peak %d KiB: want 0 < RSS ≤ peak", s.RSSKiB, s.HWMKiB)
	}
	if s.AnonKiB <= 0 || s.FileKiB <= 0 || s.AnonKiB+s.FileKiB > s.RSSKiB {
		t.Errorf("RSS %d KiB = anon %d + file %d (+ shmem): want both parts > 0 and within RSS", s.RSSKiB, s.AnonKiB, s.FileKiB)
	}
	// Burn some CPU and check the counter moves forward.
	deadline := time.Now().Add(200 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	after, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.CPUSeconds <= s.CPUSeconds {
		t.Errorf("CPU seconds %v then %v after a busy loop (%d turns): want an increase", s.CPUSeconds, after.CPUSeconds, x)
	}
}

func TestTablePrint(t *testing.T) {
	t.Parallel()
	tab := Table{Header: []string{"a", "long header"}}
	tab.Add("µs", "1")
	var b strings.Builder
	tab.Print(&b)
	want := "| a  | long header |\n| -- | ----------- |\n| µs | 1           |\n"
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}
