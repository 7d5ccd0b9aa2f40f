// Package clientip finds the address of the client behind a request,
// trusting X-Forwarded-For and X-Real-IP only when they were written by a
// proxy you configured.
//
// Anyone can send an X-Forwarded-For header, so taking its first entry
// lets a client pick the address it is rate limited and audited under. A
// Resolver starts from the TCP peer (Request.RemoteAddr). Only if that peer
// is a trusted proxy does it read X-Forwarded-For, from right to left —
// each trusted proxy appends the address of whoever connected to it — and
// returns the first address that is not itself a trusted proxy. X-Real-IP
// is consulted only when a trusted peer sent no X-Forwarded-For.
package clientip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver resolves client addresses. The zero value trusts no proxy and
// always answers with the TCP peer. Safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that trusts forwarding headers from peers inside
// the given prefixes (e.g. your load balancer's subnet).
func New(trustedProxies ...netip.Prefix) *Resolver {
	t := make([]netip.Prefix, len(trustedProxies))
	for i, p := range trustedProxies {
		t[i] = p.Masked()
	}
	return &Resolver{trusted: t}
}

// ParsePrefixes parses a comma- or space-separated list of CIDR prefixes
// and single addresses ("10.0.0.0/8, 192.168.1.7, ::1"), as found in a
// configuration variable. A single address becomes a /32 or /128.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("parse trusted proxy %q: %w", f, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("parse trusted proxy %q: %w", f, err)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Trusted reports whether a is one of the trusted proxies.
func (res *Resolver) Trusted(a netip.Addr) bool {
	if res == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the client address of r. The result is invalid (the zero
// Addr) only when RemoteAddr itself is not an IP address, e.g. for a
// request that arrived over a Unix socket without a trusted proxy header.
func (res *Resolver) ClientIP(r *http.Request) netip.Addr {
	peer := ParseHost(r.RemoteAddr)
	if !res.Trusted(peer) {
		return peer
	}
	client := peer
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		// Walk the header lines and, within each, the entries from the right.
		for i := len(xff) - 1; i >= 0; i-- {
			line := xff[i]
			for line != "" {
				var entry string
				if j := strings.LastIndexByte(line, ','); j >= 0 {
					entry, line = line[j+1:], line[:j]
				} else {
					entry, line = line, ""
				}
				entry = strings.TrimSpace(entry)
				if entry == "" {
					continue // "a,,b" or a trailing comma: nothing was appended here
				}
				a := ParseHost(entry)
				if !a.IsValid() {
					// Garbage where a trusted proxy should have written its
					// peer: do not believe anything further left.
					return client
				}
				client = a
				if !res.Trusted(a) {
					return a
				}
			}
		}
		return client
	}
	if a := ParseHost(strings.TrimSpace(r.Header.Get("X-Real-IP"))); a.IsValid() {
		return a
	}
	return client
}

// ParseHost parses an address as found in RemoteAddr or a forwarding
// header: "1.2.3.4", "1.2.3.4:5678", "2001:db8::1", "[2001:db8::1]:443". An
// IPv4-mapped IPv6 address is returned as IPv4 and zones are dropped, so the
// same client always yields the same key. Anything else gives the zero Addr.
func ParseHost(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// LimitKey returns the key to rate limit a client address under: the
// address itself for IPv4, and its /64 network for IPv6, because one IPv6
// subscriber usually holds a whole /64 and could otherwise rotate through
// addresses to escape a per-address limit. The zero Addr gives "".
func LimitKey(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}

type ctxKey struct{}

// Middleware stores the resolved client address in the request context
// for FromContext.
func (res *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), res.ClientIP(r))))
	})
}

// NewContext returns ctx carrying the client address a.
func NewContext(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// FromContext returns the client address stored by Middleware.
func FromContext(ctx context.Context) (netip.Addr, bool) {
	a, ok := ctx.Value(ctxKey{}).(netip.Addr)
	return a, ok && a.IsValid()
}
