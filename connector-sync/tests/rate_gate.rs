//! `SqlRateGate` shared by two HTTP clients (two workers) against a wiremock server, on SQLite
//! (two pools on one file, as two processes) and on a real PostgreSQL: the requests of one
//! credential keep the interval across both clients, and a 429's `Retry-After` holds both back.

#![allow(clippy::unwrap_used)] // Tests: a bad fixture should fail loudly.

mod support;

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connector_core::Secret;
use connector_core::http::{Auth, HttpClient};
use connector_sync::{SqlRateGate, SyncDb};
use url::Url;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The spacing the clients' rate limit asks for (one request per this).
const INTERVAL: Duration = Duration::from_millis(200);
/// How much earlier than the interval a request may arrive: the time between the database
/// handing out a slot and the request reaching the server differs between the two clients by
/// scheduling, which on a loaded 2-core machine (CI beside other builds) was seen at 90 ms.
/// What the test tells apart is a shared gate (gaps near the interval) from none (gaps
/// under a millisecond), so half the interval is slack enough and still far from zero.
const SLACK: Duration = Duration::from_millis(100);

/// Answers 200 (or 429 with `Retry-After: 1` to the first request when `throttle_first`) and
/// notes when each request arrived.
#[derive(Clone, Default)]
struct Stamps {
    at: Arc<Mutex<Vec<Instant>>>,
    count: Arc<AtomicUsize>,
    throttle_first: bool,
}

impl Respond for Stamps {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        self.at.lock().unwrap().push(Instant::now());
        if self.throttle_first && self.count.fetch_add(1, Ordering::SeqCst) == 0 {
            ResponseTemplate::new(429).insert_header("retry-after", "1")
        } else {
            ResponseTemplate::new(200)
        }
    }
}

impl Stamps {
    fn sorted(&self) -> Vec<Instant> {
        let mut at = self.at.lock().unwrap().clone();
        at.sort();
        at
    }
}

async fn server(stamps: &Stamps) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(stamps.clone())
        .mount(&server)
        .await;
    server
}

/// A worker's client: the credential `token`, one request per [`INTERVAL`], and `gate`.
fn client(token: &str, gate: Option<SqlRateGate>) -> HttpClient {
    let builder = HttpClient::builder("test")
        .auth(Auth::Bearer(Secret::new(token)), "credentials.token")
        .rate_limit(NonZeroU32::MIN, INTERVAL);
    match gate {
        Some(gate) => builder.rate_gate(Arc::new(gate)).build().unwrap(),
        None => builder.build().unwrap(),
    }
}

/// Two clients sending `each` requests at once; the smallest gap between arrivals and the
/// time from the first to the last.
async fn two_workers(a: HttpClient, b: HttpClient, each: usize) -> (Duration, Duration) {
    let stamps = Stamps::default();
    let server = server(&stamps).await;
    let url = Url::parse(&format!("{}/items", server.uri())).unwrap();
    let send = |client: HttpClient, url: Url| async move {
        for _ in 0..each {
            client.get(url.clone()).send().await.unwrap();
        }
    };
    tokio::join!(send(a, url.clone()), send(b, url));
    let at = stamps.sorted();
    assert_eq!(at.len(), 2 * each);
    let gaps = at.windows(2).map(|w| w[1] - w[0]);
    (gaps.min().unwrap(), at[at.len() - 1] - at[0])
}

async fn the_interval_holds_across_workers(db_a: SyncDb, db_b: SyncDb) {
    let token = support::unique_id("token");
    let a = client(&token, Some(SqlRateGate::new(db_a)));
    let b = client(&token, Some(SqlRateGate::new(db_b)));
    let (min_gap, span) = two_workers(a, b, 5).await;
    assert!(min_gap >= INTERVAL - SLACK, "smallest gap {min_gap:?}");
    // Ten requests, nine intervals.
    assert!(span >= INTERVAL * 9 - SLACK, "span {span:?}");
}

