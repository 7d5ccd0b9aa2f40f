package entitlements

import (
	"context"
	"net/http"

	"github.com/fast-saas/fast-saas/middleware/problem"
)

type ctxKey struct{}

// NewContext returns ctx carrying e. Package tenancy does this for every
// resolved tenant.
func NewContext(ctx context.Context, e *Entitlement) context.Context {
	return context.WithValue(ctx, ctxKey{}, e)
}

// FromContext returns the entitlement of the request's tenant.
func FromContext(ctx context.Context) (Entitlement, bool) {
	e, ok := ctx.Value(ctxKey{}).(*Entitlement)
	if !ok || e == nil {
		return Entitlement{}, false
	}
	return *e, true
}

// Allowed reports whether the request's tenant has feature. Without an
// entitlement in ctx, or for an unknown feature, it is false.
func Allowed(ctx context.Context, feature string) bool {
	e, ok := ctx.Value(ctxKey{}).(*Entitlement)
	return ok && e != nil && e.Has(feature)
}

// RequireFeature refuses requests whose tenant's plan lacks feature with a
// 403 problem "feature_not_in_plan". It must run after tenant resolution.
func RequireFeature(feature string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e, ok := r.Context().Value(ctxKey{}).(*Entitlement)
			if !ok || e == nil {
				problem.Error(w, http.StatusForbidden, problem.CodeFeatureNotInPlan,
					"feature "+feature+" requires a tenant plan, and none was resolved for this request")
				return
			}
			if !e.Has(feature) {
				problem.Write(w, http.StatusForbidden, problem.Problem{
					Code:       problem.CodeFeatureNotInPlan,
					Detail:     "the " + e.Plan + " plan does not include " + feature,
					Extensions: map[string]any{"feature": feature, "plan": e.Plan},
				})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
