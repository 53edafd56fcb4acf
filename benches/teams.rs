//! Loopback end-to-end benchmark of the Teams connector (`harness = false`, not run in CI): a
//! wiremock Graph holding one team with one channel of `TEAMS_BENCH_THREADS` threads (default
//! 5,000), each a root and two replies (HTML bodies, a mention), listed 50 roots a page with
//! `$expand=replies` behind `@odata.nextLink` as Graph does, read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: the token, the teams, the channels,
//!    the channel's delta position, every message page by its `@odata.nextLink`, each page
//!    parsed as JSON; measured twice, alone and with every body through core's HTML to
//!    Markdown (as `benches/rss.rs` does), the work the connector cannot skip;
//! 2. `TeamsConnector::load` (with `include_permissions: false`, which the baseline does not
//!    read either): the same requests through the Graph client, each thread a Markdown
//!    document (HTML → Markdown of every message);
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints threads/s, requests per thread and the ratios to the baseline (best of three
//! rounds), then the process's peak RSS (`VmHWM`). `cargo bench --bench teams`.
//!
//! # Results
//!
//! 2026-12-05, release, the 2-core machine under load (other builds beside it), best of 3,
//! 5,000 threads (105 requests on each side), one run, after each page was parsed once
//! (straight into the wire types, no `Value` tree first):
//!
//! | baseline | raw | `load()` | full `Syncer` run |
//! | --- | --- | --- | --- |
//! | raw fetch alone | 0.091 s | 0.154 s (1.70x) | 0.162 s (1.78x) |
//! | raw fetch + HTML to Markdown of every body | 0.132 s | 0.151 s (1.14x) | 0.163 s (1.23x) |
//!
//! After core's HTML to Markdown took Teams' `at` mentions and the other chat shapes without a
//! DOM, three runs under heavier load (load average 5-7), `load()` / `Syncer` over the raw fetch
//! alone: 1.13x / 1.19x, 1.31x / 0.87x, 1.09x / 1.38x (medians 1.13x / 1.19x); over the raw
//! fetch that converts: 1.46x / 1.51x, 1.24x / 2.29x, 0.93x / 1.30x (the raw side's conversion
//! of the raw bodies, `at` tags and all, went from about 4.3 µs to 1.1 µs a root message).
//!
//! Before, on the same day under other load: 2.60x and 1.83x (`load()`), 2.64x and 2.04x
//! (full run); before the review, 3.75x the raw fetch alone. Machine load differs between
//! runs, so compare ratios, not seconds. The conversion of the 15,000 bodies is most of what
//! is left against the raw fetch alone (0.041 s of the 0.063 s gap); the rest is the
//! per-thread work (Teams' tag rewriting, the per-message headers, the version hash, the
//! document), not profiled apart.
//!
//! Session 43 (issue 23; A/B against the binary at 1dc498e). The full side's wall time is the
//! main thread's CPU (`COMPARE_THREADS=1`: 110-120 ms of a 130-150 ms side, the workers 3-10
//! ms each): the page parse, each message's parse, every thread's document and the sync all
//! run on the one task. callgrind, 1,000 threads, `COMPARE_ONLY=full` (3 rounds of each
//! table): `Syncer::run` on the main thread 1,748 M -> 1,515 M instructions (-13%: 291k ->
//! 252k a thread of 3 messages); `thread_document` 101k -> 71k a thread (the first message's
//! body was converted twice, once more for the title; Teams' tag rewriting and div
//! flattening copied and lowercased every tag's name), the message parse 88k -> 78k (the
//! three `…T10:00:00.000Z` times a message through core's `parse_utc` fast path, no longer
//! chrono's parser at ~1,800 each). The raw side is unchanged (1,213 M). What is left on the
//! thread per thread of 3 messages: the page's `RawValue` pass and each message's parse (the
//! three `webUrl`s through `Url::parse`, 24k), core's HTML to Markdown (14k), the header
//! paragraphs through core's Markdown renderer (15k), core's `fetch_items` and the sync.
//! Wall time, 3 alternating runs each under load average 24-28 (other helpers' builds; the
//! seconds are noise, each run's better of the two tables): `load()` base 0.108 / 0.160 /
//! 0.122 s, new 0.097 / 0.106 / 0.108 s (medians 0.122 -> 0.106 s); full run base 0.123 /
//! 0.130 / 0.208 s, new 0.101 / 0.107 / 0.114 s (medians 0.130 -> 0.107 s).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::misc::teams::{TeamsConfig, TeamsConnector};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

const PAGE: usize = 50;
const ROUNDS: usize = 3;
const TEAM: &str = "fbe2bf47-16c8-47cf-b4a5-4b9b187c508b";
const CHANNEL: &str = "19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2";

fn threads() -> usize {
    loopback::env_size("TEAMS_BENCH_THREADS", 5_000)
}

fn message(id: u64, reply_to: Option<u64>, html: &str) -> Value {
    let root = reply_to.unwrap_or(id);
    json!({
        "@odata.type": "#microsoft.graph.chatMessage", "id": id.to_string(),
        "replyToId": reply_to.map(|r| r.to_string()), "etag": id.to_string(), "messageType": "message",
        "createdDateTime": "2026-03-01T10:00:00.000Z", "lastModifiedDateTime": "2026-03-01T10:00:00.000Z",
        "lastEditedDateTime": null, "deletedDateTime": null, "subject": null, "summary": null, "chatId": null,
        "importance": "normal", "locale": "en-us",
        "webUrl": format!("https://teams.microsoft.com/l/message/19%3Abench%40thread.tacv2/{id}?groupId={TEAM}&parentMessageId={root}"),
        "policyViolation": null, "eventDetail": null,
        "from": {"application": null, "device": null, "user": {"@odata.type": "#microsoft.graph.teamworkUserIdentity",
            "id": "8ea0e38b-efb3-4757-924a-5f94061cf8c2", "displayName": "Robin Kline", "userIdentityType": "aadUser"}},
        "body": {"contentType": "html", "content": html},
        "channelIdentity": {"teamId": TEAM, "channelId": CHANNEL},
        "attachments": [], "mentions": [], "reactions": [], "messageHistory": []
    })
}

fn pages(base: &str, n: usize) -> Vec<String> {
    let link = format!("{base}/v1.0/teams/{TEAM}/channels/{CHANNEL}/messages");
    let roots: Vec<Value> = (0..n as u64)
        .map(|i| {
            let id = 1_772_000_000_000 + i * 1000;
            let mut root = message(id, None, &format!(
                "<div><p>Status of item {i}: <at id=\"0\">Jane Smith</at> please review the <b>draft</b> and the <a href=\"https://contoso.sharepoint.com/doc{i}\">spec</a>.</p></div>"));
            root["replies"] = json!([
                message(id + 2, Some(id), "<p>Done, two comments <i>inline</i>.</p>"),
                message(id + 1, Some(id), "<p>Looking now</p>"),
            ]);
            root
        })
        .collect();
    let chunks: Vec<&[Value]> = roots.chunks(PAGE).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut page = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(chatMessage)", "value": c});
            if i + 1 < chunks.len() {
                page["@odata.nextLink"] = json!(format!("{link}?$top={PAGE}&$expand=replies&$skiptoken=p{}", i + 1));
            }
            page.to_string()
        })
        .collect()
}

