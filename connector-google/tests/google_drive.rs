//! Google Drive against wiremock fixtures shaped like Google's API reference.
#![cfg(feature = "google_drive")]

mod common;

use std::sync::Arc;

use common::*;
use connector_core::config::from_json;
use connector_core::sink::MemorySink;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::collect_load;
use connector_core::{
    Connector, Content, CredentialStore, ErrorKind, MemoryCredentials, Registry, SyncContext,
    TimeWindow,
};
use connector_google::{GoogleDriveConfig, GoogleDriveConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(uri: &str, tokens: Value, extra: Value) -> Value {
    let mut cfg = json!({
        "credentials": {
            "google_tokens": tokens.to_string(),
            "google_primary_admin": ADMIN,
            "authentication_method": "uploaded"
        },
        "token_uri": format!("{uri}/token"),
        "directory_base_url": uri, "allowed_hosts": ["127.0.0.1"],
        "drive_base_url": uri,
        "sheets_base_url": uri,
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    cfg
}

fn build(cfg: Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_google::register(&mut registry);
    registry.build("google_drive", cfg).expect("a valid config")
}

/// Three users (two per directory page), two shared drives, a shared folder with a subfolder,
/// and files reachable twice (shared with a user and owned by another indexed user; in a
/// folder and in a My Drive).
async fn workspace() -> (MockServer, TokenEndpoint, Drive) {
    workspace_with(TokenEndpoint::default()).await
}

/// [`workspace`] with its token endpoint.
async fn workspace_with(token: TokenEndpoint) -> (MockServer, TokenEndpoint, Drive) {
    let server = MockServer::start().await;
    mount_token(&server, token.clone()).await;
    mount_directory(
        &server,
        &["alice@example.com", "bob@example.com", "carol@example.com"],
        2,
    )
    .await;
    let files = vec![
        DriveFile::new("a1", "alice@example.com", 1),
        DriveFile::new("a2", "alice@example.com", 2).mime("application/vnd.google-apps.document"),
        DriveFile::new("a3", "alice@example.com", 3)
            .mime("application/vnd.google-apps.spreadsheet"),
        DriveFile::new("a4", "alice@example.com", 4).in_folder("F1"),
        DriveFile::new("b1", "bob@example.com", 5),
        DriveFile::new("b2", "bob@example.com", 6).mime("image/png"),
        DriveFile::new("c1", "carol@example.com", 7).shared_with("alice@example.com"),
        DriveFile::new("d1", "admin@example.com", 8).in_drive("0AD1"),
        DriveFile::new("d2", "admin@example.com", 9).in_drive("0AD2"),
        DriveFile::new("F1", "admin@example.com", 10).mime("application/vnd.google-apps.folder"),
        DriveFile::new("F2", "admin@example.com", 11)
            .mime("application/vnd.google-apps.folder")
            .in_folder("F1"),
        DriveFile::new("f1", "ext@other.com", 12).in_folder("F1"),
        DriveFile::new("f2", "ext@other.com", 13).in_folder("F2"),
        DriveFile::new("f3", "ext@other.com", 14)
            .in_folder("F2")
            .shared_with("bob@example.com"),
    ];
    let drive = mount_drive(&server, files, &["0AD1", "0AD2"], 2).await;
    (server, token, drive)
}

/// Every switch on: every user's My Drive and files shared with them, every shared drive.
fn everything(uri: &str) -> Value {
    config(
        uri,
        service_account_key(),
        json!({
            "include_my_drives": true,
            "include_shared_drives": true,
            "include_files_shared_with_me": true,
        }),
    )
}

/// Everything named, as RAGFlow's web form sends it (its `include_my_drives: true` next to the
/// lists, which turn the switches off): three users' My Drives, two shared drives by URL and
/// a shared folder.
fn named(uri: &str) -> Value {
    config(
        uri,
        service_account_key(),
        json!({
            "include_my_drives": true,
            "include_shared_drives": false,
            "include_files_shared_with_me": false,
            "my_drive_emails": "alice@example.com, bob@example.com,carol@example.com",
            "shared_drive_urls": "https://drive.google.com/drive/folders/0AD1,https://drive.google.com/drive/u/0/folders/0AD2",
            "shared_folder_urls": "https://drive.google.com/drive/folders/F1?usp=sharing",
        }),
    )
}

fn file_ids(docs: &[connector_core::Document]) -> Vec<String> {
    let mut ids: Vec<String> = docs
        .iter()
        .map(|d| {
            d.metadata["file_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn switches_walk_every_user_and_drive_with_pagination_exports_and_no_duplicates() {
    let (server, token, drive) = workspace().await;
    let c = build(everything(&server.uri()));
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    // b2 is an image (allow_images is off); c1 comes once (carol's, and shared with alice);
    // f3 is shared with bob; f1 and f2 sit in a folder nobody indexed owns.
    assert_eq!(
        file_ids(&docs),
        vec!["a1", "a2", "a3", "a4", "b1", "c1", "d1", "d2", "f3"]
    );
    let doc = docs.iter().find(|d| d.metadata["file_id"] == "a2").unwrap();
    assert_eq!(doc.id, "https://docs.google.com/document/d/a2/edit");
    assert_eq!(
        doc.content.as_text(),
        Some("content of a2 as text/markdown\n")
    );
    assert_eq!(doc.updated_at, Some(time(2)));
    assert_eq!(doc.owners, vec!["alice@example.com"]);
    let sheet = docs.iter().find(|d| d.metadata["file_id"] == "a3").unwrap();
    assert!(matches!(&sheet.content, Content::Bytes { extension: Some(e), .. } if e == "xlsx"));
    let plain = docs.iter().find(|d| d.metadata["file_id"] == "a1").unwrap();
    assert_eq!(plain.content.as_text(), Some("content of a1"));

    // The JWT assertions: one per (subject, scope), signed by the key, aud = token endpoint.
    let claims = token.claims.lock().unwrap().clone();
    let aud = format!("{}/token", server.uri());
    assert!(
        claims
            .iter()
            .all(|c| c.iss == SA_EMAIL && c.aud == aud && c.exp > c.iat)
    );
    let subs: Vec<(String, String)> = claims
        .iter()
        .map(|c| (c.sub.clone().unwrap_or_default(), c.scope.clone()))
        .collect();
    assert!(
        subs.contains(&(
            ADMIN.into(),
            "https://www.googleapis.com/auth/admin.directory.user.readonly".into()
        )),
        "{subs:?}"
    );
    for u in [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        ADMIN,
    ] {
        assert!(
            subs.contains(&(
                u.into(),
                "https://www.googleapis.com/auth/drive.readonly".into()
            )),
            "{u}: {subs:?}"
        );
    }
    assert_eq!(
        subs.len(),
        5,
        "tokens are cached per subject and scope: {subs:?}"
    );
    let queries = drive.queries.lock().unwrap().clone();
    assert!(
        queries
            .iter()
            .any(|q| q == "not 'me' in owners and trashed = false"),
        "{queries:?}"
    );
    assert!(queries.iter().all(|q| q.contains("trashed = false")));
}

/// RAGFlow's form config: the lists name what to index and its `include_my_drives: true` is
/// ignored, so the other users' My Drives and files shared with anyone stay out, and no
/// directory is listed.
#[tokio::test]
async fn named_users_drives_and_folders_turn_the_switches_off() {
    let (server, _, drive) = workspace().await;
    let c = build(named(&server.uri()));
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    // a4 is alice's and in F1: once. f1..f3 come from the folder crawl (F2 below F1).
    assert_eq!(
        file_ids(&docs),
        vec![
            "a1", "a2", "a3", "a4", "b1", "c1", "d1", "d2", "f1", "f2", "f3"
        ]
    );
    let queries = drive.queries.lock().unwrap().clone();
    assert!(
        queries
            .iter()
            .any(|q| q == "'F2' in parents and trashed = false"),
        "{queries:?}"
    );
    assert!(
        !queries.iter().any(|q| q.contains("not 'me' in owners")),
        "{queries:?}"
    );
    let requests = server.received_requests().await.unwrap();
    assert!(
        !requests
            .iter()
            .any(|r| r.url.path().starts_with("/admin/directory")),
        "the named users need no directory"
    );

    // One user and one folder, as a user fills the form: bob's and carol's My Drives, the
    // shared drives and every other user's files stay out.
    let (server, _, _) = workspace().await;
    let c = build(config(
        &server.uri(),
        service_account_key(),
        json!({
            "include_my_drives": true,
            "my_drive_emails": "alice@example.com",
            "shared_folder_urls": "https://drive.google.com/drive/folders/F2",
        }),
    ));
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(file_ids(&docs), vec!["a1", "a2", "a3", "a4", "f2", "f3"]);
}

/// A service account's My Drives bring each user's files shared with them (RAGFlow turns
/// `include_files_shared_with_me` on for a service account); an OAuth token's do not.
#[tokio::test]
async fn a_service_account_s_my_drives_bring_files_shared_with_each_user() {
    let (server, _, _) = workspace().await;
    let c = build(config(
        &server.uri(),
        service_account_key(),
        json!({"include_my_drives": true, "include_files_shared_with_me": false}),
    ));
    let (docs, _) = collect_load(c.as_ref()).await;
    // f3: owned outside the domain, shared with bob.
    assert_eq!(
        file_ids(&docs),
        vec!["a1", "a2", "a3", "a4", "b1", "c1", "f3"]
    );

    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let drive = mount_drive(
        &server,
        vec![
            DriveFile::new("o1", "oauth@example.com", 1),
            DriveFile::new("x1", "ext@other.com", 2).shared_with("oauth@example.com"),
        ],
        &[],
        10,
    )
    .await;
    let (docs, _) = collect_load(
        build(config(
            &server.uri(),
            user_token(),
            json!({"include_my_drives": true}),
        ))
        .as_ref(),
    )
    .await;
    assert_eq!(file_ids(&docs), vec!["o1"]);
    let (docs, _) = collect_load(
        build(config(
            &server.uri(),
            user_token(),
            json!({"include_my_drives": true, "include_files_shared_with_me": true}),
        ))
        .as_ref(),
    )
    .await;
    assert_eq!(file_ids(&docs), vec!["o1", "x1"]);
    assert!(
        drive
            .queries
            .lock()
            .unwrap()
            .iter()
            .any(|q| q == "not 'me' in owners and trashed = false")
    );
}

/// `include_my_drives` left out is `false` (RAGFlow's backend default), so a config naming
/// only a shared drive indexes that drive alone.
#[tokio::test]
async fn an_absent_include_my_drives_is_false() {
    let (server, _, _) = workspace().await;
    let c = build(config(
        &server.uri(),
        service_account_key(),
        json!({"shared_drive_urls": "0AD2"}),
    ));
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(file_ids(&docs), vec!["d2"]);
}

#[tokio::test]
async fn checkpoints_walk_the_stages_and_resume_mid_stage() {
    let (server, _, _) = workspace().await;
    for (cfg, stages) in [
        (
            everything(&server.uri()),
            &["Users", "MyDrives", "DriveIds", "SharedDrives", "Done"][..],
        ),
        (
            named(&server.uri()),
            &["MyDrives", "SharedDrives", "Folders", "Done"][..],
        ),
    ] {
        resume_mid_stage(cfg, stages).await;
    }
}

/// Walks `cfg` page by page, checks every one of `stages` is seen, and resumes from a page
/// inside the My Drives stage with a page token.
#[allow(clippy::unwrap_used)] // A test's helper: a failure should fail the test loudly.
async fn resume_mid_stage(cfg: Value, stages: &[&str]) {
    let connector =
        GoogleDriveConnector::new(from_json::<GoogleDriveConfig>(cfg).unwrap()).unwrap();
    use connector_core::CheckpointedConnector;
    let pages: Vec<_> = connector
        .load_from_checkpoint(connector.initial_checkpoint(), None, SyncContext::new())
        .map(|p| p.unwrap())
        .collect()
        .await;
    let seen: Vec<String> = pages
        .iter()
        .map(|p| format!("{:?}", p.checkpoint.stage))
        .collect();
    for s in stages {
        assert!(seen.iter().any(|x| x == s), "{s} missing from {seen:?}");
    }
    let (i, mid) = pages
        .iter()
        .enumerate()
        .find(|(_, p)| {
            format!("{:?}", p.checkpoint.stage) == "MyDrives" && p.checkpoint.page_token.is_some()
        })
        .expect("a mid-listing checkpoint");
    let json = serde_json::to_string(&mid.checkpoint).unwrap();
    let back = serde_json::from_str(&json).unwrap();
    let rest: Vec<String> = connector
        .load_from_checkpoint(back, None, SyncContext::new())
        .flat_map(|p| futures::stream::iter(p.unwrap().batch.documents))
        .map(|d| d.id)
        .collect()
        .await;
    let expected: Vec<String> = pages[i + 1..]
        .iter()
        .flat_map(|p| p.batch.documents.iter().map(|d| d.id.clone()))
        .collect();
    assert_eq!(rest, expected);
}

#[tokio::test]
async fn window_goes_into_the_query_and_is_half_open() {
    let (server, _, drive) = workspace().await;
    let c = build(config(
        &server.uri(),
        service_account_key(),
        json!({"include_my_drives": true}),
    ));
    let window = TimeWindow::new(time(2), time(5)).unwrap();
    let mut docs = Vec::new();
    let mut s = c.as_poll().unwrap().poll(window, SyncContext::new());
    while let Some(p) = s.next().await {
        docs.extend(p.unwrap().documents);
    }
    assert_eq!(file_ids(&docs), vec!["a2", "a3", "a4"]);
    let queries = drive.queries.lock().unwrap().clone();
    assert!(queries.iter().any(|q| q.contains("modifiedTime >= '2026-01-15T10:02:00.000Z' and modifiedTime < '2026-01-15T10:05:00.000Z'")), "{queries:?}");
}

#[tokio::test]
async fn oversize_file_is_a_failure_without_download() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let mut big = DriveFile::new("big", "alice@example.com", 1);
    big.size = Some(50 * 1024 * 1024);
    mount_drive(
        &server,
        vec![big, DriveFile::new("ok", "alice@example.com", 2)],
        &[],
        10,
    )
    .await;
    let c = build(config(
        &server.uri(),
        service_account_key(),
        json!({"my_drive_emails": "alice@example.com"}),
    ));
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert_eq!(file_ids(&docs), vec!["ok"]);
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].message.contains("max_file_size"),
        "{failures:?}"
    );
    let requests = server.received_requests().await.unwrap();
    assert!(
        !requests
            .iter()
            .any(|r| r.url.path() == "/drive/v3/files/big"),
        "the big file was downloaded"
    );
}

#[tokio::test]
async fn rate_limit_reasons_in_a_403_are_retried() {
    for reason in ["userRateLimitExceeded", "rateLimitExceeded"] {
        let (server, _, _) = workspace().await;
        let _guard = Mock::given(method("GET"))
            .and(path("/drive/v3/files"))
            .respond_with(ResponseTemplate::new(403).set_body_json(google_error(
                403,
                reason,
                "PERMISSION_DENIED",
                "User Rate Limit Exceeded.",
            )))
            .up_to_n_times(2)
            .with_priority(1)
            .mount_as_scoped(&server)
            .await;
        let report = Syncer::new(build(config(
            &server.uri(),
            service_account_key(),
            json!({"include_my_drives": true}),
        )))
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_or_else(|e| panic!("{reason} was not retried: {e}"));
        // Six owned files and f3, shared with bob (a service account's My Drives bring them).
        assert_eq!(report.delivered, 7, "{report:?}");
        assert!(report.retries >= 2, "{report:?}");
    }
}

#[tokio::test]
async fn unauthorized_fails_fast_naming_the_field() {
    // A 401 to the primary admin (who reads the shared drives) concerns everyone. (A 401 to an
    // impersonated user's listing is that user's: see
    // `a_user_without_drive_or_suspended_is_a_failure_and_the_sync_goes_on`.)
    let (server, _, _) = workspace().await;
    let _guard = Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .respond_with(ResponseTemplate::new(401).set_body_json(google_error(
            401,
            "authError",
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        )))
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let shared_drives = config(
        &server.uri(),
        service_account_key(),
        json!({"include_my_drives": false, "include_shared_drives": true}),
    );
    let err = Syncer::new(build(shared_drives))
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.google_tokens"));
    let lists = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/drive/v3/files")
        .count();
    assert_eq!(
        lists, 2,
        "a 401 is retried once with a new token, and not more"
    );
}

/// An access token revoked before it expires (a password change, a revocation in the Admin
/// console): the 401 drops it from the cache, a new one is minted and the request sent again.
#[tokio::test]
async fn a_401_drops_the_cached_token_and_retries_once() {
    let (server, token, _) = workspace().await;
    let _revoked = Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .respond_with(ResponseTemplate::new(401).set_body_json(google_error(
            401,
            "authError",
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        )))
        .up_to_n_times(1)
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let report = Syncer::new(build(everything(&server.uri())))
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .expect("a revoked access token is replaced");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let alice_drive_tokens = token
        .claims
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.sub.as_deref() == Some("alice@example.com") && c.scope.contains("drive"))
        .count();
    assert_eq!(alice_drive_tokens, 2, "the rejected token was not replaced");
}

/// A token endpoint that rotates the refresh token to `rotate_to`, and a user's My Drive with
/// files `o1` and `o2`.
async fn rotating_server(rotate_to: &str) -> (MockServer, TokenEndpoint) {
    let server = MockServer::start().await;
    let token = TokenEndpoint {
        rotate_to: Some(rotate_to.into()),
        ..TokenEndpoint::default()
    };
    mount_token(&server, token.clone()).await;
    mount_drive(
        &server,
        vec![
            DriveFile::new("o1", "oauth@example.com", 1),
            DriveFile::new("o2", "oauth@example.com", 2),
        ],
        &[],
        1,
    )
    .await;
    (server, token)
}

#[tokio::test]
async fn oauth_refresh_token_rotation_is_saved_before_use() {
    let (server, token) = rotating_server("1//rotated-refresh-token-9e8d").await;
    // As a host reads RAGFlow's stored config (its `authentication_method` ignored).
    let cfg: GoogleDriveConfig = from_json(config(
        &server.uri(),
        user_token(),
        json!({"include_my_drives": true}),
    ))
    .unwrap();
    let store = MemoryCredentials::new();
    let connector = GoogleDriveConnector::new(cfg)
        .unwrap()
        .with_credential_store(Arc::new(store.clone()) as Arc<dyn CredentialStore>);
    let (docs, failures) = collect_load(&connector).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(file_ids(&docs), vec!["o1", "o2"]);
    let saved = store.saved("google_drive", "credentials.google_tokens");
    assert_eq!(saved.len(), 1);
    let saved: Value = serde_json::from_str(saved[0].expose()).unwrap();
    assert_eq!(saved["refresh_token"], "1//rotated-refresh-token-9e8d");
    assert_eq!(
        saved["client_id"], "1234-test.apps.googleusercontent.com",
        "the rest of the token is kept"
    );
    // One refresh for the whole load: the access token is cached.
    assert_eq!(
        token.refreshes.lock().unwrap().clone(),
        vec![REFRESH_TOKEN.to_owned()]
    );
    assert!(!format!("{connector:?}").contains(CLIENT_SECRET));
}

/// RAGFlow's web flow stores the token nested in a string field (`token_json`); a rotation is
/// written inside it, so the next run (which reads the nested token) uses the new one.
#[tokio::test]
async fn a_rotated_refresh_token_of_nested_token_json_is_saved_inside_it() {
    let (server, _) = rotating_server("1//rotated-nested").await;
    let nested = json!({"token_json": user_token().to_string()});
    let connector = build(config(
        &server.uri(),
        nested,
        json!({"include_my_drives": true}),
    ));
    let store = MemoryCredentials::new();
    assert!(connector.set_credential_store(Arc::new(store.clone())));
    let (docs, failures) = collect_load(connector.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(docs.len(), 2);
    let saved = store.saved("google_drive", "credentials.google_tokens");
    assert_eq!(saved.len(), 1);
    let saved: Value = serde_json::from_str(saved[0].expose()).unwrap();
    assert!(saved.get("refresh_token").is_none(), "{saved}");
    let inner: Value = serde_json::from_str(saved["token_json"].as_str().unwrap()).unwrap();
    assert_eq!(inner["refresh_token"], "1//rotated-nested");
    assert_eq!(inner["client_id"], "1234-test.apps.googleusercontent.com");
}

/// A host that builds through the registry reaches the credential store through the boxed
/// connector.
#[tokio::test]
async fn a_registry_built_connector_takes_a_credential_store() {
    let (server, _) = rotating_server("1//rotated-refresh-token-r2").await;
    let connector = build(config(
        &server.uri(),
        user_token(),
        json!({"include_my_drives": true}),
    ));
    let store = MemoryCredentials::new();
    assert!(connector.set_credential_store(Arc::new(store.clone())));
    let (docs, failures) = collect_load(connector.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(docs.len(), 2);
    let saved = store.saved("google_drive", "credentials.google_tokens");
    assert_eq!(saved.len(), 1);
    let saved: Value = serde_json::from_str(saved[0].expose()).unwrap();
    assert_eq!(saved["refresh_token"], "1//rotated-refresh-token-r2");

    let service_account = build(config(
        &server.uri(),
        service_account_key(),
        json!({"include_my_drives": true}),
    ));
    assert!(
        !service_account.set_credential_store(Arc::new(MemoryCredentials::new())),
        "a service-account key does not rotate"
    );
}

#[tokio::test]
async fn expired_tokens_are_refreshed() {
    let server = MockServer::start().await;
    // Lifetime inside the refresh margin: every request needs a new token.
    let token = TokenEndpoint {
        lifetime: 30,
        ..TokenEndpoint::default()
    };
    mount_token(&server, token.clone()).await;
    mount_drive(
        &server,
        vec![
            DriveFile::new("o1", "oauth@example.com", 1),
            DriveFile::new("o2", "oauth@example.com", 2),
        ],
        &[],
        1,
    )
    .await;
    let c = build(config(
        &server.uri(),
        user_token(),
        json!({"include_my_drives": true}),
    ));
    let (docs, _) = collect_load(c.as_ref()).await;
    assert_eq!(docs.len(), 2);
    assert!(token.refreshes.lock().unwrap().len() >= 3);
}

#[tokio::test]
async fn check_tells_a_disabled_api_a_missing_delegation_and_a_bad_key_apart() {
    // Disabled Drive API.
    let (server, _, _) = workspace().await;
    let _guard = Mock::given(method("GET"))
        .and(path("/drive/v3/about"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "code": 403,
            "message": "Google Drive API has not been used in project 1234 before or it is disabled.",
            "errors": [{"message": "Google Drive API has not been used in project 1234 before or it is disabled.", "domain": "usageLimits", "reason": "accessNotConfigured"}],
            "status": "PERMISSION_DENIED",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED", "domain": "googleapis.com"}]
        }})))
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let err = build(everything(&server.uri())).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("API is disabled"), "{err}");
    let (healthy, _, _) = workspace().await;
    build(everything(&healthy.uri())).check().await.unwrap();

    // Missing domain-wide delegation.
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint { fail: Some(("unauthorized_client".into(), "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.".into())), ..TokenEndpoint::default() }).await;
    let err = build(everything(&server.uri())).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("domain-wide delegation"), "{err}");
    assert!(
        err.to_string().contains("112233445566778899000"),
        "names the client id: {err}"
    );

    // A key Google does not know (signature rejected).
    let server = MockServer::start().await;
    mount_token(
        &server,
        TokenEndpoint {
            fail: Some(("invalid_grant".into(), "Invalid JWT Signature.".into())),
            ..TokenEndpoint::default()
        },
    )
    .await;
    let err = build(everything(&server.uri())).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(err.to_string().contains("key was rejected"), "{err}");

    // A key that is not a key at all: a config error before any request.
    let mut key = service_account_key();
    key["private_key"] =
        json!("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
    let mut registry = Registry::new();
    connector_google::register(&mut registry);
    let err = registry
        .build("google_drive", config("http://127.0.0.1:9", key, json!({})))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.problems()[0].path, "credentials.google_tokens");
}

