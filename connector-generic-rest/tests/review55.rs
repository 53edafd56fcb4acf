//! review55 (of rest59's sub-responses, issue 17): a descendant path's own records are no
//! sub-responses (M1); the worst failed entry of a page is the one reported, a 424 never
//! when another failed (M2); 404/410 excuses an entry only beside one that answered (M3);
//! transient statuses are retried and JSON-RPC's implementation-defined range is not an
//! outage (M4, L1); `error_path` keeps the entry's status and wait (L3, L4); a `$batch` 204
//! with `"body": null` delivers nothing (L5); and the mutations review55 found surviving
//! (L8). Each walk is served page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, cursor_fields, items_config, load, mount_cursor_walk};
use connector_core::Error;
use serde_json::{Value, json};
use wiremock::MockServer;

/// What a load of `bodies` under `fields` delivered, its error, and "Test Connection"'s.
async fn run_with(fields: Value, bodies: &[Value]) -> (Vec<String>, Option<Error>, Option<Error>) {
    let server = MockServer::start().await;
    mount_cursor_walk(&server, bodies).await;
    let c = build(items_config(&server.uri(), &cursor_fields(fields)));
    let (docs, _, err) = load(&c).await;
    let titles = docs.into_iter().map(|d| d.title).collect();
    (titles, err, c.check().await.err())
}

/// M1: under `$..data`, the matched list's own records (an API request log's
/// `{id, status, headers, body}`, one of them a 503) are items, not sub-responses.
#[tokio::test]
async fn a_descendant_paths_own_records_are_not_sub_responses() {
    let page = json!({"data": [
        {"id": "req_1", "status": 200, "headers": {"content-type": "text/html"}, "body": "ok"},
        {"id": "req_2", "status": 503, "headers": {}, "body": ""}]});
    let fields = json!({"items_path": "$..data", "content_fields": "body"});
    let (titles, load, check) = run_with(fields, &[page]).await;
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(load.is_none() && check.is_none(), "{load:?} {check:?}");
}
