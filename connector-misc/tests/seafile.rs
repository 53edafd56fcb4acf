//! The SeaFile connector against the wiremock SeaFile of `seafile_common` (written from the
//! Web API reference): both token kinds, the three scopes, object-id fingerprints, the size
//! cap, download links, 401/403/404 error bodies, 429 with `Retry-After`, a file changed
//! between its listing and its download, an encrypted library, resume and refetch.
#![cfg(feature = "seafile")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod seafile_common;

use std::sync::Arc;

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{CheckpointedConnector, Connector, ErrorKind, Registry, SyncContext};
use futures::StreamExt;
use seafile_common::*;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn run(c: &Arc<dyn Connector>, store: &MemoryStateStore, mode: SyncMode) -> MemorySink {
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(day(28))
        .run(mode)
        .await
        .expect("the sync runs");
    sink
}

fn is_link(p: &str) -> bool {
    p.ends_with("/file/") || p.ends_with("/download-link/")
}

fn is_download(p: &str) -> bool {
    p.starts_with("/seafhttp/files/")
}

#[tokio::test]
async fn an_account_sync_reads_every_library_once_with_access_and_links() {
    let sf = seafile(&handbook_files(), &team_files());
    let server = serve(&sf).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 7, "{:?}", sink.ids());

    let intro = sink.get(&id(HANDBOOK, "/guide/intro.md")).expect("intro");
    assert_eq!(intro.title, "intro.md");
    assert_eq!(intro.content.as_text(), Some("# Intro"));
    assert_eq!(intro.updated_at, Some(day(1)));
    assert_eq!(intro.metadata["library"], "Handbook");
    assert_eq!(intro.metadata["path"], "/guide/intro.md");
    assert_eq!(
        intro.link.as_ref().map(|u| u.as_str().to_owned()),
        Some(format!(
            "{}/lib/{HANDBOOK}/file/guide/intro.md",
            server.uri()
        ))
    );
    let access = intro.access.as_ref().expect("an own library's access");
    assert_eq!(access.emails, [ME]);
    assert_eq!(intro.owners, [ME]);

    // Shared personally and through group 70: listed twice, read once, both facts kept.
    let plan = sink.get(&id(TEAM, "/plan.md")).expect("plan");
    let access = plan.access.as_ref().expect("a shared library's access");
    assert_eq!(access.emails, ["lian@lian.com", ME]);
    assert_eq!(access.groups, ["70"]);
    assert_eq!(plan.owners, ["lian@lian.com"]);

    // A name that needs encoding, in the link and in the API request.
    let ete = sink
        .get(&id(HANDBOOK, "/notes/\u{e9}t\u{e9} #1.md"))
        .expect("été");
    assert_eq!(ete.content.as_text(), Some("\u{e9}t\u{e9}"));
    assert!(
        ete.link
            .as_ref()
            .unwrap()
            .as_str()
            .ends_with("/notes/%C3%A9t%C3%A9%20%231.md")
    );

    // One download link and one download per file.
    assert_eq!(requests_to(&server, is_link).await, 7);
    assert_eq!(requests_to(&server, is_download).await, 7);
    // The encrypted library is a failure naming it; nothing of it is requested.
    let (_, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].message.contains("Vault"),
        "{}",
        failures[0].message
    );
    assert!(failures[0].message.contains("encrypted"));
    assert_eq!(
        requests_to(&server, |p| p.contains(VAULT)).await,
        0,
        "an encrypted library is not listed"
    );
}

