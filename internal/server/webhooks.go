package server

import (
	"context"
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fast-saas/fast-saas/internal/config"
	"github.com/fast-saas/fast-saas/internal/lago"
	"github.com/fast-saas/fast-saas/internal/metrics"
)

// webhookDedupTTL is how long a Lago webhook's unique key is remembered:
// far beyond Lago's retries (3 attempts within minutes) and manual resends.
const webhookDedupTTL = 7 * 24 * time.Hour

// lagoWebhooks builds the receiver of POST /api/v1/webhooks/lago from the
// configuration: the HMAC key, Lago's public key (configured, or fetched
// from Lago with the API key), and where unique keys are remembered
// (Redis when configured, so replicas share them; memory otherwise). It
// always returns a receiver, so the metrics exist and a delivery to an
// unconfigured server is counted (not_configured).
func lagoWebhooks(cfg config.Config, rdb *redis.Client, reg *metrics.Registry) (*lago.Receiver, error) {
	o := lago.ReceiverOptions{HMACKey: []byte(cfg.LagoWebhookHMACKey), Issuer: cfg.LagoWebhookIssuer, Metrics: reg}
	switch {
	case cfg.LagoWebhookPublicKey != "":
		k, err := lago.ParsePublicKey(cfg.LagoWebhookPublicKey)
		if err != nil {
			return nil, fmt.Errorf("FASTSAAS_LAGO_WEBHOOK_PUBLIC_KEY: %w", err)
		}
		o.PublicKey = k
	case cfg.LagoAPIURL != "":
		client, err := lago.New(lago.Options{BaseURL: cfg.LagoAPIURL, APIKey: cfg.LagoAPIKey})
		if err != nil {
			return nil, err
		}
		o.FetchPublicKey = func(ctx context.Context) (*rsa.PublicKey, error) { return client.WebhookPublicKey(ctx) }
	}
	if rdb != nil {
		o.Dedup = redisDedup{rdb: rdb, prefix: cfg.RedisPrefix + "lago:webhook:"}
	}
	return lago.NewReceiver(o)
}

// redisDedup remembers webhook unique keys in Redis (SET NX with a TTL).
type redisDedup struct {
	rdb    *redis.Client
	prefix string
}

func (d redisDedup) Claim(ctx context.Context, key string) (bool, error) {
	return d.rdb.SetNX(ctx, d.prefix+key, 1, webhookDedupTTL).Result()
}

func (d redisDedup) Release(ctx context.Context, key string) error {
	return d.rdb.Del(ctx, d.prefix+key).Err()
}
