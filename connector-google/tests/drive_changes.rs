//! Drive's changes feeds (`changes.getStartPageToken`, `changes.list`) against wiremock
//! fixtures shaped like Google's API reference: each case is a change that a windowed run,
//! which selects files by `modifiedTime`, misses, and that the feed delivers.
#![cfg(feature = "google_drive")]
#![allow(clippy::unwrap_used)] // Tests: a bad fixture should fail loudly.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::*;
use connector_core::config::from_json;
use connector_core::{CheckpointedConnector, Document, SyncContext, TimeWindow};
use connector_google::{GoogleDriveCheckpoint, GoogleDriveConfig, GoogleDriveConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn connector(uri: &str, extra: Value) -> GoogleDriveConnector {
    let mut cfg = json!({
        "credentials": {
            "google_tokens": service_account_key().to_string(),
            "google_primary_admin": ADMIN,
            "authentication_method": "uploaded"
        },
        "token_uri": format!("{uri}/token"),
        "directory_base_url": uri,
        "allowed_hosts": ["127.0.0.1"],
        "drive_base_url": uri,
        "sheets_base_url": uri,
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    GoogleDriveConnector::new(from_json::<GoogleDriveConfig>(cfg).unwrap()).unwrap()
}

/// Drive's changes endpoints: `startPageToken` answers `start` per feed (`driveId`, else
/// the caller); `changes` answers the page stored for its `pageToken`, Google's 410 for a
/// token in `gone`, and an empty last page (the same token again) for any other.
#[derive(Clone, Default)]
struct Changes {
    start: Arc<Mutex<BTreeMap<String, String>>>,
    pages: Arc<Mutex<BTreeMap<String, Value>>>,
    gone: Arc<Mutex<Vec<String>>>,
    /// How a token in `gone` is refused (status and body); Google's 410 when unset.
    refusal: Arc<Mutex<Option<(u16, Value)>>>,
    /// Every request, as `startPageToken FEED` or `changes FEED TOKEN`, in order.
    log: Arc<Mutex<Vec<String>>>,
    /// Shared drives only their member may read (others get Drive's 404).
    members: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Changes {
    fn feed(req: &Request) -> String {
        query(req, "driveId").unwrap_or_else(|| caller(req).unwrap_or_default())
    }
}

impl Respond for Changes {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let feed = Self::feed(req);
        assert_eq!(query(req, "supportsAllDrives").as_deref(), Some("true"));
        if let Some(member) = self.members.lock().unwrap().get(&feed)
            && caller(req).as_deref() != Some(member.as_str())
        {
            return ResponseTemplate::new(404).set_body_json(google_error(
                404,
                "notFound",
                "NOT_FOUND",
                &format!("Shared drive not found: {feed}"),
            ));
        }
        if req.url.path().ends_with("/startPageToken") {
            self.log
                .lock()
                .unwrap()
                .push(format!("startPageToken {feed}"));
            let token = self
                .start
                .lock()
                .unwrap()
                .get(&feed)
                .cloned()
                .unwrap_or_else(|| "1".into());
            return ResponseTemplate::new(200)
                .set_body_json(json!({"kind": "drive#startPageToken", "startPageToken": token}));
        }
        let token = query(req, "pageToken").unwrap_or_default();
        self.log
            .lock()
            .unwrap()
            .push(format!("changes {feed} {token}"));
        let fields = query(req, "fields").unwrap_or_default();
        assert!(
            fields.starts_with("nextPageToken,newStartPageToken,changes("),
            "{fields}"
        );
        assert!(
            fields.contains("parents") && fields.contains("trashed"),
            "{fields}"
        );
        if self.gone.lock().unwrap().contains(&token) {
            // What Drive answers a page token it no longer honours.
            let (status, body) = self.refusal.lock().unwrap().clone().unwrap_or_else(|| {
                (
                    410,
                    google_error(
                        410,
                        "gone",
                        "NOT_FOUND",
                        "The page token is no longer valid.",
                    ),
                )
            });
            return ResponseTemplate::new(status).set_body_json(body);
        }
        let body = self
            .pages
            .lock()
            .unwrap()
            .get(&token)
            .cloned()
            .unwrap_or_else(
                || json!({"kind": "drive#changeList", "newStartPageToken": token, "changes": []}),
            );
        ResponseTemplate::new(200).set_body_json(body)
    }
}

/// Mounts [`Changes`] ahead of the generic Drive mock.
async fn mount_changes(server: &MockServer) -> Changes {
    let changes = Changes::default();
    for p in ["/drive/v3/changes", "/drive/v3/changes/startPageToken"] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(changes.clone())
            .with_priority(1)
            .mount(server)
            .await;
    }
    changes
}

/// A `changes` entry for `file` as Drive writes one: the file as it is now, with its parents.
fn change(file: &DriveFile, minute: u32) -> Value {
    let mut f = file.json();
    f["parents"] = json!(file.parents);
    f["trashed"] = json!(false);
    json!({
        "kind": "drive#change", "changeType": "file", "time": at(minute),
        "removed": false, "fileId": file.id, "file": f,
    })
}

/// A change that removed a file from the caller's view (deleted, or access lost).
fn removal(id: &str, minute: u32) -> Value {
    json!({"kind": "drive#change", "changeType": "file", "time": at(minute),
        "removed": true, "fileId": id})
}

/// Every page of a walk from `from`, unwrapped.
async fn walk(
    c: &GoogleDriveConnector,
    from: GoogleDriveCheckpoint,
    window: Option<TimeWindow>,
) -> (Vec<Document>, GoogleDriveCheckpoint) {
    let pages: Vec<_> = c
        .load_from_checkpoint(from.clone(), window, SyncContext::new())
        .map(|p| p.unwrap())
        .collect()
        .await;
    let last = pages.last().map_or(from, |p| p.checkpoint.clone());
    let docs = pages.into_iter().flat_map(|p| p.batch.documents).collect();
    (docs, last)
}

/// Resuming a walk from `from` at each of its checkpoints yields exactly the documents of the
/// pages after it (the conformance kit's rule, for walks that follow the feeds).
async fn assert_resumes(
    c: &GoogleDriveConnector,
    from: GoogleDriveCheckpoint,
    window: Option<TimeWindow>,
) {
    let pages: Vec<_> = c
        .load_from_checkpoint(from, window, SyncContext::new())
        .map(|p| p.unwrap())
        .collect()
        .await;
    for (i, page) in pages.iter().enumerate() {
        let json = serde_json::to_string(&page.checkpoint).unwrap();
        let (rest, _) = walk(c, serde_json::from_str(&json).unwrap(), window).await;
        let expected: Vec<Document> = pages[i + 1..]
            .iter()
            .flat_map(|p| p.batch.documents.clone())
            .collect();
        let ids_of = |d: &[Document]| d.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids_of(&rest), ids_of(&expected), "resumed after page {i}");
    }
}

fn ids(docs: &[Document]) -> Vec<String> {
    let mut out: Vec<String> = docs
        .iter()
        .map(|d| d.metadata["file_id"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

/// The window of the run after the first: minutes 30 to 40.
fn later() -> TimeWindow {
    TimeWindow {
        start: time(30),
        end: time(40),
    }
}

#[tokio::test]
async fn a_file_moved_into_a_crawled_folder_with_an_old_modified_time_is_delivered() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let changes = mount_changes(&server).await;
    changes
        .start
        .lock()
        .unwrap()
        .insert(ADMIN.into(), "100".into());
    let folder = |id: &str, minute| {
        DriveFile::new(id, ADMIN, minute).mime("application/vnd.google-apps.folder")
    };
    let moved = DriveFile::new("x1", "ext@other.com", 1).in_folder("ELSEWHERE");
    let drive = mount_drive(
        &server,
        vec![
            folder("F1", 0),
            folder("F2", 0).in_folder("F1"),
            DriveFile::new("f1", "ext@other.com", 2).in_folder("F1"),
            moved.clone(),
        ],
        &[],
        10,
    )
    .await;
    let c = connector(
        &server.uri(),
        json!({"shared_folder_urls": "https://drive.google.com/drive/folders/F1"}),
    );

    // The first run lists everything and ends with the folders' feed token.
    let (docs, first) = walk(&c, GoogleDriveCheckpoint::tracking_changes(), None).await;
    assert_eq!(ids(&docs), ["f1"]);
    assert_eq!(
        first
            .changes
            .as_ref()
            .unwrap()
            .get("folders")
            .map(String::as_str),
        Some("100")
    );

    // x1 moves into the subfolder F2; its modifiedTime (minute 1) does not move.
    drive.files.lock().unwrap().iter_mut().for_each(|f| {
        if f.id == "x1" {
            f.parents = vec!["F2".into()];
        }
    });
    let mut now_in_f2 = moved.clone();
    now_in_f2.parents = vec!["F2".into()];
    changes.pages.lock().unwrap().insert(
        "100".into(),
        json!({"kind": "drive#changeList", "newStartPageToken": "107",
            "changes": [removal("gone1", 33), change(&now_in_f2, 34)]}),
    );

    // Today's windowed run misses it.
    let (docs, _) = walk(&c, GoogleDriveCheckpoint::default(), Some(later())).await;
    assert!(ids(&docs).is_empty(), "{:?}", ids(&docs));

    // The feed delivers it, and the next run continues from the feed's new token.
    let (docs, next) = walk(&c, first.next_run(), Some(later())).await;
    assert_eq!(ids(&docs), ["x1"]);
    assert_eq!(
        next.changes
            .as_ref()
            .unwrap()
            .get("folders")
            .map(String::as_str),
        Some("107")
    );
}

#[tokio::test]
async fn a_file_newly_shared_with_a_user_is_delivered_by_the_users_feed() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_directory(&server, &["alice@example.com", "bob@example.com"], 10).await;
    let changes = mount_changes(&server).await;
    let outside = DriveFile::new("e1", "ext@other.com", 3);
    let bobs = DriveFile::new("b1", "bob@example.com", 4);
    let drive = mount_drive(
        &server,
        vec![
            DriveFile::new("a1", "alice@example.com", 1),
            bobs.clone(),
            outside.clone(),
        ],
        &[],
        10,
    )
    .await;
    for (user, token) in [("alice@example.com", "a-1"), ("bob@example.com", "b-1")] {
        changes
            .start
            .lock()
            .unwrap()
            .insert(user.into(), token.into());
    }
    let c = connector(
        &server.uri(),
        json!({"include_my_drives": true, "include_files_shared_with_me": true}),
    );
    let (docs, first) = walk(&c, GoogleDriveCheckpoint::tracking_changes(), None).await;
    assert_eq!(ids(&docs), ["a1", "b1"]);
    // Each user's feed token is taken before that user's first listing.
    let log = changes.log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            "startPageToken alice@example.com",
            "startPageToken bob@example.com"
        ]
    );
    let queries = drive.queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 4, "{queries:?}");
    let tokens = first.changes.clone().unwrap();
    assert_eq!(tokens["user:alice@example.com"], "a-1");
    assert_eq!(tokens["user:bob@example.com"], "b-1");

    // An outside file and bob's are shared with alice; neither's modifiedTime moves.
    drive.files.lock().unwrap().iter_mut().for_each(|f| {
        if f.id == "e1" || f.id == "b1" {
            f.shared_with.push("alice@example.com".into());
        }
    });
    changes.pages.lock().unwrap().insert(
        tokens["user:alice@example.com"].clone(),
        json!({"kind": "drive#changeList", "nextPageToken": "alice-2",
            "changes": [change(&outside, 31)]}),
    );
    changes.pages.lock().unwrap().insert(
        "alice-2".into(),
        json!({"kind": "drive#changeList", "newStartPageToken": "alice-9",
            "changes": [change(&bobs, 31)]}),
    );

    // A sharing change is a change of the file in its owner's feed too.
    changes.pages.lock().unwrap().insert(
        "b-1".into(),
        json!({"kind": "drive#changeList", "newStartPageToken": "b-2",
            "changes": [change(&bobs, 31)]}),
    );

    let (docs, _) = walk(&c, GoogleDriveCheckpoint::default(), Some(later())).await;
    assert!(ids(&docs).is_empty(), "{:?}", ids(&docs));

    // e1 through alice's feed, b1 once, through its owner's feed.
    let (docs, next) = walk(&c, first.next_run(), Some(later())).await;
    assert_eq!(ids(&docs), ["b1", "e1"]);
    let next = next.changes.unwrap();
    assert_eq!(next["user:alice@example.com"], "alice-9");
    assert_eq!(next["user:bob@example.com"], "b-2");
    assert_resumes(&c, first.next_run(), Some(later())).await;
}

