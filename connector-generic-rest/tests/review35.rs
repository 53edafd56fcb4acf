//! Review35's findings on rest53's merge: a path's wildcard entry read as an envelope where
//! the map of records had one entry or word keys, so a record's own `error` failed the page
//! on every run (R1, loud); one record's data field `error` in the object the path names
//! below its records failed every page with no kept items (R2, loud); a cursor walk never
//! read a root `error` beside wrappers whose lists were empty (S1, silent loss then prune);
//! and a record whose object was an error without the list read as one with an empty list
//! (S2, silent). Each walk is served page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{cursor_walk, record};
use serde_json::{Value, json};

/// review35 R1: under `$.jobs.*.artifacts[?…]`, a page of one job (review20 F4's bodies cut
/// to one job) read `/jobs/j2` as an envelope, and the job's own `error` failed it on every
/// run; so did jobs keyed by words on a first page, and a map of ids with a count beside
/// them. What the path's wildcard selects is a record whatever the map holds; what holds
/// the records still speaks for the response.
#[tokio::test]
async fn a_wildcards_entry_is_a_record_on_a_page_of_one() {
    const PATH: &str = "$.jobs.*.artifacts[?@.public == true]";
    let p1 = json!({"jobs": {"j1": {"artifacts": [record(1, true)]}, "j2": {"artifacts": []}}});
    let p2 = json!({"jobs": {"j2": {"artifacts": [], "error": "build failed"}}});
    assert_eq!(
        cursor_walk(PATH, &[p1.clone(), p2]).await,
        (vec!["t1".to_owned()], None)
    );
    // Jobs keyed by words, on a run's first page (no place yet); ids with a count beside.
    for page in [
        json!({"jobs": {"build": {"artifacts": []},
            "test": {"artifacts": [], "error": "tests failed"}}}),
        json!({"jobs": {"j1": {"artifacts": [record(2, false)]},
            "j2": {"artifacts": [], "error": "build failed"}, "total": 2}}),
    ] {
        assert_eq!(
            cursor_walk(PATH, &[p1.clone(), page.clone()]).await,
            (vec!["t1".to_owned()], None),
            "{page}"
        );
        assert_eq!(
            cursor_walk(PATH, std::slice::from_ref(&page)).await,
            (vec![], None),
            "{page}"
        );
    }
    // What holds the jobs, and the response's root, still say it failed.
    let path = "$.pipeline.jobs.*.artifacts[?@.public == true]";
    let p1 = json!({"pipeline": {"jobs": {"j1": {"artifacts": [record(1, true)]}}}});
    let p2 = json!({"pipeline": {"jobs": {"j2": {"artifacts": []}}, "error": "busy"}});
    let (titles, err) = cursor_walk(path, &[p1.clone(), p2]).await;
    assert_eq!(titles, ["t1"]);
    let err = err.expect("the envelope's error fails the page");
    assert!(err.contains("`/pipeline/error` is set"), "{err}");
    let p2 = json!({"pipeline": {"jobs": {"j2": {"artifacts": []}}}, "error": "busy"});
    let (_, err) = cursor_walk(path, &[p1, p2]).await;
    let err = err.expect("the root's error fails the page");
    assert!(err.contains("`error` is set"), "{err}");
}

/// review35 R1 at the root: Firebase's answer is a map of records keyed by push ids, and its
/// last page often holds one; a record's own `error` (one a Firebase Extension wrote) failed
/// it. The comments of every record are read; the record's `error` is its own.
#[tokio::test]
async fn a_firebase_page_of_one_record_is_no_error() {
    const PATH: &str = "$.*.comments[?@.approved == true]";
    let comment = |id: u64, approved: bool| json!({"id": id, "approved": approved, "title": format!("c{id}")});
    let last = json!({"-NaB3": {"title": "x", "error": "upload failed", "comments": []}});
    assert_eq!(
        cursor_walk(PATH, std::slice::from_ref(&last)).await,
        (vec![], None)
    );
    let p1 = json!({"-NaB1": {"title": "a", "comments": [comment(1, true)]},
        "-NaB2": {"title": "b", "comments": [comment(2, false)]}});
    assert_eq!(
        cursor_walk(PATH, &[p1, last]).await,
        (vec!["c1".to_owned()], None)
    );
}

/// A run whose result carries `error` (a field of the run's data: it failed) next to its
/// logs.
fn run(id: u64, error: Value, logs: Value) -> Value {
    json!({"id": id, "result": {"error": error, "logs": logs}})
}

/// A log line: kept where its level is `error`.
fn log(id: u64, level: &str) -> Value {
    json!({"id": id, "level": level, "title": format!("t{id}")})
}