#[tokio::test]
async fn unchanged_files_are_not_downloaded_and_edits_are_found_by_mtime() {
    let sf = seafile(&handbook_files(), &team_files());
    let server = serve(&sf).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    assert_eq!(requests_to(&server, is_link).await, 7);

    // A reconcile run lists everything: every object id is known, so no link is asked for.
    let sink = run(&c, &store, SyncMode::Reconcile).await;
    assert_eq!(sink.len(), 0);
    assert_eq!(requests_to(&server, is_link).await, 7);

    // An edit gives a new object id and mtime: the incremental run takes only that file.
    sf.edit(HANDBOOK, "/guide.txt", b"see the guide", 29);
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(day(30))
        .run(SyncMode::Incremental)
        .await
        .expect("the incremental run");
    assert_eq!(sink.ids(), [id(HANDBOOK, "/guide.txt")]);
    assert_eq!(requests_to(&server, is_link).await, 8);
    assert_eq!(requests_to(&server, is_download).await, 8);
}

#[tokio::test]
async fn a_library_token_reads_its_library_through_via_repo_token() {
    let sf = seafile(&handbook_files(), &team_files());
    let server = serve(&sf).await;
    let c = build(
        &server.uri(),
        json!({"sync_scope": "library", "repo_id": HANDBOOK,
               "credentials": {"seafile_token": "", "repo_token": REPO_TOKEN}}),
    );
    c.check().await.expect("the repo token is accepted");
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 6, "{:?}", sink.ids());
    let intro = sink.get(&id(HANDBOOK, "/guide/intro.md")).unwrap();
    assert_eq!(intro.content.as_text(), Some("# Intro"));
    assert_eq!(intro.metadata["library"], "Handbook");
    // repo-info/ names the library only: no access, no owner.
    assert!(intro.access.is_none());
    assert!(intro.owners.is_empty());
    assert_eq!(requests_to(&server, |p| p.starts_with("/api2/")).await, 0);
    assert_eq!(
        requests_to(&server, |p| p.ends_with("/download-link/")).await,
        6
    );
}

#[tokio::test]
async fn a_repo_token_for_another_library_is_a_config_error_naming_repo_id() {
    let server = serve(&seafile(&handbook_files(), &team_files())).await;
    let c = build(
        &server.uri(),
        json!({"sync_scope": "library", "repo_id": TEAM,
               "credentials": {"repo_token": REPO_TOKEN}}),
    );
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("repo_id"), "{e}");
}

#[tokio::test]
async fn a_directory_scope_reads_only_that_folder() {
    let server = serve(&seafile(&handbook_files(), &team_files())).await;
    for creds in [
        json!({"seafile_token": ACCOUNT_TOKEN}),
        json!({"repo_token": REPO_TOKEN}),
    ] {
        let c = build(
            &server.uri(),
            json!({"sync_scope": "directory", "repo_id": HANDBOOK, "sync_path": "guide/",
                   "credentials": creds}),
        );
        c.check().await.expect("the folder exists");
        let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
        assert_eq!(
            sink.ids(),
            [
                id(HANDBOOK, "/guide/intro.md"),
                id(HANDBOOK, "/guide/setup/install.md")
            ]
        );
    }
    let missing = build(
        &server.uri(),
        json!({"sync_scope": "directory", "repo_id": HANDBOOK, "sync_path": "/nope"}),
    );
    let e = missing.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("sync_path"));
}

#[tokio::test]
async fn wrong_tokens_missing_permission_and_missing_libraries_are_told_apart() {
    let server = serve(&seafile(&handbook_files(), &team_files())).await;
    let wrong = build(
        &server.uri(),
        json!({"credentials": {"seafile_token": "wrong-token-1"}}),
    );
    let e = wrong.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.field(), Some("credentials.seafile_token"));
    assert!(e.to_string().contains("Invalid token"), "{e}");

    let wrong_repo = build(
        &server.uri(),
        json!({"sync_scope": "library", "credentials": {"repo_token": "wrong-token-2"}}),
    );
    let e = wrong_repo.check().await.unwrap_err();
    assert_eq!(e.field(), Some("credentials.repo_token"));

    let missing = build(
        &server.uri(),
        json!({"sync_scope": "library", "repo_id": "00000000-0000-0000-0000-000000000000"}),
    );
    let e = missing.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("repo_id"));
    assert!(e.to_string().contains("Library not found"), "{e}");

    let denied = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"error_msg": "Permission denied."})),
        )
        .mount(&denied)
        .await;
    let c = build(&denied.uri(), json!({}));
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert_eq!(e.field(), Some("credentials.seafile_token"));
    assert!(e.to_string().contains("Permission denied."), "{e}");
    assert!(!format!("{e:?}{e}").contains(ACCOUNT_TOKEN));

    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
}

