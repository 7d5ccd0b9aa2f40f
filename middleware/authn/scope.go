package authn

import (
	"net/http"

	"github.com/fast-saas/fast-saas/middleware/problem"
)

// RequireScope refuses requests whose principal lacks scope with 403 and an
// RFC 6750 insufficient_scope challenge. Platform principals hold every
// scope. It must run after Middleware; without a principal it answers 401.
func (a *Authenticator) RequireScope(scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := FromContext(r.Context())
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+a.realm+`"`)
				problem.Error(w, http.StatusUnauthorized, problem.CodeUnauthorized, "a Bearer token is required")
				return
			}
			if !p.HasScope(scope) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+a.realm+`", error="insufficient_scope", scope="`+scope+`"`)
				problem.Write(w, http.StatusForbidden, problem.Problem{
					Code:       problem.CodeInsufficientScope,
					Detail:     "this credential lacks the " + scope + " scope",
					Extensions: map[string]any{"scope": scope},
				})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