/// review35 R2: under `$.runs[*].result.logs[?…]`, one run's `result.error` (its data) failed
/// every page with no kept items, and the walk stopped there. Such an object fails a page
/// only where every record's does: a page on which every run's result failed still fails.
#[tokio::test]
async fn one_records_error_below_its_wildcard_is_its_own() {
    const PATH: &str = "$.runs[*].result.logs[?@.level == 'error']";
    let p1 = json!({"runs": [run(1, Value::Null, json!([log(11, "error")]))]});
    let p2 = json!({"runs": [run(2, json!("exit code 1"), json!([log(21, "info")])),
        run(3, Value::Null, json!([]))]});
    let p3 = json!({"runs": [run(4, Value::Null, json!([log(41, "error")]))]});
    assert_eq!(
        cursor_walk(PATH, &[p1.clone(), p2, p3]).await,
        (vec!["t11".to_owned(), "t41".to_owned()], None)
    );
    let p2 = json!({"runs": [run(2, json!("rate limited"), json!([])),
        run(3, json!({"code": 429, "message": "slow down"}), json!([]))]});
    let (titles, err) = cursor_walk(PATH, &[p1, p2]).await;
    assert_eq!(titles, ["t11"]);
    let err = err.expect("a page on which every run's result failed fails");
    assert!(err.contains("`/runs/0/result/error` is set"), "{err}");
}

/// review35 S1: on a cursor walk, a root `error` beside wrappers whose lists are empty was
/// never read (the wrappers counted as entries the filter left out): the page read as the
/// empty last one, then prune. A numbered walk read it since review11 F7.
#[tokio::test]
async fn a_root_error_beside_empty_wrappers_fails_a_cursor_page() {
    for (path, p1, p2) in [
        (
            "$.results[*].report.rows[?@.public == true]",
            json!({"results": [{"report": {"rows": [record(1, true)]}}]}),
            json!({"results": [{"report": {"rows": []}}], "error": "rate limited"}),
        ),
        (
            "$.results[*].hits[?@.public == true]",
            json!({"results": [{"hits": [record(1, true)], "page": 0}]}),
            json!({"results": [{"hits": [], "page": 1}], "error": "rate limited"}),
        ),
    ] {
        let (titles, err) = cursor_walk(path, &[p1.clone(), p2]).await;
        assert_eq!(titles, ["t1"], "{path}");
        let err = err.expect("the root's error fails the page");
        assert!(err.contains("`error` is set"), "{path}: {err}");
        // Entries the filter left out still list the page: its status is not read.
        let p2 = json!({"results": [{"report": {"rows": [record(2, false)]},
            "hits": [record(2, false)], "page": 1}], "error": "rate limited"});
        assert_eq!(
            cursor_walk(path, &[p1, p2]).await,
            (vec!["t1".to_owned()], None),
            "{path}"
        );
    }
}

/// review35 S2: a record whose object is an error without the list the path needs
/// (`{"report": {"error": …}}`; a Microsoft Graph `$batch` answer's `body`; an
/// Elasticsearch `_msearch` answer's entry), beside records whose rows the filter left out,
/// read as an empty page, then prune. An error object standing where the path needs a name
/// fails the page; a record's data holding an `error` field beside others does not.
#[tokio::test]
async fn an_error_object_in_place_of_a_records_list_fails_the_page() {
    let cases = [
        (
            "$.results[*].report.rows[?@.public == true]",
            json!({"results": [{"report": {"rows": [record(1, true)]}}]}),
            json!({"results": [{"report": {"rows": [record(2, false)]}},
                {"report": {"error": "quota exceeded"}}]}),
            "`/results/1/report` holds no `rows` and its `error` is set",
        ),
        (
            "$.responses[*].body.value[?@.public == true]",
            json!({"responses": [{"id": "1", "status": 200,
                "body": {"value": [record(1, true)]}}]}),
            json!({"responses": [{"id": "1", "status": 200,
                "body": {"value": [record(2, false)]}},
                {"id": "2", "status": 429, "body": {"error": {"code": "TooManyRequests",
                    "message": "Too many requests"}}}]}),
            "`/responses/1/body` holds no `value` and its `error` is set",
        ),
        (
            "$.responses[*].hits.hits[?@.public == true]",
            json!({"responses": [{"hits": {"hits": [record(1, true)]}, "status": 200}]}),
            json!({"responses": [{"hits": {"hits": [record(2, false)]}, "status": 200},
                {"error": {"type": "es_rejected_execution_exception", "reason": "queue full"},
                    "status": 429}]}),
            "`/responses/1` holds no `hits` and its `error` is set",
        ),
    ];
    for (path, p1, p2, want) in cases {
        let (titles, err) = cursor_walk(path, &[p1, p2]).await;
        assert_eq!(titles, ["t1"], "{path}");
        let err = err.expect("the failed record fails the page");
        assert!(err.contains(want), "{path}: {err}");
    }
    // A log document (Elastic Common Schema) without the list, its `error` a field of its
    // data: the page is an empty one.
    let path = "$.hits.hits[*]._source.attachments[?@.public == true]";
    let p1 = json!({"hits": {"hits": [{"_source": {"attachments": [record(1, true)]}}]}});
    let p2 = json!({"hits": {"hits": [{"_source": {"attachments": [record(2, false)]}},
        {"_source": {"@timestamp": "2026-12-07T10:00:00Z", "message": "upload failed",
            "error": {"message": "disk full", "type": "IOError"}}}]}});
    assert_eq!(
        cursor_walk(path, &[p1, p2]).await,
        (vec!["t1".to_owned()], None)
    );
}
