//! Review15's inputs on fix12's merge: a `OneList` path's learned place, its offsets, lenient
//! pages with several lists, what a run carries to the next, envelopes below a record map,
//! pages past a fixed set of sections, and `error_path`'s spellings. Each walk is served page
//! by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{Walked, build, cursor_fields, items_config, load, serve_cursor_walk, walk, walked};
use connector_core::SyncContext;
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An item with its id and title.
fn doc(id: u64) -> Value {
    json!({"id": id, "title": format!("t{id}")})
}

/// Serves `bodies` as a cursor walk (`after`, `$.next`), and loads it with `fields` over
/// [`items_config`].
async fn cursor_walk(fields: Value, bodies: &[Value]) -> Walked {
    let server = serve_cursor_walk(bodies).await;
    walked(&server, &cursor_fields(fields)).await
}

/// review15 N3: a `OneList` path learned the place of its match (`/data/*/attributes`,
/// `/sections/*/items`), so a later page whose chosen entries are absent, and whose entries
/// are not lists there or lack the name, failed every run. The place is now that of what the
/// filter chose among (`/data`, `/sections`).
#[tokio::test]
async fn a_one_list_place_is_where_its_filter_chose() {
    let article = |id: u64| json!({"type": "articles", "attributes": doc(id)});
    let docs = |ids: &[u64]| json!({"name": "docs", "items": ids.iter().map(|i| doc(*i)).collect::<Vec<_>>()});
    let cases = [
        // a) The match is not a list.
        (
            "$..[?@.type == 'articles'].attributes",
            [
                json!({"data": [article(1)]}),
                json!({"data": [{"type": "comments", "attributes": {"x": 1}}]}),
                json!({"data": [article(3)]}),
            ],
        ),
        // b) Sibling sections without `items`.
        (
            "$..[?@.name == 'docs'].items",
            [
                json!({"sections": [docs(&[1])]}),
                json!({"sections": [{"name": "stats", "took": 3}]}),
                json!({"sections": [docs(&[3])]}),
            ],
        ),
    ];
    for (path, bodies) in cases {
        let w = cursor_walk(json!({ "items_path": path }), &bodies).await;
        assert_eq!(w.err, None, "{path}");
        assert_eq!((w.titles.len(), w.failed, w.requests), (2, 0, 3), "{path}");
    }
}

/// Ten groups a page, each with one item; `open` lists the open groups and their items.
fn groups(open: &[(usize, &[u64])]) -> Value {
    let list: Vec<Value> = (0..10)
        .map(|g| match open.iter().find(|(at, _)| *at == g) {
            Some((_, ids)) => {
                json!({"open": true, "items": ids.iter().map(|i| doc(*i)).collect::<Vec<_>>()})
            }
            None => json!({"open": false, "items": [doc(100 + g as u64)]}),
        })
        .collect();
    json!({"groups": list})
}

/// Serves `bodies` at offsets 0, 10, 20, … (`limit` 10) and loads them with `fields`: what
/// the load did, and the offsets asked.
async fn offset_walk(fields: Value, bodies: &[Value]) -> (Walked, Vec<String>) {
    let server = MockServer::start().await;
    for (i, body) in bodies.iter().enumerate() {
        Mock::given(method("GET"))
            .and(query_param("offset", (10 * i).to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    let mut fields = fields;
    fields["pagination_type"] = json!("offset");
    fields["pagination_config"] =
        json!({"offset_param": "offset", "limit_param": "limit", "limit": 10});
    let (docs, fails, err) = load(&build(items_config(&server.uri(), &fields))).await;
    let requests = server.received_requests().await.unwrap();
    let sent = requests
        .iter()
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "offset")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    let w = Walked {
        titles: docs.into_iter().map(|d| d.title).collect(),
        failed: fails.len(),
        err: err.map(|e| e.to_string()),
        requests: requests.len(),
    };
    (w, sent)
}

/// review15 N2: an offset walk over a path that picks a list after its filter moved by the
/// list's entries while the server may count the level the filter chose among (12 entries
/// of one open group skipped groups 10 and 11), and by the matches where they are not lists
/// (`$.data[?@.x].attributes`: 1 entry a page, 25 times the requests). The path cannot say
/// what the server counts, so such a walk is refused without `listing_path`, which names it.
#[tokio::test]
async fn an_offset_walk_over_a_one_list_path_says_what_the_offset_counts() {
    let mut registry = connector_core::Registry::new();
    connector_generic_rest::register(&mut registry);
    for path in ["$.groups[?@.open == true].items", "$.data[?@.x].attributes"] {
        let fields = json!({"items_path": path, "pagination_type": "offset"});
        let err = registry
            .build("rest_api", items_config("http://127.0.0.1:9", &fields))
            .expect_err("refused")
            .to_string();
        assert!(err.contains("listing_path"), "{err}");
        // A page walk's number does not depend on what a page counts.
        let fields = json!({"items_path": path, "pagination_type": "page"});
        assert!(
            registry
                .build("rest_api", items_config("http://127.0.0.1:9", &fields))
                .is_ok()
        );
    }
    // Told: every group's items delivered, the offset moving by ten groups.
    let twelve: Vec<u64> = (1..=12).collect();
    let twenty: Vec<u64> = (40..60).collect();
    let bodies = [
        groups(&[(3, &twelve)]),
        groups(&[(5, &twenty)]),
        groups(&[(0, &[30])]),
        json!({"groups": []}),
    ];
    let fields = json!({
        "items_path": "$.groups[?@.open == true].items",
        "listing_path": "$.groups[*]",
    });
    let (w, sent) = offset_walk(fields, &bodies).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles.len(), w.failed), (33, 0));
    assert_eq!(sent, ["0", "10", "20", "30"]);
    // One match in ten entries, not a list: the offset moves by ten.
    let data = |n: u64| {
        let mut entries: Vec<Value> = (0..10)
            .map(|i| json!({"attributes": doc(1000 + i)}))
            .collect();
        entries[3] = json!({"x": true, "attributes": doc(n)});
        json!({"data": entries})
    };
    let bodies = [data(1), data(2), data(3), json!({"data": []})];
    let fields = json!({"items_path": "$.data[?@.x].attributes", "listing_path": "$.data[*]"});
    let (w, sent) = offset_walk(fields, &bodies).await;
    assert_eq!(w.err, None);
    assert_eq!(w.titles, ["t1", "t2", "t3"]);
    assert_eq!(sent, ["0", "10", "20", "30"]);
}