async fn a_429_holds_back_every_worker(db_a: SyncDb, db_b: SyncDb) {
    let token = support::unique_id("token");
    let stamps = Stamps {
        throttle_first: true,
        ..Stamps::default()
    };
    let server = server(&stamps).await;
    let url = Url::parse(&format!("{}/items", server.uri())).unwrap();
    // No spacing asked: only the service's wait is shared.
    let gate_b = Arc::new(SqlRateGate::new(db_b));
    let a = HttpClient::builder("test")
        .auth(Auth::Bearer(Secret::new(&token)), "credentials.token")
        .rate_gate(Arc::new(SqlRateGate::new(db_a)))
        .build()
        .unwrap();
    let b = HttpClient::builder("test")
        .auth(Auth::Bearer(Secret::new(&token)), "credentials.token")
        .rate_gate(gate_b.clone())
        .build()
        .unwrap();

    // Worker A meets the 429 and waits out its Retry-After.
    let a_url = url.clone();
    let a_task = tokio::spawn(async move { a.get(a_url).send().await.map(|r| r.status()) });
    while stamps.at.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let throttled_at = stamps.sorted()[0];
    // The wait is in the database (the deferral follows the answer by a moment).
    let key = b.rate_gate_key(&url);
    let mut until = None;
    for _ in 0..100 {
        until = gate_b.next_free(&key).await.unwrap();
        if until.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let until = until.unwrap();
    let ahead = until - chrono::Utc::now();
    assert!(
        ahead > chrono::TimeDelta::milliseconds(700) && ahead <= chrono::TimeDelta::seconds(1),
        "rate-limited for {ahead:?} more"
    );

    // Worker B, which never saw a 429, waits too.
    b.get(url).send().await.unwrap();
    assert!(gate_b.limited_until().is_none(), "the wait is over");
    assert_eq!(a_task.await.unwrap().unwrap().as_u16(), 200);
    let at = stamps.sorted();
    assert_eq!(at.len(), 3);
    for later in &at[1..] {
        let after = *later - throttled_at;
        assert!(
            after >= Duration::from_millis(950),
            "sent {after:?} after the 429"
        );
    }
}

async fn sqlite_pair(dir: &tempfile::TempDir) -> (SyncDb, SyncDb) {
    let url = format!("sqlite:{}", dir.path().join("sync.db").display());
    // Two pools on one file: two processes' worth of connections.
    let a = SyncDb::connect(&url).await.unwrap();
    let b = SyncDb::connect(&url).await.unwrap();
    (a, b)
}

async fn postgres_pair() -> (SyncDb, SyncDb) {
    let url = support::postgres::url();
    (
        SyncDb::connect(url).await.unwrap(),
        SyncDb::connect(url).await.unwrap(),
    )
}

#[tokio::test]
async fn sqlite_two_workers_keep_the_interval_together() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = sqlite_pair(&dir).await;
    the_interval_holds_across_workers(a, b).await;
}

#[tokio::test]
async fn without_a_gate_two_workers_send_twice_the_rate() {
    // The control: each client keeps its own rate, so together they send in pairs.
    let token = support::unique_id("token");
    let (min_gap, span) = two_workers(client(&token, None), client(&token, None), 5).await;
    assert!(min_gap < INTERVAL / 2, "smallest gap {min_gap:?}");
    assert!(span < INTERVAL * 5, "span {span:?}");
}

#[tokio::test]
async fn sqlite_a_429_holds_back_both_workers() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = sqlite_pair(&dir).await;
    a_429_holds_back_every_worker(a, b).await;
}

#[tokio::test]
async fn postgres_two_workers_keep_the_interval_together() {
    let (a, b) = postgres_pair().await;
    the_interval_holds_across_workers(a, b).await;
}

#[tokio::test]
async fn postgres_a_429_holds_back_both_workers() {
    let (a, b) = postgres_pair().await;
    a_429_holds_back_every_worker(a, b).await;
}

