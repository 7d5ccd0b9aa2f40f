package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/fast-saas/fast-saas/middleware/clientip"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
)

// A per-IP limit in front of a plain handler, with the in-memory limiter.
// With several replicas use ratelimit.NewRedis instead; nothing else changes.
func Example() {
	limiter := ratelimit.NewMemory(ratelimit.MemoryOptions{})
	ips := clientip.New() // no trusted proxies: the TCP peer is the client

	limit := ratelimit.Middleware(ratelimit.Options{
		Limiter: limiter,
		Scope:   ratelimit.ScopeIP,
		KeyFunc: func(r *http.Request) (string, ratelimit.Limit, bool) {
			ip := ips.ClientIP(r)
			// LimitKey groups an IPv6 client's /64, which it could rotate through.
			return clientip.LimitKey(ip), ratelimit.PerMinute(2), ip.IsValid()
		},
	})
	h := limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))

	for range 3 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "198.51.100.7:50000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%d %s %s retry-after=%s\n", w.Code, w.Header().Get("RateLimit-Policy"), w.Header().Get("RateLimit"), w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 "ip";q=2;w=60 "ip";r=1;t=30 retry-after=
	// 200 "ip";q=2;w=60 "ip";r=0;t=60 retry-after=
	// 429 "ip";q=2;w=60 "ip";r=0;t=60 retry-after=30
}

// A Limit allows Rate requests per Period, Burst of them at once.
func ExampleLimit() {
	// 1000 requests a minute, but never more than 50 back to back.
	l := ratelimit.Limit{Rate: 1000, Period: time.Minute, Burst: 50}
	fmt.Println(l.Validate() == nil, l.Unlimited())
	fmt.Println(ratelimit.Limit{Rate: -1}.Unlimited())
	// Output:
	// true false
	// true
}
