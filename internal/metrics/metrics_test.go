package metrics

import (
	"bytes"
	"errors"
	"math"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/fast-saas/fast-saas/internal/testenv"
)

// The exposition of every metric type, with label values that need
// escaping, is exactly the text format.
func TestWriteText(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	c, err := r.Counter("requests_total", "Requests by route.\nSecond line \\ with a backslash.", "route", "code")
	if err != nil {
		t.Fatal(err)
	}
	c.WithLabelValues("/b", "200").Add(2)
	c.WithLabelValues("/a", "500").Inc()
	c.WithLabelValues(`say "hi"`+"\n\\", "200").Inc()
	g, err := r.Gauge("lag_seconds", "Lag.", "stage")
	if err != nil {
		t.Fatal(err)
	}
	g.WithLabelValues("store").Set(1.5)
	g.WithLabelValues("buffer").Set(math.Inf(1))
	g.WithLabelValues("lago").Add(-0.25)
	h, err := r.Histogram("duration_seconds", "Latency.", []float64{0.1, 1}, "route")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{0.05, 0.1, 0.5, 3} {
		h.WithLabelValues("/a").Observe(v)
	}
	u, err := r.Counter("plain_total", "No labels.")
	if err != nil {
		t.Fatal(err)
	}
	u.WithLabelValues().Inc()
	if _, err := r.Counter("unused_total", "Never given a series: not written."); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	want := `# HELP duration_seconds Latency.
# TYPE duration_seconds histogram
duration_seconds_bucket{route="/a",le="0.1"} 2
duration_seconds_bucket{route="/a",le="1"} 3
duration_seconds_bucket{route="/a",le="+Inf"} 4
duration_seconds_sum{route="/a"} 3.65
duration_seconds_count{route="/a"} 4
# HELP lag_seconds Lag.
# TYPE lag_seconds gauge
lag_seconds{stage="buffer"} +Inf
lag_seconds{stage="lago"} -0.25
lag_seconds{stage="store"} 1.5
# HELP plain_total No labels.
# TYPE plain_total counter
plain_total 1
# HELP requests_total Requests by route.\nSecond line \\ with a backslash.
# TYPE requests_total counter
requests_total{route="/a",code="500"} 1
requests_total{route="/b",code="200"} 2
requests_total{route="say \"hi\"\n\\",code="200"} 1
`
	if out.String() != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", out.String(), want)
	}
	if v, ok := r.Value("duration_seconds", "/a"); !ok || v != 4 {
		t.Errorf("histogram count %v %v, want 4", v, ok)
	}
}

// promtool, Prometheus's own parser and linter, accepts the exposition of
// a registry with the runtime and process metrics.
func TestPromtoolAcceptsExposition(t *testing.T) {
	t.Parallel()
	promtool := testenv.Tool(t, "promtool")
	r := NewRegistry()
	if err := r.RegisterRuntime(); err != nil {
		t.Fatal(err)
	}
	c, _ := r.Counter("saas_api_requests_total", "API requests.", "route")
	c.WithLabelValues(`odd "route"`).Inc()
	h, _ := r.Histogram("saas_request_duration_seconds", "Latency.", []float64{.005, .01}, "route")
	h.WithLabelValues("/x").Observe(0.007)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != ContentType {
		t.Errorf("Content-Type %q", ct)
	}
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_next_gc_bytes", "go_info",
		"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds"} {
		if !strings.Contains(body.String(), "\n"+name) {
			t.Errorf("%s missing from:\n%s", name, body.String())
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s\n---\n%s", err, out, body.String())
	}
}

func TestRegistration(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	a, err := r.Counter("x_total", "X.", "l")
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Counter("x_total", "X.", "l")
	if err != nil {
		t.Fatal(err)
	}
	a.WithLabelValues("v").Inc()
	if got := b.WithLabelValues("v").Value(); got != 1 {
		t.Errorf("the same definition twice is one metric: %v, want 1", got)
	}
	for name, register := range map[string]func() error{
		"other type":   func() error { _, err := r.Gauge("x_total", "X.", "l"); return err },
		"other labels": func() error { _, err := r.Counter("x_total", "X.", "m"); return err },
		"other help":   func() error { _, err := r.Counter("x_total", "Y.", "l"); return err },
	} {
		if err := register(); !errors.Is(err, ErrConflict) {
			t.Errorf("%s: %v, want ErrConflict", name, err)
		}
	}
	if _, err := r.Counter("job:rule_total", "Recording-rule style names may have colons."); err != nil {
		t.Errorf("colon in a metric name refused: %v", err)
	}
	for _, bad := range [][]string{{"1x", ""}, {"x y", ""}, {"", ""}, {"ok", "le"}, {"ok", "__x"}, {"ok", "a-b"}, {"ok", "a:b"}} {
		if _, err := r.Counter(bad[0], "h", bad[1:]...); err == nil {
			t.Errorf("name %q label %q accepted", bad[0], bad[1])
		}
	}
	if _, err := r.Histogram("h", "h", []float64{2, 1}); err == nil {
		t.Error("unsorted buckets accepted")
	}
	// A nil registry makes working metrics that are never exported.
	var none *Registry
	n, err := none.Counter("y_total", "Y.")
	if err != nil {
		t.Fatal(err)
	}
	n.WithLabelValues().Add(3)
	if got := n.WithLabelValues().Value(); got != 3 {
		t.Errorf("unexported counter = %v, want 3", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("wrong number of label values did not panic")
		}
	}()
	a.WithLabelValues("v", "w")
}

// Concurrent updates are neither lost nor torn (run with -race).
func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	c, _ := r.Counter("c_total", "C.", "k")
	g, _ := r.Gauge("g", "G.")
	h, _ := r.Histogram("h_seconds", "H.", []float64{1})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 1000 {
				c.WithLabelValues([]string{"a", "b"}[j%2]).Inc()
				g.WithLabelValues().Add(0.5)
				h.WithLabelValues().Observe(float64(i % 2 * 2))
			}
			var b bytes.Buffer
			_ = r.WriteText(&b)
		})
	}
	wg.Wait()
	a, _ := r.Value("c_total", "a")
	b, _ := r.Value("c_total", "b")
	gv, _ := r.Value("g")
	hv, _ := r.Value("h_seconds")
	if a != 4000 || b != 4000 || gv != 4000 || hv != 8000 {
		t.Errorf("counts a=%v b=%v gauge=%v histogram=%v, want 4000 4000 4000 8000", a, b, gv, hv)
	}
}

func TestReadProcStat(t *testing.T) {
	t.Parallel()
	st := readProcStat()
	if !st.ok || st.rssBytes <= 0 || st.vsizeBytes < st.rssBytes || st.cpuSeconds < 0 {
		t.Errorf("/proc/self/stat read as %+v", st)
	}
}
