//! Google Drive: who may read a file (`include_permissions`), shared drives the admin is not a
//! member of, shortcuts and Sheets read per tab, against wiremock fixtures in Drive v3's and
//! Sheets v4's documented wire format (`files.list` with `permissions`/`permissionIds`,
//! `permissions.list`, `drives.list` with `useDomainAdminAccess`, `shortcutDetails`,
//! `spreadsheets.get`, `values.batchGet`).
#![cfg(feature = "google_drive")]
#![allow(clippy::unwrap_used)] // Fixtures: a poisoned lock should fail the test loudly.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::collect_load;
use connector_core::{Connector, Document, Registry, SyncContext};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn build(uri: &str, extra: Value) -> Arc<dyn Connector> {
    let mut cfg = json!({
        "credentials": {
            "google_tokens": service_account_key().to_string(),
            "google_primary_admin": ADMIN,
        },
        "token_uri": format!("{uri}/token"),
        "directory_base_url": uri, "allowed_hosts": ["127.0.0.1"],
        "drive_base_url": uri,
        "sheets_base_url": uri,
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    let mut registry = Registry::new();
    connector_google::register(&mut registry);
    registry.build("google_drive", cfg).expect("a valid config")
}

/// A file as `files.list` returns it, with `extra` fields.
fn file(id: &str, owner: Option<&str>, extra: Value) -> Value {
    let mut v = json!({
        "kind": "drive#file", "id": id, "name": format!("{id}.txt"), "mimeType": "text/plain",
        "modifiedTime": at(1), "version": "3", "size": "9",
        "webViewLink": format!("https://drive.google.com/file/d/{id}/view?usp=drivesdk"),
    });
    if let Some(o) = owner {
        v["owners"] = json!([{"kind": "drive#user", "emailAddress": o}]);
    }
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

/// What a listing answers `(caller, q, driveId)`: its files, or `None` for a 404.
type Pick = dyn Fn(&str, &str, Option<&str>) -> Option<Vec<Value>> + Send + Sync;

/// `files.list` answered by `pick`; `fields` recorded.
#[derive(Clone)]
struct Listing {
    pick: Arc<Pick>,
    fields: Arc<Mutex<Vec<String>>>,
}

impl Respond for Listing {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.fields
            .lock()
            .unwrap()
            .push(query(req, "fields").unwrap_or_default());
        let who = caller(req).unwrap_or_default();
        let q = query(req, "q").unwrap_or_default();
        match (self.pick)(&who, &q, query(req, "driveId").as_deref()) {
            Some(files) => ResponseTemplate::new(200)
                .set_body_json(json!({"kind": "drive#fileList", "files": files})),
            // What Drive answers a user who is not a member of the shared drive.
            None => ResponseTemplate::new(404).set_body_json(google_error(
                404,
                "notFound",
                "NOT_FOUND",
                "Shared drive not found: 0AD1",
            )),
        }
    }
}

async fn mount_listing(
    server: &MockServer,
    pick: impl Fn(&str, &str, Option<&str>) -> Option<Vec<Value>> + Send + Sync + 'static,
) -> Arc<Mutex<Vec<String>>> {
    let listing = Listing {
        pick: Arc::new(pick),
        fields: Arc::default(),
    };
    Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .respond_with(listing.clone())
        .mount(server)
        .await;
    listing.fields
}

/// Every download answers `content of {id}`, and records who asked.
async fn mount_downloads(server: &MockServer) -> Arc<Mutex<Vec<(String, String)>>> {
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = Arc::clone(&seen);
    Mock::given(method("GET"))
        .and(path_regex(r"^/drive/v3/files/[^/]+$"))
        .and(wiremock::matchers::query_param("alt", "media"))
        .respond_with(move |req: &Request| {
            let id = req
                .url
                .path()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            record
                .lock()
                .unwrap()
                .push((id.clone(), caller(req).unwrap_or_default()));
            ResponseTemplate::new(200).set_body_raw(format!("content of {id}"), "text/plain")
        })
        .mount(server)
        .await;
    seen
}

fn by_file<'a>(docs: &'a [Document], id: &str) -> &'a Document {
    docs.iter()
        .find(|d| d.metadata["file_id"] == id)
        .unwrap_or_else(|| panic!("{id} missing"))
}

