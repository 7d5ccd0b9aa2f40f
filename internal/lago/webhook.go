package lago

// Receiving Lago's webhooks. The contract, from Lago's documentation
// ("Format & Signature") and its API's Webhook model:
//
//   - Lago POSTs the JSON body {"webhook_type": "invoice.created",
//     "object_type": "invoice", "invoice": {…}} to the endpoint, and sends it
//     again (3 attempts in all by default) on any non-2xx answer or network
//     error.
//   - X-Lago-Unique-Key is the webhook's id: the same on every attempt, so a
//     receiver processes each webhook once by remembering it.
//   - X-Lago-Signature-Algorithm is "jwt" (the original, and the default of
//     Lago versions that did not send this header) or "hmac".
//   - jwt: X-Lago-Signature is a JWT signed RS256 by Lago's RSA private key,
//     with claims {"data": <the body, as sent>, "iss": <Lago's LAGO_API_URL>}
//     and no expiry. Lago serves the public key at
//     GET /api/v1/webhooks/public_key (Bearer API key): text/plain, the
//     base64 (MIME, 60-character lines) of the PEM.
//   - hmac: X-Lago-Signature is base64(HMAC-SHA256(organization's HMAC key,
//     body)).

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fast-saas/fast-saas/internal/metrics"
	"github.com/golang-jwt/jwt/v5"
)

// Webhook headers and signature algorithms.
const (
	HeaderSignature = "X-Lago-Signature"
	HeaderAlgorithm = "X-Lago-Signature-Algorithm"
	HeaderUniqueKey = "X-Lago-Unique-Key"
	AlgorithmJWT    = "jwt"
	AlgorithmHMAC   = "hmac"
)

// Reasons a delivery is refused: the label values of
// lago_webhook_failures_total{reason}, a small fixed set.
const (
	// ReasonNotConfigured: no verification key is configured at all.
	ReasonNotConfigured = "not_configured"
	// ReasonMissingSignature: no X-Lago-Signature header.
	ReasonMissingSignature = "missing_signature"
	// ReasonUnsupportedAlgorithm: an algorithm other than jwt or hmac, or
	// one this server has no key for.
	ReasonUnsupportedAlgorithm = "unsupported_algorithm"
	// ReasonBadSignature: the signature does not verify (tampered body,
	// wrong key, wrong issuer, garbage).
	ReasonBadSignature = "bad_signature"
	// ReasonKeyUnavailable: Lago's public key could not be fetched.
	ReasonKeyUnavailable = "key_unavailable"
	// ReasonMalformed: signed, but not a webhook (no unique key, not a JSON
	// object, webhook_type / object_type / object missing).
	ReasonMalformed = "malformed"
	// ReasonUnavailable: ours — the de-duplication or audit store failed;
	// Lago will send it again.
	ReasonUnavailable = "unavailable"
)

// Reasons lists every failure reason.
var Reasons = []string{ReasonNotConfigured, ReasonMissingSignature, ReasonUnsupportedAlgorithm, ReasonBadSignature,
	ReasonKeyUnavailable, ReasonMalformed, ReasonUnavailable}

// Outcomes of deliveries that are answered 2xx: the label values of
// lago_webhooks_received_total{outcome}.
const (
	OutcomeAccepted        = "accepted"
	OutcomeDuplicate       = "duplicate"
	OutcomeUnknownCustomer = "unknown_customer"
	// OutcomeUnknownType: recorded like any other, but its webhook_type is
	// not one this server knows (Lago added one: see KnownWebhookType).
	OutcomeUnknownType = "unknown_type"
)

// Outcomes lists every outcome.
var Outcomes = []string{OutcomeAccepted, OutcomeDuplicate, OutcomeUnknownCustomer, OutcomeUnknownType}