/// The ways Drive refuses a stored page token: 410 (expired), 404, and 400 "Invalid Value"
/// naming the `pageToken` parameter (a token Drive cannot read at all), in Google's error
/// bodies.
fn refusals() -> Vec<(u16, Value)> {
    vec![
        (
            410,
            google_error(
                410,
                "gone",
                "NOT_FOUND",
                "The page token is no longer valid.",
            ),
        ),
        (
            404,
            google_error(404, "notFound", "NOT_FOUND", "Page token not found."),
        ),
        (
            400,
            json!({"error": {"code": 400, "message": "Invalid Value", "errors": [{
                "message": "Invalid Value", "domain": "global", "reason": "invalid",
                "locationType": "parameter", "location": "pageToken"}]}}),
        ),
    ]
}

#[tokio::test]
async fn a_refused_page_token_restarts_the_feed_and_lists_the_user_without_the_window() {
    for refusal in refusals() {
        refused_page_token(refusal).await;
    }
}

/// A windowed run whose stored token for alice's feed Drive refuses with `refusal`.
async fn refused_page_token(refusal: (u16, Value)) {
    let status = refusal.0;
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let changes = mount_changes(&server).await;
    *changes.refusal.lock().unwrap() = Some(refusal);
    changes
        .start
        .lock()
        .unwrap()
        .insert("alice@example.com".into(), "500".into());
    changes.gone.lock().unwrap().push("42".into());
    let drive = mount_drive(
        &server,
        vec![
            DriveFile::new("a1", "alice@example.com", 1),
            DriveFile::new("a2", "alice@example.com", 35),
        ],
        &[],
        10,
    )
    .await;
    let c = connector(
        &server.uri(),
        json!({"my_drive_emails": "alice@example.com"}),
    );
    let mut from = GoogleDriveCheckpoint::tracking_changes();
    from.changes
        .as_mut()
        .unwrap()
        .insert("user:alice@example.com".into(), "42".into());

    let (docs, next) = walk(&c, from, Some(later())).await;
    // The whole My Drive, since what changed after the refused token is unknown.
    assert_eq!(ids(&docs), ["a1", "a2"], "HTTP {status}");
    assert_eq!(
        changes.log.lock().unwrap().clone(),
        [
            "changes alice@example.com 42",
            "startPageToken alice@example.com"
        ]
    );
    let queries = drive.queries.lock().unwrap().clone();
    assert!(
        queries.iter().all(|q| !q.contains("modifiedTime")),
        "{queries:?}"
    );
    assert_eq!(
        next.changes.unwrap()["user:alice@example.com"],
        "500",
        "HTTP {status}"
    );

    // The run after lists the window again, from the new token.
    let again = GoogleDriveCheckpoint {
        changes: Some(BTreeMap::from([(
            "user:alice@example.com".to_owned(),
            "500".to_owned(),
        )])),
        ..GoogleDriveCheckpoint::default()
    };
    let (docs, _) = walk(&c, again, Some(later())).await;
    assert_eq!(ids(&docs), ["a2"]);
}

