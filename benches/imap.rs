//! The IMAP connector end to end on a real dovecot (install it with `bash .ci/test-servers.sh`;
//! the server and its seeding are the tests', `connector-misc/tests/dovecot/mod.rs`). Not run
//! in CI: `cargo bench --bench imap`.
//!
//! `IMAP_BENCH_MESSAGES` (default 2,000) text messages of about 4 KiB, appended through IMAP:
//! - a full sync (`Syncer`, `SyncMode::Full`, `DiscardSink`) in messages/s, against a raw
//!   loop over the same messages with the same page size on one async-imap session, in the
//!   same run; target: within 1.5x. The raw loop ([`raw`]) sends what a full run of the
//!   connector sends (login, `EXAMINE`, `UID SEARCH UID 1:*`, the one `UID SEARCH UID 1:*
//!   LARGER <fold size>` of a mailbox, then `UID FETCH <50 UIDs> (UID RFC822.SIZE
//!   INTERNALDATE ENVELOPE BODYSTRUCTURE BODY.PEEK[])` per page, responses parsed by
//!   async-imap and dropped), so the ratio is the connector's own cost: the server's work
//!   for `ENVELOPE` and `BODYSTRUCTURE` (most of a session's time on dovecot) is on both
//!   sides. The ratio against the raw loop of earlier sessions, `BODY.PEEK[]` only after `UID
//!   SEARCH ALL` ([`raw_bodies`]), is printed too. Best of five rounds each, interleaved;
//! - peak heap of the connector's `load()` stream drained alone, at the count and, with
//!   `IMAP_BENCH_10X=1`, at ten times the count (a second mailbox), to show it stays flat.

#[path = "../connector-misc/tests/dovecot/mod.rs"]
mod dovecot;

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::sink::DiscardSink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{Connector, SyncContext};
use connector_misc::imap::{ImapConfig, ImapConnector};
use futures::{StreamExt, TryStreamExt};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const ROUNDS: usize = 5;
const PAGE: usize = 50;

fn message(i: usize) -> Vec<u8> {
    let para = "A paragraph of an ordinary business mail, long enough to look like one. ".repeat(8);
    let body: String = (0..7).map(|p| format!("{para}({i}.{p})\r\n\r\n")).collect();
    dovecot::text_message(
        &format!("bench-{i}@example.com"),
        &format!("Message {i}"),
        &body,
    )
}

#[allow(clippy::expect_used)] // A benchmark.
async fn seed(server: &dovecot::Dovecot, user: &str, mailbox: &str, n: usize) {
    let mut s = dovecot::login(server, user).await;
    if mailbox != "INBOX" {
        dovecot::create(&mut s, mailbox).await;
    }
    for i in 0..n {
        dovecot::append(&mut s, mailbox, &message(i), None).await;
    }
    s.logout().await.expect("logout");
}

/// What a raw loop sends per page, and whether it asks for the large messages first.
#[derive(Clone, Copy)]
enum Raw {
    /// What a full run of the connector sends: the listing items and the body in one fetch
    /// per page, after the mailbox's `UID SEARCH ... LARGER` (which finds nothing here).
    Folded,
    /// The baseline of earlier sessions: bodies only.
    Bodies,
}

/// The raw fetch of [`Raw::Folded`]: the connector's commands and pages on one session,
/// responses parsed by async-imap and dropped.
async fn raw(server: &dovecot::Dovecot, user: &str, fold_max: u64) -> (usize, u64) {
    raw_loop(server, user, Raw::Folded, fold_max).await
}

/// The raw fetch of [`Raw::Bodies`].
async fn raw_bodies(server: &dovecot::Dovecot, user: &str) -> (usize, u64) {
    raw_loop(server, user, Raw::Bodies, 0).await
}

