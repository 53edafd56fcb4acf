//! The GitHub connector against the wiremock GitHub of `github_common`: documents, keyset
//! pages, incremental runs, fingerprints, code files, rate limits, `check()`, partitions.
#![cfg(feature = "github")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod github_common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncReport, Syncer};
use connector_core::{Connector, Document, ErrorKind, SyncContext};
use futures::StreamExt;
use github_common::{Fake, Item, RepoData, TOKEN, build, day, files, item_id, standard};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn sync(
    c: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    mode: SyncMode,
    at: u32,
) -> (MemorySink, SyncReport) {
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(day(at))
        .run(mode)
        .await
        .expect("the sync runs");
    (sink, report)
}

/// The document as JSON with the fake's address replaced, for snapshots.
fn portable(doc: &Document, uri: &str) -> Value {
    let text = serde_json::to_string(doc)
        .unwrap()
        .replace(uri, "https://github.com");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn issues_and_pulls_carry_comments_review_comments_and_facts() {
    let fake = Fake::start(standard()).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let (sink, report) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    let mut ids = sink.ids();
    ids.sort();
    let mut want: Vec<String> = [(1, false), (2, true), (3, false), (4, false), (5, true)]
        .iter()
        .map(|(n, p)| item_id(&uri, *n, *p))
        .collect();
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(report.failed, 0);

    let one = sink.get(&item_id(&uri, 1, false)).unwrap();
    assert_eq!(one.title, "acme/api#1: Crash on start");
    let text = one.content.as_text().unwrap();
    assert!(text.starts_with("# Crash on start\n"), "{text}");
    assert!(
        text.contains("Body of **Crash on start**.\n\n- [ ] a task"),
        "Markdown kept: {text}"
    );
    assert!(
        text.contains("### @hubot · 2026-01-01T10:00:00Z\n\nSeen it too."),
        "{text}"
    );
    assert!(text.contains("Fixed in `main`."), "{text}");
    assert_eq!(one.updated_at, Some(day(1)));
    assert_eq!(one.owners, ["octocat", "hubot"]);
    assert_eq!(one.metadata["type"], "issue");
    assert_eq!(one.metadata["labels"], json!(["bug"]));
    assert_eq!(one.metadata["state"], "open");
    assert_eq!(
        one.link.as_ref().map(url::Url::as_str),
        Some(item_id(&uri, 1, false).as_str())
    );
    let access = one.access.as_ref().unwrap();
    assert!(!access.public);
    assert_eq!(access.groups, ["github-user:hubot", "github-user:octocat"]);

    let two = sink.get(&item_id(&uri, 2, true)).unwrap();
    assert_eq!(two.metadata["type"], "pull_request");
    let text = two.content.as_text().unwrap();
    assert!(
        text.contains("## Review comments\n\n### @hubot on `src/main.rs` line 2"),
        "{text}"
    );
    assert!(text.contains("Why `unwrap` here?"), "{text}");

    insta::assert_json_snapshot!("issue_with_comments", portable(&one, &uri));
    insta::assert_json_snapshot!("pull_request_with_review", portable(&two, &uri));
}

#[tokio::test]
async fn an_item_updated_during_the_walk_shifts_nothing_past_the_position() {
    // Once page 1 is served, issue 1 (read already) gets a comment: it moves to the end of
    // the `updated` order. Page-number paging would now skip the item that slides into page
    // 1; the `since` key does not.
    let mut state = standard();
    state.after_first_page = Some((1, day(9), "Reopened: it crashes again.".into()));
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let cp = c.as_checkpointed().unwrap();
    let mut stream = cp.load_from_checkpoint_json(
        cp.initial_checkpoint_json().unwrap(),
        None,
        SyncContext::new(),
    );
    let mut seen: Vec<Document> = Vec::new();
    while let Some(page) = stream.next().await {
        seen.extend(page.unwrap().batch.documents);
    }
    // Issue 1 was read before its change.
    assert_eq!(seen[0].id, item_id(&uri, 1, false));
    assert_eq!(seen[0].updated_at, Some(day(1)));
    let mut ids: Vec<String> = seen.iter().map(|d| d.id.clone()).collect();
    ids.dedup();
    for (n, pull) in [(1, false), (2, true), (3, false), (4, false), (5, true)] {
        assert!(
            ids.contains(&item_id(&uri, n, pull)),
            "item {n} lost: {ids:?}"
        );
    }
    let last_one = seen
        .iter()
        .rev()
        .find(|d| d.id == item_id(&uri, 1, false))
        .unwrap();
    assert_eq!(last_one.updated_at, Some(day(9)));
    assert!(last_one.content.as_text().unwrap().contains("Reopened"));
    // Paging by `since` asked GitHub with the key of the last item read.
    let requests = fake.server.received_requests().await.unwrap();
    assert!(requests.iter().any(|r| {
        r.url.path().ends_with("/issues")
            && r.url
                .query()
                .is_some_and(|q| q.contains("since=2026-01-02T09%3A59%3A59Z"))
    }));
}

#[tokio::test]
async fn incremental_runs_find_new_comments_on_old_issues_and_skip_unchanged_ones() {
    let fake = Fake::start(standard()).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let store = MemoryStateStore::new();
    sync(&c, &store, SyncMode::Full, 6).await;
    let comments_before = fake.count("/comments").await;

    // A reconciling run: every item unchanged by its `updated_at`, no comment request.
    let (_, report) = sync(&c, &store, SyncMode::Reconcile, 6).await;
    assert_eq!(report.unchanged, 5, "{report:?}");
    assert_eq!(fake.count("/comments").await, comments_before);

    // A comment on old issue 3 moves its `updated_at`; the next window asks `since` and finds it.
    {
        let mut state = fake.state.lock().unwrap();
        let item = state.repos[0]
            .items
            .iter_mut()
            .find(|i| i.number == 3)
            .unwrap();
        item.updated = day(7);
        item.comments
            .push(("hubot".into(), "The install page is out of date.".into()));
    }
    let (sink, report) = sync(&c, &store, SyncMode::Incremental, 8).await;
    assert_eq!(sink.ids(), [item_id(&uri, 3, false)], "{report:?}");
    let doc = sink.get(&item_id(&uri, 3, false)).unwrap();
    assert!(
        doc.content
            .as_text()
            .unwrap()
            .contains("The install page is out of date.")
    );
    let requests = fake.server.received_requests().await.unwrap();
    assert!(
        requests.iter().any(|r| {
            r.url
                .query()
                .is_some_and(|q| q.contains("since=2026-01-06T06%3A59%3A59Z"))
        }),
        "the window starts the lag allowance (3 h) before the last run ended, less a second"
    );
}

#[tokio::test]
async fn pulls_or_issues_alone_are_told_apart_by_pull_request() {
    let fake = Fake::start(standard()).await;
    let uri = fake.uri();
    let c = build(&uri, json!({"include_issues": false}));
    let (sink, _) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(ids, [item_id(&uri, 2, true), item_id(&uri, 5, true)]);
    let c = build(&uri, json!({"include_pull_requests": false}));
    let (sink, _) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    assert_eq!(sink.len(), 3);
    assert!(sink.ids().iter().all(|id| id.contains("/issues/")));
}

#[tokio::test]
async fn code_files_at_one_commit_are_downloaded_once_per_blob() {
    let mut state = standard();
    state.repos[0].files = files();
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(
        &uri,
        json!({"include_code_files": true, "max_file_size": 1000, "include_issues": false, "include_pull_requests": false}),
    );
    let store = MemoryStateStore::new();
    let (sink, report) = sync(&c, &store, SyncMode::Full, 6).await;
    let mut ids = sink.ids();
    ids.sort();
    let blob = |p: &str| format!("{uri}/acme/api/blob/main/{p}");
    assert_eq!(
        ids,
        [
            blob("README.md"),
            blob("src/deep/mod.rs"),
            blob("src/lib.rs")
        ]
    );
    // big.bin is listed at 4096 bytes: a failure naming it, never downloaded.
    assert_eq!(report.failures.len(), 1);
    assert_eq!(
        report.failures[0].id.as_deref(),
        Some(blob("big.bin").as_str())
    );
    assert_eq!(report.failures[0].kind, ErrorKind::Unsupported);
    let blobs = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().contains("/git/blobs/"))
        .count();
    assert_eq!(blobs, 3);
    let lib = sink.get(&blob("src/lib.rs")).unwrap();
    assert_eq!(
        lib.content.as_text(),
        Some("pub fn answer() -> u32 { 42 }\n")
    );
    assert_eq!(lib.metadata["commit"], github_common::COMMIT);
    assert_eq!(lib.title, "acme/api: src/lib.rs");

    // Nothing changed: the tree is listed again, no blob is downloaded.
    let (_, report) = sync(&c, &store, SyncMode::Reconcile, 6).await;
    assert_eq!(report.unchanged, 3, "{report:?}");
    let after = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().contains("/git/blobs/"))
        .count();
    assert_eq!(after, 3);

    // One file changes (a new blob SHA): only it is downloaded.
    {
        let mut state = fake.state.lock().unwrap();
        let f = state.repos[0].files.get_mut("README.md").unwrap();
        *f = (format!("{:040x}", 0xfeed_u64), b"# API v2".to_vec());
    }
    let (sink, _) = sync(&c, &store, SyncMode::Reconcile, 6).await;
    assert_eq!(sink.ids(), [blob("README.md")]);
    let after = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().contains("/git/blobs/"))
        .count();
    assert_eq!(after, 4);
}

