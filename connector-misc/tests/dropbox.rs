//! The Dropbox connector against a wiremock Dropbox written from the API v2 reference
//! (`files/list_folder`, `/continue`, `files/download`, `files/get_metadata`, `oauth2/token`):
//! real field names, cursor paging, 409 endpoint errors (`reset`, `path/not_found`), 401
//! `expired_access_token`, 429 `too_many_requests` with `Retry-After`.
#![cfg(feature = "dropbox")]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::Fixture;
use connector_core::{Connector, MemoryCredentials, Registry, TimeWindow};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "sl.u.AAbcdefghijklmnop-secret";

fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap()
}

#[derive(Clone)]
struct File {
    id: String,
    name: String,
    folder: String,
    minute: u32,
    body: Vec<u8>,
    /// Listed with a `size` that is no number: an entry that cannot be read.
    broken: bool,
}

impl File {
    fn new(n: u32, name: &str, folder: &str, body: &[u8]) -> Self {
        Self {
            id: format!("id:f{n}"),
            name: name.to_owned(),
            folder: folder.to_owned(),
            minute: n,
            body: body.to_vec(),
            broken: false,
        }
    }

    fn path(&self) -> String {
        format!("{}/{}", self.folder, self.name)
    }

    /// `FileMetadata` as Dropbox lists it.
    fn meta(&self) -> Value {
        // Dropbox's content_hash is SHA-256 of block hashes; any value that follows the bytes
        // serves the fixture.
        let hash = connector_core::ids::hash128_bytes(&self.body);
        let size = if self.broken {
            json!("many")
        } else {
            json!(self.body.len())
        };
        json!({
            ".tag": "file", "name": self.name, "id": self.id,
            "client_modified": "2001-01-01T00:00:00Z",
            "server_modified": time(self.minute).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "rev": format!("a1c10ce0dd{:02}", self.minute), "size": size,
            "path_lower": self.path().to_lowercase(), "path_display": self.path(),
            "sharing_info": {"read_only": false, "parent_shared_folder_id": "84528192421", "modified_by": "dbid:AAH4f99T0taONIb"},
            "is_downloadable": true, "content_hash": hash,
        })
    }
}

/// A Dropbox account: its files, listed `page` at a time; `changes` answers a `continue` with a
/// given cursor instead of the listing, `reset` answers it with the `reset` error.
#[derive(Clone, Default)]
struct Dropbox {
    files: Arc<Mutex<Vec<File>>>,
    page: usize,
    changes: Arc<Mutex<HashMap<String, Value>>>,
    reset: Arc<Mutex<Vec<String>>>,
    /// `users/get_current_account`'s answer (a personal account when unset).
    account: Arc<Mutex<Option<Value>>>,
}

/// `FullAccount` of a personal account: its root is its home.
fn personal_account() -> Value {
    json!({
        "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
        "name": {"given_name": "Franz", "surname": "Ferdinand", "familiar_name": "Franz",
                 "display_name": "Franz Ferdinand (Personal)", "abbreviated_name": "FF"},
        "email": "franz@example.com", "email_verified": true, "disabled": false,
        "locale": "en", "referral_link": "https://db.tt/ZITNuhtI", "is_paired": false,
        "account_type": {".tag": "basic"},
        "root_info": {".tag": "user", "root_namespace_id": "3235641", "home_namespace_id": "3235641"},
        "country": "US",
    })
}

