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
    Connector, CredentialStore, Error, ErrorKind, MemoryCredentials, PartitionSpec, Registry,
    Secret,
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
    assert_eq!(
        ids,
        [
            "box-web-link:9999999",
            "box:201",
            "box:202",
            "box:203",
            "box:204",
            "box:205"
        ]
    );
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
    // The folders are no documents; the web link is a small one: its name, URL, description.
    assert_eq!(sink.len(), 6);
    let link = sink.get("box-web-link:9999999").expect("the web link");
    assert_eq!(link.title, "Handbook");
    assert_eq!(
        link.content.as_text(),
        Some(
            "# Handbook\n\n[https://example.com/handbook](https://example.com/handbook)\n\nThe staff handbook"
        )
    );
    assert_eq!(link.metadata["url"], "https://example.com/handbook");
    assert_eq!(link.metadata["type"], "web_link");
    assert_eq!(link.updated_at, Some(time(7)));
    assert_eq!(link.parent_id.as_deref(), Some("box-folder:0"));
    assert_eq!(link.access.as_ref().unwrap().emails, ["owner@example.com"]);
    insta::assert_json_snapshot!("box_document_pdf", c3);
}

#[tokio::test]
async fn folders_are_paged_by_marker_and_downloads_leave_the_token_behind() {
    let s = Servers::start(standard(1)).await;
    let c = build(&s.api.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 6, "five files and the web link");
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
            "box-web-link:9999999",
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
    assert_eq!(report.delivered, 5, "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
}

#[tokio::test]
async fn oversize_files_fail_without_a_download() {
    let s = Servers::start(standard(5)).await;
    let c = build(&s.api.uri(), json!({"max_file_size": 5}));
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    assert_eq!(docs.len(), 4, "a.md, b.txt, d.md and the web link fit");
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
    assert_eq!(sink.len(), 6);
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
    assert_eq!(sink.len(), 6);
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
    assert_eq!(sink.len(), 6);
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
    assert_eq!(ids, ["box-web-link:9999999", "box:204", "box:205"]);
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
    assert_eq!(sink.len(), 6);
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

// ---- App authentication: Client Credentials Grant and JWT (box #12) ----

const APP_CLIENT_ID: &str = "ly1nj6n11vionaie65emwzk575hnnmrk";
const APP_SECRET: &str = "app-secret-9a8b7c6d5e4f";

/// A config of the fixture with `credentials` as given (no `box_tokens`).
fn app_config(uri: &str, credentials: Value, extra: Value) -> Value {
    let mut cfg = json!({
        "credentials": credentials,
        "api_base_url": uri, "token_url": format!("{uri}/oauth2/token"),
        "allowed_hosts": ["127.0.0.1"],
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    cfg
}

fn build_app(
    uri: &str,
    credentials: Value,
    extra: Value,
) -> connector_core::Result<Arc<dyn Connector>> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    registry.build("box", app_config(uri, credentials, extra))
}

fn ccg_credentials() -> Value {
    json!({"box_client_id": APP_CLIENT_ID, "box_client_secret": APP_SECRET,
        "box_subject_type": "enterprise", "box_subject_id": "55555"})
}

/// Box's token answer for an app: no refresh token.
fn app_token(access: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": access, "expires_in": 3600, "restricted_to": [], "token_type": "bearer"}))
}

fn form(r: &wiremock::Request) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(&r.body).into_owned().collect()
}

#[tokio::test]
async fn client_credentials_grant_gets_one_token_for_the_run_with_box_subject_fields() {
    let s = Servers::start(standard(2)).await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(app_token("ccg-access-1"))
        .mount(&s.api)
        .await;
    let c = build_app(&s.api.uri(), ccg_credentials(), json!({})).unwrap();
    // Nothing rotates: no credential to hand to a store.
    assert!(!c.set_credential_store(Arc::new(MemoryCredentials::new())));
    c.check().await.expect("the app's token is accepted");
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 6, "{:?}", sink.ids());
    let posts = s.requests_to("/oauth2/token").await;
    // Cached until shortly before `expires_in`: one token for the check and the run.
    assert_eq!(posts.len(), 1);
    let f = form(&posts[0]);
    assert_eq!(f["grant_type"], "client_credentials");
    assert_eq!(f["client_id"], APP_CLIENT_ID);
    assert_eq!(f["client_secret"], APP_SECRET);
    assert_eq!(f["box_subject_type"], "enterprise");
    assert_eq!(f["box_subject_id"], "55555");
    for r in s.api.received_requests().await.unwrap() {
        if r.url.path().starts_with("/2.0/") {
            assert_eq!(
                bearer(&r).as_deref(),
                Some("Bearer ccg-access-1"),
                "{}",
                r.url
            );
        }
    }
    // The secret is in no Debug or Display.
    assert!(!format!("{c:?} {c}").contains(APP_SECRET));
}

#[tokio::test]
async fn a_401_gets_a_new_app_token_and_a_refused_secret_names_its_field() {
    let s = Servers::start(standard(5)).await;
    // Box revokes the first token: its requests get Box's bare 401.
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer ccg-old"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", r#"Bearer realm="Service", error="invalid_token", error_description="The access token provided is invalid.""#),
        )
        .with_priority(1)
        .mount(&s.api)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(app_token("ccg-old"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s.api)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(app_token("ccg-new"))
        .with_priority(2)
        .mount(&s.api)
        .await;
    let c = build_app(&s.api.uri(), ccg_credentials(), json!({})).unwrap();
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 6);
    assert_eq!(s.requests_to("/oauth2/token").await.len(), 2);

    // A wrong secret: Box's `invalid_client`, naming the secret's field, without the secret.
    let s = Servers::start(standard(5)).await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client", "error_description": "The client credentials are invalid"})))
        .mount(&s.api)
        .await;
    let c = build_app(&s.api.uri(), ccg_credentials(), json!({})).unwrap();
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert_eq!(e.field(), Some("credentials.box_client_secret"), "{e}");
    assert!(
        e.to_string().contains("client credentials are invalid"),
        "{e}"
    );
    assert!(!format!("{e} {e:?}").contains(APP_SECRET));
    let store = MemoryStateStore::new();
    let err = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(store)
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");

    // A subject the app may not act for: Box's `invalid_grant`, also an auth error.
    let s = Servers::start(standard(5)).await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "Grant credentials are invalid"})))
        .mount(&s.api)
        .await;
    let c = build_app(&s.api.uri(), ccg_credentials(), json!({})).unwrap();
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert!(
        e.to_string().contains("Grant credentials are invalid"),
        "{e}"
    );
}