#[tokio::test]
async fn config_accepts_ragflow_fields_and_lists_every_problem() {
    let mut registry = Registry::new();
    connector_google::register(&mut registry);
    // RAGFlow's shape: google_tokens as a JSON string, lists as comma-separated strings.
    let ok = json!({
        "credentials": {"google_tokens": service_account_key().to_string(), "google_primary_admin": ADMIN, "authentication_method": "uploaded"},
        "include_shared_drives": false, "include_my_drives": true, "include_files_shared_with_me": false,
        "shared_drive_urls": "", "my_drive_emails": "", "shared_folder_urls": "https://drive.google.com/drive/folders/abc",
        "specific_user_emails": "", "allow_images": false, "batch_size": 2
    });
    let c = registry.build("google_drive", ok).unwrap();
    assert!(!format!("{c:?}").contains("PRIVATE KEY"));
    // google_tokens as an object works too.
    let obj = json!({"credentials": {"google_tokens": user_token()}, "include_my_drives": true});
    registry.build("google_drive", obj).unwrap();
    // Nothing selected is refused, as in RAGFlow ("Nothing to index").
    let nothing = json!({
        "credentials": {"google_tokens": user_token()},
        "include_my_drives": false, "shared_folder_urls": [], "my_drive_emails": ""
    });
    let err = registry.build("google_drive", nothing).unwrap_err();
    assert_eq!(err.problems()[0].path, "include_my_drives", "{err}");
    assert!(err.to_string().contains("nothing to index"), "{err}");
    let bad = json!({
        "credentials": {"google_tokens": service_account_key()},
        "shared_folder_urls": ["https://example.com/x"],
        "my_drive_emails": "not-an-email",
        "max_file_size": 0,
        "unknown_field": 1
    });
    // The unknown field and every other problem, in one error.
    let err = registry.build("google_drive", bad).unwrap_err();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    for p in [
        "unknown_field",
        "credentials.google_primary_admin",
        "shared_folder_urls[0]",
        "my_drive_emails[0]",
        "max_file_size",
    ] {
        assert!(paths.contains(&p), "{p} missing: {paths:?}");
    }
    assert!(!err.to_string().contains("PRIVATE KEY"));
}

