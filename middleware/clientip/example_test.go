package clientip_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/fast-saas/fast-saas/middleware/clientip"
)

func Example() {
	// Trust the load balancer's subnet; nobody else may set X-Forwarded-For.
	trusted, err := clientip.ParsePrefixes("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	res := clientip.New(trusted...)

	h := res.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _ := clientip.FromContext(r.Context())
		fmt.Println("client:", ip)
	}))

	viaProxy := httptest.NewRequest(http.MethodGet, "/", nil)
	viaProxy.RemoteAddr = "10.0.0.2:51000"
	viaProxy.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.9") // 6.6.6.6 was made up by the client
	h.ServeHTTP(httptest.NewRecorder(), viaProxy)

	direct := httptest.NewRequest(http.MethodGet, "/", nil)
	direct.RemoteAddr = "203.0.113.5:40000"
	direct.Header.Set("X-Forwarded-For", "1.1.1.1") // not from a trusted proxy: ignored
	h.ServeHTTP(httptest.NewRecorder(), direct)
	// Output:
	// client: 198.51.100.9
	// client: 203.0.113.5
}