const TEST_KEY: &str = include_str!("fixtures/box/test-app-key.pem");
const TEST_PUBLIC_KEY: &str = include_str!("fixtures/box/test-app-key.pub.pem");

fn jwt_config(private_key: &str) -> Value {
    json!({
        "boxAppSettings": {
            "clientID": APP_CLIENT_ID, "clientSecret": APP_SECRET,
            "appAuth": {"publicKeyID": "a1b2c3d4", "privateKey": private_key, "passphrase": ""}
        },
        "enterpriseID": "55555"
    })
}

#[derive(serde::Deserialize)]
struct BoxClaims {
    iss: String,
    sub: String,
    box_sub_type: String,
    aud: String,
    jti: String,
    exp: u64,
}

/// The test key encrypted as Box's Developer Console hands keys out (PKCS#8, PBES2:
/// PBKDF2-HMAC-SHA256 with AES-256-CBC), and with 3DES, both with the passphrase
/// `correct horse` (`openssl pkcs8 -topk8 -v2 aes-256-cbc|des3`).
const TEST_KEY_ENCRYPTED: &str = include_str!("fixtures/box/test-app-key.enc.pem");
const TEST_KEY_ENCRYPTED_3DES: &str = include_str!("fixtures/box/test-app-key.enc-3des.pem");

#[tokio::test]
async fn an_encrypted_key_is_decrypted_with_the_passphrase_of_box_config() {
    let s = Servers::start(standard(5)).await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(app_token("jwt-access"))
        .mount(&s.api)
        .await;
    let with = |pem: &str, passphrase: &str| {
        let mut cfg = jwt_config(pem);
        cfg["boxAppSettings"]["appAuth"]["passphrase"] = json!(passphrase);
        json!({"box_jwt_config": cfg.to_string()})
    };
    for pem in [TEST_KEY_ENCRYPTED, TEST_KEY_ENCRYPTED_3DES] {
        let c = build_app(&s.api.uri(), with(pem, "correct horse"), json!({})).unwrap();
        c.check().await.unwrap();
    }
    // Signed by the key that was decrypted.
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY.as_bytes()).unwrap();
    let token_url = format!("{}/oauth2/token", s.api.uri());
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[token_url.as_str()]);
    let posts = s.requests_to("/oauth2/token").await;
    assert_eq!(posts.len(), 2);
    for post in &posts {
        jsonwebtoken::decode::<BoxClaims>(&form(post)["assertion"], &key, &validation)
            .expect("signed by the app's key");
    }
    // A wrong passphrase, and none: configuration errors naming the fields, never the
    // passphrase or the key.
    let problems = |credentials: Value| {
        let err = build_app(&s.api.uri(), credentials, json!({})).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("hunter2-nope") && !shown.contains("MIIF"),
            "{shown}"
        );
        err.to_string()
    };
    let e = problems(with(TEST_KEY_ENCRYPTED, "hunter2-nope"));
    assert!(
        e.contains("credentials.box_jwt_config")
            && e.contains("`boxAppSettings.appAuth.passphrase` does not decrypt"),
        "{e}"
    );
    let e = problems(with(TEST_KEY_ENCRYPTED, ""));
    assert!(
        e.contains("`boxAppSettings.appAuth.passphrase` is empty"),
        "{e}"
    );
}