#[tokio::test]
async fn many_acquires_at_once_get_distinct_slots() {
    // Eight callers on each backend at once: the slots they are given are all an interval apart.
    let dir = tempfile::tempdir().unwrap();
    let (sqlite, _) = sqlite_pair(&dir).await;
    let (pg, _) = postgres_pair().await;
    for db in [sqlite, pg] {
        use connector_core::rate::RateGate;
        let key = support::unique_id("key");
        let gate = Arc::new(SqlRateGate::new(db));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (gate, key) = (gate.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                gate.acquire(&key, Duration::from_millis(100))
                    .await
                    .unwrap()
            }));
        }
        let mut waits = Vec::new();
        for task in tasks {
            waits.push(task.await.unwrap());
        }
        waits.sort();
        assert!(waits[0] < Duration::from_millis(50), "{waits:?}");
        assert!(waits[7] >= Duration::from_millis(500), "{waits:?}");
        for pair in waits.windows(2) {
            // Each took its slot at its own moment, so a later caller's wait is shorter by the
            // time between them; distinct slots leave most of the interval.
            assert!(pair[1] - pair[0] >= Duration::from_millis(50), "{waits:?}");
        }
        assert!(gate.limited_until().is_some());
    }
}

/// A [`SqlRateGate`] that also notes the keys it is asked for.
#[derive(Debug)]
struct Noting(SqlRateGate, Mutex<Vec<String>>);

#[async_trait::async_trait]
impl connector_core::rate::RateGate for Noting {
    async fn acquire(&self, key: &str, min_interval: Duration) -> connector_core::Result<Duration> {
        self.1.lock().unwrap().push(key.to_owned());
        self.0.acquire(key, min_interval).await
    }

    async fn defer(&self, key: &str, wait: Duration) -> connector_core::Result<()> {
        self.0.defer(key, wait).await
    }
}

#[tokio::test]
async fn a_syncer_lends_its_gate_to_the_connectors_http_client() {
    use connector_core::sync::{SyncMode, Syncer};
    use serde_json::json;
    use wiremock::matchers::{method, path};

    let server = MockServer::start().await;
    let updated = "2026-01-01T00:00:00Z";
    Mock::given(method("GET"))
        .and(path("/api/notes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "notes": [{"id": "n1", "updated": updated}, {"id": "n2", "updated": updated}]
        })))
        .mount(&server)
        .await;
    for id in ["n1", "n2"] {
        Mock::given(method("GET"))
            .and(path(format!("/api/notes/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": id, "title": id, "body": "text", "updated": updated
            })))
            .mount(&server)
            .await;
    }
    let token = support::unique_id("notes-token");
    let config = serde_json::from_value(json!({
        "base_url": format!("{}/api/", server.uri()),
        "credentials": {"token": token}
    }))
    .unwrap();
    let connector = connector_example_notes::NotesConnector::new(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = sqlite_pair(&dir).await;
    let gate = Arc::new(Noting(SqlRateGate::new(db), Mutex::new(Vec::new())));
    let report = Syncer::new(Arc::new(connector))
        .rate_gate(gate.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.new, 2);
    let keys = gate.1.lock().unwrap().clone();
    assert_eq!(
        keys.len() as u64,
        report.requests,
        "every request asked the gate"
    );
    assert!(
        keys.iter()
            .all(|k| k == &keys[0] && k.starts_with("notes:"))
    );
    assert!(!keys[0].contains(&token));
}

/// A hostile wait given to `defer` (a `Retry-After` of `u64::MAX` seconds, or `Duration::MAX`,
/// from a client whose own cap was raised) is cut to the gate's `max_wait` (1 h by default):
/// no error from the database, no panic, and the key is free again an hour later, not in
/// year 30 000 (review36 F1).
async fn a_huge_wait_is_cut_to_max_wait(db: SyncDb) {
    use connector_core::rate::RateGate;
    for (wait, gate) in [
        (Duration::from_secs(86_400), SqlRateGate::new(db.clone())),
        (Duration::from_secs(u64::MAX), SqlRateGate::new(db.clone())),
        (
            Duration::MAX,
            SqlRateGate::new(db.clone()).max_wait(Duration::MAX),
        ),
    ] {
        let key = support::unique_id("huge");
        gate.defer(&key, wait).await.unwrap();
        let free = gate.next_free(&key).await.unwrap().expect("held back");
        let cap = if wait == Duration::MAX {
            chrono::Duration::days(365)
        } else {
            chrono::Duration::hours(1)
        };
        let now = chrono::Utc::now();
        let slack = chrono::Duration::seconds(5);
        assert!(
            free > now + cap - slack && free < now + cap + slack,
            "{wait:?}: free at {free}, now {now}"
        );
        let until = gate.limited_until().expect("noted");
        assert!(until > now + cap - slack && until < now + cap + slack);
    }
}

