-- Usage events keep four indexes instead of five: the one on
-- (tenant_id, metric, occurred_at) goes.
--
-- Every reader of usage by metric (totals and quotas, daily sums, event
-- listing) also filters on the tenant and a time range, which
-- usage_events_tenant_time (tenant_id, occurred_at, id) serves; each of them
-- reads the rows anyway for quantity, so the metric is checked on the row
-- instead of in an index. The index cost Postgres a sixth to a fifth of every
-- insert: BenchmarkIngest/live went from 89-97k to 106-111k events per
-- CPU-second of the server without it (three interleaved rounds).

-- +goose Up
DROP INDEX usage_events_tenant_metric_time;

-- +goose Down
CREATE INDEX usage_events_tenant_metric_time ON usage_events (tenant_id, metric, occurred_at);