// webhookTypes are the webhook_type values Lago sends (its
// SendWebhookJob::WEBHOOK_SERVICES, v1.3x), built on first use rather than
// at start-up of every command. A delivery of a type missing here is still
// recorded (refused, it would stay a failed delivery on Lago's side), and
// counted as OutcomeUnknownType so the list can be brought up to date.
var webhookTypes = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, t := range strings.Fields(`alert.triggered
		billable_metric.created billable_metric.updated billable_metric.deleted dunning_campaign.finished
		invoice.created invoice.one_off_created invoice.add_on_added invoice.paid_credit_added invoice.generated
		invoice.drafted invoice.ready_to_finalize invoice.voided invoice.payment_dispute_lost
		invoice.payment_status_updated invoice.payment_overdue invoice.payment_failure invoice.resynced
		event.error events.errors fee.created fee.tax_provider_error
		customer.created customer.updated customer.accounting_provider_created customer.accounting_provider_error
		customer.crm_provider_created customer.crm_provider_error customer.payment_provider_created
		customer.payment_provider_error customer.checkout_url_generated customer.tax_provider_error customer.vies_check
		credit_note.created credit_note.generated credit_note.provider_refund_failure
		integration.provider_error payment.requires_action payment.succeeded payment_provider.error
		payment_receipt.created payment_receipt.generated
		payment_request.created payment_request.payment_failure payment_request.payment_status_updated
		plan.created plan.deleted plan.updated feature.created feature.updated feature.deleted
		subscription.canceled subscription.incomplete subscription.terminated subscription.started
		subscription.termination_alert subscription.trial_ended subscription.updated subscription.usage_threshold_reached
		wallet.created wallet.updated wallet.terminated wallet.depleted_ongoing_balance
		wallet_transaction.created wallet_transaction.updated wallet_transaction.payment_failure`) {
		m[t] = true
	}
	return m
})

// KnownWebhookType reports whether t is a webhook_type Lago sends.
func KnownWebhookType(t string) bool { return webhookTypes()[t] }

// MaxUniqueKey bounds X-Lago-Unique-Key (Lago sends a UUID).
const MaxUniqueKey = 128

// WebhookError is a refused delivery: the HTTP status to answer, the
// failure reason (a metric label and the problem code) and a safe detail.
type WebhookError struct {
	Status int
	Reason string
	Detail string
	Err    error // internal cause, for logs
}

func (e *WebhookError) Error() string {
	s := e.Reason + ": " + e.Detail
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *WebhookError) Unwrap() error { return e.Err }

func refuse(status int, reason, detail string, cause error) *WebhookError {
	return &WebhookError{Status: status, Reason: reason, Detail: detail, Err: cause}
}

// Delivery is one webhook request as received: the three headers and the
// raw body.
type Delivery struct {
	Signature, Algorithm, UniqueKey string
	Body                            []byte
}

// Webhook is a verified, parsed delivery.
type Webhook struct {
	UniqueKey  string
	Type       string // webhook_type, e.g. invoice.created
	ObjectType string // object_type, e.g. invoice
	// Object is the payload's object (under the object_type key).
	Object json.RawMessage
	// LagoID is the object's lago_id, when it has one.
	LagoID string
	// ExternalCustomerID is the customer the webhook is about, as far as
	// the object says: a customer's external_id, else external_customer_id,
	// else customer.external_id, else external_subscription_id (in
	// fast-saas all of them are the tenant id). Empty when none.
	ExternalCustomerID string
}

// ParseWebhook parses a (verified) body. It does not check the type
// against KnownWebhookType.
func ParseWebhook(body []byte) (Webhook, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil || env == nil {
		return Webhook{}, errors.New("the body is not a JSON object")
	}
	var w Webhook
	if err := json.Unmarshal(env["webhook_type"], &w.Type); err != nil || !typeName(w.Type) {
		return Webhook{}, errors.New("webhook_type is missing or not a type name (a-z, 0-9, _ and ., at most 100)")
	}
	if err := json.Unmarshal(env["object_type"], &w.ObjectType); err != nil || w.ObjectType == "" || len(w.ObjectType) > 100 {
		return Webhook{}, errors.New("object_type is missing or not a string")
	}
	w.Object = env[w.ObjectType]
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(w.Object, &obj); err != nil || obj == nil {
		return Webhook{}, fmt.Errorf("the %s object is missing or not an object", w.ObjectType)
	}
	str := func(m map[string]json.RawMessage, k string) string {
		var s string
		_ = json.Unmarshal(m[k], &s)
		return s
	}
	w.LagoID = str(obj, "lago_id")
	if w.ObjectType == "customer" {
		w.ExternalCustomerID = str(obj, "external_id")
	}
	if w.ExternalCustomerID == "" {
		w.ExternalCustomerID = str(obj, "external_customer_id")
	}
	if w.ExternalCustomerID == "" {
		var cust map[string]json.RawMessage
		if json.Unmarshal(obj["customer"], &cust) == nil {
			w.ExternalCustomerID = str(cust, "external_id")
		}
	}
	if w.ExternalCustomerID == "" {
		w.ExternalCustomerID = str(obj, "external_subscription_id")
	}
	return w, nil
}

