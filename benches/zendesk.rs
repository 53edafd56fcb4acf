//! Loopback end-to-end benchmark of the Zendesk connector (`harness = false`, not run in CI):
//! a wiremock Zendesk holding `ZENDESK_BENCH_TICKETS` tickets (default 5,000) in the
//! incremental cursor export, 1,000 a page with sideloaded users and organizations, each
//! ticket with one page of three comments (two public, one internal note), read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: every export page by its
//!    `after_cursor` until `end_of_stream`, then every ticket's comments, 4 tickets at a time,
//!    each body parsed as JSON;
//! 2. `ZendeskConnector::load`: the same requests through core's client, each ticket two
//!    Markdown documents (public conversation, internal notes);
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints documents/s, requests per document and the ratios to the baseline (best of three
//! rounds), then the process's peak RSS (`VmHWM`); run it at two sizes to see memory stay
//! flat (`ZENDESK_BENCH_TICKETS=5000` and `=50000`). `cargo bench --bench zendesk`.
//!
//! Release runs on the shared 2-core machine at load 4 to 8 (other agents' builds), binary
//! at 0853007: `load` 1.69x, 2.07x, 3.36x, 1.98x, 2.52x, 2.61x (median 2.3x), full `Syncer`
//! run 1.91x, 2.01x, 4.32x, 2.61x, 2.76x, 3.00x (median 2.7x); baseline 0.34 to 0.77 s. A
//! `perf` profile (dwarf call graphs) of that binary: the kernel's network path and
//! scheduling, then the allocator, lead; of the connector's own work
//! `convert::ticket_documents` is 15% of all samples (Markdown rendering 3.6%, the header
//! 3.6%, comments 2.9%, metadata 2.4%, HTML 2%, chrono's `format` for comment times 1.9%),
//! core's request path 11%, JSON 3%. Since: comment times without the format-string parse,
//! each document rendered into one presized buffer, the ticket moved rather than cloned,
//! and the next export page read while a page's comments are. After (binary at 776861e,
//! load 4 to 5): `load` 2.99x, 1.64x, 1.75x (median 1.75x), full run 2.84x, 1.47x, 1.84x
//! (median 1.84x): still over 1.5x on this machine.
//! Session 38 (binary at b6c3eaa: pages read as typed items from their own text, no `Value`
//! tree; access, version, header facts and link worked out once per ticket; machine at load
//! 11 to 12): `load` 1.64x, 1.96x, 1.60x (median 1.64x), full run 1.71x, 2.11x, 1.81x (median
//! 1.81x); the binary before, alternated with it: `load` 3.18x, 2.05x against 1.69x, 2.65x. A
//! `perf` profile (dwarf call graphs) before: `ticket_documents` 14.5% of all samples
//! (Markdown rendering 4.9%, of it text escaping 3.9%; the header 2.5%, comments 2.3% with
//! HTML 1.6%, metadata 2.1%, the link 0.5%), the export page as `Value` trees 2%, core's
//! request path 14%, the raw side 11%; the rest wiremock, hyper, the kernel and the allocator.
//! request path 14%, the raw side 11%; the rest wiremock, hyper, the kernel and the allocator.
//! Later in session 38 (binary at cb39726: both documents written through core `MarkdownOut`
//! into one presized buffer each, no block tree; titles and versions joined without
//! `format!`), alternated with the binary before, load 8 to 10: `load` 1.64x, 1.32x, 1.42x
//! (median 1.42x) against 1.90x, 2.74x, 2.43x (2.43x); full run 1.72x, 1.56x, 1.40x (median
//! 1.56x) against 2.00x, 2.50x, 3.34x (2.50x). `perf` of it (flat): kernel 45%, libc
//! (allocator, memmove) 17%, the connector's conversion about 5% (Markdown 2.6%, HTML 1.1%,
//! `zendesk::` 1.5%), JSON 3.9%, URL parsing 2.1%, hyper/reqwest 5%.
//! Binary at d99194a against the same before, load 3 to 4: `load` 1.54x, 1.73x, 1.75x
//! (median 1.73x) against 2.63x, 1.90x, 1.89x (1.90x); full run 1.48x, 1.79x, 1.88x (median
//! 1.79x) against 2.45x, 1.97x, 1.93x (1.97x); `load` 0.51 to 0.64 s against 0.56 to 0.86 s.
//! Session 40 (core's request path: a one-chunk body handed on without a copy, a longer one
//! gathered once at its declared length; the answer's URL moved, not copied; the limiter's key
//! and the allowed-address check without allocating), ten runs alternated with the binary
//! before at load 6 to 7: `load` median 1.63x against 1.96x, full run 1.76x against 2.34x. A
//! profile before (both connector runs together): core's own frames (the hop's request copy,
//! the address check, the limiter key, header inserts, drops) about 1.7% of all samples, the
//! body read 2.3%; inside reqwest the raw side and the connector spend alike but for the
//! client's clone per request (`hyper_util` `Client` with reqwest's `Connector`, about nine
//! times the raw client's samples per run: client construction) and the request timeout.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::misc::zendesk::{ZendeskConfig, ZendeskConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const PAGE: usize = 1000;
const CONCURRENCY: usize = 4;
const ROUNDS: usize = 3;

fn tickets() -> usize {
    loopback::env_size("ZENDESK_BENCH_TICKETS", 5_000)
}

fn user(id: u64, name: &str, email: &str, role: &str) -> Value {
    json!({"id": id, "name": name, "email": email, "role": role, "active": true, "organization_id": 900})
}

fn ticket(id: usize) -> Value {
    json!({
        "id": id, "url": format!("https://bench.zendesk.com/api/v2/tickets/{id}.json"),
        "type": "incident", "subject": format!("Printer {id} is on fire"), "raw_subject": format!("Printer {id} is on fire"),
        "description": "The fire is very colorful.", "priority": "high", "status": "open",
        "requester_id": 2, "submitter_id": 2, "assignee_id": 3, "organization_id": 900, "group_id": 55,
        "collaborator_ids": [], "follower_ids": [], "email_cc_ids": [], "tags": ["printer", "fire"],
        "created_at": "2025-03-01T10:00:00Z",
        "updated_at": format!("2025-03-01T{:02}:{:02}:{:02}Z", 10 + id / 3600, (id / 60) % 60, id % 60),
        "generated_timestamp": 1_740_823_200 + id
    })
}

/// The export pages, pre-rendered without their cursors: page `n`'s `after_cursor` is `p{n+1}`.
struct Export {
    pages: Vec<String>,
}

impl Respond for Export {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let page: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "cursor")
            .and_then(|(_, v)| v.strip_prefix('p').and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let last = page + 1 >= self.pages.len();
        let body = &self.pages[page.min(self.pages.len() - 1)];
        let body = format!(
            "{},\"after_cursor\":\"p{}\",\"end_of_stream\":{last}}}",
            &body[..body.len() - 1],
            page + 1
        );
        ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
    }
}