#[tokio::test]
async fn a_shared_drive_feed_delivers_an_old_file_moved_into_the_drive() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let changes = mount_changes(&server).await;
    changes
        .start
        .lock()
        .unwrap()
        .insert("0AD1".into(), "d-1".into());
    let moved = DriveFile::new("m1", ADMIN, 2).in_drive("0AD1");
    let drive = mount_drive(
        &server,
        vec![DriveFile::new("d1", ADMIN, 8).in_drive("0AD1")],
        &["0AD1"],
        10,
    )
    .await;
    let c = connector(
        &server.uri(),
        json!({"shared_drive_urls": "https://drive.google.com/drive/folders/0AD1"}),
    );
    let (docs, first) = walk(&c, GoogleDriveCheckpoint::tracking_changes(), None).await;
    assert_eq!(ids(&docs), ["d1"]);
    assert_eq!(first.changes.as_ref().unwrap()["drive:0AD1"], "d-1");

    drive.files.lock().unwrap().push(moved.clone());
    let mut trashed = change(&DriveFile::new("t1", ADMIN, 3).in_drive("0AD1"), 32);
    trashed["file"]["trashed"] = json!(true);
    changes.pages.lock().unwrap().insert(
        "d-1".into(),
        json!({"kind": "drive#changeList", "newStartPageToken": "d-5", "changes": [
            {"kind": "drive#change", "changeType": "drive", "driveId": "0AD1", "time": at(31),
             "removed": false, "drive": {"id": "0AD1", "name": "Renamed"}},
            trashed,
            removal("d0", 33),
            change(&moved, 34),
        ]}),
    );
    let pages: Vec<_> = c
        .load_from_checkpoint(first.next_run(), Some(later()), SyncContext::new())
        .map(|p| p.unwrap())
        .collect()
        .await;
    let docs: Vec<Document> = pages
        .iter()
        .flat_map(|p| p.batch.documents.clone())
        .collect();
    assert_eq!(ids(&docs), ["m1"]);
    // The trashed file and the removed one (gone for the drive's reader: 404) are deletions.
    let mut deleted: Vec<String> = pages.iter().flat_map(|p| p.batch.deleted.clone()).collect();
    deleted.sort();
    assert!(
        deleted.contains(&"https://drive.google.com/file/d/t1/view".to_owned()),
        "{deleted:?}"
    );
    assert!(
        deleted.contains(&"https://drive.google.com/file/d/d0/view".to_owned()),
        "{deleted:?}"
    );
    assert!(!deleted.iter().any(|d| d.contains("/m1/")), "{deleted:?}");
    let next = pages.last().unwrap().checkpoint.clone();
    assert_eq!(next.changes.unwrap()["drive:0AD1"], "d-5");
    let log = changes.log.lock().unwrap().clone();
    assert_eq!(log.last().map(String::as_str), Some("changes 0AD1 d-1"));
}

