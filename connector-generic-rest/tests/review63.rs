//! review63's and review66's leftovers in the sub-responses (issue 17): the JSON-RPC codes read
//! as HTTP statuses, pinned (review66 L1); a whole answer's wait (Google's `RetryInfo`,
//! Infura's `backoff_seconds`, the answer's own `Retry-After`); the 424 rule, by id and under
//! `$..` (review63 L2); lists beside the records under `$..` (fix62's sibling case); a gone
//! entry's error at `error_path` (review63's info); and the mutations review63 Q6 found
//! surviving. Each walk is served page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{record, run};
use connector_core::ErrorKind;
use serde_json::json;

/// review66 L1: a JSON-RPC error whose code is an HTTP status that says to fix credentials,
/// wait or retry is read as that status, in a batch beside an answered entry and as the whole
/// answer at HTTP 200: 401 the credentials', 403 access refused, 408 and every 5xx an
/// outage, 429 a throttle; each but the credentials' retried.
#[tokio::test]
async fn json_rpc_codes_read_as_http_statuses() {
    let cases = [
        (401, ErrorKind::Unauthenticated),
        (403, ErrorKind::PermissionDenied),
        (408, ErrorKind::Unavailable),
        (429, ErrorKind::RateLimited),
        (500, ErrorKind::Unavailable),
        (502, ErrorKind::Unavailable),
        (503, ErrorKind::Unavailable),
        (504, ErrorKind::Unavailable),
        (599, ErrorKind::Unavailable),
    ];
    for (code, kind) in cases {
        let error = json!({"jsonrpc": "2.0", "error": {"code": code, "message": "x"}, "id": 2});
        let batch = json!([{"jsonrpc": "2.0", "result": {"items": [record(1, true)]}, "id": 1},
            error.clone()]);
        for (path, page) in [
            ("$[*].result.items[*]", batch),
            ("$.result.items[*]", error),
        ] {
            let (titles, load, _) = run(path, std::slice::from_ref(&page)).await;
            let err = load.unwrap_or_else(|| panic!("{code} {path}: fails, {titles:?}"));
            assert_eq!(err.kind(), kind, "{code} {path}: {err}");
            let retried = !matches!(
                kind,
                ErrorKind::Unauthenticated | ErrorKind::PermissionDenied
            );
            assert_eq!(err.is_retryable(), retried, "{code} {path}: {err}");
            assert!(err.to_string().contains(&format!("status {code}")), "{err}");
        }
    }
}