#[tokio::test]
async fn list_ids_matches_a_full_load() {
    let (server, _, _) = workspace().await;
    let c = build(everything(&server.uri()));
    let (docs, _) = collect_load(c.as_ref()).await;
    let mut ids = Vec::new();
    let mut s = c.as_slim().unwrap().list_ids(SyncContext::new());
    while let Some(p) = s.next().await {
        ids.extend(p.unwrap().into_iter().map(|s| s.id));
    }
    let mut expected: Vec<String> = docs.into_iter().map(|d| d.id).collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
    let downloads = server.received_requests().await.unwrap();
    let _ = downloads;
}

#[tokio::test]
async fn a_file_still_rate_limited_after_retries_is_a_failure_and_the_sync_goes_on() {
    // Core's one policy: a rate limit that outlasts the retries fails that file alone (it
    // ended the sync before the page pipeline), as a retryable failure linking to the file.
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_drive(
        &server,
        vec![
            DriveFile::new("busy", "alice@example.com", 1),
            DriveFile::new("ok", "alice@example.com", 2),
        ],
        &[],
        10,
    )
    .await;
    let _limited = Mock::given(method("GET"))
        .and(path("/drive/v3/files/busy"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("Retry-After", "0")
                .set_body_json(google_error(
                    403,
                    "userRateLimitExceeded",
                    "PERMISSION_DENIED",
                    "User Rate Limit Exceeded.",
                )),
        )
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let c = build(config(
        &server.uri(),
        service_account_key(),
        json!({"my_drive_emails": "alice@example.com"}),
    ));
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert_eq!(file_ids(&docs), vec!["ok"]);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let f = &failures[0];
    assert_eq!(f.kind, ErrorKind::RateLimited, "{f:?}");
    assert!(f.retryable, "{f:?}");
    let id = f.id.as_deref().unwrap_or_default();
    assert!(id.contains("/busy/"), "{f:?}");
    assert!(f.message.contains(id), "{f:?}");
    assert_eq!(f.link.as_ref().map(|l| l.as_str()), Some(id), "{f:?}");
}

/// RAGFlow's backend reads a service-account key from `credentials.google_service_account_key`
/// (the form's blank `google_tokens` next to it), and its Go syncer the size cap from
/// `size_threshold`: both work, and mean the same as our names.
#[tokio::test]
async fn ragflow_s_service_account_key_field_and_size_threshold() {
    let server = MockServer::start().await;
    let token = TokenEndpoint::default();
    mount_token(&server, token.clone()).await;
    let mut big = DriveFile::new("big", "alice@example.com", 1);
    big.size = Some(2048);
    mount_drive(
        &server,
        vec![big, DriveFile::new("ok", "alice@example.com", 2)],
        &[],
        10,
    )
    .await;
    let uri = server.uri();
    let c = build(json!({
        "credentials": {
            "google_tokens": "",
            "google_service_account_key": service_account_key().to_string(),
            "google_primary_admin": ADMIN,
            "authentication_method": "uploaded"
        },
        "my_drive_emails": "alice@example.com",
        "size_threshold": "1024",
        "token_uri": format!("{uri}/token"), "directory_base_url": uri, "allowed_hosts": ["127.0.0.1"], "drive_base_url": uri, "sheets_base_url": uri,
    }));
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert_eq!(file_ids(&docs), vec!["ok"]);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].message.contains("1024 bytes"), "{failures:?}");
    // Signed with the key: JWT assertions for alice.
    let claims = token.claims.lock().unwrap().clone();
    assert!(
        claims
            .iter()
            .any(|c| c.sub.as_deref() == Some("alice@example.com")),
        "{claims:?}"
    );
}