#[tokio::test]
async fn a_shared_drive_the_admin_is_not_in_has_its_feed_read_as_a_member() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let changes = mount_changes(&server).await;
    changes
        .members
        .lock()
        .unwrap()
        .insert("0AD2".into(), "carol@example.com".into());
    changes
        .start
        .lock()
        .unwrap()
        .insert("0AD2".into(), "c-1".into());
    Mock::given(method("GET"))
        .and(path("/drive/v3/files/0AD2/permissions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"permissions": [
            {"id": "u2", "type": "user", "emailAddress": "carol@example.com", "role": "organizer"}
        ]})))
        .with_priority(1)
        .mount(&server)
        .await;
    let moved = DriveFile::new("m2", "carol@example.com", 2).in_drive("0AD2");
    let drive = mount_drive(&server, vec![], &["0AD2"], 10).await;
    let c = connector(
        &server.uri(),
        json!({"shared_drive_urls": "https://drive.google.com/drive/folders/0AD2"}),
    );
    let (docs, first) = walk(&c, GoogleDriveCheckpoint::tracking_changes(), None).await;
    assert!(docs.is_empty());
    assert_eq!(first.changes.as_ref().unwrap()["drive:0AD2"], "c-1");
    assert_eq!(first.drive_members["0AD2"], "carol@example.com");

    drive.files.lock().unwrap().push(moved.clone());
    changes.pages.lock().unwrap().insert(
        "c-1".into(),
        json!({"kind": "drive#changeList", "newStartPageToken": "c-2",
            "changes": [change(&moved, 31)]}),
    );
    let (docs, next) = walk(&c, first.next_run(), Some(later())).await;
    assert_eq!(ids(&docs), ["m2"]);
    assert_eq!(next.changes.unwrap()["drive:0AD2"], "c-2");
}