#[tokio::test]
async fn jwt_assertions_are_rs256_with_box_claims_and_signed_anew_for_each_token() {
    let s = Servers::start(standard(5)).await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(app_token("jwt-access"))
        .mount(&s.api)
        .await;
    // Box's config.json as the Developer Console downloads it, as a string (RAGFlow stores
    // JSON fields as text) with the key in PKCS#8.
    let config = jwt_config(TEST_KEY).to_string();
    let c = build_app(&s.api.uri(), json!({"box_jwt_config": config}), json!({})).unwrap();
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 6);
    // A second connector (another job) asks for its own token: another assertion.
    let c2 = build_app(
        &s.api.uri(),
        json!({"box_jwt_config": jwt_config(TEST_KEY), "box_subject_type": "user", "box_subject_id": "11446498"}),
        json!({}),
    )
    .unwrap();
    c2.check().await.unwrap();
    let posts = s.requests_to("/oauth2/token").await;
    assert_eq!(posts.len(), 2);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY.as_bytes()).unwrap();
    let token_url = format!("{}/oauth2/token", s.api.uri());
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[token_url.as_str()]);
    let mut jtis = Vec::new();
    for (post, (sub, sub_type)) in posts
        .iter()
        .zip([("55555", "enterprise"), ("11446498", "user")])
    {
        let f = form(post);
        assert_eq!(
            f["grant_type"],
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        );
        assert_eq!(f["client_id"], APP_CLIENT_ID);
        assert_eq!(f["client_secret"], APP_SECRET);
        let header = jsonwebtoken::decode_header(&f["assertion"]).unwrap();
        assert_eq!(header.kid.as_deref(), Some("a1b2c3d4"));
        let data = jsonwebtoken::decode::<BoxClaims>(&f["assertion"], &key, &validation)
            .expect("signed by the app's key");
        let claims = data.claims;
        assert_eq!(claims.iss, APP_CLIENT_ID);
        assert_eq!(claims.sub, sub);
        assert_eq!(claims.box_sub_type, sub_type);
        assert_eq!(claims.aud, token_url);
        let now = chrono::Utc::now().timestamp().unsigned_abs();
        assert!(
            claims.exp > now && claims.exp <= now + 60,
            "Box takes at most 60 s"
        );
        assert!((16..=128).contains(&claims.jti.len()));
        jtis.push(claims.jti);
    }
    assert_ne!(jtis[0], jtis[1], "a jti is never reused");
}

