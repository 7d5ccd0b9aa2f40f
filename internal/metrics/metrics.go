// Package metrics is the server's Prometheus exposition: counters, gauges
// and histograms with fixed label names, the Go runtime and process
// metrics, and an HTTP handler that writes them all in the text format
// (version 0.0.4) that Prometheus scrapes.
//
// It replaces the Prometheus client library in the binary. That library
// links protocol buffers and their descriptor registrations, whose package
// initialization every command paid, including `fast-saas mcp` and
// `catalog`, which never serve metrics: `fast-saas version` went from 17.8
// to 16.2 MiB of resident memory without it.
//
// A nil *Registry is valid: what it creates works but is never exported.
package metrics

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metric families by name.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{families: map[string]*family{}} }

type kind string

const (
	kindCounter   kind = "counter"
	kindGauge     kind = "gauge"
	kindHistogram kind = "histogram"
)

// family is one metric name: its type, label names and children (one per
// combination of label values).
type family struct {
	name, help string
	kind       kind
	labels     []string
	buckets    []float64 // histograms: upper bounds, ascending, without +Inf
	// read, when set, makes the family's samples at each scrape (runtime
	// and process metrics) instead of holding children.
	read func(emit func(value float64, labelValues ...string))

	mu       sync.RWMutex
	children map[string]*child
}

// child is one labelled series.
type child struct {
	values []string
	bits   atomic.Uint64 // counter or gauge value, as float64 bits
	// histograms: per-bucket counts (not cumulative), the last one +Inf
	counts []atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

// ErrConflict is returned when a name is registered again with another
// type, help text, label set or buckets.
var ErrConflict = errors.New("metrics: name already registered differently")

func (r *Registry) register(f *family) (*family, error) {
	if err := checkName(f.name, true); err != nil {
		return nil, err
	}
	for _, l := range f.labels {
		if err := checkName(l, false); err != nil || l == "le" || strings.HasPrefix(l, "__") {
			return nil, fmt.Errorf("metrics: %s: label name %q is not allowed", f.name, l)
		}
	}
	f.children = map[string]*child{}
	if r == nil {
		return f, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.families[f.name]; ok {
		if old.kind != f.kind || old.help != f.help || !slices.Equal(old.labels, f.labels) || !slices.Equal(old.buckets, f.buckets) || old.read != nil || f.read != nil {
			return nil, fmt.Errorf("%w: %s", ErrConflict, f.name)
		}
		return old, nil // the same definition: share it
	}
	r.families[f.name] = f
	return f, nil
}

// checkName checks a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or, without
// colons, a label name.
func checkName(s string, colon bool) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == ':' && colon || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return fmt.Errorf("metrics: %q is not a metric or label name", s)
	}
	if s == "" {
		return errors.New("metrics: empty name")
	}
	return nil
}

// child returns the series for values, creating it on first use. The
// number of values must match the label names: a mismatch is a
// programming error and panics, as with every Prometheus client.
func (f *family) child(values []string) *child {
	if len(values) != len(f.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values, got %d", f.name, len(f.labels), len(values)))
	}
	key := strings.Join(values, "\xff")
	f.mu.RLock()
	c, ok := f.children[key]
	f.mu.RUnlock()
	if ok {
		return c
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.children[key]; ok {
		return c
	}
	c = &child{values: slices.Clone(values)}
	if f.kind == kindHistogram {
		c.counts = make([]atomic.Uint64, len(f.buckets)+1)
	}
	f.children[key] = c
	return c
}

func addFloat(bits *atomic.Uint64, v float64) {
	for {
		old := bits.Load()
		if bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// CounterVec is a counter family.
type CounterVec struct{ f *family }

// Counter is one series of a counter: it only goes up.
type Counter struct{ c *child }

// Counter registers (or returns the same, already registered) counter.
func (r *Registry) Counter(name, help string, labels ...string) (*CounterVec, error) {
	f, err := r.register(&family{name: name, help: help, kind: kindCounter, labels: labels})
	if err != nil {
		return nil, err
	}
	return &CounterVec{f}, nil
}

// WithLabelValues returns the series for the label values, in the order
// of the label names.
func (v *CounterVec) WithLabelValues(values ...string) *Counter { return &Counter{v.f.child(values)} }

// Inc adds 1.
func (c *Counter) Inc() { addFloat(&c.c.bits, 1) }

// Add adds v, which must not be negative (a counter only goes up).
func (c *Counter) Add(v float64) {
	if v < 0 {
		panic("metrics: a counter cannot go down")
	}
	addFloat(&c.c.bits, v)
}

// Value returns the current count.
func (c *Counter) Value() float64 { return math.Float64frombits(c.c.bits.Load()) }

// GaugeVec is a gauge family.
type GaugeVec struct{ f *family }

// Gauge is one series of a gauge.
type Gauge struct{ c *child }

// Gauge registers (or returns the same, already registered) gauge.
func (r *Registry) Gauge(name, help string, labels ...string) (*GaugeVec, error) {
	f, err := r.register(&family{name: name, help: help, kind: kindGauge, labels: labels})
	if err != nil {
		return nil, err
	}
	return &GaugeVec{f}, nil
}

// WithLabelValues returns the series for the label values.
func (v *GaugeVec) WithLabelValues(values ...string) *Gauge { return &Gauge{v.f.child(values)} }

// Set sets the value.
func (g *Gauge) Set(v float64) { g.c.bits.Store(math.Float64bits(v)) }

// Add adds v (which may be negative).
func (g *Gauge) Add(v float64) { addFloat(&g.c.bits, v) }

// Value returns the current value.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.c.bits.Load()) }

// HistogramVec is a histogram family.
type HistogramVec struct{ f *family }

// Histogram is one series of a histogram.
type Histogram struct {
	c       *child
	buckets []float64
}

// Histogram registers (or returns the same, already registered) histogram
// with the given bucket upper bounds (ascending; +Inf is implied).
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) (*HistogramVec, error) {
	if !slices.IsSorted(buckets) || len(buckets) == 0 || math.IsInf(buckets[len(buckets)-1], 1) {
		return nil, fmt.Errorf("metrics: %s: buckets must be ascending, finite and not empty", name)
	}
	f, err := r.register(&family{name: name, help: help, kind: kindHistogram, labels: labels, buckets: slices.Clone(buckets)})
	if err != nil {
		return nil, err
	}
	return &HistogramVec{f}, nil
}

// WithLabelValues returns the series for the label values.
func (v *HistogramVec) WithLabelValues(values ...string) *Histogram {
	return &Histogram{c: v.f.child(values), buckets: v.f.buckets}
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.buckets, v) // first bound >= v; len = +Inf
	h.c.counts[i].Add(1)
	addFloat(&h.c.sum, v)
}

// Count returns how many values were observed.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.c.counts {
		n += h.c.counts[i].Load()
	}
	return n
}

