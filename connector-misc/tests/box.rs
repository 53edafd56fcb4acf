//! The Box connector against the wiremock Box of `box_common` (API 2.0 reference: folder items
//! with markers, files, content with its 302, collaborations, error bodies, `oauth2/token`).
#![cfg(feature = "box")]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

mod box_common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use box_common::{
    ACCESS, BoxApi, File, Folder, REFRESH, Servers, build, build_with, not_found, standard, time,
    token_endpoint, token_refusals, tokens,
};
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{
    Connector, CredentialStore, Error, ErrorKind, MemoryCredentials, Registry, Secret,
};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn run(c: &Arc<dyn Connector>, store: &MemoryStateStore, mode: SyncMode) -> MemorySink {
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(30))
        .run(mode)
        .await
        .expect("the sync runs");
    sink
}

fn bearer(r: &wiremock::Request) -> Option<String> {
    r.headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
}

#[tokio::test]
async fn documents_carry_modified_at_access_and_links() {
    let s = Servers::start(standard(3)).await;
    let c = build(&s.api.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(ids, ["box:201", "box:202", "box:203", "box:204", "box:205"]);
    let a = sink.get("box:201").expect("a.md");
    assert_eq!(a.title, "a.md");
    assert_eq!(a.content.as_text(), Some("# A"));
    // modified_at (written with a -08:00 offset), never created_at.
    assert_eq!(a.updated_at, Some(time(1)));
    assert_eq!(a.metadata["path"], "Docs/a.md");
    assert_eq!(
        a.link.as_ref().map(url::Url::as_str),
        Some("https://app.box.com/file/201")
    );
    // The folder's accepted collaborators (not the pending one), the group, the owner.
    let access = a.access.as_ref().expect("access");
    assert_eq!(access.emails, ["bob@example.com", "owner@example.com"]);
    assert_eq!(access.groups, ["box-group:900"]);
    assert!(!access.public);
    // Inherited two levels down.
    let c3 = sink.get("box:203").expect("c.pdf");
    assert_eq!(c3.content.as_bytes(), b"%PDF-1.4 c");
    assert_eq!(c3.metadata["path"], "Docs/Sub/c.pdf");
    assert_eq!(c3.access.as_ref().unwrap().groups, ["box-group:900"]);
    // A file of its own collaborators, under an open shared link.
    let e = sink.get("box:205").expect("e.txt");
    let access = e.access.as_ref().unwrap();
    assert_eq!(access.emails, ["carol@example.com", "owner@example.com"]);
    assert!(access.public);
    // Only the root file d.md has just its owner.
    assert_eq!(
        sink.get("box:204").unwrap().access.as_ref().unwrap().emails,
        ["owner@example.com"]
    );
    // The web link and the folders are no documents.
    assert_eq!(sink.len(), 5);
    insta::assert_json_snapshot!("box_document_pdf", c3);
}

#[tokio::test]
async fn folders_are_paged_by_marker_and_downloads_leave_the_token_behind() {
    let s = Servers::start(standard(1)).await;
    let c = build(&s.api.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 5);
    let listed = s.requests_to("/2.0/folders/0/items").await;
    // One entry per page: folder 100, files 204 and 205, the web link, and the last page.
    let markers: Vec<Option<String>> = listed
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "marker")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(
        markers,
        [
            None,
            Some("JV9IRGZm100".into()),
            Some("JV9IRGZm204".into()),
            Some("JV9IRGZm205".into()),
        ]
    );
    for r in &listed {
        let q: std::collections::HashMap<_, _> = r.url.query_pairs().into_owned().collect();
        assert_eq!(q["usemarker"], "true");
        assert!(q["fields"].contains("sha1") && q["fields"].contains("modified_at"));
    }
    // The API got the token; the download host (another origin) never did.
    for r in s.api.received_requests().await.unwrap() {
        assert_eq!(bearer(&r), Some(format!("Bearer {ACCESS}")));
    }
    let downloads = s.dl.received_requests().await.unwrap();
    assert_eq!(downloads.len(), 5);
    assert!(downloads.iter().all(|r| bearer(r).is_none()));
}