#[tokio::test]
async fn throttling_is_waited_out() {
    let sf = seafile(&handbook_files(), &team_files());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api2/repos/{HANDBOOK}/dir/")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(
                    json!({"detail": "Request was throttled. Expected available in 1 second."}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &sf).await;
    let c = build(&server.uri(), json!({}));
    let started = std::time::Instant::now();
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.len(), 7);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
}

#[tokio::test]
async fn a_failed_listing_of_the_configured_library_ends_the_sync_instead_of_an_empty_page() {
    let sf = seafile(&handbook_files(), &team_files());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api2/repos/{TEAM}/dir/")))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"error_msg": "Permission denied."})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &sf).await;
    let c = build(
        &server.uri(),
        json!({"sync_scope": "library", "repo_id": TEAM}),
    );
    let e = Syncer::new(c)
        .sink(MemorySink::new())
        .state(MemoryStateStore::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
}

#[tokio::test]
async fn a_folder_gone_or_forbidden_mid_walk_does_not_end_the_sync() {
    let sf = seafile(&handbook_files(), &team_files());
    let server = MockServer::start().await;
    // Deleted between the listing of `/guide` and its own.
    Mock::given(method("GET"))
        .and(path(format!("/api2/repos/{HANDBOOK}/dir/")))
        .and(query_param("p", "/guide/setup"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error_msg": "Folder /guide/setup/ not found."})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    // A shared library the account may see but not list (a folder permission, say).
    Mock::given(method("GET"))
        .and(path(format!("/api2/repos/{TEAM}/dir/")))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"error_msg": "Permission denied."})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &sf).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let mut ids = sink.ids();
    ids.sort();
    let mut want: Vec<String> = [
        "/guide/intro.md",
        "/guide.txt",
        "/data/table.csv",
        "/report.pdf",
        "/notes/\u{e9}t\u{e9} #1.md",
    ]
    .iter()
    .map(|p| id(HANDBOOK, p))
    .collect();
    want.sort();
    assert_eq!(ids, want);

    let (_, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    let team = failures
        .iter()
        .find(|f| f.kind == ErrorKind::PermissionDenied)
        .expect("the unlistable library's failure");
    assert!(team.message.contains("Team:/"), "{}", team.message);
    // The forbidden library may still hold files: nothing may be pruned.
    let slim = c.roles().as_slim().expect("slim");
    let listed: Vec<_> = slim.list_ids(SyncContext::new()).collect().await;
    assert!(
        listed.iter().any(Result::is_err),
        "list_ids must not come back short"
    );
}

#[tokio::test]
async fn oversize_files_fail_before_any_link() {
    let mut files = handbook_files();
    files.push(("/big.bin", file(&[7u8; 4096], 3)));
    let server = serve(&seafile(&files, &team_files())).await;
    let c = build(&server.uri(), json!({"max_file_size": 1000}));
    let (_, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    let big = failures
        .into_iter()
        .find(|f| f.id.as_deref() == Some(id(HANDBOOK, "/big.bin").as_str()))
        .expect("the big file's failure");
    assert!(big.message.contains("4096 bytes"), "{}", big.message);
    assert_eq!(
        requests_to(&server, |p| p.ends_with("/file/")).await,
        7,
        "no link for the big file"
    );
}

#[tokio::test]
async fn a_file_changed_between_listing_and_download_keeps_the_version_it_holds() {
    let sf = seafile(&handbook_files(), &team_files());
    sf.change_on_link.lock().unwrap().push((
        HANDBOOK.into(),
        "/guide.txt".into(),
        b"edited meanwhile".to_vec(),
    ));
    let server = serve(&sf).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    let doc = sink.get(&id(HANDBOOK, "/guide.txt")).expect("guide.txt");
    assert_eq!(doc.content.as_text(), Some("edited meanwhile"));
    assert_eq!(doc.metadata["changed_since_listing"], true);
    assert_eq!(doc.size_bytes, 16);
    let links = requests_to(&server, is_link).await;
    // The next run lists the new object id, which is the one stored: nothing is fetched.
    let sink = run(&c, &store, SyncMode::Reconcile).await;
    assert_eq!(sink.len(), 0);
    assert_eq!(requests_to(&server, is_link).await, links);
}

#[tokio::test]
async fn a_library_token_on_an_encrypted_library_is_a_failure_naming_it() {
    let mut sf = seafile(&handbook_files(), &team_files());
    sf.repo_token_lib = VAULT.into();
    let server = serve(&sf).await;
    let c = build(
        &server.uri(),
        json!({"sync_scope": "library", "credentials": {"repo_token": REPO_TOKEN}}),
    );
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    assert!(docs.is_empty());
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].message.contains("Vault"),
        "{}",
        failures[0].message
    );
}

