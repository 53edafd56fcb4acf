//! [`SqlRateGate`]: core's [`RateGate`] over the `rate_limit` table, so every worker on one
//! database keeps, together, to one rate per credential.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_core::Result;
use connector_core::rate::RateGate;

use crate::db::{Pool, SyncDb};
use crate::store::{on_pool, sql_in_secs};

/// Reserves a slot: `next_at = max(next_at, now) + interval`, returning the wait in ms for the
/// slot (`next_at - interval - now`). SQLite's clock (`julianday('now')`, one value per
/// statement), timestamps as ISO 8601 text with milliseconds; `?2` is the interval in days,
/// `?3` in milliseconds, `?4` the gate's `max_wait` in days, `?5` [`LONGEST_WAIT`] in days.
/// The stored `next_at` is the queue of slots already handed out, however long: it is kept,
/// unless no version could have written it (further out than a year, or past year 9999 so
/// that `julianday` cannot read it), and then counts as now + `max_wait` (review41 R5;
/// review56 H1: cutting at `max_wait` gave every later caller the same slot).
const ACQUIRE_SQLITE: &str = "INSERT INTO rate_limit (key, next_at)
     VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', julianday('now') + ?2))
     ON CONFLICT (key) DO UPDATE SET next_at = strftime('%Y-%m-%dT%H:%M:%fZ',
         max(CASE WHEN julianday(rate_limit.next_at) IS NULL
                   OR julianday(rate_limit.next_at) > julianday('now') + ?5
                 THEN julianday('now') + ?4
                 ELSE julianday(rate_limit.next_at) END,
             julianday('now')) + ?2)
     RETURNING (julianday(next_at) - julianday('now')) * 86400000.0 - ?3";

/// The same on PostgreSQL, on the server's clock (workers on many machines need not agree on
/// the time); `$2` is the interval in seconds, `$3` in milliseconds, `$4` `max_wait` and `$5`
/// [`LONGEST_WAIT`] in seconds. The row lock of `ON CONFLICT DO UPDATE` orders concurrent
/// callers.
const ACQUIRE_PG: &str = "INSERT INTO rate_limit AS r (key, next_at)
     VALUES ($1, clock_timestamp() + make_interval(secs => $2))
     ON CONFLICT (key) DO UPDATE SET next_at =
         GREATEST(CASE WHEN r.next_at > clock_timestamp() + make_interval(secs => $5)
                 THEN clock_timestamp() + make_interval(secs => $4) ELSE r.next_at END,
             clock_timestamp()) + make_interval(secs => $2)
     RETURNING (EXTRACT(EPOCH FROM (r.next_at - clock_timestamp())) * 1000)::float8 - $3";

/// Pushes `next_at` to at least now + the wait (`?2` in days, at most `max_wait`), never
/// earlier: the row only grows. A row no version could have written (`?4`, [`LONGEST_WAIT`]
/// in days, as in [`ACQUIRE_SQLITE`]) counts as now + `max_wait` (`?3` in days).
const DEFER_SQLITE: &str = "INSERT INTO rate_limit (key, next_at)
     VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', julianday('now') + ?2))
     ON CONFLICT (key) DO UPDATE SET next_at = CASE
         WHEN julianday(rate_limit.next_at) IS NULL
             OR julianday(rate_limit.next_at) > julianday('now') + ?4
             THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday('now') + ?3)
         WHEN julianday(excluded.next_at) > julianday(rate_limit.next_at) THEN excluded.next_at
         ELSE rate_limit.next_at END";

/// The same on PostgreSQL (`$2`, `$3`, `$4` in seconds).
const DEFER_PG: &str = "INSERT INTO rate_limit AS r (key, next_at)
     VALUES ($1, clock_timestamp() + make_interval(secs => $2))
     ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(
         CASE WHEN r.next_at > clock_timestamp() + make_interval(secs => $4)
             THEN clock_timestamp() + make_interval(secs => $3) ELSE r.next_at END,
         EXCLUDED.next_at)";

/// How long until a key's next free slot, in ms (negative when it is free now; NULL on SQLite
/// for a time `julianday` cannot read, past year 9999).
const UNTIL_SQLITE: &str =
    "SELECT (julianday(next_at) - julianday('now')) * 86400000.0 FROM rate_limit WHERE key = ?1";
const UNTIL_PG: &str = "SELECT (EXTRACT(EPOCH FROM (next_at - clock_timestamp())) * 1000)::float8
     FROM rate_limit WHERE key = $1";

/// Which rows [`clamp`] cuts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Held<'a> {
    /// One key (a credential's, by [`SqlRateGate::next_free`]).
    Key(&'a str),
    /// Every connector's hold (`connector:ID`, by the workers, before they claim).
    Connectors,
}

