package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Logto is a stand-in for Logto's token side: a JWKS at <URL>/oidc/jwks
// with one EC P-384 key (Logto's default), and a signer of ES384 access
// tokens with issuer <URL>/oidc. serve is pointed at it with
// FASTSAAS_LOGTO_ENDPOINT and FASTSAAS_LOGTO_AUDIENCE.
type Logto struct {
	*httptest.Server
	Audience string
	key      *ecdsa.PrivateKey
}

// NewLogto starts the JWKS endpoint on a loopback port.
func NewLogto(audience string) (*Logto, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ES384 key: %w", err)
	}
	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y, 48 bytes each
	if err != nil {
		return nil, fmt.Errorf("encode ES384 key: %w", err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-384", "kid": "bench", "use": "sig", "alg": "ES384",
		"x": b64(pub[1:49]), "y": b64(pub[49:]),
	}}})
	if err != nil {
		return nil, err
	}
	l := &Logto{Audience: audience, key: key}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oidc/jwks" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	return l, nil
}

// Token signs an access token for subject sub, valid for an hour.
func (l *Logto) Token(sub string) (string, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES384, jwt.MapClaims{
		"iss": l.URL + "/oidc", "aud": l.Audience, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"client_id": "bench", "scope": "",
	})
	tok.Header["kid"] = "bench"
	return tok.SignedString(l.key)
}
