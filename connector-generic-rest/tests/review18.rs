//! Review18's inputs on fix13's merge: the bare-section backstop and full pages, a carried
//! checkpoint under an edited config, carried places, and envelopes above a descendant name.
//! Each walk is served page by page; any other request is a 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use common::{build, cursor_fields, items_config, mount_cursor_walk, serve_cursor_walk, walk};
use connector_core::SyncContext;
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An item with its id and title.
fn doc(id: u64) -> Value {
    json!({"id": id, "title": format!("t{id}")})
}

/// 10 entries a page, the first holding `item` when given; p6 is empty.
fn five_pages(entry: impl Fn(u64, Option<u64>) -> Value, key: &str) -> Vec<Value> {
    let page = |n: u64, with: Option<u64>| {
        let list: Vec<Value> = (0..10)
            .map(|i| entry(n * 10 + i, if i == 0 { with } else { None }))
            .collect();
        json!({key: list, "total": 50})
    };
    vec![
        page(0, Some(1)),
        page(1, None),
        page(2, None),
        page(3, None),
        page(4, Some(2)),
        json!({key: []}),
    ]
}

/// review18 R1: the bare backstop (review15 N7) ended a walk after three pages in which no
/// entry held the member after the filter, though each page was full: APIs leave an absent
/// member out (`omitempty`), so posts without `attachments` made the walk stop at page 4,
/// losing t2 (and prune deleted the rest). A full level never counts, and without
/// `page_size` no page counts.
#[tokio::test]
async fn full_pages_without_the_member_do_not_end_the_walk() {
    let post = |p: u64, with: Option<u64>| match with {
        Some(id) => json!({"pid": p, "attachments": [doc(id)]}),
        None => json!({"pid": p}),
    };
    let fields = json!({"items_path": "$.posts[?@.attachments].attachments",
        "pagination_config": {"page_param": "page", "page_size_param": "per_page", "page_size": 10}});
    let w = walk(fields, &five_pages(post, "posts")).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles, w.requests), (vec!["t1".into(), "t2".into()], 6));
    // review20 F1: a server that caps the page size below what was asked (10 asked, 5 sent)
    // makes every level "not full": fix14's rule ended this walk at page 4 too.
    let capped: Vec<Value> = five_pages(post, "posts")
        .into_iter()
        .map(|mut page| {
            if let Some(list) = page["posts"].as_array_mut() {
                list.truncate(5);
            }
            page
        })
        .collect();
    let fields = json!({"items_path": "$.posts[?@.attachments].attachments",
        "pagination_config": {"page_param": "page", "page_size_param": "per_page", "page_size": 10}});
    let w = walk(fields, &capped).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles, w.requests), (vec!["t1".into(), "t2".into()], 6));
    // Closed groups without `items`, no `page_size`.
    let group = |g: u64, open: Option<u64>| match open {
        Some(id) => json!({"gid": g, "open": true, "items": [doc(id)]}),
        None => json!({"gid": g, "open": false}),
    };
    let fields = json!({"items_path": "$.groups[?@.open == true].items"});
    let w = walk(fields, &five_pages(group, "groups")).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles, w.requests), (vec!["t1".into(), "t2".into()], 6));
}

/// review18 R6: past a fixed set of sections the chosen list was present but empty, with a
/// sibling that changes on every page. Such pages cannot be told from real ones (review20
/// F1), so no count of them ends the walk: it goes on to the server's own end (here the 404
/// past the last body), every document delivered.
#[tokio::test]
async fn empty_chosen_lists_past_the_end_go_on_to_the_servers_end() {
    let posts = |ids: &[u64], n: u64| {
        json!({"results": [{"index": "posts", "page": n, "processingTimeMS": n,
            "hits": ids.iter().map(|i| doc(*i)).collect::<Vec<_>>()}]})
    };
    let mut bodies = vec![posts(&[1, 2], 1), posts(&[3], 2)];
    bodies.extend((3..13).map(|n| posts(&[], n)));
    let fields = json!({"items_path": "$.results[?@.index == 'posts'].hits",
        "pagination_config": {"page_param": "page", "page_size_param": "per_page", "page_size": 2}});
    let w = walk(fields, &bodies).await;
    assert_eq!(w.err, None);
    assert_eq!((w.titles.len(), w.requests), (3, 13));
}

