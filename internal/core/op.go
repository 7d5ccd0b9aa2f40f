package core

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fast-saas/fast-saas/internal/store"
)

// Access is the permission an operation requires. Exactly one of the
// shapes applies:
//   - Anonymous: anyone, no credential needed.
//   - Platform: platform admin keys only.
//   - Role > "": a tenant-scoped operation (path {id}); platform admins
//     always pass, users need at least Role in that tenant, tenant keys
//     need to belong to it and carry Scope (Scope "" = keys not allowed).
//   - otherwise: any authenticated caller; the handler filters what it sees.
type Access struct {
	Anonymous bool
	Platform  bool
	Role      store.Role
	Scope     string
	// Users, when false on a non-tenant operation, refuses JWT users.
	// Keys likewise for tenant keys. Both default to allowed through
	// the helper constructors below.
	NoUsers, NoKeys bool
}

// Key scopes.
const (
	ScopeRead       = "read"
	ScopeWrite      = "write"
	ScopeUsageWrite = "usage:write"
	ScopeKeysManage = "keys:manage"
	ScopeAI         = "ai"
)

// AllScopes lists every key scope, in documentation order.
var AllScopes = []string{ScopeRead, ScopeWrite, ScopeUsageWrite, ScopeKeysManage, ScopeAI}

// scopeRole is the role a key's creator needs to grant the scope: a key
// never exceeds the role of its creator.
var scopeRole = map[string]store.Role{
	ScopeRead:       store.RoleViewer,
	ScopeWrite:      store.RoleAdmin,
	ScopeUsageWrite: store.RoleMember,
	ScopeKeysManage: store.RoleAdmin,
	ScopeAI:         store.RoleMember,
}

var (
	public        = Access{Anonymous: true}
	platformOnly  = Access{Platform: true}
	authenticated = Access{}
)

func tenantAccess(role store.Role, scope string) Access { return Access{Role: role, Scope: scope} }

// Describe renders the permission for documentation (OpenAPI descriptions).
func (a Access) Describe() string {
	switch {
	case a.Anonymous:
		return "Public: no credential needed."
	case a.Platform:
		return "Platform admin key only."
	case a.Role != "":
		s := fmt.Sprintf("Tenant %s or higher, or platform admin.", a.Role)
		if a.Scope != "" {
			s += fmt.Sprintf(" Tenant keys: scope `%s`.", a.Scope)
		} else {
			s += " Not available to tenant keys."
		}
		return s
	}
	return "Any authenticated caller; results are limited to what the caller may see."
}

// Operation is one API operation, declared once. REST routes, the OpenAPI
// document and (later) MCP tools are all derived from the table.
type Operation struct {
	ID      string // stable operation id (camelCase), also the MCP tool name
	Method  string
	Path    string // Go 1.22 ServeMux pattern path, e.g. /api/v1/tenants/{id}
	Summary string
	Group   string // OpenAPI tag
	Access  Access
	// Status is the success status (200 when zero; 201 create; 202 accepted).
	Status int
	// FailStatus, when set, is a failure status whose answer is still the
	// typed output (readiness: 503 with the check list), not a problem;
	// the output's Status field picks it (see AnswerStatus).
	FailStatus int
	// Input and Output are the typed request and response structs.
	Input, Output reflect.Type
	// Errors are failure statuses beyond those every operation of its
	// kind may answer (validation, authentication), for OpenAPI.
	Errors []int
	// BodySchema, for an operation that takes its body raw (RawBody,
	// verified byte for byte), is the body as OpenAPI documents it.
	BodySchema *huma.Schema

	register func(api huma.API, op huma.Operation)
	call     func(ctx context.Context, raw json.RawMessage) (any, error)
}

// Register adds the operation to a huma API with the given huma operation
// metadata (built from the table by internal/api).
func (o Operation) Register(api huma.API, op huma.Operation) { o.register(api, op) }