/// Tokens RAGFlow accepts in its form but we cannot use are refused with what to do: a
/// client configuration not yet authorised, and an `oauth_interactive` token without its
/// client id and secret (RAGFlow takes them from its environment).
#[test]
fn unusable_tokens_say_what_to_do() {
    let mut registry = Registry::new();
    connector_google::register(&mut registry);
    let client_config = json!({"web": {
        "client_id": "734019284615-acme.apps.googleusercontent.com", "project_id": "acme",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "client_secret": CLIENT_SECRET,
        "redirect_uris": ["https://ragflow.acme.com/v1/connector/google-drive/oauth/web/callback"]
    }});
    let mut sanitised = user_token();
    if let Value::Object(m) = &mut sanitised {
        m.remove("client_id");
        m.remove("client_secret");
    }
    for (tokens, says) in [
        (client_config, "authorise it first"),
        (sanitised, "oauth_interactive"),
    ] {
        let err = registry
            .build(
                "google_drive",
                json!({
                    "credentials": {"google_tokens": tokens.to_string(), "google_primary_admin": ADMIN,
                                    "authentication_method": "oauth_interactive"},
                    "include_my_drives": true,
                }),
            )
            .unwrap_err();
        assert_eq!(err.problems()[0].path, "credentials.google_tokens", "{err}");
        assert!(err.to_string().contains(says), "{err}");
        assert!(!err.to_string().contains(CLIENT_SECRET), "{err}");
    }
}

