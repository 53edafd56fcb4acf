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
use connector_core::state::{MemoryStateStore, StateStore};
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::Fixture;
use connector_core::{Connector, MemoryCredentials, Registry, TimeWindow};
use futures::StreamExt;
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
    /// Fields that replace the listed ones (`sharing_info: null` for a private file, …).
    extra: Value,
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
            extra: json!({}),
        }
    }

    fn with(mut self, extra: Value) -> Self {
        self.extra = extra;
        self
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
        let mut meta = json!({
            ".tag": "file", "name": self.name, "id": self.id,
            "client_modified": "2001-01-01T00:00:00Z",
            "server_modified": time(self.minute).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "rev": format!("a1c10ce0dd{:02}", self.minute), "size": size,
            "path_lower": self.path().to_lowercase(), "path_display": self.path(),
            "sharing_info": {"read_only": false, "parent_shared_folder_id": "84528192421", "modified_by": "dbid:AAH4f99T0taONIb"},
            "is_downloadable": true, "content_hash": hash,
        });
        if let (Value::Object(m), Value::Object(e)) = (&mut meta, &self.extra) {
            m.extend(e.clone());
        }
        meta
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
    /// Files deleted from the account: `files/list_revisions` still knows their last revision.
    deleted: Arc<Mutex<Vec<File>>>,
    /// Files moved away: their old lower-case path and the file as it is now.
    moved: Arc<Mutex<Vec<(String, File)>>>,
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

/// `files/list_revisions` in `path` mode (`ListRevisionsResult`): the revisions of the file last
/// at the path, deleted or moved away (`is_deleted`, `server_deleted`); `path/not_file` for a
/// folder, `path/not_found` where no file ever was.
struct ListRevisions(Dropbox);
impl Respond for ListRevisions {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let wanted = body["path"].as_str().unwrap_or_default().to_owned();
        let live = self.0.files.lock().unwrap().clone();
        let deleted = self.0.deleted.lock().unwrap().clone();
        let moved = self.0.moved.lock().unwrap().clone();
        let at = |f: &File| f.path().to_lowercase() == wanted;
        let found = match live.iter().find(|f| at(f)) {
            Some(f) => Some((f.meta(), false)),
            None => deleted
                .iter()
                .find(|f| at(f))
                .map(|f| (f.meta(), true))
                .or_else(|| {
                    moved
                        .iter()
                        .find(|(old, _)| *old == wanted)
                        .map(|(_, f)| (f.meta(), true))
                }),
        };
        match found {
            Some((mut meta, is_deleted)) => {
                meta.as_object_mut().unwrap().remove(".tag");
                let mut result = json!({"is_deleted": is_deleted, "entries": [meta]});
                if is_deleted {
                    result["server_deleted"] = json!("2025-03-01T10:45:00Z");
                }
                ResponseTemplate::new(200).set_body_json(result)
            }
            None if live
                .iter()
                .chain(&deleted)
                .any(|f| f.folder.to_lowercase() == wanted) =>
            {
                ResponseTemplate::new(409).set_body_json(json!({
                    "error_summary": "path/not_file/..",
                    "error": {".tag": "path", "path": {".tag": "not_file"}}}))
            }
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
        .and(body_partial_json(
            json!({"shared_folder_id": "84528192421"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(folder_members()))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/sharing/list_shared_links"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"links": [], "has_more": false})),
        )
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
    Mock::given(method("POST"))
        .and(path("/2/files/list_revisions"))
        .respond_with(ListRevisions(dropbox.clone()))
        .mount(server)
        .await;
}

/// A `deleted` entry (`DeletedMetadata`) of the changes: a name and paths, no id.
fn deleted_entry(path_display: &str) -> Value {
    let name = path_display.rsplit('/').next().unwrap_or_default();
    json!({".tag": "deleted", "name": name, "path_lower": path_display.to_lowercase(),
           "path_display": path_display})
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

/// A run into a sink kept across runs.
async fn run_into(
    c: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    sink: &MemorySink,
    mode: SyncMode,
) -> connector_core::Result<connector_core::sync::SyncReport> {
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(30))
        .run(mode)
        .await
}

/// Tombstones: a file deleted between two runs, and the files of a deleted folder, leave the
/// sink and the store in the incremental run; a file renamed within the folder (a `deleted`
/// entry at its old path) stays.
#[tokio::test]
async fn files_deleted_between_runs_leave_the_sink_in_the_incremental_run() {
    let db = dropbox(files(), 2);
    let server = serve(&db).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let sync = |mode| run_into(&c, &store, &sink, mode);
    sync(SyncMode::Full).await.unwrap();
    assert_eq!(sink.len(), 4);
    // The sync's listing asks for the deleted entries its cursor will then report.
    let listed = requests(&server, "/2/files/list_folder").await;
    assert_eq!(body_of(&listed[0])["include_deleted"], true);
    {
        let mut files = db.files.lock().unwrap();
        // d.md deleted; the folder /Docs/Sub deleted with c.pdf in it; a.md renamed.
        let d = files.remove(3);
        let c_pdf = files.remove(2);
        db.deleted.lock().unwrap().extend([d, c_pdf]);
        let old = files[0].path().to_lowercase();
        files[0].name = "A renamed.md".into();
        db.moved.lock().unwrap().push((old, files[0].clone()));
    }
    let renamed = db.files.lock().unwrap()[0].clone();
    db.changes.lock().unwrap().insert(
        "end".into(),
        json!({"entries": [deleted_entry("/d.md"), deleted_entry("/Docs/Sub"),
            deleted_entry("/Docs/Sub/c.pdf"), deleted_entry("/Docs/a.md"), renamed.meta()],
            "cursor": "after", "has_more": false}),
    );
    let report = sync(SyncMode::Incremental).await.unwrap();
    assert_eq!(report.deleted, 2, "{report:?}");
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(ids, ["dropbox:id:f1", "dropbox:id:f2"]);
    assert_eq!(sink.get("dropbox:id:f1").unwrap().title, "A renamed.md");
    let mut deleted = sink.deleted();
    deleted.sort();
    assert_eq!(deleted, ["dropbox:id:f3", "dropbox:id:f4"]);
    // The store forgot them too.
    let mut known = store.document_ids().await.unwrap();
    known.sort();
    assert_eq!(known, ["dropbox:id:f1", "dropbox:id:f2"]);
    // Each deleted path was asked about once.
    assert_eq!(requests_to(&server, "/2/files/list_revisions").await, 4);
}

/// A file moved out of the configured `path` is reported deleted by that folder's cursor and
/// leaves the sink; the files still in the folder stay.
#[tokio::test]
async fn a_file_moved_out_of_the_folder_leaves_the_sink() {
    let db = dropbox(
        vec![
            File::new(1, "a.md", "/Docs", b"# A"),
            File::new(2, "b.txt", "/Docs", b"bee"),
        ],
        5,
    );
    let server = serve(&db).await;
    let c = build(&server.uri(), json!({"path": "/Docs"}));
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let sync = |mode| run_into(&c, &store, &sink, mode);
    sync(SyncMode::Full).await.unwrap();
    assert_eq!(sink.len(), 2);
    {
        let mut files = db.files.lock().unwrap();
        let old = files[1].path().to_lowercase();
        files[1].folder = "/Archive".into();
        db.moved.lock().unwrap().push((old, files[1].clone()));
    }
    db.changes.lock().unwrap().insert(
        "end".into(),
        json!({"entries": [deleted_entry("/Docs/b.txt")], "cursor": "after", "has_more": false}),
    );
    let report = sync(SyncMode::Incremental).await.unwrap();
    assert_eq!(report.deleted, 1);
    assert_eq!(sink.ids(), ["dropbox:id:f1"]);
    assert_eq!(sink.deleted(), ["dropbox:id:f2"]);
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

// ---- Review fixes (review-dropbox.md), each against the API v2 reference's shapes. ----

/// Requests to `p`, in order.
async fn requests(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn body_of(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_default()
}

fn connector_of(uri: &str, extra: Value) -> connector_misc::dropbox::DropboxConnector {
    let config: connector_misc::dropbox::DropboxConfig =
        connector_core::config::from_json(config(uri, extra)).unwrap();
    connector_misc::dropbox::DropboxConnector::new(config).unwrap()
}

/// #1: a team-space account (`root_info` of tag `team`, root ≠ home) is read from the team
/// root: every call carries `Dropbox-API-Path-Root`, and a team folder is synced.
#[tokio::test]
async fn a_team_space_is_read_from_the_team_root() {
    let db = dropbox(vec![File::new(1, "plan.md", "/Marketing", b"# Plan")], 5);
    let mut account = personal_account();
    account["root_info"] = json!({".tag": "team", "root_namespace_id": "7",
        "home_namespace_id": "9", "home_path": "/Franz Ferdinand"});
    *db.account.lock().unwrap() = Some(account);
    let server = MockServer::start().await;
    let rooted = |r: &Request| {
        r.headers
            .get("dropbox-api-path-root")
            .and_then(|h| serde_json::from_str::<Value>(h.to_str().ok()?).ok())
            == Some(json!({".tag": "root", "root": "7"}))
    };
    // Rooted at the member's home, the listing shows no team folder.
    Mock::given(method("POST"))
        .and(path("/2/files/list_folder"))
        .and(move |r: &Request| !rooted(r))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"entries": [], "cursor": "home", "has_more": false})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &db).await;
    let c = build(&server.uri(), json!({}));
    c.check().await.unwrap();
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids(), ["dropbox:id:f1"]);
    for r in server.received_requests().await.unwrap() {
        if r.url.path() != "/2/users/get_current_account" {
            assert!(rooted(&r), "{} without the team root", r.url.path());
        }
    }
    // `team_space: false` keeps the home root: no header, no team folder.
    let server = serve(&db).await;
    Mock::given(method("POST"))
        .and(path("/2/files/list_folder"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"entries": [], "cursor": "home", "has_more": false})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), json!({"team_space": false}));
    assert!(
        run(&c, &MemoryStateStore::new(), SyncMode::Full)
            .await
            .is_empty()
    );
    assert!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| r.headers.get("dropbox-api-path-root").is_none())
    );
}