#[test]
fn app_credentials_are_checked_by_field_and_an_encrypted_key_says_how_to_decrypt() {
    let uri = "http://127.0.0.1:9";
    let problems = |credentials: Value| {
        let err = build_app(uri, credentials, json!({})).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(!format!("{err} {err:?}").contains(APP_SECRET), "{err}");
        err.to_string()
    };
    let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let e = problems(json!({"box_jwt_config": jwt_config(encrypted)}));
    assert!(
        e.contains("credentials.box_jwt_config") && e.contains("openssl pkcs8"),
        "{e}"
    );
    let e = problems(json!({"box_jwt_config": jwt_config("not a key")}));
    assert!(e.contains("not an RSA private key"), "{e}");
    let e = problems(json!({"box_jwt_config": {"boxAppSettings": {}}}));
    assert!(
        e.contains("boxAppSettings.clientID") && e.contains("privateKey"),
        "{e}"
    );
    // CCG without a subject, or without its secret.
    let e = problems(json!({"box_client_id": APP_CLIENT_ID, "box_client_secret": APP_SECRET}));
    assert!(e.contains("credentials.box_subject_id"), "{e}");
    let e = problems(json!({"box_client_id": APP_CLIENT_ID, "box_subject_id": "55555"}));
    assert!(e.contains("credentials.box_client_secret"), "{e}");
    // Two ways in at once, and none.
    let mut two = ccg_credentials();
    two["box_tokens"] = json!(tokens(Some(ACCESS), None));
    assert!(problems(two).contains("not several"));
    assert!(problems(json!({})).contains("credentials"));
    // all_users and as_user_id together.
    let err = build_app(
        uri,
        ccg_credentials(),
        json!({"all_users": true, "as_user_id": "1"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("all_users"), "{err}");
}

// ---- Box Notes, comments and web links (box #14) ----

#[tokio::test]
async fn box_notes_become_markdown_and_comments_join_their_file() {
    let (mut files, folders) = box_common::tree();
    let note = json!({"version": 1, "doc": {"type": "doc", "content": [
        {"type": "heading", "attrs": {"level": 1}, "content": [{"type": "text", "text": "Standup"}]},
        {"type": "bullet_list", "content": [
            {"type": "list_item", "content": [{"type": "paragraph", "content": [
                {"type": "text", "text": "ship "}, {"type": "text", "text": "v2", "marks": [{"type": "strong"}]}]}]}]}
    ]}});
    files.push(File::new(
        206,
        "Standup.boxnote",
        "0",
        note.to_string().as_bytes(),
    ));
    let api = BoxApi::new(files, folders, 10);
    {
        let mut st = api.state.lock().unwrap();
        // Three comments on a.md: the fixture pages them by two.
        st.comments.insert(
            "201".into(),
            vec![
                box_common::comment(1, "bob@example.com", "Looks good", 3),
                box_common::comment(2, "Carol@Example.com", "Typo in line 2", 4),
                box_common::comment(3, "bob@example.com", "Fixed?", 5),
            ],
        );
    }
    let s = Servers::start(api).await;
    let c = build(&s.api.uri(), json!({}));
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    let note = sink.get("box:206").expect("the note");
    assert_eq!(note.content.as_text(), Some("# Standup\n\n- ship **v2**"));
    assert_eq!(note.metadata["type"], "box_note");
    let a = sink.get("box:201").expect("a.md");
    assert_eq!(
        a.content.as_text(),
        Some(
            "# A\n\n## Comments\n\n\
             - **bob@example.com** (2025-03-01T10:03:00Z): Looks good\n\
             - **carol@example.com** (2025-03-01T10:04:00Z): Typo in line 2\n\
             - **bob@example.com** (2025-03-01T10:05:00Z): Fixed?"
        ),
        "{:?}",
        a.content.as_text()
    );
    assert_eq!(a.metadata["comments"].as_array().unwrap().len(), 3);
    assert_eq!(a.metadata["comments"][1]["author"], "carol@example.com");
    // Only the file with comments asked for them.
    assert_eq!(s.requests_to("/2.0/files/201/comments").await.len(), 2);
    assert_eq!(s.requests_to("/2.0/files/202/comments").await.len(), 0);

    // A new comment bumps `comment_count`, so the version: a.md alone comes again, and a
    // changed web link too; nothing else is downloaded.
    {
        let mut st = s.box_api.state.lock().unwrap();
        st.comments
            .get_mut("201")
            .unwrap()
            .push(box_common::comment(4, "dan@example.com", "Approved", 6));
        st.web_link_url = Some("https://example.com/handbook-2026".into());
    }
    let before = s.downloads().await;
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(45))
        .run(SyncMode::Reconcile)
        .await
        .unwrap();
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(ids, ["box-web-link:9999999", "box:201"]);
    assert_eq!(s.downloads().await, before + 1);
    assert!(
        sink.get("box:201")
            .unwrap()
            .content
            .as_text()
            .unwrap()
            .contains("Approved")
    );
    assert_eq!(
        sink.get("box-web-link:9999999").unwrap().metadata["url"],
        "https://example.com/handbook-2026"
    );
    // Prune knows the web link.
    let roles = c.roles();
    let slim = roles.as_slim().expect("slim");
    let mut ids: Vec<String> = slim
        .list_ids(connector_core::SyncContext::new())
        .map(|page| page.unwrap().into_iter().map(|d| d.id).collect::<Vec<_>>())
        .concat()
        .await;
    ids.sort();
    assert_eq!(
        ids.first().map(String::as_str),
        Some("box-web-link:9999999")
    );
    assert_eq!(ids.len(), 7);
}

// ---- all_users: every user of an enterprise in one sync (box #12) ----

fn owned(id: &str, login: &str) -> Value {
    json!({"type": "user", "id": id, "name": login, "login": login})
}

fn listed_file(id: &str, name: &str, owner: Value) -> Value {
    json!({"type": "file", "id": id, "sequence_id": "1", "etag": "1", "sha1": format!("{id:0>40}"),
        "name": name, "size": 1, "modified_at": "2025-03-01T02:01:00-08:00",
        "created_at": "2025-03-01T02:00:00-08:00", "owned_by": owner, "modified_by": owner,
        "has_collaborations": false, "shared_link": null, "item_status": "active", "comment_count": 0})
}

fn listed_folder(id: &str, name: &str, owner: Value) -> Value {
    json!({"type": "folder", "id": id, "sequence_id": "1", "etag": "1", "name": name,
        "owned_by": owner, "has_collaborations": true, "shared_link": null, "item_status": "active"})
}

fn items(entries: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"entries": entries, "limit": 1000, "next_marker": null}))
}