// CallJSON decodes raw into the input type (unknown fields refused) and
// runs the operation with the caller in ctx, for adapters that are not
// HTTP (MCP). raw is the input struct as JSON: path and query fields by
// their Go names, the body under "Body". It does not apply the schema
// constraints (lengths, patterns, enums) that huma checks for REST: an
// adapter validates against the operation's schema first.
func (o Operation) CallJSON(ctx context.Context, raw json.RawMessage) (any, error) {
	return o.call(ctx, raw)
}

// tenantScoped is implemented by inputs that name a tenant in the path.
type tenantScoped interface{ tenantRef() string }

// TenantPath is embedded by inputs of operations under /tenants/{id}.
type TenantPath struct {
	ID string `path:"id" format:"uuid" doc:"Tenant id"`
}

func (p *TenantPath) tenantRef() string { return p.ID }

// Call is what an authorized handler receives: the caller and, for
// tenant-scoped operations, the tenant and the caller's role in it.
type Call struct {
	Caller Caller
	Tenant store.Tenant // zero for non-tenant operations
	Role   store.Role   // the caller's role in Tenant ("" for keys and platform)
}

// newOp builds a typed operation whose handler runs after authorization.
func newOp[I, O any](s *Service, meta Operation, h func(ctx context.Context, c *Call, in *I) (*O, error)) Operation {
	meta.Input = reflect.TypeFor[I]()
	meta.Output = reflect.TypeFor[O]()
	locations := fieldLocations(meta.Input)
	run := func(ctx context.Context, in *I) (*O, error) {
		// An adapter may have authorized this very operation already (the
		// REST chain does, to rate-limit and meter by the authorized
		// tenant); the path tenant must then be the one authorized.
		if pre, ok := ctx.Value(preAuthKey{}).(preAuth); ok && pre.opID == meta.ID {
			if ts, ok := any(in).(tenantScoped); !ok || ts.tenantRef() == pre.tenantRef {
				out, err := h(ctx, pre.call, in)
				return out, locateField(err, locations)
			}
		}
		call, err := s.authorize(ctx, meta.Access, in)
		if err != nil {
			return nil, err
		}
		out, err := h(ctx, call, in)
		return out, locateField(err, locations)
	}
	meta.register = func(api huma.API, op huma.Operation) { huma.Register(api, op, run) }
	meta.call = func(ctx context.Context, raw json.RawMessage) (any, error) {
		in := new(I)
		if len(raw) > 0 {
			if err := decodeStrict(raw, in); err != nil {
				return nil, Invalid("", "malformed input: "+err.Error())
			}
		}
		return run(ctx, in)
	}
	if meta.Status == 0 {
		meta.Status = http.StatusOK
	}
	return meta
}

// authorize applies the permission table. It is the only place that
// decides who may call what.
func (s *Service) authorize(ctx context.Context, a Access, in any) (*Call, error) {
	c := &Call{Caller: CallerFrom(ctx)}
	if a.Anonymous {
		return c, nil
	}
	if c.Caller.Kind == Anonymous {
		return nil, Unauthenticated()
	}
	if a.Platform {
		if c.Caller.Kind != PlatformCaller {
			return nil, Forbidden("platform admin only")
		}
		return c, nil
	}
	ts, ok := in.(tenantScoped)
	if a.Role == "" || !ok {
		if (a.NoUsers && c.Caller.Kind == UserCaller) || (a.NoKeys && c.Caller.Kind == TenantKeyCaller) {
			return nil, Forbidden("not available to this kind of principal")
		}
		return c, nil
	}
	tenantID := ts.tenantRef()
	t, err := s.tenant(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return nil, NotFound("tenant")
	}
	if err != nil {
		return nil, fmt.Errorf("authorize: get tenant: %w", err)
	}
	c.Tenant = t
	switch c.Caller.Kind {
	case PlatformCaller:
		return c, nil
	case TenantKeyCaller:
		if c.Caller.TenantID != t.ID || t.Status == store.TenantCancelled {
			return nil, NotFound("tenant")
		}
		if t.Status != store.TenantActive {
			return nil, &Error{Status: http.StatusForbidden, Code: CodeTenantSuspended, Detail: "tenant is " + string(t.Status)}
		}
		if a.Scope == "" {
			return nil, &Error{Status: http.StatusForbidden, Code: CodeForbidden, Detail: "not available to API keys"}
		}
		if !c.Caller.HasScope(a.Scope) {
			return nil, &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Detail: "API key lacks scope " + a.Scope}
		}
		return c, nil
	case UserCaller:
		// A Logto organization token is scoped to the tenant linked to
		// its organization: other tenants are invisible to it.
		if c.Caller.OrganizationID != "" && t.LogtoOrgID != c.Caller.OrganizationID {
			return nil, NotFound("tenant")
		}
		role, err := s.role(ctx, t.ID, c.Caller.UserID)
		if err != nil {
			return nil, fmt.Errorf("authorize: get membership: %w", err)
		}
		if role == "" || t.Status == store.TenantCancelled {
			return nil, NotFound("tenant")
		}
		c.Role = role
		if t.Status != store.TenantActive {
			return nil, &Error{Status: http.StatusForbidden, Code: CodeTenantSuspended, Detail: "tenant is " + string(t.Status)}
		}
		if !role.AtLeast(a.Role) {
			return nil, Forbidden(fmt.Sprintf("requires role %s or higher in this tenant", a.Role))
		}
		return c, nil
	}
	return nil, Unauthenticated()
}

