-- connector-sync schema, SQLite dialect (timestamps and JSON as TEXT). migrations/postgres/0001_initial.sql holds the same
-- tables, columns and indexes in PostgreSQL's dialect: keep the two in step.

-- One row per configured connector. `config` is the connector's JSON config with every field
-- its schema marks `writeOnly` sealed (see `Sealer`); the next run times are stored, never
-- derived from a column something else bumps.
CREATE TABLE connector (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    source        TEXT NOT NULL,
    config        TEXT NOT NULL,
    refresh_freq  BIGINT NOT NULL DEFAULT 0,   -- minutes between syncs, 0 = manual
    prune_freq    BIGINT NOT NULL DEFAULT 0,   -- minutes between prunes, 0 = manual
    timeout_secs  BIGINT NOT NULL DEFAULT 0,   -- per-job timeout, 0 = none
    status        TEXT NOT NULL DEFAULT 'active',  -- active | paused
    next_sync_at  TEXT,
    next_prune_at TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- A job is one run of one connector (partition): queued, claimed with a lease, finished.
CREATE TABLE job (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    connector_id     TEXT NOT NULL,
    kind             TEXT NOT NULL,              -- sync | prune
    mode             TEXT NOT NULL,              -- full | incremental | auto | rebuild
    partition_key    TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,              -- queued | running | done | failed | cancelled
    refetch_ids      TEXT,
    window_start     TEXT,
    window_end       TEXT,
    docs_new         BIGINT NOT NULL DEFAULT 0,
    docs_updated     BIGINT NOT NULL DEFAULT 0,
    docs_unchanged   BIGINT NOT NULL DEFAULT 0,
    docs_failed      BIGINT NOT NULL DEFAULT 0,
    docs_deleted     BIGINT NOT NULL DEFAULT 0,
    error            TEXT,
    wait_reason      TEXT,                       -- why a queued job waits
    attempt          BIGINT NOT NULL DEFAULT 0,
    run_after        TEXT NOT NULL,       -- not claimed before (backoff, schedule)
    lease_owner      TEXT,
    lease_expires_at TEXT,
    heartbeat_at     TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT
);
CREATE INDEX job_claim ON job (status, run_after);
CREATE INDEX job_connector ON job (connector_id, kind, status);
-- At most one pending (queued or running) job per connector, kind and partition.
CREATE UNIQUE INDEX job_one_pending ON job (connector_id, kind, partition_key)
    WHERE status IN ('queued', 'running');

-- Where a connector (partition) resumes, what the last finished run carried over, and the
-- serial number of its latest prune pass (see `SqlStateStore::begin_prune`).
CREATE TABLE checkpoint (
    connector_id    TEXT NOT NULL,
    partition_key   TEXT NOT NULL DEFAULT '',
    checkpoint      TEXT,
    last_window_end TEXT,
    carried         TEXT,
    prune_pass      BIGINT NOT NULL DEFAULT 0,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (connector_id, partition_key)
);

-- Each acknowledged document: its fingerprint and updated_at, and the prune pass that last
-- saw it listed.
CREATE TABLE document_state (
    connector_id TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    updated_at   TEXT,
    pass         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (connector_id, doc_id)
);

-- Items that failed and were not produced since, as core reports them (already redacted).
CREATE TABLE failed_item (
    connector_id    TEXT NOT NULL,
    item_key        TEXT NOT NULL,
    doc_id          TEXT,
    attempts        BIGINT NOT NULL,
    first_failed_at TEXT NOT NULL,
    item            TEXT NOT NULL,
    PRIMARY KEY (connector_id, item_key)
);

-- The run log (`StateStore::finish_run`), newest rows last.
CREATE TABLE run_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    connector_id TEXT NOT NULL,
    job_id       BIGINT,
    mode         TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT NOT NULL,
    record       TEXT NOT NULL
);
CREATE INDEX run_log_connector ON run_log (connector_id, id);

-- Workers alive (their heartbeat), so a queued job can say "no worker alive".
CREATE TABLE worker (
    id           TEXT PRIMARY KEY,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);

-- One rate limiter per credential shared by every worker: the earliest time the next request
-- may go.
CREATE TABLE rate_limit (
    key     TEXT PRIMARY KEY,
    next_at TEXT NOT NULL
);