fn pages(n: usize) -> Vec<String> {
    let users = json!([
        user(2, "Carl Customer", "carl@customer.test", "end-user"),
        user(3, "Rob Agent", "rob@example.com", "agent")
    ]);
    let orgs = json!([{"id": 900, "name": "Customer Inc", "shared_tickets": true}]);
    let all: Vec<Value> = (1..=n).map(ticket).collect();
    all.chunks(PAGE)
        .map(|c| {
            json!({"tickets": c, "users": users, "organizations": orgs, "before_cursor": null})
                .to_string()
        })
        .collect()
}

fn comments() -> String {
    let c = |id: u64, author: u64, html: &str, public: bool| {
        json!({"id": id, "type": "Comment", "author_id": author, "body": html, "html_body": format!("<div class=\"zd-comment\"><p>{html}</p></div>"),
               "public": public, "attachments": [], "created_at": "2025-03-01T10:00:00Z"})
    };
    json!({
        "comments": [
            c(1, 2, "The printer is on <b>fire</b>.", true),
            c(2, 3, "Customer is on the legacy plan.", false),
            c(3, 3, "We are sending a technician.", true)
        ],
        "meta": {"has_more": false, "after_cursor": "xyz", "before_cursor": null},
        "links": {"next": null, "prev": null},
        "users": [user(2, "Carl Customer", "carl@customer.test", "end-user"), user(3, "Rob Agent", "rob@example.com", "agent")]
    })
    .to_string()
}

async fn get(client: &reqwest::Client, url: &str) -> Value {
    let body = client
        .get(url)
        .basic_auth("bench@example.com/token", Some("bench"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The raw fetch: the same export pages by cursor, then the same comment pages, 4 at a time.
/// Counts two documents per ticket, as the connector makes.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let mut requests = 0u64;
    let mut listed = Vec::new();
    let mut url = format!(
        "{base}/api/v2/incremental/tickets/cursor.json?start_time=0&per_page={PAGE}&include=users%2Corganizations"
    );
    loop {
        let page = get(client, &url).await;
        requests += 1;
        for t in page["tickets"].as_array().unwrap() {
            listed.push(t["id"].as_u64().unwrap());
        }
        if page["end_of_stream"].as_bool().unwrap() {
            break;
        }
        url = format!(
            "{base}/api/v2/incremental/tickets/cursor.json?cursor={}&per_page={PAGE}&include=users%2Corganizations",
            page["after_cursor"].as_str().unwrap()
        );
    }
    let counts: Vec<usize> = futures::stream::iter(listed)
        .map(|id| async move {
            let url = format!(
                "{base}/api/v2/tickets/{id}/comments?page%5Bsize%5D=100&sort=created_at&include=users"
            );
            get(client, &url).await["comments"].as_array().unwrap().len()
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    assert!(counts.iter().all(|c| *c == 3));
    (2 * counts.len(), requests + counts.len() as u64)
}

fn main() {
    let n = tickets();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v2/incremental/tickets/cursor.json"))
            .respond_with(Export { pages: pages(n) })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/api/v2/tickets/[0-9]+/comments$"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(comments().into_bytes(), "application/json"),
            )
            .mount(&server)
            .await;
        println!(
            "zendesk loopback: {n} tickets in the cursor export, {PAGE} per page, 3 comments each (one internal): {} documents",
            2 * n
        );

        let config: ZendeskConfig = connectors::core::config::from_json(json!({
            "zendesk_content_type": "tickets",
            "credentials": {"zendesk_subdomain": "bench", "zendesk_email": "bench@example.com", "zendesk_token": "bench"},
            "base_url": server.uri(),
            "allowed_hosts": ["127.0.0.1"],
            // Zendesk's 10 export and 200 other requests a minute would make this a test of
            // the limiter.
            "export_requests_per_minute": 100_000,
            "requests_per_minute": 100_000,
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let uri = server.uri();
        let compare = Compare {
            rounds: ROUNDS,
            n: 2 * n,
            unit: "doc",
            name: "ZendeskConnector",
            width: 30,
        };
        compare
            .run(
                || raw(&client, &uri),
                || ZendeskConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