#[tokio::test]
async fn truncated_trees_are_walked_by_subtree_and_paths_filter() {
    let mut state = standard();
    state.repos[0].files = files();
    state.truncated = true;
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(
        &uri,
        json!({"include_code_files": true, "include_issues": false, "include_pull_requests": false,
        "exclude_paths": ["src/deep", "*.bin"]}),
    );
    let (sink, report) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    let mut ids = sink.ids();
    ids.sort();
    let blob = |p: &str| format!("{uri}/acme/api/blob/main/{p}");
    assert_eq!(ids, [blob("README.md"), blob("src/lib.rs")], "{report:?}");
    let trees: Vec<String> = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().contains("/git/trees/"))
        .map(|r| {
            format!(
                "{}?{}",
                r.url.path().rsplit('/').next().unwrap(),
                r.url.query().unwrap_or("")
            )
        })
        .collect();
    assert!(
        trees.contains(&format!("{}?", github_common::COMMIT)),
        "the root level by level: {trees:?}"
    );
    assert!(
        trees.contains(&"tree-src?recursive=1".to_owned()),
        "{trees:?}"
    );
}

#[tokio::test]
async fn a_folder_truncated_alone_is_a_failure_naming_it() {
    let mut state = standard();
    state.repos[0].files = files();
    state.truncated = true;
    // `src` alone is over GitHub's limits: its listing holds `deep` only, not `lib.rs`.
    state.truncated_folders = vec!["src".into()];
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let code = json!({"include_code_files": true, "include_issues": false,
        "include_pull_requests": false});
    let c = build(&uri, code.clone());
    let (sink, report) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    let mut ids = sink.ids();
    ids.sort();
    let blob = |p: &str| format!("{uri}/acme/api/blob/main/{p}");
    assert_eq!(
        ids,
        [blob("README.md"), blob("big.bin"), blob("src/deep/mod.rs")],
        "{report:?}"
    );
    assert_eq!(report.failed, 1, "{report:?}");
    let failure = &report.failures[0];
    assert_eq!(
        failure.id.as_deref(),
        Some(format!("{uri}/acme/api/tree/main/src").as_str())
    );
    assert_eq!(failure.kind, ErrorKind::Unsupported);
    assert!(
        failure.message.contains("acme/api") && failure.message.contains("`src`"),
        "{}",
        failure.message
    );

    // The prune listing would come back short: it fails instead.
    let slim = c.as_slim().unwrap();
    let mut stream = slim.list_ids(SyncContext::new());
    let mut error = None;
    while let Some(page) = stream.next().await {
        if let Err(e) = page {
            error = Some(e);
            break;
        }
    }
    let error = error.expect("the listing fails");
    assert_eq!(error.kind(), ErrorKind::Unsupported);
    assert!(error.to_string().contains("`src`"), "{error}");

    // Left out by `exclude_paths`, the folder misses nothing that would be read.
    let mut extra = code;
    extra["exclude_paths"] = json!(["src"]);
    let c = build(&uri, extra);
    let (sink, report) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    assert_eq!(sink.ids().len(), 2, "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
}

fn epoch_in(secs: u64) -> String {
    (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs)
        .to_string()
}

#[tokio::test]
async fn primary_rate_limit_is_waited_out_until_reset_and_counted() {
    let fake = Fake::start(standard()).await;
    let _guard = Mock::given(method("GET"))
        .and(path("/repos/acme/api/issues"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-used", "5000")
                .insert_header("x-ratelimit-reset", epoch_in(3).as_str())
                .insert_header("x-ratelimit-resource", "core")
                .set_body_json(json!({
                    "message": "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID DBD8:1C8F:1A5E4B:1B8B3A:6593A2F1.",
                    "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
                })),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount_as_scoped(&fake.server)
        .await;
    let c = build(&fake.uri(), json!({}));
    let (sink, report) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    assert_eq!(sink.len(), 5);
    assert!(report.retries >= 1, "{report:?}");
    // Waited until the reset (2 to 3 s from now, by the second), not a backoff of a few ms.
    assert!(
        report.rate_limit_wait >= Duration::from_millis(900),
        "{report:?}"
    );
}

#[tokio::test]
async fn secondary_rate_limit_waits_retry_after() {
    let fake = Fake::start(standard()).await;
    let _guard = Mock::given(method("GET"))
        .and(path("/repos/acme/api/issues/1/comments"))
        .respond_with(ResponseTemplate::new(403).insert_header("retry-after", "1").set_body_json(json!({
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID C2E0:3C2B:4D4A1E:4E7C2B:6593A2F2.",
            "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount_as_scoped(&fake.server)
        .await;
    let c = build(&fake.uri(), json!({}));
    let (sink, report) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    assert_eq!(sink.len(), 5);
    assert_eq!(report.failed, 0);
    assert!(
        report.rate_limit_wait >= Duration::from_secs(1),
        "{report:?}"
    );
}

#[tokio::test]
async fn check_tells_a_bad_token_from_a_missing_repository() {
    let fake = Fake::start(standard()).await;
    let uri = fake.uri();
    assert!(build(&uri, json!({})).check().await.is_ok());

    let mut cfg = github_common::config(&uri, json!({}));
    cfg["credentials"]["github_access_token"] = json!("ghp_wrong");
    let mut registry = connector_core::Registry::new();
    connector_misc::register(&mut registry);
    let err = registry
        .build("github", cfg)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.github_access_token"));
    assert!(err.to_string().contains("Bad credentials"), "{err}");

    let err = build(&uri, json!({"repository_name": "gone"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.field(), Some("repository_name"));
    assert!(err.to_string().contains("acme/gone"), "{err}");

    let err = build(
        &uri,
        json!({"repository_owner": "nobody", "repository_name": ""}),
    )
    .check()
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.field(), Some("repository_owner"));
}

#[tokio::test]
async fn organisations_and_repositories_are_partitions() {
    let mut state = standard();
    state.repos.push(RepoData::new(
        "acme",
        "web",
        false,
        vec![Item::issue(1, "Dark mode", day(2))],
    ));
    state.repos.push(RepoData::new(
        "other",
        "tools",
        true,
        vec![Item::issue(9, "Lint", day(3))],
    ));
    state.repos[2].collaborators = None;
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(
        &uri,
        json!({"repository_name": "", "repositories": ["other/tools"]}),
    );
    assert_eq!(c.partitions(), ["acme", "other/tools"]);

    let acme = c.partition("acme").expect("a partition");
    let (sink, _) = sync(&acme, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    assert_eq!(sink.len(), 6, "acme/api and acme/web: {:?}", sink.ids());
    let web = sink.get(&format!("{uri}/acme/web/issues/1")).unwrap();
    assert!(
        web.access.as_ref().unwrap().public,
        "a public repository's items are public"
    );

    let tools = c.partition("other/tools").expect("a partition");
    let (sink, _) = sync(&tools, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    let lint = sink.get(&format!("{uri}/other/tools/issues/9")).unwrap();
    // The token may not list the collaborators: the repository as a group.
    assert_eq!(
        lint.access.as_ref().unwrap().groups,
        ["github-repo:other/tools"]
    );
    assert!(c.partition("elsewhere").is_none());
}

#[tokio::test]
async fn refetch_and_prune_listing_cover_code_files() {
    let mut state = standard();
    state.repos[0].files = files();
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(&uri, json!({"include_code_files": true}));
    let slim = c.as_slim().unwrap();
    let mut ids = Vec::new();
    let mut stream = slim.list_ids(SyncContext::new());
    while let Some(page) = stream.next().await {
        ids.extend(page.unwrap().into_iter().map(|s| s.id));
    }
    assert_eq!(ids.len(), 9, "5 items and 4 files: {ids:?}");
    let lib = format!("{uri}/acme/api/blob/main/src/lib.rs");
    let refetch = c.as_refetch().unwrap();
    let mut stream = refetch.fetch(
        vec![
            lib.clone(),
            item_id(&uri, 2, true),
            format!("{uri}/elsewhere/x/issues/1"),
        ],
        SyncContext::new(),
    );
    let mut docs = Vec::new();
    while let Some(batch) = stream.next().await {
        docs.extend(batch.unwrap().documents);
    }
    let got: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(got, [lib.as_str(), item_id(&uri, 2, true).as_str()]);
    assert_eq!(
        docs[0].content.as_text(),
        Some("pub fn answer() -> u32 { 42 }\n")
    );
    let _ = TOKEN;
}

/// The pull request 2 of acme/api in the fake.
fn pull_two(state: &mut github_common::State) -> &mut Item {
    state.repos[0]
        .items
        .iter_mut()
        .find(|i| i.number == 2)
        .unwrap()
}

#[tokio::test]
async fn a_review_or_review_comment_alone_brings_its_pull_request_back() {
    let fake = Fake::start(standard()).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let store = MemoryStateStore::new();
    sync(&c, &store, SyncMode::Full, 6).await;

    // A review comment on old pull request 2: GitHub moves the pull request's own
    // `updated_at` (`GET /pulls`) and the comment's, not the issues endpoint's.
    {
        let mut state = fake.state.lock().unwrap();
        let two = pull_two(&mut state);
        two.reviews.push((
            "hubot".into(),
            "src/token.rs".into(),
            "blocking: this leaks the token".into(),
        ));
        two.pr_updated = Some(day(7));
        two.reviews_updated = Some(day(7));
    }
    let (sink, report) = sync(&c, &store, SyncMode::Incremental, 8).await;
    assert_eq!(sink.ids(), [item_id(&uri, 2, true)], "{report:?}");
    let two = sink.get(&item_id(&uri, 2, true)).unwrap();
    let text = two.content.as_text().unwrap();
    assert!(text.contains("blocking: this leaks the token"), "{text}");
    assert_eq!(two.updated_at, Some(day(7)));
    // Found through the repository-wide listing since the window's start.
    let requests = fake.server.received_requests().await.unwrap();
    assert!(requests.iter().any(|r| {
        r.url.path() == "/repos/acme/api/pulls/comments"
            && r.url
                .query()
                .is_some_and(|q| q.contains("since=2026-01-06T06%3A59%3A59Z"))
    }));

    // A review with a body alone (no line comment) moves only the pull request's own
    // `updated_at`: a reconciling run reads the pull request again, the others are unchanged.
    {
        let mut state = fake.state.lock().unwrap();
        let two = pull_two(&mut state);
        two.review_bodies.push((
            "octocat".into(),
            "CHANGES_REQUESTED".into(),
            "The migration is not reversible.".into(),
        ));
        two.pr_updated = Some(day(9));
    }
    let (sink, report) = sync(&c, &store, SyncMode::Reconcile, 10).await;
    assert_eq!(sink.ids(), [item_id(&uri, 2, true)], "{report:?}");
    assert_eq!(report.unchanged, 4, "{report:?}");
    let text = sink
        .get(&item_id(&uri, 2, true))
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("## Reviews\n\n### @octocat requested changes · 2026-01-09T10:00:00Z\n\nThe migration is not reversible."),
        "{text}"
    );

    // Approved in the next window: an incremental run finds it by `GET /pulls` alone.
    {
        let mut state = fake.state.lock().unwrap();
        let two = pull_two(&mut state);
        two.review_bodies
            .push(("hubot".into(), "APPROVED".into(), "Ship it.".into()));
        two.pr_updated = Some(day(11));
    }
    let (sink, report) = sync(&c, &store, SyncMode::Incremental, 12).await;
    assert_eq!(sink.ids(), [item_id(&uri, 2, true)], "{report:?}");
    let text = sink
        .get(&item_id(&uri, 2, true))
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(text.contains("### @hubot approved"), "{text}");
    assert!(text.contains("Ship it."), "{text}");
}

#[tokio::test]
async fn an_edited_or_deleted_comment_brings_its_issue_back() {
    let fake = Fake::start(standard()).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let store = MemoryStateStore::new();
    sync(&c, &store, SyncMode::Full, 6).await;

    // Comment 1 of issue 1 is edited: only the comment's `updated_at` moves.
    {
        let mut state = fake.state.lock().unwrap();
        let one = &mut state.repos[0].items[0];
        one.comments[0].1 = "Seen it too (edited: on 1.2 only).".into();
        one.comments_edited.insert(0, day(7));
    }
    let (sink, report) = sync(&c, &store, SyncMode::Incremental, 8).await;
    assert_eq!(sink.ids(), [item_id(&uri, 1, false)], "{report:?}");
    let text = sink
        .get(&item_id(&uri, 1, false))
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(text.contains("edited: on 1.2 only"), "{text}");

    // Comment 2 is deleted (the count drops, `updated_at` does not move): a reconciling run
    // reads the issue again and the text is gone.
    {
        let mut state = fake.state.lock().unwrap();
        let one = &mut state.repos[0].items[0];
        one.comments.truncate(1);
    }
    let (sink, report) = sync(&c, &store, SyncMode::Reconcile, 9).await;
    assert_eq!(sink.ids(), [item_id(&uri, 1, false)], "{report:?}");
    let text = sink
        .get(&item_id(&uri, 1, false))
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(!text.contains("Fixed in `main`."), "{text}");
}

#[tokio::test]
async fn a_deleted_comment_is_seen_by_an_incremental_run_that_lists_its_issue_again() {
    // Issue 1 was updated an hour before the full run: the next incremental runs list it
    // again (within GitHub's three hours of listing lag).
    let mut state = standard();
    state.repos[0].items[0].updated = day(6) - chrono::Duration::hours(1);
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let store = MemoryStateStore::new();
    let run = |hours: i64| {
        let sink = MemorySink::new();
        let syncer = Syncer::new(c.clone())
            .sink(sink.clone())
            .state(store.clone())
            .at(day(6) + chrono::Duration::hours(hours));
        async move {
            let report = syncer.run(SyncMode::Incremental).await.unwrap();
            (sink, report)
        }
    };
    sync(&c, &store, SyncMode::Full, 6).await;
    let (sink, report) = run(1).await;
    assert!(sink.ids().is_empty(), "listed again, unchanged: {report:?}");
    assert!(report.unchanged >= 1, "{report:?}");

    // Comment 2 is deleted: `updated_at` does not move, the listed count of comments drops.
    fake.state.lock().unwrap().repos[0].items[0]
        .comments
        .truncate(1);
    let (sink, report) = run(2).await;
    assert_eq!(sink.ids(), [item_id(&uri, 1, false)], "{report:?}");
    let text = sink
        .get(&item_id(&uri, 1, false))
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(text.contains("Seen it too."), "{text}");
    assert!(!text.contains("Fixed in `main`."), "{text}");
}

#[tokio::test]
async fn the_token_users_own_private_repositories_are_read() {
    let mut state = standard();
    state.me = Some("acme-user".into());
    state.repos.push(RepoData::new(
        "acme-user",
        "secret",
        true,
        vec![Item::issue(1, "Rotate the keys", day(2))],
    ));
    state.repos.push(RepoData::new(
        "acme-user",
        "open",
        false,
        vec![Item::issue(1, "Typo", day(3))],
    ));
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(
        &uri,
        json!({"repository_owner": "acme-user", "repository_name": ""}),
    );
    let (sink, report) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(
        ids,
        [
            format!("{uri}/acme-user/open/issues/1"),
            format!("{uri}/acme-user/secret/issues/1")
        ],
        "{report:?}"
    );
    let requests = fake.server.received_requests().await.unwrap();
    assert!(requests.iter().any(|r| r.url.path() == "/user/repos"
        && r.url.query().is_some_and(
            |q| q.contains("affiliation=owner%2Ccollaborator") && q.contains("visibility=all")
        )));

    // Another user's: their public repositories, as GitHub shows no more.
    fake.state.lock().unwrap().me = Some("someone-else".into());
    let (sink, _) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    assert_eq!(sink.ids(), [format!("{uri}/acme-user/open/issues/1")]);
}

#[tokio::test]
async fn one_repository_failing_is_its_failure_and_the_others_are_read() {
    let mut state = standard();
    state.repos[0].files = files();
    let mut legacy = RepoData::new(
        "acme",
        "legacy",
        true,
        vec![Item::issue(1, "Old bug", day(1))],
    );
    legacy.files = files();
    legacy.errors.insert(
        "issues".into(),
        (
            403,
            "Resource not accessible by personal access token".into(),
        ),
    );
    legacy.errors.insert(
        "commits/main".into(),
        (404, "No commit found for SHA: main".into()),
    );
    state.repos.push(legacy);
    state.repos.push(RepoData::new(
        "acme",
        "web",
        false,
        vec![Item::issue(1, "Dark mode", day(2))],
    ));
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(
        &uri,
        json!({"repository_name": "", "include_code_files": true, "branch": "main",
            "max_file_size": 10000}),
    );
    let store = MemoryStateStore::new();
    let (sink, report) = sync(&c, &store, SyncMode::Full, 6).await;
    let ids = sink.ids();
    assert!(ids.contains(&format!("{uri}/acme/web/issues/1")), "{ids:?}");
    assert!(ids.contains(&item_id(&uri, 5, true)), "{ids:?}");
    assert!(
        ids.contains(&format!("{uri}/acme/api/blob/main/src/lib.rs")),
        "{ids:?}"
    );
    assert!(
        !ids.iter().any(|id| id.contains("/acme/legacy/")),
        "{ids:?}"
    );
    let legacy = format!("{uri}/acme/legacy");
    let failures: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.id.as_deref() == Some(legacy.as_str()))
        .collect();
    assert_eq!(failures.len(), 2, "{:?}", report.failures);
    assert_eq!(failures[0].kind, ErrorKind::PermissionDenied);
    assert!(
        failures[0].message.contains("repository acme/legacy")
            && failures[0]
                .message
                .contains("credentials.github_access_token")
            && failures[0]
                .message
                .contains("Resource not accessible by personal access token"),
        "{}",
        failures[0].message
    );
    assert_eq!(failures[1].kind, ErrorKind::NotFound);
    assert!(
        failures[1].message.contains("branch `main`")
            && failures[1].message.contains("acme/legacy"),
        "{}",
        failures[1].message
    );

    // The next run reads the failed repository again whole; it fails again while the token
    // lacks the permission...
    let (_, report) = sync(&c, &store, SyncMode::Incremental, 7).await;
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.id.as_deref() == Some(legacy.as_str())),
        "{report:?}"
    );
    // ...and, once granted, delivers its old issue, outside the window.
    fake.state.lock().unwrap().repos[1].errors.clear();
    let (sink, report) = sync(&c, &store, SyncMode::Incremental, 8).await;
    assert!(
        sink.ids().contains(&format!("{uri}/acme/legacy/issues/1")),
        "{report:?}"
    );
    assert!(
        sink.ids()
            .contains(&format!("{uri}/acme/legacy/blob/main/src/lib.rs")),
        "{report:?}"
    );
}

#[tokio::test]
async fn a_repository_new_in_scope_or_made_private_is_read_whole_next_run() {
    let mut state = standard();
    state.repos.push(RepoData::new(
        "acme",
        "web",
        false,
        vec![Item::issue(1, "Dark mode", day(2))],
    ));
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(&uri, json!({"repository_name": ""}));
    let store = MemoryStateStore::new();
    sync(&c, &store, SyncMode::Full, 6).await;

    // acme/web is made private (after a leak); acme/new appears with an issue from last year.
    {
        let mut state = fake.state.lock().unwrap();
        state.repos[1].private = true;
        state.repos[1].collaborators = Some(vec!["octocat".into()]);
        let mut new = RepoData::new(
            "acme",
            "new",
            true,
            vec![Item::issue(1, "Imported", day(1))],
        );
        new.collaborators = Some(vec!["hubot".into()]);
        state.repos.push(new);
    }
    let (sink, report) = sync(&c, &store, SyncMode::Incremental, 8).await;
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(
        ids,
        [
            format!("{uri}/acme/new/issues/1"),
            format!("{uri}/acme/web/issues/1")
        ],
        "acme/api, unchanged, stays to its window: {report:?}"
    );
    let web = sink.get(&format!("{uri}/acme/web/issues/1")).unwrap();
    let access = web.access.as_ref().unwrap();
    assert!(!access.public, "no longer public");
    assert_eq!(access.groups, ["github-user:octocat"]);

    // Known now: the next run keeps to its window.
    let (sink, report) = sync(&c, &store, SyncMode::Incremental, 9).await;
    assert!(sink.is_empty(), "{:?} {report:?}", sink.ids());
}

#[tokio::test]
async fn check_answers_in_seconds_and_probes_the_issues_permission() {
    let fake = Fake::start(standard()).await;
    let uri = fake.uri();
    // A fine-grained token granted the repository's metadata, not its Issues.
    fake.state.lock().unwrap().repos[0].errors.insert(
        "issues".into(),
        (
            403,
            "Resource not accessible by personal access token".into(),
        ),
    );
    let err = build(&uri, json!({})).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(err.field(), Some("credentials.github_access_token"));
    fake.state.lock().unwrap().repos[0].errors.clear();

    // A spent primary limit that resets in an hour: `RateLimited` now, not an hour later.
    let _guard = Mock::given(method("GET"))
        .and(path("/repos/acme/api"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", epoch_in(3600).as_str())
                .set_body_json(json!({
                    "message": "API rate limit exceeded for user ID 1.",
                    "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
                })),
        )
        .with_priority(1)
        .mount_as_scoped(&fake.server)
        .await;
    let started = std::time::Instant::now();
    let err = build(&uri, json!({})).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn teams_with_access_are_readers_and_a_refused_listing_is_asked_once_a_run() {
    let mut state = standard();
    state.repos[0].org = true;
    state.repos[0].teams = Some(vec!["Justice League".into(), "Ops".into()]);
    for name in ["ops", "web"] {
        let mut repo = RepoData::new("acme", name, true, vec![Item::issue(1, "Todo", day(2))]);
        repo.org = true;
        // The token may not list these repositories' teams.
        repo.teams = None;
        state.repos.push(repo);
    }
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(&uri, json!({"repository_name": ""}));
    let store = MemoryStateStore::new();
    let (sink, report) = sync(&c, &store, SyncMode::Full, 6).await;
    assert_eq!(report.failed, 0, "a refused team listing fails nothing");
    assert_eq!(sink.len(), 7, "{:?}", sink.ids());
    let crash = sink.get(&item_id(&uri, 1, false)).unwrap();
    assert_eq!(
        crash.access.as_ref().unwrap().groups,
        [
            "github-user:hubot",
            "github-user:octocat",
            "github:acme/team/justice-league",
            "github:acme/team/ops",
        ]
    );
    let web = sink.get(&format!("{uri}/acme/web/issues/1")).unwrap();
    assert_eq!(
        web.access.as_ref().unwrap().groups,
        ["github-user:hubot", "github-user:octocat"]
    );
    // acme/api, then acme/ops (403); acme/web is not asked.
    assert_eq!(fake.count("/teams").await, 2);
    // The next run asks again.
    sync(&c, &store, SyncMode::Full, 7).await;
    assert_eq!(fake.count("/teams").await, 4);
}

#[tokio::test]
async fn a_repository_without_issues_has_its_pull_requests_read_from_the_pulls_listing() {
    let mut state = standard();
    state.repos[0].has_issues = false;
    state.repos[0].items[4].comments = vec![("hubot".into(), "Ship it.".into())];
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    c.check().await.expect("the pull requests can be listed");
    let store = MemoryStateStore::new();
    let (sink, report) = sync(&c, &store, SyncMode::Full, 6).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(
        sink.ids(),
        [item_id(&uri, 2, true), item_id(&uri, 5, true)],
        "the pull requests, no issue"
    );
    let bump = sink.get(&item_id(&uri, 5, true)).unwrap();
    let text = bump.content.as_text().unwrap();
    assert!(text.contains("Ship it."), "its comments are read: {text}");
    assert_eq!(bump.metadata["type"], "pull_request");
    let fix = sink.get(&item_id(&uri, 2, true)).unwrap();
    assert!(
        fix.content
            .as_text()
            .unwrap()
            .contains("Why `unwrap` here?")
    );
    assert_eq!(fake.count("/issues").await, 0, "no issues listing (410)");

    // A review alone moves the pull request's `updated_at`: the next run reads it.
    {
        let mut st = fake.state.lock().unwrap();
        let two = pull_two(&mut st);
        two.pr_updated = Some(day(8));
        two.review_bodies = vec![("octocat".into(), "APPROVED".into(), "LGTM".into())];
    }
    let (sink, report) = sync(&c, &store, SyncMode::Incremental, 9).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(sink.ids(), [item_id(&uri, 2, true)]);
    assert!(
        sink.get(&item_id(&uri, 2, true))
            .unwrap()
            .content
            .as_text()
            .unwrap()
            .contains("LGTM")
    );

    // Refetch and the prune listing go through `/pulls` as well.
    let mut docs = Vec::new();
    let mut stream = c
        .as_refetch()
        .unwrap()
        .fetch(vec![item_id(&uri, 5, true)], SyncContext::new());
    while let Some(batch) = stream.next().await {
        docs.extend(batch.unwrap().documents);
    }
    assert_eq!(docs.len(), 1);
    let mut ids = Vec::new();
    let mut stream = c.as_slim().unwrap().list_ids(SyncContext::new());
    while let Some(page) = stream.next().await {
        ids.extend(page.unwrap().into_iter().map(|s| s.id));
    }
    ids.sort();
    assert_eq!(ids, [item_id(&uri, 2, true), item_id(&uri, 5, true)]);
    assert_eq!(fake.count("/issues").await, 0);
}

/// GitHub Enterprise Server serves its REST API at `https://HOST/api/v3`; a config naming the
/// web host gets the server's HTML 404 page, which must name `base_url`, not a missing
/// repository.
#[tokio::test]
async fn a_ghes_host_without_the_api_prefix_is_a_base_url_error() {
    let web = wiremock::MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><title>Page not found · GitHub Enterprise</title></head><body>404</body></html>",
            "text/html; charset=utf-8",
        ))
        .mount(&web)
        .await;
    let c = build(&web.uri(), json!({}));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert_eq!(err.field(), Some("base_url"), "{err}");
    assert!(err.to_string().contains("/api/v3"), "{err}");
    assert!(!err.to_string().contains("<html"), "{err}");

    // A sync ends with the same error instead of reading nothing.
    let err = Syncer::new(c)
        .sink(MemorySink::new())
        .state(MemoryStateStore::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert_eq!(err.field(), Some("base_url"), "{err}");

    // GitHub's own 404 (JSON) is still a missing repository.
    let fake = Fake::start(standard()).await;
    let err = build(&fake.uri(), json!({"repository_name": "gone"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.field(), Some("repository_name"));
}

/// A file tracked by Git LFS is a pointer in the repository (the spec's three lines); its blob
/// is that pointer, which must not be indexed as the file's text.
#[tokio::test]
async fn git_lfs_pointers_are_failures_naming_the_real_size() {
    let mut state = standard();
    state.repos[0].files = files();
    state.repos[0].files.insert(
        "models/classifier.onnx".to_owned(),
        (
            format!("{:040x}", 0x1f5_u64),
            b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 48213677\n".to_vec(),
        ),
    );
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(
        &uri,
        json!({"include_code_files": true, "max_file_size": 1000, "include_issues": false, "include_pull_requests": false}),
    );
    let (sink, report) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    let blob = |p: &str| format!("{uri}/acme/api/blob/main/{p}");
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(
        ids,
        [
            blob("README.md"),
            blob("src/deep/mod.rs"),
            blob("src/lib.rs")
        ]
    );
    let lfs = report
        .failures
        .iter()
        .find(|f| f.id.as_deref() == Some(blob("models/classifier.onnx").as_str()))
        .expect("the LFS file is a failure");
    assert_eq!(lfs.kind, ErrorKind::Unsupported);
    assert!(lfs.message.contains("Git LFS"), "{}", lfs.message);
    assert!(lfs.message.contains("48213677 bytes"), "{}", lfs.message);
    // big.bin (over max_file_size) is the other failure.
    assert_eq!(report.failures.len(), 2, "{:?}", report.failures);
}

/// A repository's end rides on its last page instead of an empty batch of its own: a
/// checkpoint fewer per repository.
#[tokio::test]
async fn a_repository_ends_on_its_last_page_not_on_an_empty_batch() {
    use connector_core::CheckpointedConnector;
    use connector_misc::github::{GithubCheckpoint, GithubConfig, GithubConnector};

    let fake = Fake::start(standard()).await;
    let uri = fake.uri();
    let config: GithubConfig =
        connector_core::config::from_json(github_common::config(&uri, json!({}))).unwrap();
    let c = GithubConnector::new(config).unwrap();
    let batches: Vec<_> = c
        .load_from_checkpoint(GithubCheckpoint::start(), None, SyncContext::new())
        .map(|b| b.unwrap())
        .collect()
        .await;
    // The pages of five items, two a page (keyset pages may hold fewer), then the scope's
    // end: no page is empty but the scope's.
    let docs: Vec<usize> = batches.iter().map(|b| b.batch.documents.len()).collect();
    assert_eq!(docs.iter().sum::<usize>(), 5, "{docs:?}");
    let (scope_end, pages) = batches.split_last().unwrap();
    assert!(
        pages.iter().all(|b| !b.batch.documents.is_empty()),
        "{docs:?}"
    );
    assert!(scope_end.batch.is_empty());
    assert_eq!(scope_end.checkpoint.scopes_done, ["acme/api"]);
    // Only the last page says the repository is done.
    let (last, before) = pages.split_last().unwrap();
    assert!(before.iter().all(|b| b.checkpoint.after_repo.is_none()));
    assert!(before.iter().all(|b| b.checkpoint.current.is_some()));
    assert_eq!(last.checkpoint.after_repo.as_deref(), Some("acme/api"));
    assert_eq!(last.checkpoint.current, None);
}

/// An organisation of 300 repositories (review s36 #4): a checkpoint inside the scope names
/// the last repository done and leaves the map of who may read each one walked to the
/// scope's end, so it stays small (each held every repository walked: O(R²) bytes in a
/// run). A run resumed inside the scope starts after that repository and, in a window, reads
/// the rest whole (the map it would have compared with is not in the checkpoint); a
/// checkpoint written before (`repos_done`) still resumes.
#[tokio::test]
async fn checkpoints_of_an_organisation_of_300_repositories_stay_small() {
    use connector_core::{CheckpointedConnector, TimeWindow};
    use connector_misc::github::{GithubCheckpoint, GithubConfig, GithubConnector};

    let mut state = standard();
    state.repos = (0..300)
        .map(|i| {
            RepoData::new(
                "acme",
                &format!("r{i:03}"),
                false,
                vec![Item::issue(1, &format!("Issue of r{i:03}"), day(2))],
            )
        })
        .collect();
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let config: GithubConfig = connector_core::config::from_json(github_common::config(
        &uri,
        json!({"repository_name": "", "include_pull_requests": false, "page_size": 100}),
    ))
    .unwrap();
    let c = GithubConnector::new(config).unwrap();
    let run = |from: GithubCheckpoint, window: Option<TimeWindow>| {
        c.load_from_checkpoint(from, window, SyncContext::new())
            .map(|b| b.unwrap())
            .collect::<Vec<_>>()
    };
    let size = |cp: &GithubCheckpoint| serde_json::to_string(cp).unwrap().len();
    let name = |i: usize| format!("acme/r{i:03}");

    // The full run: a batch per repository, then the scope's end.
    let full = run(GithubCheckpoint::start(), None).await;
    assert_eq!(full.len(), 301);
    let (end, inside) = full.split_last().unwrap();
    for (i, b) in inside.iter().enumerate() {
        assert_eq!(b.batch.documents.len(), 1);
        assert_eq!(b.checkpoint.after_repo.as_deref(), Some(name(i).as_str()));
        assert!(b.checkpoint.known.is_empty() && b.checkpoint.repos_done.is_empty());
        assert!(size(&b.checkpoint) < 100, "{:?}", b.checkpoint);
    }
    assert_eq!(end.checkpoint.known.len(), 300);
    assert_eq!(end.checkpoint.after_repo, None);
    assert_eq!(end.checkpoint.scopes_done, ["acme"]);

    // The next incremental run, from what the full one carried: its window holds nothing.
    let carried = c.carry_over(&end.checkpoint).unwrap();
    let window = TimeWindow::new(day(5), day(6)).unwrap();
    let next = run(carried.clone(), Some(window)).await;
    assert_eq!(next.len(), 301);
    assert!(next.iter().all(|b| b.batch.documents.is_empty()));
    let cut = &next[149].checkpoint;
    assert_eq!(cut.after_repo.as_deref(), Some("acme/r149"));
    assert!(cut.known_left_out && cut.known.is_empty());
    assert!(size(cut) < 100, "{cut:?}");

    // Resumed after acme/r149: the 150 after it, read whole (their issue is before the
    // window); none before it.
    let resumed = run(cut.clone(), Some(window)).await;
    let ids: Vec<String> = resumed
        .iter()
        .flat_map(|b| b.batch.documents.iter().map(|d| d.id.clone()))
        .collect();
    let after: Vec<String> = (150..300)
        .map(|i| format!("{uri}/acme/r{i:03}/issues/1"))
        .collect();
    assert_eq!(ids, after);
    let end = &resumed.last().unwrap().checkpoint;
    assert_eq!(
        end.known.len(),
        150,
        "the map of the repositories walked since"
    );
    assert!(!end.known_left_out);

    // A checkpoint written before `after_repo`: its `repos_done` still resumes.
    let old: GithubCheckpoint = serde_json::from_value(json!({
        "repos_done": ["acme/r000", "acme/r001"],
        "known": carried.known,
    }))
    .unwrap();
    let resumed = run(old, None).await;
    assert_eq!(resumed.len(), 299);
    assert_eq!(
        resumed[0].batch.documents[0].id,
        format!("{uri}/acme/r002/issues/1")
    );
}

/// Bots (review s36 #9): what accounts of `type` `Bot` write is marked `(bot)` after their
/// login, an item a bot opened says so in its metadata, and `include_bot_comments: false`
/// leaves their comments and reviews out; a locked issue names its `active_lock_reason`
/// (#10).
#[tokio::test]
async fn bots_are_marked_or_left_out_and_a_lock_names_its_reason() {
    let mut state = standard();
    let mut bumped = Item::issue(40, "Bump serde from 1.0.1 to 1.0.2", day(3));
    bumped.author = "dependabot[bot]".into();
    bumped.lock_reason = Some("resolved".into());
    bumped.comments = vec![
        ("codecov[bot]".into(), "Coverage: 81.2% (+0.1%)".into()),
        ("octocat".into(), "Merging after the release.".into()),
    ];
    state.repos[0].items.push(bumped);
    let mut pull = Item::pull(41, "Fix the widget", day(3));
    pull.review_bodies = vec![
        (
            "github-actions[bot]".into(),
            "COMMENTED".into(),
            "Lint: 2 warnings".into(),
        ),
        ("octocat".into(), "APPROVED".into(), "LGTM".into()),
    ];
    state.repos[0].items.push(pull);
    let fake = Fake::start(state).await;
    let uri = fake.uri();

    let c = build(&uri, json!({}));
    let (sink, _) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    let issue = sink.get(&item_id(&uri, 40, false)).unwrap();
    let text = issue.content.as_text().unwrap();
    assert!(
        text.contains("opened by @dependabot[bot] (bot) on"),
        "{text}"
    );
    assert!(text.contains("### @codecov[bot] (bot) · "), "{text}");
    assert!(text.contains("### @octocat · "), "{text}");
    assert_eq!(issue.metadata["author_is_bot"], json!(true));
    assert_eq!(issue.metadata["locked"], json!(true));
    assert_eq!(issue.metadata["active_lock_reason"], json!("resolved"));
    let pull = sink.get(&item_id(&uri, 41, true)).unwrap();
    let text = pull.content.as_text().unwrap();
    assert!(
        text.contains("### @github-actions[bot] (bot) commented"),
        "{text}"
    );
    assert!(text.contains("Lint: 2 warnings"), "{text}");
    assert!(!pull.metadata.contains_key("author_is_bot"));
    assert!(!pull.metadata.contains_key("active_lock_reason"));

    let c = build(&uri, json!({"include_bot_comments": false}));
    let (sink, _) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    let text = sink.get(&item_id(&uri, 40, false)).unwrap();
    let text = text.content.as_text().unwrap();
    assert!(
        !text.contains("codecov") && !text.contains("Coverage"),
        "{text}"
    );
    assert!(text.contains("Merging after the release."), "{text}");
    assert!(
        text.contains("opened by @dependabot[bot] (bot)"),
        "the item itself stays"
    );
    let pull = sink.get(&item_id(&uri, 41, true)).unwrap();
    let text = pull.content.as_text().unwrap();
    assert!(!text.contains("Lint: 2 warnings"), "{text}");
    assert!(text.contains("LGTM"), "{text}");
}

/// A branch name with `/` (review s36 #11): its head is asked as `commits/heads/release/2.0`,
/// each part its own path segment (GitHub's `heads/BRANCH_NAME` form of the reference), not
/// as one segment `release%2F2.0` that a proxy in front of GitHub Enterprise Server may decode
/// differently; its files' ids and links carry the branch as GitHub's web pages do.
#[tokio::test]
async fn a_branch_with_a_slash_is_asked_by_its_heads_reference() {
    let mut state = standard();
    state.repos[0].files = files();
    state.repos[0].branches = vec!["release/2.0".into()];
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(
        &uri,
        json!({"include_code_files": true, "branch": "release/2.0", "max_file_size": 1000,
            "include_issues": false, "include_pull_requests": false}),
    );
    let (sink, report) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    let lib = format!("{uri}/acme/api/blob/release/2.0/src/lib.rs");
    let doc = sink
        .get(&lib)
        .unwrap_or_else(|| panic!("{:?} {report:?}", sink.ids()));
    assert_eq!(doc.link.as_ref().map(|l| l.as_str()), Some(lib.as_str()));
    assert_eq!(doc.metadata["branch"], json!("release/2.0"));
    assert_eq!(sink.ids().len(), 3, "{report:?}");
    let asked: Vec<String> = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .filter(|p| p.contains("/commits/"))
        .collect();
    assert_eq!(asked, ["/repos/acme/api/commits/heads/release/2.0"]);
}

/// A repository renamed after the config was written (review s36 #5): GitHub answers its old
/// name with a `301` to its address by id, so the walk reads it, and its items' ids carry the
/// new name; a refetch of those ids (a retried failure) finds them through the same redirect
/// rather than taking them for items out of scope.
#[tokio::test]
async fn items_of_a_renamed_repository_are_refetched_by_their_new_name() {
    let mut state = standard();
    state.repos[0].name = "api-v2".into();
    state.moved.insert("acme/api".into(), 0);
    let fake = Fake::start(state).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let (sink, report) = sync(&c, &MemoryStateStore::new(), SyncMode::Full, 6).await;
    let id = format!("{uri}/acme/api-v2/issues/1");
    assert!(sink.ids().contains(&id), "{:?} {report:?}", sink.ids());

    let mut docs = Vec::new();
    let mut stream = c.as_refetch().unwrap().fetch(
        vec![id.clone(), format!("{uri}/acme/elsewhere/issues/1")],
        SyncContext::new(),
    );
    while let Some(batch) = stream.next().await {
        docs.extend(batch.unwrap().documents);
    }
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, [id.as_str()], "the other id is out of scope");
}
