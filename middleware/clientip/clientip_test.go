package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/middleware/clientip"
)

func mustPrefixes(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := clientip.ParsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	res := clientip.New(mustPrefixes(t, "10.0.0.0/8, 192.168.1.7, fd00::/8")...)
	tests := []struct {
		name   string
		remote string
		xff    []string
		real   string
		want   string
	}{
		{name: "no proxy headers", remote: "203.0.113.5:4000", want: "203.0.113.5"},
		{name: "untrusted peer cannot spoof XFF", remote: "203.0.113.5:4000", xff: []string{"1.1.1.1"}, want: "203.0.113.5"},
		{name: "untrusted peer cannot spoof X-Real-IP", remote: "203.0.113.5:4000", real: "1.1.1.1", want: "203.0.113.5"},
		{name: "trusted peer, one hop", remote: "10.0.0.2:80", xff: []string{"198.51.100.9"}, want: "198.51.100.9"},
		{name: "client-supplied left entries ignored", remote: "10.0.0.2:80", xff: []string{"6.6.6.6, 198.51.100.9"}, want: "198.51.100.9"},
		{name: "chain of trusted proxies skipped", remote: "10.0.0.2:80", xff: []string{"6.6.6.6, 198.51.100.9, 192.168.1.7, 10.1.2.3"}, want: "198.51.100.9"},
		{name: "several header lines in order", remote: "10.0.0.2:80", xff: []string{"6.6.6.6, 198.51.100.9", "10.9.9.9"}, want: "198.51.100.9"},
		{name: "all hops trusted gives leftmost", remote: "10.0.0.2:80", xff: []string{"10.0.0.9, 10.0.0.8"}, want: "10.0.0.9"},
		{name: "garbage stops the walk", remote: "10.0.0.2:80", xff: []string{"1.2.3.4, not-an-ip, 10.0.0.8"}, want: "10.0.0.8"},
		{name: "empty entries skipped", remote: "10.0.0.2:80", xff: []string{"198.51.100.9,, "}, want: "198.51.100.9"},
		{name: "entry with port", remote: "10.0.0.2:80", xff: []string{"198.51.100.9:1234"}, want: "198.51.100.9"},
		{name: "bracketed IPv6 with port", remote: "10.0.0.2:80", xff: []string{"[2001:db8::7]:1234"}, want: "2001:db8::7"},
		{name: "IPv6 trusted peer", remote: "[fd00::1]:80", xff: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "IPv4-mapped peer is matched as IPv4", remote: "[::ffff:10.0.0.2]:80", xff: []string{"198.51.100.9"}, want: "198.51.100.9"},
		{name: "X-Real-IP from trusted peer", remote: "10.0.0.2:80", real: " 198.51.100.9 ", want: "198.51.100.9"},
		{name: "XFF wins over X-Real-IP", remote: "10.0.0.2:80", xff: []string{"198.51.100.9"}, real: "1.1.1.1", want: "198.51.100.9"},
		{name: "bad X-Real-IP falls back to peer", remote: "10.0.0.2:80", real: "nope", want: "10.0.0.2"},
		{name: "unix socket peer", remote: "@", want: "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.real != "" {
				r.Header.Set("X-Real-IP", tt.real)
			}
			if got := res.ClientIP(r).String(); got != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestZeroResolverTrustsNobody(t *testing.T) {
	t.Parallel()
	var res clientip.Resolver
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "1.1.1.1")
	if got, want := res.ClientIP(r).String(), "127.0.0.1"; got != want {
		t.Errorf("ClientIP = %s, want %s", got, want)
	}
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "", want: ""},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},
		{in: "127.0.0.1 ::1", want: "127.0.0.1/32 ::1/128"},
		{in: "10.0.0.0/8,\n172.16.0.0/12", want: "10.0.0.0/8 172.16.0.0/12"},
		{in: "10.0.0.0/33", wantErr: true},
		{in: "localhost", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := clientip.ParsePrefixes(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParsePrefixes(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if g := strings.Join(s, " "); !tt.wantErr && g != tt.want {
				t.Errorf("ParsePrefixes(%q) = %q, want %q", tt.in, g, tt.want)
			}
		})
	}
}

func TestMiddlewareAndFromContext(t *testing.T) {
	t.Parallel()
	res := clientip.New(mustPrefixes(t, "10.0.0.0/8")...)
	var got netip.Addr
	var ok bool
	h := res.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok = clientip.FromContext(r.Context())
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:9"
	r.Header.Set("X-Forwarded-For", "198.51.100.20")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !ok || got.String() != "198.51.100.20" {
		t.Errorf("FromContext = %v, %v; want 198.51.100.20, true", got, ok)
	}
	if _, ok := clientip.FromContext(r.Context()); ok {
		t.Error("FromContext on a request that did not pass the middleware: ok = true, want false")
	}
}

// FuzzClientIP checks, for arbitrary header values, that the resolver never
// panics, never trusts headers from an untrusted peer, and only ever answers
// with the peer or an address that appears in the headers.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "1.2.3.4, 10.0.0.5", "")
	f.Add("10.0.0.1:80", "[2001:db8::1]:80,,garbage", "5.6.7.8")
	f.Add("203.0.113.1:1", "1.1.1.1", "2.2.2.2")
	f.Add("[::ffff:10.0.0.1]:80", "::ffff:1.2.3.4%eth0", "")
	res := clientip.New(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"))
	f.Fuzz(func(t *testing.T, remote, xff, real string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		if xff != "" {
			r.Header["X-Forwarded-For"] = []string{xff}
		}
		if real != "" {
			r.Header["X-Real-Ip"] = []string{real}
		}
		got := res.ClientIP(r)
		peer := clientip.ParseHost(remote)
		if !res.Trusted(peer) {
			if got != peer {
				t.Fatalf("untrusted peer %q: ClientIP = %v, want the peer %v", remote, got, peer)
			}
			return
		}
		if got == peer {
			return
		}
		if !got.IsValid() {
			t.Fatalf("trusted peer %q: ClientIP is invalid", remote)
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIP = %v: zone or IPv4-mapped form not normalised", got)
		}
		found := false
		for _, part := range append(strings.Split(xff, ","), real) {
			if clientip.ParseHost(strings.TrimSpace(part)) == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("ClientIP = %v appears neither as the peer %q nor in the headers %q / %q", got, remote, xff, real)
		}
	})
}

func TestLimitKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{in: "198.51.100.7", want: "198.51.100.7"},
		{in: "::ffff:198.51.100.7", want: "198.51.100.7"},
		{in: "2001:db8:1:2:aaaa::1", want: "2001:db8:1:2::/64"},
		{in: "2001:db8:1:2:bbbb::9", want: "2001:db8:1:2::/64"},
		{in: "2001:db8:1:3::1", want: "2001:db8:1:3::/64"},
		{in: "fe80::1%eth0", want: "fe80::/64"},
	}
	for _, tt := range tests {
		if got := clientip.LimitKey(netip.MustParseAddr(tt.in)); got != tt.want {
			t.Errorf("LimitKey(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := clientip.LimitKey(netip.Addr{}); got != "" {
		t.Errorf("LimitKey(zero) = %q, want empty", got)
	}
}