/// bob has no Drive (Drive answers his `files.list` with 401 `authError`, as it does for a user
/// whose Drive service is off or unlicensed), carol is suspended (the token endpoint refuses
/// `sub=carol` with `invalid_grant` "Invalid email or User ID"): each is a failure naming the
/// user, the others are read, and prune's listing fails rather than come back without them.
#[tokio::test]
async fn a_user_without_drive_or_suspended_is_a_failure_and_the_sync_goes_on() {
    let (server, _, _) = workspace_with(TokenEndpoint {
        refuse: vec![(
            "carol@example.com".into(),
            "invalid_grant".into(),
            "Invalid email or User ID".into(),
        )],
        ..TokenEndpoint::default()
    })
    .await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer tok-bob@example.com",
        ))
        .respond_with(ResponseTemplate::new(401).set_body_json(google_error(
            401,
            "authError",
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        )))
        .with_priority(1)
        .mount(&server)
        .await;
    let c = build(everything(&server.uri()));
    let sink = MemorySink::new();
    let report = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .expect("one user's problem must not end the sync");
    let ids = file_ids(&sink.documents());
    // Alice's files, what is shared with her (carol's c1) and both shared drives.
    for id in ["a1", "c1", "d1", "d2"] {
        assert!(ids.contains(&id.to_owned()), "{id} missing: {ids:?}");
    }
    assert!(!ids.contains(&"b1".to_owned()), "{ids:?}");
    let failed: Vec<(Option<&str>, ErrorKind, bool)> = report
        .failures
        .iter()
        .map(|f| (f.id.as_deref(), f.kind, f.retryable))
        .collect();
    assert_eq!(
        failed,
        [
            (
                Some("my_drive:bob@example.com"),
                ErrorKind::PermissionDenied,
                true
            ),
            (
                Some("shared_with_me:bob@example.com"),
                ErrorKind::PermissionDenied,
                true
            ),
            (
                Some("my_drive:carol@example.com"),
                ErrorKind::PermissionDenied,
                true
            ),
            (
                Some("shared_with_me:carol@example.com"),
                ErrorKind::PermissionDenied,
                true
            ),
        ],
        "{:?}",
        report.failures
    );
    assert!(
        report.failures[0].message.contains("bob@example.com")
            && report.failures[0].message.contains("no Drive")
            && !report.failures[0]
                .message
                .contains("credentials.google_tokens"),
        "{:?}",
        report.failures
    );

    let mut pages = c.as_slim().unwrap().list_ids(SyncContext::new());
    let mut err = None;
    while let Some(page) = pages.next().await {
        if let Err(e) = page {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("a listing without bob's files must fail");
    assert!(err.to_string().contains("bob@example.com"), "{err}");
}

#[tokio::test]
async fn a_missing_delegation_for_a_user_still_ends_the_sync() {
    let (server, _, _) = workspace_with(TokenEndpoint {
        refuse: vec![(
            "alice@example.com".into(),
            "unauthorized_client".into(),
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.".into(),
        )],
        ..TokenEndpoint::default()
    })
    .await;
    let err = Syncer::new(build(everything(&server.uri())))
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("domain-wide delegation"), "{err}");
}

