//! Loopback end-to-end benchmark of the OneDrive connector's drive-item delta (`harness =
//! false`, not run in CI): a wiremock Graph holding `ONEDRIVE_BENCH_FILES` files (default
//! 10,000) of 1 KiB in one drive, listed 200 per delta page (Graph's usual page) behind
//! `@odata.nextLink`, each download a `302` to a download path as Graph does, read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: the token, every delta page by its
//!    `@odata.nextLink`, then every file's content (following the redirect), 8 at a time,
//!    each body kept;
//! 2. `OnedriveConnector::load` (with `include_permissions: false`, which the baseline does
//!    not read either): the same requests through the Graph client, each file a document;
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints files/s, requests per file and the ratios to the baseline (best of three rounds),
//! then the process's peak RSS (`VmHWM`); run it at two sizes to see memory grow with the
//! files listed (`ONEDRIVE_BENCH_FILES=1000` and `=10000`). `cargo bench --bench onedrive`.
//!
//! # Results
//!
//! 2026-12-05, release, the 2-core machine under load 10 (other builds beside it), best of 3:
//!
//! | files | raw fetch | `load()` | full `Syncer` run |
//! | --- | --- | --- | --- |
//! | 1,000 | 0.094 s | 0.165 s (1.76x) | 0.279 s (2.96x) |
//! | 10,000 | 2.191 s | 2.121 s (0.97x) | 2.355 s (1.07x) |
//!
//! At 10,000 files the connector is within the raw fetch's time (target 1.5x); at 1,000 the
//! whole run is a quarter of a second and the fixed costs (the token, the drive lookup in a
//! `$batch`) and the machine's load dominate. Peak RSS (1.1 GiB at 10,000) is wiremock's: it
//! keeps a copy of every request it served, 180,000 here; a memory figure needs the fake in
//! another process, as `benches/webdav.rs` does.
//!
//! s38 (shared drive walk with the compact checkpoint; one drive keeps its link), 10,000 files,
//! load 6-8, three runs, median: `load()` 1.23x, full `Syncer` run 1.24x.
//!
//! Session 43 (issue 23): drive items' times read through core's `time::de_utc_option` (the
//! fast path: Graph's `…T10:00:00Z`), `created_at` written through `rfc3339_secs`; documents
//! byte-identical. 3 alternating runs against the binary at 1dc498e under load average 18-21
//! (noise): `load()` base 2.062 / 2.621 / 1.219 s, new 1.783 / 2.526 / 1.460 s; full run base
//! 3.217 / 2.761 / 2.186 s, new 3.182 / 2.211 / 2.372 s. The lead re-measures on a quiet
//! machine.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::misc::onedrive::{OnedriveConfig, OnedriveConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, Request, ResponseTemplate};

const PAGE: usize = 200;
const BODY: usize = 1024;
const CONCURRENCY: usize = 8;
const ROUNDS: usize = 3;
const DRIVE: &str = "b!bench";

fn files() -> usize {
    loopback::env_size("ONEDRIVE_BENCH_FILES", 10_000)
}

fn item(base: &str, n: usize) -> Value {
    json!({
        "id": format!("01ITEM{n:08}"), "name": format!("note-{n}.md"), "size": BODY,
        "eTag": format!("\"{{{n}}},1\""), "cTag": format!("\"c:{{{n}}},1\""),
        "createdDateTime": "2026-03-01T10:00:00Z", "lastModifiedDateTime": "2026-03-01T10:01:00Z",
        "webUrl": format!("{base}/personal/bench/Documents/note-{n}.md"),
        "file": {"mimeType": "text/markdown", "hashes": {"quickXorHash": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}},
        "parentReference": {"driveType": "business", "driveId": DRIVE, "id": "01ROOT"},
        "createdBy": {"user": {"email": "owner@contoso.com", "displayName": "Owner"}},
        "lastModifiedBy": {"user": {"email": "owner@contoso.com", "displayName": "Owner"}},
    })
}

fn pages(base: &str, n: usize) -> Vec<String> {
    let link = format!("{base}/v1.0/drives/{DRIVE}/root/delta");
    let items: Vec<Value> = (0..n).map(|i| item(base, i)).collect();
    let chunks: Vec<&[Value]> = items.chunks(PAGE).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut page = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(driveItem)", "value": c});
            if i + 1 < chunks.len() {
                page["@odata.nextLink"] = json!(format!("{link}?token=p{}", i + 1));
            } else {
                page["@odata.deltaLink"] = json!(format!("{link}?token=latest"));
            }
            page.to_string()
        })
        .collect()
}

/// The raw fetch: a token, the same delta pages by their links, then the same downloads.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
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
    let mut requests = 1u64;
    let mut next = Some(format!("{base}/v1.0/drives/{DRIVE}/root/delta"));
    let mut ids = Vec::new();
    while let Some(url) = next.take() {
        let body = client
            .get(&url)
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        requests += 1;
        let page: Value = serde_json::from_slice(&body).unwrap();
        for e in page["value"].as_array().unwrap() {
            if e.get("file").is_some() {
                ids.push(e["id"].as_str().unwrap().to_owned());
            }
        }
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    let bodies: Vec<usize> = futures::stream::iter(ids)
        .map(|id| {
            let url = format!("{base}/v1.0/drives/{DRIVE}/items/{id}/content");
            let bearer = bearer.clone();
            async move {
                client
                    .get(&url)
                    .bearer_auth(bearer)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
                    .len()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    assert!(bodies.iter().all(|b| *b == BODY));
    (bodies.len(), requests + 2 * bodies.len() as u64)
}

fn main() {
    let n = files();
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
            .and(path(format!("/v1.0/drives/{DRIVE}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": DRIVE, "name": "OneDrive", "driveType": "business",
                "owner": {"user": {"email": "owner@contoso.com", "displayName": "Owner"}}})))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1.0/$batch"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"responses": [
                {"id": "0", "status": 200, "headers": {}, "body": {
                    "id": DRIVE, "name": "OneDrive", "driveType": "business",
                    "owner": {"user": {"email": "owner@contoso.com"}}}}]})),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v1.0/drives/{DRIVE}/root/delta")))
            .respond_with(loopback::Pages(pages(&base, n), "token"))
            .mount(&server)
            .await;
        // Graph's download URLs are on another host: here the same server by another name.
        let location = base.replace("127.0.0.1", "localhost");
        Mock::given(method("GET"))
            .and(path_regex("/items/[^/]+/content$"))
            .respond_with(move |req: &Request| {
                let id = req.url.path().split('/').nth(5).unwrap_or("0").to_owned();
                ResponseTemplate::new(302)
                    .insert_header("Location", format!("{location}/dl/{id}").as_str())
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/dl/"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; BODY]))
            .mount(&server)
            .await;
        println!(
            "onedrive loopback: {n} files of {BODY} B, {PAGE} per delta page, downloads by 302"
        );

        let config: OnedriveConfig = connectors::core::config::from_json(json!({
            "credentials": {"tenant_id": "tenant", "client_id": "app", "client_secret": "s"},
            "drive_ids": [DRIVE],
            "include_permissions": false,
            "requests_per_second": 0,
            "authority_host": base,
            "graph_url": base,
            "allowed_hosts": ["127.0.0.1", "localhost"],
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "file",
            name: "OnedriveConnector",
            width: 26,
        };
        compare
            .run(
                || raw(&client, &base),
                || OnedriveConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
