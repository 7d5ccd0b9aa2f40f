package harness

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports (the kernel fixes it for
// user space), so it is not read from sysconf, which would need cgo.
const clockTicks = 100

// ProcSample is a process's CPU time and memory at one moment.
type ProcSample struct {
	CPUSeconds float64 // utime + stime
	RSSKiB     int64   // VmRSS
	HWMKiB     int64   // VmHWM, peak RSS since start
	// The two parts of RSS that matter here. AnonKiB (RssAnon) is the
	// memory the process allocated: the Go heap and stacks, and SQLite's
	// page caches. FileKiB (RssFile) is mostly the executable's own pages,
	// which follow the binary's size more than the work.
	AnonKiB, FileKiB int64
}

// ReadProc samples /proc/<pid>/stat and /proc/<pid>/status.
func ReadProc(pid int) (ProcSample, error) {
	var s ProcSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read stat: %w", err)
	}
	// The command name (field 2) may hold spaces; fields after it start
	// past the last ')'. utime and stime are fields 14 and 15.
	rest := string(stat)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return s, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("parse /proc/%d/stat times", pid)
	}
	s.CPUSeconds = float64(ut+st) / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read status: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &s.RSSKiB
		case "VmHWM":
			dst = &s.HWMKiB
		case "RssAnon":
			dst = &s.AnonKiB
		case "RssFile":
			dst = &s.FileKiB
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err == nil {
			*dst = n
		}
	}
	return s, nil
}

// CPUByPID samples the CPU seconds of each process that still exists.
func CPUByPID(pids []int) map[int]float64 {
	m := make(map[int]float64, len(pids))
	for _, pid := range pids {
		if s, err := ReadProc(pid); err == nil {
			m[pid] = s.CPUSeconds
		}
	}
	return m
}

// CPUDelta is the CPU the processes of after spent since before; a process
// that appeared in between counts from zero.
func CPUDelta(before, after map[int]float64) float64 {
	var d float64
	for pid, a := range after {
		d += a - before[pid]
	}
	return d
}