#[allow(clippy::expect_used)] // A benchmark.
async fn raw_loop(server: &dovecot::Dovecot, user: &str, how: Raw, fold_max: u64) -> (usize, u64) {
    let mut s = dovecot::login(server, user).await;
    s.examine("INBOX").await.expect("examine");
    let (search, items) = match how {
        Raw::Folded => (
            "UID 1:*",
            "(UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE BODY.PEEK[])",
        ),
        Raw::Bodies => ("ALL", "(UID BODY.PEEK[])"),
    };
    let mut uids: Vec<u32> = s
        .uid_search(search)
        .await
        .expect("search")
        .into_iter()
        .collect();
    uids.sort_unstable();
    if matches!(how, Raw::Folded) {
        let large = s
            .uid_search(format!("UID 1:* LARGER {fold_max}"))
            .await
            .expect("search");
        assert!(large.is_empty(), "no bench message is over the fold size");
    }
    let (mut n, mut bytes) = (0, 0);
    for chunk in uids.chunks(PAGE) {
        let set: Vec<String> = chunk.iter().map(u32::to_string).collect();
        let fetched: Vec<_> = s
            .uid_fetch(set.join(","), items)
            .await
            .expect("fetch")
            .try_collect()
            .await
            .expect("fetches");
        for f in &fetched {
            n += 1;
            bytes += f.body().map_or(0, <[u8]>::len) as u64;
        }
    }
    s.logout().await.expect("logout");
    (n, bytes)
}

fn connector(config: ImapConfig) -> Arc<dyn Connector> {
    #[allow(clippy::expect_used)] // A benchmark.
    Arc::new(ImapConnector::new(config).expect("config"))
}

#[allow(clippy::expect_used)] // A benchmark.
async fn drain(c: &dyn Connector) -> usize {
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let mut n = 0;
    while let Some(page) = stream.next().await {
        n += page.expect("page").documents.len();
    }
    n
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

#[allow(clippy::print_stdout, clippy::expect_used)] // A benchmark's main.
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let n: usize = std::env::var("IMAP_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    rt.block_on(async {
        let server = dovecot::server().await;
        let user = dovecot::user("bench");
        let seeded = Instant::now();
        seed(server, &user, "INBOX", n).await;
        println!("seeded {n} messages by APPEND in {:.2?}", seeded.elapsed());
        let config = server.config(&user, &["INBOX"]);

        // The connector's fold size: `max_message_size`, at most a page's share of 32 MiB.
        let fold_max = config
            .max_message_size
            .get()
            .min(32 * 1024 * 1024 / u64::from(config.page_size.get()));

        let mut best = [Duration::MAX; 3];
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let (got, _) = raw(server, &user, fold_max).await;
            best[0] = best[0].min(t.elapsed());
            assert_eq!(got, n);

            let t = Instant::now();
            let (got, _) = raw_bodies(server, &user).await;
            best[1] = best[1].min(t.elapsed());
            assert_eq!(got, n);

            let c = connector(config.clone());
            let t = Instant::now();
            let report = Syncer::new(c)
                .sink(DiscardSink)
                .state(MemoryStateStore::new())
                .run(SyncMode::Full)
                .await
                .expect("sync");
            best[2] = best[2].min(t.elapsed());
            assert_eq!(report.new as usize, n);
        }
        let [raw_same, raw_old, sync] = best;
        let ratio = |base: Duration| sync.as_secs_f64() / base.as_secs_f64();
        println!(
            "raw, the connector's items: {:>8.0} msg/s ({raw_same:.2?})\n\
             raw, BODY.PEEK[] only:      {:>8.0} msg/s ({raw_old:.2?})\n\
             full sync:                  {:>8.0} msg/s ({sync:.2?})\n\
             ratio sync/raw (same items): {:.2}x\n\
             ratio sync/raw (bodies only): {:.2}x",
            rate(n, raw_same),
            rate(n, raw_old),
            rate(n, sync),
            ratio(raw_same),
            ratio(raw_old),
        );

        ALLOC.reset_peak_usage();
        let before = ALLOC.current_usage();
        assert_eq!(drain(connector(config.clone()).as_ref()).await, n);
        let peak = ALLOC.peak_usage().saturating_sub(before);
        println!(
            "peak heap of the load stream, {n} messages: {:.1} MiB",
            peak as f64 / 1_048_576.0
        );
        if std::env::var_os("IMAP_BENCH_10X").is_some() {
            seed(server, &user, "Big", 9 * n).await;
            let mut big = server.config(&user, &["INBOX", "Big"]);
            big.page_size = config.page_size;
            ALLOC.reset_peak_usage();
            let before = ALLOC.current_usage();
            assert_eq!(drain(connector(big).as_ref()).await, 10 * n);
            let peak10 = ALLOC.peak_usage().saturating_sub(before);
            println!(
                "peak heap of the load stream, {} messages: {:.1} MiB ({:.2}x)",
                10 * n,
                peak10 as f64 / 1_048_576.0,
                peak10 as f64 / peak.max(1) as f64
            );
        }
    });
}