/// Cuts the rows of `which` that no version could have written, to now + `to` (by the
/// database's clock): those further out than [`LONGEST_WAIT`] (a year, the most any version
/// writes), or that SQLite cannot read as a time (past year 9999: the hold would be off). Such
/// a row holds its key `to` at most from the first time it is read (review41 R5). Rows within
/// a year are left alone: a long queue of slots, or a hold another worker with a longer cap
/// wrote, is not this reader's to cut (review56 H1, M3). Returns how many rows it cut.
///
/// A read comes first and the write only if it finds such a row, so the usual call (nothing
/// to cut) takes no write lock on SQLite (review56 L9). Rows are written in the text form of
/// [`sql_in_secs`] (`…+00:00`), as [`jobs::rate_limit`](crate::jobs) writes connector holds,
/// which the claim compares as text (review56 L10).
///
/// # Errors
/// [`ErrorKind::State`](connector_core::ErrorKind::State) when the table cannot be read or
/// written.
pub(crate) async fn clamp(db: &SyncDb, which: Held<'_>, to: Duration) -> Result<u64> {
    // The key range `[lo, hi)` (one key: `[key, key]`), so the primary key's index serves it.
    let (lo, hi, range) = match which {
        Held::Key(key) => (key, key, "key >= $1 AND key <= $2"),
        Held::Connectors => ("connector:", "connector;", "key >= $1 AND key < $2"),
    };
    let pg = db.is_postgres();
    let far = if pg {
        "next_at > clock_timestamp() + make_interval(secs => $3)"
    } else {
        "(julianday(next_at) IS NULL OR julianday(next_at) > julianday('now') + $3 / 86400.0)"
    };
    let longest = LONGEST_WAIT.as_secs_f64();
    let any = format!("SELECT EXISTS (SELECT 1 FROM rate_limit WHERE {range} AND {far})");
    let cut = format!(
        "UPDATE rate_limit SET next_at = {} WHERE {range} AND {far}",
        sql_in_secs(pg, "$4")
    );
    let to = to.min(LONGEST_WAIT).as_secs_f64();
    let fail = |e: sqlx::Error| db.error("cannot cut the far rate limits of", &e);
    Ok(on_pool!(db, pool => {
        let (found,): (bool,) = sqlx::query_as(sqlx::AssertSqlSafe(any))
            .bind(lo)
            .bind(hi)
            .bind(longest)
            .fetch_one(pool)
            .await
            .map_err(fail)?;
        if found {
            sqlx::query(sqlx::AssertSqlSafe(cut))
                .bind(lo)
                .bind(hi)
                .bind(longest)
                .bind(to)
                .execute(pool)
                .await
                .map_err(fail)?
                .rows_affected()
        } else {
            0
        }
    }))
}

const MS_PER_DAY: f64 = 86_400_000.0;

/// One rate limiter per credential, shared by every worker on the database through its
/// `rate_limit` table: core's [`RateGate`], for
/// [`Syncer::rate_gate`](connector_core::sync::Syncer::rate_gate) (every HTTP client of the run
/// then asks it), [`SyncContext::with_rate_gate`](connector_core::SyncContext::with_rate_gate)
/// or [`HttpClientBuilder::rate_gate`](connector_core::http::HttpClientBuilder::rate_gate).
///
/// - [`acquire`](RateGate::acquire) is one statement: `next_at = max(next_at, now) + interval`,
///   returning the wait for the slot it took. SQLite runs it under its write lock, PostgreSQL
///   under the row's lock, so N workers reserve N distinct slots `interval` apart and together
///   stay under the rate. PostgreSQL's clock is used, so the workers' clocks need not agree.
/// - [`defer`](RateGate::defer) (a 429's `Retry-After`) pushes `next_at` to at least now plus
///   the wait, cut to [`max_wait`](Self::max_wait) (1 h by default): every worker's next
///   request of that credential waits it out.
/// - [`acquire_many`](RateGate::acquire_many) (a batch the service counts as several
///   requests) reserves its slots in one statement, as core's default does, and notes the
///   wait for the last of them, the one its request really waits (review64 L3).
/// - [`limited_until`](Self::limited_until) is the end of the last wait this gate handed out,
///   while it is in the future, and [`next_free`](Self::next_free) reads a key's next free
///   slot: what a job reports as "rate-limited until T".
///
/// Keys are made by core's HTTP layer (a hash of the credential) or by a connector (a site's
/// URL, a tenant's id): the gate never logs one whole, only a short hash of it. Each
/// request of a client with a rate limit costs one write to the database (on SQLite a durable
/// commit): a gate is for services whose limits are per second or slower, not for bulk
/// downloads. A client without a rate limit (`min_interval` zero) only reads its key, to wait
/// out a 429 another worker was told about.
///
/// # Cancel safety
/// Each call is one statement: a dropped `acquire` may have reserved its slot, which then goes
/// unused (the next caller waits one interval more; `permits` intervals more for a dropped
/// `acquire_many`, a minute for a batch of 20 on a 3 s interval), never half-written state.
#[derive(Debug)]
pub struct SqlRateGate {
    db: SyncDb,
    /// The wait this gate handed out that ends last (see [`Wait`]).
    last: Mutex<Option<Wait>>,
    max_wait: Duration,
    /// The job using the gate and its `timeout_secs`: a slot further out than that is
    /// logged, once (review64 M2).
    job: Option<(i64, Duration)>,
    /// Whether that was logged.
    warned: AtomicBool,
    /// The deadline of the job's run (its start plus `timeout_secs`, on the monotonic
    /// clock), once [`run_started`](Self::run_started) is told: a wait begun after it is not
    /// noted (review68 L2: a slot a concurrent fetch took while a sink write finished past
    /// the deadline replaced the wait that held the run at it).
    deadline: Mutex<Option<Instant>>,
    /// The requests the job sent between its source pages (see [`Pace`]).
    pace: Mutex<Pace>,
}