#[tokio::test]
async fn a_resumed_walk_relists_only_the_folders_on_the_way() {
    let server = serve(&seafile(&handbook_files(), &team_files())).await;
    let c = connector_misc::seafile::SeafileConnector::new(
        connector_core::config::from_json(config(&server.uri(), json!({}))).unwrap(),
    )
    .unwrap();
    let from =
        connector_misc::seafile::SeafileCheckpoint::after(HANDBOOK, "/guide/setup/install.md");
    let batches: Vec<_> = c
        .load_from_checkpoint(from, None, SyncContext::new())
        .collect()
        .await;
    let ids: Vec<String> = batches
        .into_iter()
        .flat_map(|b| b.unwrap().batch.documents)
        .map(|d| d.id)
        .collect();
    assert_eq!(
        ids,
        [
            id(HANDBOOK, "/guide.txt"),
            id(HANDBOOK, "/notes/\u{e9}t\u{e9} #1.md"),
            id(HANDBOOK, "/report.pdf"),
            id(TEAM, "/plan.md"),
        ]
    );
    let listed: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/dir/"))
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "p")
                .unwrap()
                .1
                .into_owned()
        })
        .collect();
    // `/data` is entirely before the position: never listed.
    assert_eq!(listed, ["/", "/guide", "/guide/setup", "/notes", "/"]);
}

#[tokio::test]
async fn refetch_lists_the_folder_again_and_skips_what_is_gone_or_outside() {
    let server = serve(&seafile(&handbook_files(), &team_files())).await;
    let c = build(
        &server.uri(),
        json!({"sync_scope": "directory", "repo_id": HANDBOOK, "sync_path": "/guide"}),
    );
    let refetch = c.roles().as_refetch().expect("refetch");
    let batches: Vec<_> = refetch
        .fetch(
            vec![
                id(HANDBOOK, "/guide/setup/install.md"),
                id(HANDBOOK, "/guide/gone.md"),
                id(HANDBOOK, "/report.pdf"),
                "webdav:x:/a".into(),
            ],
            SyncContext::new(),
        )
        .collect()
        .await;
    let docs: Vec<_> = batches
        .into_iter()
        .flat_map(|b| b.unwrap().documents)
        .collect();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].id, id(HANDBOOK, "/guide/setup/install.md"));
    assert_eq!(docs[0].content.as_text(), Some("Install it."));
}

