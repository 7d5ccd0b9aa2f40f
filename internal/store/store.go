// Package store is the storage contract of the SaaS API: the value types
// (tenants, users, memberships, API keys, platform keys, usage events, the
// Lago outbox, the audit log, plan overrides), the Store interface every
// backend implements, and the sentinel errors callers match with errors.Is.
//
// Tenant isolation is data, not ambience: every tenant-scoped call takes the
// tenant ID as a required argument, and an object of tenant A asked for with
// tenant B's ID is ErrNotFound. Only lookups whose point is to find the tenant
// (APIKeyByHash, TenantBySlug, TenantByLogtoOrg) go without one.
//
// Backends live in sub-packages (sqlite, postgres); storetest holds the one
// conformance suite both run.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/fast-saas/fast-saas/middleware/tenancy"
)

// Sentinel errors. Backends wrap them with context; match with errors.Is.
var (
	// ErrNotFound: no such object, or it belongs to another tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value is taken (slug, email, membership pair,
	// key hash, Logto organization, external user id).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: a field value is malformed or not allowed (bad role, plan,
	// status, slug, JSON, limit, cursor…). Wrapped with the field name.
	ErrInvalid = errors.New("invalid")
	// ErrLastOwner: the change would leave a tenant without an owner.
	ErrLastOwner = errors.New("tenant must keep at least one owner")
	// ErrUnavailable: the database cannot be reached right now (connection
	// refused or lost, server shutting down); the call may succeed later.
	ErrUnavailable = errors.New("database unavailable")
)

// TenantStatus is the lifecycle state of a tenant.
type TenantStatus string

// Tenant statuses. Cancelled is a soft delete: data is kept, lists hide it.
const (
	TenantActive    TenantStatus = "active"
	TenantSuspended TenantStatus = "suspended"
	TenantCancelled TenantStatus = "cancelled"
)

// Valid reports whether s is a known status.
func (s TenantStatus) Valid() bool {
	switch s {
	case TenantActive, TenantSuspended, TenantCancelled:
		return true
	}
	return false
}

// Role is a member's role in one tenant: owner > admin > member > viewer.
// It is the middleware's role type (tenancy.Role), so a role read from the
// store is the role the tenancy middleware checks, with one ordering.
type Role = tenancy.Role

// Roles, most powerful first.
const (
	RoleOwner  = tenancy.RoleOwner
	RoleAdmin  = tenancy.RoleAdmin
	RoleMember = tenancy.RoleMember
	RoleViewer = tenancy.RoleViewer
)

