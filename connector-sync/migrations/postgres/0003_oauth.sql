-- OAuth web flows and job event webhooks (feature `api`), PostgreSQL dialect;
-- migrations/sqlite/0003_oauth.sql holds the same tables in SQLite's dialect: keep the
-- two in step.

-- One browser authorisation: created by `POST /api/v1/oauth/init`, used once by the provider's
-- redirect to the callback. Only a SHA-256 of the `state` parameter is stored (it is 256 random
-- bits): a reader of the database cannot forge a callback. `secrets` is sealed (see `Sealer`):
-- the PKCE verifier, the OAuth client (when the caller gave its own) and the config of a
-- connector to create once authorised. `status`: pending (waiting for the callback), exchanging
-- (the callback took it: a replay is refused), succeeded, failed.
CREATE TABLE oauth_flow (
    id           TEXT PRIMARY KEY,
    state_hash   TEXT NOT NULL UNIQUE,
    provider     TEXT NOT NULL,
    connector_id TEXT,
    redirect_uri TEXT NOT NULL,
    secrets      TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    message      TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE INDEX oauth_flow_expires ON oauth_flow (expires_at);

-- A connector's job event webhook: where its job started / finished / failed events are POSTed,
-- and the signing secret, sealed.
CREATE TABLE connector_webhook (
    connector_id TEXT PRIMARY KEY,
    url          TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
