package client

import "time"

// Health is the liveness answer.
type Health struct {
	Status string `json:"status"`
}

// Readiness is the readiness answer: status "ok" or "down", and every
// check (store, redis, usage_pipeline) by name.
type Readiness struct {
	Status string                 `json:"status"`
	Checks map[string]CheckResult `json:"checks"`
}

// CheckResult is one readiness check's outcome.
type CheckResult struct {
	Status    string `json:"status"`
	Error     string `json:"error,omitempty"`
	LatencyMS int64  `json:"latency_ms"`
}

// Tenant is a customer organization.
type Tenant struct {
	ID         string         `json:"id"`
	Slug       string         `json:"slug"`
	Name       string         `json:"name"`
	Plan       string         `json:"plan"`
	Status     string         `json:"status"`
	Settings   map[string]any `json:"settings"`
	Metadata   map[string]any `json:"metadata"`
	LogtoOrgID string         `json:"logto_org_id,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

// CreateTenant is the body of CreateTenant.
type CreateTenant struct {
	Slug        string         `json:"slug"`
	Name        string         `json:"name"`
	Plan        string         `json:"plan,omitempty"`
	Settings    map[string]any `json:"settings,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	OwnerUserID string         `json:"owner_user_id,omitempty"`
}

// User is a person.
type User struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	EmailVerified bool      `json:"email_verified"`
	ExternalID    string    `json:"external_id,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

// CreateUser is the body of CreateUser.
type CreateUser struct {
	Email         string `json:"email"`
	Name          string `json:"name,omitempty"`
	ExternalID    string `json:"external_id,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
}

// Member is a user's membership in a tenant.
type Member struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// APIKey is a tenant key's metadata.
type APIKey struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenant_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
}

// CreatedAPIKey carries the secret, shown once.
type CreatedAPIKey struct {
	APIKey
	Key string `json:"key"`
}

// CreateAPIKey is the body of CreateAPIKey.
type CreateAPIKey struct {
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// UsageEvent is one event to ingest.
type UsageEvent struct {
	TransactionID string         `json:"transaction_id"`
	Metric        string         `json:"metric"`
	Quantity      *float64       `json:"quantity,omitempty"`
	Properties    map[string]any `json:"properties,omitempty"`
	Timestamp     *time.Time     `json:"timestamp,omitempty"`
}

// IngestResult counts an ingest.
type IngestResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// UsageSummary is usage over a period.
type UsageSummary struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Metrics []struct {
		Metric         string   `json:"metric"`
		Total          float64  `json:"total"`
		Quota          *int64   `json:"quota,omitempty"`
		PercentOfQuota *float64 `json:"percent_of_quota,omitempty"`
		Daily          []struct {
			Day      string  `json:"day"`
			Quantity float64 `json:"quantity"`
			Events   int64   `json:"events"`
		} `json:"daily"`
	} `json:"metrics"`
}

// QuotaStatus is the monthly API call quota check.
type QuotaStatus struct {
	Metric  string  `json:"metric"`
	Used    float64 `json:"used"`
	Limit   int64   `json:"limit"`
	Percent float64 `json:"percent"`
	Status  string  `json:"status"`
}

// Plan is a plan's limits and features.
type Plan struct {
	ID                 string          `json:"id"`
	Name               string          `json:"name"`
	APICallsPerMonth   int64           `json:"api_calls_per_month"`
	RateLimitPerMinute int64           `json:"rate_limit_per_minute"`
	Features           map[string]bool `json:"features"`
}
