-- Listed items that were gone when read (deleted in the source between the listing and the
-- download): neither documents nor failures, counted per job (SyncReport::gone). SQLite's
-- dialect; migrations/postgres/0005_gone.sql holds the same change: keep the two in step.
ALTER TABLE job ADD COLUMN docs_gone BIGINT NOT NULL DEFAULT 0;