/// The members of shared folder `84528192421` (`SharedFolderMembers`): Franz owns it, Alice
/// edits, an invitee by e-mail, and a team group.
fn folder_members() -> Value {
    json!({
        "users": [
            {"access_type": {".tag": "owner"}, "is_inherited": false, "permissions": [],
             "user": {"account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc", "email": "franz@example.com",
                      "display_name": "Franz Ferdinand", "same_team": true, "team_member_id": "dbmid:abcd1234"}},
            {"access_type": {".tag": "editor"}, "is_inherited": false, "permissions": [],
             "user": {"account_id": "dbid:AAGbcd", "email": "Alice@example.com",
                      "display_name": "Alice", "same_team": true}},
        ],
        "groups": [
            {"access_type": {".tag": "editor"}, "is_inherited": false, "permissions": [],
             "group": {"group_name": "Test group", "group_id": "g:e2db7665347abcd600000000001a2b3c",
                       "group_management_type": {".tag": "user_managed"}, "group_type": {".tag": "user_managed"},
                       "is_member": false, "is_owner": false, "same_team": true, "member_count": 10}},
        ],
        "invitees": [
            {"access_type": {".tag": "viewer"}, "is_inherited": false, "permissions": [],
             "invitee": {".tag": "email", "email": "jessica@example.com"}},
        ],
    })
}

impl Dropbox {
    fn listing(&self, from: usize) -> Value {
        let files = self.files.lock().unwrap();
        let mut entries: Vec<Value> = Vec::new();
        if from == 0 {
            entries.push(json!({".tag": "folder", "name": "Docs", "id": "id:d1",
                "path_lower": "/docs", "path_display": "/Docs"}));
        }
        let end = (from + self.page).min(files.len());
        entries.extend(files[from..end].iter().map(File::meta));
        let has_more = end < files.len();
        let cursor = if has_more {
            format!("p{end}")
        } else {
            "end".to_owned()
        };
        json!({"entries": entries, "cursor": cursor, "has_more": has_more})
    }
}

struct ListFolder(Dropbox);
impl Respond for ListFolder {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(self.0.listing(0))
    }
}

struct Continue(Dropbox);
impl Respond for Continue {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let cursor = body["cursor"].as_str().unwrap_or_default().to_owned();
        if self.0.reset.lock().unwrap().contains(&cursor) {
            return ResponseTemplate::new(409)
                .set_body_json(json!({"error_summary": "reset/..", "error": {".tag": "reset"}}));
        }
        if let Some(page) = self.0.changes.lock().unwrap().get(&cursor) {
            return ResponseTemplate::new(200).set_body_json(page.clone());
        }
        match cursor.strip_prefix('p').and_then(|n| n.parse().ok()) {
            Some(from) => ResponseTemplate::new(200).set_body_json(self.0.listing(from)),
            None if cursor == "end" => ResponseTemplate::new(200)
                .set_body_json(json!({"entries": [], "cursor": "end", "has_more": false})),
            None => ResponseTemplate::new(400).set_body_string("Error in call to API function \"files/list_folder/continue\": Invalid \"cursor\" parameter"),
        }
    }
}

struct Download(Dropbox);
impl Respond for Download {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let arg = req
            .headers
            .get("dropbox-api-arg")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let arg: Value = serde_json::from_str(arg).unwrap_or_default();
        let wanted = arg["path"].as_str().unwrap_or_default();
        let files = self.0.files.lock().unwrap();
        match files.iter().find(|f| f.id == wanted || f.path() == wanted) {
            Some(f) => ResponseTemplate::new(200)
                .insert_header("Dropbox-API-Result", ascii_json(&f.meta()).as_str())
                .set_body_bytes(f.body.clone()),
            None => ResponseTemplate::new(409).set_body_json(json!({
                "error_summary": "path/not_found/..",
                "error": {".tag": "path", "path": {".tag": "not_found"}}})),
        }
    }
}

struct Metadata(Dropbox);
impl Respond for Metadata {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let files = self.0.files.lock().unwrap();
        match files
            .iter()
            .find(|f| Some(f.id.as_str()) == body["path"].as_str())
        {
            Some(f) => ResponseTemplate::new(200).set_body_json(f.meta()),
            None => ResponseTemplate::new(409).set_body_json(json!({
                "error_summary": "path/not_found/..",
                "error": {".tag": "path", "path": {".tag": "not_found"}}})),
        }
    }
}