/// The first tries of requests a job sent through the gate between two of its source pages
/// (the run's start counting as one), to tell a resume that loops behind long waits (it sends
/// new requests and never reads a page) from one its service throttles (review64 M2, review68
/// M1 and M2). A slot counts once its wait is over (the request went, or was about to): the
/// slots a batch of concurrent downloads reserved and still waits for were not answered. A
/// retry ([`RateGate::retrying`]: a 5xx's, a bare 429's) is not a new request.
#[derive(Debug, Default)]
struct Pace {
    /// Slots handed out since the last page whose wait was running when last looked at, by
    /// when it ends (`None`: never, past the monotonic clock), with the requests each stands
    /// for (a batch's `permits`: the service counts it as that many, and Graph resends a
    /// throttled batch's members one by one). At most one a request waiting for its slot,
    /// so as many as the job's concurrent requests.
    waiting: Vec<(Option<Instant>, u64)>,
    /// Slots handed out since the last page whose wait was over when last looked at.
    sent: u64,
    /// Retries told since the last page.
    retries: u64,
    /// The most first tries seen between two pages: this attempt's, and (stored with the
    /// checkpoint) every earlier attempt's of the connector since its config last changed.
    most: u64,
    /// The part of `most` that was stored ([`SqlRateGate::seed_pace`]).
    stored: u64,
}

impl Pace {
    /// Moves the slots whose wait is over by `at` from `waiting` to `sent`.
    fn settle(&mut self, at: Instant) {
        let mut over = 0;
        self.waiting.retain(|(ends, n)| {
            let waiting = ends.is_none_or(|ends| ends > at);
            if !waiting {
                over += n;
            }
            waiting
        });
        self.sent += over;
    }

    /// The first tries sent since the last page, as of `at` (a slot whose wait ends after
    /// `at` is not counted).
    fn since_page(&self, at: Instant) -> u64 {
        let over: u64 = self
            .waiting
            .iter()
            .filter(|(ends, _)| ends.is_some_and(|ends| ends <= at))
            .map(|(_, n)| n)
            .sum();
        (self.sent + over).saturating_sub(self.retries)
    }
}

/// The fewest first tries without a page that can be a loop, whatever the most seen between
/// two pages: with pages of one request, three or four answered requests without a page are
/// still a page of a few items, not a loop.
const LOOP_FLOOR: u64 = 4;

/// A wait the gate handed out: when it began and ends on the monotonic clock (what "held at
/// the deadline" is judged by, so a step of the wall clock during a run of hours moves
/// nothing, review68 L2), when it ends on the wall clock (what a job reports as
/// "rate-limited until T"), and how long it is.
#[derive(Debug, Clone, Copy)]
struct Wait {
    began: Instant,
    /// `None`: past what the monotonic clock holds.
    ends: Option<Instant>,
    until: DateTime<Utc>,
    len: Duration,
}

