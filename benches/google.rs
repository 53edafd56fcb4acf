//! Loopback end-to-end benchmark of the Google connectors (`harness = false`, not run in CI):
//! a wiremock Google holding 10,000 Drive files (10 `files.list` pages of 1,000, then one
//! `alt=media` download each) and 5,000 Gmail threads (10 `threads.list` pages of 500, then one
//! `threads.get?format=full` each, multipart/alternative bodies), read by
//!
//! 1. the baseline: raw `reqwest` GETs of the same list pages and the same per-item requests,
//!    8 at a time, bodies parsed as JSON where they are JSON;
//! 2. the connector's `load()`: the same requests through the shared HTTP client with OAuth
//!    token caching, each file or thread converted to a document (MIME walk, charsets, HTML).
//!
//! Prints documents/s for each and the connector's ratio to the baseline.
//! Run with `cargo bench --bench google`.

// A benchmark main: a failed request or a wrong fixture must stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::time::Instant;

use base64::Engine;
use connectors::core::{LoadConnector, SyncContext};
use connectors::google::{GmailConfig, GmailConnector, GoogleDriveConfig, GoogleDriveConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const FILES: usize = 10_000;
const FILE_PAGE: usize = 1_000;
const THREADS: usize = 5_000;
const THREAD_PAGE: usize = 500;
const CONCURRENCY: usize = 8;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn page_index(req: &Request) -> usize {
    req.url
        .query_pairs()
        .find(|(k, _)| k == "pageToken")
        .and_then(|(_, v)| v.strip_prefix('p').and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Precomputed bodies: list pages by index, items by id.
struct Fixture {
    pages: Vec<String>,
    items: HashMap<String, (String, &'static str)>,
}

impl Respond for Fixture {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let p = req.url.path();
        if p == "/drive/v3/files" || p.ends_with("/threads") {
            let body = self.pages.get(page_index(req)).cloned().unwrap_or_default();
            return ResponseTemplate::new(200).set_body_raw(body, "application/json");
        }
        let id = p.rsplit('/').next().unwrap_or_default();
        match self.items.get(id) {
            Some((body, mime)) => ResponseTemplate::new(200).set_body_raw(body.clone(), mime),
            None => ResponseTemplate::new(404),
        }
    }
}

fn drive_fixture() -> Fixture {
    let mut pages = Vec::new();
    let mut items = HashMap::new();
    for p in 0..FILES / FILE_PAGE {
        let files: Vec<Value> = (p * FILE_PAGE..(p + 1) * FILE_PAGE)
            .map(|i| {
                let id = format!("file{i:05}");
                let content = format!("Quarterly notes {i}\n\n{}", "Lorem ipsum dolor sit amet. ".repeat(20));
                let v = json!({
                    "id": id, "name": format!("notes-{i}.txt"), "mimeType": "text/plain",
                    "modifiedTime": format!("2026-01-15T10:{:02}:{:02}.000Z", (i / 60) % 60, i % 60),
                    "size": content.len().to_string(), "version": "3",
                    "webViewLink": format!("https://drive.google.com/file/d/{id}/view?usp=drivesdk"),
                    "owners": [{"emailAddress": "me@example.com"}], "fileExtension": "txt"
                });
                items.insert(id, (content, "text/plain"));
                v
            })
            .collect();
        let mut body = json!({"kind": "drive#fileList", "files": files});
        if p + 1 < FILES / FILE_PAGE {
            body["nextPageToken"] = json!(format!("p{}", p + 1));
        }
        pages.push(body.to_string());
    }
    Fixture { pages, items }
}

fn gmail_fixture() -> Fixture {
    let mut pages = Vec::new();
    let mut items = HashMap::new();
    for p in 0..THREADS / THREAD_PAGE {
        let threads: Vec<Value> = (p * THREAD_PAGE..(p + 1) * THREAD_PAGE)
            .map(|i| {
                let id = format!("thread{i:05}");
                let messages: Vec<Value> = (0..2)
                    .map(|m| {
                        let text = format!("Hello, message {m} of thread {i}.\n{}", "Some body text. ".repeat(15));
                        let html = format!("<p>Hello, <b>message {m}</b> of thread {i}.</p>");
                        json!({
                            "id": format!("{id}-m{m}"), "threadId": id, "labelIds": ["INBOX"],
                            "internalDate": (1_768_471_200_000i64 + (i as i64) * 1000 + m).to_string(),
                            "payload": {
                                "partId": "", "mimeType": "multipart/alternative", "filename": "",
                                "headers": [
                                    {"name": "From", "value": "Alice <alice@example.com>"},
                                    {"name": "To", "value": "Bob <bob@example.com>"},
                                    {"name": "Subject", "value": format!("Thread {i}")},
                                    {"name": "Content-Type", "value": "multipart/alternative; boundary=b"}
                                ],
                                "body": {"size": 0},
                                "parts": [
                                    {"partId": "0", "mimeType": "text/plain", "filename": "",
                                     "headers": [{"name": "Content-Type", "value": "text/plain; charset=UTF-8"}],
                                     "body": {"size": text.len(), "data": b64(&text)}},
                                    {"partId": "1", "mimeType": "text/html", "filename": "",
                                     "headers": [{"name": "Content-Type", "value": "text/html; charset=UTF-8"}],
                                     "body": {"size": html.len(), "data": b64(&html)}}
                                ]
                            }
                        })
                    })
                    .collect();
                let thread = json!({"id": id, "historyId": "42", "messages": messages});
                items.insert(id.clone(), (thread.to_string(), "application/json"));
                json!({"id": id, "historyId": "42", "snippet": "Hello"})
            })
            .collect();
        let mut body = json!({"threads": threads, "resultSizeEstimate": THREADS});
        if p + 1 < THREADS / THREAD_PAGE {
            body["nextPageToken"] = json!(format!("p{}", p + 1));
        }
        pages.push(body.to_string());
    }
    Fixture { pages, items }
}

/// Raw reqwest: every list page, then every item `CONCURRENCY` at a time, JSON parsed.
async fn baseline(list: &str, item: impl Fn(&str) -> String, key: &str) -> usize {
    let http = reqwest::Client::new();
    let mut token: Option<String> = None;
    let mut count = 0;
    loop {
        let mut url = list.to_owned();
        if let Some(t) = &token {
            url.push_str(&format!("&pageToken={t}"));
        }
        let page: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
        let ids: Vec<String> = page[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect();
        let bodies: Vec<usize> = futures::stream::iter(ids)
            .map(|id| {
                let http = http.clone();
                let url = item(&id);
                async move {
                    let bytes = http.get(url).send().await.unwrap().bytes().await.unwrap();
                    let _ = serde_json::from_slice::<Value>(&bytes);
                    bytes.len()
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        count += bodies.len();
        token = page["nextPageToken"].as_str().map(str::to_owned);
        if token.is_none() {
            return count;
        }
    }
}

async fn drain(c: &dyn LoadConnector) -> usize {
    let mut s = c.load(SyncContext::new());
    let mut n = 0;
    while let Some(page) = s.next().await {
        let page = page.unwrap();
        assert!(page.failures.is_empty(), "{:?}", page.failures.first());
        n += page.documents.len();
    }
    n
}

fn rate(n: usize, secs: f64) -> f64 {
    n as f64 / secs
}

#[tokio::main]
async fn main() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "ya29.bench", "expires_in": 3599, "token_type": "Bearer"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/drive/v3/files"))
        .respond_with(drive_fixture())
        .mount(&server)
        .await;
    // Who the OAuth user is (files it owns are its own), and the changes feed's start token
    // each run takes before it lists (`follow_changes`, on by default).
    Mock::given(method("GET"))
        .and(path("/drive/v3/about"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"user": {"emailAddress": "me@example.com"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/changes/startPageToken"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"kind": "drive#startPageToken", "startPageToken": "1"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/profile"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"emailAddress": "me@example.com", "historyId": "42"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/gmail/v1/users/me/threads"))
        .respond_with(gmail_fixture())
        .mount(&server)
        .await;
    let uri = server.uri();
    let token =
        json!({"refresh_token": "1//bench", "client_id": "bench", "client_secret": "bench"});
    let creds = json!({"google_tokens": token});

    // Drive.
    let t = Instant::now();
    let n = baseline(
        &format!("{uri}/drive/v3/files?pageSize=1000"),
        |id| format!("{uri}/drive/v3/files/{id}?alt=media"),
        "files",
    )
    .await;
    let base = rate(n, t.elapsed().as_secs_f64());
    let cfg: GoogleDriveConfig = serde_json::from_value(json!({
        "credentials": creds, "include_my_drives": true,
        "token_uri": format!("{uri}/token"), "drive_base_url": uri,
        // The mock listens on loopback, which the connector denies unless allowed.
        "allowed_hosts": ["127.0.0.1"],
    }))
    .unwrap();
    let drive = GoogleDriveConnector::new(cfg).unwrap();
    let t = Instant::now();
    let docs = drain(&drive).await;
    let conn = rate(docs, t.elapsed().as_secs_f64());
    assert_eq!(docs, FILES);
    println!(
        "google_drive  {FILES} files: baseline {base:>8.0} items/s, connector {conn:>8.0} docs/s, ratio {:.2}",
        conn / base
    );

    // Gmail.
    let t = Instant::now();
    let n = baseline(
        &format!("{uri}/gmail/v1/users/me/threads?maxResults=500"),
        |id| format!("{uri}/gmail/v1/users/me/threads/{id}?format=full"),
        "threads",
    )
    .await;
    let base = rate(n, t.elapsed().as_secs_f64());
    let cfg: GmailConfig = serde_json::from_value(json!({
        "credentials": creds, "token_uri": format!("{uri}/token"), "gmail_base_url": uri,
        "allowed_hosts": ["127.0.0.1"],
    }))
    .unwrap();
    let gmail = GmailConnector::new(cfg).unwrap();
    let t = Instant::now();
    let docs = drain(&gmail).await;
    let conn = rate(docs, t.elapsed().as_secs_f64());
    assert_eq!(docs, THREADS);
    println!(
        "gmail         {THREADS} threads: baseline {base:>8.0} items/s, connector {conn:>8.0} docs/s, ratio {:.2}",
        conn / base
    );
}
