//! The WebDAV connector against two real servers that disagree on hrefs and ETags: `rclone
//! serve webdav` (quoted ETags) and wsgidav (unquoted ETags, 404 propstats for the properties a
//! folder lacks), each mounted under `/dav`. Install them with `bash .ci/test-servers.sh`.
#![cfg(feature = "webdav")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod webdav_common;

use std::num::{NonZeroU32, NonZeroU64};

use chrono::Utc;
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{ErrorKind, SyncContext};
use futures::StreamExt;
use webdav_common::{Kind, PASS, Server, day, write};

const MAX: u64 = 1000;

/// Six files in three folders, names that need encoding, an image, an oversize file and a text
/// file that is not UTF-8.
fn seed(server: &Server) {
    let root = server.root();
    write(&root, "docs/a b%.md", b"# A b", 1);
    write(
        &root,
        "docs/sub dir/\u{e9}t\u{e9}.txt",
        "\u{e9}t\u{e9}".as_bytes(),
        2,
    );
    write(&root, "docs/sub dir/deep/z.md", b"zed", 3);
    write(&root, "docs/report.pdf", b"%PDF-1.4 \xff\x00", 4);
    write(&root, "docs/photo.png", b"\x89PNG", 5);
    write(&root, "docs/big.log", &vec![b'x'; 2 * MAX as usize], 6);
    write(&root, "docs/bad.txt", b"not \xff UTF-8", 7);
    write(&root, "outside.md", b"not under remote_path", 8);
    std::fs::create_dir_all(root.join("docs/empty")).unwrap();
}

fn config(server: &Server) -> connector_misc::webdav::WebdavConfig {
    let mut config = server.config("/docs");
    config.max_file_size = NonZeroU64::new(MAX).unwrap();
    config.page_size = NonZeroU32::new(2).unwrap();
    config
}

fn id(server: &Server, rel: &str) -> String {
    format!(
        "webdav:{}:docs/{rel}",
        server.base_url().as_str().trim_end_matches('/')
    )
}

async fn walk_and_sync(kind: Kind) {
    let server = tokio::task::spawn_blocking(move || Server::start(kind))
        .await
        .unwrap();
    seed(&server);
    let connector = server.connector(config(&server));
    connector.check().await.expect("check");

    let sink = MemorySink::new();
    let state = MemoryStateStore::new();
    let syncer = Syncer::new(connector.clone())
        .sink(sink.clone())
        .state(state.clone());
    let report = syncer.run(SyncMode::Full).await.expect("full sync");
    let mut ids = sink.ids();
    ids.sort();
    let mut want = vec![
        id(&server, "a b%.md"),
        id(&server, "report.pdf"),
        id(&server, "sub dir/deep/z.md"),
        id(&server, "sub dir/\u{e9}t\u{e9}.txt"),
    ];
    want.sort();
    assert_eq!(ids, want, "{kind:?}");
    let failed: Vec<_> = report
        .failures
        .iter()
        .filter_map(|f| f.id.clone())
        .collect();
    assert_eq!(
        failed,
        vec![id(&server, "bad.txt"), id(&server, "big.log")],
        "{kind:?}: {:?}",
        report.failures
    );
    assert_eq!(report.failures[1].kind, ErrorKind::Unsupported);
    let doc = sink.get(&id(&server, "sub dir/\u{e9}t\u{e9}.txt")).unwrap();
    assert_eq!(doc.content.as_text(), Some("\u{e9}t\u{e9}"));
    assert_eq!(doc.title, "sub dir/\u{e9}t\u{e9}.txt");
    assert_eq!(doc.updated_at, Some(day(2)));
    assert_eq!(doc.access, None);
    assert_eq!(
        doc.link.as_ref().map(url::Url::as_str),
        Some(format!("{}docs/sub%20dir/%C3%A9t%C3%A9.txt", server.base_url()).as_str())
    );
    assert!(doc.metadata.contains_key("etag"), "{kind:?} lists ETags");
    // Folders listed: docs, docs/empty, docs/sub dir, docs/sub dir/deep; files fetched: the
    // four documents and the non-UTF-8 one (the oversize one is refused by its listed size).
    assert_eq!(report.requests, 4 + 5, "{kind:?}");

    // Nothing changed: every file is skipped by its ETag; only the listings are requested.
    let report = syncer.run(SyncMode::Reconcile).await.expect("reconcile");
    assert_eq!(
        (report.unchanged, report.new, report.updated),
        (4, 0, 0),
        "{kind:?}"
    );
    // Unchanged files cost no GET; the file that failed (not UTF-8) is tried again.
    assert_eq!(report.requests, 4 + 1, "{kind:?}");

    // An edit now: the incremental window (on getlastmodified) takes it and only it.
    let path = server.root().join("docs/sub dir/deep/z.md");
    std::fs::write(&path, b"zed, edited").unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(Utc::now().into()).unwrap();
    let report = syncer
        .run(SyncMode::Incremental)
        .await
        .expect("incremental");
    assert_eq!((report.updated, report.new), (1, 0), "{kind:?}: {report:?}");
    let doc = sink.get(&id(&server, "sub dir/deep/z.md")).unwrap();
    assert_eq!(doc.content.as_text(), Some("zed, edited"));

    // A file copied in with its old mtime (`cp -p`, rclone, a desktop client's X-OC-MTIME)
    // and a renamed folder (its files keep their mtimes, under new ids): both long before the
    // window, both delivered by the incremental run, by their ETags and new ids.
    write(&server.root(), "docs/new.md", b"old but new here", 1);
    std::fs::rename(
        server.root().join("docs/sub dir/deep"),
        server.root().join("docs/sub dir/deeper"),
    )
    .unwrap();
    let report = syncer
        .run(SyncMode::Incremental)
        .await
        .expect("incremental");
    assert_eq!(report.new, 2, "{kind:?}: {report:?}");
    assert!(sink.get(&id(&server, "new.md")).is_some(), "{kind:?}");
    assert!(
        sink.get(&id(&server, "sub dir/deeper/z.md")).is_some(),
        "{kind:?}"
    );

    // A deleted file is pruned, and the renamed folder's old id; nothing else is.
    std::fs::remove_file(server.root().join("docs/report.pdf")).unwrap();
    let syncer = Syncer::new(connector.clone())
        .sink(sink.clone())
        .state(state.clone())
        .options(SyncOptions::default().max_prune_fraction(1.0));
    let pruned = syncer.prune().await.expect("prune");
    assert_eq!(pruned.deleted, 2, "{kind:?}: {pruned:?}");
    assert!(sink.get(&id(&server, "report.pdf")).is_none());
    assert!(sink.get(&id(&server, "sub dir/deep/z.md")).is_none());
}