/// review15 N4: a lenient page (a number no `Value` holds) whose filter chose several lists:
/// the item holding the hole was located by list, not by entry, so a hole in the second
/// list's entry failed the whole page, and one in the first list's second entry replaced
/// that item by the second list. Now each entry is located, and the item holding the hole
/// is read alone from its bytes (its `n` is no field the mapping reads, so it is delivered).
#[tokio::test]
async fn a_hole_in_a_flattened_list_is_located_by_entry() {
    let bodies = [
        r#"{"groups": [{"open": true, "items": [{"id": 1, "title": "t1"}, {"id": 2, "title": "t2"}]}, {"open": true, "items": [{"id": 3, "title": "t3", "n": 1e400}]}]}"#,
        r#"{"groups": [{"open": true, "items": [{"id": 1, "title": "t1"}, {"id": 2, "title": "t2", "n": 1e400}]}, {"open": true, "items": [{"id": 3, "title": "t3"}]}]}"#,
    ];
    for body in bodies {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
        let fields = json!({
            "items_path": "$.groups[?@.open == true].items",
            "pagination_type": "none",
        });
        let (docs, fails, err) = load(&build(items_config(&server.uri(), &fields))).await;
        assert_eq!(err.map(|e| e.to_string()), None, "{body}");
        let titles: Vec<String> = docs.into_iter().map(|d| d.title).collect();
        assert_eq!(titles, ["t1", "t2", "t3"], "{body}");
        assert_eq!(fails.len(), 0, "{body}");
    }
}

/// An API's notice envelope on every answer: set (its `message` is), so an itemless page that
/// carries it fails unless the run learned it from a page with items.
fn notice() -> Value {
    json!({"type": "notice", "message": "API v1 is deprecated"})
}

/// review15 N5: what a run learns of the API (its usual error members) was not kept past
/// it, so an incremental run with nothing new, whose only page has no items, failed on the
/// envelope every answer carries. The finished run's checkpoint keeps it, and core carries
/// it to the next incremental run.
#[tokio::test]
async fn a_finished_run_s_learning_reaches_the_next_incremental_run() {
    let server = MockServer::start().await;
    let page = |ids: &[u64]| json!({"data": ids.iter().map(|i| doc(*i)).collect::<Vec<_>>(), "error": notice()});
    for (n, body) in [(1, page(&[1, 2])), (2, page(&[]))] {
        Mock::given(method("GET"))
            .and(query_param("page", n.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    let fields = json!({"items_path": "$.data", "pagination_type": "page", "max_pages": 20});
    let c = build(items_config(&server.uri(), &fields));
    let state = MemoryStateStore::new();
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(state.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.new, 2);
    // Nothing new: the first page has no items, and the envelope.
    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&[])))
        .mount(&server)
        .await;
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(state)
        .run(SyncMode::Incremental)
        .await;
    assert!(report.is_ok(), "{:?}", report.err().map(|e| e.to_string()));
    // Without a run before it, the same page fails, naming `error_path`.
    let (_, _, err) = load(&c).await;
    let err = err.expect("an unlearned envelope fails").to_string();
    assert!(err.contains("error_path"), "{err}");
}

