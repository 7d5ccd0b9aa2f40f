// Package faults counts usage events end to end through the running system
// while it is being broken: `fast-saas serve` killed with SIGKILL and
// restarted, its Redis crashed and restarted, its Postgres stopped, and the
// (fake) Lago unreachable. Producers retry every failed batch with the same
// transaction ids, as the API's idempotency allows; at the end every event
// must be stored exactly once and delivered to Lago exactly once.
//
// Run is shared by bench/cmd/faults (`make bench-faults`, one million events)
// and the CI smoke test of this package (twenty thousand events, one kill).
package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fast-saas/fast-saas/bench/internal/harness"
	"github.com/fast-saas/fast-saas/internal/lago/lagofake"
)

// Metric is the metric (and Lago billable metric code) of counted events.
const Metric = "fault_events"

// Options describe a run. Binary, Dir and one Postgres source are required.
type Options struct {
	Binary string // the fast-saas binary (harness.Build)
	Dir    string // scratch directory (serve's data, Redis AOF, Postgres cluster)

	// OwnPostgres starts a dedicated cluster in Dir (needed to stop
	// Postgres); otherwise PostgresURL is a database the run may fill.
	OwnPostgres bool
	PostgresURL string

	Events  int // total events; default 1,000,000
	Batch   int // events per ingest request; default 1000
	Tenants int // tenants the events are spread over; default 10
	Workers int // concurrent producers; default 8

	Kills        int           // SIGKILLs of serve during ingest; default 3 (negative: none)
	RedisRestart bool          // crash (SIGKILL) and restart Redis mid-run
	PostgresStop time.Duration // how long Postgres is stopped mid-run; 0 = not stopped (needs OwnPostgres)
	LagoDown     time.Duration // how long the fake Lago refuses connections; 0 = never

	// DrainTimeout bounds the wait for the Lago backlog after ingest ends.
	DrainTimeout time.Duration // default 6 min
	Progress     io.Writer     // progress lines; nil = discarded
}

// Report is what a run observed.
type Report struct {
	Events                         int
	Stored, StoreLost, StoreDup    int
	StoreWrongTenant, StoreForeign int
	Lago, LagoLost, LagoDup        int
	LagoWrongTenant, LagoForeign   int
	LagoResendsRefused             int // re-sends Lago refused as already stored (at-least-once hops)
	Accepted, DuplicatesAnswered   int // from the 202 answers
	Attempts, Retries              int
	IngestTime, DrainTime          time.Duration
	Faults                         []FaultRecord
	OutboxPending, OutboxFailed    int
	// The store's daily totals (usage_daily), per tenant against the
	// events sent to it: each must count every stored event once.
	Daily, DailyLost, DailyDup, DailyForeign int
}

// FaultRecord is one injected fault, when it happened and how long until
// the broken part was back.
type FaultRecord struct {
	What      string
	At        time.Duration // since ingest start
	Recovered time.Duration // until the component answered again
}

// OK reports whether every event was stored and forwarded exactly once.
func (r Report) OK() bool {
	return r.Stored == r.Events && r.StoreLost == 0 && r.StoreDup == 0 && r.StoreWrongTenant == 0 && r.StoreForeign == 0 &&
		r.Lago == r.Events && r.LagoLost == 0 && r.LagoDup == 0 && r.LagoWrongTenant == 0 && r.LagoForeign == 0 &&
		r.Daily == r.Events && r.DailyLost == 0 && r.DailyDup == 0 && r.DailyForeign == 0
}