#[tokio::test]
async fn a_document_snapshot() {
    let server = serve(&seafile(&handbook_files(), &team_files())).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let doc = sink.get(&id(TEAM, "/plan.md")).unwrap();
    let shown = serde_json::to_string(&doc)
        .unwrap()
        .replace(&server.uri(), "https://seafile.example.com");
    let json: serde_json::Value = serde_json::from_str(&shown).unwrap();
    insta::assert_json_snapshot!("seafile_shared_document", json);
}

#[test]
fn ragflow_config_is_accepted() {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    // What RAGFlow's form stores for each scope (hidden fields sent blank).
    for config in [
        json!({"seafile_url": "https://seafile.example.com", "sync_scope": "account",
               "include_shared": true, "batch_size": 100,
               "credentials": {"seafile_token": "tok", "repo_token": ""},
               "repo_id": "", "sync_path": ""}),
        json!({"seafile_url": "https://seafile.example.com", "sync_scope": "library",
               "repo_id": "7a9e1b3c-4d5f-6a7b-8c9d-0e1f2a3b4c5d",
               "credentials": {"seafile_token": "", "repo_token": "rtok"}}),
        json!({"seafile_url": "https://seafile.example.com", "sync_scope": "directory",
               "repo_id": "7a9e1b3c-4d5f-6a7b-8c9d-0e1f2a3b4c5d", "sync_path": "/Documents/Reports",
               "include_shared": true, "batch_size": "2",
               "credentials": {"seafile_token": "tok"}}),
    ] {
        let built = registry.build("seafile", config.clone());
        assert!(built.is_ok(), "{config}: {:?}", built.err());
    }
    let e = registry
        .build(
            "seafile",
            json!({"seafile_url": "https://s.example.com", "sync_scope": "directory",
                   "credentials": {"seafile_token": "tok"}}),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("repo_id") && e.contains("sync_path"), "{e}");
    let e = registry
        .build(
            "seafile",
            json!({"seafile_url": "https://s.example.com", "credentials": {"repo_token": "r"}}),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("credentials.seafile_token"), "{e}");
}

#[tokio::test]
async fn files_uploaded_or_moved_with_old_mtimes_are_found_by_the_next_incremental_run() {
    let sf = seafile(&handbook_files(), &team_files());
    let server = serve(&sf).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    let links = requests_to(&server, is_link).await;

    // A desktop client uploads a file with its local mtime (day 2), and `/guide.txt` is
    // moved, which keeps its mtime (day 3): both long before the window from day 28 on.
    sf.edit(HANDBOOK, "/old upload.md", b"written offline", 2);
    {
        let mut libs = sf.libs.lock().unwrap();
        let lib = libs.iter_mut().find(|l| l.id == HANDBOOK).unwrap();
        let moved = lib.files.remove("/guide.txt").unwrap();
        lib.files.insert("/archive/guide.txt".into(), moved);
        lib.commit();
    }
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(day(30))
        .run(SyncMode::Incremental)
        .await
        .expect("the incremental run");
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(
        ids,
        [
            id(HANDBOOK, "/archive/guide.txt"),
            id(HANDBOOK, "/old upload.md")
        ]
    );
    assert_eq!(
        sink.get(&id(HANDBOOK, "/old upload.md"))
            .unwrap()
            .updated_at,
        Some(day(2))
    );
    // Only those two are fetched; every other file is skipped by its object id.
    assert_eq!(requests_to(&server, is_link).await, links + 2);
}