/// #1: a team token is refused naming `team_member_id`; with it, every call selects the
/// member.
#[tokio::test]
async fn a_team_token_needs_a_team_member() {
    let db = dropbox(files(), 5);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(|r: &Request| r.headers.get("dropbox-api-select-user").is_none())
        .respond_with(ResponseTemplate::new(400).set_body_string(
            "Error in call to API function \"users/get_current_account\": This API function operates on a single Dropbox account, but the OAuth 2 access token you provided is for an entire Dropbox Business team.  Since your API app key has team member file access permissions, you can operate on a team member's Dropbox by providing the \"Dropbox-API-Select-User\" HTTP header or \"select_user\" URL parameter.",
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &db).await;
    let e = build(&server.uri(), json!({})).check().await.unwrap_err();
    assert_eq!(e.kind(), connector_core::ErrorKind::Config, "{e}");
    assert_eq!(e.field(), Some("team_member_id"));
    let member = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU";
    let c = build(&server.uri(), json!({"team_member_id": member}));
    c.check().await.unwrap();
    assert_eq!(
        run(&c, &MemoryStateStore::new(), SyncMode::Full)
            .await
            .len(),
        4
    );
    let selected = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.headers.get("dropbox-api-select-user").is_some())
        .count();
    assert!(selected > 5);
}

