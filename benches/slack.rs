//! Loopback end-to-end benchmark of the Slack connector (`harness = false`, not run in CI): a
//! wiremock Slack holding `SLACK_BENCH_THREADS` top-level messages (default 10,000) in 10
//! channels, listed 200 per `conversations.history` page by cursor; every second message
//! is the parent of a thread of two replies (`conversations.replies`), the others stand
//! alone; three users. Read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: `auth.test`, `conversations.list`,
//!    every history page by cursor, then every thread's replies, 4 at a time, and each user
//!    once, each body parsed;
//! 2. `SlackConnector::load`: the same requests through core's client, each thread a
//!    document;
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints threads/s, requests per thread and the ratios to the baseline (best of three
//! rounds), then the process's peak RSS (`VmHWM`); run it at two sizes to see memory grow
//! with the messages listed (`SLACK_BENCH_THREADS=1000` and `=10000`).
//! `cargo bench --bench slack`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use std::collections::HashMap;
use std::sync::Arc;

use compare::Compare;

use connectors::misc::slack::{SlackConfig, SlackConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const CHANNELS: usize = 10;
const PAGE: usize = 200;
const CONCURRENCY: usize = 4;
const ROUNDS: usize = 3;
const USERS: [&str; 3] = ["U01ANA", "U02BEN", "U03CAT"];

fn threads() -> usize {
    loopback::env_size("SLACK_BENCH_THREADS", 10_000)
}

fn ts(i: usize) -> String {
    format!("{}.{:06}", 1_767_261_600 + i * 60, i % 1_000_000)
}

fn text(i: usize) -> String {
    format!(
        "Message {i}: *deploy* of <https://ci.acme.test/{i}|build {i}> done, thanks <@{}>",
        USERS[i % 3]
    )
}

/// Pre-rendered answers: history pages per channel, replies per thread, users.
struct Slack {
    history: Vec<Vec<String>>,
    replies: HashMap<String, String>,
    users: HashMap<String, String>,
    list: String,
}

fn build(n: usize) -> Slack {
    let per = n / CHANNELS;
    let mut history = Vec::new();
    let mut replies = HashMap::new();
    for c in 0..CHANNELS {
        let mut messages: Vec<Value> = (0..per)
            .map(|k| {
                let i = c * per + k;
                let mut m = json!({"type": "message", "ts": ts(i), "user": USERS[i % 3], "text": text(i)});
                if i.is_multiple_of(2) {
                    let r1 = format!("{}.{:06}", 1_767_261_600 + i * 60 + 1, i % 1_000_000);
                    let r2 = format!("{}.{:06}", 1_767_261_600 + i * 60 + 2, i % 1_000_000);
                    m["thread_ts"] = json!(ts(i));
                    m["reply_count"] = json!(2);
                    m["latest_reply"] = json!(r2);
                    let thread = json!({"ok": true, "messages": [
                        m.clone(),
                        {"type": "message", "ts": r1, "thread_ts": ts(i), "user": USERS[(i + 1) % 3], "text": "On it _now_"},
                        {"type": "message", "ts": r2, "thread_ts": ts(i), "user": USERS[(i + 2) % 3], "text": "Done ~soon~"},
                    ], "has_more": false, "response_metadata": {"next_cursor": ""}});
                    replies.insert(format!("C{c:08}:{}", ts(i)), thread.to_string());
                }
                m
            })
            .collect();
        messages.reverse();
        let chunks: Vec<&[Value]> = messages.chunks(PAGE).collect();
        let pages = chunks
            .iter()
            .enumerate()
            .map(|(p, chunk)| {
                let next = if p + 1 < chunks.len() {
                    format!("bmV4dF90czo{}", p + 1)
                } else {
                    String::new()
                };
                json!({"ok": true, "messages": chunk, "has_more": !next.is_empty(),
                    "response_metadata": {"next_cursor": next}})
                .to_string()
            })
            .collect();
        history.push(pages);
    }
    let users = USERS
        .iter()
        .map(|u| {
            let body = json!({"ok": true, "user": {"id": u, "name": u.to_lowercase(), "real_name": u,
                "profile": {"display_name": u.to_lowercase(), "real_name": u}}});
            ((*u).to_owned(), body.to_string())
        })
        .collect();
    let channels: Vec<Value> = (0..CHANNELS)
        .map(|c| {
            json!({"id": format!("C{c:08}"), "name": format!("team-{c}"), "is_channel": true,
            "is_private": false, "is_member": true, "is_archived": false})
        })
        .collect();
    let list = json!({"ok": true, "channels": channels, "response_metadata": {"next_cursor": ""}})
        .to_string();
    Slack {
        history,
        replies,
        users,
        list,
    }
}

#[derive(Clone)]
struct Server(Arc<Slack>);

impl Respond for Server {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let method = req.url.path().rsplit('/').next().unwrap_or("");
        let s = &self.0;
        let body = match method {
            "auth.test" => json!({"ok": true, "url": "https://acme.slack.com/", "team": "Acme", "team_id": "T1"}).to_string(),
            "conversations.list" => s.list.clone(),
            "conversations.history" => {
                let c: usize = q.get("channel").and_then(|c| c[1..].parse().ok()).unwrap_or(0);
                let p: usize = q
                    .get("cursor")
                    .and_then(|c| c.strip_prefix("bmV4dF90czo"))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                s.history[c][p].clone()
            }
            "conversations.replies" => {
                let key = format!("{}:{}", q["channel"], q["ts"]);
                s.replies[&key].clone()
            }
            "users.info" => s.users[&q["user"]].clone(),
            _ => r#"{"ok":false,"error":"unknown_method"}"#.to_owned(),
        };
        ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
    }
}

async fn get(client: &reqwest::Client, url: String) -> Value {
    let body = client
        .get(url)
        .bearer_auth("xoxb-bench")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The raw fetch: the same pages by cursor, then the same threads, 4 at a time, and each
/// user once.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let mut requests = 2u64;
    get(client, format!("{base}/api/auth.test")).await;
    let list = get(client, format!("{base}/api/conversations.list?types=public_channel,private_channel&exclude_archived=true&limit=200")).await;
    let mut docs = 0usize;
    let mut users: HashMap<String, ()> = HashMap::new();
    for ch in list["channels"].as_array().unwrap() {
        let id = ch["id"].as_str().unwrap().to_owned();
        let mut cursor = String::new();
        loop {
            let mut url = format!("{base}/api/conversations.history?channel={id}&limit={PAGE}");
            if !cursor.is_empty() {
                url.push_str(&format!("&cursor={cursor}"));
            }
            let page = get(client, url).await;
            requests += 1;
            let mut threads = Vec::new();
            for m in page["messages"].as_array().unwrap() {
                docs += 1;
                if m.get("reply_count").is_some() {
                    threads.push(m["ts"].as_str().unwrap().to_owned());
                }
                let u = m["user"].as_str().unwrap().to_owned();
                if users.insert(u.clone(), ()).is_none() {
                    get(client, format!("{base}/api/users.info?user={u}")).await;
                    requests += 1;
                }
            }
            let got: Vec<Value> = futures::stream::iter(threads)
                .map(|t| {
                    get(
                        client,
                        format!(
                            "{base}/api/conversations.replies?channel={id}&ts={t}&limit={PAGE}"
                        ),
                    )
                })
                .buffered(CONCURRENCY)
                .collect()
                .await;
            requests += got.len() as u64;
            assert!(
                got.iter()
                    .all(|g| g["messages"].as_array().unwrap().len() == 3)
            );
            match page["response_metadata"]["next_cursor"].as_str() {
                Some(n) if !n.is_empty() => cursor = n.to_owned(),
                _ => break,
            }
        }
    }
    (docs, requests)
}

fn main() {
    let n = threads();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        Mock::given(any())
            .respond_with(Server(Arc::new(build(n))))
            .mount(&server)
            .await;
        println!(
            "slack loopback: {n} top-level messages in {CHANNELS} channels, half with 2 replies, {PAGE} per page"
        );
        let config: SlackConfig = connectors::core::config::from_json(json!({
            "credentials": {"slack_bot_token": "xoxb-bench"},
            "base_url": format!("{}/api", server.uri()),
            "allowed_hosts": ["127.0.0.1"],
            "page_size": PAGE,
            // Slack's tiers would make this a test of the limiter.
            "tier2_requests_per_minute": 100_000,
            "tier3_requests_per_minute": 100_000,
            "tier4_requests_per_minute": 100_000,
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let uri = server.uri();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "thread",
            name: "SlackConnector",
            width: 24,
        };
        compare
            .run(
                || raw(&client, &uri),
                || SlackConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