#[tokio::test]
async fn an_incremental_run_does_not_walk_a_library_unchanged_since_the_window() {
    let sf = seafile(&handbook_files(), &team_files());
    // The encrypted library's failure names no document, so the host holds every window back
    // to it (to the epoch): without it the window starts at the last run.
    sf.libs.lock().unwrap().retain(|l| !l.encrypted);
    let server = serve(&sf).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    let team_listings = || requests_to(&server, |p| p.contains(TEAM) && p.ends_with("/dir/"));
    let before = team_listings().await;
    assert!(before > 0);

    sf.edit(HANDBOOK, "/guide.txt", b"see the guide", COMMIT_DAY);
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(day(30))
        .run(SyncMode::Incremental)
        .await
        .expect("the incremental run");
    assert_eq!(sink.ids(), [id(HANDBOOK, "/guide.txt")]);
    // Team's last commit (day 7) is weeks before the window (from day 28): not listed.
    assert_eq!(team_listings().await, before);
    // A reconcile run walks everything.
    run(&c, &store, SyncMode::Reconcile).await;
    assert!(team_listings().await > before);
}

#[tokio::test]
async fn a_share_removed_re_sends_the_library_with_its_new_access() {
    let sf = seafile(&handbook_files(), &team_files());
    let server = serve(&sf).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    let plan = sink.get(&id(TEAM, "/plan.md")).unwrap();
    assert_eq!(plan.access.as_ref().unwrap().groups, ["70"]);

    // Team is no longer shared with group 70 (the personal share stays): no file changes.
    sf.libs
        .lock()
        .unwrap()
        .iter_mut()
        .find(|l| l.id == TEAM)
        .unwrap()
        .entries
        .retain(|e| e["type"] != "grepo");
    let sink = run(&c, &store, SyncMode::Reconcile).await;
    assert_eq!(
        sink.ids(),
        [id(TEAM, "/plan.md")],
        "only Team's files again"
    );
    let access = sink.get(&id(TEAM, "/plan.md")).unwrap().access.unwrap();
    assert!(access.groups.is_empty(), "{access:?}");
    assert_eq!(access.emails, ["lian@lian.com", ME]);
}

#[tokio::test]
async fn an_account_token_on_one_library_keeps_its_access_and_owner() {
    let server = serve(&seafile(&handbook_files(), &team_files())).await;
    let team = build(
        &server.uri(),
        json!({"sync_scope": "library", "repo_id": TEAM}),
    );
    team.check().await.expect("the library is readable");
    let sink = run(&team, &MemoryStateStore::new(), SyncMode::Full).await;
    let plan = sink.get(&id(TEAM, "/plan.md")).expect("plan");
    let access = plan.access.as_ref().expect("a shared library's access");
    assert_eq!(access.emails, ["lian@lian.com", ME]);
    assert_eq!(access.groups, ["70"]);
    assert_eq!(plan.owners, ["lian@lian.com"]);

    let own = build(
        &server.uri(),
        json!({"sync_scope": "directory", "repo_id": HANDBOOK, "sync_path": "/guide"}),
    );
    let sink = run(&own, &MemoryStateStore::new(), SyncMode::Full).await;
    let intro = sink.get(&id(HANDBOOK, "/guide/intro.md")).expect("intro");
    assert_eq!(intro.access.as_ref().unwrap().emails, [ME]);
    assert_eq!(intro.owners, [ME]);
}

#[tokio::test]
async fn a_spent_one_time_link_is_asked_for_again() {
    let sf = seafile(&handbook_files(), &team_files());
    sf.fail_first_download
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let server = serve(&sf).await;
    let c = build(
        &server.uri(),
        json!({"sync_scope": "library", "credentials": {"repo_token": REPO_TOKEN}}),
    );
    let (docs, failures) = connector_core::testkit::collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(docs.len(), 6);
    // The 502 spent the first token; its retry met 400 and a new link was asked for.
    assert_eq!(
        requests_to(&server, |p| p.ends_with("/download-link/")).await,
        7
    );
}