/// #2: `access` from the shared folder's members (asked once), from a file's own members
/// (one batch call), or the owner alone for a private file.
#[tokio::test]
async fn access_comes_from_folder_and_file_members() {
    let db = dropbox(
        vec![
            File::new(1, "a.md", "/Docs", b"# A"),
            File::new(2, "b.txt", "/Docs", b"bee"),
            File::new(3, "private.md", "", b"mine").with(json!({"sharing_info": null})),
            File::new(4, "shared.md", "", b"ours")
                .with(json!({"sharing_info": null, "has_explicit_shared_members": true})),
        ],
        5,
    );
    let server = serve(&db).await;
    Mock::given(method("POST"))
        .and(path("/2/sharing/list_file_members/batch"))
        .and(body_partial_json(json!({"files": ["id:f4"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"file": "id:f4", "result": {".tag": "result", "member_count": 2, "members": {
                "users": [
                    {"access_type": {".tag": "owner"}, "is_inherited": false, "permissions": [],
                     "user": {"account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc", "email": "franz@example.com",
                              "display_name": "Franz Ferdinand", "same_team": true}},
                    {"access_type": {".tag": "viewer"}, "is_inherited": false, "permissions": [],
                     "user": {"account_id": "dbid:AAGbob", "email": "bob@example.com",
                              "display_name": "Bob", "same_team": false}}],
                "groups": [], "invitees": []}}}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let access = |id: &str| sink.get(id).unwrap().access.unwrap();
    let folder = connector_core::Access::restricted(
        vec![
            "alice@example.com".into(),
            "franz@example.com".into(),
            "jessica@example.com".into(),
        ],
        vec!["g:e2db7665347abcd600000000001a2b3c".into()],
    );
    assert_eq!(access("dropbox:id:f1"), folder);
    assert_eq!(access("dropbox:id:f2"), folder);
    assert_eq!(
        access("dropbox:id:f3"),
        connector_core::Access::restricted(vec!["franz@example.com".into()], vec![])
    );
    assert_eq!(
        access("dropbox:id:f4"),
        connector_core::Access::restricted(
            vec!["bob@example.com".into(), "franz@example.com".into()],
            vec![]
        )
    );
    assert_eq!(
        sink.get("dropbox:id:f1").unwrap().owners,
        ["franz@example.com"]
    );
    // One members call for the folder of two files.
    assert_eq!(
        requests_to(&server, "/2/sharing/list_folder_members").await,
        1
    );
    // The listing asked for the explicit-sharing flag.
    let listed = requests(&server, "/2/files/list_folder").await;
    assert_eq!(
        body_of(&listed[0])["include_has_explicit_shared_members"],
        true
    );
    // `sync_permissions: false`: no sharing calls, no access.
    let server = serve(&db).await;
    let c = build(&server.uri(), json!({"sync_permissions": false}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert!(sink.get("dropbox:id:f1").unwrap().access.is_none());
    assert_eq!(
        requests_to(&server, "/2/sharing/list_folder_members").await,
        0
    );
}

/// #3: a rename comes in the change feed with the same content hash; it is delivered again
/// with its new title, path and link.
#[tokio::test]
async fn a_renamed_file_is_delivered_again() {
    let db = dropbox(files(), 5);
    let server = serve(&db).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    let mut renamed = db.files.lock().unwrap()[0].clone();
    renamed.name = "A renamed.md".into();
    renamed.folder = "/Docs2".into();
    db.files.lock().unwrap()[0] = renamed.clone();
    db.changes.lock().unwrap().insert(
        "end".into(),
        json!({"entries": [renamed.meta()], "cursor": "after", "has_more": false}),
    );
    let sink = run(&c, &store, SyncMode::Incremental).await;
    let doc = sink.get("dropbox:id:f1").expect("the renamed file");
    assert_eq!(doc.title, "A renamed.md");
    assert_eq!(doc.metadata["path"], "/Docs2/A renamed.md");
    assert_eq!(
        doc.link.as_ref().map(url::Url::as_str),
        Some("https://www.dropbox.com/home/Docs2?preview=A+renamed.md")
    );
}

/// #5: a cursor carried from a run with another `path` is not continued: the new folder is
/// listed from the start.
#[tokio::test]
async fn an_edited_path_lists_the_new_folder() {
    let db = dropbox(
        vec![
            File::new(1, "a.md", "/Docs", b"# A"),
            File::new(2, "b.md", "/Other", b"# B"),
        ],
        5,
    );
    let server = serve(&db).await;
    let store = MemoryStateStore::new();
    let sink = run(
        &build(&server.uri(), json!({"path": "/Docs"})),
        &store,
        SyncMode::Full,
    )
    .await;
    assert_eq!(sink.ids(), ["dropbox:id:f1"]);
    let c = build(&server.uri(), json!({"path": "/Other"}));
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(sink.ids(), ["dropbox:id:f2"]);
    let listed = requests(&server, "/2/files/list_folder").await;
    assert_eq!(body_of(listed.last().unwrap())["path"], "/Other");
    // The old cursor was never continued.
    assert!(
        requests(&server, "/2/files/list_folder/continue")
            .await
            .iter()
            .all(|r| body_of(r)["cursor"] != "end")
    );
}

/// #7: a 401 `missing_scope` names the scope and renews no token; `check()` finds it with
/// its content probe.
#[tokio::test]
async fn a_missing_scope_is_named_and_renews_nothing() {
    let db = dropbox(files(), 5);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/files/download"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error_summary": "missing_scope/..",
            "error": {".tag": "missing_scope", "required_scope": "files.content.read"}})))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "sl.renewed", "expires_in": 14400, "token_type": "bearer"}),
        ))
        .expect(0)
        .mount(&server)
        .await;
    mount(&server, &db).await;
    let c = build(
        &server.uri(),
        json!({"credentials": {"dropbox_refresh_token": "r-long", "dropbox_app_key": "app-key"}}),
    );
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), connector_core::ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("files.content.read"), "{e}");
    // The probe asked for a file that does not exist.
    let probe = requests(&server, "/2/files/download").await;
    let arg = probe[0]
        .headers
        .get("dropbox-api-arg")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(arg.contains(".connectors-check-"), "{arg}");
}

/// #7: an expired short-lived token without a refresh token says how to add one.
#[tokio::test]
async fn an_expired_token_without_refresh_says_what_to_add() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error_summary": "expired_access_token/..", "error": {".tag": "expired_access_token"}})))
        .mount(&server)
        .await;
    let e = build(&server.uri(), json!({})).check().await.unwrap_err();
    assert_eq!(e.kind(), connector_core::ErrorKind::Unauthenticated);
    assert!(e.to_string().contains("dropbox_refresh_token"), "{e}");
    assert_eq!(e.field(), Some("credentials.dropbox_access_token"));
}

/// #7/#16: a 403 `no_permission` on one download fails that file alone; a 403
/// `invalid_account_type` (the data transport limit) stops the sync.
#[tokio::test]
async fn forbidden_downloads_fail_the_file_or_stop_at_the_transport_limit() {
    let db = dropbox(files(), 5);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/files/download"))
        .and(header("Dropbox-API-Arg", r#"{"path":"id:f2"}"#))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error_summary": "no_permission/..", "error": {".tag": "no_permission"}})))
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &db).await;
    let c = build(&server.uri(), json!({}));
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    assert_eq!(docs.len(), 3);
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].id.as_deref(), Some("dropbox:id:f2"));
    assert_eq!(
        failures[0].kind,
        connector_core::ErrorKind::PermissionDenied
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/files/download"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error_summary": "invalid_account_type/feature/..",
            "error": {".tag": "invalid_account_type", "invalid_account_type": {".tag": "feature"}},
            "user_message": {"locale": "en", "text": "Your team has used all of its data transport API calls for the month."}})))
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &db).await;
    let c = build(&server.uri(), json!({}));
    let e = Syncer::new(c)
        .sink(MemorySink::new())
        .state(MemoryStateStore::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("data transport"), "{e}");
}

/// #16: a 5xx on a listing page is retried and the sync completes.
#[tokio::test]
async fn a_server_error_on_a_page_is_retried() {
    let db = dropbox(files(), 2);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/files/list_folder/continue"))
        .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &db).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 4);
    // The one continue call, answered 500 once, then again.
    assert_eq!(
        requests_to(&server, "/2/files/list_folder/continue").await,
        2
    );
}