/// A short, stable tag of a gate key for logs: the key itself may be a connector's site URL
/// with a user and password in it (review68 L4), so only 8 hex digits of its SHA-256 are
/// shown.
pub(crate) fn key_tag(key: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(key.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The longest wait [`SqlRateGate::max_wait`] accepts: a year, which both databases store.
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

impl SqlRateGate {
    /// A gate on `db`'s `rate_limit` table. Gates on one database share their limits; make
    /// one per job to know that job's waits ([`limited_until`](Self::limited_until)).
    pub fn new(db: SyncDb) -> Self {
        Self {
            db,
            last: Mutex::new(None),
            max_wait: Duration::from_secs(3600),
            job: None,
            warned: AtomicBool::new(false),
            deadline: Mutex::new(None),
            pace: Mutex::new(Pace::default()),
        }
    }

    /// The most first tries of requests seen between two source pages before this attempt
    /// (stored with the checkpoint): what a page of this connector takes, the baseline of
    /// [`loops_at`](Self::loops_at).
    pub(crate) fn seed_pace(&self, most: u64) {
        let mut pace = self.pace.lock().unwrap_or_else(|e| e.into_inner());
        pace.most = pace.most.max(most);
        pace.stored = pace.stored.max(most);
    }

    /// The job read a source page: the first tries sent since the one before count toward
    /// the most seen between two pages, and counting starts again.
    pub(crate) fn page_read(&self) {
        let now = Instant::now();
        let mut pace = self.pace.lock().unwrap_or_else(|e| e.into_inner());
        pace.settle(now);
        let n = pace.since_page(now);
        pace.most = pace.most.max(n);
        pace.sent = 0;
        pace.retries = 0;
    }

    /// The most first tries seen between two source pages, this attempt's included, when it
    /// is more than was stored: what the attempt's end stores with the checkpoint.
    pub(crate) fn pace_to_store(&self) -> Option<u64> {
        let pace = self.pace.lock().unwrap_or_else(|e| e.into_inner());
        (pace.most > pace.stored).then_some(pace.most)
    }

    /// The first tries of requests sent since the last source page, as of `at`, when they
    /// are a loop: more than twice the most seen between two pages (and at least
    /// [`LOOP_FLOOR`]). `None` without that history (no page seen yet, here or in an earlier
    /// attempt): a resume is then never called a loop (review68 M1: Graph's pages of 200
    /// downloads, a batch resent member by member, take many requests a page).
    pub(crate) fn loops_at(&self, at: Instant) -> Option<(u64, u64)> {
        let pace = self.pace.lock().unwrap_or_else(|e| e.into_inner());
        let n = pace.since_page(at);
        (pace.most > 0 && n > pace.most.saturating_mul(2).max(LOOP_FLOOR - 1))
            .then_some((n, pace.most))
    }

    /// The gate of job `job`, whose attempts stop after `timeout` (its connector's
    /// `timeout_secs`; zero: none): the first slot further out than that is logged at
    /// `warn`, naming the key by a short hash ([`key_tag`]). The credential's queue or a
    /// wait its service asked for is then longer than
    /// the job's time limit, so the attempt stops at its deadline before its request goes,
    /// each attempt abandons its slot, and the job is retried as rate-limited until
    /// `max_throttled` (review64 M2). The key is known only once the connector's HTTP client
    /// asks for a slot, so this is said at the first such slot, not at the claim.
    pub(crate) fn for_job(mut self, job: i64, timeout: Duration) -> Self {
        self.job = (!timeout.is_zero()).then_some((job, timeout));
        self
    }

    /// The job's run started at `at` (again, when it restarts): waits begun after
    /// `at + timeout_secs` are not noted from now on (see [`holds_back_at`](Self::holds_back_at)).
    /// Without a `timeout_secs` ([`for_job`](Self::for_job)) there is no deadline.
    pub(crate) fn run_started(&self, at: Instant) {
        let deadline = self.job.and_then(|(_, timeout)| at.checked_add(timeout));
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = deadline;
    }

    /// The longest wait a service's `Retry-After` puts on a key (default 1 h, at most a
    /// year): a longer one is cut to it, so a bogus `Retry-After: 86400` does not stop every
    /// worker's requests of that credential for a day. A worker's gates take its
    /// [`WorkerOptions::max_retry_after`](crate::WorkerOptions::max_retry_after).
    #[must_use]
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait.min(LONGEST_WAIT);
        self
    }

    /// When the latest wait this gate handed out ends, if that is still to come: the job
    /// using the gate is rate-limited until then.
    pub fn limited_until(&self) -> Option<DateTime<Utc>> {
        let last = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.map(|w| w.until).filter(|until| *until > Utc::now())
    }

    /// How long until the latest wait this gate handed out ends, if it is still running (by
    /// the monotonic clock; a wait past its range as [`LONGEST_WAIT`]): the job's heartbeat
    /// has the database render "rate-limited until T" from it, on the database's clock
    /// (review61 L8).
    pub(crate) fn limited_for(&self) -> Option<Duration> {
        let last = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.map(|w| match w.ends {
            Some(ends) => ends.saturating_duration_since(Instant::now()),
            None => LONGEST_WAIT,
        })
        .filter(|left| !left.is_zero())
    }

    /// Whether the gate holds its job back now (see [`holds_back_at`](Self::holds_back_at)).
    pub(crate) fn holds_back(&self, long: Duration) -> bool {
        self.holds_back_at(long, Instant::now())
    }

    /// Whether the gate held its job back at `at` (a deadline): the latest wait it handed
    /// out is at least `long`, began by `at`, and had not ended by then (or ended less than a
    /// second before, the slack of a deadline that fires as the wait ends). Short waits, a
    /// paced client's slots, never hold it back (review61 M1: summing them hid a resume that
    /// looped without a page, paced by the gate, until its deadline). Judged at the deadline
    /// itself, not after the attempt's teardown (review64 L4: a sink write in flight, the run
    /// log's write and the fencing heartbeat moved "now" past a wait that did hold it), on
    /// the monotonic clock (review68 L2).
    pub(crate) fn holds_back_at(&self, long: Duration, at: Instant) -> bool {
        let last = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        held_at(last, long, at)
    }

    /// When `key`'s next request may go, if that is in the future (by the database's clock,
    /// measured as a wait from now and added to this machine's time).
    ///
    /// # Errors
    /// [`ErrorKind::State`](connector_core::ErrorKind::State) when the table cannot be read.
    pub async fn next_free(&self, key: &str) -> Result<Option<DateTime<Utc>>> {
        let read = || async {
            let ms: Option<(Option<f64>,)> = on_pool!(self.db, pool => {
                let sql = if self.db.is_postgres() { UNTIL_PG } else { UNTIL_SQLITE };
                sqlx::query_as(sql)
                    .bind(key)
                    .fetch_optional(pool)
                    .await
                    .map_err(|e| self.db.error("cannot read the rate limit of", &e))?
            });
            Ok::<_, connector_core::Error>(ms.map(|(ms,)| ms))
        };
        let max_ms = self.max_wait.as_secs_f64() * 1000.0;
        let longest_ms = LONGEST_WAIT.as_secs_f64() * 1000.0;
        let mut ms = read().await?;
        // A row no version could have written (further out than a year, or that SQLite cannot
        // read) is cut to `max_wait` from now, once, then read as it is. A nearer row is a
        // queue of slots, or a hold, that stays: only the answer is capped at `max_wait`.
        if let Some(far) = ms
            && far.is_none_or(|ms| ms > longest_ms)
        {
            clamp(&self.db, Held::Key(key), self.max_wait).await?;
            ms = read().await?;
        }
        Ok(ms.flatten().filter(|ms| *ms > 0.0).map(|ms| {
            Utc::now()
                .checked_add_signed(millis(ms.min(max_ms)))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        }))
    }

    /// Reserves a slot of `key` (`min_interval` long; zero: only reads the key), returning
    /// its wait, without noting it.
    async fn reserve(&self, key: &str, min_interval: Duration) -> Result<Duration> {
        if min_interval.is_zero() {
            // A client without a rate limit of its own only honours the service's waits
            // (`defer`): a read, so it costs no commit per request.
            return Ok(match self.next_free(key).await? {
                Some(until) => (until - Utc::now()).to_std().unwrap_or_default(),
                None => Duration::ZERO,
            });
        }
        let interval_ms = min_interval.as_secs_f64() * 1000.0;
        let (ms,): (f64,) = match &self.db.pool {
            Pool::Sqlite(pool) => {
                sqlx::query_as(ACQUIRE_SQLITE)
                    .bind(key)
                    .bind(interval_ms / MS_PER_DAY)
                    .bind(interval_ms)
                    .bind(self.max_wait.as_secs_f64() * 1000.0 / MS_PER_DAY)
                    .bind(LONGEST_WAIT.as_secs_f64() * 1000.0 / MS_PER_DAY)
                    .fetch_one(pool)
                    .await
            }
            Pool::Postgres(pool) => {
                sqlx::query_as(ACQUIRE_PG)
                    .bind(key)
                    .bind(min_interval.as_secs_f64())
                    .bind(interval_ms)
                    .bind(self.max_wait.as_secs_f64())
                    .bind(LONGEST_WAIT.as_secs_f64())
                    .fetch_one(pool)
                    .await
            }
        }
        .map_err(|e| self.db.error("cannot take a rate-limit slot in", &e))?;
        Ok(Duration::try_from_secs_f64(ms.max(0.0) / 1000.0).unwrap_or_default())
    }

    /// Notes a slot's wait, counts its `requests` (a batch's permits), and says once when it
    /// is past the job's time limit.
    fn handed(&self, key: &str, wait: Duration, requests: u32) {
        self.note_wait(wait);
        {
            let now = Instant::now();
            let mut pace = self.pace.lock().unwrap_or_else(|e| e.into_inner());
            pace.settle(now);
            pace.waiting
                .push((now.checked_add(wait), u64::from(requests)));
        }
        if let Some((job, timeout)) = self.job
            && wait >= timeout
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            // Only a tag of the key: a connector's key can be its site's URL (review68 L4).
            tracing::warn!(
                job,
                key = %key_tag(key),
                wait_secs = wait.as_secs_f64(),
                timeout_secs = timeout.as_secs(),
                "the next slot of this credential is {}s away (its queue, or a wait the \
                 service asked for), longer than the job's timeout_secs: the attempt stops \
                 at its deadline before this request goes and is retried as rate-limited; \
                 for a queue, raise timeout_secs or run fewer jobs with this credential at once",
                wait.as_secs()
            );
        }
    }

    fn note_wait(&self, wait: Duration) {
        if wait.is_zero() {
            return;
        }
        let began = Instant::now();
        // Begun after the run's deadline: it did not hold the run there (review68 L2).
        if self
            .deadline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|deadline| began > deadline)
        {
            return;
        }
        let wait = Wait {
            began,
            ends: began.checked_add(wait),
            until: crate::worker::later(wait),
            len: wait,
        };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|l| ends_before(l, wait)) {
            *last = Some(wait);
        }
    }
}