#[tokio::test]
async fn an_own_library_shared_with_others_is_readable_by_them() {
    let sf = seafile(&handbook_files(), &team_files());
    {
        let mut libs = sf.libs.lock().unwrap();
        let handbook = libs.iter_mut().find(|l| l.id == HANDBOOK).unwrap();
        handbook.user_shares.push("bob@example.com".into());
        handbook.group_shares.push(9);
    }
    let server = serve(&sf).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let intro = sink.get(&id(HANDBOOK, "/guide/intro.md")).unwrap();
    let access = intro.access.as_ref().unwrap();
    assert_eq!(access.emails, [ME, "bob@example.com"]);
    assert_eq!(access.groups, ["9"]);
    // Asked of own libraries only: Team is shared with the account, Vault is encrypted.
    assert_eq!(
        requests_to(&server, |p| p.ends_with("/shared_items/")).await,
        2
    );
    assert_eq!(
        requests_to(&server, |p| p.contains(TEAM)
            && p.ends_with("/shared_items/"))
        .await,
        0
    );
}

#[tokio::test]
async fn a_file_deleted_between_listing_and_download_is_counted_gone() {
    let sf = seafile(&handbook_files(), &team_files());
    let server = MockServer::start().await;
    // Listed in its folder, gone when its download link is asked for.
    Mock::given(method("GET"))
        .and(path(format!("/api2/repos/{HANDBOOK}/file/")))
        .and(query_param("p", "/guide.txt"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error_msg": "File not found"})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, &sf).await;
    let sink = MemorySink::new();
    let report = Syncer::new(build(&server.uri(), json!({})))
        .sink(sink.clone())
        .state(MemoryStateStore::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    let gone = id(HANDBOOK, "/guide.txt");
    assert_eq!(report.gone, 1, "{report:?}");
    assert!(!sink.ids().contains(&gone));
    assert!(
        report.failures.iter().all(|f| f.id.as_ref() != Some(&gone)),
        "{:?}",
        report.failures
    );
}

/// RAGFlow's `credentials.username` and `password`: an account token asked for once
/// (`POST /api2/auth-token/`), then the same reads as with the token; a refused login names
/// `credentials.password` and never shows it.
#[tokio::test]
async fn username_and_password_get_an_account_token_once() {
    let sf = seafile(&handbook_files(), &team_files());
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api2/auth-token/"))
        .and(wiremock::matchers::body_string_contains(
            "username=alice%40example.com",
        ))
        .and(wiremock::matchers::body_string_contains(
            "password=pw-S3cret-123",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token": ACCOUNT_TOKEN})))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api2/auth-token/"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"non_field_errors": ["Unable to login with provided credentials."]}),
        ))
        .with_priority(2)
        .mount(&server)
        .await;
    mount(&server, &sf).await;
    let login = |password: &str| json!({"credentials": {"seafile_token": null, "username": "alice@example.com", "password": password}});
    let with_password = run(
        &build(&server.uri(), login("pw-S3cret-123")),
        &MemoryStateStore::new(),
        SyncMode::Full,
    )
    .await;
    let with_token = run(
        &build(&server.uri(), json!({})),
        &MemoryStateStore::new(),
        SyncMode::Full,
    )
    .await;
    assert!(!with_token.ids().is_empty());
    assert_eq!(with_password.ids(), with_token.ids());

    let e = Syncer::new(build(&server.uri(), login("wrong-Passw0rd-9")))
        .sink(MemorySink::new())
        .state(MemoryStateStore::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert_eq!(e.field(), Some("credentials.password"));
    assert!(e.to_string().contains("Unable to login"), "{e}");
    assert!(!format!("{e} {e:?}").contains("wrong-Passw0rd-9"));
}

#[test]
fn a_username_needs_its_password_and_the_reverse() {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    for (credentials, field) in [
        (
            json!({"username": "alice@example.com"}),
            "credentials.password",
        ),
        (json!({"password": "pw-S3cret-123"}), "credentials.username"),
    ] {
        let cfg = json!({
            "seafile_url": "https://seafile.example.com",
            "credentials": credentials,
        });
        let e = registry.build("seafile", cfg).unwrap_err();
        assert!(e.to_string().contains(field), "{e}");
    }
}