/// #8: a Paper doc (not downloadable, Markdown among its export options) is exported as
/// Markdown; a cloud document without a Markdown export is skipped, not a stored failure, and
/// never downloaded.
#[tokio::test]
async fn paper_docs_are_exported_as_markdown() {
    let paper = File::new(1, "Plan.paper", "/Docs", b"").with(json!({
        "is_downloadable": false, "content_hash": null,
        "export_info": {"export_as": "html", "export_options": ["html", "markdown"]}}));
    let sheet = File::new(2, "Budget.gsheet", "/Docs", b"").with(json!({
        "is_downloadable": false, "export_info": {"export_as": "xlsx"}}));
    let db = dropbox(
        vec![paper.clone(), sheet, File::new(3, "c.md", "/Docs", b"c")],
        5,
    );
    let server = serve(&db).await;
    Mock::given(method("POST"))
        .and(path("/2/files/export"))
        .and(|r: &Request| {
            // (wiremock's `header` matcher splits values at commas, which JSON has.)
            r.headers
                .get("dropbox-api-arg")
                .and_then(|h| serde_json::from_str::<Value>(h.to_str().ok()?).ok())
                == Some(json!({"path": "id:f1", "export_format": "markdown"}))
        })
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "Dropbox-API-Result",
                    ascii_json(&json!({
                        "export_metadata": {"name": "Plan.md", "size": 14, "export_hash": "2d1b", "paper_revision": 3},
                        "file_metadata": paper.meta()})).as_str(),
                )
                .set_body_bytes(b"# Plan\n\nShip it".to_vec()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(30))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    let doc = sink.get("dropbox:id:f1").expect("the Paper doc");
    assert_eq!(doc.content.as_text(), Some("# Plan\n\nShip it"));
    assert_eq!(doc.metadata["exported_as"], "markdown");
    assert!(sink.get("dropbox:id:f2").is_none());
    // Only c.md was downloaded; the skipped sheet is not retried next run.
    assert_eq!(requests_to(&server, "/2/files/download").await, 1);
    db.reset.lock().unwrap().push("end".into());
    run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(requests_to(&server, "/2/files/download").await, 1);
    assert_eq!(requests_to(&server, "/2/files/get_metadata").await, 0);
}

/// #10: a UTF-16 CSV (with its BOM) is decoded; a cp1252 text goes as `text/plain` bytes;
/// neither is a failure, and neither is downloaded again next run.
#[tokio::test]
async fn text_in_other_encodings_is_delivered() {
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(
        "name,city\nJosé,Zürich"
            .encode_utf16()
            .flat_map(u16::to_le_bytes),
    );
    let db = dropbox(
        vec![
            File::new(1, "b.csv", "/Docs", &utf16),
            File::new(2, "c.txt", "/Docs", b"caf\xE9 cr\xE8me"),
        ],
        5,
    );
    let server = serve(&db).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    assert_eq!(
        sink.get("dropbox:id:f1").unwrap().content.as_text(),
        Some("name,city\nJosé,Zürich")
    );
    let c2 = sink.get("dropbox:id:f2").unwrap();
    assert!(matches!(&c2.content,
        connector_core::Content::Bytes { mime, data, .. } if mime == "text/plain" && data.as_ref() == b"caf\xE9 cr\xE8me"));
    db.reset.lock().unwrap().push("end".into());
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(store.clone())
        .at(time(31))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    assert_eq!((report.unchanged, report.failed), (2, 0), "{report:?}");
    assert_eq!(requests_to(&server, "/2/files/download").await, 2);
}

/// #9: images only with `allow_images`; `exclude` leaves out a 30 MiB video without a
/// failure; prune's id listing admits exactly the same files.
#[tokio::test]
async fn images_and_excluded_files_are_left_out() {
    let db = dropbox(
        vec![
            File::new(1, "IMG_0001.jpg", "/Camera Uploads", b"\xFF\xD8\xFF"),
            File::new(2, "clip.mov", "/Camera Uploads", b"moov").with(json!({"size": 31_457_280})),
            File::new(3, "a.md", "/Docs", b"# A"),
        ],
        5,
    );
    let server = serve(&db).await;
    let c = build(&server.uri(), json!({"exclude": ["*.mov"]}));
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["dropbox:id:f3"]);
    assert!(failures.is_empty(), "{failures:?}");
    let mut slim = Vec::new();
    let mut listing = c
        .roles()
        .as_slim()
        .unwrap()
        .list_ids(connector_core::SyncContext::new());
    while let Some(page) = futures::StreamExt::next(&mut listing).await {
        slim.extend(page.unwrap().into_iter().map(|s| s.id));
    }
    assert_eq!(slim, ["dropbox:id:f3"]);
    let c = build(
        &server.uri(),
        json!({"exclude": ["*.mov"], "allow_images": true}),
    );
    let (docs, _) = connector_core::testkit::collect_load(c.as_ref()).await;
    let mut ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["dropbox:id:f1", "dropbox:id:f3"]);
}

/// #12: a refetched file that moved out of the configured folder yields nothing and is not
/// downloaded.
#[tokio::test]
async fn a_refetch_outside_the_folder_yields_nothing() {
    let db = dropbox(
        vec![
            File::new(1, "a.md", "/Docs", b"# A"),
            File::new(3, "c.pdf", "/Private", b"%PDF-1.4 c"),
        ],
        5,
    );
    let server = serve(&db).await;
    let c = build(&server.uri(), json!({"path": "/Docs"}));
    let refetch = c.roles().as_refetch().unwrap();
    let mut stream = refetch.fetch(
        vec!["dropbox:id:f3".into(), "dropbox:id:f1".into()],
        connector_core::SyncContext::new(),
    );
    let mut ids = Vec::new();
    while let Some(batch) = futures::StreamExt::next(&mut stream).await {
        ids.extend(batch.unwrap().documents.into_iter().map(|d| d.id));
    }
    assert_eq!(ids, ["dropbox:id:f1"]);
    assert_eq!(requests_to(&server, "/2/files/download").await, 1);
}

