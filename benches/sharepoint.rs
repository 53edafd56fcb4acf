//! Loopback end-to-end benchmark of the SharePoint connector (`harness = false`, not run in
//! CI): a wiremock Graph with one site (found by its URL) holding one document library of
//! `SHAREPOINT_BENCH_FILES` files (default 10,000) of 1 KiB, listed 200 per delta page behind
//! `@odata.nextLink`, each download a `302` to a download path as Graph does, and one site
//! page per 20 files, listed 100 per page with their canvases. Read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: the token, the site by its URL, its
//!    drives, every delta page by its `@odata.nextLink`, every file's content (following the
//!    redirect) 8 at a time, then every site page listing page;
//! 2. `SharepointConnector::load` (with `include_permissions: false`, which the baseline does
//!    not read either): the same requests, each file and page a document (pages converted to
//!    Markdown);
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints items/s, requests per item and the ratios to the baseline (best of three rounds),
//! then the process's peak RSS (wiremock's, mostly: it keeps every request it served).
//! `cargo bench --bench sharepoint`.
//!
//! # Results
//!
//! 2026-12-05, release, the 2-core machine shared with other builds, best of 3: 10,000 files
//! and 500 pages, raw fetch 1.146 s, `load()` 1.566 s (1.37x), full `Syncer` run 1.034 s
//! (0.90x). Peak RSS (1.1 GiB) is wiremock's copy of every request it served.
//!
//! After the compact drive checkpoint, pages' sharing round and lists (s38, load 6-8, three
//! runs, median): `load()` 1.38x, full `Syncer` run 1.32x (runs 1.72/1.38/1.30x and
//! 1.73/1.32/1.19x; a library read by a named site keeps its link form).
//!
//! Session 43 (issue 23): drive items', list items' and pages' times read through core's
//! `time::de_utc_option` (the fast path: Graph's `…T10:00:00Z`), `created_at` and versions
//! written through `rfc3339_secs` / `rfc3339_offset`; documents byte-identical. 3 alternating
//! runs against the binary at 1dc498e under load average 22-30 (the seconds are noise at
//! that load): `load()` base 0.853 / 3.173 / 3.457 s, new 2.319 / 1.974 / 2.272 s; full run
//! base 0.712 / 3.121 / 3.138 s, new 3.538 / 2.106 / 1.983 s. The lead re-measures on a quiet
//! machine.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::misc::sharepoint::{SharepointConfig, SharepointConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, Request, ResponseTemplate};

const PAGE: usize = 200;
const SITE_PAGES_PER_LISTING: usize = 100;
const BODY: usize = 1024;
const CONCURRENCY: usize = 8;
const ROUNDS: usize = 3;
const DRIVE: &str = "b!bench";
const SITE: &str = "contoso.sharepoint.com,1b2c3d4e-0000-4000-8000-00000000e001,7f8e9d0c-0000-4000-8000-00000000e0e1";

fn files() -> usize {
    loopback::env_size("SHAREPOINT_BENCH_FILES", 10_000)
}

fn item(base: &str, n: usize) -> Value {
    json!({
        "id": format!("01ITEM{n:08}"), "name": format!("note-{n}.md"), "size": BODY,
        "eTag": format!("\"{{{n}}},1\""),
        "createdDateTime": "2026-03-01T10:00:00Z", "lastModifiedDateTime": "2026-03-01T10:01:00Z",
        "webUrl": format!("{base}/sites/Bench/Shared%20Documents/note-{n}.md"),
        "file": {"mimeType": "text/markdown", "hashes": {"quickXorHash": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}},
        "parentReference": {"driveType": "documentLibrary", "driveId": DRIVE, "id": "01ROOT"},
        "createdBy": {"user": {"email": "owner@contoso.com", "displayName": "Owner"}},
        "lastModifiedBy": {"user": {"email": "owner@contoso.com", "displayName": "Owner"}},
    })
}

fn site_page(n: usize) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.sitePage", "id": format!("p-{n}"),
        "name": format!("Page-{n}.aspx"), "title": format!("Page {n}"), "description": "A page.",
        "webUrl": format!("SitePages/Page-{n}.aspx"), "eTag": format!("\"{{p{n}}},1\""),
        "lastModifiedDateTime": "2026-03-01T10:01:00Z", "createdDateTime": "2026-03-01T10:00:00Z",
        "createdBy": {"user": {"displayName": "Owner", "email": "owner@contoso.com"}},
        "canvasLayout": {"horizontalSections": [{"columns": [{"webparts": [
            {"@odata.type": "#microsoft.graph.textWebPart", "innerHtml":
                "<h2>Section</h2><p>Some <strong>text</strong> with a <a href=\"https://contoso.sharepoint.com/x\">link</a>.</p><ul><li>one</li><li>two</li></ul>"}
        ]}]}]}
    })
}

