package metrics

import (
	"os"
	"runtime"
	rm "runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// goMetrics are the Go runtime figures exported, under the names the
// Prometheus Go client uses (so standard Go dashboards work), each read
// from runtime/metrics at scrape time (no stop-the-world ReadMemStats).
var goMetrics = []struct {
	name, help, kind string
	sources          []string // summed
}{
	{"go_goroutines", "Number of goroutines that currently exist.", "gauge", []string{"/sched/goroutines:goroutines"}},
	{"go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", "gauge", []string{"/memory/classes/heap/objects:bytes"}},
	{"go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", "gauge", []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}},
	{"go_memstats_heap_idle_bytes", "Bytes in idle heap spans, released to the OS or not.", "gauge", []string{"/memory/classes/heap/released:bytes", "/memory/classes/heap/free:bytes"}},
	{"go_memstats_heap_released_bytes", "Bytes of heap memory returned to the OS.", "gauge", []string{"/memory/classes/heap/released:bytes"}},
	{"go_memstats_stack_inuse_bytes", "Bytes of memory used by goroutine stacks.", "gauge", []string{"/memory/classes/heap/stacks:bytes"}},
	{"go_memstats_sys_bytes", "Bytes of memory mapped by the Go runtime.", "gauge", []string{"/memory/classes/total:bytes"}},
	{"go_memstats_next_gc_bytes", "Heap size at which the next garbage collection starts.", "gauge", []string{"/gc/heap/goal:bytes"}},
	{"go_gc_cycles_total", "Completed garbage collection cycles.", "counter", []string{"/gc/cycles/total:gc-cycles"}},
	{"go_gc_gogc_percent", "The GOGC setting.", "gauge", []string{"/gc/gogc:percent"}},
	{"go_gc_gomemlimit_bytes", "The memory limit (GOMEMLIMIT).", "gauge", []string{"/gc/gomemlimit:bytes"}},
}

// RegisterRuntime adds the Go runtime metrics (go_*) and, on Linux, the
// process metrics (process_*: CPU, resident and virtual memory, open file
// descriptors, start time), computed at each scrape.
func (r *Registry) RegisterRuntime() error {
	for _, m := range goMetrics {
		sources := m.sources
		err := r.gaugeFunc(m.name, m.help, kind(m.kind), nil, func(emit func(float64, ...string)) {
			s := make([]rm.Sample, len(sources))
			for i, src := range sources {
				s[i].Name = src
			}
			rm.Read(s)
			sum := 0.0
			for _, x := range s {
				switch x.Value.Kind() {
				case rm.KindUint64:
					sum += float64(x.Value.Uint64())
				case rm.KindFloat64:
					sum += x.Value.Float64()
				default: // not supported by this Go version: leave it out
					return
				}
			}
			emit(sum)
		})
		if err != nil {
			return err
		}
	}
	if err := r.gaugeFunc("go_info", "Information about the Go environment.", kindGauge, []string{"version"},
		func(emit func(float64, ...string)) { emit(1, runtime.Version()) }); err != nil {
		return err
	}
	if runtime.GOOS != "linux" {
		return nil
	}
	proc := []struct {
		name, help string
		kind       kind
		read       func(st procStat) (float64, bool)
	}{
		{"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", kindCounter,
			func(st procStat) (float64, bool) { return st.cpuSeconds, st.ok }},
		{"process_resident_memory_bytes", "Resident memory size in bytes.", kindGauge,
			func(st procStat) (float64, bool) { return st.rssBytes, st.ok }},
		{"process_virtual_memory_bytes", "Virtual memory size in bytes.", kindGauge,
			func(st procStat) (float64, bool) { return st.vsizeBytes, st.ok }},
		{"process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", kindGauge,
			func(procStat) (float64, bool) { return float64(processStart.UnixNano()) / 1e9, true }},
		{"process_open_fds", "Number of open file descriptors.", kindGauge,
			func(procStat) (float64, bool) {
				fds, err := os.ReadDir("/proc/self/fd")
				return float64(len(fds)), err == nil
			}},
		{"process_max_fds", "Maximum number of open file descriptors.", kindGauge,
			func(procStat) (float64, bool) {
				var l syscall.Rlimit
				err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
				return float64(l.Cur), err == nil
			}},
	}
	for _, p := range proc {
		read := p.read
		if err := r.gaugeFunc(p.name, p.help, p.kind, nil, func(emit func(float64, ...string)) {
			if v, ok := read(readProcStat()); ok {
				emit(v)
			}
		}); err != nil {
			return err
		}
	}
	return nil
}

// processStart approximates the process start with package initialization
// (milliseconds after exec), which needs no /proc arithmetic with boot time.
var processStart = time.Now()

type procStat struct {
	cpuSeconds, rssBytes, vsizeBytes float64
	ok                               bool
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// readProcStat parses /proc/self/stat: fields 14 and 15 (utime, stime, in
// clock ticks), 23 (vsize, bytes) and 24 (rss, pages). The command name
// (field 2) may contain spaces and parentheses, so fields are counted
// after its closing parenthesis.
func readProcStat() procStat {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 22 {
		return procStat{}
	}
	num := func(field int) float64 {
		v, _ := strconv.ParseFloat(f[field-3], 64)
		return v
	}
	return procStat{
		cpuSeconds: (num(14) + num(15)) / clockTicks,
		vsizeBytes: num(23),
		rssBytes:   num(24) * float64(os.Getpagesize()),
		ok:         true,
	}
}
