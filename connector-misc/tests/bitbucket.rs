//! The Bitbucket connector against the wiremock Bitbucket Cloud of `bitbucket_common` (REST
//! 2.0 reference: `values`/`next` paging, repositories, pull requests in every state, comments,
//! permissions, error bodies).
#![cfg(feature = "bitbucket")]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

mod bitbucket_common;

use std::sync::Arc;

use bitbucket_common::{Comment, build, config, error, requests_to, standard, start, time};
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncReport, Syncer};
use connector_core::{Connector, ErrorKind, Registry};
use futures::StreamExt;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn run(
    c: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    mode: SyncMode,
    at: u32,
) -> (MemorySink, SyncReport) {
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(at))
        .run(mode)
        .await
        .expect("the sync runs");
    (sink, report)
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

const ALL: [&str; 6] = [
    "bitbucket:acme:api:pr:1",
    "bitbucket:acme:api:pr:2",
    "bitbucket:acme:api:pr:3",
    "bitbucket:acme:infra:pr:1",
    "bitbucket:acme:web:pr:7",
    "bitbucket:acme:web:pr:8",
];

#[tokio::test]
async fn pull_requests_of_every_state_become_markdown_documents_with_comments() {
    let server = start(standard(2)).await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    assert_eq!(sorted(sink.ids()), ALL);
    assert!(report.failures.is_empty(), "{:?}", report.failures);

    let pr = sink.get("bitbucket:acme:api:pr:1").unwrap();
    assert_eq!(pr.title, "api#1: Add rate limiting");
    assert_eq!(pr.updated_at, Some(time(1)));
    assert_eq!(
        pr.link.as_ref().map(url::Url::as_str),
        Some("https://bitbucket.org/acme/api/pull-requests/1")
    );
    assert_eq!(pr.owners, ["Jane Doe", "Rob Reviewer"]);
    assert_eq!(pr.parent_id.as_deref(), Some("bitbucket:acme:api"));
    assert_eq!(pr.metadata["state"], "MERGED");
    assert_eq!(pr.metadata["source_branch"], "feature/1");
    assert_eq!(pr.metadata["destination_branch"], "main");
    assert_eq!(pr.metadata["approved_by"], json!(["Rob Reviewer"]));
    assert_eq!(pr.metadata["project"], "PLAT");
    let text = pr.content.as_text().unwrap();
    // The description's Markdown is kept; comments follow, inline ones with their place,
    // replies with their parent, deleted ones left out.
    assert!(
        text.contains("Fixes the *Add rate limiting* bug."),
        "{text}"
    );
    assert!(
        text.contains("Looks good, but see **the** retry note."),
        "{text}"
    );
    assert!(text.contains("`src/limit.rs:42`"), "{text}");
    assert!(text.contains("in reply to comment 102"), "{text}");
    assert!(!text.contains("(deleted)"), "{text}");
    insta::assert_snapshot!("bitbucket_pr_markdown", text);

    // Private with readable group permissions, private without, public.
    let access = pr.access.clone().unwrap();
    assert!(!access.public);
    assert_eq!(
        access.groups,
        ["bitbucket-repo:acme/api", "bitbucket-group:acme/developers"]
    );
    let infra = sink.get("bitbucket:acme:infra:pr:1").unwrap();
    assert_eq!(infra.access.unwrap().groups, ["bitbucket-repo:acme/infra"]);
    assert_eq!(infra.metadata["state"], "SUPERSEDED");
    assert!(
        sink.get("bitbucket:acme:web:pr:7")
            .unwrap()
            .access
            .unwrap()
            .public
    );
    let declined = sink.get("bitbucket:acme:api:pr:2").unwrap();
    assert!(
        declined
            .content
            .as_text()
            .unwrap()
            .contains("**Reason:** Superseded by a better fix")
    );

    // Every listing asked for every state, newest change first, and was paged by `next`.
    let lists = requests_to(&server, "/2.0/repositories/acme/api/pullrequests").await;
    let lists: Vec<_> = lists
        .iter()
        .filter(|r| r.url.path().ends_with("/pullrequests"))
        .collect();
    assert_eq!(lists.len(), 2, "three pull requests, two per page");
    for r in &lists {
        let states: Vec<String> = r
            .url
            .query_pairs()
            .filter(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(states, ["OPEN", "MERGED", "DECLINED", "SUPERSEDED"]);
        assert!(
            r.url
                .query_pairs()
                .any(|(k, v)| k == "sort" && v == "-updated_on")
        );
    }
    assert!(
        lists[1]
            .url
            .query_pairs()
            .any(|(k, v)| k == "page" && v == "2")
    );
    // A pull request with no comments costs no comment request.
    assert!(
        requests_to(
            &server,
            "/2.0/repositories/acme/api/pullrequests/3/comments"
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn a_pull_request_whose_comments_fail_is_a_failure_and_the_run_goes_on() {
    let api = standard(2);
    {
        let mut st = api.state.lock().unwrap();
        let p = st
            .prs
            .iter_mut()
            .find(|p| p.repo == "api" && p.id == 1)
            .unwrap();
        p.broken_comments = true;
    }
    let server = start(api).await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let f = &report.failures[0];
    assert_eq!(f.id.as_deref(), Some("bitbucket:acme:api:pr:1"));
    assert_eq!(f.kind, ErrorKind::NotFound);
    assert!(f.message.contains("comments"), "{}", f.message);
    // Everything else came, each page once: the walk did not stop or loop on the failure.
    assert_eq!(sink.len(), 5);
    let lists = requests_to(&server, "/2.0/repositories/acme/api/pullrequests").await;
    assert_eq!(
        lists
            .iter()
            .filter(|r| r.url.path().ends_with("/pullrequests"))
            .count(),
        2
    );
}

#[tokio::test]
async fn an_incremental_run_finds_a_new_comment_on_an_old_pull_request() {
    let api = standard(50);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full, 30).await;
    {
        // A comment on PR 3: Bitbucket moves its `updated_on` and `comment_count`.
        let mut st = api.state.lock().unwrap();
        let p = st
            .prs
            .iter_mut()
            .find(|p| p.repo == "api" && p.id == 3)
            .unwrap();
        p.comments.push(Comment::new(
            301,
            "Rob Reviewer",
            "Please add a changelog entry.",
        ));
        p.minute = 40;
    }
    let (sink, _) = run(&c, &store, SyncMode::Incremental, 45).await;
    assert_eq!(sink.ids(), ["bitbucket:acme:api:pr:3"]);
    let doc = sink.get("bitbucket:acme:api:pr:3").unwrap();
    assert!(
        doc.content
            .as_text()
            .unwrap()
            .contains("Please add a changelog entry.")
    );
    assert_eq!(doc.updated_at, Some(time(40)));
    // The incremental listing asked Bitbucket for the window's start.
    let lists = requests_to(&server, "/2.0/repositories/acme/api/pullrequests").await;
    let last = lists
        .iter()
        .rfind(|r| r.url.path().ends_with("/pullrequests"))
        .unwrap();
    let q = last
        .url
        .query_pairs()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    // The previous run's end (10:30), less the sync's overlap.
    assert!(q.starts_with("updated_on >= \"2025-03-01T10:"), "{q}");
    assert!(q.ends_with("Z\""), "{q}");
}

#[tokio::test]
async fn a_reconcile_run_fetches_comments_only_of_changed_pull_requests() {
    let api = standard(50);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full, 30).await;
    let before = requests_to(
        &server,
        "/2.0/repositories/acme/web/pullrequests/8/comments",
    )
    .await
    .len();
    let api_before = requests_to(
        &server,
        "/2.0/repositories/acme/api/pullrequests/1/comments",
    )
    .await
    .len();
    {
        let mut st = api.state.lock().unwrap();
        let p = st
            .prs
            .iter_mut()
            .find(|p| p.repo == "web" && p.id == 8)
            .unwrap();
        p.comments
            .push(Comment::new(202, "Rob Reviewer", "Approved."));
    }
    let (sink, report) = run(&c, &store, SyncMode::Reconcile, 31).await;
    assert_eq!(sink.ids(), ["bitbucket:acme:web:pr:8"]);
    assert_eq!(report.unchanged, 5);
    assert_eq!(
        requests_to(
            &server,
            "/2.0/repositories/acme/web/pullrequests/8/comments"
        )
        .await
        .len(),
        before + 1
    );
    assert_eq!(
        requests_to(
            &server,
            "/2.0/repositories/acme/api/pullrequests/1/comments"
        )
        .await
        .len(),
        api_before
    );
}

#[tokio::test]
async fn a_pull_request_updated_between_pages_is_not_skipped_past() {
    let api = standard(2);
    // When page 2 of `api` is asked for, its newest pull request (page 1) is updated again.
    api.state.lock().unwrap().touch_after_first_page = Some("api".into());
    let server = start(api).await;
    let c = build(&server.uri(), json!({}));
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    let mut ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    ids.dedup();
    // Newest first without an upper bound: the updated one moves to the front and page 2
    // repeats a pull request rather than skip one.
    assert_eq!(ids, ALL);
}

#[tokio::test]
async fn index_modes_pick_repositories_and_projects() {
    let server = start(standard(50)).await;
    let repos = build(
        &server.uri(),
        json!({"index_mode": "repositories", "repository_slugs": "web"}),
    );
    let (docs, _) = connector_core::testkit::collect_load(repos.as_ref()).await;
    assert_eq!(
        sorted(docs.iter().map(|d| d.id.clone()).collect()),
        ["bitbucket:acme:web:pr:7", "bitbucket:acme:web:pr:8"]
    );

    let project = build(
        &server.uri(),
        json!({"index_mode": "project", "projects": ["PLAT"]}),
    );
    let (docs, _) = connector_core::testkit::collect_load(project.as_ref()).await;
    assert_eq!(docs.len(), 4);
    assert!(docs.iter().all(|d| d.metadata["project"] == "PLAT"));
    let listings = requests_to(&server, "/2.0/repositories/acme").await;
    assert!(listings.iter().any(|r| {
        r.url.path() == "/2.0/repositories/acme"
            && r.url
                .query_pairs()
                .any(|(k, v)| k == "q" && v == "project.key=\"PLAT\"")
    }));

    // Several repositories are partitions, each a connector of its own.
    let two = build(
        &server.uri(),
        json!({"index_mode": "repository", "repository_slugs": ["api", "web"]}),
    );
    assert_eq!(two.partitions(), ["api", "web"]);
    let web = two.partition("web").unwrap();
    let (docs, _) = connector_core::testkit::collect_load(web.as_ref()).await;
    assert_eq!(docs.len(), 2);
    assert!(two.partition("infra").is_none());
    // Refetch by id stays in the scope: a repository not named, another workspace, a
    // pull request that is gone yield nothing.
    let refetched: Vec<connector_core::Document> = web
        .as_refetch()
        .expect("refetch")
        .fetch(
            vec![
                "bitbucket:acme:web:pr:8".into(),
                "bitbucket:acme:api:pr:1".into(),
                "bitbucket:other:web:pr:7".into(),
                "bitbucket:acme:web:pr:99".into(),
            ],
            connector_core::SyncContext::new(),
        )
        .map(|b| b.unwrap().documents)
        .concat()
        .await;
    assert_eq!(refetched.len(), 1);
    assert_eq!(refetched[0].id, "bitbucket:acme:web:pr:8");
    assert!(build(&server.uri(), json!({})).partitions().is_empty());
}

#[tokio::test]
async fn check_tells_credentials_permission_and_missing_things_apart() {
    let server = start(standard(50)).await;
    let uri = server.uri();
    assert!(build(&uri, json!({})).check().await.is_ok());

    let mut wrong = config(&uri, json!({}));
    wrong["credentials"]["bitbucket_api_token"] = json!("not-the-token");
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let e = registry
        .build("bitbucket", wrong)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.field(), Some("credentials.bitbucket_api_token"));

    let e = build(&uri, json!({"workspace": "nobody"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("workspace"));

    let e = build(&uri, json!({"repository_slugs": "api, ghost"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("repository_slugs"));
    assert!(e.to_string().contains("ghost"), "{e}");

    let e = build(&uri, json!({"projects": "NOPE"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("projects"));

    let _refusal = Mock::given(method("GET"))
        .and(path("/2.0/repositories/acme"))
        .respond_with(error(
            403,
            "Your credentials lack one or more required privilege scopes.",
        ))
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let e = build(&uri, json!({})).check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("required privilege scopes"), "{e}");
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let server = start(standard(50)).await;
    let _evil = Mock::given(method("GET"))
        .and(path("/2.0/repositories/acme/web/pullrequests"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "pagelen": 1, "size": 2, "page": 1, "values": [],
            "next": "https://evil.example/2.0/repositories/acme/web/pullrequests?page=2"
        })))
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let c = build(&server.uri(), json!({"repository_slugs": "web"}));
    let mut stream = c
        .as_load()
        .unwrap()
        .load(connector_core::SyncContext::new());
    let mut err = None;
    while let Some(page) = stream.next().await {
        if let Err(e) = page {
            err = Some(e);
            break;
        }
    }
    let e = err.expect("the foreign link ends the run");
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("evil.example"), "{e}");
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_the_hourly_limit_is_the_default() {
    let server = start(standard(50)).await;
    let _limited = Mock::given(method("GET"))
        .and(path("/2.0/repositories/acme/web/pullrequests"))
        .respond_with(
            error(429, "Rate limit for this resource has been exceeded")
                .insert_header("Retry-After", "1"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    assert_eq!(sink.len(), 6);
    assert!(
        report.rate_limit_wait >= std::time::Duration::from_secs(1),
        "{report:?}"
    );

    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let effective = registry
        .effective_config("bitbucket", config(&server.uri(), json!({})))
        .unwrap();
    assert_eq!(effective["requests_per_hour"], 1000);
}

#[test]
fn ragflow_config_is_accepted() {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    // RAGFlow's stored form: lists as comma-separated text, `index_mode` as its form names it.
    let stored = json!({
        "workspace": "acme",
        "index_mode": "projects",
        "repository_slugs": "",
        "projects": "PLAT, WEB",
        "credentials": {"bitbucket_account_email": "jane@example.com", "bitbucket_api_token": "ATATT3x"},
        "batch_size": 2,
    });
    let built = registry.build("bitbucket", stored);
    assert!(built.is_ok(), "{:?}", built.err());
    assert_eq!(
        built.unwrap().to_string(),
        "bitbucket:acme projects PLAT,WEB"
    );
    // A username (app password) under another name.
    let built = registry.build(
        "bitbucket",
        json!({"workspace": "acme", "credentials": {"bitbucket_username": "jane", "bitbucket_api_token": "pw"}}),
    );
    assert!(built.is_ok(), "{:?}", built.err());
    // The form's default before the user filled it in: every problem, by field.
    let err = registry
        .build(
            "bitbucket",
            json!({"workspace": "", "credentials": {"bitbucket_account_email": "j@example.com", "bitbucket_api_token": "t"}}),
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("workspace"), "{err}");
    let err = registry
        .build(
            "bitbucket",
            json!({"workspace": "acme", "index_mode": "repositories", "repository_slugs": "",
                   "credentials": {"bitbucket_api_token": "s3cr3t-token"}}),
        )
        .unwrap_err();
    let text = err.to_string();
    for field in ["credentials.bitbucket_account_email", "repository_slugs"] {
        assert!(text.contains(field), "{field} missing from: {text}");
    }
    assert!(!text.contains("s3cr3t-token"), "{text}");
}
