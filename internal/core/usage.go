package core

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

// MetricAPICalls is the billable metric counted per API call (Lago code).
const MetricAPICalls = "api_calls"

// MaxIngestBatch is the largest accepted ingest batch.
const MaxIngestBatch = 1000

// UsageSummary is a tenant's usage over a period.
type UsageSummary struct {
	From    time.Time       `json:"from"`
	To      time.Time       `json:"to"`
	Metrics []MetricSummary `json:"metrics"`
}

// MetricSummary is one metric's total and daily series.
type MetricSummary struct {
	Metric string  `json:"metric"`
	Total  float64 `json:"total"`
	// Quota is the plan's monthly quota for the metric (-1 unlimited, absent when the plan has none).
	Quota *int64 `json:"quota,omitempty"`
	// PercentOfQuota is this month's use as a percentage of Quota.
	PercentOfQuota *float64   `json:"percent_of_quota,omitempty"`
	Daily          []DayUsage `json:"daily"`
}

// DayUsage is one UTC day of a metric.
type DayUsage struct {
	Day      string  `json:"day" doc:"UTC date, YYYY-MM-DD"`
	Quantity float64 `json:"quantity"`
	Events   int64   `json:"events" doc:"Stored events. The API calls of a tenant with the same route, method, status and second are stored as one event whose quantity counts them."`
}

// QuotaStatus compares this month's API calls with the plan.
type QuotaStatus struct {
	Metric  string  `json:"metric"`
	Used    float64 `json:"used"`
	Limit   int64   `json:"limit" doc:"-1 = unlimited"`
	Percent float64 `json:"percent"`
	Status  string  `json:"status" enum:"ok,warning,exceeded" doc:"warning from 80%"`
}

// UsageEvent is a stored usage event.
type UsageEvent struct {
	ID            string         `json:"id"`
	TransactionID string         `json:"transaction_id"`
	Metric        string         `json:"metric"`
	Quantity      float64        `json:"quantity"`
	Properties    map[string]any `json:"properties"`
	Timestamp     time.Time      `json:"timestamp"`
	ReceivedAt    time.Time      `json:"received_at"`
}

func eventView(e store.UsageEvent) UsageEvent {
	return UsageEvent{ID: e.ID, TransactionID: e.TransactionID, Metric: e.Metric, Quantity: e.Quantity,
		Properties: jsonObject(e.Properties), Timestamp: e.OccurredAt.UTC(), ReceivedAt: e.ReceivedAt.UTC()}
}

type summaryInput struct {
	TenantPath
	Period string    `query:"period" enum:"7d,30d,90d" doc:"Relative period ending now (default 30d); or give from and to"`
	From   time.Time `query:"from" doc:"RFC 3339 start (inclusive)"`
	To     time.Time `query:"to" doc:"RFC 3339 end (exclusive)"`
	Metric string    `query:"metric" maxLength:"100"`
}

type listEventsInput struct {
	TenantPath
	ListParams
	Metric string    `query:"metric" maxLength:"100"`
	From   time.Time `query:"from" doc:"RFC 3339 start (inclusive)"`
	To     time.Time `query:"to" doc:"RFC 3339 end (exclusive)"`
}

type ingestInput struct {
	TenantPath
	Body IngestBatch
}

// IngestResult counts what an ingest did.
type IngestResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// periodRange resolves period/from/to into [from, to).
func (s *Service) periodRange(period string, from, to time.Time) (time.Time, time.Time, error) {
	now := s.now()
	if !from.IsZero() || !to.IsZero() {
		if period != "" {
			return from, to, Invalid("period", "give period or from/to, not both")
		}
		if to.IsZero() {
			to = now
		}
		if from.IsZero() || !from.Before(to) {
			return from, to, Invalid("from", "from must be set and before to")
		}
		if to.Sub(from) > 366*24*time.Hour {
			return from, to, Invalid("from", "at most one year per query")
		}
		return from.UTC(), to.UTC(), nil
	}
	days := map[string]int{"": 30, "7d": 7, "30d": 30, "90d": 90}[period]
	if days == 0 {
		return from, to, Invalid("period", "period must be 7d, 30d or 90d")
	}
	today := now.Truncate(24 * time.Hour)
	return today.AddDate(0, 0, -(days - 1)), now, nil
}