/// `max_file_size` caps downloads, not listings: with 256 KiB, a page of 1,000 files (more
/// than 256 KiB of JSON) is read, and a file over the cap is a failure of its own.
#[tokio::test]
async fn max_file_size_does_not_cap_listing_pages() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let mut files: Vec<DriveFile> = (0..1000)
        .map(|i| {
            DriveFile::new(
                &format!("file-{i:04}-{}", "x".repeat(200)),
                "oauth@example.com",
                1,
            )
        })
        .collect();
    let mut big = DriveFile::new("big", "oauth@example.com", 2);
    big.content = vec![b'a'; 300 * 1024];
    files.push(big);
    mount_drive(&server, files, &[], 1000).await;
    let report = Syncer::new(build(config(
        &server.uri(),
        user_token(),
        json!({"include_my_drives": true, "max_file_size": 262_144}),
    )))
    .sink(MemorySink::new())
    .run(SyncMode::Full)
    .await
    .expect("a listing page larger than max_file_size must not end the sync");
    assert_eq!(report.delivered, 1000, "{report:?}");
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(
        report.failures[0].message.contains("max_file_size"),
        "{:?}",
        report.failures
    );
}

/// A `shared_drive_urls` entry the admin is not a member of: Drive answers 404 `notFound`
/// "Shared drive not found". That drive is a failure naming it; the others are read.
#[tokio::test]
async fn a_shared_drive_the_admin_cannot_read_is_a_failure_and_the_sync_goes_on() {
    let (server, _, _) = workspace().await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .and(wiremock::matchers::query_param("driveId", "0AD1"))
        .respond_with(ResponseTemplate::new(404).set_body_json(google_error(
            404,
            "notFound",
            "NOT_FOUND",
            "Shared drive not found: 0AD1",
        )))
        .with_priority(1)
        .mount(&server)
        .await;
    let sink = MemorySink::new();
    let report = Syncer::new(build(named(&server.uri())))
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .expect("one drive's problem must not end the sync");
    let ids = file_ids(&sink.documents());
    assert!(
        ids.contains(&"d2".to_owned()) && ids.contains(&"f1".to_owned()),
        "{ids:?}"
    );
    assert!(!ids.contains(&"d1".to_owned()), "{ids:?}");
    let failed: Vec<(Option<&str>, ErrorKind)> = report
        .failures
        .iter()
        .map(|f| (f.id.as_deref(), f.kind))
        .collect();
    assert_eq!(
        failed,
        [(Some("drive:0AD1"), ErrorKind::NotFound)],
        "{:?}",
        report.failures
    );
    assert!(
        report.failures[0].message.contains("0AD1"),
        "{:?}",
        report.failures
    );
}