/// `include_permissions`: a My Drive file's `permissions` as listed (users and groups by
/// e-mail, a discoverable domain as `domain:…`, a link-only domain and a deleted account
/// naming nobody); `anyone` is public; a shared drive file, whose `permissions` Drive never
/// fills, read with `permissions.list` from its `permissionIds`; a file whose permissions the
/// user cannot see readable by that user and its owner.
#[tokio::test]
async fn drive_permissions_become_each_documents_access() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let shared_perms: Arc<Mutex<Value>> = Arc::new(Mutex::new(json!([
        {"kind": "drive#permission", "id": "0123", "type": "user", "emailAddress": "Bob@example.com", "role": "fileOrganizer"},
        {"kind": "drive#permission", "id": "4567", "type": "group", "emailAddress": "team@example.com", "role": "reader"},
    ])));
    let fields = mount_listing(&server, |who, q, drive| {
        Some(match (who, drive) {
            ("alice@example.com", None) if q.starts_with("'me' in owners") => vec![
                file("p1", Some("alice@example.com"), json!({"permissions": [
                    {"id": "1", "type": "user", "emailAddress": "alice@example.com", "role": "owner"},
                    {"id": "2", "type": "group", "emailAddress": "Eng@example.com", "role": "reader"},
                    {"id": "3", "type": "domain", "domain": "example.com", "role": "reader", "allowFileDiscovery": true},
                    {"id": "4", "type": "domain", "domain": "partner.com", "role": "reader", "allowFileDiscovery": false},
                    {"id": "5", "type": "user", "emailAddress": "gone@example.com", "role": "writer", "deleted": true},
                ], "permissionIds": ["1", "2", "3", "4", "5"]})),
                file("p2", Some("alice@example.com"), json!({})),
                file("p3", Some("alice@example.com"), json!({"permissions": [
                    {"id": "anyoneWithLink", "type": "anyone", "role": "reader", "allowFileDiscovery": false},
                ]})),
            ],
            (_, Some("0AD1")) => vec![file(
                "d1",
                None,
                json!({"driveId": "0AD1", "permissionIds": ["0123", "4567"]}),
            )],
            _ => vec![],
        })
    })
    .await;
    let perms = Arc::clone(&shared_perms);
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let asked_by = Arc::clone(&asked);
    Mock::given(method("GET"))
        .and(path("/drive/v3/files/d1/permissions"))
        .respond_with(move |req: &Request| {
            asked_by
                .lock()
                .unwrap()
                .push(caller(req).unwrap_or_default());
            assert_eq!(query(req, "supportsAllDrives").as_deref(), Some("true"));
            ResponseTemplate::new(200).set_body_json(
                json!({"kind": "drive#permissionList", "permissions": perms.lock().unwrap().clone()}),
            )
        })
        .mount(&server)
        .await;
    mount_downloads(&server).await;
    let c = build(
        &server.uri(),
        json!({
            "my_drive_emails": "alice@example.com",
            "shared_drive_urls": "https://drive.google.com/drive/folders/0AD1",
            "include_permissions": true,
        }),
    );
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert!(
        fields
            .lock()
            .unwrap()
            .iter()
            .all(|f| f.contains("permissionIds")
                && f.contains(
                    "permissions(id,type,emailAddress,domain,role,allowFileDiscovery,deleted)"
                )),
        "{fields:?}"
    );
    let p1 = by_file(&docs, "p1").access.clone().unwrap();
    assert!(!p1.public);
    assert_eq!(p1.emails, vec!["alice@example.com"]);
    assert_eq!(p1.groups, vec!["domain:example.com", "eng@example.com"]);
    let p2 = by_file(&docs, "p2").access.clone().unwrap();
    assert_eq!(
        (p2.emails, p2.public),
        (vec!["alice@example.com".to_owned()], false)
    );
    assert!(by_file(&docs, "p3").access.as_ref().unwrap().public);
    let d1 = by_file(&docs, "d1").access.clone().unwrap();
    assert_eq!(d1.emails, vec!["bob@example.com"]);
    assert_eq!(d1.groups, vec!["team@example.com"]);
    assert_eq!(asked.lock().unwrap().clone(), vec![ADMIN.to_owned()]);

    // Without the switch, no access and no permission fields.
    let plain = build(
        &server.uri(),
        json!({"my_drive_emails": "alice@example.com"}),
    );
    let (docs, _) = collect_load(plain.as_ref()).await;
    assert!(docs.iter().all(|d| d.access.is_none()));
    assert!(
        !fields
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .contains("permission")
    );
}

