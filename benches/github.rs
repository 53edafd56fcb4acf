//! Loopback end-to-end benchmark of the GitHub connector (`harness = false`, not run in CI): a
//! wiremock GitHub repository holding `GITHUB_BENCH_ITEMS` issues (default 10,000; one in ten
//! with two comments), 100 per page with GitHub's `Link` headers and `since` filter, read by
//!
//! 1. the baseline: raw `reqwest` over the same pages, following `Link` `rel="next"`, then the
//!    comments of every issue that has some, 8 at a time, each body kept;
//! 2. `GithubConnector::load`: the same listing through core's client (pages asked by `since`,
//!    the `Link` header read), each issue a Markdown document with its comments;
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints issues/s, requests per issue and the ratios to the baseline (best of three rounds),
//! then the process's peak RSS (`VmHWM`); run it at two sizes to see memory grow with the
//! items (`GITHUB_BENCH_ITEMS=1000` and `=10000`). `cargo bench --bench github`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use chrono::{DateTime, TimeZone, Utc};
use connectors::misc::github::{GithubConfig, GithubConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const PAGE: usize = 100;
const CONCURRENCY: usize = 8;
const ROUNDS: usize = 3;

fn items() -> usize {
    loopback::env_size("GITHUB_BENCH_ITEMS", 10_000)
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

fn user(login: &str) -> Value {
    json!({"login": login, "id": 1, "node_id": "MDQ6VXNlcjE=", "type": "User", "site_admin": false})
}

/// Issue `i` (number `i + 1`), updated `i` seconds after [`start`].
fn issue(base: &str, i: usize) -> String {
    let n = i + 1;
    let updated = start() + chrono::TimeDelta::seconds(i as i64);
    json!({
        "id": 1_000_000 + n, "node_id": "MDU6SXNzdWUx", "number": n,
        "url": format!("{base}/repos/acme/bench/issues/{n}"),
        "html_url": format!("https://github.com/acme/bench/issues/{n}"),
        "state": "open", "state_reason": null, "title": format!("Issue {n}: the widget breaks"),
        "body": "Steps:\n\n1. open the widget\n2. **click** it\n\n```\npanic at src/widget.rs:12\n```\n",
        "user": user("octocat"), "labels": [{"id": 1, "name": "bug", "color": "f29513"}],
        "assignee": null, "assignees": [], "milestone": null, "locked": false,
        "comments": if n.is_multiple_of(10) { 2 } else { 0 },
        "created_at": "2024-12-01T00:00:00Z",
        "updated_at": updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "closed_at": null, "author_association": "MEMBER",
    })
    .to_string()
}

/// The issues endpoint: `since` (issues are one second apart, so an index), `page`, `per_page`.
struct Issues(Vec<String>);

impl Respond for Issues {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q = |k: &str| {
            req.url
                .query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        let from = q("since")
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map_or(0, |t| (t.to_utc() - start()).num_seconds().max(0) as usize);
        let per: usize = q("per_page").and_then(|v| v.parse().ok()).unwrap_or(30);
        let page: usize = q("page").and_then(|v| v.parse().ok()).unwrap_or(1);
        let rest = &self.0[from.min(self.0.len())..];
        let at = (page - 1) * per;
        let slice = &rest[at.min(rest.len())..(at + per).min(rest.len())];
        let body = format!("[{}]", slice.join(","));
        let mut resp = ResponseTemplate::new(200)
            .set_body_raw(body.into_bytes(), "application/json; charset=utf-8")
            .insert_header("x-ratelimit-limit", "5000")
            .insert_header("x-ratelimit-remaining", "4999");
        if at + per < rest.len() {
            // wiremock's URL lacks the port: the `Host` header has it.
            let host = req
                .headers
                .get("host")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("127.0.0.1");
            let mut next = url::Url::parse(&format!("http://{host}{}", req.url.path())).unwrap();
            next.set_query(req.url.query());
            let pairs: Vec<(String, String)> = next
                .query_pairs()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            next.query_pairs_mut()
                .clear()
                .extend_pairs(pairs)
                .append_pair("page", &(page + 1).to_string());
            resp = resp.insert_header("link", format!("<{next}>; rel=\"next\"").as_str());
        }
        resp
    }
}

/// The raw fetch: every page by `Link`, then the comments of the issues that have some.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let mut next = Some(format!(
        "{base}/repos/acme/bench/issues?state=all&sort=updated&direction=asc&per_page={PAGE}"
    ));
    let mut with_comments = Vec::new();
    let mut count = 0usize;
    let mut requests = 0u64;
    while let Some(url) = next.take() {
        let resp = client.get(&url).bearer_auth("bench").send().await.unwrap();
        requests += 1;
        next = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once('<'))
            .and_then(|(_, rest)| rest.split_once('>'))
            .map(|(u, _)| u.to_owned());
        let page: Vec<Value> = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        for item in &page {
            if item["comments"].as_u64().unwrap_or(0) > 0 {
                with_comments.push(item["number"].as_u64().unwrap());
            }
        }
        count += page.len();
    }
    let bodies: Vec<usize> = futures::stream::iter(with_comments)
        .map(|n| {
            let url = format!("{base}/repos/acme/bench/issues/{n}/comments?per_page=100");
            async move {
                let body = client
                    .get(&url)
                    .bearer_auth("bench")
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                body.len()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    (count, requests + bodies.len() as u64)
}

fn main() {
    let n = items();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        let base = server.uri();
        Mock::given(method("GET"))
            .and(path("/repos/acme/bench"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": 1, "name": "bench", "full_name": "acme/bench", "owner": user("acme"),
                "private": false, "visibility": "public", "html_url": "https://github.com/acme/bench",
                "default_branch": "main", "archived": false,
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/repos/acme/bench/issues"))
            .respond_with(Issues((0..n).map(|i| issue(&base, i)).collect()))
            .mount(&server)
            .await;
        let comments = json!([
            {"id": 1, "body": "Same here, on **every** click.", "user": user("hubot"),
             "created_at": "2025-01-02T00:00:00Z", "updated_at": "2025-01-02T00:00:00Z"},
            {"id": 2, "body": "Fixed by #12.", "user": user("octocat"),
             "created_at": "2025-01-03T00:00:00Z", "updated_at": "2025-01-03T00:00:00Z"},
        ]);
        Mock::given(method("GET"))
            .and(path_regex("^/repos/acme/bench/issues/[0-9]+/comments$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(comments))
            .mount(&server)
            .await;
        println!("github loopback: {n} issues, {PAGE} per page, one in ten with 2 comments");

        let mut config: GithubConfig = connectors::core::config::from_json(json!({
            "repository_owner": "acme", "repository_name": "bench",
            "include_pull_requests": false, "include_issues": true,
            "credentials": {"github_access_token": "bench"},
            "base_url": base, "allowed_hosts": ["127.0.0.1"],
            // GitHub's 5000 per hour would make this a test of the limiter.
            "requests_per_hour": 1_000_000,
        }))
        .unwrap();
        config.page_size = std::num::NonZeroU32::new(PAGE as u32).unwrap();
        let client = reqwest::Client::new();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "issue",
            name: "GithubConnector",
            width: 24,
        };
        compare
            .run(
                || raw(&client, &base),
                || GithubConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
