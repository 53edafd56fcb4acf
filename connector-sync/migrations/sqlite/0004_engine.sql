-- Engine fixes (review of issue 18), SQLite dialect; migrations/postgres/0004_engine.sql holds
-- the same changes in PostgreSQL's dialect: keep the two in step.

-- The scope a checkpoint row belongs to: a hash of the connector's non-secret config when the
-- row was last written. A job whose connector's config hashes otherwise forgets the row's
-- checkpoint, window end and carried checkpoint and runs full (see `SqlStateStore::enter_scope`).
ALTER TABLE checkpoint ADD COLUMN config_hash TEXT;
-- Attempts in a row that resumed this checkpoint and failed without committing anything: at
-- a limit the checkpoint is dropped and the run starts over (a checkpoint that cannot be read
-- never blocks a connector for good). A commit resets it.
ALTER TABLE checkpoint ADD COLUMN stalls BIGINT NOT NULL DEFAULT 0;
-- The job whose run wrote the checkpoint: a retry resumes its own run only, never the
-- checkpoint another job (cancelled long ago) left behind.
ALTER TABLE checkpoint ADD COLUMN job_id BIGINT;

-- Attempts in a row that ended without committing anything (a commit resets it): what the
-- retry limit counts, so that a long job interrupted many times while it advances (rolling
-- deploys, lost leases, rate limits) is not failed for it.
ALTER TABLE job ADD COLUMN fruitless BIGINT NOT NULL DEFAULT 0;
-- The job's last commit (its last progress), by the database's clock.
ALTER TABLE job ADD COLUMN last_progress_at TEXT;

-- Failed items belong to one partition of a connector: the run of partition A must neither
-- retry nor resolve partition B's. Rows from before this migration go to partition ''.
CREATE TABLE failed_item_v4 (
    connector_id    TEXT NOT NULL,
    partition_key   TEXT NOT NULL DEFAULT '',
    item_key        TEXT NOT NULL,
    doc_id          TEXT,
    attempts        BIGINT NOT NULL,
    first_failed_at TEXT NOT NULL,
    item            TEXT NOT NULL,
    PRIMARY KEY (connector_id, partition_key, item_key)
);
INSERT INTO failed_item_v4 (connector_id, partition_key, item_key, doc_id, attempts,
    first_failed_at, item)
    SELECT connector_id, '', item_key, doc_id, attempts, first_failed_at, item FROM failed_item;
DROP TABLE failed_item;
ALTER TABLE failed_item_v4 RENAME TO failed_item;

-- Retention scans finished jobs by age.
CREATE INDEX job_finished ON job (finished_at) WHERE finished_at IS NOT NULL;