// ParsePublicKey reads Lago's RSA public key as PEM ("PUBLIC KEY" or "RSA
// PUBLIC KEY") or as the base64 of that PEM that Lago's public_key
// endpoint answers (line breaks allowed).
func ParsePublicKey(text string) (*rsa.PublicKey, error) {
	data := []byte(strings.TrimSpace(text))
	if !bytes.HasPrefix(data, []byte("-----BEGIN")) {
		dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(data)), ""))
		if err != nil {
			return nil, errors.New("lago public key: neither PEM nor base64 of PEM")
		}
		data = dec
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("lago public key: no PEM block")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("lago public key: %w", err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("lago public key: not an RSA key")
		}
		return rk, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("lago public key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("lago public key: unexpected PEM block %q", block.Type)
}

// WebhookPublicKey fetches the RSA public key that verifies Lago's jwt
// webhook signatures (GET /api/v1/webhooks/public_key).
func (c *Client) WebhookPublicKey(ctx context.Context) (*rsa.PublicKey, error) {
	u := *c.base
	u.Path += "/api/v1/webhooks/public_key"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("lago: webhook public key: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lago: webhook public key: %w", &TransportError{Err: err})
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, fmt.Errorf("lago: webhook public key: %w", &TransportError{Err: err})
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("lago: webhook public key: %w", parseError(resp.StatusCode, resp.Header.Get("Retry-After"), raw))
	}
	k, err := ParsePublicKey(string(raw))
	if err != nil {
		return nil, fmt.Errorf("lago: webhook public key: %w", err)
	}
	return k, nil
}

// Deduper remembers the unique keys of accepted deliveries.
type Deduper interface {
	// Claim records key and reports whether it was new.
	Claim(ctx context.Context, key string) (bool, error)
	// Release forgets key (its processing failed; the retry must run).
	Release(ctx context.Context, key string) error
}

// ReceiverOptions configure a Receiver. At least one of HMACKey,
// PublicKey and FetchPublicKey should be set; with none, every delivery is
// refused as not configured.
type ReceiverOptions struct {
	// HMACKey verifies hmac signatures (the organization's HMAC key).
	HMACKey []byte
	// PublicKey verifies jwt signatures; when nil, FetchPublicKey is
	// called (once, then cached; again at most once a minute when a
	// signature fails, in case Lago's key changed).
	PublicKey      *rsa.PublicKey
	FetchPublicKey func(ctx context.Context) (*rsa.PublicKey, error)
	// Issuer, when set, is the iss jwt signatures must carry.
	Issuer string
	// Dedup remembers accepted unique keys; nil keeps them in memory for
	// 7 days (one replica).
	Dedup Deduper
	// Metrics receives the metrics; nil exports none.
	Metrics *metrics.Registry
}

// Receiver verifies, de-duplicates and counts Lago webhook deliveries.
type Receiver struct {
	o        ReceiverOptions
	failures *metrics.CounterVec
	received *metrics.CounterVec

	mu        sync.Mutex
	key       *rsa.PublicKey
	fetchedAt time.Time
}

// NewReceiver returns a Receiver and registers its metrics:
// lago_webhook_failures_total{reason} and lago_webhooks_received_total{outcome}.
func NewReceiver(o ReceiverOptions) (*Receiver, error) {
	if o.Dedup == nil {
		o.Dedup = NewMemoryDeduper(7*24*time.Hour, 100_000)
	}
	r := &Receiver{o: o, key: o.PublicKey}
	var err error
	if r.failures, err = o.Metrics.Counter("lago_webhook_failures_total",
		"Lago webhook deliveries refused or not processed, by reason.", "reason"); err != nil {
		return nil, fmt.Errorf("lago webhooks: %w", err)
	}
	if r.received, err = o.Metrics.Counter("lago_webhooks_received_total",
		"Lago webhook deliveries answered 2xx, by outcome (accepted, duplicate, unknown_customer, unknown_type).", "outcome"); err != nil {
		return nil, fmt.Errorf("lago webhooks: %w", err)
	}
	// Every series exists from the start, so rate() and alert rules see 0.
	for _, reason := range Reasons {
		r.failures.WithLabelValues(reason)
	}
	for _, outcome := range Outcomes {
		r.received.WithLabelValues(outcome)
	}
	return r, nil
}

