// Package server is the composition root of `fast-saas serve`: from a
// config.Config it opens the store, builds the core service, the REST API,
// metrics and error reporting, and runs the HTTP server with graceful
// shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/redis/go-redis/v9"

	"github.com/fast-saas/fast-saas/internal/ai"
	"github.com/fast-saas/fast-saas/internal/api"
	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/config"
	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/metrics"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/middleware/apikey"
	"github.com/fast-saas/fast-saas/middleware/authn"
	"github.com/fast-saas/fast-saas/middleware/entitlements"
)

// Server is a composed fast-saas API server.
type Server struct {
	Config  config.Config
	Store   store.Store
	Service *core.Service
	Handler *api.Handler
	Logger  *slog.Logger
	Plans   *entitlements.Plans
	Authn   *authn.Authenticator

	redis  *redis.Client
	sentry bool
	pipe   *pipeline
	gauges *tenantGauges
	logs   *logBuffer
}

// New opens the store (running migrations) and composes the API. Its log
// lines go to logOut in chunks (see logBuffer); Close writes out the rest.
func New(ctx context.Context, cfg config.Config, logOut io.Writer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logs := newLogBuffer(logOut)
	s, err := compose(ctx, cfg, logs)
	if err != nil {
		_ = logs.Flush() // what it logged before failing
		return nil, err
	}
	return s, nil
}

func compose(ctx context.Context, cfg config.Config, logs *logBuffer) (*Server, error) {
	logger := slog.New(flushingHandler{slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: cfg.LogLevel}), logs})
	plans, err := loadPlans(cfg.PlansFile)
	if err != nil {
		return nil, fmt.Errorf("FASTSAAS_PLANS_FILE: %w", err)
	}
	st, err := openStore(ctx, cfg, planIDs(plans))
	if err != nil {
		return nil, err
	}
	s := &Server{Config: cfg, Store: st, Logger: logger, Plans: plans, logs: logs}
	checks := []core.Check{{Name: "store", Fn: st.Ping}}
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		// Short timeouts: a dead Redis must fail fast, not hang requests.
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
		s.redis = redis.NewClient(opts)
		checks = append(checks, core.Check{Name: "redis", Fn: func(ctx context.Context) error { return s.redis.Ping(ctx).Err() }})
	}
	s.Authn, err = authn.New(ctx, authn.Options{LogtoEndpoint: cfg.LogtoEndpoint, Audience: cfg.LogtoAudience,
		Keys: &api.StoreKeys{Store: st}, Redis: redisOrNil(s.redis), RevocationChannel: cfg.RedisPrefix + "authn:revocations", Logger: logger})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("authentication: %w", err)
	}
	s.Service = &core.Service{Store: st, Plans: planTable{plans}, Lago: cfg.LagoAPIURL != "", Modules: catalogModules{catalog.Default()},
		KeyRevoked: func(hash []byte) {
			// Drop the key from every replica's cache now, not after its TTL.
			if len(hash) == 32 {
				if err := s.Authn.RevokeHash(context.Background(), [32]byte(hash)); err != nil {
					logger.Warn("propagate key revocation", slog.String("error", err.Error()))
				}
			}
		}}
	if s.Service.AI, err = ai.NewClients(ai.Endpoints{OllamaURL: cfg.OllamaURL, LangflowURL: cfg.LangflowURL, LangflowAPIKey: cfg.LangflowAPIKey,
		LangfuseURL: cfg.LangfuseURL, AgentURL: cfg.AgentURL, AgentKey: cfg.AgentKey}, ai.Options{}); err != nil {
		s.Close()
		return nil, err
	}
	auth := &api.Authenticator{Verifier: s.Authn, Service: s.Service}

	var report api.Reporter
	if cfg.SentryDSN != "" {
		if err := sentry.Init(sentry.ClientOptions{Dsn: cfg.SentryDSN, Release: "fast-saas"}); err != nil {
			s.Close()
			return nil, fmt.Errorf("FASTSAAS_SENTRY_DSN: %w", err)
		}
		s.sentry = true
		report = func(ctx context.Context, err error) {
			hub := sentry.CurrentHub().Clone()
			hub.Scope().SetTag("request_id", api.RequestIDFrom(ctx))
			hub.CaptureException(err)
		}
	}
	reg := metrics.NewRegistry()
	if err := reg.RegisterRuntime(); err != nil {
		s.Close()
		return nil, err
	}
	if s.pipe, err = s.buildPipeline(ctx, reg); err != nil {
		s.Close()
		return nil, err
	}
	checks = append(checks, pipelineCheck(st, s.redis, cfg.RedisPrefix, cfg.LagoAPIURL != ""))
	s.Service.Ready = checks
	if s.Service.LagoWebhooks, err = lagoWebhooks(cfg, s.redis, reg); err != nil {
		s.Close()
		return nil, err
	}
	if s.gauges, err = newTenantGauges(reg, s.Service, st, logger); err != nil {
		s.Close()
		return nil, err
	}
	mounts, err := s.mcpMounts(logger)
	if err != nil {
		s.Close()
		return nil, err
	}
	h, err := api.New(api.Options{Service: s.Service, Auth: auth, Logger: logger, Registry: reg, Report: report,
		MaxBodyBytes: cfg.MaxBodyBytes, CORSOrigins: cfg.CORSOrigins, Version: "dev", Traffic: s.pipe.traffic, Mounts: mounts})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Handler = h
	return s, nil
}