#[tokio::test]
async fn a_permission_change_on_an_old_file_is_delivered_with_its_new_readers() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let changes = mount_changes(&server).await;
    changes
        .start
        .lock()
        .unwrap()
        .insert("alice@example.com".into(), "a-1".into());
    let old = DriveFile::new("a1", "alice@example.com", 1);
    mount_drive(&server, vec![old.clone()], &[], 10).await;
    let c = connector(
        &server.uri(),
        json!({"my_drive_emails": "alice@example.com", "include_permissions": true}),
    );
    let (docs, first) = walk(&c, GoogleDriveCheckpoint::tracking_changes(), None).await;
    assert_eq!(ids(&docs), ["a1"]);

    // Alice shares a1 with dana: a change of the file's permissions, not of its content.
    let mut shared = change(&old, 32);
    shared["file"]["permissions"] = json!([
        {"id": "p0", "type": "user", "emailAddress": "alice@example.com", "role": "owner"},
        {"id": "p1", "type": "user", "emailAddress": "dana@example.com", "role": "reader"},
    ]);
    changes.pages.lock().unwrap().insert(
        "a-1".into(),
        json!({"kind": "drive#changeList", "newStartPageToken": "a-2", "changes": [shared]}),
    );
    let (docs, _) = walk(&c, first.next_run(), Some(later())).await;
    assert_eq!(ids(&docs), ["a1"]);
    let access = docs[0].access.as_ref().unwrap();
    assert!(
        access.emails.iter().any(|e| e == "dana@example.com"),
        "{access:?}"
    );
    let log = changes.log.lock().unwrap().clone();
    assert_eq!(
        log.last().map(String::as_str),
        Some("changes alice@example.com a-1")
    );
}

