-- Initial schema. Times are INTEGER microseconds since the Unix epoch, UTC:
-- exact round trips, cheap range scans and day buckets (t / 86400000000).
-- JSON is TEXT. Append-only: never edit a released migration, add one.

-- +goose Up
CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,
    slug         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    plan         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'cancelled')),
    settings     TEXT NOT NULL DEFAULT '{}',
    metadata     TEXT NOT NULL DEFAULT '{}',
    logto_org_id TEXT UNIQUE,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    external_id    TEXT UNIQUE,
    email          TEXT NOT NULL,
    email_norm     TEXT NOT NULL UNIQUE, -- lower(email), computed by the store
    name           TEXT NOT NULL DEFAULT '',
    avatar_url     TEXT NOT NULL DEFAULT '',
    email_verified INTEGER NOT NULL DEFAULT 0,
    last_login_at  INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE memberships (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    invited_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_keys (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    prefix           TEXT NOT NULL,
    hash             BLOB NOT NULL UNIQUE,
    scopes           TEXT NOT NULL DEFAULT '[]',
    expires_at       INTEGER,
    last_used_at     INTEGER,
    revoked_at       INTEGER,
    created_by       TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_by_label TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

CREATE TABLE platform_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE usage_events (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    metric         TEXT NOT NULL,
    quantity       REAL NOT NULL,
    properties     TEXT NOT NULL DEFAULT '{}',
    transaction_id TEXT NOT NULL,
    occurred_at    INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, transaction_id)
);
CREATE INDEX usage_events_tenant_time ON usage_events (tenant_id, occurred_at, id);
CREATE INDEX usage_events_tenant_metric_time ON usage_events (tenant_id, metric, occurred_at);

-- One row per Lago command. Event rows share the event's id and are
-- written by the trigger below, in the same statement as the event, so an
-- acknowledged event always has its outbox row.
CREATE TABLE lago_outbox (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    event_id        TEXT REFERENCES usage_events (id) ON DELETE CASCADE,
    payload         TEXT NOT NULL DEFAULT '{}',
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX lago_outbox_due ON lago_outbox (next_attempt_at, id) WHERE status = 'pending';

-- +goose StatementBegin
CREATE TRIGGER usage_events_outbox AFTER INSERT ON usage_events
BEGIN
    INSERT INTO lago_outbox (id, tenant_id, kind, event_id, payload, status, attempts, last_error, next_attempt_at, created_at, updated_at)
    VALUES (NEW.id, NEW.tenant_id, 'event', NEW.id, '{}', 'pending', 0, '', NEW.received_at, NEW.received_at, NEW.received_at);
END;
-- +goose StatementEnd

CREATE TABLE audit_log (
    id        TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    principal TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL DEFAULT '',
    details   TEXT NOT NULL DEFAULT '{}',
    at        INTEGER NOT NULL
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at, id);

CREATE TABLE tenant_overrides (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    overrides  TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE tenant_overrides;
DROP TABLE audit_log;
DROP TRIGGER usage_events_outbox;
DROP TABLE lago_outbox;
DROP TABLE usage_events;
DROP TABLE platform_keys;
DROP TABLE api_keys;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE tenants;
