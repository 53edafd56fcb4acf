-- The management HTTP API (feature `api`), PostgreSQL dialect; migrations/sqlite/0002_api.sql
-- holds the same table in SQLite's dialect: keep the two in step.

-- API keys, given to clients as bearer tokens. Only a SHA-256 of each token is stored (the
-- tokens are 256 random bits, so a fast hash is enough: nothing to brute-force), looked up by
-- that hash; `id` is the short public part of the token, shown by `api-key list` and used to
-- revoke it.
CREATE TABLE api_key (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

-- The API lists connectors by name a page at a time.
CREATE INDEX connector_name ON connector (name, id);
