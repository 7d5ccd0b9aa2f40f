package lago_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/lago"
	"github.com/fast-saas/fast-saas/internal/lago/lagofake"
)

func TestWebhookPublicKeyFromLago(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{})
	t.Cleanup(fake.Close)
	got, err := newClient(t, fake, fake.APIKey()).WebhookPublicKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want, err := lago.ParsePublicKey(fake.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Error("the fetched key is not the fake's key")
	}
	// Lago asks for the API key here too.
	if _, err := newClient(t, fake, "wrong").WebhookPublicKey(context.Background()); err == nil {
		t.Error("a wrong API key fetched the public key")
	}
}

func TestParsePublicKey(t *testing.T) {
	t.Parallel()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pkix, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pemPKIX := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}))
	pemPKCS1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)}))
	b64 := base64.StdEncoding.EncodeToString([]byte(pemPKIX))
	mime := ""
	for s := b64; s != ""; {
		n := min(60, len(s))
		mime += s[:n] + "\n"
		s = s[n:]
	}
	for name, in := range map[string]string{"pem": pemPKIX, "pkcs1": pemPKCS1, "base64": b64, "base64 with line feeds": mime, "padded": "\n  " + pemPKIX + "\n"} {
		got, err := lago.ParsePublicKey(in)
		if err != nil || !got.Equal(&k.PublicKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, in := range map[string]string{"empty": "", "garbage": "not a key", "private key block": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"base64 of garbage": base64.StdEncoding.EncodeToString([]byte("hello"))} {
		if _, err := lago.ParsePublicKey(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseWebhookCustomer(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{`{"webhook_type":"customer.created","object_type":"customer","customer":{"external_id":"c1","lago_id":"l1"}}`, "c1"},
		{`{"webhook_type":"subscription.started","object_type":"subscription","subscription":{"external_id":"s1","external_customer_id":"c2"}}`, "c2"},
		{`{"webhook_type":"invoice.created","object_type":"invoice","invoice":{"customer":{"external_id":"c3"}}}`, "c3"},
		{`{"webhook_type":"event.error","object_type":"event_error","event_error":{"external_subscription_id":"s4"}}`, "s4"},
		{`{"webhook_type":"plan.created","object_type":"plan","plan":{"code":"pro"}}`, ""},
	}
	for _, tt := range tests {
		w, err := lago.ParseWebhook([]byte(tt.body))
		if err != nil || w.ExternalCustomerID != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.body, w.ExternalCustomerID, err, tt.want)
		}
	}
	for _, bad := range []string{``, `null`, `[]`, `{}`, `{"webhook_type":"invoice.created"}`, `{"webhook_type":1,"object_type":"invoice","invoice":{}}`,
		`{"webhook_type":"invoice.created","object_type":"invoice"}`, `{"webhook_type":"invoice.created","object_type":"invoice","invoice":[1]}`} {
		if _, err := lago.ParseWebhook([]byte(bad)); err == nil {
			t.Errorf("%q: parsed", bad)
		}
	}
}

// TestPublicKeyFetchFailure: Lago down means 503 key_unavailable (Lago
// sends again later), fetches are throttled, and the key is fetched once
// Lago is back.
func TestPublicKeyFetchFailure(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{})
	t.Cleanup(fake.Close)
	client := newClient(t, fake, fake.APIKey())
	var fetches atomic.Int32
	r, err := lago.NewReceiver(lago.ReceiverOptions{FetchPublicKey: func(ctx context.Context) (*rsa.PublicKey, error) {
		fetches.Add(1)
		return client.WebhookPublicKey(ctx)
	}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := fake.NewWebhook("invoice.created", "invoice", map[string]any{"lago_id": "i1"}, lago.AlgorithmJWT)
	if err != nil {
		t.Fatal(err)
	}
	d := lago.Delivery{Signature: w.Header.Get(lago.HeaderSignature), Algorithm: lago.AlgorithmJWT, UniqueKey: "k1", Body: w.Body}
	fake.SetMode(lagofake.Unavailable)
	for range 3 {
		err := r.Verify(context.Background(), d)
		var we *lago.WebhookError
		if !errors.As(err, &we) || we.Reason != lago.ReasonKeyUnavailable || we.Status != 503 {
			t.Fatalf("Lago down: %v, want 503 key_unavailable", err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches in a burst while Lago is down, want 1", n)
	}
}

func TestMemoryDeduper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := lago.NewMemoryDeduper(time.Hour, 4)
	for i := range 10 {
		if fresh, _ := d.Claim(ctx, strings.Repeat("k", i+1)); !fresh {
			t.Fatalf("new key %d refused", i)
		}
	}
	// Beyond the bound old keys were forgotten; the latest is still known.
	if fresh, _ := d.Claim(ctx, strings.Repeat("k", 10)); fresh {
		t.Error("the latest key was forgotten")
	}
	if err := d.Release(ctx, strings.Repeat("k", 10)); err != nil {
		t.Fatal(err)
	}
	if fresh, _ := d.Claim(ctx, strings.Repeat("k", 10)); !fresh {
		t.Error("a released key is still claimed")
	}
}

// FuzzReceiveWebhook feeds arbitrary deliveries to a receiver that holds
// both keys: nothing panics, every refusal is one of the fixed reasons
// with a 4xx/503 status, and whatever is accepted carries a valid
// signature over exactly its body and a type name (an unknown one counted
// as such).
func FuzzReceiveWebhook(f *testing.F) {
	fake := lagofake.New(lagofake.Options{})
	f.Cleanup(fake.Close)
	pub, err := lago.ParsePublicKey(fake.PublicKeyPEM())
	if err != nil {
		f.Fatal(err)
	}
	hmacKey := []byte(fake.HMACKey())
	for _, algo := range []string{lago.AlgorithmJWT, lago.AlgorithmHMAC} {
		w, err := fake.NewWebhook("invoice.created", "invoice", map[string]any{"lago_id": "i1", "customer": map[string]any{"external_id": "c1"}}, algo)
		if err != nil {
			f.Fatal(err)
		}
		sig := w.Header.Get(lago.HeaderSignature)
		f.Add(algo, sig, "key-1", w.Body)
		f.Add(algo, sig, "key-1", append(w.Body[:len(w.Body)-1:len(w.Body)-1], ' ', '}'))
		f.Add("", sig, "", w.Body)
	}
	f.Add(lago.AlgorithmHMAC, lagofake.SignHMAC(hmacKey, []byte(`{"webhook_type":"x"}`)), "k", []byte(`{"webhook_type":"x"}`))
	f.Add(lago.AlgorithmJWT, "a.b.c", "k", []byte(`{}`))
	f.Add(lago.AlgorithmJWT, "eyJhbGciOiJub25lIn0.eyJkYXRhIjoie30ifQ.", "k", []byte(`{}`)) // alg none
	f.Fuzz(func(t *testing.T, algo, sig, key string, body []byte) {
		r, err := lago.NewReceiver(lago.ReceiverOptions{HMACKey: hmacKey, PublicKey: pub})
		if err != nil {
			t.Fatal(err)
		}
		var delivered *lago.Webhook
		outcome, err := r.Receive(context.Background(), lago.Delivery{Signature: sig, Algorithm: algo, UniqueKey: key, Body: body},
			func(_ context.Context, w lago.Webhook) (string, error) {
				delivered = &w
				return lago.OutcomeAccepted, nil
			})
		if err != nil {
			var we *lago.WebhookError
			if !errors.As(err, &we) || !slices.Contains(lago.Reasons, we.Reason) || (we.Status < 400 || we.Status >= 500) && we.Status != 503 {
				t.Fatalf("refusal %v is not a known reason with a 4xx/503 status", err)
			}
			if delivered != nil {
				t.Fatal("a refused delivery was delivered")
			}
			return
		}
		if delivered == nil {
			t.Fatalf("outcome %q, but nothing delivered", outcome)
		}
		want := lago.OutcomeAccepted
		if !lago.KnownWebhookType(delivered.Type) {
			want = lago.OutcomeUnknownType // recorded, and counted apart
		}
		if outcome != want {
			t.Fatalf("type %q: outcome %q, want %q", delivered.Type, outcome, want)
		}
		if strings.Trim(delivered.Type, "abcdefghijklmnopqrstuvwxyz0123456789_.") != "" {
			t.Fatalf("delivered a webhook_type %q that is not a type name", delivered.Type)
		}
		// The accepted signature binds exactly this body: one byte more
		// and it is refused.
		err = r.Verify(context.Background(), lago.Delivery{Signature: sig, Algorithm: algo, Body: append(slices.Clip(body), ' ')})
		var we *lago.WebhookError
		if !errors.As(err, &we) || we.Reason != lago.ReasonBadSignature {
			t.Fatalf("signature %q accepted for %q verifies another body too: %v", sig, body, err)
		}
		if algo == lago.AlgorithmHMAC && !sameBase64(sig, lagofake.SignHMAC(hmacKey, body)) {
			t.Fatalf("accepted hmac %q for a body it does not sign", sig)
		}
	})
}

// sameBase64 compares two base64 strings by the bytes they encode.
func sameBase64(a, b string) bool {
	x, err1 := base64.StdEncoding.DecodeString(a)
	y, err2 := base64.StdEncoding.DecodeString(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