/// An enterprise of three active managed users (301 alice, 302 bob, 303 whom the app may
/// not act as), a deactivated one (304) and the app's service account (300).
async fn enterprise() -> MockServer {
    let server = MockServer::start().await;
    let service = owned("300", "AutomationUser_1_a@boxdevedition.com");
    let alice = owned("301", "alice@acme.example");
    let bob = owned("302", "bob@acme.example");
    let external = owned("999", "ext@partner.example");
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(app_token("ccg-enterprise"))
        .mount(&server)
        .await;
    let denied = ResponseTemplate::new(403).set_body_json(json!({
        "type": "error", "status": 403, "code": "access_denied_insufficient_permissions",
        "message": "Access denied - insufficient permission", "request_id": "r303"}));
    Mock::given(header("as-user", "303"))
        .respond_with(denied)
        .with_priority(1)
        .mount(&server)
        .await;
    for (user, me) in [("301", &alice), ("302", &bob)] {
        Mock::given(method("GET"))
            .and(path("/2.0/users/me"))
            .and(header("as-user", user))
            .respond_with(ResponseTemplate::new(200).set_body_json(me.clone()))
            .with_priority(2)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/2.0/users/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(service.clone()))
        .with_priority(5)
        .mount(&server)
        .await;
    // Managed users, marker paged.
    Mock::given(method("GET"))
        .and(path("/2.0/users"))
        .and(wiremock::matchers::query_param("user_type", "managed"))
        .and(wiremock::matchers::query_param("marker", "JV9IRGZmNzAz"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "entries": [{"type": "user", "id": "302"}], "limit": 1000, "next_marker": null})))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2.0/users"))
        .and(wiremock::matchers::query_param("user_type", "managed"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "entries": [{"type": "user", "id": "303", "status": "active"},
                {"type": "user", "id": "304", "status": "inactive"},
                {"type": "user", "id": "301", "status": "active"}],
            "limit": 1000, "next_marker": "JV9IRGZmNzAz"})))
        .with_priority(3)
        .mount(&server)
        .await;
    // Each user's All Files.
    let roots = [
        (
            "301",
            vec![
                listed_file("411", "alice.md", alice.clone()),
                listed_folder("500", "Shared", bob.clone()),
                listed_file("413", "partner.md", external.clone()),
            ],
        ),
        ("302", vec![listed_folder("500", "Shared", bob.clone())]),
    ];
    for (user, entries) in roots {
        Mock::given(method("GET"))
            .and(path("/2.0/folders/0/items"))
            .and(header("as-user", user))
            .respond_with(items(entries))
            .with_priority(2)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/2.0/folders/0/items"))
        .respond_with(items(vec![listed_file(
            "401",
            "service.md",
            service.clone(),
        )]))
        .with_priority(5)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2.0/folders/500/items"))
        .and(header("as-user", "302"))
        .respond_with(items(vec![listed_file("412", "bob.md", bob.clone())]))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/2\\.0/files/[0-9]+/content$"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"x".to_vec()))
        .with_priority(5)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn all_users_reads_every_user_as_themselves_each_item_in_its_owner_walk() {
    let server = enterprise().await;
    let c = build_app(
        &server.uri(),
        ccg_credentials(),
        json!({"all_users": true, "include_permissions": false}),
    )
    .unwrap();
    c.check().await.expect("the app may list users");
    let roles = c.roles();
    let cp = roles.as_checkpointed().expect("checkpointed");
    let start = cp.initial_checkpoint_json().unwrap();
    let mut stream =
        cp.load_from_checkpoint_json(start.clone(), None, connector_core::SyncContext::new());
    let mut pages = Vec::new();
    while let Some(page) = stream.next().await {
        pages.push(page.expect("the run goes on past a user it may not read"));
    }
    drop(stream);
    let docs: Vec<String> = pages
        .iter()
        .flat_map(|p| p.batch.documents.iter().map(|d| d.id.clone()))
        .collect();
    // The service account's, alice's, the partner's file seen by alice, bob's (in his own
    // walk, not alice's, though she sees the folder).
    assert_eq!(docs, ["box:401", "box:411", "box:413", "box:412"]);
    let failures: Vec<_> = pages
        .iter()
        .flat_map(|p| p.batch.failures.clone())
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].message.contains("303"),
        "{}",
        failures[0].message
    );
    assert_eq!(failures[0].kind, ErrorKind::PermissionDenied);
    // Each download as the file's walk's user; the service account's without As-User.
    let requests = server.received_requests().await.unwrap();
    let as_user = |p: &str| {
        requests
            .iter()
            .filter(|r| r.url.path() == p)
            .map(|r| {
                r.headers
                    .get("as-user")
                    .map(|v| v.to_str().unwrap().to_owned())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(as_user("/2.0/files/401/content"), [None]);
    assert_eq!(as_user("/2.0/files/411/content"), [Some("301".to_owned())]);
    assert_eq!(as_user("/2.0/files/412/content"), [Some("302".to_owned())]);
    // The users are listed as the app, never as one of them.
    assert!(as_user("/2.0/users").iter().all(Option::is_none));
    // Bob's folder is listed once, by bob.
    assert_eq!(as_user("/2.0/folders/500/items"), [Some("302".to_owned())]);

    // Resuming from every checkpoint yields exactly the rest.
    for (at, page) in pages.iter().enumerate() {
        let mut from = start.clone();
        from.state = page.checkpoint.state.clone();
        let mut rest = cp.load_from_checkpoint_json(from, None, connector_core::SyncContext::new());
        let mut got = Vec::new();
        while let Some(p) = rest.next().await {
            got.extend(p.unwrap().batch.documents.into_iter().map(|d| d.id));
        }
        let expected: Vec<String> = pages[at + 1..]
            .iter()
            .flat_map(|p| p.batch.documents.iter().map(|d| d.id.clone()))
            .collect();
        assert_eq!(
            got, expected,
            "resumed after page {at}: {}",
            page.checkpoint.state
        );
    }
    // A checkpoint naming a user deleted since: the walk goes on with the next id.
    let mut from = start.clone();
    from.state = json!({"folders": [{"id": "0", "path": ""}], "started": true, "user": "3015"});
    let mut rest = cp.load_from_checkpoint_json(from, None, connector_core::SyncContext::new());
    let mut got = Vec::new();
    while let Some(p) = rest.next().await {
        got.extend(p.unwrap().batch.documents.into_iter().map(|d| d.id));
    }
    assert!(got.is_empty(), "3015 sorts after 303: {got:?}");
    // Prune lists every user's ids, and fails when a user cannot be read.
    let slim = roles.as_slim().expect("slim");
    let listed: Vec<_> = slim
        .list_ids(connector_core::SyncContext::new())
        .collect()
        .await;
    assert!(
        listed.iter().any(Result::is_err),
        "user 303 cannot be listed: prune must not go on"
    );
}

/// The documents and the last checkpoint of a run of `c` from its initial checkpoint, and
/// every page's checkpoint.
async fn drain(c: &Arc<dyn Connector>) -> (Vec<String>, Vec<connector_core::Failure>, Vec<Value>) {
    let roles = c.roles();
    let cp = roles.as_checkpointed().expect("checkpointed");
    let start = cp.initial_checkpoint_json().unwrap();
    let mut stream = cp.load_from_checkpoint_json(start, None, connector_core::SyncContext::new());
    let (mut docs, mut failures, mut states) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(page) = stream.next().await {
        let page = page.expect("a partition's page");
        docs.extend(page.batch.documents.iter().map(|d| d.id.clone()));
        failures.extend(page.batch.failures.clone());
        states.push(page.checkpoint.state.clone());
    }
    (docs, failures, states)
}

#[tokio::test]
async fn all_users_discovers_a_partition_per_active_user_each_read_alone() {
    let server = enterprise().await;
    let c = build_app(
        &server.uri(),
        ccg_credentials(),
        json!({"all_users": true, "include_permissions": false}),
    )
    .unwrap();
    // No request for the listed partitions; discovery pages through the managed users and
    // leaves the deactivated one out; the token's own user first.
    assert!(c.partitions().is_empty());
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["user:300", "user:301", "user:302", "user:303"]
    );
    assert!(c.partition("drive:301").is_none());
    assert!(c.partition("user:").is_none());
    let alice = c
        .partition("user:301")
        .expect("a discovered user's partition");
    assert!(
        alice.discover_partitions().await.unwrap().is_empty(),
        "a partition does not split"
    );
    assert!(alice.partition("user:302").is_none());

    // Each partition reads its user alone, as the one sync does: the same documents, each
    // in its owner's partition, with a checkpoint of its own (no `user` in it).
    let mut all = Vec::new();
    for user in ["300", "301", "302"] {
        let part = c.partition(&format!("user:{user}")).unwrap();
        let (docs, failures, states) = drain(&part).await;
        assert!(failures.is_empty(), "{failures:?}");
        let last = states.last().expect("a checkpoint");
        assert_eq!(last["started"], json!(true), "{last}");
        assert_eq!(last["folders"], json!([]), "{last}");
        assert!(states.iter().all(|s| s.get("user").is_none()), "{states:?}");
        all.extend(docs);
    }
    assert_eq!(all, ["box:401", "box:411", "box:413", "box:412"]);
    let requests = server.received_requests().await.unwrap();
    let as_user = |p: &str| {
        requests
            .iter()
            .filter(|r| r.url.path() == p)
            .map(|r| {
                r.headers
                    .get("as-user")
                    .map(|v| v.to_str().unwrap().to_owned())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(as_user("/2.0/files/401/content"), [None]);
    assert_eq!(as_user("/2.0/files/411/content"), [Some("301".to_owned())]);
    assert_eq!(as_user("/2.0/folders/500/items"), [Some("302".to_owned())]);

    // Bob's partition synced through core: its own state, and a second run downloads nothing.
    let bob = c.partition("user:302").unwrap();
    let store = MemoryStateStore::new();
    let first = run(&bob, &store, SyncMode::Auto).await;
    assert_eq!(first.ids(), ["box:412"]);
    let downloads = |rs: &[wiremock::Request]| {
        rs.iter()
            .filter(|r| r.url.path().ends_with("/content"))
            .count()
    };
    let before = downloads(&server.received_requests().await.unwrap());
    let again = run(&bob, &store, SyncMode::Auto).await;
    assert!(again.ids().is_empty(), "unchanged: {:?}", again.ids());
    assert_eq!(
        downloads(&server.received_requests().await.unwrap()),
        before
    );

    // A user the app may not act as: one failure naming them, the partition ends.
    let (docs, failures, states) = drain(&c.partition("user:303").unwrap()).await;
    assert!(docs.is_empty());
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].message.contains("303"),
        "{}",
        failures[0].message
    );
    assert_eq!(states.last().unwrap()["started"], json!(true));
    // A user deactivated (or gone) since discovery reads nothing, quietly.
    let (docs, failures, _) = drain(&c.partition("user:304").unwrap()).await;
    assert!(
        docs.is_empty() && failures.is_empty(),
        "{docs:?} {failures:?}"
    );
    // Prune of a partition lists its user's ids only.
    let ids: Vec<String> = alice
        .roles()
        .as_slim()
        .unwrap()
        .list_ids(connector_core::SyncContext::new())
        .map(|p| p.unwrap().into_iter().map(|d| d.id).collect::<Vec<_>>())
        .concat()
        .await;
    assert_eq!(ids, ["box:411", "box:413"]);
}

#[tokio::test]
async fn a_single_user_config_has_no_partitions() {
    let server = enterprise().await;
    let c = build_app(
        &server.uri(),
        ccg_credentials(),
        json!({"include_permissions": false}),
    )
    .unwrap();
    assert!(c.discover_partitions().await.unwrap().is_empty());
    assert!(c.partition("user:301").is_none());
}

/// How many requests listed the enterprise's users.
async fn user_listings(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/2.0/users")
        .count()
}

#[tokio::test]
async fn partitions_built_by_key_from_one_connector_list_the_users_once() {
    let server = enterprise().await;
    let config = json!({"all_users": true, "include_permissions": false});
    // A host that keeps the keys (from an earlier discovery) and builds every partition from
    // one connector by key alone, with no context: the first run lists the users (two pages),
    // the others read that listing.
    let c = build_app(&server.uri(), ccg_credentials(), config.clone()).unwrap();
    let mut docs = Vec::new();
    for key in ["user:300", "user:301", "user:302"] {
        docs.extend(drain(&c.partition(key).unwrap()).await.0);
    }
    assert_eq!(docs, ["box:401", "box:411", "box:413", "box:412"]);
    assert_eq!(
        user_listings(&server).await,
        2,
        "one listing for three partitions"
    );
    // A partition's prune reads it too.
    let ids: Vec<String> = c
        .partition("user:301")
        .unwrap()
        .roles()
        .as_slim()
        .unwrap()
        .list_ids(connector_core::SyncContext::new())
        .map(|p| p.unwrap().into_iter().map(|d| d.id).collect::<Vec<_>>())
        .concat()
        .await;
    assert_eq!(ids, ["box:411", "box:413"]);
    assert_eq!(user_listings(&server).await, 2);

    // A user the listing does not have (added since) is listed afresh before giving up.
    let (gone, failures, _) = drain(&c.partition("user:399").unwrap()).await;
    assert!(
        gone.is_empty() && failures.is_empty(),
        "{gone:?} {failures:?}"
    );
    assert_eq!(user_listings(&server).await, 4);

    // Partitions started together wait for one listing rather than each sending their own.
    let fresh = build_app(&server.uri(), ccg_credentials(), config.clone()).unwrap();
    let parts: Vec<_> = ["user:300", "user:301", "user:302"]
        .iter()
        .map(|k| fresh.partition(k).unwrap())
        .collect();
    let together = futures::future::join_all(parts.iter().map(drain)).await;
    let together: Vec<String> = together.into_iter().flat_map(|(d, _, _)| d).collect();
    assert_eq!(together, docs);
    assert_eq!(
        user_listings(&server).await,
        6,
        "one listing for the three together"
    );

    // Discovery lists afresh, and partitions built by key after it read its listing.
    c.discover_partitions().await.unwrap();
    assert_eq!(user_listings(&server).await, 8);
    assert_eq!(
        drain(&c.partition("user:302").unwrap()).await.0,
        ["box:412"]
    );
    assert_eq!(user_listings(&server).await, 8);

    // The listing is the connector's, not the process's: another connector lists its own.
    let other = build_app(&server.uri(), ccg_credentials(), config).unwrap();
    assert_eq!(
        drain(&other.partition("user:301").unwrap()).await.0,
        ["box:411", "box:413"]
    );
    assert_eq!(user_listings(&server).await, 10);
}

#[tokio::test]
async fn a_cycle_of_partitions_lists_the_users_once() {
    let server = enterprise().await;
    let config = json!({"all_users": true, "include_permissions": false});
    let c = build_app(&server.uri(), ccg_credentials(), config.clone()).unwrap();
    let specs = c.discover_partition_specs().await.unwrap();
    let keys = PartitionSpec::keys(specs.clone());
    assert_eq!(keys, ["user:300", "user:301", "user:302", "user:303"]);
    assert!(specs.iter().all(|s| s.context.is_some()), "{specs:?}");
    // Discovery pages through the users (two pages in this enterprise).
    let listing = user_listings(&server).await;
    assert_eq!(listing, 2);

    // Each job as connector-sync runs it in the process that discovered: a connector built
    // afresh from the config, then its partition with discovery's listing; its sync and its
    // prune. None lists the users again.
    let mut docs = Vec::new();
    let mut ids = Vec::new();
    for spec in &specs {
        let job = build_app(&server.uri(), ccg_credentials(), config.clone()).unwrap();
        let part = job.partition_of(spec).expect("a discovered partition");
        docs.extend(drain(&part).await.0);
        let job = build_app(&server.uri(), ccg_credentials(), config.clone()).unwrap();
        let part = job.partition_of(spec).unwrap();
        let mut listed = part
            .roles()
            .as_slim()
            .unwrap()
            .list_ids(connector_core::SyncContext::new());
        while let Some(page) = listed.next().await {
            match page {
                Ok(page) => ids.extend(page.into_iter().map(|d| d.id)),
                // 303's files cannot be read: its prune fails rather than come back short.
                Err(e) => assert!(spec.key == "user:303", "{}: {e}", spec.key),
            }
        }
    }
    assert_eq!(
        user_listings(&server).await,
        listing,
        "the partitions used discovery's listing"
    );
    assert_eq!(docs, ["box:401", "box:411", "box:413", "box:412"]);
    assert_eq!(ids, ["box:401", "box:411", "box:413", "box:412"]);

    // The same documents as the one sync (which lists the users itself, once).
    let (single, _, _) = drain(&c).await;
    assert_eq!(single, docs);
    assert_eq!(user_listings(&server).await, 2 * listing);

    // A job given its key alone (another process, after a restart): it lists the users
    // itself, and reads the same documents.
    let mut alone = Vec::new();
    for key in &keys[..3] {
        let job = build_app(&server.uri(), ccg_credentials(), config.clone()).unwrap();
        alone.extend(drain(&job.partition(key).unwrap()).await.0);
    }
    assert_eq!(alone, docs);
    assert_eq!(
        user_listings(&server).await,
        5 * listing,
        "one listing each"
    );

    // A partition whose user is not in the listing it was handed (added since) lists afresh
    // before giving up.
    let job = build_app(&server.uri(), ccg_credentials(), config.clone()).unwrap();
    let handed = specs[0].context.as_ref().unwrap();
    let (gone, failures, _) = drain(&job.partition_with("user:399", handed).unwrap()).await;
    assert!(
        gone.is_empty() && failures.is_empty(),
        "{gone:?} {failures:?}"
    );
    assert_eq!(user_listings(&server).await, 6 * listing);

    // The next cycle's discovery lists afresh.
    c.discover_partitions().await.unwrap();
    assert_eq!(user_listings(&server).await, 7 * listing);
}