#[tokio::test]
async fn sqlite_a_huge_wait_is_cut_to_max_wait() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = sqlite_pair(&dir).await;
    a_huge_wait_is_cut_to_max_wait(a).await;
}

#[tokio::test]
async fn postgres_a_huge_wait_is_cut_to_max_wait() {
    let (a, _b) = postgres_pair().await;
    a_huge_wait_is_cut_to_max_wait(a).await;
}

/// Writes `key`'s row as an older version could have: `next_at` given as text.
async fn write_row(url: &str, key: &str, next_at: &str) {
    use sqlx::Connection as _;
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO rate_limit (key, next_at) VALUES ('{key}', '{next_at}')"
    ));
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

/// A key's row only grows (a longer `defer` pushes it out, a shorter one leaves it), and a
/// row further out than the gate's `max_wait`, as an older version wrote them (year 3000, and
/// on SQLite past year 9999, which `julianday` cannot read: the gate was off for that key), is
/// cut to `max_wait` from now on read, by `acquire` and by `defer` (issue 17, review41 R5).
async fn a_row_grows_up_to_max_wait(db: SyncDb, url: &str) {
    use connector_core::rate::RateGate;
    let gate = SqlRateGate::new(db);
    let about = |t: Option<chrono::DateTime<chrono::Utc>>, d: chrono::Duration| {
        let now = chrono::Utc::now();
        let slack = chrono::Duration::seconds(5);
        t.is_some_and(|t| t > now + d - slack && t < now + d + slack)
    };
    let minutes = |n| chrono::Duration::minutes(n);
    let key = support::unique_id("grow");
    gate.defer(&key, Duration::from_secs(60)).await.unwrap();
    assert!(about(gate.next_free(&key).await.unwrap(), minutes(1)));
    gate.defer(&key, Duration::from_secs(600)).await.unwrap();
    assert!(
        about(gate.next_free(&key).await.unwrap(), minutes(10)),
        "grew"
    );
    gate.defer(&key, Duration::from_secs(30)).await.unwrap();
    assert!(
        about(gate.next_free(&key).await.unwrap(), minutes(10)),
        "kept"
    );

    let mut far = vec!["3000-01-01T00:00:00.000Z"];
    if !url.starts_with("postgres") {
        far.push("10000-01-01T00:00:00.000Z");
    }
    for at in far {
        let read = support::unique_id("far");
        write_row(url, &read, at).await;
        assert!(
            about(gate.next_free(&read).await.unwrap(), minutes(60)),
            "{at}"
        );
        // Cut in the table, not only in the answer: read again, it is where it was cut.
        assert!(
            about(gate.next_free(&read).await.unwrap(), minutes(60)),
            "{at}"
        );
        let acquired = support::unique_id("far");
        write_row(url, &acquired, at).await;
        let wait = gate
            .acquire(&acquired, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(
            wait > Duration::from_secs(3595) && wait < Duration::from_secs(3605),
            "{at}: {wait:?}"
        );
        let deferred = support::unique_id("far");
        write_row(url, &deferred, at).await;
        gate.defer(&deferred, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(
            about(gate.next_free(&deferred).await.unwrap(), minutes(60)),
            "{at}"
        );
    }
}

#[tokio::test]
async fn sqlite_a_row_grows_up_to_max_wait() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = sqlite_pair(&dir).await;
    let url = format!("sqlite:{}", dir.path().join("sync.db").display());
    a_row_grows_up_to_max_wait(a, &url).await;
}

#[tokio::test]
async fn postgres_a_row_grows_up_to_max_wait() {
    let (a, _b) = postgres_pair().await;
    a_row_grows_up_to_max_wait(a, support::postgres::url()).await;
}

/// Eight back-to-back `acquire(…, 1 s)` from two gates (two workers) whose `max_wait` is `cap`:
/// each is given its own slot, 1 s after the one before, however far the queue of slots runs
/// past `cap` (review56 H1: the queue was cut at `max_wait`, so with `max_wait` zero every
/// caller got the slot "now", and with 3 s the fifth and later callers shared one).
async fn the_queue_runs_past_max_wait(a: SyncDb, b: SyncDb, url: &str, cap: Duration) {
    use connector_core::rate::RateGate;
    let gates = [
        SqlRateGate::new(a).max_wait(cap),
        SqlRateGate::new(b).max_wait(cap),
    ];
    let key = support::unique_id("queue");
    // The end of the queue as the table holds it after each call (the slot taken plus one
    // interval), by the database's clock: the gaps do not depend on how long each call took
    // to come back, which a loaded machine stretched past the old 100 ms margin (review61
    // Q6.10).
    let mut ends = Vec::new();
    for i in 0..8 {
        gates[i % 2]
            .acquire(&key, Duration::from_secs(1))
            .await
            .unwrap();
        ends.push(row_ms(url, &key).await);
    }
    for pair in ends.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            (995.0..1005.0).contains(&gap),
            "max_wait {cap:?}: gap {gap} ms in {:?}",
            ends.iter().map(|e| e - ends[0]).collect::<Vec<_>>()
        );
    }
}