/// A sharing change bumps no `modifiedTime` (a shared drive's new member is not even a change
/// of the file): the version token holds a hash of the readers, so a reconciling run delivers
/// exactly the re-shared file and nothing else.
#[tokio::test]
async fn a_sharing_change_is_delivered_by_a_reconciling_run() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_listing(&server, |_, _, drive| {
        Some(match drive {
            Some("0AD1") => vec![
                file(
                    "d1",
                    None,
                    json!({"driveId": "0AD1", "permissionIds": ["0123"]}),
                ),
                file(
                    "d2",
                    None,
                    json!({"driveId": "0AD1", "permissionIds": ["0123"]}),
                ),
            ],
            _ => vec![],
        })
    })
    .await;
    let d1_perms = Arc::new(Mutex::new(json!([
        {"id": "0123", "type": "user", "emailAddress": "bob@example.com", "role": "reader"},
    ])));
    let perms = Arc::clone(&d1_perms);
    Mock::given(method("GET"))
        .and(path_regex(r"^/drive/v3/files/d[12]/permissions$"))
        .respond_with(move |req: &Request| {
            let body = if req.url.path().contains("/d1/") {
                perms.lock().unwrap().clone()
            } else {
                json!([{"id": "0123", "type": "user", "emailAddress": "bob@example.com", "role": "reader"}])
            };
            ResponseTemplate::new(200).set_body_json(json!({"permissions": body}))
        })
        .mount(&server)
        .await;
    let downloads = mount_downloads(&server).await;
    let c = build(
        &server.uri(),
        json!({"shared_drive_urls": "0AD1", "include_permissions": true}),
    );
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let sync = || {
        Syncer::new(Arc::clone(&c))
            .sink(sink.clone())
            .state(store.clone())
    };
    sync().run(SyncMode::Full).await.unwrap();
    assert_eq!(downloads.lock().unwrap().len(), 2);
    let unchanged = sync().run(SyncMode::Reconcile).await.unwrap();
    assert_eq!((unchanged.updated, unchanged.unchanged), (0, 2));
    // d1 is shared with a group as well; its file is untouched.
    d1_perms.lock().unwrap().as_array_mut().unwrap().push(
        json!({"id": "89", "type": "group", "emailAddress": "sales@example.com", "role": "reader"}),
    );
    let before = sink.deliveries().len();
    let report = sync().run(SyncMode::Reconcile).await.unwrap();
    assert_eq!((report.updated, report.unchanged), (1, 1), "{report:?}");
    assert_eq!(
        sink.deliveries()[before..].concat(),
        vec!["https://drive.google.com/file/d/d1/view"]
    );
    let d1 = sink.get("https://drive.google.com/file/d/d1/view").unwrap();
    assert_eq!(d1.access.unwrap().groups, vec!["sales@example.com"]);
    assert_eq!(
        downloads.lock().unwrap().len(),
        3,
        "only d1 is downloaded again"
    );
}

