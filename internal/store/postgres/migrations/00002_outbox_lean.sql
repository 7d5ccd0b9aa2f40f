-- Usage ingest writes one outbox row per event in the same statement that
-- inserts the events, so the outbox's foreign keys only re-check rows that
-- statement just wrote, at the cost of a trigger call per row per key.
-- The writers keep integrity instead: event rows come from the events'
-- INSERT (whose tenant FK holds) and EnqueueOutbox checks the tenant first.
-- Tenants are never hard-deleted (cancel is a status), so no cascade is lost.

-- +goose Up
ALTER TABLE lago_outbox DROP CONSTRAINT lago_outbox_event_id_fkey;
ALTER TABLE lago_outbox DROP CONSTRAINT lago_outbox_tenant_id_fkey;

-- +goose Down
ALTER TABLE lago_outbox ADD CONSTRAINT lago_outbox_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
ALTER TABLE lago_outbox ADD CONSTRAINT lago_outbox_event_id_fkey FOREIGN KEY (event_id) REFERENCES usage_events (id) ON DELETE CASCADE;
