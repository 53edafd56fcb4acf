//! Review12's inputs: uncut-empty pages that the response says are not the last, a filter
//! that chose no list on a paged level, and error members the run must tell from a status
//! envelope. Each walk is served page by page; any other page is a 404, which ends a walk
//! after its first page.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, items_config, load, walk};
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A package and its versions, `latest` marking the one to take.
fn package(name: &str, latest: Option<&str>) -> Value {
    let versions: Vec<Value> = latest
        .map(|v| json!({"id": format!("{name}@{v}"), "title": format!("{name}@{v}"), "latest": true}))
        .into_iter()
        .collect();
    json!({"name": name, "versions": versions})
}

/// review12 F1: page 2 lists two packages with no versions. Its entries under the filter
/// (`$.data[*].versions[*]`) are empty, which ended the walk although the response said
/// `has_more: true` (or `total` was not reached): page 3 was never asked for, and prune
/// would delete `d`. An uncut-empty page is now a short one: it ends only a walk the
/// response says nothing about, and never a full page.
#[tokio::test]
async fn an_uncut_empty_page_does_not_override_the_response_or_a_full_page() {
    let pages = |tell: &dyn Fn(usize) -> Value| {
        let data = [
            vec![package("a", Some("1"))],
            vec![package("b", None), package("c", None)],
            vec![package("d", Some("2"))],
        ];
        data.iter()
            .enumerate()
            .map(|(i, d)| {
                let mut body = json!({"data": d});
                for (k, v) in tell(i).as_object().unwrap() {
                    body[k] = v.clone();
                }
                body
            })
            .collect::<Vec<_>>()
    };
    let path = json!({"items_path": "$.data[*].versions[?@.latest == true]"});
    // `has_more`.
    let w = walk(path.clone(), &pages(&|i| json!({"has_more": i < 2}))).await;
    assert_eq!(w.err, None);
    assert_eq!(
        (w.titles.clone(), w.requests),
        (vec!["a@1".to_owned(), "d@2".into()], 3)
    );
    // `total`, counted in the listing's entries (four packages).
    let w = walk(path.clone(), &pages(&|_| json!({"total": 4}))).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles.len(), w.requests), (2, 3));
    // A full page (2 of 2) is a real page; page 3's one entry is short.
    let mut sized = path.clone();
    sized["pagination_config"] = json!({"page_size_param": "per_page", "page_size": 2});
    let w = walk(sized, &pages(&|_| json!({}))).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles.len(), w.requests), (2, 3));
    // Told nothing and not full: the uncut-empty page is the last, as before.
    let w = walk(path, &pages(&|_| json!({}))).await;
    assert_eq!((w.titles.len(), w.requests, w.err), (1, 2, None));
}

/// Ten groups a page, each with one item; `open` lists the open groups and their items.
fn groups(open: &[(usize, &[u64])]) -> Value {
    let hit = |id: u64| json!({"id": id, "title": format!("t{id}")});
    let list: Vec<Value> = (0..10)
        .map(|g| match open.iter().find(|(at, _)| *at == g) {
            Some((_, ids)) => {
                json!({"open": true, "items": ids.iter().map(|i| hit(*i)).collect::<Vec<_>>()})
            }
            None => json!({"open": false, "items": [hit(100 + g as u64)]}),
        })
        .collect();
    json!({"groups": list})
}

/// review12 F2: `$.groups[?@.open == true].items`, where `groups` is the paged level. A page
/// with only closed groups ended the walk (n = 0, its listing skipped), losing the pages
/// after it; a page with one open group of 12 items was full and one with 3 short. Now a
/// page where the filter chose no list is measured by `$.groups[*]`, no `OneList` page is
/// full or short by its count, and several open groups give their entries.
#[tokio::test]
async fn a_filter_that_chose_no_list_on_a_paged_level_is_no_end() {
    let twelve: Vec<u64> = (1..=12).collect();
    let bodies = [
        groups(&[(3, &twelve)]),
        groups(&[]),
        groups(&[(2, &[20, 21, 22])]),
        groups(&[(1, &[30, 31]), (4, &[32])]),
        json!({"groups": []}),
    ];
    let fields = json!({
        "items_path": "$.groups[?@.open == true].items",
        "pagination_config": {"page_size_param": "per_page", "page_size": 10},
    });
    let w = walk(fields, &bodies).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles.len(), w.failed, w.requests), (18, 0, 5));
}