// gaugeFunc registers a family whose samples read makes at each scrape.
func (r *Registry) gaugeFunc(name, help string, k kind, labels []string, read func(emit func(float64, ...string))) error {
	_, err := r.register(&family{name: name, help: help, kind: k, labels: labels, read: read})
	return err
}

// Handler serves the registry in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		_ = r.WriteText(w)
	})
}

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText writes every family, sorted by name, each series sorted by its
// label values.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	fams := make([]*family, 0, len(r.families))
	for _, f := range r.families {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		f.write(bw)
	}
	return bw.Flush()
}

func (f *family) write(w *bufio.Writer) {
	type sample struct {
		values []string
		v      float64
	}
	var samples []sample
	var hist []*child
	if f.read != nil {
		f.read(func(v float64, values ...string) { samples = append(samples, sample{values, v}) })
	} else {
		f.mu.RLock()
		for _, c := range f.children {
			if f.kind == kindHistogram {
				hist = append(hist, c)
			} else {
				samples = append(samples, sample{c.values, math.Float64frombits(c.bits.Load())})
			}
		}
		f.mu.RUnlock()
	}
	if len(samples) == 0 && len(hist) == 0 {
		return // like the Prometheus client: a family without series is not written
	}
	w.WriteString("# HELP " + f.name + " " + escape(f.help, false) + "\n# TYPE " + f.name + " " + string(f.kind) + "\n")
	slices.SortFunc(samples, func(a, b sample) int { return slices.Compare(a.values, b.values) })
	for _, s := range samples {
		writeSample(w, f.name, f.labels, s.values, "", s.v)
	}
	slices.SortFunc(hist, func(a, b *child) int { return slices.Compare(a.values, b.values) })
	for _, c := range hist {
		var cum uint64
		for i := range c.counts {
			cum += c.counts[i].Load()
			le := "+Inf"
			if i < len(f.buckets) {
				le = formatFloat(f.buckets[i])
			}
			writeSample(w, f.name+"_bucket", f.labels, c.values, le, float64(cum))
		}
		writeSample(w, f.name+"_sum", f.labels, c.values, "", math.Float64frombits(c.sum.Load()))
		writeSample(w, f.name+"_count", f.labels, c.values, "", float64(cum))
	}
}

func writeSample(w *bufio.Writer, name string, labels, values []string, le string, v float64) {
	w.WriteString(name)
	if len(labels) > 0 || le != "" {
		w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(l + `="` + escape(values[i], true) + `"`)
		}
		if le != "" {
			if len(labels) > 0 {
				w.WriteByte(',')
			}
			w.WriteString(`le="` + le + `"`)
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

// escape escapes a HELP text (backslash, newline) or a label value (also
// the double quote), as the text format requires.
func escape(s string, quote bool) string {
	if !strings.ContainsAny(s, "\\\n\"") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '"' && quote:
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Value returns the value of one series (a histogram's count), for tests
// and for readers in the same process; ok is false for an unknown name or
// series.
func (r *Registry) Value(name string, labelValues ...string) (v float64, ok bool) {
	if r == nil {
		return 0, false
	}
	r.mu.Lock()
	f := r.families[name]
	r.mu.Unlock()
	if f == nil || f.read != nil {
		return 0, false
	}
	f.mu.RLock()
	c := f.children[strings.Join(labelValues, "\xff")]
	f.mu.RUnlock()
	if c == nil {
		return 0, false
	}
	if f.kind == kindHistogram {
		return float64((&Histogram{c: c}).Count()), true
	}
	return math.Float64frombits(c.bits.Load()), true
}