/// #13: Dropbox's whole-second `server_modified` at the second a window starts in (half a
/// second in) is taken.
#[tokio::test]
async fn a_window_starting_mid_second_takes_that_second() {
    use connector_core::CheckpointedConnector as _;
    let server = serve(&dropbox(files(), 5)).await;
    let c = connector_of(&server.uri(), json!({}));
    let start = time(2) + chrono::TimeDelta::milliseconds(500);
    let window = TimeWindow::new(start, time(4)).unwrap();
    let mut stream = c.load_from_checkpoint(
        connector_misc::dropbox::DropboxCheckpoint::start(),
        Some(window),
        connector_core::SyncContext::new(),
    );
    let mut ids = Vec::new();
    while let Some(page) = futures::StreamExt::next(&mut stream).await {
        ids.extend(page.unwrap().batch.documents.into_iter().map(|d| d.id));
    }
    assert_eq!(ids, ["dropbox:id:f2", "dropbox:id:f3"]);
}

/// #16: the account changes between the listing and the download: an edited file comes as
/// the version downloaded (`Dropbox-API-Result`), a deleted one is no document and no failure.
#[tokio::test]
async fn a_page_that_changes_between_requests() {
    struct Changing(Dropbox);
    impl Respond for Changing {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            let listing = self.0.listing(0);
            let mut files = self.0.files.lock().unwrap();
            files[0].body = b"# A, edited after the listing".to_vec();
            files[0].minute = 40;
            files.remove(1);
            ResponseTemplate::new(200).set_body_json(listing)
        }
    }
    let db = dropbox(files(), 5);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/files/list_folder"))
        .respond_with(Changing(db.clone()))
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &db).await;
    let c = build(&server.uri(), json!({}));
    let sink = MemorySink::new();
    let report = Syncer::new(c)
        .sink(sink.clone())
        .state(MemoryStateStore::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    let a = sink.get("dropbox:id:f1").unwrap();
    assert_eq!(a.content.as_text(), Some("# A, edited after the listing"));
    assert_eq!(a.metadata["rev"], "a1c10ce0dd40");
    assert_eq!(a.updated_at, Some(time(40)));
    assert!(sink.get("dropbox:id:f2").is_none());
    assert_eq!(sink.len(), 3);
}

/// #16: converted documents, as a host receives them.
#[tokio::test]
async fn documents_snapshot() {
    let server = serve(&dropbox(
        vec![
            File::new(1, "a.md", "/Docs", b"# A\n\nSome *text*."),
            File::new(3, "c.pdf", "/Docs/Sub", b"%PDF-1.4 c"),
            File::new(9, "Ünïcode 日本.md", "/Åsa", b"# Hej"),
        ],
        5,
    ))
    .await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    for (name, id) in [
        ("markdown", "dropbox:id:f1"),
        ("pdf", "dropbox:id:f3"),
        ("non_ascii", "dropbox:id:f9"),
    ] {
        insta::assert_json_snapshot!(name, sink.get(id).unwrap());
    }
}

/// #6: a page handed on in parts keeps the checkpoint before the page, so a resume lists it
/// again; when the replayed page has the file of part 1 moved to its end (edited since),
/// nothing after it is skipped.
#[tokio::test]
async fn a_resume_inside_a_page_loses_no_file() {
    use connector_core::CheckpointedConnector as _;
    let big = |n: u32| File::new(n, &format!("scan-{n}.bin"), "/Docs", &vec![b'x'; 17 << 20]);
    let db = dropbox(vec![big(1), big(2), big(3), big(4)], 10);
    let server = serve(&db).await;
    let c = connector_of(&server.uri(), json!({"max_file_size": 20 << 20}));
    let mut stream = c.load_from_checkpoint(
        connector_misc::dropbox::DropboxCheckpoint::start(),
        None,
        connector_core::SyncContext::new(),
    );
    let first = futures::StreamExt::next(&mut stream)
        .await
        .unwrap()
        .unwrap();
    drop(stream);
    let part: Vec<String> = first.batch.documents.iter().map(|d| d.id.clone()).collect();
    assert_eq!(
        part,
        ["dropbox:id:f1", "dropbox:id:f2"],
        "a part of the page"
    );
    assert_eq!(
        first.checkpoint.cursor, None,
        "the checkpoint stays before the page"
    );
    // f2 is edited before the resume: the listing now has it last.
    {
        let mut files = db.files.lock().unwrap();
        let mut f2 = files.remove(1);
        f2.body[0] = b'y';
        files.push(f2);
    }
    let mut stream =
        c.load_from_checkpoint(first.checkpoint, None, connector_core::SyncContext::new());
    let mut ids = Vec::new();
    while let Some(page) = futures::StreamExt::next(&mut stream).await {
        ids.extend(page.unwrap().batch.documents.into_iter().map(|d| d.id));
    }
    assert_eq!(
        ids,
        [
            "dropbox:id:f1",
            "dropbox:id:f3",
            "dropbox:id:f4",
            "dropbox:id:f2"
        ]
    );
}

/// `SharedLinkMetadata` of a link to `path` whose audience is `audience` (`effective_audience`
/// and, as Dropbox sends both, the older `resolved_visibility`).
fn shared_link(tag: &str, path: &str, audience: &str, visibility: &str) -> Value {
    json!({
        ".tag": tag, "url": format!("https://www.dropbox.com/scl/fi/x{}", path.len()),
        "name": path.rsplit('/').next().unwrap_or(""), "id": format!("id:link{}", path.len()),
        "path_lower": path,
        "link_permissions": {
            "can_revoke": true, "visibility_policies": [], "can_set_expiry": true,
            "can_remove_expiry": true, "allow_download": true, "can_allow_download": true,
            "can_disallow_download": true, "allow_comments": true, "team_restricts_comments": false,
            "resolved_visibility": {".tag": visibility},
            "effective_audience": {".tag": audience},
            "link_access_level": {".tag": "viewer"},
        },
    })
}

/// A shared link widens `access`: `public` audience to everyone, `team` (a link to a folder
/// counts for what is in it) to the team as group `team:{id}`; a `members` link adds nobody.
/// The links are listed once per run, over their pages.
#[tokio::test]
async fn shared_link_audiences_widen_access() {
    let db = dropbox(
        vec![
            File::new(1, "a.md", "/Docs", b"# A"),
            File::new(2, "c.pdf", "/Docs/Sub", b"%PDF-1.4 c"),
            File::new(3, "private.md", "", b"mine").with(json!({"sharing_info": null})),
            File::new(4, "members.md", "", b"ours").with(json!({"sharing_info": null})),
        ],
        5,
    );
    let mut team = personal_account();
    team["team"] = json!({"id": "dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I", "name": "Acme, Inc."});
    *db.account.lock().unwrap() = Some(team);
    let server = serve(&db).await;
    Mock::given(method("POST"))
        .and(path("/2/sharing/list_shared_links"))
        .and(body_partial_json(json!({"cursor": "links-2"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "links": [shared_link("file", "/members.md", "members", "shared_folder_only")],
            "has_more": false,
        })))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/sharing/list_shared_links"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "links": [
                shared_link("file", "/docs/a.md", "public", "public"),
                shared_link("folder", "/docs/sub", "team", "team_only"),
            ],
            "has_more": true, "cursor": "links-2",
        })))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let access = |id: &str| sink.get(id).unwrap().access.unwrap();
    assert_eq!(access("dropbox:id:f1"), connector_core::Access::public());
    let folder_and_team = access("dropbox:id:f2");
    assert!(!folder_and_team.public);
    assert!(
        folder_and_team
            .groups
            .contains(&"team:dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I".to_owned()),
        "{folder_and_team:?}"
    );
    assert!(
        folder_and_team
            .emails
            .contains(&"alice@example.com".to_owned())
    );
    let owner_only = connector_core::Access::restricted(vec!["franz@example.com".into()], vec![]);
    assert_eq!(access("dropbox:id:f3"), owner_only);
    assert_eq!(access("dropbox:id:f4"), owner_only);
}

