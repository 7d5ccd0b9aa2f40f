package lagofake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/fast-saas/fast-saas/internal/lago"
)

// webhookKeys are the fake's signing keys, made on first use (an RSA key
// takes a moment, and most tests never need one).
type webhookKeys struct {
	once    sync.Once
	err     error
	private *rsa.PrivateKey
	hmacKey string
	issuer  string
}

func (k *webhookKeys) init() error {
	k.once.Do(func() {
		k.private, k.err = rsa.GenerateKey(rand.Reader, 2048)
		// Lago's organization HMAC keys are random tokens.
		k.hmacKey = "hmac-" + uuid.NewString()
	})
	return k.err
}

// HMACKey is the organization's HMAC key (what the Lago UI shows under
// Developers > Webhooks).
func (s *Server) HMACKey() string {
	if err := s.init(); err != nil {
		panic(err)
	}
	return s.hmacKey
}

// PublicKeyPEM is Lago's RSA public key as PEM (SubjectPublicKeyInfo,
// "-----BEGIN PUBLIC KEY-----"), what Ruby's OpenSSL writes.
func (s *Server) PublicKeyPEM() string {
	if err := s.init(); err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&s.private.PublicKey)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Issuer is the iss of the fake's jwt signatures.
func (s *Server) Issuer() string { return s.issuer }

// encodedPublicKey is what Lago answers: Ruby's Base64.encode64 of the
// PEM, i.e. MIME base64 with a line feed after every 60 characters and at
// the end.
func (s *Server) encodedPublicKey() string {
	enc := base64.StdEncoding.EncodeToString([]byte(s.PublicKeyPEM()))
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60] + "\n")
		enc = enc[60:]
	}
	b.WriteString(enc + "\n")
	return b.String()
}

func (s *Server) publicKey(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(s.encodedPublicKey()))
}

func (s *Server) jsonPublicKey(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"webhook": map[string]any{"public_key": s.encodedPublicKey()}})
}

// Webhook is one delivery as Lago sends it: the JSON body and the headers
// (Content-Type, X-Lago-Signature, X-Lago-Signature-Algorithm,
// X-Lago-Unique-Key). Lago's retries send the very same delivery again.
type Webhook struct {
	Body   []byte
	Header http.Header
}

// NewWebhook builds a delivery of webhookType about object (serialized
// under the objectType key), signed with algorithm lago.AlgorithmJWT or
// lago.AlgorithmHMAC, with a fresh unique key.
func (s *Server) NewWebhook(webhookType, objectType string, object any, algorithm string) (Webhook, error) {
	if err := s.init(); err != nil {
		return Webhook{}, err
	}
	// Ruby's to_json: compact, and "<", ">", "&" are not escaped.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"webhook_type": webhookType, "object_type": objectType, objectType: object}); err != nil {
		return Webhook{}, err
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	var sig string
	switch algorithm {
	case lago.AlgorithmJWT:
		// JWT.encode({data:, iss:}, key, "RS256"): the header is {"alg":"RS256"} only.
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"data": string(body), "iss": s.issuer})
		delete(tok.Header, "typ")
		var err error
		if sig, err = tok.SignedString(s.private); err != nil {
			return Webhook{}, err
		}
	case lago.AlgorithmHMAC:
		sig = SignHMAC([]byte(s.hmacKey), body)
	default:
		return Webhook{}, fmt.Errorf("lagofake: unknown signature algorithm %q", algorithm)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(lago.HeaderSignature, sig)
	h.Set(lago.HeaderAlgorithm, algorithm)
	h.Set(lago.HeaderUniqueKey, uuid.NewString())
	return Webhook{Body: body, Header: h}, nil
}

// SignHMAC is Lago's hmac signature of body: base64 (standard, padded) of
// HMAC-SHA256 with the organization's HMAC key.
func SignHMAC(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Send posts the delivery to url and returns the answer's status.
func (w Webhook) Send(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(w.Body))
	if err != nil {
		return 0, err
	}
	req.Header = w.Header.Clone()
	req.Header.Set("User-Agent", "Lago")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}