/// The raw fetch: a token, the teams, the channels, the delta position, then the same pages
/// by their links.
///
/// With `convert`, every message body (root and replies) also goes through core's HTML to
/// Markdown, as the connector's do: the side that shows what the connector adds beyond the
/// conversion it cannot avoid.
async fn raw(client: &reqwest::Client, base: &str, convert: bool) -> (usize, u64) {
    let token: Value = client
        .post(format!("{base}/tenant/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "s"),
            ("scope", "x"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    let get = |url: String| {
        let bearer = bearer.clone();
        async move {
            let body = client
                .get(&url)
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            serde_json::from_slice::<Value>(&body).unwrap()
        }
    };
    get(format!("{base}/v1.0/teams")).await;
    get(format!("{base}/v1.0/teams/{TEAM}/channels")).await;
    get(format!(
        "{base}/v1.0/teams/{TEAM}/channels/{CHANNEL}/messages/delta"
    ))
    .await;
    let mut requests = 4u64;
    let mut threads = 0;
    let mut next = Some(format!(
        "{base}/v1.0/teams/{TEAM}/channels/{CHANNEL}/messages?$top={PAGE}&$expand=replies"
    ));
    while let Some(url) = next.take() {
        let page = get(url).await;
        requests += 1;
        let roots = page["value"].as_array().unwrap();
        threads += roots.len();
        if convert {
            let mut chars = 0;
            for root in roots {
                let replies = root["replies"].as_array().into_iter().flatten();
                for m in std::iter::once(root).chain(replies) {
                    let html = m["body"]["content"].as_str().unwrap_or_default();
                    chars += connectors::core::text::html_to_markdown(html).len();
                }
            }
            assert!(chars > 0);
        }
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    (threads, requests)
}

fn main() {
    let n = threads();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        let base = server.uri();
        Mock::given(method("POST"))
            .and(path_regex("/oauth2/v2\\.0/token$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer", "expires_in": 3599, "access_token": "bench-token"})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1.0/teams"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
                {"id": TEAM, "displayName": "Engineering", "description": null}]})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v1.0/teams/{TEAM}/channels")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
                {"id": CHANNEL, "displayName": "General", "membershipType": "standard"}]})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("/messages/delta$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [],
                "@odata.deltaLink": format!("{base}/v1.0/teams/{TEAM}/channels/{CHANNEL}/messages/delta?$deltatoken=latest")})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("/messages$"))
            .respond_with(loopback::Pages(pages(&base, n), "$skiptoken"))
            .mount(&server)
            .await;
        println!(
            "teams loopback: {n} threads of 3 messages, {PAGE} roots per page with $expand=replies"
        );

        let config: TeamsConfig = connectors::core::config::from_json(json!({
            "credentials": {"tenant_id": "tenant", "client_id": "app", "client_secret": "s"},
            "include_permissions": false,
            "requests_per_second": 100,
            "authority_host": base,
            "graph_url": base,
            "allowed_hosts": ["127.0.0.1", "localhost"],
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "thread",
            name: "TeamsConnector",
            width: 24,
        };
        println!("against the raw fetch alone:");
        compare
            .run(
                || raw(&client, &base, false),
                || TeamsConnector::new(config.clone()).unwrap(),
            )
            .await;
        println!("against the raw fetch that also turns every body into Markdown:");
        compare
            .run(
                || raw(&client, &base, true),
                || TeamsConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