func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// apiCallLimit is the tenant's monthly API call quota with overrides.
func (s *Service) apiCallLimit(ctx context.Context, t store.Tenant) (int64, error) {
	limit := int64(-1)
	if p, ok := s.Plans.Plan(t.Plan); ok {
		limit = p.APICallsPerMonth
	}
	o, err := s.Store.GetOverrides(ctx, t.ID)
	if err != nil {
		return 0, storeErr(err, "overrides")
	}
	if o.APICallsPerMonth != nil {
		limit = *o.APICallsPerMonth
	}
	return limit, nil
}

func (s *Service) quota(ctx context.Context, t store.Tenant) (QuotaStatus, error) {
	now := s.now()
	used, err := s.Store.UsageTotal(ctx, t.ID, MetricAPICalls, monthStart(now), now.Add(time.Nanosecond))
	if err != nil {
		return QuotaStatus{}, storeErr(err, "usage")
	}
	limit, err := s.apiCallLimit(ctx, t)
	if err != nil {
		return QuotaStatus{}, err
	}
	q := QuotaStatus{Metric: MetricAPICalls, Used: used, Limit: limit, Status: "ok"}
	if limit >= 0 {
		if limit > 0 {
			q.Percent = 100 * used / float64(limit)
		} else if used > 0 {
			q.Percent = 100
		}
		switch {
		case used >= float64(limit):
			q.Status = "exceeded"
		case q.Percent >= 80:
			q.Status = "warning"
		}
	}
	return q, nil
}

func (s *Service) summary(ctx context.Context, t store.Tenant, from, to time.Time) (UsageSummary, error) {
	rows, err := s.Store.UsageDaily(ctx, t.ID, "", from, to)
	if err != nil {
		return UsageSummary{}, storeErr(err, "usage")
	}
	byMetric := map[string]*MetricSummary{}
	for _, r := range rows {
		m := byMetric[r.Metric]
		if m == nil {
			m = &MetricSummary{Metric: r.Metric, Daily: []DayUsage{}}
			byMetric[r.Metric] = m
		}
		m.Total += r.Quantity
		m.Daily = append(m.Daily, DayUsage{Day: r.Day.UTC().Format(time.DateOnly), Quantity: r.Quantity, Events: r.Events})
	}
	out := UsageSummary{From: from, To: to, Metrics: []MetricSummary{}}
	for _, m := range byMetric {
		if m.Metric == MetricAPICalls {
			q, err := s.quota(ctx, t)
			if err != nil {
				return UsageSummary{}, err
			}
			m.Quota = &q.Limit
			if q.Limit >= 0 {
				m.PercentOfQuota = &q.Percent
			}
		}
		out.Metrics = append(out.Metrics, *m)
	}
	sort.Slice(out.Metrics, func(i, j int) bool { return out.Metrics[i].Metric < out.Metrics[j].Metric })
	return out, nil
}

