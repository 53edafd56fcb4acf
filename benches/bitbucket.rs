//! Loopback end-to-end benchmark of the Bitbucket connector (`harness = false`, not run in CI):
//! a wiremock Bitbucket Cloud holding `BITBUCKET_BENCH_PRS` pull requests (default 5,000) in 10
//! repositories, 50 per page with Bitbucket's absolute `next` links, each with one page of two
//! comments, read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: the repository list, every
//!    pull-request page by its `next` link, then every pull request's comments and activity
//!    feed (both at once), 4 pull requests at a time, each body parsed as JSON;
//! 2. `BitbucketConnector::load`: the same requests through core's client, each pull request a
//!    Markdown document;
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints pull requests/s, requests per pull request and the ratios to the baseline (best of
//! three rounds), then the process's peak RSS (`VmHWM`); run it at two sizes to see memory grow
//! with the pull requests listed (`BITBUCKET_BENCH_PRS=5000` and `=50000`).
//! `cargo bench --bench bitbucket`.
//!
//! Session 36 (release, 2 cores shared with other builds, load 5-6; before and after run
//! alternately): before, `load` 1.35-1.98x (median 1.68x of six runs), full run 1.13-2.14x
//! (median 1.88x); after, `load` 1.21-1.57x (median 1.26x of three), full run 1.05-2.01x
//! (median 1.51x). The next pull-request page is read while this page's comments are, and the
//! walk runs a page ahead of the sync; the connector's own work is a few per cent of a profile.
//!
//! Session 38 (release, load 7.5-10, before and after binaries run alternately, eight runs
//! each): before, `load` median 1.47x, full run 1.40x; after, `load` 1.07x, full run 1.13x.
//! The gain is mostly the fetch's shape: two pages in flight, each in a task of its own, every
//! pull request's two requests within one gate of 4 shared by both (before: 4 at a time per
//! page in page order, so a slow one held the slots behind it and each page drained before
//! the next started). A whole-process profile is two fifths kernel (loopback TCP, wake-ups)
//! and a fifth allocator, for the server and both clients; `serde_json::Value` fell from 5.3%
//! to 2.7% of it (the rest is the baseline's own parse), the connector's own code is about 1%.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::misc::bitbucket::{BitbucketConfig, BitbucketConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const REPOS: usize = 10;
const PAGE: usize = 50;
const CONCURRENCY: usize = 4;
const ROUNDS: usize = 3;

fn prs() -> usize {
    loopback::env_size("BITBUCKET_BENCH_PRS", 5_000)
}

fn user(name: &str) -> Value {
    json!({"type": "user", "display_name": name, "nickname": name, "account_id": "5b10a2844c20165700ede21g"})
}

fn pr(repo: usize, id: usize) -> Value {
    json!({
        "type": "pullrequest", "id": id, "title": format!("Change {id} of r{repo}"),
        "description": "Fixes the *flaky* test.\n\n- one\n- two",
        "state": "MERGED", "draft": false, "reason": "",
        "author": user("Jane Doe"), "reviewers": [user("Rob Reviewer")],
        "participants": [{"type": "participant", "user": user("Rob Reviewer"), "role": "REVIEWER", "approved": true}],
        "closed_by": user("Rob Reviewer"),
        "source": {"branch": {"name": format!("feature/{id}")}},
        "destination": {"branch": {"name": "main"}},
        "merge_commit": {"hash": "e3b0c44298fc"},
        "created_on": "2025-03-01T10:00:00.000000+00:00",
        "updated_on": format!("2025-03-01T10:{:02}:{:02}.000000+00:00", (id / 60) % 60, id % 60),
        "comment_count": 2, "task_count": 0,
        "links": {"html": {"href": format!("https://bitbucket.org/bench/r{repo}/pull-requests/{id}")}}
    })
}

/// The pull-request pages, pre-rendered without their `next` link: `pages[repo][n]`.
struct Listing {
    pages: Vec<Vec<String>>,
    base: String,
}

impl Respond for Listing {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let repo: usize = req
            .url
            .path()
            .split('/')
            .nth(4)
            .and_then(|s| s.strip_prefix('r'))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let page: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1);
        let pages = &self.pages[repo];
        let body = &pages[page - 1];
        let body = if page < pages.len() {
            // Bitbucket's `next`: the request's own URL with the next page number.
            let mut next = url::Url::parse(&format!("{}{}", self.base, req.url.path())).unwrap();
            {
                let mut q = next.query_pairs_mut();
                for (k, v) in req.url.query_pairs().filter(|(k, _)| k != "page") {
                    q.append_pair(&k, &v);
                }
                q.append_pair("page", &(page + 1).to_string());
            }
            format!(
                "{},\"next\":{}}}",
                &body[..body.len() - 1],
                json!(next.as_str())
            )
        } else {
            body.clone()
        };
        ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
    }
}

fn pages(n: usize) -> Vec<Vec<String>> {
    let per = n / REPOS;
    (0..REPOS)
        .map(|r| {
            let values: Vec<Value> = (1..=per).rev().map(|id| pr(r, id)).collect();
            values
                .chunks(PAGE)
                .enumerate()
                .map(|(i, c)| {
                    json!({"pagelen": PAGE, "size": per, "page": i + 1, "values": c}).to_string()
                })
                .collect()
        })
        .collect()
}

