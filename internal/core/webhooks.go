package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fast-saas/fast-saas/internal/lago"
	"github.com/fast-saas/fast-saas/internal/store"
)

// InboundOperations are the endpoints upstream services call: Lago's
// webhooks. They are declared like every operation (typed input and
// output, permission, handler) and served over REST and OpenAPI, but they
// are not MCP tools nor client methods: they act for no caller, and an
// agent has nothing to send them. The REST adapter registers both lists.
func (s *Service) InboundOperations() []Operation {
	return []Operation{
		newOp(s, Operation{ID: "receiveLagoWebhook", Method: http.MethodPost, Path: "/api/v1/webhooks/lago",
			Summary: "Receive a Lago webhook, verified by its signature (jwt or hmac) and recorded once in its tenant's audit log",
			Group:   "webhooks", Access: public, BodySchema: lagoWebhookBody,
			Errors: []int{http.StatusUnauthorized, http.StatusServiceUnavailable}},
			func(ctx context.Context, c *Call, in *lagoWebhookInput) (*Body[WebhookAck], error) {
				if s.LagoWebhooks == nil {
					return nil, &Error{Status: http.StatusServiceUnavailable, Code: lago.ReasonNotConfigured, Detail: "Lago webhooks are not configured on this server"}
				}
				outcome, err := s.LagoWebhooks.Receive(ctx, lago.Delivery{Signature: in.Signature, Algorithm: in.Algorithm, UniqueKey: in.UniqueKey, Body: in.RawBody},
					s.recordLagoWebhook)
				var we *lago.WebhookError
				if errors.As(err, &we) {
					return nil, &Error{Status: we.Status, Code: we.Reason, Detail: we.Detail, cause: we.Err}
				}
				if err != nil {
					return nil, err
				}
				return &Body[WebhookAck]{Body: WebhookAck{Status: outcome}}, nil
			}),
	}
}

// lagoWebhookBody documents what Lago posts.
var lagoWebhookBody = &huma.Schema{
	Type:        huma.TypeObject,
	Description: "A Lago webhook: its type, the type of the object it carries, and that object under the key named by object_type.",
	Properties: map[string]*huma.Schema{
		"webhook_type": {Type: huma.TypeString, Description: "e.g. invoice.created, subscription.started", Examples: []any{"invoice.created"}},
		"object_type":  {Type: huma.TypeString, Description: "e.g. invoice; the object is under this key", Examples: []any{"invoice"}},
	},
	Required:             []string{"webhook_type", "object_type"},
	AdditionalProperties: true,
}

type lagoWebhookInput struct {
	Signature string `header:"X-Lago-Signature" doc:"jwt: a JWT signed RS256 by Lago whose data claim is the body; hmac: base64 of HMAC-SHA256 of the body with the organization's HMAC key"`
	Algorithm string `header:"X-Lago-Signature-Algorithm" doc:"jwt (the default when absent) or hmac"`
	UniqueKey string `header:"X-Lago-Unique-Key" doc:"The webhook's id, the same on every retry: each one is processed once"`
	// RawBody is verified byte for byte against the signature, so it is
	// taken raw, not decoded and re-encoded (nor validated by huma: it is
	// JSON, {"webhook_type", "object_type", <object_type>: {…}}, but
	// documented as bytes, and checked here after the signature).
	RawBody []byte
}

// WebhookAck answers an accepted Lago delivery.
type WebhookAck struct {
	Status string `json:"status" enum:"accepted,duplicate,unknown_customer" doc:"accepted: recorded; duplicate: this unique key was already processed; unknown_customer: verified, but no tenant has this customer's external id (ignored)"`
}

// maxAuditObject bounds the Lago object kept in an audit row; bigger ones
// (an invoice with many fees) are recorded without it.
const maxAuditObject = 16 << 10

// recordLagoWebhook appends a verified webhook to the audit log of the
// tenant whose id is its external customer id.
func (s *Service) recordLagoWebhook(ctx context.Context, w lago.Webhook) (string, error) {
	if w.ExternalCustomerID == "" {
		return lago.OutcomeUnknownCustomer, nil
	}
	t, err := s.Store.GetTenant(ctx, w.ExternalCustomerID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return lago.OutcomeUnknownCustomer, nil
	}
	if err != nil {
		return "", fmt.Errorf("lago webhook: get tenant: %w", err)
	}
	details := map[string]any{"unique_key": w.UniqueKey, "webhook_type": w.Type, "object_type": w.ObjectType}
	if w.LagoID != "" {
		details["lago_id"] = w.LagoID
	}
	if len(w.Object) <= maxAuditObject {
		details["object"] = w.Object
	} else {
		details["object_omitted"] = fmt.Sprintf("%d bytes", len(w.Object))
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return "", fmt.Errorf("lago webhook: audit details: %w", err)
	}
	target := w.ObjectType
	if w.LagoID != "" {
		target += ":" + w.LagoID
	}
	if _, err := s.Store.AppendAudit(ctx, store.AuditEntry{TenantID: t.ID, Principal: "lago", Action: "lago." + w.Type, Target: target, Details: raw}); err != nil {
		return "", fmt.Errorf("lago webhook: audit: %w", err)
	}
	return lago.OutcomeAccepted, nil
}
