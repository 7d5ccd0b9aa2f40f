package authn

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fast-saas/fast-saas/middleware/apikey"
)

// KeyRecord is what a KeyStore knows about an API key.
type KeyRecord struct {
	ID       string
	Kind     apikey.Kind // must match the key's prefix
	TenantID string      // required for tenant keys
	// Hash is the stored SHA-256 of the key. It must be returned: it is
	// compared in constant time with the hash of the presented key, so a
	// store bug that returns the wrong row cannot authenticate anyone.
	Hash   [32]byte
	Scopes []string
	// ExpiresAt is when the key stops working; zero means never.
	ExpiresAt time.Time
	// Revoked means revoked now. RevokedAt, when set, is when the key stops
	// working; a future RevokedAt is a rotation grace period.
	Revoked   bool
	RevokedAt time.Time
	CreatedBy string // id of the user who created the key
}

// KeyStore looks API keys up by the SHA-256 of the secret. It returns an
// error matching ErrKeyNotFound for an unknown hash; any other error is
// treated as an outage (503).
type KeyStore interface {
	LookupKey(ctx context.Context, hash [32]byte) (KeyRecord, error)
}

// KeyToucher is optionally implemented by a KeyStore to record when a key
// was last used. It is called off the request path, at most once per
// Options.TouchInterval per key.
type KeyToucher interface {
	Touch(ctx context.Context, keyID string, at time.Time) error
}

func (a *Authenticator) verifyKey(ctx context.Context, token string) (*Principal, error) {
	kind, err := apikey.Parse(token)
	if err != nil {
		if errors.Is(err, apikey.ErrBadChecksum) {
			return nil, invalid("api key checksum mismatch", nil)
		}
		return nil, invalid("malformed api key", nil)
	}
	now := a.now()
	h := apikey.Hash(token)
	if p, ok := a.keys.get(h, now); ok {
		a.touchKey(p.KeyID, now)
		return p, nil
	}
	gen := a.keys.generation()
	rec, err := a.store.LookupKey(ctx, h)
	switch {
	case errors.Is(err, ErrKeyNotFound):
		return nil, invalid("unknown api key", nil)
	case err != nil:
		return nil, unavailable("the api key store cannot be reached", err)
	}
	if subtle.ConstantTimeCompare(rec.Hash[:], h[:]) != 1 {
		a.logger.ErrorContext(ctx, "key store returned a record whose hash does not match the presented key", "key_id", rec.ID)
		return nil, invalid("unknown api key", nil)
	}
	if rec.Kind != kind || rec.ID == "" || (kind == apikey.KindTenant && rec.TenantID == "") {
		a.logger.ErrorContext(ctx, "key store returned an inconsistent record", "key_id", rec.ID, "kind", rec.Kind.String())
		return nil, invalid("unknown api key", nil)
	}
	if !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt) {
		return nil, invalid("api key expired", nil)
	}
	if rec.Revoked || (!rec.RevokedAt.IsZero() && !now.Before(rec.RevokedAt)) {
		return nil, invalid("api key revoked", nil)
	}
	p := &Principal{
		Kind:      KindTenantKey,
		Subject:   rec.ID,
		KeyID:     rec.ID,
		TenantID:  rec.TenantID,
		Scopes:    rec.Scopes,
		CreatedBy: rec.CreatedBy,
		ExpiresAt: rec.ExpiresAt,
	}
	if kind == apikey.KindPlatform {
		p.Kind = KindPlatform
		p.TenantID = ""
	}
	if !rec.RevokedAt.IsZero() && (p.ExpiresAt.IsZero() || rec.RevokedAt.Before(p.ExpiresAt)) {
		p.ExpiresAt = rec.RevokedAt
	}
	if a.keyTTL > 0 {
		until := now.Add(a.keyTTL)
		if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(until) {
			until = p.ExpiresAt
		}
		a.keys.put(h, p, until, gen, now)
	}
	a.touchKey(p.KeyID, now)
	return p, nil
}

func (a *Authenticator) touchKey(id string, now time.Time) {
	if a.touch != nil {
		a.touch.maybe(id, now)
	}
}

// Revoke forgets the cached verification of the key with this id, here and
// — with Options.Redis — on every replica. Call it after marking the key
// revoked in the store: the next request with the key reaches the store and
// is refused. A publish error is returned; the local cache is cleared anyway.
func (a *Authenticator) Revoke(ctx context.Context, keyID string) error {
	a.keys.removeID(keyID)
	if a.revoker != nil {
		return a.revoker.publish(ctx, "id:"+keyID)
	}
	return nil
}

// RevokeHash is Revoke for a caller that knows the key's hash, not its id.
func (a *Authenticator) RevokeHash(ctx context.Context, hash [32]byte) error {
	a.keys.removeHash(hash)
	if a.revoker != nil {
		return a.revoker.publish(ctx, "hash:"+hex.EncodeToString(hash[:]))
	}
	return nil
}