/// JSON with non-ASCII escaped, as Dropbox sends `Dropbox-API-Result`.
fn ascii_json(v: &Value) -> String {
    v.to_string()
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                c.encode_utf16(&mut [0; 2])
                    .iter()
                    .map(|u| format!("\\u{u:04x}"))
                    .collect()
            }
        })
        .collect()
}

async fn serve(dropbox: &Dropbox) -> MockServer {
    let server = MockServer::start().await;
    mount(&server, dropbox).await;
    server
}

struct CurrentAccount(Dropbox);
impl Respond for CurrentAccount {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let account = self.0.account.lock().unwrap().clone();
        ResponseTemplate::new(200).set_body_json(account.unwrap_or_else(personal_account))
    }
}

async fn mount(server: &MockServer, dropbox: &Dropbox) {
    Mock::given(method("POST"))
        .and(path("/2/users/get_current_account"))
        .respond_with(CurrentAccount(dropbox.clone()))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/sharing/list_folder_members"))
        .and(body_partial_json(json!({"shared_folder_id": "84528192421"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(folder_members()))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/files/list_folder"))
        .respond_with(ListFolder(dropbox.clone()))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/files/list_folder/continue"))
        .respond_with(Continue(dropbox.clone()))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/files/download"))
        .respond_with(Download(dropbox.clone()))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/files/get_metadata"))
        .respond_with(Metadata(dropbox.clone()))
        .mount(server)
        .await;
}

fn files() -> Vec<File> {
    vec![
        File::new(1, "a.md", "/Docs", b"# A"),
        File::new(2, "b.txt", "/Docs", b"bee"),
        File::new(3, "c.pdf", "/Docs/Sub", b"%PDF-1.4 c"),
        File::new(4, "d.md", "", b"dee"),
    ]
}

fn dropbox(files: Vec<File>, page: usize) -> Dropbox {
    Dropbox {
        files: Arc::new(Mutex::new(files)),
        page,
        ..Dropbox::default()
    }
}

fn config(uri: &str, extra: Value) -> Value {
    let mut cfg = json!({
        "credentials": {"dropbox_access_token": TOKEN},
        "api_base_url": uri, "content_base_url": uri, "token_url": format!("{uri}/oauth2/token"),
        "allowed_hosts": ["127.0.0.1"],
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        for (k, v) in e {
            if k == "credentials" {
                if let (Some(Value::Object(c)), Value::Object(v)) = (m.get_mut("credentials"), v) {
                    c.extend(v);
                }
            } else {
                m.insert(k, v);
            }
        }
    }
    cfg
}

fn build(uri: &str, extra: Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    registry
        .build("dropbox", config(uri, extra))
        .expect("a valid config")
}

struct DropboxFixture {
    server: MockServer,
    malformed: MockServer,
}

#[async_trait]
impl Fixture for DropboxFixture {
    async fn setup() -> Self {
        let mut bad = files();
        bad[1].broken = true;
        Self {
            server: serve(&dropbox(files(), 2)).await,
            malformed: serve(&dropbox(bad, 2)).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.server.uri(), json!({}))
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.uri(), json!({})),
            Some("dropbox:id:f2".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let window = TimeWindow::new(time(2), time(4)).ok()?;
        Some((window, vec!["dropbox:id:f2".into(), "dropbox:id:f3".into()]))
    }
}

connector_core::conformance_tests!(dropbox_conformance, DropboxFixture);

async fn requests_to(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

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

#[tokio::test]
async fn documents_carry_server_modified_content_hash_and_links() {
    let server = serve(&dropbox(files(), 3)).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let a = sink.get("dropbox:id:f1").expect("a.md");
    assert_eq!(a.title, "a.md");
    assert_eq!(a.content.as_text(), Some("# A"));
    // server_modified, never client_modified (2001).
    assert_eq!(a.updated_at, Some(time(1)));
    assert_eq!(a.metadata["path"], "/Docs/a.md");
    assert_eq!(a.metadata["shared_folder_id"], "84528192421");
    assert_eq!(
        a.link.as_ref().map(url::Url::as_str),
        Some("https://www.dropbox.com/home/Docs?preview=a.md")
    );
    let c3 = sink.get("dropbox:id:f3").expect("c.pdf");
    assert_eq!(c3.content.as_bytes(), b"%PDF-1.4 c");
    assert_eq!(sink.len(), 4);
    // The folder entry is no document.
    assert!(sink.get("dropbox:id:d1").is_none());
    // The bearer token went on every request.
    for r in server.received_requests().await.unwrap() {
        assert_eq!(
            r.headers.get("authorization").and_then(|h| h.to_str().ok()),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
}

#[tokio::test]
async fn unchanged_files_are_not_downloaded_again() {
    let db = dropbox(files(), 2);
    let server = serve(&db).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    assert_eq!(requests_to(&server, "/2/files/download").await, 4);
    // A reset cursor makes the incremental run list everything again: every file is
    // unchanged by its content_hash and none is downloaded.
    db.reset.lock().unwrap().push("end".into());
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(store.clone())
        .at(time(31))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    assert_eq!(report.unchanged, 4, "{report:?}");
    assert_eq!(requests_to(&server, "/2/files/download").await, 4);
    assert_eq!(requests_to(&server, "/2/files/list_folder").await, 2);
}

#[tokio::test]
async fn an_incremental_run_continues_from_the_stored_cursor() {
    let db = dropbox(files(), 2);
    let server = serve(&db).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    let listings = requests_to(&server, "/2/files/list_folder").await;
    // b.txt edited long ago by its client clock, a new file, a deletion: the feed has them.
    let mut edited = db.files.lock().unwrap()[1].clone();
    edited.body = b"bee, edited".to_vec();
    edited.minute = 40;
    let added = File::new(9, "Ünïcode 日本.md", "/Docs", b"new");
    db.files.lock().unwrap()[1] = edited.clone();
    db.files.lock().unwrap().push(added.clone());
    db.changes.lock().unwrap().insert(
        "end".into(),
        json!({"entries": [edited.meta(), added.meta(),
            {".tag": "deleted", "name": "d.md", "path_lower": "/d.md", "path_display": "/d.md"}],
            "cursor": "after-changes", "has_more": false}),
    );
    let sink = run(&c, &store, SyncMode::Incremental).await;
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(ids, ["dropbox:id:f2", "dropbox:id:f9"]);
    assert_eq!(
        sink.get("dropbox:id:f2").unwrap().content.as_text(),
        Some("bee, edited")
    );
    assert_eq!(sink.get("dropbox:id:f9").unwrap().title, "Ünïcode 日本.md");
    // No new listing: the run continued the cursor.
    assert_eq!(requests_to(&server, "/2/files/list_folder").await, listings);
    let continued: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/2/files/list_folder/continue")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(continued.last().unwrap()["cursor"], "end");
    // The next incremental run starts from the cursor the changes ended with.
    db.changes.lock().unwrap().insert(
        "after-changes".into(),
        json!({"entries": [], "cursor": "after-changes", "has_more": false}),
    );
    assert!(run(&c, &store, SyncMode::Incremental).await.is_empty());
}

#[tokio::test]
async fn a_reset_cursor_starts_the_listing_over() {
    let db = dropbox(files(), 2);
    let server = serve(&db).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    db.reset.lock().unwrap().push("end".into());
    db.files.lock().unwrap()[0].body = b"# A, again".to_vec();
    let sink = run(&c, &store, SyncMode::Incremental).await;
    // Listed again from the start: the changed file comes, the others are unchanged.
    assert_eq!(sink.ids(), ["dropbox:id:f1"]);
    assert_eq!(requests_to(&server, "/2/files/list_folder").await, 2);
}

#[tokio::test]
async fn non_ascii_names_are_listed_and_downloaded() {
    let server = serve(&dropbox(
        vec![File::new(1, "Ünïcode 😀.txt", "/Åsa", b"x")],
        5,
    ))
    .await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let doc = sink.get("dropbox:id:f1").expect("the file");
    assert_eq!(doc.title, "Ünïcode 😀.txt");
    assert_eq!(doc.metadata["path"], "/Åsa/Ünïcode 😀.txt");
    // Every Dropbox-API-Arg sent is ASCII JSON naming the file.
    let args: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.headers.get("dropbox-api-arg"))
        .map(|h| serde_json::from_str(h.to_str().expect("ASCII")).unwrap())
        .collect();
    assert_eq!(args, [json!({"path": "id:f1"})]);
}

#[tokio::test]
async fn oversize_files_fail_without_a_download() {
    let server = serve(&dropbox(files(), 5)).await;
    let c = build(&server.uri(), json!({"max_file_size": 5}));
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    assert_eq!(docs.len(), 3, "a.md, b.txt and d.md fit");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].id.as_deref(), Some("dropbox:id:f3"));
    assert!(
        failures[0].message.contains("max_file_size"),
        "{}",
        failures[0].message
    );
    assert_eq!(requests_to(&server, "/2/files/download").await, 3);
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    let db = dropbox(files(), 5);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/files/list_folder"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"error_summary": "too_many_requests/..",
                    "error": {"reason": {".tag": "too_many_requests"}, "retry_after": 1}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &db).await;
    let c = build(&server.uri(), json!({}));
    let started = std::time::Instant::now();
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 4);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(requests_to(&server, "/2/files/list_folder").await, 2);
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_and_saved() {
    let db = dropbox(files(), 5);
    let server = MockServer::start().await;
    Mock::given(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error_summary": "expired_access_token/..",
            "error": {".tag": "expired_access_token"}})))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(wiremock::matchers::body_string_contains(
            "grant_type=refresh_token",
        ))
        .and(wiremock::matchers::body_string_contains(
            "refresh_token=r-long",
        ))
        .and(wiremock::matchers::body_string_contains(
            "client_id=app-key",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "sl.renewed", "expires_in": 14400, "token_type": "bearer"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount(&server, &db).await;
    let c = build(
        &server.uri(),
        json!({"credentials": {"dropbox_refresh_token": "r-long", "dropbox_app_key": "app-key"}}),
    );
    let store = MemoryCredentials::new();
    assert!(c.set_credential_store(Arc::new(store.clone())));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 4);
    let saved = store.saved("dropbox", "credentials.dropbox_access_token");
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].expose(), "sl.renewed");
}

