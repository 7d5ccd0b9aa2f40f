-- Initial schema. Append-only: never edit a released migration, add one.
--
-- Row-level security. Every tenant-scoped table (tenants itself,
-- memberships, api_keys, usage_events, lago_outbox, audit_log,
-- tenant_overrides) has a policy that shows a row only when
--   * app.tenant_id (set per transaction by the store with
--     set_config('app.tenant_id', <id>, true)) equals the row's tenant, or
--   * app.bypass_rls = 'on', which the store sets only for platform-scope
--     calls: lookups whose point is to find the tenant (key hash, slug,
--     Logto organization), cross-tenant lists and stats, the usage pipeline
--     and the Lago outbox.
-- A connection that sets neither sees no tenant data at all. FORCE makes the
-- policies apply to the table owner too, since the application usually runs
-- as the role that ran these migrations. (Superusers and BYPASSRLS roles
-- skip RLS entirely: do not run the API as one.) The bypass setting is a
-- guard against a forgotten tenant filter, not against SQL injection: any
-- session may set it; the store's explicit tenant_id filters are the first wall.

-- +goose Up
CREATE TABLE tenants (
    id           uuid PRIMARY KEY,
    slug         text NOT NULL UNIQUE,
    name         text NOT NULL,
    plan         text NOT NULL,
    status       text NOT NULL CHECK (status IN ('active', 'suspended', 'cancelled')),
    settings     jsonb NOT NULL DEFAULT '{}',
    metadata     jsonb NOT NULL DEFAULT '{}',
    logto_org_id text UNIQUE,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    external_id    text UNIQUE,
    email          text NOT NULL,
    email_norm     text NOT NULL UNIQUE, -- lower(email), computed by the store
    name           text NOT NULL DEFAULT '',
    avatar_url     text NOT NULL DEFAULT '',
    email_verified boolean NOT NULL DEFAULT false,
    last_login_at  timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE memberships (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    invited_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_keys (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             text NOT NULL,
    prefix           text NOT NULL,
    hash             bytea NOT NULL UNIQUE,
    scopes           text NOT NULL DEFAULT '[]',
    expires_at       timestamptz,
    last_used_at     timestamptz,
    revoked_at       timestamptz,
    created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    created_by_label text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

CREATE TABLE platform_keys (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    prefix     text NOT NULL,
    hash       bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE TABLE usage_events (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    metric         text NOT NULL,
    quantity       double precision NOT NULL,
    properties     jsonb NOT NULL DEFAULT '{}',
    transaction_id text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    received_at    timestamptz NOT NULL,
    UNIQUE (tenant_id, transaction_id)
);
CREATE INDEX usage_events_tenant_time ON usage_events (tenant_id, occurred_at, id);
CREATE INDEX usage_events_tenant_metric_time ON usage_events (tenant_id, metric, occurred_at);

-- One row per Lago command; event rows share the event's id and are written
-- by the same statement that inserts the events.
CREATE TABLE lago_outbox (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind            text NOT NULL,
    event_id        uuid REFERENCES usage_events (id) ON DELETE CASCADE,
    payload         jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX lago_outbox_due ON lago_outbox (next_attempt_at, id) WHERE status = 'pending';

CREATE TABLE audit_log (
    id        uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    principal text NOT NULL,
    action    text NOT NULL,
    target    text NOT NULL DEFAULT '',
    details   jsonb NOT NULL DEFAULT '{}',
    at        timestamptz NOT NULL
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at, id);

CREATE TABLE tenant_overrides (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    overrides  jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION app_tenant_visible(row_tenant uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('app.bypass_rls', true), '') = 'on'
        OR row_tenant = nullif(current_setting('app.tenant_id', true), '')::uuid
$$;
-- +goose StatementEnd

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants USING (app_tenant_visible(id)) WITH CHECK (app_tenant_visible(id));

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memberships USING (app_tenant_visible(tenant_id)) WITH CHECK (app_tenant_visible(tenant_id));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys USING (app_tenant_visible(tenant_id)) WITH CHECK (app_tenant_visible(tenant_id));

ALTER TABLE usage_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_events USING (app_tenant_visible(tenant_id)) WITH CHECK (app_tenant_visible(tenant_id));

ALTER TABLE lago_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE lago_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON lago_outbox USING (app_tenant_visible(tenant_id)) WITH CHECK (app_tenant_visible(tenant_id));

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log USING (app_tenant_visible(tenant_id)) WITH CHECK (app_tenant_visible(tenant_id));

ALTER TABLE tenant_overrides ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_overrides FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_overrides USING (app_tenant_visible(tenant_id)) WITH CHECK (app_tenant_visible(tenant_id));

-- +goose Down
DROP TABLE tenant_overrides;
DROP TABLE audit_log;
DROP TABLE lago_outbox;
DROP TABLE usage_events;
DROP TABLE platform_keys;
DROP TABLE api_keys;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE tenants;
DROP FUNCTION app_tenant_visible(uuid);