// Print writes the report's tables.
func (r Report) Print(w io.Writer) {
	t := harness.Table{Header: []string{"fault", "at", "back after"}}
	for _, f := range r.Faults {
		t.Add(f.What, f.At.Round(100*time.Millisecond).String(), f.Recovered.Round(100*time.Millisecond).String())
	}
	t.Print(w)
	fmt.Fprintf(w, "\ningest: %d events in %s (%.0f events/s including outages), %d requests, %d retried; answers: %d accepted + %d duplicates\n",
		r.Events, r.IngestTime.Round(time.Millisecond), float64(r.Events)/r.IngestTime.Seconds(), r.Attempts, r.Retries, r.Accepted, r.DuplicatesAnswered)
	fmt.Fprintf(w, "lago drain after ingest: %s; re-sends Lago refused as already stored: %d; outbox left pending %d, failed %d\n\n",
		r.DrainTime.Round(time.Millisecond), r.LagoResendsRefused, r.OutboxPending, r.OutboxFailed)
	c := harness.Table{Header: []string{"where", "expected", "counted", "lost", "duplicated", "wrong tenant", "unknown ids", "verdict"}}
	verdict := func(lost, dup, wrong, foreign, n int) string {
		switch {
		case lost+dup+wrong+foreign == 0 && n == r.Events:
			return "exactly once"
		case dup+wrong+foreign == 0 && lost > 0 && lost <= r.OutboxPending:
			return "FAIL (behind: still pending in the outbox)"
		}
		return "FAIL"
	}
	c.Add("store (usage_events)", strconv.Itoa(r.Events), strconv.Itoa(r.Stored), strconv.Itoa(r.StoreLost), strconv.Itoa(r.StoreDup),
		strconv.Itoa(r.StoreWrongTenant), strconv.Itoa(r.StoreForeign), verdict(r.StoreLost, r.StoreDup, r.StoreWrongTenant, r.StoreForeign, r.Stored))
	c.Add("store (usage_daily totals)", strconv.Itoa(r.Events), strconv.Itoa(r.Daily), strconv.Itoa(r.DailyLost), strconv.Itoa(r.DailyDup),
		"n/a", strconv.Itoa(r.DailyForeign), verdict(r.DailyLost, r.DailyDup, 0, r.DailyForeign, r.Daily))
	c.Add("fake Lago (events)", strconv.Itoa(r.Events), strconv.Itoa(r.Lago), strconv.Itoa(r.LagoLost), strconv.Itoa(r.LagoDup),
		strconv.Itoa(r.LagoWrongTenant), strconv.Itoa(r.LagoForeign), verdict(r.LagoLost, r.LagoDup, r.LagoWrongTenant, r.LagoForeign, r.Lago))
	c.Print(w)
}