#[tokio::test]
async fn a_reconcile_run_downloads_only_edits_and_files_shared_anew() {
    let s = Servers::start(standard(2)).await;
    let c = build(&s.api.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    assert_eq!(s.downloads().await, 5);
    // An old file edited (a new sha1 and etag), another shared with a new collaborator
    // (which moves neither modified_at nor the etag, but the access in its version).
    {
        let mut st = s.box_api.state.lock().unwrap();
        let b = st.files.iter_mut().find(|f| f.id == "202").unwrap();
        b.body = b"bee, edited".to_vec();
        b.etag = 2;
        b.minute = 40;
        let d = st.files.iter_mut().find(|f| f.id == "204").unwrap();
        d.collaborators = vec!["dave@example.com"];
    }
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(45))
        .run(SyncMode::Reconcile)
        .await
        .unwrap();
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(ids, ["box:202", "box:204"], "{report:?}");
    assert_eq!(
        sink.get("box:204").unwrap().access.as_ref().unwrap().emails,
        ["dave@example.com", "owner@example.com"]
    );
    // The unchanged three cost no download.
    assert_eq!(s.downloads().await, 7);
}

#[tokio::test]
async fn an_incremental_run_takes_files_modified_in_its_window() {
    let s = Servers::start(standard(2)).await;
    let c = build(&s.api.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    {
        let mut st = s.box_api.state.lock().unwrap();
        let b = st.files.iter_mut().find(|f| f.id == "203").unwrap();
        b.body = b"%PDF-1.4 c, v2".to_vec();
        b.etag = 2;
        b.minute = 40;
    }
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(45))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    assert_eq!(sink.ids(), ["box:203"]);
    assert_eq!(sink.get("box:203").unwrap().updated_at, Some(time(40)));
    assert_eq!(s.downloads().await, 6);
}

#[tokio::test]
async fn a_page_that_changes_between_requests_loses_and_repeats_nothing() {
    let api = standard(2);
    // Between the first page of Docs (folder 110 and a.md) and the second, a.md is deleted and
    // a file added.
    api.state.lock().unwrap().change_after_first_page = Some("100".into());
    let s = Servers::start(api).await;
    let c = build(&s.api.uri(), json!({}));
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    let mut ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    // The marker names the last id served: b.txt is neither skipped nor repeated, and the
    // file added after it comes too.
    assert_eq!(
        ids,
        [
            "box:201",
            "box:202",
            "box:203",
            "box:204",
            "box:205",
            "box:8888888"
        ]
    );
}

#[tokio::test]
async fn a_file_gone_between_listing_and_download_yields_nothing() {
    let api = standard(5);
    api.state
        .lock()
        .unwrap()
        .gone_on_download
        .push("202".into());
    let s = Servers::start(api).await;
    let c = build(&s.api.uri(), json!({}));
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(MemoryStateStore::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.delivered, 4, "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
}

#[tokio::test]
async fn oversize_files_fail_without_a_download() {
    let s = Servers::start(standard(5)).await;
    let c = build(&s.api.uri(), json!({"max_file_size": 5}));
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    assert_eq!(docs.len(), 3, "a.md, b.txt and d.md fit");
    let mut failed: Vec<_> = failures.iter().filter_map(|f| f.id.clone()).collect();
    failed.sort();
    assert_eq!(failed, ["box:203", "box:205"]);
    assert!(
        failures[0].message.contains("max_file_size"),
        "{}",
        failures[0].message
    );
    assert_eq!(s.downloads().await, 3);
    assert_eq!(s.requests_to("/2.0/files/203/content").await.len(), 0);
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    let api = standard(5);
    let server = MockServer::start().await;
    Mock::given(path_regex("^/2\\.0/folders/100/items"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"type": "error", "status": 429, "code": "rate_limit_exceeded",
                    "message": "Request rate limit exceeded, please try again later", "request_id": "r1"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    box_common::mount(&server, &api).await;
    let dl = MockServer::start().await;
    *api.dl.lock().unwrap() = dl.uri();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"x".to_vec()))
        .mount(&dl)
        .await;
    let c = build(&server.uri(), json!({}));
    let started = std::time::Instant::now();
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 5);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
}