// Receive verifies d, parses it, claims its unique key and hands the
// webhook to deliver, which records it and says whether its customer is
// known (OutcomeAccepted or OutcomeUnknownCustomer). A delivery seen
// before is OutcomeDuplicate and not delivered again. A refused delivery
// is a *WebhookError. Every call is counted.
func (r *Receiver) Receive(ctx context.Context, d Delivery, deliver func(context.Context, Webhook) (string, error)) (string, error) {
	outcome, err := r.receive(ctx, d, deliver)
	var we *WebhookError
	if errors.As(err, &we) {
		r.failures.WithLabelValues(we.Reason).Inc()
		return "", err
	}
	if err != nil {
		r.failures.WithLabelValues(ReasonUnavailable).Inc()
		return "", refuse(http.StatusServiceUnavailable, ReasonUnavailable, "the webhook could not be recorded; send it again", err)
	}
	r.received.WithLabelValues(outcome).Inc()
	return outcome, nil
}

func (r *Receiver) receive(ctx context.Context, d Delivery, deliver func(context.Context, Webhook) (string, error)) (string, error) {
	if err := r.Verify(ctx, d); err != nil {
		return "", err
	}
	if d.UniqueKey == "" || len(d.UniqueKey) > MaxUniqueKey || strings.ContainsFunc(d.UniqueKey, func(c rune) bool { return c <= ' ' || c > '~' }) {
		return "", refuse(http.StatusBadRequest, ReasonMalformed, HeaderUniqueKey+" is missing or not a printable token", nil)
	}
	w, err := ParseWebhook(d.Body)
	if err != nil {
		return "", refuse(http.StatusBadRequest, ReasonMalformed, err.Error(), nil)
	}
	w.UniqueKey = d.UniqueKey
	fresh, err := r.o.Dedup.Claim(ctx, d.UniqueKey)
	if err != nil {
		return "", fmt.Errorf("claim webhook %s: %w", d.UniqueKey, err)
	}
	if !fresh {
		return OutcomeDuplicate, nil
	}
	outcome, err := deliver(ctx, w)
	if err != nil {
		// Forget the key so Lago's next attempt is processed.
		if rerr := r.o.Dedup.Release(context.WithoutCancel(ctx), d.UniqueKey); rerr != nil {
			err = errors.Join(err, fmt.Errorf("release: %w", rerr))
		}
		return "", fmt.Errorf("deliver webhook %s: %w", d.UniqueKey, err)
	}
	if outcome == OutcomeAccepted && !KnownWebhookType(w.Type) {
		outcome = OutcomeUnknownType
	}
	return outcome, nil
}

// Verify checks d's signature against the raw body.
func (r *Receiver) Verify(ctx context.Context, d Delivery) error {
	hasJWT := r.o.PublicKey != nil || r.o.FetchPublicKey != nil
	if len(r.o.HMACKey) == 0 && !hasJWT {
		return refuse(http.StatusServiceUnavailable, ReasonNotConfigured, "Lago webhooks are not configured on this server", nil)
	}
	if d.Signature == "" {
		return refuse(http.StatusUnauthorized, ReasonMissingSignature, HeaderSignature+" is missing", nil)
	}
	algo := d.Algorithm
	if algo == "" {
		algo = AlgorithmJWT // Lago's original and default signature
	}
	switch {
	case algo == AlgorithmHMAC && len(r.o.HMACKey) > 0:
		return r.verifyHMAC(d)
	case algo == AlgorithmJWT && hasJWT:
		return r.verifyJWT(ctx, d)
	}
	return refuse(http.StatusUnauthorized, ReasonUnsupportedAlgorithm, "signature algorithm "+quoteShort(algo)+" is not accepted here", nil)
}

func (r *Receiver) verifyHMAC(d Delivery) error {
	got, err := base64.StdEncoding.DecodeString(d.Signature)
	if err != nil {
		return refuse(http.StatusUnauthorized, ReasonBadSignature, "the signature is not base64", nil)
	}
	mac := hmac.New(sha256.New, r.o.HMACKey)
	mac.Write(d.Body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return refuse(http.StatusUnauthorized, ReasonBadSignature, "the signature does not match the body", nil)
	}
	return nil
}

