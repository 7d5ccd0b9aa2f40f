-- The Lago delivery state of a usage event moves onto the event row: one
-- write per event at ingest instead of an event row plus an outbox row
-- (and its trigger). lago_outbox keeps the non-event commands.

-- +goose Up
ALTER TABLE usage_events ADD COLUMN lago_status TEXT NOT NULL DEFAULT 'pending' CHECK (lago_status IN ('pending', 'sent', 'failed'));
ALTER TABLE usage_events ADD COLUMN lago_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN lago_last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_events ADD COLUMN lago_next_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN lago_updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE usage_events SET
    lago_status          = (SELECT o.status FROM lago_outbox o WHERE o.id = usage_events.id),
    lago_attempts        = (SELECT o.attempts FROM lago_outbox o WHERE o.id = usage_events.id),
    lago_last_error      = (SELECT o.last_error FROM lago_outbox o WHERE o.id = usage_events.id),
    lago_next_attempt_at = (SELECT o.next_attempt_at FROM lago_outbox o WHERE o.id = usage_events.id),
    lago_updated_at      = (SELECT o.updated_at FROM lago_outbox o WHERE o.id = usage_events.id)
WHERE id IN (SELECT id FROM lago_outbox WHERE kind = 'event');
UPDATE usage_events SET lago_next_attempt_at = received_at, lago_updated_at = received_at WHERE lago_updated_at = 0;
DELETE FROM lago_outbox WHERE kind = 'event';
DROP TRIGGER usage_events_outbox;
CREATE INDEX usage_events_lago_due ON usage_events (lago_next_attempt_at, id) WHERE lago_status = 'pending';

-- +goose Down
DROP INDEX usage_events_lago_due;
INSERT INTO lago_outbox (id, tenant_id, kind, event_id, payload, status, attempts, last_error, next_attempt_at, created_at, updated_at)
SELECT id, tenant_id, 'event', id, '{}', lago_status, lago_attempts, lago_last_error, lago_next_attempt_at, received_at, lago_updated_at FROM usage_events;
-- +goose StatementBegin
CREATE TRIGGER usage_events_outbox AFTER INSERT ON usage_events
BEGIN
    INSERT INTO lago_outbox (id, tenant_id, kind, event_id, payload, status, attempts, last_error, next_attempt_at, created_at, updated_at)
    VALUES (NEW.id, NEW.tenant_id, 'event', NEW.id, '{}', 'pending', 0, '', NEW.received_at, NEW.received_at, NEW.received_at);
END;
-- +goose StatementEnd
ALTER TABLE usage_events DROP COLUMN lago_updated_at;
ALTER TABLE usage_events DROP COLUMN lago_next_attempt_at;
ALTER TABLE usage_events DROP COLUMN lago_last_error;
ALTER TABLE usage_events DROP COLUMN lago_attempts;
ALTER TABLE usage_events DROP COLUMN lago_status;