/// `include_shared_drives` with a service account lists every shared drive of the domain
/// (`drives.list?useDomainAdminAccess=true`, as RAGFlow and Onyx ask), not only the admin's.
/// A drive the admin is not a member of (Drive answers its `files.list` 404) is read as a
/// member found in the drive's permissions (read with domain admin access), downloads
/// included; a drive whose only members are groups is a failure that says what to do.
#[tokio::test]
async fn shared_drives_the_admin_is_not_a_member_of_are_read_as_a_member() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/drives"))
        .respond_with(|req: &Request| {
            let all = query(req, "useDomainAdminAccess").as_deref() == Some("true");
            let drives = if all {
                json!([{"id": "0AD1"}, {"id": "0AD2"}, {"id": "0AD3"}])
            } else {
                json!([{"id": "0AD1"}])
            };
            ResponseTemplate::new(200)
                .set_body_json(json!({"kind": "drive#driveList", "drives": drives}))
        })
        .mount(&server)
        .await;
    mount_listing(&server, |who, _, drive| match (who, drive) {
        (ADMIN, Some("0AD1")) => Some(vec![file("d1", None, json!({"driveId": "0AD1"}))]),
        ("carol@example.com", Some("0AD2")) => {
            Some(vec![file("d2", None, json!({"driveId": "0AD2"}))])
        }
        _ => None,
    })
    .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/drive/v3/files/0AD[23]/permissions$"))
        .respond_with(|req: &Request| {
            // Only the admin, with domain admin access, reads a drive's members.
            if caller(req).as_deref() != Some(ADMIN)
                || query(req, "useDomainAdminAccess").as_deref() != Some("true")
            {
                return ResponseTemplate::new(404).set_body_json(google_error(
                    404,
                    "notFound",
                    "NOT_FOUND",
                    "File not found",
                ));
            }
            let mut members = vec![
                json!({"id": "g1", "type": "group", "emailAddress": "eng@example.com", "role": "organizer"}),
            ];
            if req.url.path().contains("0AD2") {
                members.push(json!({"id": "u1", "type": "user", "emailAddress": "ext@other.com", "role": "reader"}));
                members.push(json!({"id": "u2", "type": "user", "emailAddress": "carol@example.com", "role": "organizer"}));
            }
            ResponseTemplate::new(200).set_body_json(json!({"permissions": members}))
        })
        .mount(&server)
        .await;
    let downloads = mount_downloads(&server).await;
    let c = build(&server.uri(), json!({"include_shared_drives": true}));
    let (docs, failures) = collect_load(c.as_ref()).await;
    let mut ids: Vec<&str> = docs
        .iter()
        .map(|d| d.metadata["file_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["d1", "d2"]);
    assert_eq!(
        downloads.lock().unwrap().clone(),
        vec![
            ("d1".to_owned(), ADMIN.to_owned()),
            ("d2".to_owned(), "carol@example.com".to_owned())
        ]
    );
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].id.as_deref(), Some("drive:0AD3"));
    assert!(
        failures[0].message.contains("google_primary_admin"),
        "{}",
        failures[0].message
    );
}