/// A host's fingerprint store after the pages it acknowledged: what core's batch loop commits
/// with each checkpoint.
struct Acknowledged(std::collections::HashMap<String, String>);

#[async_trait::async_trait]
impl connector_core::FingerprintLookup for Acknowledged {
    async fn fingerprints(
        &self,
        ids: &[String],
    ) -> connector_core::Result<std::collections::HashMap<String, String>> {
        Ok(ids
            .iter()
            .filter_map(|id| self.0.get(id).map(|f| (id.clone(), f.clone())))
            .collect())
    }
}

/// The checkpoint is written after every page, so the ids it keeps to emit a file once must
/// not grow with the drive: 1,200 files from outside the domain, shared with both indexed
/// users (12 pages each), are emitted once in a walk, while no checkpoint holds more than
/// [`SEEN_IN_CHECKPOINT`] ids. A walk resumed in the second user's listing, past what the
/// checkpoint holds, meets the files again with the host's fingerprints of what it
/// acknowledged: none is downloaded or delivered again.
#[tokio::test]
#[allow(clippy::unwrap_used)] // A bad fixture should fail the test loudly.
async fn the_checkpoint_s_seen_ids_stay_bounded_across_many_pages() {
    use connector_core::CheckpointedConnector;
    use connector_google::google_drive::SEEN_IN_CHECKPOINT;
    const FILES: usize = 1_200;
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_directory(&server, &["alice@example.com", "bob@example.com"], 2).await;
    let files: Vec<DriveFile> = (0..FILES)
        .map(|i| {
            DriveFile::new(&format!("x{i:04}"), "ext@other.com", 1)
                .shared_with("alice@example.com")
                .shared_with("bob@example.com")
        })
        .collect();
    mount_drive(&server, files, &[], 100).await;
    let cfg = config(
        &server.uri(),
        service_account_key(),
        json!({"include_my_drives": false, "include_shared_drives": false,
            "include_files_shared_with_me": true}),
    );
    let connector =
        GoogleDriveConnector::new(from_json::<GoogleDriveConfig>(cfg).unwrap()).unwrap();
    let pages: Vec<_> = connector
        .load_from_checkpoint(connector.initial_checkpoint(), None, SyncContext::new())
        .map(|p| p.unwrap())
        .collect()
        .await;
    let docs: Vec<_> = pages
        .iter()
        .flat_map(|p| p.batch.documents.clone())
        .collect();
    assert_eq!(docs.len(), FILES, "each file once");
    assert!(pages.len() >= 24, "{} pages", pages.len());
    let largest = pages.iter().map(|p| p.checkpoint.seen.len()).max().unwrap();
    assert_eq!(
        largest, SEEN_IN_CHECKPOINT,
        "the checkpoint's seen set is bounded"
    );
    let bytes = pages
        .iter()
        .map(|p| serde_json::to_string(&p.checkpoint).unwrap().len())
        .max()
        .unwrap();
    assert!(bytes < SEEN_IN_CHECKPOINT * 16 + 1_024, "{bytes} bytes");

    // Resumed inside bob's listing, after its first page.
    let mid = pages
        .iter()
        .filter(|p| p.checkpoint.page_token.as_deref() == Some("p100"))
        .nth(1)
        .expect("a checkpoint inside bob's listing");
    assert!(
        mid.batch.documents.is_empty(),
        "bob's first page is alice's files"
    );
    let acknowledged = Acknowledged(
        docs.iter()
            .map(|d| (d.id.clone(), d.fingerprint.clone()))
            .collect(),
    );
    let ctx = SyncContext::new().with_fingerprints(Arc::new(acknowledged));
    let json = serde_json::to_string(&mid.checkpoint).unwrap();
    let rest: Vec<_> = connector
        .load_from_checkpoint(serde_json::from_str(&json).unwrap(), None, ctx)
        .map(|p| p.unwrap().batch)
        .collect()
        .await;
    let delivered: usize = rest.iter().map(|b| b.documents.len()).sum();
    let unchanged: usize = rest.iter().map(|b| b.unchanged.len()).sum();
    assert_eq!(
        delivered, 0,
        "a resumed walk delivers what was acknowledged again"
    );
    assert_eq!(
        unchanged,
        FILES - SEEN_IN_CHECKPOINT,
        "past the checkpoint's ids, files are skipped by their fingerprints"
    );
}