// Tenant is one customer organization.
type Tenant struct {
	ID     string // UUIDv7, set by the store
	Slug   string // unique, ^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$
	Name   string
	Plan   string // one of the plan ids the store was configured with
	Status TenantStatus
	// Settings and Metadata are JSON objects; empty means {}.
	Settings json.RawMessage
	Metadata json.RawMessage
	// LogtoOrgID links the tenant to a Logto organization; "" = none. Unique when set.
	LogtoOrgID string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// User is a person, provisioned from Logto on first sight.
type User struct {
	ID            string // UUIDv7, set by the store
	ExternalID    string // Logto `sub`; unique when set, "" = none yet
	Email         string // unique case-insensitively
	Name          string
	AvatarURL     string
	EmailVerified bool
	LastLoginAt   *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Membership links a user to a tenant with a role. (TenantID, UserID) is unique.
type Membership struct {
	TenantID  string
	UserID    string
	Role      Role
	InvitedBy string // user id; "" = none
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Member is a membership together with its user, as member lists show it.
type Member struct {
	Membership
	User User
}

// HashLen is the length of a stored key hash (SHA-256).
const HashLen = 32

// DisplayPrefixLen is how many leading characters of a key are kept for display.
const DisplayPrefixLen = 12

// APIKey is a tenant API key. Only its SHA-256 hash is stored.
type APIKey struct {
	ID       string // UUIDv7, set by the store
	TenantID string
	Name     string
	Prefix   string // first DisplayPrefixLen characters of the key, for display
	Hash     []byte // SHA-256 of the full key, HashLen bytes, unique
	Scopes   []string
	// ExpiresAt: nil = never. RevokedAt: nil = live; a future time = a grace
	// period (rotation) after which the key stops working.
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	CreatedBy  string // user id; "" when created by a platform admin or another key
	// CreatedByLabel names the principal that created it ("user:<id>", "platform", "key:<id>").
	CreatedByLabel string
	CreatedAt      time.Time
}

// Usable reports whether the key authenticates at time now.
func (k APIKey) Usable(now time.Time) bool {
	if k.RevokedAt != nil && !now.Before(*k.RevokedAt) {
		return false
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return false
	}
	return true
}

// PlatformKey is a platform admin key (fsp_…). Only its hash is stored.
type PlatformKey struct {
	ID        string
	Name      string
	Prefix    string
	Hash      []byte
	CreatedAt time.Time
	RevokedAt *time.Time
}

// UsageEvent is one metered event. (TenantID, TransactionID) is unique: a
// repeated transaction id is a duplicate, skipped and counted, never an error.
type UsageEvent struct {
	ID            string // UUIDv7; set by the store when empty
	TenantID      string
	Metric        string // billable metric code, e.g. api_calls
	Quantity      float64
	Properties    json.RawMessage // JSON object; empty means {}
	TransactionID string
	OccurredAt    time.Time // any zone; stored in UTC
	ReceivedAt    time.Time // set by the store when zero
}

// OutboxStatus is the Lago delivery state of an outbox row.
type OutboxStatus string

// Outbox statuses. Failed is terminal (poison); pending rows are retried.
const (
	OutboxPending OutboxStatus = "pending"
	OutboxSent    OutboxStatus = "sent"
	OutboxFailed  OutboxStatus = "failed"
)

// Outbox kinds. KindEvent rows are created by InsertUsageBatch, one per
// inserted event; the others carry a JSON payload and are enqueued by the API.
const (
	OutboxKindEvent              = "event"
	OutboxKindCreateCustomer     = "create_customer"
	OutboxKindCreateSubscription = "create_subscription"
	OutboxKindChangePlan         = "change_plan"
)

// OutboxItem is one command to send to Lago.
type OutboxItem struct {
	ID            string
	TenantID      string
	Kind          string
	EventID       string          // for OutboxKindEvent
	Event         *UsageEvent     // filled by ClaimOutbox for OutboxKindEvent
	Payload       json.RawMessage // for other kinds; empty means {}
	Status        OutboxStatus
	Attempts      int
	LastError     string
	NextAttemptAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// AuditEntry is one line of a tenant's audit log.
type AuditEntry struct {
	ID        string
	TenantID  string
	Principal string // who: "user:<id>", "key:<id>", "platform"
	Action    string // what, e.g. "member.add"
	Target    string // on what, e.g. "user:<id>"
	Details   json.RawMessage
	At        time.Time // set by the store when zero
}

// Unlimited is the override value for "no limit".
const Unlimited = -1

// PlanOverrides are per-tenant limits and features that override the plan.
// A nil field means "as the plan says"; Unlimited (-1) means no limit.
type PlanOverrides struct {
	RateLimitPerMinute *int64          `json:"rate_limit_per_minute,omitempty"`
	APICallsPerMonth   *int64          `json:"api_calls_per_month,omitempty"`
	Features           map[string]bool `json:"features,omitempty"`
}

// Page asks for one page of a list: Limit 1–100 (0 = DefaultLimit) and the
// opaque Cursor returned with the previous page ("" = first page).
type Page struct {
	Limit  int
	Cursor string
}

// List limits.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// TenantFilter narrows ListTenants. Cancelled tenants are hidden unless
// Status is TenantCancelled or IncludeCancelled is set.
type TenantFilter struct {
	Status           TenantStatus // "" = any (but cancelled)
	Plan             string       // "" = any
	IncludeCancelled bool
	MemberUserID     string // only tenants this user is a member of; "" = all
}

// UserFilter narrows ListUsers.
type UserFilter struct {
	// SharesTenantWith: only users who share at least one tenant with this user.
	SharesTenantWith string
}

// UsageFilter narrows ListUsageEvents: [From, To) on OccurredAt.
type UsageFilter struct {
	Metric string    // "" = all
	From   time.Time // zero = unbounded
	To     time.Time // zero = unbounded
}

// AuditFilter narrows ListAudit: [From, To) on At.
type AuditFilter struct {
	From time.Time
	To   time.Time
}

// DailyUsage is the usage of one metric on one UTC day.
type DailyUsage struct {
	Metric   string
	Day      time.Time // midnight UTC
	Quantity float64   // sum of quantities
	Events   int64     // number of events
}

// PlatformStats is the admin overview.
type PlatformStats struct {
	TenantsByPlan     map[string]int
	TenantsByStatus   map[TenantStatus]int
	Users             int
	MembershipsByRole map[Role]int
	ActiveAPIKeys     int
	UsageEvents       int64              // events since the given time
	UsageByMetric     map[string]float64 // quantity since the given time
}

// Queries are the operations available both on a Store and inside a Tx.
// Lists return (items, nextCursor, err); nextCursor is "" on the last page.
// Lists order by creation (ids are UUIDv7), except usage events and audit
// entries, newest first.
type Queries interface {
	// Tenants. CreateTenant inserts the tenant and, when ownerUserID is not
	// "", its owner membership, atomically. ID, status (default active) and
	// timestamps are set by the store.
	CreateTenant(ctx context.Context, t Tenant, ownerUserID string) (Tenant, error)
	GetTenant(ctx context.Context, tenantID string) (Tenant, error)
	TenantBySlug(ctx context.Context, slug string) (Tenant, error)
	TenantByLogtoOrg(ctx context.Context, orgID string) (Tenant, error)
	ListTenants(ctx context.Context, f TenantFilter, p Page) ([]Tenant, string, error)
	// UpdateTenant writes slug, name, plan, status, settings, metadata and
	// Logto org of the tenant with t.ID. Read it first inside a Tx.
	UpdateTenant(ctx context.Context, t Tenant) (Tenant, error)

	// Users (global, not tenant-scoped).
	CreateUser(ctx context.Context, u User) (User, error)
	GetUser(ctx context.Context, userID string) (User, error)
	UserByExternalID(ctx context.Context, externalID string) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)
	ListUsers(ctx context.Context, f UserFilter, p Page) ([]User, string, error)
	// UpdateUser writes external id, email, name, avatar, email_verified and last login.
	UpdateUser(ctx context.Context, u User) (User, error)

	// Memberships. Unknown tenant or user → ErrNotFound; existing pair → ErrConflict.
	AddMember(ctx context.Context, m Membership) (Membership, error)
	GetMember(ctx context.Context, tenantID, userID string) (Member, error)
	ListMembers(ctx context.Context, tenantID string, p Page) ([]Member, string, error)
	// UpdateMemberRole and RemoveMember return ErrLastOwner rather than leave no owner.
	UpdateMemberRole(ctx context.Context, tenantID, userID string, role Role) (Membership, error)
	RemoveMember(ctx context.Context, tenantID, userID string) error
	// MembershipsOfUser lists every tenant membership of a user (for tenant resolution).
	MembershipsOfUser(ctx context.Context, userID string) ([]Membership, error)

	// Tenant API keys.
	CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	GetAPIKey(ctx context.Context, tenantID, keyID string) (APIKey, error)
	// APIKeyByHash finds a key (revoked or expired ones too: check Usable).
	APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	ListAPIKeys(ctx context.Context, tenantID string, p Page) ([]APIKey, string, error)
	// RevokeAPIKey sets revoked_at to at (zero = now; future = grace period).
	RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time) (APIKey, error)
	// TouchAPIKey records a use of the key.
	TouchAPIKey(ctx context.Context, tenantID, keyID string, at time.Time) error

	// Platform admin keys.
	CreatePlatformKey(ctx context.Context, k PlatformKey) (PlatformKey, error)
	PlatformKeyByHash(ctx context.Context, hash []byte) (PlatformKey, error)
	ListPlatformKeys(ctx context.Context, p Page) ([]PlatformKey, string, error)
	RevokePlatformKey(ctx context.Context, keyID string, at time.Time) (PlatformKey, error)

	// Usage. InsertUsageBatch stores events of any tenants in one
	// transaction, skipping (and counting) events whose (tenant,
	// transaction_id) exists or repeats within the batch, and enqueues a
	// pending outbox row for every inserted event. Unknown tenant → ErrNotFound.
	InsertUsageBatch(ctx context.Context, events []UsageEvent) (inserted, duplicates int, err error)
	ListUsageEvents(ctx context.Context, tenantID string, f UsageFilter, p Page) ([]UsageEvent, string, error)
	// UsageDaily sums usage per metric per UTC day over [from, to); metric "" = all.
	UsageDaily(ctx context.Context, tenantID, metric string, from, to time.Time) ([]DailyUsage, error)
	// UsageTotal sums a metric's quantity over [from, to) (e.g. the month, for quota).
	UsageTotal(ctx context.Context, tenantID, metric string, from, to time.Time) (float64, error)
	// UsageByTenant sums a metric over [from, to) for every tenant that has
	// usage (platform scope: for quota gauges across tenants).
	UsageByTenant(ctx context.Context, metric string, from, to time.Time) (map[string]float64, error)

	// Lago outbox. EnqueueOutbox adds a non-event command (Kind, Payload).
	EnqueueOutbox(ctx context.Context, it OutboxItem) (OutboxItem, error)
	// ClaimOutbox returns up to limit pending rows due at now, oldest first,
	// and leases them (next_attempt_at = now+lease) so concurrent claimers
	// skip them. Event rows carry their Event.
	ClaimOutbox(ctx context.Context, limit int, lease time.Duration) ([]OutboxItem, error)
	MarkOutboxSent(ctx context.Context, ids []string) error
	// MarkOutboxRetry: attempts++, last_error, next_attempt_at = next, still pending.
	MarkOutboxRetry(ctx context.Context, id, lastError string, next time.Time) error
	// MarkOutboxFailed: attempts++, last_error, status failed (poison, never retried).
	MarkOutboxFailed(ctx context.Context, id, lastError string) error
	// OutboxBacklog counts pending rows and returns the creation time of the
	// oldest one (zero when none), for the pipeline lag metric.
	OutboxBacklog(ctx context.Context) (pending int, oldest time.Time, err error)

	// Audit log.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	ListAudit(ctx context.Context, tenantID string, f AuditFilter, p Page) ([]AuditEntry, string, error)

	// Per-tenant plan overrides. Get returns the zero value when none are set.
	GetOverrides(ctx context.Context, tenantID string) (PlanOverrides, error)
	SetOverrides(ctx context.Context, tenantID string, o PlanOverrides) (PlanOverrides, error)

	// PlatformStats counts tenants, users, memberships, live keys, and usage since `since`.
	PlatformStats(ctx context.Context, since time.Time) (PlatformStats, error)
}

// Tx is a transaction: the same queries, all committed or none.
type Tx interface {
	Queries
}

// Store is a storage backend.
type Store interface {
	Queries
	// Tx runs fn in one transaction: committed when fn returns nil, rolled
	// back otherwise (fn's error is returned). Do not nest, and inside fn use
	// only tx: on SQLite a write through the Store itself would wait for the
	// single writer connection that the transaction holds.
	Tx(ctx context.Context, fn func(tx Tx) error) error
	// Ping checks the database answers (readiness).
	Ping(ctx context.Context) error
	Close() error
}