type preAuthKey struct{}

type preAuth struct {
	opID, tenantRef string
	call            *Call
}

// Authorize checks the caller in ctx against op's permission for the
// tenant named tenantRef ("" for operations without one) and returns a
// context that carries the result, so the operation's handler does not
// check again, along with the Call (its Tenant is set for tenant-scoped
// operations). Adapters use it to meter and rate-limit by the authorized
// tenant before running the handler.
func (s *Service) Authorize(ctx context.Context, op Operation, tenantRef string) (context.Context, *Call, error) {
	var in any = struct{}{}
	if op.Access.Role != "" && tenantRef != "" {
		in = &TenantPath{ID: tenantRef}
	}
	call, err := s.authorize(ctx, op.Access, in)
	if err != nil {
		return ctx, nil, err
	}
	return context.WithValue(ctx, preAuthKey{}, preAuth{opID: op.ID, tenantRef: tenantRef, call: call}), call, nil
}

// TenantScoped reports whether the operation acts on the tenant in its
// path ({id}).
func (o Operation) TenantScoped() bool {
	_, ok := reflect.New(o.Input).Interface().(tenantScoped)
	return ok && o.Access.Role != ""
}

// Field locations, the prefixes of Error.Field: every field an operation
// names is "path.x", "query.x" or "body.x", as in huma's own validation
// errors, so a client reads one convention whatever check refused it.
const (
	locPath  = "path"
	locQuery = "query"
	locBody  = "body"
)

// fieldLocations maps the wire name of each input field of t to its
// location: path and query parameters by their tag, body fields by their
// JSON name.
func fieldLocations(t reflect.Type) map[string]string {
	locs := map[string]string{}
	var walk func(t reflect.Type, body bool)
	walk = func(t reflect.Type, body bool) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && f.Tag.Get("json") == "" {
				walk(f.Type, body)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if body {
				if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "-" {
					locs[cmp.Or(name, f.Name)] = locBody
				}
				continue
			}
			switch {
			case f.Tag.Get("path") != "":
				locs[f.Tag.Get("path")] = locPath
			case f.Tag.Get("query") != "":
				name, _, _ := strings.Cut(f.Tag.Get("query"), ",")
				locs[name] = locQuery
			case f.Name == "Body":
				walk(f.Type, true)
			}
		}
	}
	walk(t, false)
	return locs
}

// locateField prefixes the field of an input error with its location
// ("plan" becomes "body.plan") when the operation's input has that field.
// Errors that name their location already ("body.events[0]") start with no
// field name, so they are returned as they are.
func locateField(err error, locs map[string]string) error {
	var ce *Error
	if err == nil || !errors.As(err, &ce) || ce.Field == "" {
		return err
	}
	name := ce.Field
	if i := strings.IndexAny(name, ".["); i >= 0 {
		name = name[:i]
	}
	loc, ok := locs[name]
	if !ok {
		return err
	}
	located := *ce
	located.Field = loc + "." + ce.Field
	return &located
}