/// review18 R2: the checkpoint carried to the next incremental run held the finishing run's
/// start, its URL included: after the user edited `url`, that run still asked the old one.
/// A carried start takes its position from the current config.
#[tokio::test]
async fn a_carried_checkpoint_starts_where_the_current_config_does() {
    let server = MockServer::start().await;
    let notice = json!({"type": "notice", "message": "API v1 is deprecated"});
    for (p, id) in [("/items", 1), ("/v2/items", 2)] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": [doc(id)], "error": notice.clone()})),
            )
            .mount(&server)
            .await;
    }
    let state = MemoryStateStore::new();
    let mut fields = json!({"items_path": "$.data", "pagination_type": "link_header"});
    fields["url"] = json!(format!("{}/items", server.uri()));
    let c = build(items_config(&server.uri(), &fields));
    let r = Syncer::new(c)
        .sink(MemorySink::new())
        .state(state.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(r.new, 1);
    fields["url"] = json!(format!("{}/v2/items", server.uri()));
    let c = build(items_config(&server.uri(), &fields));
    let before = server.received_requests().await.unwrap().len();
    let r = Syncer::new(c)
        .sink(MemorySink::new())
        .state(state)
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    let paths: Vec<String> = server.received_requests().await.unwrap()[before..]
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, ["/v2/items"]);
    assert_eq!(r.new, 1);
}

/// review18 R3: a carried place was never learned again, so after the API moved its list
/// (`data` to `results`) every incremental run failed until a full one. A carried place is a
/// hint until the run learns its own.
#[tokio::test]
async fn a_carried_place_is_learned_again() {
    let server = MockServer::start().await;
    let article = |id: u64| json!({"type": "articles", "attributes": doc(id)});
    mount_cursor_walk(&server, &[json!({"data": [article(1)]})]).await;
    let fields = cursor_fields(json!({"items_path": "$..[?@.type == 'articles'].attributes"}));
    let c = build(items_config(&server.uri(), &fields));
    let state = MemoryStateStore::new();
    let r = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(state.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(r.new, 1);
    server.reset().await;
    let comment = json!({"type": "comments", "attributes": {"x": 1}});
    let bodies = [
        json!({"results": [comment]}),
        json!({"results": [article(2)]}),
    ];
    mount_cursor_walk(&server, &bodies).await;
    for mode in [SyncMode::Incremental, SyncMode::Auto, SyncMode::Incremental] {
        let r = Syncer::new(c.clone())
            .sink(MemorySink::new())
            .state(state.clone())
            .run(mode)
            .await;
        assert!(r.is_ok(), "{mode:?}: {:?}", r.err().map(|e| e.to_string()));
    }
}

/// review18 R3: a place a fix11 or fix12 run wrote mid-run (the match's parent, not the
/// chooser's) was carried on for good, and the next run's first page, whose section is
/// not the chosen one, failed (review15 N3 case b, every run). Such a place is dropped
/// where the run resumes, and learned again.
#[tokio::test]
async fn an_old_format_place_is_learned_again() {
    let server = MockServer::start().await;
    let docs = |ids: &[u64]| json!({"name": "docs", "items": ids.iter().map(|i| doc(*i)).collect::<Vec<_>>()});
    Mock::given(method("GET"))
        .and(query_param("after", "p2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sections": [docs(&[2])]})))
        .mount(&server)
        .await;
    // The next run: stats only, then docs.
    Mock::given(method("GET"))
        .and(query_param_is_missing("after"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"sections": [{"name": "stats", "took": 3}], "next": "p3"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("after", "p3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sections": [docs(&[3])]})))
        .mount(&server)
        .await;
    let fields = cursor_fields(json!({"items_path": "$..[?@.name == 'docs'].items"}));
    let c = build(items_config(&server.uri(), &fields));
    let cp = c.as_checkpointed().unwrap();
    let drain = |from| {
        let mut s = cp.load_from_checkpoint_json(from, None, SyncContext::new());
        async move {
            let (mut last, mut n, mut err) = (None, 0, None);
            while let Some(p) = s.next().await {
                match p {
                    Ok(b) => {
                        n += b.batch.documents.len();
                        last = Some(b.checkpoint);
                    }
                    Err(e) => err = Some(e.to_string()),
                }
            }
            (last, n, err)
        }
    };
    for old in ["[/sections/*/items", "[/sections/*"] {
        let mut from = cp.initial_checkpoint_json().unwrap();
        from.state =
            json!({"next": {"at": {"kind": "cursor", "cursor": "p2"}, "pages": 1, "place": old}});
        let (last, n, err) = drain(from).await;
        assert_eq!((n, err), (1, None));
        let carried = cp.carry_over_json(&last.unwrap()).unwrap().unwrap();
        let (_, n, err) = drain(carried).await;
        assert_eq!((n, err), (1, None), "{old}");
    }
}