/// `parent_id` is the folder a file is in, by its path as Dropbox shows it (`/` at the top).
#[tokio::test]
async fn parent_ids_are_folder_paths() {
    let server = serve(&dropbox(files(), 5)).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let parent = |id: &str| sink.get(id).unwrap().parent_id;
    assert_eq!(parent("dropbox:id:f1").as_deref(), Some("/Docs"));
    assert_eq!(parent("dropbox:id:f3").as_deref(), Some("/Docs/Sub"));
    assert_eq!(parent("dropbox:id:f4").as_deref(), Some("/"));
}

/// A team token with `team_members`: each member's space is a partition, read with
/// `Dropbox-API-Select-User` naming that member; the connector without a partition refuses to
/// read them all by one stream, naming the field.
#[tokio::test]
async fn team_members_are_partitions() {
    let (ann, bob) = (
        "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU",
        "dbmid:AAFoi1ZFCQ0NkoYdPdoAbC5eKrNg3ruGvWk",
    );
    let server = MockServer::start().await;
    // Bob's space holds one file, Ann's the usual four.
    let bobs = dropbox(vec![File::new(9, "bob.md", "/Bob", b"# Bob")], 5);
    Mock::given(method("POST"))
        .and(path("/2/files/list_folder"))
        .and(move |r: &Request| {
            r.headers
                .get("dropbox-api-select-user")
                .and_then(|h| h.to_str().ok())
                == Some(bob)
        })
        .respond_with(ListFolder(bobs.clone()))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/files/download"))
        .and(move |r: &Request| {
            r.headers
                .get("dropbox-api-select-user")
                .and_then(|h| h.to_str().ok())
                == Some(bob)
        })
        .respond_with(Download(bobs.clone()))
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &dropbox(files(), 5)).await;
    let c = build(&server.uri(), json!({"team_members": [ann, bob]}));
    assert_eq!(c.partitions(), [ann, bob]);
    let e = c.check().await.unwrap_err();
    assert_eq!(e.field(), Some("team_members"), "{e}");
    assert!(c.partition("dbmid:other").is_none());

    let a = c.partition(ann).expect("Ann's partition");
    let b = c.partition(bob).expect("Bob's partition");
    assert!(a.partitions().is_empty());
    a.check().await.unwrap();
    assert_eq!(
        run(&a, &MemoryStateStore::new(), SyncMode::Full)
            .await
            .len(),
        4
    );
    assert_eq!(
        run(&b, &MemoryStateStore::new(), SyncMode::Full)
            .await
            .ids(),
        ["dropbox:id:f9"]
    );

    let e = connector_core::config::from_json::<connector_misc::dropbox::DropboxConfig>(config(
        &server.uri(),
        json!({"team_members": [ann], "team_member_id": bob}),
    ))
    .unwrap_err();
    assert!(e.problems().iter().any(|p| p.path == "team_members"), "{e}");
}

// ---- all_team_members: every member of a Dropbox Business team in one sync ----

/// `TeamMemberInfoV2` as `team/members/list_v2` sends it.
fn team_member(id: &str, email: &str, status: &str) -> Value {
    json!({
        "profile": {
            "team_member_id": id, "account_id": format!("dbid:{email}"), "email": email,
            "email_verified": true, "secondary_emails": [], "status": {".tag": status},
            "name": {"given_name": email, "surname": "", "familiar_name": email,
                     "display_name": email, "abbreviated_name": "X"},
            "membership_type": {".tag": "full"}, "joined_on": "2015-05-12T15:50:38Z",
            "groups": [], "member_folder_id": "20", "profile_photo_url": null,
        },
        "roles": [{"role_id": "pid_dbtmr:3", "name": "User", "description": "User"}],
    })
}

/// A team of two active members (alice `dbmid:A`, bob `dbmid:B`) and a suspended one, in a
/// team space (root 7): each sees the team folder `/Team` and their own folder.
#[derive(Clone, Default)]
struct Team {
    /// Files by member: (member, File).
    files: Arc<Mutex<Vec<(String, File)>>>,
    /// Changes after each member's cursor, served once by `continue`.
    changes: Arc<Mutex<HashMap<String, Vec<File>>>>,
    /// A third active member (`dbmid:C`) whose Dropbox answers 403.
    locked_member: bool,
}

fn selected(r: &Request) -> Option<String> {
    r.headers
        .get("dropbox-api-select-user")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
}