/// Shortcuts stand for their targets: a shortcut to a file of an indexed My Drive is left to
/// that listing (no second copy), a shortcut to anyone else's file indexes the target once
/// (not again when a crawled folder lists the target itself), a shortcut to a folder inside a
/// crawled folder is crawled, and a shortcut whose target the user cannot read is nothing.
#[tokio::test]
async fn shortcuts_index_their_targets_once() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let shortcut = |id: &str, target: &str, mime: &str| {
        let mut f = file(id, Some("alice@example.com"), json!({}));
        f["mimeType"] = json!("application/vnd.google-apps.shortcut");
        f["modifiedTime"] = json!(at(30));
        f["shortcutDetails"] = json!({"targetId": target, "targetMimeType": mime});
        f.as_object_mut().unwrap().remove("size");
        f
    };
    let x1 = file("x1", Some("ext@other.com"), json!({}));
    let listed_x1 = x1.clone();
    let s = shortcut;
    mount_listing(&server, move |_, q, _| {
        Some(if q.starts_with("'me' in owners") {
            vec![
                file("a1", Some("alice@example.com"), json!({})),
                s("s1", "a1", "text/plain"),
                s("s2", "x1", "text/plain"),
                s("s4", "gone", "text/plain"),
            ]
        } else if q.starts_with("'F1' in parents") {
            vec![
                listed_x1.clone(),
                s("s3", "F9", "application/vnd.google-apps.folder"),
            ]
        } else if q.starts_with("'F9' in parents") {
            vec![file("f9", Some("ext@other.com"), json!({}))]
        } else {
            vec![]
        })
    })
    .await;
    let targets = json!({
        "a1": file("a1", Some("alice@example.com"), json!({})),
        "x1": x1,
    });
    Mock::given(method("GET"))
        .and(path_regex(r"^/drive/v3/files/[^/]+$"))
        .and(wiremock::matchers::query_param_is_missing("alt"))
        .respond_with(move |req: &Request| {
            let id = req.url.path().rsplit('/').next().unwrap_or_default();
            match targets.get(id) {
                Some(f) => ResponseTemplate::new(200).set_body_json(f),
                None => ResponseTemplate::new(404).set_body_json(google_error(
                    404,
                    "notFound",
                    "NOT_FOUND",
                    &format!("File not found: {id}."),
                )),
            }
        })
        .mount(&server)
        .await;
    mount_downloads(&server).await;
    let c = build(
        &server.uri(),
        json!({
            "my_drive_emails": "alice@example.com",
            "shared_folder_urls": "https://drive.google.com/drive/folders/F1",
        }),
    );
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    let mut ids: Vec<&str> = docs
        .iter()
        .map(|d| d.metadata["file_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["a1", "f9", "x1"]);
    let x1 = by_file(&docs, "x1");
    assert_eq!(x1.id, "https://drive.google.com/file/d/x1/view");
    assert_eq!(x1.updated_at, Some(time(1)), "the target's time");
    // Prune's listing agrees.
    let mut listed = Vec::new();
    let mut pages = c.as_slim().unwrap().list_ids(SyncContext::new());
    while let Some(p) = pages.next().await {
        listed.extend(p.unwrap().into_iter().map(|s| s.id));
    }
    listed.sort();
    let mut expected: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

/// A spreadsheet is every tab as a Markdown table (Sheets API: the tab names, then one
/// `values.batchGet` of the grid tabs; a chart-only tab is no table), so a host that reads
/// only text reads every tab, not the first (Drive's CSV export) nor an xlsx blob. Where the
/// Sheets API is not enabled (403 `SERVICE_DISABLED`), the xlsx export as before, and the
/// API is not asked again in the run.
#[tokio::test]
async fn a_spreadsheet_is_every_tab_as_a_markdown_table() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let sheet = |id: &str| {
        let mut f = file(id, Some("alice@example.com"), json!({}));
        f["mimeType"] = json!("application/vnd.google-apps.spreadsheet");
        f["name"] = json!(format!("Budget {id}"));
        f["webViewLink"] = json!(format!("https://docs.google.com/spreadsheets/d/{id}/edit"));
        f.as_object_mut().unwrap().remove("size");
        f
    };
    let (s1, s2) = (sheet("s1"), sheet("s2"));
    // First a run that lists s1, then one that lists s2 (whose Sheets API answer is 403).
    let second = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let in_second = Arc::clone(&second);
    mount_listing(&server, move |_, q, _| {
        Some(if !q.starts_with("'me' in owners") {
            vec![]
        } else if in_second.load(std::sync::atomic::Ordering::SeqCst) {
            vec![s2.clone()]
        } else {
            vec![s1.clone()]
        })
    })
    .await;
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&asked);
    Mock::given(method("GET"))
        .and(path_regex(r"^/v4/spreadsheets/"))
        .respond_with(move |req: &Request| {
            let p = req.url.path().to_owned();
            record.lock().unwrap().push(p.clone());
            if p.contains("/s2") {
                return ResponseTemplate::new(403).set_body_json(json!({"error": {
                    "code": 403, "status": "PERMISSION_DENIED",
                    "message": "Google Sheets API has not been used in project 1234 before or it is disabled.",
                    "errors": [{"reason": "accessNotConfigured", "domain": "usageLimits", "message": "disabled"}],
                    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED"}]
                }}));
            }
            if p.ends_with("values:batchGet") {
                let ranges: Vec<String> = req
                    .url
                    .query_pairs()
                    .filter(|(k, _)| k == "ranges")
                    .map(|(_, v)| v.into_owned())
                    .collect();
                assert_eq!(ranges, ["'Q1'", "'Bob''s costs'"]);
                assert_eq!(query(req, "valueRenderOption").as_deref(), Some("FORMATTED_VALUE"));
                return ResponseTemplate::new(200).set_body_json(json!({
                    "spreadsheetId": "s1",
                    "valueRanges": [
                        {"range": "Q1!A1:B3", "majorDimension": "ROWS",
                         "values": [["Item", "Cost"], ["Rent", "$1,200.00"], ["Fees"]]},
                        {"range": "'Bob''s costs'!A1:A2", "majorDimension": "ROWS",
                         "values": [["Taxi | late"], ["12"]]}
                    ]
                }));
            }
            ResponseTemplate::new(200).set_body_json(json!({"sheets": [
                {"properties": {"sheetId": 0, "title": "Q1", "index": 0, "sheetType": "GRID"}},
                {"properties": {"sheetId": 7, "title": "Chart", "index": 1, "sheetType": "OBJECT"}},
                {"properties": {"sheetId": 9, "title": "Bob's costs", "index": 2, "sheetType": "GRID"}}
            ]}))
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/files/s2/export"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            b"PK\x03\x04xlsx".to_vec(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .mount(&server)
        .await;
    let c = build(
        &server.uri(),
        json!({"my_drive_emails": "alice@example.com"}),
    );
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    let s1 = by_file(&docs, "s1");
    let text = s1.content.as_text().unwrap();
    assert!(text.starts_with("# Budget s1\n"), "{text}");
    assert!(text.contains("## Q1"), "{text}");
    assert!(text.contains("| Item | Cost |"), "{text}");
    assert!(text.contains("| Rent | $1,200.00 |"), "{text}");
    assert!(text.contains("## Bob's costs"), "{text}");
    assert!(
        text.contains("Taxi \\| late"),
        "a pipe in a cell is escaped: {text}"
    );
    assert!(!text.contains("Chart"), "{text}");
    second.store(true, std::sync::atomic::Ordering::SeqCst);
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    let s2 = by_file(&docs, "s2");
    assert!(
        matches!(&s2.content, connector_core::Content::Bytes { extension: Some(e), .. } if e == "xlsx")
    );
    let asked = asked.lock().unwrap().clone();
    assert_eq!(
        asked.iter().filter(|p| p.contains("/s2")).count(),
        1,
        "{asked:?}"
    );
}

/// Drive lists a folder the caller cannot see as empty, without an error. A configured folder
/// that is not shared with the admin is a failure naming it and saying what to do, not an
/// empty success; an empty folder the admin can see is just empty.
#[tokio::test]
async fn a_configured_folder_the_admin_cannot_see_is_a_failure_not_an_empty_folder() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_listing(&server, |_, _, _| Some(vec![])).await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/files/Fempty"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "Fempty"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/files/Fhidden"))
        .respond_with(ResponseTemplate::new(404).set_body_json(google_error(
            404,
            "notFound",
            "NOT_FOUND",
            "File not found: Fhidden.",
        )))
        .mount(&server)
        .await;
    let c = build(
        &server.uri(),
        json!({"shared_folder_urls": "https://drive.google.com/drive/folders/Fempty, https://drive.google.com/drive/folders/Fhidden"}),
    );
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert!(docs.is_empty());
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].id.as_deref(), Some("folder:Fhidden"));
    assert!(
        failures[0].message.contains("google_primary_admin"),
        "{}",
        failures[0].message
    );
}

