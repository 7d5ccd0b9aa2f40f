-- usage_daily holds each tenant's usage per metric per UTC day. Totals over
-- whole days (the monthly quota, the tenant gauges, daily summaries) read a
-- few rows here instead of every event. InsertEvents (internal/store/postgres)
-- adds each batch's inserted events to it in the same statement, one row per
-- (tenant, metric, day) of the batch, so a duplicate skipped by ON CONFLICT
-- DO NOTHING is not counted twice. InsertEvents is the store's only writer of
-- usage_events, so every stored event is counted.
--
-- day is the UTC day number (days since 1970-01-01), as in SQLite, so the
-- store's queries over it are the same on both backends.

-- +goose Up
CREATE TABLE usage_daily (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    metric    text NOT NULL,
    day       integer NOT NULL,
    quantity  double precision NOT NULL,
    events    bigint NOT NULL,
    PRIMARY KEY (tenant_id, metric, day)
);

-- The backfill reads every tenant's events: under FORCE ROW LEVEL SECURITY a
-- role that is not a superuser sees none of them without the platform
-- bypass, set here for this migration's transaction only.
SELECT set_config('app.bypass_rls', 'on', true);
INSERT INTO usage_daily (tenant_id, metric, day, quantity, events)
SELECT tenant_id, metric, (extract(epoch FROM date_trunc('day', occurred_at AT TIME ZONE 'UTC'))::bigint / 86400)::integer,
       sum(quantity), count(*)
FROM usage_events GROUP BY 1, 2, 3;

ALTER TABLE usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_daily USING (app_tenant_visible(tenant_id)) WITH CHECK (app_tenant_visible(tenant_id));

-- +goose Down
DROP TABLE usage_daily;