func (s *Service) usageOps() []Operation {
	const g = "usage"
	read := tenantAccess(store.RoleViewer, ScopeRead)
	return []Operation{
		newOp(s, Operation{ID: "getUsageSummary", Method: http.MethodGet, Path: "/api/v1/tenants/{id}/usage", Summary: "Usage per metric with daily series and % of quota", Group: g, Access: read},
			func(ctx context.Context, c *Call, in *summaryInput) (*Body[UsageSummary], error) {
				from, to, err := s.periodRange(in.Period, in.From, in.To)
				if err != nil {
					return nil, err
				}
				sum, err := s.summary(ctx, c.Tenant, from, to)
				if err != nil {
					return nil, err
				}
				if in.Metric != "" {
					kept := []MetricSummary{}
					for _, m := range sum.Metrics {
						if m.Metric == in.Metric {
							kept = append(kept, m)
						}
					}
					sum.Metrics = kept
				}
				return &Body[UsageSummary]{Body: sum}, nil
			}),
		newOp(s, Operation{ID: "listUsageEvents", Method: http.MethodGet, Path: "/api/v1/tenants/{id}/usage/events", Summary: "List raw usage events, newest first", Group: g, Access: read},
			func(ctx context.Context, c *Call, in *listEventsInput) (*Body[List[UsageEvent]], error) {
				if !in.From.IsZero() && !in.To.IsZero() && !in.From.Before(in.To) {
					return nil, Invalid("from", "from must be before to")
				}
				items, next, err := s.Store.ListUsageEvents(ctx, c.Tenant.ID, store.UsageFilter{Metric: in.Metric, From: in.From, To: in.To}, in.page())
				if err != nil {
					return nil, storeErr(err, "usage events")
				}
				return listOf(items, next, eventView), nil
			}),
		newOp(s, Operation{ID: "ingestUsageEvents", Method: http.MethodPost, Path: "/api/v1/tenants/{id}/usage/events", Summary: "Ingest up to 1000 usage events (202 after a durable write; idempotent by transaction_id)", Group: g,
			Access: tenantAccess(store.RoleMember, ScopeUsageWrite), Status: http.StatusAccepted},
			func(ctx context.Context, c *Call, in *ingestInput) (*Body[IngestResult], error) {
				if err := in.Body.Problem(); err != nil {
					return nil, err
				}
				now := s.now()
				evs := make([]store.UsageEvent, 0, len(in.Body.Events))
				for i, e := range in.Body.Events {
					q := 1.0
					if e.Quantity != nil {
						q = *e.Quantity
					}
					at := now
					if e.Timestamp != nil {
						at = e.Timestamp.UTC()
						switch {
						case at.After(now.Add(5 * time.Minute)):
							return nil, Invalid(fmt.Sprintf("body.events[%d].timestamp", i), "timestamp is in the future")
						case at.Before(earliestUsage):
							return nil, Invalid(fmt.Sprintf("body.events[%d].timestamp", i), "timestamp is before "+earliestUsage.Format(time.RFC3339))
						}
					}
					var props json.RawMessage
					if e.Properties != nil {
						props = rawObject(e.Properties)
					}
					evs = append(evs, store.UsageEvent{TenantID: c.Tenant.ID, Metric: e.Metric, Quantity: q, Properties: props, TransactionID: e.TransactionID, OccurredAt: at})
				}
				ins, dup, err := s.Store.InsertUsageBatch(ctx, evs)
				if err != nil {
					return nil, storeErr(err, "usage events")
				}
				return &Body[IngestResult]{Body: IngestResult{Accepted: ins, Duplicates: dup}}, nil
			}),
		newOp(s, Operation{ID: "checkUsageLimit", Method: http.MethodGet, Path: "/api/v1/tenants/{id}/usage/limit", Summary: "Monthly API call quota: ok, warning (≥ 80%) or exceeded", Group: g, Access: read},
			func(ctx context.Context, c *Call, in *tenantInput) (*Body[QuotaStatus], error) {
				q, err := s.quota(ctx, c.Tenant)
				if err != nil {
					return nil, err
				}
				return &Body[QuotaStatus]{Body: q}, nil
			}),
	}
}

// earliestUsage is the oldest timestamp an ingested event may carry: the
// Unix epoch. The year-1 zero time, in particular, means "no timestamp" to
// the store.
var earliestUsage = time.Unix(0, 0).UTC()

// Limits returns a tenant's rate limit per minute and monthly API call
// quota, plan values with the tenant's overrides applied (-1 = unlimited).
func (s *Service) Limits(ctx context.Context, t store.Tenant) (ratePerMinute, callsPerMonth int64, err error) {
	ratePerMinute, callsPerMonth = -1, -1
	if p, ok := s.Plans.Plan(t.Plan); ok {
		ratePerMinute, callsPerMonth = p.RateLimitPerMinute, p.APICallsPerMonth
	}
	o, err := s.Store.GetOverrides(ctx, t.ID)
	if err != nil {
		return 0, 0, storeErr(err, "overrides")
	}
	if o.RateLimitPerMinute != nil {
		ratePerMinute = *o.RateLimitPerMinute
	}
	if o.APICallsPerMonth != nil {
		callsPerMonth = *o.APICallsPerMonth
	}
	return ratePerMinute, callsPerMonth, nil
}