// revocationBus carries revocations between replicas over Redis pub/sub.
type revocationBus struct {
	rdb     redis.UniversalClient
	channel string
	cache   *principalCache
	logger  *slog.Logger
	ps      *redis.PubSub
	done    chan struct{}
}

func newRevocationBus(ctx context.Context, rdb redis.UniversalClient, channel string, cache *principalCache, logger *slog.Logger) *revocationBus {
	b := &revocationBus{rdb: rdb, channel: channel, cache: cache, logger: logger, done: make(chan struct{})}
	b.ps = rdb.Subscribe(context.WithoutCancel(ctx), channel)
	// Wait for the subscription so a revocation published right after New
	// returns is not missed. If Redis is down, go-redis keeps retrying.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := b.ps.Receive(wctx); err != nil {
		logger.WarnContext(ctx, "authn: revocation channel not subscribed yet; cached keys expire by TTL meanwhile", "error", err)
	}
	go b.run()
	return b
}

func (b *revocationBus) run() {
	defer close(b.done)
	for msg := range b.ps.ChannelWithSubscriptions() {
		switch m := msg.(type) {
		case *redis.Subscription:
			// A (re)subscription: messages published while we were
			// disconnected are lost, so forget everything cached.
			if m.Kind == "subscribe" {
				b.cache.clear()
			}
		case *redis.Message:
			b.apply(m.Payload)
		}
	}
}

func (b *revocationBus) apply(payload string) {
	switch {
	case strings.HasPrefix(payload, "id:"):
		b.cache.removeID(strings.TrimPrefix(payload, "id:"))
	case strings.HasPrefix(payload, "hash:"):
		var h [32]byte
		raw, err := hex.DecodeString(strings.TrimPrefix(payload, "hash:"))
		if err != nil || len(raw) != len(h) {
			b.cache.clear() // unreadable: be safe
			return
		}
		copy(h[:], raw)
		b.cache.removeHash(h)
	default:
		b.cache.clear()
	}
}

func (b *revocationBus) publish(ctx context.Context, msg string) error {
	if err := b.rdb.Publish(ctx, b.channel, msg).Err(); err != nil {
		return errors.Join(errors.New("authn: publish revocation"), err)
	}
	return nil
}

func (b *revocationBus) close() {
	_ = b.ps.Close()
	<-b.done
}

// toucher records last-use times in the background through a bounded
// queue: the request path never waits for the store, and when the queue is
// full an update is dropped (it is retried on the key's next use).
type toucher struct {
	store    KeyToucher
	interval time.Duration
	logger   *slog.Logger
	last     sync.Map // key id → *atomic.Int64 (unix nanos of the last enqueue)
	queue    chan touchItem
	stop     chan struct{}
	done     chan struct{}
}

type touchItem struct {
	id string
	at time.Time
}

func newToucher(store KeyToucher, interval time.Duration, logger *slog.Logger) *toucher {
	t := &toucher{store: store, interval: interval, logger: logger,
		queue: make(chan touchItem, 1024), stop: make(chan struct{}), done: make(chan struct{})}
	go t.run()
	return t
}

func (t *toucher) maybe(id string, now time.Time) {
	n := now.UnixNano()
	v, ok := t.last.Load(id)
	if !ok {
		v, _ = t.last.LoadOrStore(id, new(atomic.Int64))
	}
	last := v.(*atomic.Int64)
	prev := last.Load()
	if prev != 0 && n-prev < int64(t.interval) {
		return
	}
	if !last.CompareAndSwap(prev, n) {
		return // another request just took this turn
	}
	select {
	case t.queue <- touchItem{id: id, at: now}:
	default:
		last.CompareAndSwap(n, prev) // dropped: let the next use retry
	}
}

func (t *toucher) run() {
	defer close(t.done)
	prune := time.NewTicker(10 * time.Minute)
	defer prune.Stop()
	for {
		select {
		case it := <-t.queue:
			t.write(context.Background(), it)
		case <-prune.C:
			cutoff := time.Now().Add(-2 * t.interval).UnixNano()
			t.last.Range(func(k, v any) bool {
				if v.(*atomic.Int64).Load() < cutoff {
					t.last.Delete(k)
				}
				return true
			})
		case <-t.stop:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for {
				select {
				case it := <-t.queue:
					if ctx.Err() == nil {
						t.write(ctx, it)
					}
				default:
					return
				}
			}
		}
	}
}

func (t *toucher) write(ctx context.Context, it touchItem) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := t.store.Touch(ctx, it.id, it.at); err != nil {
		t.logger.WarnContext(ctx, "authn: record api key last use", "key_id", it.id, "error", err)
	}
}

func (t *toucher) close() {
	close(t.stop)
	<-t.done
}