/// `key`'s `next_at` in ms since the epoch, read from the table.
async fn row_ms(url: &str, key: &str) -> f64 {
    use sqlx::Connection as _;
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(
            "SELECT (EXTRACT(EPOCH FROM next_at) * 1000)::float8 FROM rate_limit WHERE key = $1",
        )
        .bind(key)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(
            "SELECT (julianday(next_at) - 2440587.5) * 86400000.0 FROM rate_limit WHERE key = ?1",
        )
        .bind(key)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    }
}

/// A queue (or hold) nearer than a year is not cut in the table by a gate with a shorter
/// `max_wait`: `acquire` queues behind it, `defer` keeps it, and only `next_free`'s answer is
/// capped at `max_wait` (review56 H1).
async fn a_near_row_is_kept(db: SyncDb, url: &str) {
    use connector_core::rate::RateGate;
    let gate = SqlRateGate::new(db).max_wait(Duration::from_secs(3600));
    let in_two_hours = (chrono::Utc::now() + chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let key = support::unique_id("near");
    write_row(url, &key, &in_two_hours).await;
    let free = gate.next_free(&key).await.unwrap().expect("held");
    let hour = chrono::Utc::now() + chrono::Duration::hours(1);
    assert!(
        (free - hour).num_seconds().abs() < 5,
        "answer capped: {free}"
    );
    gate.defer(&key, Duration::from_secs(60)).await.unwrap();
    let wait = gate.acquire(&key, Duration::from_secs(1)).await.unwrap();
    assert!(
        wait > Duration::from_secs(7195) && wait < Duration::from_secs(7205),
        "queued behind the 2 h row: {wait:?}"
    );
}

#[tokio::test]
async fn sqlite_the_queue_runs_past_max_wait() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = sqlite_pair(&dir).await;
    let url = format!("sqlite:{}", dir.path().join("sync.db").display());
    for cap in [Duration::ZERO, Duration::from_secs(3)] {
        the_queue_runs_past_max_wait(a.clone(), b.clone(), &url, cap).await;
    }
    a_near_row_is_kept(a, &url).await;
}

#[tokio::test]
async fn postgres_the_queue_runs_past_max_wait() {
    let (a, b) = postgres_pair().await;
    for cap in [Duration::ZERO, Duration::from_secs(3)] {
        the_queue_runs_past_max_wait(a.clone(), b.clone(), support::postgres::url(), cap).await;
    }
    a_near_row_is_kept(a, support::postgres::url()).await;
}