/// The same move through core's batch loop, feeds on by default: the full run takes the feed's
/// token, the loop carries it over, and the next incremental run delivers the moved file with
/// nothing kept by hand. With `follow_changes: false` the incremental run misses it.
#[tokio::test]
async fn the_batch_loop_carries_the_feed_from_a_full_run_to_the_next_incremental_run() {
    use connector_core::sink::MemorySink;
    use connector_core::state::MemoryStateStore;
    use connector_core::sync::{SyncMode, Syncer};

    for follow in [true, false] {
        let server = MockServer::start().await;
        mount_token(&server, TokenEndpoint::default()).await;
        let changes = mount_changes(&server).await;
        changes
            .start
            .lock()
            .unwrap()
            .insert(ADMIN.into(), "100".into());
        let folder = |id: &str, minute| {
            DriveFile::new(id, ADMIN, minute).mime("application/vnd.google-apps.folder")
        };
        let moved = DriveFile::new("x1", "ext@other.com", 1).in_folder("ELSEWHERE");
        let drive = mount_drive(
            &server,
            vec![
                folder("F1", 0),
                DriveFile::new("f1", "ext@other.com", 2).in_folder("F1"),
                moved.clone(),
            ],
            &[],
            10,
        )
        .await;
        let c: Arc<dyn connector_core::Connector> = Arc::new(connector(
            &server.uri(),
            json!({"shared_folder_urls": "https://drive.google.com/drive/folders/F1",
                "follow_changes": follow}),
        ));
        let store = MemoryStateStore::new();
        let run = |mode, minute| {
            let (c, store, sink) = (c.clone(), store.clone(), MemorySink::new());
            async move {
                Syncer::new(c)
                    .sink(sink.clone())
                    .state(store)
                    .at(time(minute))
                    .run(mode)
                    .await
                    .unwrap();
                sink.deliveries().concat()
            }
        };
        assert_eq!(run(SyncMode::Full, 30).await.len(), 1);

        drive.files.lock().unwrap().iter_mut().for_each(|f| {
            if f.id == "x1" {
                f.parents = vec!["F1".into()];
            }
        });
        let mut now_in_f1 = moved.clone();
        now_in_f1.parents = vec!["F1".into()];
        changes.pages.lock().unwrap().insert(
            "100".into(),
            json!({"kind": "drive#changeList", "newStartPageToken": "107",
                "changes": [change(&now_in_f1, 34)]}),
        );
        let delivered = run(SyncMode::Incremental, 40).await;
        if follow {
            assert_eq!(delivered.len(), 1, "{delivered:?}");
            assert!(delivered[0].contains("x1"), "{delivered:?}");
        } else {
            assert!(delivered.is_empty(), "{delivered:?}");
        }
    }
}

