-- The Lago delivery state of a usage event moves onto the event row: one
-- write per event at ingest instead of an event row plus an outbox row.
-- lago_outbox keeps the non-event commands.

-- Both directions read and write every tenant's rows. Under FORCE ROW LEVEL
-- SECURITY a role that is not a superuser (the recommended application
-- role) sees none of them without the platform bypass, set for this
-- migration's transaction only. It was missing when this migration was
-- first released: as such a role, with events stored, Up failed ("contains
-- null values") and left the schema as it was, and Down moved no event
-- state back. Where Up succeeded, the bypass changes nothing.

-- +goose Up
SELECT set_config('app.bypass_rls', 'on', true);
ALTER TABLE usage_events
    ADD COLUMN lago_status text NOT NULL DEFAULT 'pending' CHECK (lago_status IN ('pending', 'sent', 'failed')),
    ADD COLUMN lago_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN lago_last_error text NOT NULL DEFAULT '',
    ADD COLUMN lago_next_attempt_at timestamptz,
    ADD COLUMN lago_updated_at timestamptz;
UPDATE usage_events e SET
    lago_status = o.status, lago_attempts = o.attempts, lago_last_error = o.last_error,
    lago_next_attempt_at = o.next_attempt_at, lago_updated_at = o.updated_at
FROM lago_outbox o WHERE o.id = e.id AND o.kind = 'event';
UPDATE usage_events SET lago_next_attempt_at = received_at, lago_updated_at = received_at WHERE lago_next_attempt_at IS NULL;
ALTER TABLE usage_events ALTER COLUMN lago_next_attempt_at SET NOT NULL, ALTER COLUMN lago_updated_at SET NOT NULL;
DELETE FROM lago_outbox WHERE kind = 'event';
CREATE INDEX usage_events_lago_due ON usage_events (lago_next_attempt_at, id) WHERE lago_status = 'pending';

-- +goose Down
SELECT set_config('app.bypass_rls', 'on', true);
DROP INDEX usage_events_lago_due;
INSERT INTO lago_outbox (id, tenant_id, kind, event_id, payload, status, attempts, last_error, next_attempt_at, created_at, updated_at)
SELECT id, tenant_id, 'event', id, '{}', lago_status, lago_attempts, lago_last_error, lago_next_attempt_at, received_at, lago_updated_at FROM usage_events;
ALTER TABLE usage_events
    DROP COLUMN lago_updated_at, DROP COLUMN lago_next_attempt_at, DROP COLUMN lago_last_error,
    DROP COLUMN lago_attempts, DROP COLUMN lago_status;