// EnsurePlatformKey creates a platform key when none exists yet and
// returns its secret (shown to the operator once, never logged); it
// returns "" when a key already exists.
func (s *Server) EnsurePlatformKey(ctx context.Context) (string, error) {
	keys, _, err := s.Store.ListPlatformKeys(ctx, store.Page{Limit: 1})
	if err != nil {
		return "", fmt.Errorf("list platform keys: %w", err)
	}
	if len(keys) > 0 {
		return "", nil
	}
	return CreatePlatformKey(ctx, s.Store, "initial")
}

// CreatePlatformKey mints a platform admin key and returns its secret.
func CreatePlatformKey(ctx context.Context, st store.Store, name string) (string, error) {
	k, err := apikey.Generate(apikey.KindPlatform)
	if err != nil {
		return "", err
	}
	if _, err := st.CreatePlatformKey(ctx, store.PlatformKey{Name: name, Prefix: k.Display, Hash: k.Hash[:]}); err != nil {
		return "", fmt.Errorf("create platform key: %w", err)
	}
	return k.Secret, nil
}

// Serve answers on ln until ctx ends, then shuts down gracefully: stop
// accepting, let in-flight requests finish (bounded by ShutdownTimeout).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      120 * time.Second, // AI proxies may stream for a while
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	s.pipe.run(wctx, s.Logger)
	go s.gauges.run(wctx, 30*time.Second)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Logger.Info("shutting down", slog.Duration("timeout", s.Config.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		err = fmt.Errorf("shutdown: %w", err)
	} else {
		err = nil
	}
	// In-flight requests are done: flush their usage before stopping the
	// workers, so nothing recorded is lost on a graceful stop.
	if ferr := s.pipe.close(sctx); ferr != nil {
		err = errors.Join(err, fmt.Errorf("flush usage: %w", ferr))
	}
	stopWorkers()
	s.pipe.workers.Wait()
	return err
}

// Close releases the store, Redis and flushes error reports.
func (s *Server) Close() error {
	var errs []error
	if s.pipe != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, s.pipe.close(ctx))
		cancel()
	}
	if s.Authn != nil {
		errs = append(errs, s.Authn.Close())
	}
	if s.redis != nil {
		errs = append(errs, s.redis.Close())
	}
	if s.Store != nil {
		errs = append(errs, s.Store.Close())
	}
	if s.sentry {
		sentry.Flush(2 * time.Second)
	}
	errs = append(errs, s.logs.Flush())
	return errors.Join(errs...)
}

// redisOrNil avoids handing a typed nil *redis.Client to an interface.
func redisOrNil(c *redis.Client) redis.UniversalClient {
	if c == nil {
		return nil
	}
	return c
}