func (o *Options) defaults() {
	if o.Events <= 0 {
		o.Events = 1_000_000
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.Tenants <= 0 {
		o.Tenants = 10
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Kills == 0 {
		o.Kills = 3
	}
	if o.Kills < 0 {
		o.Kills = 0
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 6 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	// Progress is written from the producers' side, the fault injector and
	// timers (Lago coming back): serialize, the caller's writer need not be
	// safe for concurrent use (a strings.Builder in the smoke test was not).
	o.Progress = &syncWriter{w: o.Progress}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// system is the running system under test.
type system struct {
	o     Options
	pg    *harness.Postgres
	dbURL string
	rdb   *harness.Redis
	lago  *lagofake.Server
	serve *harness.Serve
	start time.Time

	mu     sync.Mutex
	faults []FaultRecord
}

// Run sets the system up, ingests while injecting faults, waits for Lago to
// catch up and counts. The error is about the harness; lost or duplicated
// events are in the Report (see Report.OK).
func Run(ctx context.Context, o Options) (rep Report, err error) {
	o.defaults()
	if o.PostgresStop > 0 && !o.OwnPostgres {
		return rep, errors.New("stopping Postgres needs a dedicated cluster (OwnPostgres)")
	}
	s := &system{o: o}
	defer func() { err = errors.Join(err, s.close()) }()
	if err := s.setUp(ctx); err != nil {
		return rep, err
	}
	tenants, err := harness.Seed(ctx, harness.API{Base: s.serve.Base, Token: s.serve.PlatformKey}, harness.SeedOptions{
		Count: o.Tenants, Prefix: "fault", Plan: "pro", Scopes: []string{"usage:write"}, RatePerMinute: -1, CallsPerMonth: -1})
	if err != nil {
		return rep, err
	}
	rep.Events = o.Events

	var acked atomic.Int64
	s.start = time.Now()
	faultsDone := make(chan error, 1)
	fctx, stopFaults := context.WithCancel(ctx)
	defer stopFaults()
	go func() { faultsDone <- s.injectFaults(fctx, &acked) }()

	prod := s.produce(ctx, tenants, &acked)
	rep.IngestTime = time.Since(s.start)
	rep.Accepted, rep.DuplicatesAnswered, rep.Attempts, rep.Retries = prod.accepted, prod.duplicates, prod.attempts, prod.retries
	if prod.err != nil {
		stopFaults()
		<-faultsDone
		return rep, prod.err
	}
	fmt.Fprintf(o.Progress, "ingest done: %d events acknowledged in %s\n", o.Events, rep.IngestTime.Round(time.Millisecond))
	// Let the remaining scheduled faults finish (Lago comes back up).
	if err := <-faultsDone; err != nil {
		return rep, err
	}
	drainStart := time.Now()
	if err := s.drain(ctx); err != nil {
		fmt.Fprintf(o.Progress, "drain: %v\n", err)
	}
	rep.DrainTime = time.Since(drainStart)
	s.mu.Lock()
	rep.Faults = append([]FaultRecord(nil), s.faults...)
	s.mu.Unlock()
	if err := s.count(ctx, tenants, &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

func (s *system) setUp(ctx context.Context) error {
	o := s.o
	if o.OwnPostgres {
		dir := filepath.Join(o.Dir, "pg")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		pg, err := harness.StartPostgres(ctx, dir)
		if err != nil {
			return err
		}
		s.pg = pg
		url, _, err := harness.CreateDatabase(ctx, pg.URL("postgres"), "fastsaas_faults")
		if err != nil {
			return err
		}
		s.dbURL = url
	} else {
		s.dbURL = o.PostgresURL
	}
	rdir := filepath.Join(o.Dir, "redis")
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return err
	}
	// appendfsync always: the usage stream and rate-limit state live in
	// Redis, and this run crashes Redis with SIGKILL; with everysec up to a
	// second of acknowledged writes could vanish. fsync per write costs
	// little on this volume of writes.
	rdb, err := harness.StartRedis(ctx, harness.RedisOptions{Dir: rdir, AppendFsync: "always"})
	if err != nil {
		return err
	}
	s.rdb = rdb
	s.lago = lagofake.New(lagofake.Options{})
	logFile, err := os.Create(filepath.Join(o.Dir, "serve.log"))
	if err != nil {
		return err
	}
	serveDir := filepath.Join(o.Dir, "serve")
	if err := os.MkdirAll(serveDir, 0o700); err != nil {
		return err
	}
	s.serve, err = harness.StartServe(ctx, harness.ServeOptions{Binary: o.Binary, DataDir: serveDir, Log: logFile, Env: []string{
		"DATABASE_URL=" + s.dbURL, "REDIS_URL=" + rdb.URL,
		"FASTSAAS_LAGO_API_URL=" + s.lago.URL, "FASTSAAS_LAGO_API_KEY=" + s.lago.APIKey(),
		"FASTSAAS_IP_RATE_LIMIT=-1", "FASTSAAS_LOGTO_ENDPOINT=", "FASTSAAS_SENTRY_DSN=",
	}})
	if err != nil {
		return fmt.Errorf("%w (serve log: %s)", err, logFile.Name())
	}
	if s.serve.PlatformKey == "" {
		return errors.New("serve printed no platform key")
	}
	return nil
}

func (s *system) close() error {
	var errs []error
	if s.serve != nil {
		errs = append(errs, s.serve.Stop())
	}
	if s.lago != nil {
		s.lago.Close()
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Kill())
	}
	if s.pg != nil {
		errs = append(errs, s.pg.Remove(context.Background()))
	}
	return errors.Join(errs...)
}

func (s *system) record(what string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, FaultRecord{What: what, At: at.Sub(s.start), Recovered: time.Since(at)})
	fmt.Fprintf(s.o.Progress, "fault: %s at %s, back after %s\n", what, at.Sub(s.start).Round(100*time.Millisecond), time.Since(at).Round(100*time.Millisecond))
}

// step is a fault fired once the given fraction of events is acknowledged.
type step struct {
	at   float64
	name string
	do   func(ctx context.Context) error
}

// injectFaults fires the steps in order as ingest progresses. The steps
// run one at a time, so the API is never killed while Postgres is down
// (serve could not start then: it migrates at start).
func (s *system) injectFaults(ctx context.Context, acked *atomic.Int64) error {
	o := s.o
	var steps []step
	lagoUp := make(chan struct{})
	if o.LagoDown > 0 {
		steps = append(steps, step{0.02, "lago down", func(context.Context) error {
			at := time.Now()
			s.lago.SetMode(lagofake.Refuse)
			time.AfterFunc(o.LagoDown, func() {
				s.lago.SetMode(lagofake.Up)
				s.record(fmt.Sprintf("fake Lago refusing connections for %s", o.LagoDown), at)
				close(lagoUp)
			})
			return nil
		}})
	} else {
		close(lagoUp)
	}
	// Spread the kills over the run, between the other faults.
	for i := range o.Kills {
		n := i + 1
		steps = append(steps, step{float64(i+1) / float64(o.Kills+1), "kill", func(ctx context.Context) error {
			at := time.Now()
			if err := s.serve.Kill(); err != nil {
				return err
			}
			if err := s.serve.Start(ctx); err != nil {
				return fmt.Errorf("restart serve after SIGKILL %d: %w", n, err)
			}
			s.record(fmt.Sprintf("serve SIGKILL #%d + restart", n), at)
			return nil
		}})
	}
	if o.RedisRestart {
		steps = append(steps, step{0.3, "redis", func(ctx context.Context) error {
			at := time.Now()
			if err := s.rdb.Kill(); err != nil {
				return err
			}
			time.Sleep(time.Second)
			if err := s.rdb.Start(ctx); err != nil {
				return fmt.Errorf("restart redis: %w", err)
			}
			s.record("Redis SIGKILL, restarted after 1 s", at)
			return nil
		}})
	}
	if o.PostgresStop > 0 {
		steps = append(steps, step{0.4, "postgres", func(ctx context.Context) error {
			at := time.Now()
			if err := s.pg.Stop(ctx); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
			case <-time.After(o.PostgresStop):
			}
			if err := s.pg.Start(context.WithoutCancel(ctx)); err != nil {
				return fmt.Errorf("restart postgres: %w", err)
			}
			s.record(fmt.Sprintf("Postgres stopped (immediate) for %s", o.PostgresStop), at)
			return nil
		}})
	}
	sortSteps(steps)
	for _, st := range steps {
		for float64(acked.Load()) < st.at*float64(o.Events) {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(20 * time.Millisecond):
			}
		}
		if err := st.do(ctx); err != nil {
			return fmt.Errorf("fault %s: %w", st.name, err)
		}
	}
	select {
	case <-lagoUp:
	case <-ctx.Done():
	}
	return nil
}

func sortSteps(steps []step) {
	for i := 1; i < len(steps); i++ {
		for j := i; j > 0 && steps[j].at < steps[j-1].at; j-- {
			steps[j], steps[j-1] = steps[j-1], steps[j]
		}
	}
}

type production struct {
	accepted, duplicates, attempts, retries int
	err                                     error
}

// produce sends every batch until it is acknowledged (202 with every event
// accounted for as accepted or duplicate), retrying with the same body.
func (s *system) produce(ctx context.Context, tenants []harness.Tenant, acked *atomic.Int64) production {
	o := s.o
	batches := (o.Events + o.Batch - 1) / o.Batch
	next := make(chan int)
	go func() {
		defer close(next)
		for b := range batches {
			select {
			case next <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	results := make(chan production, o.Workers)
	hc := &http.Client{Transport: harness.NewTransport(o.Workers), Timeout: 30 * time.Second}
	for range o.Workers {
		go func() {
			var p production
			defer func() { results <- p }()
			for b := range next {
				tenant := tenants[b%len(tenants)]
				n := min(o.Batch, o.Events-b*o.Batch)
				body := batchBody(b, n)
				backoff := 20 * time.Millisecond
				for try := 0; ; try++ {
					if ctx.Err() != nil {
						p.err = ctx.Err()
						return
					}
					p.attempts++
					if try > 0 {
						p.retries++
					}
					acc, dup, err := postBatch(ctx, hc, s.serve.Base, tenant, body)
					if err == nil && acc+dup == n {
						p.accepted += acc
						p.duplicates += dup
						acked.Add(int64(n))
						break
					}
					if err == nil {
						err = fmt.Errorf("batch %d: 202 counts %d accepted + %d duplicates, sent %d", b, acc, dup, n)
						p.err = err // the API broke its contract: stop, this is not a fault to retry
						return
					}
					var se *harness.StatusError
					if errors.As(err, &se) && se.Status/100 == 4 && se.Status != http.StatusTooManyRequests && se.Status != http.StatusRequestTimeout {
						p.err = fmt.Errorf("batch %d: %w", b, err)
						return
					}
					time.Sleep(backoff/2 + rand.N(backoff/2))
					backoff = min(backoff*2, time.Second)
				}
			}
		}()
	}
	var total production
	for range o.Workers {
		p := <-results
		total.accepted += p.accepted
		total.duplicates += p.duplicates
		total.attempts += p.attempts
		total.retries += p.retries
		if total.err == nil {
			total.err = p.err
		}
	}
	return total
}

// txID is the transaction id of event j of batch b. The ids encode their
// index so the counts can be checked against the exact set that was sent.
func txID(b, j int) string { return "ft-" + strconv.Itoa(b) + "-" + strconv.Itoa(j) }

func parseTx(tx string, batch int) (int, bool) {
	rest, ok := strings.CutPrefix(tx, "ft-")
	if !ok {
		return 0, false
	}
	bs, js, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	b, err1 := strconv.Atoi(bs)
	j, err2 := strconv.Atoi(js)
	if err1 != nil || err2 != nil || b < 0 || j < 0 || j >= batch {
		return 0, false
	}
	// Only the canonical spelling is ours: "ft-01-2" or "ft-+1-2" would
	// otherwise count as a second copy of "ft-1-2" (found by FuzzParseTx).
	if strconv.Itoa(b) != bs || strconv.Itoa(j) != js {
		return 0, false
	}
	return b*batch + j, true
}

func batchBody(b, n int) []byte {
	buf := make([]byte, 0, 16+n*72)
	buf = append(buf, `{"events":[`...)
	for j := range n {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"transaction_id":"`...)
		buf = append(buf, txID(b, j)...)
		buf = append(buf, `","metric":"`+Metric+`","quantity":1}`...)
	}
	return append(buf, `]}`...)
}

func postBatch(ctx context.Context, hc *http.Client, base string, t harness.Tenant, body []byte) (accepted, duplicates int, err error) {
	var out struct {
		Accepted   int `json:"accepted"`
		Duplicates int `json:"duplicates"`
	}
	api := harness.API{Base: base, Token: t.Key, HTTP: hc}
	if err := api.DoRaw(ctx, http.MethodPost, "/api/v1/tenants/"+t.ID+"/usage/events", body, &out); err != nil {
		return 0, 0, err
	}
	return out.Accepted, out.Duplicates, nil
}

// drain waits until the fake Lago holds as many counted events as were
// sent, or DrainTimeout passes.
func (s *system) drain(ctx context.Context) error {
	deadline := time.Now().Add(s.o.DrainTimeout)
	last, lastAt := -1, time.Now()
	for {
		n := 0
		for _, e := range s.lago.Events() {
			if e.Code == Metric {
				n++
			}
		}
		if n >= s.o.Events {
			return nil
		}
		if n != last {
			last, lastAt = n, time.Now()
			fmt.Fprintf(s.o.Progress, "lago has %d/%d events\n", n, s.o.Events)
		} else if time.Since(lastAt) > 10*time.Second {
			fmt.Fprintf(s.o.Progress, "lago has %d/%d events, no progress for %s (rows claimed by a killed serve wait for their lease)\n", n, s.o.Events, time.Since(lastAt).Round(time.Second))
			lastAt = time.Now()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lago has %d of %d events after %s", n, s.o.Events, s.o.DrainTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// countDaily compares the store's daily event counts per tenant with the
// events sent for each tenant. A count above what was sent is reported as
// duplicated, below as lost; a tenant the run did not create, as unknown.
func (s *system) countDaily(ctx context.Context, conn *pgx.Conn, tenantOf func(int) string, rep *Report) error {
	want := map[string]int{}
	for i := range s.o.Events {
		want[tenantOf(i)]++
	}
	rows, err := conn.Query(ctx, "SELECT tenant_id::text, sum(events) FROM usage_daily WHERE metric = $1 GROUP BY tenant_id", Metric)
	if err != nil {
		return fmt.Errorf("count daily totals: %w", err)
	}
	got := map[string]int{}
	for rows.Next() {
		var tenant string
		var n int
		if err := rows.Scan(&tenant, &n); err != nil {
			rows.Close()
			return err
		}
		got[tenant] = n
		rep.Daily += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count daily totals: %w", err)
	}
	for tenant, n := range got {
		if _, ok := want[tenant]; !ok {
			rep.DailyForeign += n
		}
	}
	for tenant, w := range want {
		if n := got[tenant]; n < w {
			rep.DailyLost += w - n
		} else {
			rep.DailyDup += n - w
		}
	}
	return nil
}

// count compares what the store and the fake Lago hold with what was sent.
func (s *system) count(ctx context.Context, tenants []harness.Tenant, rep *Report) error {
	batch := s.o.Batch
	tenantOf := func(i int) string { return tenants[(i/batch)%len(tenants)].ID }

	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		return fmt.Errorf("connect to count: %w", err)
	}
	defer conn.Close(ctx)
	seen := make([]uint8, s.o.Events)
	rows, err := conn.Query(ctx, "SELECT transaction_id, tenant_id::text FROM usage_events WHERE metric = $1", Metric)
	if err != nil {
		return fmt.Errorf("count stored events: %w", err)
	}
	for rows.Next() {
		var tx, tenant string
		if err := rows.Scan(&tx, &tenant); err != nil {
			rows.Close()
			return err
		}
		rep.Stored++
		i, ok := parseTx(tx, batch)
		switch {
		case !ok || i >= s.o.Events:
			rep.StoreForeign++
		case tenant != tenantOf(i):
			rep.StoreWrongTenant++
		default:
			if seen[i] < 255 {
				seen[i]++
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count stored events: %w", err)
	}
	for _, n := range seen {
		switch {
		case n == 0:
			rep.StoreLost++
		case n > 1:
			rep.StoreDup += int(n) - 1
		}
	}
	// Delivery state left in the store (pending rows mean Lago is behind).
	_ = conn.QueryRow(ctx, "SELECT count(*) FILTER (WHERE lago_status = 'pending'), count(*) FILTER (WHERE lago_status = 'failed') FROM usage_events WHERE metric = $1", Metric).
		Scan(&rep.OutboxPending, &rep.OutboxFailed)
	if err := s.countDaily(ctx, conn, tenantOf, rep); err != nil {
		return err
	}

	clear(seen)
	for _, e := range s.lago.Events() {
		if e.Code != Metric {
			continue
		}
		rep.Lago++
		i, ok := parseTx(e.TransactionID, batch)
		switch {
		case !ok || i >= s.o.Events:
			rep.LagoForeign++
		case e.ExternalSubscriptionID != tenantOf(i):
			rep.LagoWrongTenant++
		default:
			if seen[i] < 255 {
				seen[i]++
			}
		}
	}
	for _, n := range seen {
		switch {
		case n == 0:
			rep.LagoLost++
		case n > 1:
			rep.LagoDup += int(n) - 1
		}
	}
	for tx, n := range s.lago.DuplicatesRefused() {
		if strings.HasPrefix(tx, "ft-") {
			rep.LagoResendsRefused += n
		}
	}
	return nil
}