#[tokio::test]
async fn a_rejected_token_without_refresh_fails_naming_the_field() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error_summary": "invalid_access_token/..", "error": {".tag": "invalid_access_token"}})))
        .mount(&server)
        .await;
    let c = build(&server.uri(), json!({}));
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), connector_core::ErrorKind::Unauthenticated);
    assert_eq!(e.field(), Some("credentials.dropbox_access_token"));
    assert!(!format!("{e:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_missing_folder_is_not_found_naming_path() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/users/get_current_account"))
        .respond_with(ResponseTemplate::new(200).set_body_json(personal_account()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/files/list_folder"))
        .and(body_partial_json(json!({"path": "/Nope"})))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "error_summary": "path/not_found/..",
            "error": {".tag": "path", "path": {".tag": "not_found"}}})))
        .mount(&server)
        .await;
    let c = build(&server.uri(), json!({"path": "/Nope"}));
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), connector_core::ErrorKind::NotFound);
    assert_eq!(e.field(), Some("path"));
}

#[test]
fn ragflow_config_is_accepted() {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let built = registry.build(
        "dropbox",
        json!({"credentials": {"dropbox_access_token": "sl.x"}, "batch_size": 2}),
    );
    assert!(built.is_ok(), "{:?}", built.err());
    let missing = registry
        .build("dropbox", json!({"credentials": {}}))
        .unwrap_err();
    assert!(
        missing.to_string().contains("dropbox_access_token"),
        "{missing}"
    );
}