fn delta_pages(base: &str, n: usize) -> Vec<String> {
    let link = format!("{base}/v1.0/drives/{DRIVE}/root/delta");
    let items: Vec<Value> = (0..n).map(|i| item(base, i)).collect();
    let chunks: Vec<&[Value]> = items.chunks(PAGE).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut page = json!({"value": c});
            if i + 1 < chunks.len() {
                page["@odata.nextLink"] = json!(format!("{link}?token=p{}", i + 1));
            } else {
                page["@odata.deltaLink"] = json!(format!("{link}?token=latest"));
            }
            page.to_string()
        })
        .collect()
}

fn site_pages(base: &str, n: usize) -> Vec<String> {
    let link = format!("{base}/v1.0/sites/{SITE}/pages/microsoft.graph.sitePage");
    let items: Vec<Value> = (0..n).map(site_page).collect();
    let chunks: Vec<&[Value]> = items.chunks(SITE_PAGES_PER_LISTING).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut page = json!({"value": c});
            if i + 1 < chunks.len() {
                page["@odata.nextLink"] =
                    json!(format!("{link}?$expand=canvasLayout&$skiptoken=p{}", i + 1));
            }
            page.to_string()
        })
        .collect()
}

/// Follows `@odata.nextLink` from `first`, calling `each` on every page.
async fn follow(
    client: &reqwest::Client,
    bearer: &str,
    first: String,
    mut each: impl FnMut(&Value),
) -> u64 {
    let mut requests = 0;
    let mut next = Some(first);
    while let Some(url) = next.take() {
        let body = client
            .get(&url)
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        requests += 1;
        let page: Value = serde_json::from_slice(&body).unwrap();
        each(&page);
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    requests
}

/// The raw fetch: a token, the site, its drives, the delta pages, the downloads, the pages.
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
    let site: Value = client
        .get(format!(
            "{base}/v1.0/sites/contoso.sharepoint.com:/sites/Bench"
        ))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let site_id = site["id"].as_str().unwrap().to_owned();
    let mut drives = Vec::new();
    requests += 1 + follow(
        client,
        &bearer,
        format!("{base}/v1.0/sites/{site_id}/drives"),
        |p| {
            for d in p["value"].as_array().unwrap() {
                drives.push(d["id"].as_str().unwrap().to_owned());
            }
        },
    )
    .await;
    let mut ids = Vec::new();
    for drive in &drives {
        requests += follow(
            client,
            &bearer,
            format!("{base}/v1.0/drives/{drive}/root/delta"),
            |p| {
                for e in p["value"].as_array().unwrap() {
                    if e.get("file").is_some() {
                        ids.push(e["id"].as_str().unwrap().to_owned());
                    }
                }
            },
        )
        .await;
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
    let mut pages = 0;
    requests += follow(
        client,
        &bearer,
        format!("{base}/v1.0/sites/{site_id}/pages/microsoft.graph.sitePage?$expand=canvasLayout"),
        |p| pages += p["value"].as_array().unwrap().len(),
    )
    .await;
    (bodies.len() + pages, requests + 2 * bodies.len() as u64)
}

fn main() {
    let n = files();
    let n_pages = n / 20;
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
            .and(path("/v1.0/sites/contoso.sharepoint.com:/sites/Bench"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": SITE, "name": "Bench", "displayName": "Bench",
                "webUrl": "https://contoso.sharepoint.com/sites/Bench"})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v1.0/sites/{SITE}/drives")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [{
                "id": DRIVE, "name": "Documents", "driveType": "documentLibrary",
                "sharePointIds": {"siteId": "1b2c3d4e-0000-4000-8000-00000000e001"}}]})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v1.0/drives/{DRIVE}/root/delta")))
            .respond_with(loopback::Pages(delta_pages(&base, n), "token"))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!(
                "/v1.0/sites/{SITE}/pages/microsoft.graph.sitePage"
            )))
            .respond_with(loopback::Pages(site_pages(&base, n_pages), "$skiptoken"))
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
            "sharepoint loopback: {n} files of {BODY} B ({PAGE} per delta page, downloads by 302) and {n_pages} site pages"
        );

        let config: SharepointConfig = connectors::core::config::from_json(json!({
            "credentials": {"tenant_id": "tenant", "client_id": "app", "client_secret": "s",
                            "site_url": "https://contoso.sharepoint.com/sites/Bench"},
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
            n: n + n_pages,
            unit: "item",
            name: "SharepointConnector",
            width: 26,
        };
        compare
            .run(
                || raw(&client, &base),
                || SharepointConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