/// Whether wait `a` ends before wait `b` on the monotonic clock (a wait past the clock's
/// range never ends): which of two waits is the latest is not the wall clock's to say
/// (review70 L2: a step back of the wall clock kept an earlier wait as the latest, and a
/// deadline inside the later one was not held).
fn ends_before(a: Wait, b: Wait) -> bool {
    match (a.ends, b.ends) {
        (Some(a), Some(b)) => a < b,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// `ms` as a duration, zero when negative or not a number, the longest one past that.
fn millis(ms: f64) -> chrono::TimeDelta {
    let d = Duration::try_from_secs_f64(ms / 1000.0).unwrap_or_default();
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

/// Whether a gate whose latest wait is `last` held its job back at `at` (see
/// [`SqlRateGate::holds_back_at`]).
fn held_at(last: Option<Wait>, long: Duration, at: Instant) -> bool {
    last.is_some_and(|w| {
        let slack = at.checked_sub(Duration::from_secs(1)).unwrap_or(at);
        w.len >= long && w.began <= at && w.ends.is_none_or(|ends| ends >= slack)
    })
}

#[async_trait]
impl RateGate for SqlRateGate {
    async fn acquire(&self, key: &str, min_interval: Duration) -> Result<Duration> {
        let wait = self.reserve(key, min_interval).await?;
        self.handed(key, wait, 1);
        Ok(wait)
    }

    /// One slot `permits` intervals long, as core's default, but the wait noted (for
    /// [`limited_until`](SqlRateGate::limited_until), and whether the gate holds its job
    /// back) is the one returned, for the last permit: the default noted only the first's
    /// (review64 L3: a batch of 20 on a 3 s interval waited about 58 s, 1 s was noted).
    async fn acquire_many(
        &self,
        key: &str,
        min_interval: Duration,
        permits: NonZeroU32,
    ) -> Result<Duration> {
        let n = permits.get();
        let first = self.reserve(key, min_interval.saturating_mul(n)).await?;
        let wait = first.saturating_add(min_interval.saturating_mul(n - 1));
        self.handed(key, wait, n);
        Ok(wait)
    }

    /// Counts the retry, so that it is not taken for a new request, and a throttled retry's
    /// wait (a bare 429's backoff, a `Retry-After` also deferred here) as one the service
    /// imposed: a deadline inside it is held (review61 M4). A 5xx's backoff is an outage's,
    /// not a throttle: not noted.
    fn retrying(&self, _key: &str, permits: NonZeroU32, wait: Duration, throttled: bool) {
        self.pace.lock().unwrap_or_else(|e| e.into_inner()).retries += u64::from(permits.get());
        if throttled {
            self.note_wait(wait);
        }
    }

    async fn defer(&self, key: &str, wait: Duration) -> Result<()> {
        let wait = wait.min(self.max_wait);
        if wait.is_zero() {
            // Nothing to push out (with `max_wait` zero, nothing ever is): the row, and the
            // queue of slots it holds, stays as it is.
            return Ok(());
        }
        let done = match &self.db.pool {
            Pool::Sqlite(pool) => sqlx::query(DEFER_SQLITE)
                .bind(key)
                .bind(wait.as_secs_f64() * 1000.0 / MS_PER_DAY)
                .bind(self.max_wait.as_secs_f64() * 1000.0 / MS_PER_DAY)
                .bind(LONGEST_WAIT.as_secs_f64() * 1000.0 / MS_PER_DAY)
                .execute(pool)
                .await
                .map(drop),
            Pool::Postgres(pool) => sqlx::query(DEFER_PG)
                .bind(key)
                .bind(wait.as_secs_f64())
                .bind(self.max_wait.as_secs_f64())
                .bind(LONGEST_WAIT.as_secs_f64())
                .execute(pool)
                .await
                .map(drop),
        };
        done.map_err(|e| self.db.error("cannot record a rate limit's wait in", &e))?;
        self.note_wait(wait);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Held" is judged at the deadline (review64 L4) from the latest wait's start, end and
    /// length, on the monotonic clock (review68 L2).
    #[test]
    fn a_long_wait_holds_back_at_a_deadline_it_spans() {
        // Far enough from the clock's start that the waits below begin after it.
        let deadline = Instant::now() + Duration::from_secs(3600);
        let at = |s: f64| {
            let d = Duration::from_secs_f64(s.abs());
            if s < 0.0 { deadline - d } else { deadline + d }
        };
        let long = Duration::from_secs(60);
        let wait = |ends_after: f64, len: u64| {
            let ends = at(ends_after);
            Some(Wait {
                began: ends - Duration::from_secs(len),
                ends: Some(ends),
                until: Utc::now(),
                len: Duration::from_secs(len),
            })
        };
        // A 90 s wait that ends half a second after the deadline held it back, however long
        // the teardown after the deadline took (judged 2.5 s later, it no longer holds).
        assert!(held_at(wait(0.5, 90), long, deadline));
        assert!(!held_at(wait(0.5, 90), long, at(2.5)));
        // Ended within the second before the deadline: the slack of a deadline that fires
        // as the wait ends; more than a second before: the attempt was doing something else.
        assert!(held_at(wait(-0.8, 90), long, deadline));
        assert!(!held_at(wait(-1.2, 90), long, deadline));
        // A short wait (a paced client's slot) never holds back.
        assert!(!held_at(wait(0.5, 59), long, deadline));
        assert!(held_at(wait(0.5, 60), long, deadline));
        // A wait that began after the deadline did not hold it.
        assert!(!held_at(wait(70.0, 60), long, deadline));
        assert!(held_at(wait(59.0, 60), long, deadline));
        assert!(!held_at(None, long, deadline));
        // A wait too long for the monotonic clock never ends.
        let endless = Wait {
            began: deadline,
            ends: None,
            until: Utc::now(),
            len: Duration::MAX,
        };
        assert!(held_at(Some(endless), long, deadline));
    }

    /// Once the run's deadline has passed, a wait begun after it is not noted: it cannot
    /// replace the wait that held the run at its deadline (review68 L2).
    #[tokio::test]
    async fn a_wait_begun_after_the_deadline_is_not_noted() -> Result<()> {
        let dir =
            tempfile::tempdir().map_err(|e| connector_core::Error::internal(e.to_string()))?;
        let db =
            SyncDb::connect(&format!("sqlite:{}", dir.path().join("sync.db").display())).await?;
        let gate = SqlRateGate::new(db).for_job(1, Duration::from_secs(10));
        // A monotonic clock that started less than 11 s ago (a fresh VM) cannot say so: the
        // test has nothing to check there (review70 L5: `-` panicked).
        let Some(start) = Instant::now().checked_sub(Duration::from_secs(11)) else {
            return Ok(());
        };
        gate.run_started(start);
        gate.note_wait(Duration::from_secs(120));
        assert!(
            gate.last
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none()
        );
        // The run restarted (a checkpoint it could not read): its deadline is ahead again.
        gate.run_started(Instant::now());
        gate.note_wait(Duration::from_secs(120));
        assert!(gate.holds_back_at(Duration::from_secs(60), Instant::now()));
        Ok(())
    }

    /// Which wait is the latest is judged on the monotonic clock (review70 L2): a wait
    /// whose wall end is earlier (the wall clock stepped back between the two notes) but
    /// whose monotonic end is later replaces the one before.
    #[test]
    fn the_latest_wait_is_chosen_by_the_monotonic_clock() {
        let now = Instant::now();
        let wall = Utc::now();
        let first = Wait {
            began: now,
            ends: Some(now + Duration::from_secs(90)),
            until: wall + chrono::Duration::seconds(90),
            len: Duration::from_secs(90),
        };
        // Noted 10 s later, 83 s long, after a 5 s step back: wall end 88 s, monotonic 93 s.
        let second = Wait {
            began: now + Duration::from_secs(10),
            ends: Some(now + Duration::from_secs(93)),
            until: wall + chrono::Duration::seconds(88),
            len: Duration::from_secs(83),
        };
        assert!(second.until < first.until);
        assert!(ends_before(first, second));
        assert!(!ends_before(second, first));
        let endless = Wait {
            ends: None,
            ..second
        };
        assert!(ends_before(first, endless));
        assert!(!ends_before(endless, first));
        assert!(!ends_before(endless, endless));
    }

    /// The first tries between two pages (review64 M2, review68 M1, M2): a slot counts once
    /// its wait is over, a retry is no new request, a page starts the count again and keeps
    /// the most; without that most (no page yet) nothing is a loop.
    #[tokio::test]
    async fn first_tries_between_pages_are_counted() -> Result<()> {
        let dir =
            tempfile::tempdir().map_err(|e| connector_core::Error::internal(e.to_string()))?;
        let db =
            SyncDb::connect(&format!("sqlite:{}", dir.path().join("sync.db").display())).await?;
        let gate = SqlRateGate::new(db);
        let now = || Instant::now();
        // No page seen yet: however many requests, no loop.
        for _ in 0..50 {
            gate.handed("k", Duration::ZERO, 1);
        }
        assert_eq!(gate.loops_at(now()), None);
        // The first page took those 50 (the run's start counts as a page).
        gate.page_read();
        assert_eq!(gate.pace_to_store(), Some(50));
        gate.page_read();
        assert_eq!(gate.pace_to_store(), Some(50), "the most is kept");
        // A stored most counts as seen, and is not stored again.
        let gate = SqlRateGate::new(gate.db);
        gate.seed_pace(3);
        assert_eq!(gate.pace_to_store(), None);
        for _ in 0..6 {
            gate.handed("k", Duration::ZERO, 1);
        }
        assert_eq!(gate.loops_at(now()), None, "6 is twice 3: no loop");
        // Retries (a 5xx's, a 429's) are not new requests.
        gate.handed("k", Duration::ZERO, 1);
        gate.retrying("k", NonZeroU32::MIN, Duration::from_millis(1), false);
        gate.handed("k", Duration::ZERO, 1);
        gate.retrying("k", NonZeroU32::MIN, Duration::from_millis(1), true);
        assert_eq!(gate.loops_at(now()), None);
        // Eight concurrent downloads whose slots are 5 minutes out were not answered.
        for _ in 0..8 {
            gate.handed("k", Duration::from_secs(300), 1);
        }
        assert_eq!(gate.loops_at(now()), None);
        // ... by a deadline 5 minutes on, they were.
        assert_eq!(
            gate.loops_at(now() + Duration::from_secs(301)),
            Some((14, 3))
        );
        gate.handed("k", Duration::ZERO, 1);
        assert_eq!(gate.loops_at(now()), Some((7, 3)), "7 is more than twice 3");
        // A page starts the count again; the slots still waited for count toward the next.
        gate.page_read();
        assert_eq!(gate.pace_to_store(), Some(7));
        assert_eq!(gate.loops_at(now()), None);
        assert_eq!(
            gate.loops_at(now() + Duration::from_secs(301)),
            None,
            "8 is not more than twice 7"
        );
        // However small the most, a loop takes at least LOOP_FLOOR requests.
        let gate = SqlRateGate::new(gate.db);
        gate.seed_pace(1);
        for _ in 0..LOOP_FLOOR - 1 {
            gate.handed("k", Duration::ZERO, 1);
        }
        assert_eq!(gate.loops_at(now()), None);
        gate.handed("k", Duration::ZERO, 1);
        assert_eq!(gate.loops_at(now()), Some((LOOP_FLOOR, 1)));
        // A batch counts as its permits (review68 M1: Graph resends a throttled batch's
        // members one by one, 20 single requests after a batch of 20), and so does its retry.
        let gate = SqlRateGate::new(gate.db);
        gate.handed("k", Duration::ZERO, 1);
        gate.handed("k", Duration::ZERO, 20);
        gate.page_read();
        assert_eq!(gate.pace_to_store(), Some(21));
        gate.handed("k", Duration::ZERO, 1);
        gate.handed("k", Duration::ZERO, 20);
        let twenty = NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN);
        gate.retrying("k", twenty, Duration::ZERO, false);
        gate.handed("k", Duration::ZERO, 20);
        for _ in 0..20 {
            gate.handed("k", Duration::ZERO, 1);
        }
        assert_eq!(gate.loops_at(now()), None, "41 is not more than twice 21");
        gate.handed("k", Duration::ZERO, 2);
        assert_eq!(gate.loops_at(now()), Some((43, 21)));
        Ok(())
    }

    /// What `run` logs, as text.
    fn logged(run: impl FnOnce()) -> String {
        let buffer = std::sync::Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Writer(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, run);
        let bytes = buffer.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    struct Writer(std::sync::Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A slot at least the job's `timeout_secs` away is logged once per gate (one a job
    /// attempt), and a shorter one never (review68 L6.6: neither the "once" nor the bound
    /// was pinned).
    #[tokio::test]
    async fn a_slot_past_the_timeout_is_logged_once() -> Result<()> {
        let dir =
            tempfile::tempdir().map_err(|e| connector_core::Error::internal(e.to_string()))?;
        let db =
            SyncDb::connect(&format!("sqlite:{}", dir.path().join("sync.db").display())).await?;
        let gate = SqlRateGate::new(db.clone()).for_job(7, Duration::from_secs(10));
        let text = logged(|| {
            gate.handed("k", Duration::from_secs(9), 1);
            gate.handed("k", Duration::from_secs(10), 1);
            gate.handed("k", Duration::from_secs(30), 1);
        });
        assert_eq!(
            text.matches("the next slot of this credential").count(),
            1,
            "{text}"
        );
        assert!(text.contains("is 10s away"), "{text}");
        let short = SqlRateGate::new(db).for_job(8, Duration::from_secs(10));
        let text = logged(|| short.handed("k", Duration::from_secs(6), 1));
        assert!(text.is_empty(), "{text}");
        Ok(())
    }

    /// The key a warning names is a short hash: a connector's key may hold a URL's password.
    #[test]
    fn a_logged_key_is_a_short_hash() {
        let tag = key_tag("moodle:https://sync:pa55@moodle.example.edu/");
        assert_eq!(tag.len(), 8);
        assert!(tag.chars().all(|c| c.is_ascii_hexdigit()), "{tag}");
        assert_ne!(tag, key_tag("moodle:https://moodle.example.edu/"));
    }
}