/// review15 N1: a page where the filter chose lists that are all empty (a group just opened)
/// ended the walk (n = 0) and prune deleted the pages after it; with two empty open groups this
/// was new in fix12 (the flattening). Now such a page is measured by the groups it lists.
#[tokio::test]
async fn a_filter_that_chose_only_empty_lists_is_no_end() {
    let twelve: Vec<u64> = (1..=12).collect();
    for second in [groups(&[(2, &[])]), groups(&[(1, &[]), (4, &[])])] {
        let bodies = [
            groups(&[(3, &twelve)]),
            second,
            groups(&[(0, &[30])]),
            json!({"groups": []}),
        ];
        let fields = json!({
            "items_path": "$.groups[?@.open == true].items",
            "pagination_config": {"page_size_param": "per_page", "page_size": 10},
        });
        let w = walk(fields, &bodies).await;
        assert_eq!(w.err, None);
        assert_eq!((w.titles.len(), w.failed, w.requests), (13, 0, 4));
    }
}

/// Three pages with items, then an empty one, each the items under `result` beside `extra`.
fn nested(path_items: &str, extra: &Value, last_items: Value) -> Vec<Value> {
    (0..4u64)
        .map(|p| {
            let items = match p {
                3 => last_items.clone(),
                _ => json!([
                    {"id": 2 * p + 1, "title": format!("t{}", 2 * p + 1), "public": true},
                    {"id": 2 * p + 2, "title": format!("t{}", 2 * p + 2), "public": true},
                ]),
            };
            let mut result = json!({ path_items: items });
            for (k, v) in extra.as_object().unwrap() {
                result[k] = v.clone();
            }
            json!({ "result": result })
        })
        .collect()
}

/// review12 F3: a status envelope nested above the list (`result.error`), carried on every
/// page. fix11's end page check walked up from the list and failed it ("`/result/error` is
/// set"), since only the root's member was learned: every run failed on its last page. A
/// path without a filter is no longer checked there (as at aae9163), and a filtered path
/// learns the envelopes above its matches on pages with items.
#[tokio::test]
async fn an_envelope_nested_above_the_list_does_not_fail_the_last_page() {
    for extra in [
        json!({"error": "none"}),
        json!({"error": "OK"}),
        json!({"error": {"message": "success"}}),
        json!({"errors": [{"message": "deprecated field"}]}),
    ] {
        for path in ["$.result.items[*]", "$.result.items[?@.public == true]"] {
            let bodies = nested("items", &extra, json!([]));
            let w = walk(json!({ "items_path": path }), &bodies).await;
            assert_eq!(
                (w.titles.len(), w.requests, &w.err),
                (6, 4, &None),
                "{extra} {path}"
            );
        }
        // The first page already empty: nothing to learn from, and no filter: as before.
        let bodies = &nested("items", &extra, json!([]))[3..];
        let w = walk(json!({"items_path": "$.result.items[*]"}), bodies).await;
        assert_eq!(
            (w.titles.len(), w.requests, &w.err),
            (0, 1, &None),
            "{extra}"
        );
    }
    // A filtered path still fails an envelope unlike the usual one.
    let mut bodies = nested("items", &json!({"error": "none"}), json!([]));
    bodies[3]["result"]["error"] = json!("busy");
    let w = walk(
        json!({"items_path": "$.result.items[?@.public == true]"}),
        &bodies,
    )
    .await;
    let err = w.err.expect("an error");
    assert!(err.contains("`/result/error` is set: \"busy\""), "{err}");
}

