package main

import "testing"

func TestRateCheckVerdict(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		allowed, other       int64
		timeouts             float64
		wantOK, wantFailOpen bool
	}{
		{"exact", 7001, 0, 0, true, false},
		{"under 95%", 6600, 0, 0, false, false},
		{"over, no timeouts", 7002, 0, 0, false, false},
		{"over by the fail-open decisions", 7005, 0, 7, true, true},
		{"over by more than the fail-open decisions", 7010, 0, 7, false, false},
		{"in range, unexpected answers", 7000, 1, 0, false, false},
	} {
		rc := rateCheck{allowedMax: 7001, allowed: tc.allowed, other: tc.other, backendErrors: tc.timeouts}
		rc.judge()
		if rc.ok != tc.wantOK || rc.failOpenOnly != tc.wantFailOpen {
			t.Errorf("%s: ok %v, fail-open only %v; want %v, %v", tc.name, rc.ok, rc.failOpenOnly, tc.wantOK, tc.wantFailOpen)
		}
	}
}