/// A store that records, when a value is saved, how many API requests had already used the
/// access token it holds: zero means it was saved before its first use.
#[derive(Clone)]
struct Watching {
    server: Arc<MockServer>,
    inner: MemoryCredentials,
    used_before_save: Arc<Mutex<Vec<usize>>>,
    fail: bool,
}

#[async_trait]
impl CredentialStore for Watching {
    async fn save(&self, source: &str, key: &str, value: &Secret) -> connector_core::Result<()> {
        let saved: Value = serde_json::from_str(value.expose()).unwrap();
        let token = format!("Bearer {}", saved["access_token"].as_str().unwrap());
        let used = self
            .server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| bearer(r).as_deref() == Some(token.as_str()))
            .count();
        self.used_before_save.lock().unwrap().push(used);
        if self.fail {
            return Err(Error::new(ErrorKind::Unavailable, "the vault is down"));
        }
        self.inner.save(source, key, value).await
    }
}

#[tokio::test]
async fn a_rotated_refresh_token_is_saved_before_use_and_the_next_run_starts_from_it() {
    let api = standard(5);
    let server = Arc::new(MockServer::start().await);
    let dl = MockServer::start().await;
    *api.dl.lock().unwrap() = dl.uri();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"x".to_vec()))
        .mount(&dl)
        .await;
    // The configured access token has expired: Box says 401 to it.
    Mock::given(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&server)
        .await;
    token_endpoint(&server, REFRESH, "a2", "r2").await;
    token_endpoint(&server, "r2", "a3", "r3").await;
    token_refusals(&server).await;
    box_common::mount(&server, &api).await;

    // Run 1: 401, renewal with REFRESH, which Box rotates to r2.
    let c = build_with(
        &server.uri(),
        &tokens(Some(ACCESS), Some(REFRESH)),
        json!({}),
    );
    let store = Watching {
        server: server.clone(),
        inner: MemoryCredentials::new(),
        used_before_save: Arc::default(),
        fail: false,
    };
    assert!(c.set_credential_store(Arc::new(store.clone())));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 5);
    let saved = store.inner.saved("box", "credentials.box_tokens");
    assert_eq!(saved.len(), 1, "one renewal");
    let saved: Value = serde_json::from_str(saved[0].expose()).unwrap();
    assert_eq!(saved["access_token"], "a2");
    assert_eq!(saved["refresh_token"], "r2");
    // The rest of RAGFlow's JSON is kept.
    assert_eq!(saved["client_id"], "ly1nj6n11vionaie65emwzk575hnnmrk");
    assert!(
        saved["redirect_uri"]
            .as_str()
            .unwrap()
            .ends_with("/callback")
    );
    // Saved before a single request used a2.
    assert_eq!(*store.used_before_save.lock().unwrap(), [0]);

    // Run 2, a new process built from what was saved: it starts with a2 (no renewal), and
    // REFRESH, now spent, is never sent again.
    let before = server.received_requests().await.unwrap().len();
    let c2 = build_with(&server.uri(), &saved.to_string(), json!({}));
    let sink = run(&c2, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 5);
    let second: Vec<wiremock::Request> =
        server.received_requests().await.unwrap()[before..].to_vec();
    assert!(second.iter().all(|r| r.url.path() != "/oauth2/token"));
    assert!(
        second
            .iter()
            .all(|r| bearer(r).as_deref() == Some("Bearer a2"))
    );
}

#[tokio::test]
async fn a_rotation_that_cannot_be_saved_stops_the_run_before_the_new_token_is_used() {
    let api = standard(5);
    let server = Arc::new(MockServer::start().await);
    Mock::given(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&server)
        .await;
    token_endpoint(&server, REFRESH, "a2", "r2").await;
    box_common::mount(&server, &api).await;
    let c = build_with(
        &server.uri(),
        &tokens(Some(ACCESS), Some(REFRESH)),
        json!({}),
    );
    let store = Watching {
        server: server.clone(),
        inner: MemoryCredentials::new(),
        used_before_save: Arc::default(),
        fail: true,
    };
    c.set_credential_store(Arc::new(store.clone()));
    let err = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("credentials.box_tokens"), "{err}");
    let used = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| bearer(r).as_deref() == Some("Bearer a2"))
        .count();
    assert_eq!(used, 0, "the unsaved token was used");
}