#[tokio::test]
async fn rclone_walk_and_sync() {
    walk_and_sync(Kind::Rclone).await;
}

#[tokio::test]
async fn wsgidav_walk_and_sync() {
    walk_and_sync(Kind::Wsgidav).await;
}

async fn errors_are_told_apart(kind: Kind) {
    let server = tokio::task::spawn_blocking(move || Server::start(kind))
        .await
        .unwrap();
    seed(&server);
    // A wrong password: 401, naming the credential.
    let mut config = config(&server);
    config.credentials.password = "wrong".into();
    let err = server.connector(config).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{kind:?}: {err}");
    assert_eq!(err.field(), Some("credentials.password"), "{err}");
    // A folder that is not there.
    let err = server
        .connector(server.config("/nowhere"))
        .check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{kind:?}: {err}");
    // A file given as the folder.
    let err = server
        .connector(server.config("/outside.md"))
        .check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{kind:?}: {err}");
    // A missing folder fails the sync and the id listing: never an empty snapshot.
    let connector = server.connector(server.config("/nowhere"));
    let err = Syncer::new(connector.clone())
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{kind:?}: {err}");
    let mut ids = connector.as_slim().unwrap().list_ids(SyncContext::new());
    assert!(ids.next().await.unwrap().is_err());
    // The password is in no error.
    assert!(!format!("{err} {err:?}").contains(PASS));
}

#[tokio::test]
async fn rclone_errors_are_told_apart() {
    errors_are_told_apart(Kind::Rclone).await;
}

#[tokio::test]
async fn wsgidav_errors_are_told_apart() {
    errors_are_told_apart(Kind::Wsgidav).await;
}

/// wsgidav taking Digest only (its `accept_basic: false`): with `auth_scheme: "digest"` the
/// whole tree is read, its challenge answered (the server checks the answer); with the default
/// Basic, `check()` names the setting to change; a wrong password is `Unauthenticated`.
#[tokio::test]
async fn digest_only_server() {
    let server = tokio::task::spawn_blocking(Server::start_digest)
        .await
        .unwrap();
    seed(&server);
    let mut digest = config(&server);
    digest.auth_scheme = connector_misc::webdav::AuthScheme::Digest;
    let connector = server.connector(digest.clone());
    connector.check().await.unwrap();
    let sink = MemorySink::new();
    let report = Syncer::new(connector)
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    let doc = sink.get(&id(&server, "sub dir/\u{e9}t\u{e9}.txt")).unwrap();
    assert_eq!(doc.content.as_text(), Some("\u{e9}t\u{e9}"));
    assert_eq!(sink.ids().len(), 4, "{:?}", sink.ids());
    // One challenge for the whole run: later requests answer it up front.
    assert!(
        report.requests < 2 * (report.delivered + 4),
        "{} requests for {} files",
        report.requests,
        report.delivered
    );

    let err = server.connector(config(&server)).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert_eq!(err.field(), Some("auth_scheme"), "{err}");

    let mut wrong = digest;
    wrong.credentials.password = "not-the-password".into();
    let err = server.connector(wrong).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(!format!("{err:?}").contains(PASS));
}