fn comments() -> String {
    let c = |id: u64, who: &str, raw: &str| {
        json!({"type": "pullrequest_comment", "id": id, "content": {"type": "rendered", "raw": raw, "markup": "markdown"},
               "user": user(who), "created_on": "2025-03-01T10:00:00.000000+00:00", "deleted": false})
    };
    json!({"pagelen": 100, "size": 2, "page": 1, "values": [
        c(1, "Rob Reviewer", "Looks good, one nit on the **retry**."),
        {"type": "pullrequest_comment", "id": 2, "content": {"type": "rendered", "raw": "Off by one?", "markup": "markdown"},
         "user": user("Rob Reviewer"), "created_on": "2025-03-01T10:00:00.000000+00:00", "deleted": false,
         "inline": {"path": "src/lib.rs", "from": null, "to": 42}}
    ]})
    .to_string()
}

/// A pull request's activity feed as Bitbucket sends it, newest first: its merge, its
/// approval and its opening (the comments' entries left out by `fields`).
fn activity() -> String {
    json!({"pagelen": 50, "values": [
        {"update": {"state": "MERGED", "author": user("Rob Reviewer"), "date": "2025-03-01T10:05:00.000000+00:00",
                    "changes": {"status": {"old": "open", "new": "fulfilled"}}}},
        {"approval": {"user": user("Rob Reviewer"), "date": "2025-03-01T10:04:00.000000+00:00"}},
        {"update": {"state": "OPEN", "author": user("Jane Doe"), "date": "2025-03-01T10:00:00.000000+00:00", "changes": {}}},
    ]})
    .to_string()
}

async fn get(client: &reqwest::Client, url: &str) -> Value {
    let body = client
        .get(url)
        .basic_auth("bench@example.com", Some("bench"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The raw fetch: the same listings by `next`, then the same comment pages, 4 at a time.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let repos = get(
        client,
        &format!("{base}/2.0/repositories/bench?pagelen=100"),
    )
    .await;
    let mut requests = 1u64;
    let mut listed = Vec::new();
    for repo in repos["values"].as_array().unwrap() {
        let slug = repo["slug"].as_str().unwrap().to_owned();
        let mut url = Some(format!(
            "{base}/2.0/repositories/bench/{slug}/pullrequests?pagelen={PAGE}&state=OPEN&state=MERGED&state=DECLINED&state=SUPERSEDED&sort=-updated_on"
        ));
        while let Some(u) = url.take() {
            let page = get(client, &u).await;
            requests += 1;
            for v in page["values"].as_array().unwrap() {
                listed.push((slug.clone(), v["id"].as_u64().unwrap()));
            }
            url = page["next"].as_str().map(str::to_owned);
        }
    }
    let counts: Vec<usize> = futures::stream::iter(listed)
        .map(|(slug, id)| async move {
            let comments = format!(
                "{base}/2.0/repositories/bench/{slug}/pullrequests/{id}/comments?pagelen=100"
            );
            let activity = format!(
                "{base}/2.0/repositories/bench/{slug}/pullrequests/{id}/activity?pagelen=50"
            );
            let (comments, activity) =
                futures::join!(get(client, &comments), get(client, &activity));
            assert_eq!(activity["values"].as_array().unwrap().len(), 3);
            comments["values"].as_array().unwrap().len()
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    assert!(counts.iter().all(|c| *c == 2));
    (counts.len(), requests + 2 * counts.len() as u64)
}

fn main() {
    let n = prs();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        let repos: Vec<Value> = (0..REPOS)
            .map(|r| json!({"type": "repository", "slug": format!("r{r}"), "is_private": false, "project": {"key": "BENCH"}}))
            .collect();
        Mock::given(method("GET"))
            .and(path_regex("^/2\\.0/repositories/bench$"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({"pagelen": 100, "size": REPOS, "page": 1, "values": repos}),
                ),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(
                "^/2\\.0/repositories/bench/r[0-9]+/pullrequests$",
            ))
            .respond_with(Listing {
                pages: pages(n),
                base: server.uri(),
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(
                "^/2\\.0/repositories/bench/r[0-9]+/pullrequests/[0-9]+/comments$",
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(comments().into_bytes(), "application/json"),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(
                "^/2\\.0/repositories/bench/r[0-9]+/pullrequests/[0-9]+/activity$",
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(activity().into_bytes(), "application/json"),
            )
            .mount(&server)
            .await;
        println!(
            "bitbucket loopback: {n} pull requests in {REPOS} repositories, {PAGE} per page, 2 comments and 3 activity entries each"
        );

        let config: BitbucketConfig = connectors::core::config::from_json(json!({
            "workspace": "bench",
            "credentials": {"bitbucket_account_email": "bench@example.com", "bitbucket_api_token": "bench"},
            "api_base_url": server.uri(),
            "allowed_hosts": ["127.0.0.1"],
            // Bitbucket's 1,000 per hour would make this a test of the limiter.
            "requests_per_hour": 1_000_000_000,
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let uri = server.uri();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "PR",
            name: "BitbucketConnector",
            width: 30,
        };
        compare
            .run(
                || raw(&client, &uri),
                || BitbucketConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