#[tokio::test]
async fn a_spent_refresh_token_fails_naming_box_tokens() {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/2\\.0/"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    token_refusals(&server).await;
    let c = build_with(
        &server.uri(),
        &tokens(Some(ACCESS), Some(REFRESH)),
        json!({}),
    );
    // With a store, so the check may renew (without one it does not, see below).
    c.set_credential_store(Arc::new(MemoryCredentials::new()));
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.field(), Some("credentials.box_tokens"));
    assert!(e.to_string().contains("already used"), "{e}");
    let text = format!("{e} {e:?}");
    assert!(!text.contains(REFRESH) && !text.contains(box_common::CLIENT_SECRET));
}

#[tokio::test]
async fn check_tells_a_missing_folder_and_a_refused_one_apart() {
    let server = MockServer::start().await;
    Mock::given(path("/2.0/folders/404/items"))
        .respond_with(not_found())
        .mount(&server)
        .await;
    Mock::given(path("/2.0/folders/403/items"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "type": "error", "status": 403, "code": "access_denied_insufficient_permissions",
            "message": "Access denied - insufficient permission", "request_id": "r403"})))
        .mount(&server)
        .await;
    let e = build(&server.uri(), json!({"folder_id": "404"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("folder_id"));
    let e = build(&server.uri(), json!({"folder_id": "403"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert_eq!(e.field(), Some("folder_id"), "{e}");
    assert!(
        e.to_string()
            .contains("access_denied_insufficient_permissions"),
        "{e}"
    );
}

#[tokio::test]
async fn a_subfolder_scope_has_relative_paths_and_its_own_collaborators() {
    let s = Servers::start(standard(5)).await;
    let c = build(&s.api.uri(), json!({"folder_id": "100"}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(ids, ["box:201", "box:202", "box:203"]);
    let c3 = sink.get("box:203").unwrap();
    assert_eq!(c3.metadata["path"], "Sub/c.pdf");
    assert_eq!(c3.access.as_ref().unwrap().groups, ["box-group:900"]);
    // Refetch finds the same document by id, and nothing outside the folder.
    let refetched: Vec<connector_core::Document> = c
        .as_refetch()
        .expect("refetch")
        .fetch(
            vec!["box:203".into(), "box:204".into(), "box:nope".into()],
            connector_core::SyncContext::new(),
        )
        .map(|b| b.unwrap().documents)
        .concat()
        .await;
    assert_eq!(refetched.len(), 1);
    assert_eq!(refetched[0].metadata["path"], "Sub/c.pdf");
    assert_eq!(refetched[0].access, c3.access);
    assert_eq!(refetched[0].fingerprint, c3.fingerprint);
}

#[test]
fn ragflow_config_is_accepted() {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    // RAGFlow's stored form: the JSON as a string, `folder_id` "0", an empty `name`.
    let stored = json!({
        "name": "",
        "folder_id": "0",
        "credentials": {"box_tokens": "{\"client_id\": \"c\", \"client_secret\": \"s\", \"redirect_uri\": \"http://localhost:9380/cb\", \"access_token\": \"a\", \"refresh_token\": \"r\"}"},
        "batch_size": 2,
    });
    let built = registry.build("box", stored);
    assert!(built.is_ok(), "{:?}", built.err());
    // As an object too, and with the folder id empty (RAGFlow's "Defaults root").
    let built = registry.build(
        "box",
        json!({"folder_id": "", "credentials": {"box_tokens": {"client_id": "c", "client_secret": "s", "access_token": "a"}}}),
    );
    assert!(built.is_ok(), "{:?}", built.err());
    // The form before the OAuth flow finished: no token yet.
    let err = registry
        .build(
            "box",
            json!({"credentials": {"box_tokens": "{\"client_id\": \"c\", \"client_secret\": \"s\", \"redirect_uri\": \"x\"}"}}),
        )
        .unwrap_err();
    assert!(err.to_string().contains("credentials.box_tokens"), "{err}");
    assert!(!err.to_string().contains("\"s\""), "{err}");
}

async fn run_at(
    c: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    mode: SyncMode,
    minute: u32,
) -> MemorySink {
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(minute))
        .run(mode)
        .await
        .expect("the sync runs");
    sink
}

#[tokio::test]
async fn an_incremental_run_finds_folders_moved_in_renamed_or_shared_anew() {
    let api = standard(5);
    {
        let mut st = api.state.lock().unwrap();
        // A folder outside the configured one (its parent is not listed).
        st.folders.push(Folder {
            id: "300".into(),
            name: "Outside".into(),
            parent: "77".into(),
            collaborators: vec![],
        });
        st.files
            .push(File::new(301, "moved.md", "300", b"moved in later"));
    }
    let s = Servers::start(api).await;
    let c = build(&s.api.uri(), json!({}));
    let store = MemoryStateStore::new();
    let first = run(&c, &store, SyncMode::Full).await;
    assert!(first.get("box:301").is_none());
    assert_eq!(s.downloads().await, 5);
    {
        let mut st = s.box_api.state.lock().unwrap();
        // Moved into All Files: Box leaves its file's modified_at (minute 1) as it was.
        st.folders
            .iter_mut()
            .find(|f| f.id == "300")
            .unwrap()
            .parent = "0".into();
        // Renamed: c.pdf keeps its modified_at and etag, its path changes.
        st.folders.iter_mut().find(|f| f.id == "110").unwrap().name = "Renamed".into();
        // Shared anew (All Files cannot be shared, so d.md itself): modified_at unmoved.
        st.files
            .iter_mut()
            .find(|f| f.id == "204")
            .unwrap()
            .collaborators = vec!["erin@example.com"];
    }
    let sink = run_at(&c, &store, SyncMode::Incremental, 45).await;
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(ids, ["box:203", "box:204", "box:301"]);
    assert_eq!(
        sink.get("box:203").unwrap().metadata["path"],
        "Docs/Renamed/c.pdf"
    );
    assert_eq!(
        sink.get("box:301").unwrap().metadata["path"],
        "Outside/moved.md"
    );
    assert_eq!(
        sink.get("box:204").unwrap().access.as_ref().unwrap().emails,
        ["erin@example.com", "owner@example.com"]
    );
    // Only those three downloaded again; the unchanged two were told apart by their version.
    assert_eq!(s.downloads().await, 8);
    // Without a store that remembers, the window alone decides (the conformance kit's
    // half-open window checks that).
}

#[tokio::test]
async fn a_file_box_has_not_finished_storing_is_waited_for_never_empty() {
    let api = standard(5);
    {
        let mut st = api.state.lock().unwrap();
        // b.txt answers 202 once (uploaded moments ago), d.md never becomes ready.
        st.not_ready.insert("202".into(), 1);
        st.not_ready.insert("204".into(), 100);
    }
    let s = Servers::start(api).await;
    let c = build(&s.api.uri(), json!({}));
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    let b = docs
        .iter()
        .find(|d| d.id == "box:202")
        .expect("b.txt after the wait");
    assert_eq!(b.content.as_text(), Some("bee"));
    assert!(docs.iter().all(|d| d.id != "box:204"), "no empty document");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].id.as_deref(), Some("box:204"));
    assert_eq!(failures[0].kind, ErrorKind::Unavailable);
    assert!(
        failures[0].message.contains("202"),
        "{}",
        failures[0].message
    );
    assert_eq!(s.requests_to("/2.0/files/204/content").await.len(), 3);
}

#[tokio::test]
async fn check_without_a_credential_store_never_spends_the_refresh_token() {
    let api = standard(5);
    let server = MockServer::start().await;
    // The stored access token is over an hour old.
    Mock::given(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&server)
        .await;
    token_endpoint(&server, REFRESH, "a2", "r2").await;
    token_refusals(&server).await;
    box_common::mount(&server, &api).await;
    let tokens = tokens(Some(ACCESS), Some(REFRESH));

    // A "test connection" of a stored config: no store to keep a rotated token.
    let c = build_with(&server.uri(), &tokens, json!({}));
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.field(), Some("credentials.box_tokens"));
    assert!(e.to_string().contains("single-use"), "{e}");
    let posts = |reqs: Vec<wiremock::Request>| {
        reqs.iter()
            .filter(|r| r.url.path() == "/oauth2/token")
            .count()
    };
    assert_eq!(posts(server.received_requests().await.unwrap()), 0);

    // With a store, the check renews and the new pair is kept.
    let c = build_with(&server.uri(), &tokens, json!({}));
    let store = MemoryCredentials::new();
    c.set_credential_store(Arc::new(store.clone()));
    c.check().await.expect("renewed");
    assert_eq!(posts(server.received_requests().await.unwrap()), 1);
    let saved = store.saved("box", "credentials.box_tokens");
    assert_eq!(saved.len(), 1);
    assert!(saved[0].expose().contains("\"r2\""));
}

#[tokio::test]
async fn access_follows_box_roles_link_policy_and_company_links() {
    let api = standard(5);
    {
        let mut st = api.state.lock().unwrap();
        // An uploader may only upload and see names.
        st.folders[0].collaborators.push("uploader:upl@example.com");
        // An open link behind a password is not public.
        st.files.iter_mut().find(|f| f.id == "204").unwrap().link = Some(json!({
            "url": "https://app.box.com/s/204", "access": "open", "effective_access": "open",
            "is_password_enabled": true}));
        // An open link the enterprise's policy turned into a company one.
        st.files.iter_mut().find(|f| f.id == "202").unwrap().link = Some(json!({
            "url": "https://app.box.com/s/202", "access": "open", "effective_access": "company",
            "is_password_enabled": false}));
    }
    let s = Servers::start(api).await;
    let c = build(&s.api.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let a = sink.get("box:201").unwrap().access.unwrap();
    assert_eq!(a.emails, ["bob@example.com", "owner@example.com"]);
    let d = sink.get("box:204").unwrap().access.unwrap();
    assert!(!d.public);
    let b = sink.get("box:202").unwrap().access.unwrap();
    assert!(!b.public);
    assert_eq!(b.groups, ["box-enterprise:55555", "box-group:900"]);
    // The open link without a password stays public.
    assert!(sink.get("box:205").unwrap().access.as_ref().unwrap().public);
}

#[tokio::test]
async fn a_subfolder_scope_takes_what_the_folders_above_share() {
    let s = Servers::start(standard(5)).await;
    // Sub (110) lies in Docs (100), shared with bob and group 900.
    let c = build(&s.api.uri(), json!({"folder_id": "110"}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids(), ["box:203"]);
    let access = sink.get("box:203").unwrap().access.unwrap();
    assert_eq!(access.emails, ["bob@example.com", "owner@example.com"]);
    assert_eq!(access.groups, ["box-group:900"]);
    assert_eq!(sink.get("box:203").unwrap().metadata["path"], "c.pdf");
}

#[tokio::test]
async fn the_token_user_keeps_access_when_collaborations_are_hidden() {
    let api = standard(5);
    {
        let mut st = api.state.lock().unwrap();
        st.me = Some(json!({"type": "user", "id": "12000", "name": "Reader",
            "login": "Reader@Example.com", "enterprise": null}));
        st.hidden_collaborations.push("100".into());
    }
    let s = Servers::start(api).await;
    let c = build(&s.api.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let a = sink.get("box:201").unwrap().access.unwrap();
    assert_eq!(a.emails, ["owner@example.com", "reader@example.com"]);
    // One request for the user, whatever the number of files.
    assert_eq!(s.requests_to("/2.0/users/me").await.len(), 1);
}

/// The checkpointed load from a checkpoint given as JSON, every page's documents and failures.
async fn resume(
    c: &Arc<dyn Connector>,
    checkpoint: Value,
) -> (Vec<connector_core::Document>, Vec<connector_core::Failure>) {
    let roles = c.roles();
    let cp = roles.as_checkpointed().expect("checkpointed");
    let mut from = cp.initial_checkpoint_json().expect("a checkpoint");
    from.state = checkpoint;
    let mut stream = cp.load_from_checkpoint_json(from, None, connector_core::SyncContext::new());
    let (mut docs, mut failures) = (Vec::new(), Vec::new());
    while let Some(page) = stream.next().await {
        let page = page.expect("the walk goes on");
        docs.extend(page.batch.documents);
        failures.extend(page.batch.failures);
    }
    (docs, failures)
}

#[tokio::test]
async fn a_folder_gone_or_a_marker_refused_mid_folder_does_not_wedge_resume() {
    let s = Servers::start(standard(1)).await;
    let c = build(&s.api.uri(), json!({}));
    // Interrupted inside Docs (100), after its first entry; Docs is then deleted.
    let inside_docs = json!({
        "folders": [{"id": "0", "path": ""}, {"id": "100", "path": "Docs"}],
        "marker": "JV9IRGZm110", "started": true,
    });
    {
        let mut st = s.box_api.state.lock().unwrap();
        st.folders.retain(|f| f.id != "100" && f.id != "110");
        st.files.retain(|f| f.parent == "0");
    }
    let (docs, failures) = resume(&c, inside_docs).await;
    let mut ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["box:204", "box:205"]);
    assert!(failures.is_empty(), "{failures:?}");

    // A marker Box no longer takes: the folder again from its first page.
    let s = Servers::start(standard(1)).await;
    let c = build(&s.api.uri(), json!({}));
    let stale = json!({
        "folders": [{"id": "100", "path": "Docs"}],
        "marker": "expired-marker", "started": true,
    });
    let (docs, _) = resume(&c, stale).await;
    let mut ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["box:201", "box:202", "box:203"]);
}

#[tokio::test]
async fn a_marker_box_repeats_ends_the_folder() {
    let api = standard(1);
    api.state.lock().unwrap().stuck_marker.push("0".into());
    let s = Servers::start(api).await;
    let c = build(&s.api.uri(), json!({}));
    let run = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        connector_core::testkit::collect_load(c.as_ref()),
    )
    .await
    .expect("the walk ends");
    // The root's first page (folder 100), then the same marker forever: Docs is still read.
    let ids: Vec<&str> = run.0.iter().map(|d| d.id.as_str()).collect();
    assert!(ids.contains(&"box:201"), "{ids:?}");
    assert_eq!(s.requests_to("/2.0/folders/0/items").await.len(), 2);
}

#[tokio::test]
async fn a_text_file_in_another_charset_goes_as_bytes() {
    let (mut files, folders) = box_common::tree();
    files.push(File::new(206, "latin.txt", "0", b"caf\xe9 cr\xe8me"));
    let s = Servers::start(BoxApi::new(files, folders, 5)).await;
    let c = build(&s.api.uri(), json!({}));
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    let latin = docs.iter().find(|d| d.id == "box:206").expect("delivered");
    assert_eq!(latin.content.as_bytes(), b"caf\xe9 cr\xe8me");
    match &latin.content {
        connector_core::Content::Bytes { mime, .. } => assert_eq!(mime, "text/plain"),
        other => panic!("expected bytes, got {other:?}"),
    }
}

#[tokio::test]
async fn as_user_id_acts_as_that_user_on_every_api_request() {
    let s = Servers::start(standard(5)).await;
    let c = build(&s.api.uri(), json!({"as_user_id": "11446498"}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 5);
    let api = s.api.received_requests().await.unwrap();
    assert!(!api.is_empty());
    for r in api {
        let as_user = r.headers.get("as-user").and_then(|v| v.to_str().ok());
        assert_eq!(as_user, Some("11446498"), "{}", r.url);
    }
    // A login is not an id: refused, naming the field.
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let err = registry
        .build(
            "box",
            box_common::config(
                &s.api.uri(),
                &tokens(Some(ACCESS), None),
                json!({"as_user_id": "admin@example.com"}),
            ),
        )
        .unwrap_err();
    assert!(err.to_string().contains("as_user_id"), "{err}");
}