/// review15 N5: a checkpoint fix11 wrote mid-run holds object signs without which members
/// are set (`{keys}told`); its resumed run failed at its last page every time until a full
/// sync. Such a learned sign is still accepted.
#[tokio::test]
async fn a_fix11_sign_in_an_old_checkpoint_still_passes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [], "error": notice()})),
        )
        .mount(&server)
        .await;
    let fields = json!({"items_path": "$.data", "pagination_type": "page", "max_pages": 20});
    let c = build(items_config(&server.uri(), &fields));
    let cp = c.as_checkpointed().unwrap();
    let fix11 = connector_core::ids::hash128("error\u{0}{message,type}type=\"notice\"");
    let from = |usual: Vec<String>| {
        let mut from = cp.initial_checkpoint_json().unwrap();
        from.state =
            json!({"next": {"at": {"kind": "page", "page": 2}, "pages": 1, "usual": usual}});
        from
    };
    for (usual, ok) in [(vec![fix11], true), (vec!["other".to_owned()], false)] {
        let mut s = cp.load_from_checkpoint_json(from(usual), None, SyncContext::new());
        let mut err = None;
        while let Some(p) = s.next().await {
            if let Err(e) = p {
                err = Some(e.to_string());
            }
        }
        assert_eq!(err.is_none(), ok, "{err:?}");
    }
}

/// review15 N9: the objects above a filtered path's lists were checked for a set `error` up
/// to the first list entry, but not past a record map's entry: `/jobs/j2` (a job keyed by
/// id) is a listing's entry, and its `error` is its own; the page failed every run. Only the
/// objects the path's opening names reach (`/jobs`) speak for the response.
#[tokio::test]
async fn a_record_map_entry_s_error_is_its_own() {
    let log = |id: u64| json!({"kind": "log", "id": id, "title": format!("t{id}")});
    let bodies = [
        json!({"jobs": {"j1": {"artifacts": [log(1)]}}}),
        json!({"jobs": {"j1": {"artifacts": []}, "j2": {"artifacts": [], "error": "timeout"}}}),
        json!({"jobs": {"j3": {"artifacts": [log(3)]}}}),
    ];
    let fields = json!({"items_path": "$.jobs.*.artifacts[?@.kind == 'log']"});
    let w = cursor_walk(fields, &bodies).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles.len(), w.requests), (2, 3));
    // The envelope the names reach still speaks.
    let bodies = [
        json!({"result": {"jobs": {"j1": {"artifacts": [log(1)]}}}}),
        json!({"result": {"jobs": {}, "error": "busy"}}),
    ];
    let fields = json!({"items_path": "$.result.jobs.*.artifacts[?@.kind == 'log']"});
    let w = cursor_walk(fields, &bodies).await;
    let err = w.err.expect("the envelope's error fails the page");
    assert!(err.contains("busy"), "{err}");
}

/// review15 N7: past a fixed set of sections the server dropped `docs` and echoed a sibling
/// that changes on every page: its listing never repeated and nothing else bounded a
/// `OneList` page with no match, so the walk ran to `max_pages` (the load stopped there and
/// `list_ids` failed, so no prune, every run). A count of such pages ended real walks
/// (review18 R1, review20 F1), so none ends it: the walk goes on to the server's own end (the
/// 404 past the last body here), every document delivered; `listing_path` says what a page
/// lists.
#[tokio::test]
async fn pages_past_a_fixed_set_of_sections_go_on_to_the_servers_end() {
    let docs = |ids: &[u64]| json!({"name": "docs", "items": ids.iter().map(|i| doc(*i)).collect::<Vec<_>>()});
    let stats = |n: u64| json!({"name": "stats", "took_ms": 7 + n, "page": n});
    let mut bodies = vec![
        json!({"result": [docs(&[1, 2]), stats(1)]}),
        json!({"result": [docs(&[3]), stats(2)]}),
    ];
    bodies.extend((3..13).map(|n| json!({"result": [stats(n)]})));
    let fields = json!({"items_path": "$.result[?@.name == 'docs'].items",
        "pagination_config": {"page_param": "page", "page_size_param": "per_page", "page_size": 2}});
    let w = walk(fields, &bodies).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles.len(), w.requests), (3, 13));
}

/// review15 N11: `error_path` spellings a web form may send for "off" (`"no"`, `"none"`,
/// `"disabled"`, `"null"`) were read as paths (`$.none`) that never match, turning the
/// `error`/`errors` guess off silently; they now read as off, as `"false"` does, and the
/// schema's bool form takes only `false`.
#[tokio::test]
async fn error_path_spellings_of_off() {
    let mut registry = connector_core::Registry::new();
    connector_generic_rest::register(&mut registry);
    let schema = registry.schema("rest_api").unwrap();
    let text = schema.to_string();
    assert!(text.contains(r#""const":false"#), "{text}");
    // An error body with no items: off means the page is an empty one, not an error.
    let body = json!({"data": [], "error": "busy"});
    for off in ["no", "None", "disabled", "null", "false"] {
        let fields = json!({"error_path": off});
        let w = walk(fields, std::slice::from_ref(&body)).await;
        assert_eq!(w.err, None, "{off}");
    }
    for on in ["yes", "enabled", "on"] {
        let fields = json!({"error_path": on, "pagination_type": "page"});
        let err = registry
            .build("rest_api", items_config("http://127.0.0.1:9", &fields))
            .expect_err("refused")
            .to_string();
        assert!(err.contains("error_path"), "{on}: {err}");
    }
    // A one-word path that is a real member still reads as a path.
    let fields = json!({"error_path": "problem"});
    let w = walk(fields, &[json!({"data": [], "problem": "busy"})]).await;
    assert!(w.err.is_some_and(|e| e.contains("busy")));
}
