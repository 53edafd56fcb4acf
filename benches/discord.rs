//! Loopback end-to-end benchmark of the Discord connector (`harness = false`, not run in CI):
//! a wiremock Discord holding one server with one text channel of `DISCORD_BENCH_BUCKETS`
//! hourly buckets (default 1,000) of 100 messages each, listed with `after` snowflakes 100 a
//! page (Discord's maximum), newest first, read by
//!
//! 1. the baseline: raw `reqwest` over the same message pages, each parsed as JSON;
//! 2. `DiscordConnector::load`: the same pages through core's client, one document per
//!    bucket (plus the server, channel, member and thread listings);
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints buckets/s, requests per bucket and the ratios to the baseline (best of three rounds),
//! then the process's peak RSS (`VmHWM`) and that of a child process running one full sync
//! against this process's fake: wiremock keeps a clone of every request a mock matched, each
//! with its connection's read buffer, which at 10,000 buckets is most of this process's
//! memory; the child's is the connector's. Run it at two sizes to see memory stay flat
//! (`DISCORD_BENCH_BUCKETS=1000` and `=10000`). `cargo bench --bench discord`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;

use compare::Compare;

use connectors::misc::discord::{DiscordConfig, DiscordConnector};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PER_BUCKET: u64 = 100;
const ROUNDS: usize = 3;
const GUILD: &str = "81384788765712384";
const CHANNEL: &str = "1001000000000000001";
const BOT: &str = "1098765432100000001";
/// 2025-01-01T00:00:00Z in milliseconds since Discord's epoch.
const START_MS: u64 = 1_735_689_600_000 - 1_420_070_400_000;

fn buckets() -> u64 {
    std::env::var("DISCORD_BENCH_BUCKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Message `i`: the `i % 100`-th of hour `i / 100`, 30 s apart.
fn id(i: u64) -> u64 {
    let ms = START_MS + (i / PER_BUCKET) * 3_600_000 + (i % PER_BUCKET) * 30_000;
    (ms << 22) | (1 << 17)
}

fn message(i: u64) -> Value {
    let ms =
        START_MS + 1_420_070_400_000 + (i / PER_BUCKET) * 3_600_000 + (i % PER_BUCKET) * 30_000;
    let at = chrono::DateTime::from_timestamp_millis(i64::try_from(ms).unwrap()).unwrap();
    json!({
        "id": id(i).to_string(), "type": 0, "channel_id": CHANNEL,
        "author": {"id": "105", "username": "alice", "discriminator": "0", "global_name": "Alice", "avatar": null},
        "content": format!("Status update {i}: the build is green and the **deploy** went out."),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
        "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "flags": 0
    })
}

/// The messages route: the 100 after the `after` snowflake, newest first.
struct Messages {
    total: u64,
}

impl Respond for Messages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let after: u64 = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "after")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        // Ids grow with i: the first message after `after`.
        let (mut lo, mut hi) = (0, self.total);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if id(mid) <= after {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let end = (lo + 100).min(self.total);
        let page: Vec<Value> = (lo..end).rev().map(message).collect();
        ResponseTemplate::new(200)
            .set_body_json(page)
            .insert_header("x-ratelimit-limit", "5")
            .insert_header("x-ratelimit-remaining", "4")
            .insert_header("x-ratelimit-reset-after", "1.000")
            .insert_header("x-ratelimit-bucket", "abcd1234")
    }
}

/// The raw fetch: the same message pages by `after`, each parsed.
async fn raw(client: &reqwest::Client, base: &str, total: u64) -> (usize, u64) {
    let mut after = 0u64;
    let mut got = 0u64;
    let mut requests = 0u64;
    loop {
        let url = format!("{base}/api/v10/channels/{CHANNEL}/messages?after={after}&limit=100");
        let body = client
            .get(&url)
            .header("authorization", "Bot bench")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        requests += 1;
        let page: Vec<Value> = serde_json::from_slice(&body).unwrap();
        got += page.len() as u64;
        let Some(max) = page
            .iter()
            .filter_map(|m| m["id"].as_str()?.parse::<u64>().ok())
            .max()
        else {
            break;
        };
        after = max;
        if page.len() < 100 {
            break;
        }
    }
    assert_eq!(got, total);
    (usize::try_from(total / PER_BUCKET).unwrap(), requests)
}

