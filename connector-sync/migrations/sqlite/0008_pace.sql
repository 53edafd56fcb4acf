-- The most first tries of HTTP requests a connector's jobs sent between two of its source
-- pages (a run's start counting as one), over every attempt since its config last changed;
-- 0: none seen yet. A resume stopped at its deadline inside a long rate-limit wait after
-- sending more than twice that many without a page loops behind the waits, and counts as a
-- stalled resume of its checkpoint (review64 M2, review68 M1). SQLite's dialect;
-- migrations/postgres/0008_pace.sql holds the same change: keep the two in step.
ALTER TABLE checkpoint ADD COLUMN page_requests BIGINT NOT NULL DEFAULT 0;