/// What a gate knows of its own waits, and what it leaves in the table (review61 Q6.2 to
/// Q6.4, review56 T1: these mutations survived, since every answer is capped at `max_wait`
/// anyway):
/// - a read-only `acquire` (`min_interval` zero) that must wait out another worker's
///   `defer`, a `defer` of this gate, and an `acquire_many`'s whole wait, each set
///   [`SqlRateGate::limited_until`] (a job's "rate-limited until T");
/// - a row no version could have written (year 3000) is cut in the table to now + `max_wait`
///   by `next_free` and by `defer`, not only in their answers.
async fn a_gate_notes_its_waits_and_cuts_far_rows_in_the_table(db: SyncDb, url: &str) {
    use connector_core::rate::RateGate;
    let hour = Duration::from_secs(3600);
    let near = |t: Option<chrono::DateTime<chrono::Utc>>, d: Duration| {
        let want = chrono::Utc::now() + chrono::Duration::from_std(d).unwrap();
        t.is_some_and(|t| (t - want).num_seconds().abs() < 5)
    };
    let key = support::unique_id("noted");
    let other = SqlRateGate::new(db.clone());
    other.defer(&key, hour).await.unwrap();
    let reader = SqlRateGate::new(db.clone());
    let wait = reader.acquire(&key, Duration::ZERO).await.unwrap();
    assert!(wait > Duration::from_secs(3590), "{wait:?}");
    assert!(
        near(reader.limited_until(), hour),
        "a read-only acquire's wait is noted"
    );
    let deferring = SqlRateGate::new(db.clone());
    deferring
        .defer(&support::unique_id("own"), Duration::from_secs(600))
        .await
        .unwrap();
    assert!(
        near(deferring.limited_until(), Duration::from_secs(600)),
        "a defer's wait is noted"
    );
    // A batch the service counts as 20 requests, on a 60 s interval: its request goes with
    // its last permit, 19 intervals on, and that is the wait noted (review64 L3: the trait's
    // default noted the first permit's, here none at all).
    let batching = SqlRateGate::new(db.clone());
    let twenty = NonZeroU32::new(20).unwrap();
    let minute = Duration::from_secs(60);
    let wait = batching
        .acquire_many(&support::unique_id("batch"), minute, twenty)
        .await
        .unwrap();
    assert!(
        wait >= minute * 19 && wait < minute * 19 + Duration::from_secs(1),
        "{wait:?}"
    );
    assert!(
        near(batching.limited_until(), minute * 19),
        "a batch's whole wait is noted: {:?}",
        batching.limited_until()
    );

    let gate = SqlRateGate::new(db).max_wait(hour);
    let epoch_ms = |d: Duration| {
        (chrono::Utc::now() + chrono::Duration::from_std(d).unwrap()).timestamp_millis() as f64
    };
    for how in ["next_free", "defer"] {
        let key = support::unique_id("far");
        write_row(url, &key, "3000-01-01T00:00:00.000Z").await;
        if how == "next_free" {
            gate.next_free(&key).await.unwrap();
        } else {
            gate.defer(&key, Duration::from_secs(60)).await.unwrap();
        }
        let row = row_ms(url, &key).await;
        assert!(
            (row - epoch_ms(hour)).abs() < 5_000.0,
            "{how}: the year-3000 row is cut to max_wait in the table, at {row} ms"
        );
    }
}

#[tokio::test]
async fn sqlite_a_gate_notes_its_waits_and_cuts_far_rows_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = sqlite_pair(&dir).await;
    let url = format!("sqlite:{}", dir.path().join("sync.db").display());
    a_gate_notes_its_waits_and_cuts_far_rows_in_the_table(a, &url).await;
}

#[tokio::test]
async fn postgres_a_gate_notes_its_waits_and_cuts_far_rows_in_the_table() {
    let (a, _b) = postgres_pair().await;
    a_gate_notes_its_waits_and_cuts_far_rows_in_the_table(a, support::postgres::url()).await;
}