/// review12 F3, records: a cursor walk over jobs' artifacts where page 2's jobs have none
/// and one job records its own `"error": "timeout"`. The walk up from `/jobs/1/artifacts`
/// went through the job (a list entry, a record, not an envelope) and failed the page. It
/// now stops at list entries, and the walk goes on to page 3.
#[tokio::test]
async fn a_records_own_error_does_not_fail_a_page_without_matches() {
    let server = MockServer::start().await;
    let art = |id: u64, kind: &str| json!({"id": id, "title": format!("a{id}"), "kind": kind});
    let pages = [
        json!({"jobs": [{"name": "j1", "artifacts": [art(1, "log")]}], "next": "p2"}),
        json!({"jobs": [{"name": "j2", "artifacts": []}, {"name": "j3", "artifacts": [], "error": "timeout"}], "next": "p3"}),
        json!({"jobs": [{"name": "j4", "artifacts": [art(2, "log")]}], "next": null}),
    ];
    for (i, body) in pages.iter().enumerate() {
        let m = Mock::given(method("GET"));
        let m = match i {
            0 => m.and(wiremock::matchers::query_param_is_missing("after")),
            _ => m.and(query_param("after", format!("p{}", i + 1))),
        };
        m.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    for path in [
        "$.jobs[*].artifacts[*]",
        "$.jobs[*].artifacts[?@.kind == 'log']",
    ] {
        let fields = json!({
            "items_path": path,
            "pagination_type": "cursor",
            "pagination_config": {"cursor_param": "after", "next_cursor_path": "$.next"},
        });
        let (docs, _, err) = load(&build(items_config(&server.uri(), &fields))).await;
        assert_eq!(err.map(|e| e.to_string()), None, "{path}");
        assert_eq!(docs.len(), 2, "{path}");
    }
}

/// review12 F4: a descendant search's learned place (a pointer from the root) was read
/// against the value the path reached, and a place below an empty list reached nothing, and
/// a `OneList` path learned the list's parent: each clean last page failed every run.
#[tokio::test]
async fn a_search_s_place_is_read_from_the_root() {
    let doc = |id: u64| json!({"id": id, "title": format!("t{id}")});
    let cases = [
        // a) a search that is not the first segment.
        (
            "$.data..[?@.title]",
            json!({"data": {"items": [doc(1)]}}),
            json!({"data": {"items": []}}),
        ),
        // b) the first items below the top list.
        (
            "$..[?@.title]",
            json!({"folders": [{"name": "A", "files": [doc(1)]}]}),
            json!({"folders": []}),
        ),
        // c) a `OneList` path's list.
        (
            "$..[?@.name == 'docs'].items",
            json!({"sections": [{"name": "docs", "items": [doc(1)]}]}),
            json!({"sections": []}),
        ),
    ];
    for (path, first, end) in cases {
        let w = walk(json!({ "items_path": path }), &[first, end]).await;
        assert_eq!(
            (w.titles.len(), w.requests, &w.err),
            (1, 2, &None),
            "{path}"
        );
    }
}

/// review12 F5: what a run learns of the API's usual envelope is not kept past the run, so a
/// quiet run (nothing new, no page with items) fails on a status envelope: the message says
/// so and names the setting that fixes it.
#[tokio::test]
async fn a_run_that_learned_nothing_names_error_path() {
    let w = walk(
        json!({"items_path": "$.data"}),
        &[json!({"data": [], "error": "none"})],
    )
    .await;
    let err = w.err.expect("an error");
    assert!(
        err.contains("no page of this run with items carried such a member")
            && err.contains("set `error_path`")
            && err.contains("(or `error_path: false`)"),
        "{err}"
    );
}

/// review12 F7: the learned sign hid an error. GraphQL warnings in `errors` on every page
/// hid a new `error` beside them (only the first set member was compared), and an `error`
/// object with the same keys passed whatever of its members were set.
#[tokio::test]
async fn a_usual_member_hides_no_other() {
    let page = |items: Value, extra: Value| {
        let mut b = json!({ "data": items });
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let doc = json!([{"id": 1, "title": "t1"}]);
    let warn = json!([{"message": "deprecated"}]);
    let cases = [
        (
            json!({ "errors": warn }),
            json!({ "errors": warn, "error": "rate limited" }),
            "rate limited",
        ),
        (
            json!({"error": {"message": "", "request_id": "r1"}}),
            json!({"error": {"message": "Too many requests", "request_id": "r2"}}),
            "Too many requests",
        ),
    ];
    for (usual, bad, says) in cases {
        let bodies = [page(doc.clone(), usual.clone()), page(json!([]), bad)];
        let w = walk(json!({"items_path": "$.data"}), &bodies).await;
        let err = w.err.expect("an error");
        assert!(err.contains(says), "{err}");
        // The usual member alone still ends the walk cleanly.
        let bodies = [page(doc.clone(), usual.clone()), page(json!([]), usual)];
        let w = walk(json!({"items_path": "$.data"}), &bodies).await;
        assert_eq!((w.titles.len(), w.err), (1, None));
    }
}

/// review12 F8: a web form sends `error_path` as a string: `"true"` was read as the path
/// `$.true` (silently turning the check off) and is now refused naming the field; `"false"`
/// and `"off"` turn the check off as `false` does. And `error_path` is read before the
/// items: an error body without them is named for it, not for `items_path`.
#[tokio::test]
async fn error_path_spellings_and_order() {
    for spelled in ["true", " TRUE ", "on"] {
        let mut cfg = items_config("http://127.0.0.1:1", &json!({ "error_path": spelled }));
        cfg["allowed_hosts"] = json!(["127.0.0.1"]);
        let mut registry = connector_core::Registry::new();
        connector_generic_rest::register(&mut registry);
        let err = registry.build("rest_api", cfg).expect_err("refused");
        assert!(err.to_string().contains("error_path"), "{spelled}: {err}");
    }
    let bodies = [
        json!({"data": [{"id": 1, "title": "t1"}]}),
        json!({"data": [], "error": "busy"}),
    ];
    for off in ["false", "off"] {
        let w = walk(json!({ "error_path": off }), &bodies).await;
        assert_eq!((w.titles.len(), w.requests, &w.err), (1, 2, &None), "{off}");
    }
    let w = walk(
        json!({"error_path": "$.status.error"}),
        &[json!({"status": {"error": "quota exceeded"}})],
    )
    .await;
    let err = w.err.expect("an error");
    assert!(
        err.contains("`error_path`") && err.contains("quota exceeded"),
        "{err}"
    );
}

/// review12 F9: `listing_path` measures page and offset walks only, yet on a cursor walk it
/// turned off the "entries the filter dropped" exception of the error rule: the same pages
/// completed without it and failed with it.
#[tokio::test]
async fn listing_path_does_nothing_on_a_cursor_walk() {
    let server = MockServer::start().await;
    let pages = [
        json!({"data": [{"id": 1, "title": "t1", "public": true}], "error": "", "next": "p2"}),
        json!({"data": [{"id": 2, "title": "t2", "public": false}], "error": "partial", "next": null}),
    ];
    for (i, body) in pages.iter().enumerate() {
        let m = Mock::given(method("GET"));
        let m = match i {
            0 => m.and(wiremock::matchers::query_param_is_missing("after")),
            _ => m.and(query_param("after", "p2")),
        };
        m.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    for listing in [None, Some("$.data[*]")] {
        let mut fields = json!({
            "items_path": "$.data[?@.public == true]",
            "pagination_type": "cursor",
            "pagination_config": {"cursor_param": "after", "next_cursor_path": "$.next"},
        });
        if let Some(l) = listing {
            fields["listing_path"] = json!(l);
        }
        let (docs, _, err) = load(&build(items_config(&server.uri(), &fields))).await;
        assert_eq!(err.map(|e| e.to_string()), None, "{listing:?}");
        assert_eq!(docs.len(), 1, "{listing:?}");
    }
}

/// review15 N2: a `OneList` path's pages count one list's entries while the server's `total`
/// counts groups: 12 + 20 entries reached a `total` of 30 groups at page 2 of 3, and page 3
/// was lost (then pruned). Without `listing_path` such a `total` is not compared.
#[tokio::test]
async fn a_total_in_other_units_does_not_end_a_one_list_walk() {
    let twelve: Vec<u64> = (1..=12).collect();
    let twenty: Vec<u64> = (40..60).collect();
    let mut bodies = vec![
        groups(&[(3, &twelve)]),
        groups(&[(5, &twenty)]),
        groups(&[(0, &[30])]),
        json!({"groups": []}),
    ];
    for b in &mut bodies {
        b["total"] = json!(30);
    }
    let fields = json!({"items_path": "$.groups[?@.open == true].items"});
    let w = walk(fields, &bodies).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles.len(), w.failed), (33, 0));
}

/// review15 N6: the idle backstop (three itemless pages with the same entries under the last
/// filter) ended a walk the response said goes on (`has_more: true`), and prune followed.
/// Now only an untold walk ends there.
#[tokio::test]
async fn the_idle_backstop_does_not_override_has_more() {
    // Posts differ from page to page (no repeat); their tags, without ids, do not.
    let post = |n: u64, tag: &str| json!({"name": format!("post {n}"), "tags": [{"name": tag}]});
    let page = |n: u64, tag: &str, more: bool| json!({"posts": [post(n, tag)], "has_more": more});
    let bodies = [
        page(1, "draft", true),
        page(2, "draft", true),
        page(3, "draft", true),
        page(4, "draft", true),
        page(5, "release", false),
    ];
    let fields = json!({
        "items_path": "$.posts[*].tags[?@.name == 'release']",
        "id_field": "name",
        "title_field": "name",
    });
    let w = walk(fields, &bodies).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles.len(), w.requests), (1, 5));
}

/// review15 N8: a `OneList` page where the filter chose no list, whose root carries a GraphQL
/// partial error, was measured by the level it filtered and passed as a page with no items
/// (its docs then pruned). An unusual error member fails it, as on any other itemless page.
#[tokio::test]
async fn a_one_list_page_without_a_match_still_reads_the_error_member() {
    let section = |ids: &[u64]| json!({"name": "docs", "items": ids.iter().map(|i| json!({"id": i, "title": format!("t{i}")})).collect::<Vec<_>>()});
    let bodies = [
        json!({"data": {"result": [section(&[1, 2]), {"name": "stats"}]}}),
        json!({"data": {"result": [{"name": "stats"}]}, "errors": [{"message": "docs: timeout", "path": ["result", 0]}]}),
        json!({"data": {"result": [section(&[]), {"name": "stats"}]}}),
    ];
    let fields = json!({"items_path": "$.data.result[?@.name == 'docs'].items"});
    let w = walk(fields, &bodies).await;
    let err = w.err.expect("the partial error fails the page");
    assert!(err.contains("errors"), "{err}");
}