/// review18 R4: the envelopes above a filtered path's lists were those its opening names
/// and indexes reach, counted in tokens, so a leading descendant name (`$..data`) reached
/// none, and an error body ended the walk as an empty page (prune deleted the rest). What
/// the opening descendant name reaches, and what holds it, speak for the response.
#[tokio::test]
async fn an_envelope_above_a_descendant_name_is_checked() {
    let item = |id: u64| json!({"public": true, "id": id, "title": format!("t{id}")});
    let bodies = [
        json!({"result": {"data": [item(1)]}}),
        json!({"result": {"data": [], "error": {"message": "backend timeout"}}}),
    ];
    for path in ["$..data[?@.public]", "$.result.data[?@.public]"] {
        let server = serve_cursor_walk(&bodies).await;
        let c = build(items_config(
            &server.uri(),
            &cursor_fields(json!({"items_path": path})),
        ));
        let (_, _, err) = common::load(&c).await;
        let err = err
            .expect("the envelope's error fails the page")
            .to_string();
        assert!(err.contains("/result/error"), "{path}: {err}");
    }
}

/// review20 F4: under a descendant name at the list level (`$..artifacts[?…]`), what holds
/// the lists it reaches counted as envelopes, a record map's entries (`/jobs/j2`) included, so
/// one job's own `error` failed every run; `$.jobs.*.artifacts[?…]` passed the same body. A
/// record map's entry, as a list's, is a record.
#[tokio::test]
async fn a_record_map_entry_under_a_descendant_name_is_a_record() {
    let artifact =
        |id: u64, public: bool| json!({"id": id, "public": public, "title": format!("t{id}")});
    let bodies = [
        json!({"jobs": {"j1": {"artifacts": [artifact(1, true)]}, "j2": {"artifacts": []}}}),
        json!({"jobs": {"j1": {"artifacts": [artifact(2, false)]},
            "j2": {"artifacts": [], "error": "build failed"}}}),
        json!({"jobs": {"j1": {"artifacts": [artifact(3, true)]}, "j2": {"artifacts": []}}}),
    ];
    for path in [
        "$..artifacts[?@.public == true]",
        "$.jobs.*.artifacts[?@.public == true]",
    ] {
        let server = serve_cursor_walk(&bodies).await;
        let c = build(items_config(
            &server.uri(),
            &cursor_fields(json!({"items_path": path})),
        ));
        let (docs, _, err) = common::load(&c).await;
        assert_eq!(err.map(|e| e.to_string()), None, "{path}");
        let titles: Vec<String> = docs.into_iter().map(|d| d.title).collect();
        assert_eq!(titles, ["t1", "t3"], "{path}");
    }
}

/// review18 R5: the offset refusal named an empty level (``) for a search path, and offered
/// `…attributes[*]` as the list's entries where a match is an object (its values).
#[tokio::test]
async fn the_offset_refusal_names_a_level_for_every_path() {
    let mut registry = connector_core::Registry::new();
    connector_generic_rest::register(&mut registry);
    let refused = |path: &str| {
        let fields = json!({"items_path": path, "pagination_type": "offset"});
        registry
            .build("rest_api", items_config("http://127.0.0.1:9", &fields))
            .expect_err("refused")
            .to_string()
    };
    let err = refused("$..[?@.type == 'articles'].attributes");
    assert!(!err.contains("``"), "{err}");
    assert!(err.contains("e.g. `$.data[*]`"), "{err}");
    let err = refused("$.data[?(@.type == 'articles')].attributes");
    assert!(err.contains("`$.data[*]` (the level"), "{err}");
    assert!(err.contains("if each match is the list"), "{err}");
}

/// review18 R7: the error members a run learned were kept up to 8 and carried run after
/// run: once 8 were held, a new status envelope could never be learned, and its quiet page
/// failed every run until a full one. The 8 most recently met are kept.
#[tokio::test]
async fn the_most_recent_error_signs_are_kept() {
    let server = MockServer::start().await;
    let notice = json!({"type": "notice", "message": "API v1 is deprecated"});
    for (n, body) in [
        (2, json!({"data": [doc(1)], "error": notice.clone()})),
        (3, json!({"data": [], "error": notice.clone()})),
    ] {
        Mock::given(method("GET"))
            .and(query_param("page", n.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    let fields = json!({"items_path": "$.data", "pagination_type": "page", "max_pages": 20});
    let c = build(items_config(&server.uri(), &fields));
    let cp = c.as_checkpointed().unwrap();
    let old: Vec<String> = (0..8).map(|i| format!("old{i}")).collect();
    let mut from = cp.initial_checkpoint_json().unwrap();
    from.state = json!({"next": {"at": {"kind": "page", "page": 2}, "pages": 1, "usual": old}});
    let mut s = cp.load_from_checkpoint_json(from, None, SyncContext::new());
    let (mut n, mut err) = (0, None);
    while let Some(p) = s.next().await {
        match p {
            Ok(b) => n += b.batch.documents.len(),
            Err(e) => err = Some(e.to_string()),
        }
    }
    assert_eq!((n, err), (1, None));
}