/// Tombstones through the batch loop: a file deleted for good (a removal Drive's `files.get`
/// confirms with 404) and a trashed Google Doc leave the sink and the store in the incremental
/// run, under the ids their documents had (the `webViewLink` without its query); a file the
/// feed reports removed that its reader still sees (moved to another drive) stays.
#[tokio::test]
async fn files_deleted_or_trashed_between_runs_leave_the_sink_in_the_incremental_run() {
    use connector_core::sink::MemorySink;
    use connector_core::state::{MemoryStateStore, StateStore};
    use connector_core::sync::{SyncMode, Syncer};

    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let changes = mount_changes(&server).await;
    changes
        .start
        .lock()
        .unwrap()
        .insert("0AD1".into(), "d-1".into());
    let doc = DriveFile::new("g1", ADMIN, 3)
        .mime("application/vnd.google-apps.document")
        .in_drive("0AD1");
    let drive = mount_drive(
        &server,
        vec![
            DriveFile::new("p1", ADMIN, 1).in_drive("0AD1"),
            DriveFile::new("p2", ADMIN, 2).in_drive("0AD1"),
            doc.clone(),
            DriveFile::new("p3", ADMIN, 4).in_drive("0AD1"),
        ],
        &["0AD1"],
        10,
    )
    .await;
    let c: Arc<dyn connector_core::Connector> = Arc::new(connector(
        &server.uri(),
        json!({"shared_drive_urls": "https://drive.google.com/drive/folders/0AD1",
            "follow_changes": true}),
    ));
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let run = |mode, minute| {
        let (c, store, sink) = (c.clone(), store.clone(), sink.clone());
        async move {
            Syncer::new(c)
                .sink(sink)
                .state(store)
                .at(time(minute))
                .run(mode)
                .await
                .unwrap()
        }
    };
    run(SyncMode::Full, 30).await;
    let doc_id = "https://docs.google.com/document/d/g1/edit";
    let mut held = sink.ids();
    held.sort();
    assert_eq!(
        held,
        [
            doc_id,
            "https://drive.google.com/file/d/p1/view",
            "https://drive.google.com/file/d/p2/view",
            "https://drive.google.com/file/d/p3/view",
        ]
    );

    // p1 deleted for good; the Doc trashed; p3 moved to a drive the reader sees but the
    // config does not crawl, which Drive's feed of 0AD1 reports as a removal too.
    drive
        .files
        .lock()
        .unwrap()
        .retain(|f| f.id != "p1" && f.id != "g1");
    let mut trashed = change(&doc, 33);
    trashed["file"]["trashed"] = json!(true);
    changes.pages.lock().unwrap().insert(
        "d-1".into(),
        json!({"kind": "drive#changeList", "newStartPageToken": "d-9", "changes": [
            removal("p1", 32), trashed, removal("p3", 34),
        ]}),
    );
    let report = run(SyncMode::Incremental, 40).await;
    assert_eq!(report.deleted, 2, "{report:?}");
    let mut held = sink.ids();
    held.sort();
    assert_eq!(
        held,
        [
            "https://drive.google.com/file/d/p2/view",
            "https://drive.google.com/file/d/p3/view",
        ]
    );
    let mut known = store.document_ids().await.unwrap();
    known.sort();
    assert_eq!(known, held);
}