async fn mount(server: &MockServer, route: &str, body: Value) {
    Mock::given(method("GET"))
        .and(path_regex(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

fn config(uri: &str) -> DiscordConfig {
    connectors::core::config::from_json(json!({
        "server_ids": [GUILD],
        "credentials": {"discord_bot_token": "bench"},
        "base_url": format!("{uri}/api/v10"),
        "allowed_hosts": ["127.0.0.1"],
        "bucket_hours": 1,
        // Discord's 50 per second would make this a test of the limiter.
        "requests_per_second": 10_000,
    }))
    .unwrap()
}

/// Run as a child (`DISCORD_BENCH_CHILD_URI` set): one full sync of the `n` buckets of the
/// fake at that URI, served by the parent; prints its peak RSS.
fn child(uri: &str, n: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let report = connectors::core::sync::Syncer::new(std::sync::Arc::new(
            DiscordConnector::new(config(uri)).unwrap(),
        ))
        .sink(connectors::core::sink::DiscardSink)
        .state(connectors::core::state::MemoryStateStore::new())
        .run(connectors::core::sync::SyncMode::Full)
        .await
        .unwrap();
        assert_eq!(report.delivered, n);
    });
    println!("VmHWM {}", compare::peak_rss_kib().unwrap_or(0));
}

/// The peak RSS in KiB of a child process syncing `n` buckets from the fake at `uri`.
fn child_rss(uri: &str, n: u64) -> u64 {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env("DISCORD_BENCH_CHILD_URI", uri)
        .env("DISCORD_BENCH_BUCKETS", n.to_string())
        .output()
        .expect("the child runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("child: {}", String::from_utf8_lossy(&out.stderr)))
}

fn main() {
    let n = buckets();
    if let Ok(uri) = std::env::var("DISCORD_BENCH_CHILD_URI") {
        return child(&uri, n);
    }
    let total = n * PER_BUCKET;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex("/channels/[0-9]+/messages$"))
            .respond_with(Messages { total })
            .mount(&server)
            .await;
        mount(&server, "/users/@me$", json!({"id": BOT, "username": "bench", "discriminator": "0", "bot": true})).await;
        mount(&server, &format!("/guilds/{GUILD}$"), json!({"id": GUILD, "name": "Bench", "owner_id": "1",
            "roles": [{"id": GUILD, "name": "@everyone", "permissions": ((1u64 << 10) | (1 << 16)).to_string()}]})).await;
        mount(&server, "/channels$", json!([{"id": CHANNEL, "type": 0, "guild_id": GUILD, "name": "general",
            "last_message_id": id(total - 1).to_string(), "permission_overwrites": []}])).await;
        mount(&server, "/members/", json!({"roles": [], "user": {"id": BOT, "username": "bench"}})).await;
        mount(&server, "/threads/active$", json!({"threads": [], "members": []})).await;
        mount(&server, "/threads/archived/public$", json!({"threads": [], "members": [], "has_more": false})).await;
        println!("discord loopback: {n} hourly buckets of {PER_BUCKET} messages, 100 per page by `after`");

        let config = config(&server.uri());
        let client = reqwest::Client::new();
        let uri = server.uri();
        let compare = Compare {
            rounds: ROUNDS,
            n: usize::try_from(n).unwrap(),
            unit: "bucket",
            name: "DiscordConnector",
            width: 24,
        };
        compare
            .run(
                || raw(&client, &uri, total),
                || DiscordConnector::new(config.clone()).unwrap(),
            )
            .await;
        let uri = server.uri();
        let rss = tokio::task::spawn_blocking(move || child_rss(&uri, n))
            .await
            .unwrap();
        println!("peak RSS of one full sync in a child process {rss} KiB");
    });
}