impl Respond for Team {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let member = selected(r);
        match (r.url.path(), member.as_deref()) {
            ("/2/team/members/list_v2", None) => ResponseTemplate::new(200).set_body_json(json!({
                "members": [team_member("dbmid:B", "bob@team.example", "active"),
                            team_member("dbmid:S", "sue@team.example", "suspended")],
                "cursor": "AAD_members_1", "has_more": true})),
            ("/2/team/members/list/continue_v2", None) if body["cursor"] == "AAD_members_1" => {
                let mut members = vec![team_member("dbmid:A", "alice@team.example", "active")];
                if self.locked_member {
                    members.push(team_member("dbmid:C", "carl@team.example", "active"));
                }
                ResponseTemplate::new(200).set_body_json(json!({
                    "members": members, "cursor": "AAD_members_2", "has_more": false}))
            }
            ("/2/files/list_folder", Some("dbmid:C")) => ResponseTemplate::new(403).set_body_json(json!({
                "error_summary": "no_permission/..", "error": {".tag": "no_permission"}})),
            ("/2/users/get_current_account", Some(m)) => {
                let mut account = personal_account();
                account["root_info"] = json!({".tag": "team", "root_namespace_id": "7",
                    "home_namespace_id": if m == "dbmid:A" { "11" } else { "12" }});
                ResponseTemplate::new(200).set_body_json(account)
            }
            ("/2/files/list_folder", Some(m)) => {
                let files = self.files.lock().unwrap();
                let entries: Vec<Value> = files.iter().filter(|(o, _)| o == m).map(|(_, f)| f.meta()).collect();
                ResponseTemplate::new(200).set_body_json(json!({
                    "entries": entries, "cursor": format!("{m}-end"), "has_more": false}))
            }
            ("/2/files/list_folder/continue", Some(m)) => {
                let cursor = body["cursor"].as_str().unwrap_or_default();
                if !cursor.starts_with(m) {
                    return ResponseTemplate::new(409).set_body_json(json!({
                        "error_summary": "reset/..", "error": {".tag": "reset"}}));
                }
                let changed = self.changes.lock().unwrap().remove(m).unwrap_or_default();
                if !changed.is_empty() {
                    self.files.lock().unwrap().extend(changed.iter().map(|f| (m.to_owned(), f.clone())));
                }
                ResponseTemplate::new(200).set_body_json(json!({
                    "entries": changed.iter().map(File::meta).collect::<Vec<_>>(),
                    "cursor": format!("{m}-end2"), "has_more": false}))
            }
            ("/2/files/download", Some(m)) => {
                let arg: Value = r.headers.get("dropbox-api-arg").and_then(|h| serde_json::from_str(h.to_str().ok()?).ok()).unwrap_or_default();
                let files = self.files.lock().unwrap();
                match files.iter().find(|(o, f)| o == m && f.id == arg["path"]) {
                    Some((_, f)) => ResponseTemplate::new(200)
                        .insert_header("Dropbox-API-Result", ascii_json(&f.meta()).as_str())
                        .set_body_bytes(f.body.clone()),
                    None => ResponseTemplate::new(409).set_body_json(json!({
                        "error_summary": "path/not_found/..", "error": {".tag": "path", "path": {".tag": "not_found"}}})),
                }
            }
            // A team token without a member: Dropbox's 400.
            (_, None) => ResponseTemplate::new(400).set_body_string("Error in call to API function \"files/list_folder\": This API function operates on a single Dropbox account, but the OAuth 2 access token you provided is for an entire Dropbox Business team.  Since your API app key has team member file access permissions, you can operate on a team member's Dropbox by providing the \"Dropbox-API-Select-User\" HTTP header or \"select_user\" URL parameter."),
            _ => ResponseTemplate::new(404),
        }
    }
}

#[tokio::test]
async fn all_team_members_are_read_in_one_sync_with_each_members_cursor() {
    let team = Team::default();
    {
        let handbook = File::new(1, "handbook.md", "/Team", b"# Handbook");
        let mut files = team.files.lock().unwrap();
        files.push(("dbmid:A".into(), File::new(2, "a.md", "/Alice", b"alice")));
        files.push(("dbmid:A".into(), handbook.clone()));
        files.push(("dbmid:B".into(), handbook));
        files.push(("dbmid:B".into(), File::new(3, "b.md", "/Bob", b"bob")));
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(team.clone())
        .mount(&server)
        .await;
    let c = build(
        &server.uri(),
        json!({"all_team_members": true, "sync_permissions": false}),
    );
    c.check()
        .await
        .expect("the team token lists members and reads the first");
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(ids, ["dropbox:id:f1", "dropbox:id:f2", "dropbox:id:f3"]);
    let requests = server.received_requests().await.unwrap();
    // Members are listed as the team (no member selected), both pages; files as a member,
    // from the team root; the suspended member is never selected.
    for r in &requests {
        let p = r.url.path();
        if p.starts_with("/2/team/") {
            assert_eq!(selected(r), None, "{p}");
        } else {
            let m = selected(r).unwrap_or_else(|| panic!("{p} without a member"));
            assert!(m == "dbmid:A" || m == "dbmid:B", "{p} as {m}");
        }
        if p.starts_with("/2/files/") {
            let root: Value = serde_json::from_str(
                r.headers
                    .get("dropbox-api-path-root")
                    .unwrap()
                    .to_str()
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(root, json!({".tag": "root", "root": "7"}));
        }
    }
    let listed: Vec<String> = requests
        .iter()
        .filter(|r| r.url.path() == "/2/files/list_folder")
        .filter_map(selected)
        .collect();
    // The check's one-entry listing of the first member Dropbox names, then each member in
    // id order.
    assert_eq!(listed, ["dbmid:B", "dbmid:A", "dbmid:B"]);
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.url.path() == "/2/team/members/list/continue_v2")
            .count(),
        2
    );

    // An incremental run reads each member's changes from their own cursor.
    team.changes.lock().unwrap().insert(
        "dbmid:B".into(),
        vec![File::new(4, "b2.md", "/Bob", b"bob again")],
    );
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(team.clone())
        .mount(&server)
        .await;
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(45))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    assert_eq!(sink.ids(), ["dropbox:id:f4"]);
    let continued: Vec<(Option<String>, Value)> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/2/files/list_folder/continue")
        .map(|r| (selected(r), body_of(r)["cursor"].clone()))
        .collect();
    assert_eq!(
        continued,
        [
            (Some("dbmid:A".into()), json!("dbmid:A-end")),
            (Some("dbmid:B".into()), json!("dbmid:B-end")),
        ]
    );
    assert_eq!(
        requests_to(&server, "/2/files/list_folder").await,
        0,
        "no member listed again"
    );
}