/// A configured folder not shared with the admin (Drive lists it to the admin as empty and
/// answers its `files.get` with 404) is read as a user of the domain who can see it: the
/// directory's users are asked in turn until one's `files.get` answers, and the folder, its
/// subfolder and their files are listed and downloaded as that user. A folder nobody asked can
/// see stays a failure naming it and `google_primary_admin`.
#[tokio::test]
async fn a_folder_hidden_from_the_admin_is_read_as_a_user_who_can_see_it() {
    const BOB: &str = "bob@example.com";
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_directory(&server, &["alice@example.com", BOB, "carol@example.com"], 2).await;
    mount_listing(&server, |who, q, _| {
        let as_bob = who == BOB;
        Some(if q.starts_with("'Fhidden' in parents") && as_bob {
            vec![
                file("h1", Some("dave@other.com"), json!({})),
                file(
                    "Fsub",
                    Some(BOB),
                    json!({"mimeType": "application/vnd.google-apps.folder"}),
                ),
            ]
        } else if q.starts_with("'Fsub' in parents") && as_bob {
            vec![file("h2", Some(BOB), json!({}))]
        } else {
            // What Drive lists to a user who cannot see the folder: nothing, no error.
            vec![]
        })
    })
    .await;
    let looked_up: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = Arc::clone(&looked_up);
    Mock::given(method("GET"))
        .and(path_regex(r"^/drive/v3/files/F[a-z]+$"))
        .respond_with(move |req: &Request| {
            let id = req
                .url
                .path()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let who = caller(req).unwrap_or_default();
            record.lock().unwrap().push((id.clone(), who.clone()));
            if id == "Fhidden" && who == BOB {
                ResponseTemplate::new(200).set_body_json(json!({"id": id}))
            } else {
                ResponseTemplate::new(404).set_body_json(google_error(
                    404,
                    "notFound",
                    "NOT_FOUND",
                    &format!("File not found: {id}."),
                ))
            }
        })
        .mount(&server)
        .await;
    let downloads = mount_downloads(&server).await;
    let c = build(
        &server.uri(),
        json!({"shared_folder_urls": "https://drive.google.com/drive/folders/Fhidden, https://drive.google.com/drive/folders/Fnobody"}),
    );
    let (docs, failures) = collect_load(c.as_ref()).await;
    let mut got: Vec<&str> = docs
        .iter()
        .map(|d| d.metadata["file_id"].as_str().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, ["h1", "h2"]);
    let mut downloaded = downloads.lock().unwrap().clone();
    downloaded.sort();
    assert_eq!(
        downloaded,
        [
            ("h1".to_owned(), BOB.to_owned()),
            ("h2".to_owned(), BOB.to_owned())
        ]
    );
    // The admin first, then the directory's users in turn, up to the first who sees it.
    let asked = |folder: &str| -> Vec<String> {
        looked_up
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _)| id == folder)
            .map(|(_, who)| who.clone())
            .collect()
    };
    assert_eq!(asked("Fhidden"), [ADMIN, "alice@example.com", BOB]);
    assert_eq!(
        asked("Fnobody"),
        [ADMIN, "alice@example.com", BOB, "carol@example.com"]
    );
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].id.as_deref(), Some("folder:Fnobody"));
    assert!(
        failures[0].message.contains("google_primary_admin"),
        "{}",
        failures[0].message
    );
}
