-- Rate-limited attempts of a job since its last commit (a commit resets it): a rate limit
-- that states no wait is retried after a backoff that doubles with each (review45 E1).
-- And every checkpoint's stall count starts again from zero (review45 E3): builds from
-- 263a61e to 9513030 stored stalls in units of two (a plain stall 2, a waited one 1) and the
-- builds since read units of one, so such a row could be dropped at its next attempt; no
-- statement can tell the two kinds of row apart, and a reset costs at most three more
-- fruitless resumes where keeping them could re-deliver a whole run. PostgreSQL's dialect;
-- migrations/sqlite/0007_throttle.sql holds the same change: keep the two in step.
ALTER TABLE job ADD COLUMN throttled BIGINT NOT NULL DEFAULT 0;
UPDATE checkpoint SET stalls = 0 WHERE stalls <> 0;