#[tokio::test]
async fn all_team_members_resumes_from_every_checkpoint() {
    let team = Team::default();
    {
        let mut files = team.files.lock().unwrap();
        files.push(("dbmid:A".into(), File::new(2, "a.md", "/Alice", b"alice")));
        files.push(("dbmid:B".into(), File::new(3, "b.md", "/Bob", b"bob")));
        files.push(("dbmid:B".into(), File::new(5, "c.md", "/Bob", b"sea")));
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(team.clone())
        .mount(&server)
        .await;
    let c = build(
        &server.uri(),
        json!({"all_team_members": true, "sync_permissions": false}),
    );
    let roles = c.roles();
    let cp = roles.as_checkpointed().unwrap();
    let start = cp.initial_checkpoint_json().unwrap();
    let pages: Vec<_> = cp
        .load_from_checkpoint_json(start.clone(), None, connector_core::SyncContext::new())
        .map(Result::unwrap)
        .collect()
        .await;
    let all: Vec<String> = pages
        .iter()
        .flat_map(|p| p.batch.documents.iter().map(|d| d.id.clone()))
        .collect();
    assert_eq!(all, ["dropbox:id:f2", "dropbox:id:f3", "dropbox:id:f5"]);
    // The last checkpoint carries both members' cursors.
    let last = &pages.last().unwrap().checkpoint.state;
    assert_eq!(last["member_cursors"]["dbmid:A"]["cursor"], "dbmid:A-end");
    assert_eq!(last["member_cursors"]["dbmid:B"]["cursor"], "dbmid:B-end");
    for (at, page) in pages.iter().enumerate() {
        let mut from = start.clone();
        from.state = page.checkpoint.state.clone();
        let rest: Vec<String> = cp
            .load_from_checkpoint_json(from, None, connector_core::SyncContext::new())
            .map(|p| {
                p.unwrap()
                    .batch
                    .documents
                    .into_iter()
                    .map(|d| d.id)
                    .collect::<Vec<_>>()
            })
            .concat()
            .await;
        let expected: Vec<String> = pages[at + 1..]
            .iter()
            .flat_map(|p| p.batch.documents.iter().map(|d| d.id.clone()))
            .collect();
        assert_eq!(rest, expected, "after page {at}: {}", page.checkpoint.state);
    }
    // Mutually exclusive with naming members.
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let err = registry
        .build(
            "dropbox",
            config(
                &server.uri(),
                json!({"all_team_members": true, "team_member_id": "dbmid:A"}),
            ),
        )
        .unwrap_err();
    assert!(err.to_string().contains("all_team_members"), "{err}");
}

#[tokio::test]
async fn a_team_member_who_cannot_be_read_is_a_failure_and_the_others_are_read() {
    let team = Team {
        locked_member: true,
        ..Team::default()
    };
    {
        let mut files = team.files.lock().unwrap();
        files.push(("dbmid:A".into(), File::new(2, "a.md", "/Alice", b"alice")));
        files.push(("dbmid:B".into(), File::new(3, "b.md", "/Bob", b"bob")));
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(team.clone())
        .mount(&server)
        .await;
    let c = build(
        &server.uri(),
        json!({"all_team_members": true, "sync_permissions": false}),
    );
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["dropbox:id:f2", "dropbox:id:f3"]);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].message.contains("dbmid:C"),
        "{}",
        failures[0].message
    );
}

/// With `all_team_members`, the sync service runs each active member as a partition found by
/// discovery: the member's own listing and cursor, the same documents as the one sync.
#[tokio::test]
async fn all_team_members_discovers_a_partition_per_active_member() {
    use connector_core::state::StateStore;
    let team = Team {
        locked_member: true,
        ..Team::default()
    };
    {
        let handbook = File::new(1, "handbook.md", "/Team", b"# Handbook");
        let mut files = team.files.lock().unwrap();
        files.push(("dbmid:A".into(), File::new(2, "a.md", "/Alice", b"alice")));
        files.push(("dbmid:A".into(), handbook.clone()));
        files.push(("dbmid:B".into(), handbook));
        files.push(("dbmid:B".into(), File::new(3, "b.md", "/Bob", b"bob")));
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(team.clone())
        .mount(&server)
        .await;
    let c = build(
        &server.uri(),
        json!({"all_team_members": true, "sync_permissions": false}),
    );
    // No request for the listed partitions; discovery pages through the members (both
    // pages), leaves the suspended one out and orders them by id.
    assert!(c.partitions().is_empty());
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["dbmid:A", "dbmid:B", "dbmid:C"]
    );
    assert!(c.partition("member:A").is_none(), "not a team member id");
    let alice = c
        .partition("dbmid:A")
        .expect("a discovered member's partition");
    assert!(alice.discover_partitions().await.unwrap().is_empty());
    alice
        .check()
        .await
        .expect("the member's partition checks as that member");

    // Alice's partition: her files alone, read as her, with a cursor of its own.
    let store = MemoryStateStore::new();
    let first = run(&alice, &store, SyncMode::Auto).await;
    let mut ids = first.ids();
    ids.sort();
    assert_eq!(ids, ["dropbox:id:f1", "dropbox:id:f2"]);
    let carried = store
        .load()
        .await
        .unwrap()
        .carried
        .expect("a cursor carried");
    assert_eq!(
        carried.state["cursor"],
        json!("dbmid:A-end"),
        "{}",
        carried.state
    );
    assert_eq!(carried.state["phase"], json!("changes"));
    assert!(
        carried.state.get("member_cursors").is_none(),
        "{}",
        carried.state
    );
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests
            .iter()
            .filter(|r| r.url.path().starts_with("/2/files/"))
            .all(|r| selected(r).as_deref() == Some("dbmid:A")),
        "every file call selects alice"
    );
    // The next run reads her changes since her cursor, and nobody else's.
    team.changes.lock().unwrap().insert(
        "dbmid:A".into(),
        vec![File::new(4, "new.md", "/Alice", b"new")],
    );
    team.changes.lock().unwrap().insert(
        "dbmid:B".into(),
        vec![File::new(5, "bobs.md", "/Bob", b"bob's")],
    );
    let second = run(&alice, &store, SyncMode::Auto).await;
    assert_eq!(second.ids(), ["dropbox:id:f4"]);
    assert!(team.changes.lock().unwrap().contains_key("dbmid:B"));

    // Bob's partition: his own; the team folder's file under the same id.
    let bob = run(
        &c.partition("dbmid:B").unwrap(),
        &MemoryStateStore::new(),
        SyncMode::Auto,
    )
    .await;
    let mut ids = bob.ids();
    ids.sort();
    assert_eq!(ids, ["dropbox:id:f1", "dropbox:id:f3"]);

    // A member whose Dropbox cannot be read: a failure naming them, not the job's error.
    let carl = c.partition("dbmid:C").unwrap();
    let (docs, failures) = connector_core::testkit::collect_load(carl.as_ref()).await;
    assert!(docs.is_empty());
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].message.contains("dbmid:C"),
        "{}",
        failures[0].message
    );
}

/// Without `all_team_members`, discovery is the configured members, asked nothing.
#[tokio::test]
async fn team_members_discovery_is_the_configured_members() {
    let server = MockServer::start().await;
    let ann = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU";
    let c = build(&server.uri(), json!({"team_members": [ann]}));
    assert_eq!(c.discover_partitions().await.unwrap(), [ann]);
    assert!(c.partition("dbmid:other").is_none());
    let single = build(&server.uri(), json!({}));
    assert!(single.discover_partitions().await.unwrap().is_empty());
    assert!(single.partition(ann).is_none());
    assert!(server.received_requests().await.unwrap().is_empty());
}