func (r *Receiver) verifyJWT(ctx context.Context, d Delivery) error {
	key, err := r.publicKey(ctx)
	if err != nil {
		return refuse(http.StatusServiceUnavailable, ReasonKeyUnavailable, "Lago's public key is unavailable", err)
	}
	err = r.checkJWT(key, d)
	if err != nil && errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		// Lago's key may have changed since it was fetched.
		if fresh, ok := r.refreshKey(ctx); ok {
			err = r.checkJWT(fresh, d)
		}
	}
	if err != nil {
		return refuse(http.StatusUnauthorized, ReasonBadSignature, "the signature does not verify", err)
	}
	return nil
}

func (r *Receiver) checkJWT(key *rsa.PublicKey, d Delivery) error {
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"RS256"})}
	if r.o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(r.o.Issuer))
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(d.Signature, claims, func(*jwt.Token) (any, error) { return key, nil }, opts...); err != nil {
		return err
	}
	data, ok := claims["data"].(string)
	if !ok {
		return errors.New("no data claim")
	}
	if subtle.ConstantTimeCompare([]byte(data), d.Body) != 1 {
		return errors.New("the data claim is not the body")
	}
	return nil
}

// publicKey returns the jwt key: the configured one, else the one fetched
// from Lago (fetched now if there is none yet).
func (r *Receiver) publicKey(ctx context.Context) (*rsa.PublicKey, error) {
	if r.o.PublicKey != nil {
		return r.o.PublicKey, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.key != nil {
		return r.key, nil
	}
	if time.Since(r.fetchedAt) < time.Second {
		// A failed fetch is not retried at once: a burst of deliveries
		// while Lago is down must not become a burst of fetches.
		return nil, errors.New("lago public key: the last fetch failed; retrying shortly")
	}
	return r.fetch(ctx)
}

// refreshKey fetches Lago's key again after a signature failed with the
// fetched one, at most once a minute (forged deliveries must not make us
// hammer Lago); ok is false when nothing new was fetched.
func (r *Receiver) refreshKey(ctx context.Context) (*rsa.PublicKey, bool) {
	if r.o.PublicKey != nil {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.fetchedAt) < time.Minute {
		return nil, false
	}
	k, err := r.fetch(ctx)
	return k, err == nil
}

// fetch gets the key from Lago; r.mu is held.
func (r *Receiver) fetch(ctx context.Context) (*rsa.PublicKey, error) {
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	k, err := r.o.FetchPublicKey(fctx)
	r.fetchedAt = time.Now()
	if err != nil {
		return nil, err
	}
	r.key = k
	return k, nil
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// MemoryDeduper keeps claimed keys in memory for a TTL, up to a bound
// (beyond it, the oldest half is forgotten: a very late duplicate may then
// be processed twice, never a new webhook refused).
type MemoryDeduper struct {
	ttl time.Duration
	max int
	mu  sync.Mutex
	m   map[string]time.Time // key → claimed at
}

// NewMemoryDeduper returns a MemoryDeduper.
func NewMemoryDeduper(ttl time.Duration, limit int) *MemoryDeduper {
	if limit < 1 {
		limit = 1
	}
	return &MemoryDeduper{ttl: ttl, max: limit, m: map[string]time.Time{}}
}

// Claim implements Deduper.
func (m *MemoryDeduper) Claim(_ context.Context, key string) (bool, error) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if at, ok := m.m[key]; ok && now.Sub(at) < m.ttl {
		return false, nil
	}
	if len(m.m) >= m.max {
		m.sweep(now)
	}
	m.m[key] = now
	return true, nil
}

// Release implements Deduper.
func (m *MemoryDeduper) Release(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.m, key)
	m.mu.Unlock()
	return nil
}

// sweep drops expired keys, then, if still full, the older half.
func (m *MemoryDeduper) sweep(now time.Time) {
	var times []time.Time
	for k, at := range m.m {
		if now.Sub(at) >= m.ttl {
			delete(m.m, k)
		} else {
			times = append(times, at)
		}
	}
	if len(m.m) < m.max {
		return
	}
	// The median claim time splits old from new.
	median := medianTime(times)
	for k, at := range m.m {
		if !at.After(median) {
			delete(m.m, k)
		}
	}
}

func medianTime(ts []time.Time) time.Time {
	s := slices.Clone(ts)
	slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	return s[len(s)/2]
}

// typeName reports whether t looks like a Lago webhook type
// ("invoice.payment_status_updated"): it becomes part of an audit action,
// including for types this server does not know yet.
func typeName(t string) bool {
	if t == "" || len(t) > 100 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '.' {
			return false
		}
	}
	return true
}
