//! The local folder connector against real folders in a temporary directory.
//!
//! Folders are built with blocking `std::fs` *outside* the async runtime; every test drives
//! the connector on its own current-thread runtime through [`block_on`].
#![cfg(feature = "local")]
// Helpers that build the fixture folders are not `#[test]` functions themselves; a setup step
// that fails should fail its test loudly, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::fs;
use std::num::{NonZeroU32, NonZeroU64};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{
    CheckpointedConnector, Connector, Content, Document, ErrorKind, Failure, FingerprintLookup,
    LoadConnector, PollConnector, RefetchConnector, Registry, SlimConnector, SyncContext,
    TimeWindow,
};
use connector_misc::local::{LocalCheckpoint, LocalConfig, LocalConnector, SOURCE};
use futures::StreamExt;
use tempfile::TempDir;

const MAX: u64 = 1024;

/// Every file of [`tree`] that loads as a document, in walk order.
const DOCS: &[&str] = &[
    "a/nested/deep.json",
    "a/x.md",
    "a.txt",
    "b.pdf",
    "noext",
    "page.html",
    "ünïcödé/日本.md",
];

/// Every file of [`tree`] the default filters accept, in walk order (what `list_ids` gives).
const ALL: &[&str] = &[
    "a/nested/deep.json",
    "a/x.md",
    "a.txt",
    "b.pdf",
    "bad.txt",
    "big.log",
    "noext",
    "page.html",
    "ünïcödé/日本.md",
];

const PDF: &[u8] = b"%PDF-1.4\n\xff\x00\x01binary";

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Noon on 2025-01-`day`.
fn day(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, day, 12, 0, 0).unwrap()
}

fn set_mtime(path: &Path, at: DateTime<Utc>) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(at.into())
        .unwrap();
}

fn write(root: &Path, rel: &str, data: &[u8], at: DateTime<Utc>) -> PathBuf {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, data).unwrap();
    set_mtime(&path, at);
    path
}

/// Nested folders, unicode names, an empty folder, a binary file, a text file that is not
/// UTF-8, a file over the cap, hidden files; each file modified on its own day.
fn tree() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a/nested/deep.json", b"{\"deep\": true}", day(1));
    write(root, "a/x.md", b"# x", day(2));
    write(root, "a.txt", b"alpha", day(3));
    write(root, "b.pdf", PDF, day(4));
    write(root, "bad.txt", b"ok \xff\xfe then broken", day(5));
    write(
        root,
        "big.log",
        &vec![b'x'; usize::try_from(MAX).unwrap() + 1],
        day(6),
    );
    fs::create_dir(root.join("empty")).unwrap();
    write(root, "noext", b"plain", day(7));
    write(root, "page.html", b"<p>hi</p>", day(8));
    write(root, "ünïcödé/日本.md", "こんにちは".as_bytes(), day(9));
    write(root, ".hidden.md", b"hidden", day(10));
    write(root, ".git/config", b"[core]", day(11));
    dir
}

fn config(root: &Path) -> LocalConfig {
    let mut config = LocalConfig::new(root);
    config.max_file_size = NonZeroU64::new(MAX).unwrap();
    config.page_size = NonZeroU32::new(3).unwrap();
    config
}

fn connector(config: LocalConfig) -> LocalConnector {
    LocalConnector::new(config).unwrap()
}

struct Loaded {
    docs: Vec<Document>,
    failures: Vec<Failure>,
    pages: usize,
}

impl Loaded {
    fn ids(&self) -> Vec<&str> {
        self.docs.iter().map(|d| d.id.as_str()).collect()
    }

    fn failed_ids(&self) -> Vec<Option<&str>> {
        self.failures.iter().map(|f| f.id.as_deref()).collect()
    }

    fn doc(&self, id: &str) -> &Document {
        self.docs
            .iter()
            .find(|d| d.id == id)
            .unwrap_or_else(|| panic!("no document `{id}`"))
    }
}

async fn load_with(c: &LocalConnector, ctx: SyncContext) -> Loaded {
    let mut stream = c.load(ctx);
    let mut loaded = Loaded {
        docs: Vec::new(),
        failures: Vec::new(),
        pages: 0,
    };
    while let Some(page) = stream.next().await {
        let page = page.unwrap();
        loaded.pages += 1;
        loaded.docs.extend(page.documents);
        loaded.failures.extend(page.failures);
    }
    loaded
}

async fn load(c: &LocalConnector) -> Loaded {
    load_with(c, SyncContext::new()).await
}

async fn slim_ids(c: &LocalConnector) -> connector_core::Result<Vec<String>> {
    let mut stream = c.list_ids(SyncContext::new());
    let mut ids = Vec::new();
    while let Some(page) = stream.next().await {
        ids.extend(page?.into_iter().map(|s| s.id));
    }
    Ok(ids)
}

async fn poll_ids(c: &LocalConnector, window: TimeWindow) -> (Vec<String>, Vec<String>) {
    let mut stream = c.poll(window, SyncContext::new());
    let (mut ids, mut failed) = (Vec::new(), Vec::new());
    while let Some(page) = stream.next().await {
        let page = page.unwrap();
        ids.extend(page.documents.into_iter().map(|d| d.id));
        failed.extend(page.failures.into_iter().filter_map(|f| f.id));
    }
    (ids, failed)
}

async fn resume_ids(c: &LocalConnector, from: LocalCheckpoint) -> Vec<String> {
    let mut stream = c.load_from_checkpoint(from, None, SyncContext::new());
    let mut ids = Vec::new();
    while let Some(page) = stream.next().await {
        ids.extend(page.unwrap().batch.documents.into_iter().map(|d| d.id));
    }
    ids
}

/// Asserts `err` is of `kind` and names the config field `path`.
fn assert_names_path(err: &connector_core::Error, kind: ErrorKind) {
    assert_eq!((err.kind(), err.field()), (kind, Some("path")), "{err}");
}

/// Whether this process reads files whatever their permissions (root does).
fn privileged(dir: &Path) -> bool {
    let probe = dir.join("probe");
    fs::write(&probe, b"x").unwrap();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o000)).unwrap();
    let readable = fs::read(&probe).is_ok();
    fs::remove_file(&probe).unwrap();
    readable
}

#[test]
fn load_yields_every_file_in_walk_order() {
    let dir = tree();
    let c = connector(config(dir.path()));
    let loaded = block_on(load(&c));
    assert_eq!(loaded.ids(), DOCS);
    assert_eq!(loaded.failed_ids(), [Some("bad.txt"), Some("big.log")]);
    assert!(
        loaded.pages >= 3,
        "page_size 3 over 9 files gave {} pages",
        loaded.pages
    );

    let a = loaded.doc("a.txt");
    let abs = dir.path().join("a.txt");
    assert_eq!(a.content.as_text(), Some("alpha"));
    assert_eq!(a.title, "a.txt");
    assert_eq!(a.source, SOURCE);
    assert_eq!(a.updated_at, Some(day(3)));
    assert_eq!(a.size_bytes, 5);
    assert_eq!(a.link, Some(url::Url::from_file_path(&abs).unwrap()));
    assert_eq!(a.metadata["path"], abs.display().to_string());
    assert_eq!(a.metadata["size"], 5);
    assert_eq!(a.metadata["extension"], "txt");
    let nanos = day(3).timestamp_nanos_opt().unwrap();
    assert_eq!(
        a.fingerprint,
        Document::version_fingerprint(&format!("5:{nanos}"))
    );

    match &loaded.doc("b.pdf").content {
        Content::Bytes {
            data,
            mime,
            extension,
        } => {
            assert_eq!(data.as_ref(), PDF);
            assert_eq!(mime, "application/pdf");
            assert_eq!(extension.as_deref(), Some("pdf"));
        }
        other => panic!("b.pdf should be bytes: {other:?}"),
    }
    match &loaded.doc("noext").content {
        Content::Bytes {
            mime, extension, ..
        } => {
            assert_eq!(mime, "application/octet-stream");
            assert_eq!(*extension, None);
        }
        other => panic!("noext should be bytes: {other:?}"),
    }
    assert_eq!(
        loaded.doc("noext").metadata["extension"],
        serde_json::Value::Null
    );
    match &loaded.doc("page.html").content {
        Content::Bytes { mime, .. } => assert_eq!(mime, "text/html"),
        other => panic!("HTML goes to the host's parser as bytes: {other:?}"),
    }
    let jp = loaded.doc("ünïcödé/日本.md");
    assert_eq!(
        (jp.title.as_str(), jp.content.as_text()),
        ("日本.md", Some("こんにちは"))
    );
    assert_eq!(
        loaded.doc("a/nested/deep.json").content.as_text(),
        Some("{\"deep\": true}")
    );

    let bad = &loaded.failures[0];
    assert_eq!(bad.kind, ErrorKind::InvalidData);
    assert!(
        bad.message.contains("bad.txt") && bad.message.contains("UTF-8"),
        "{}",
        bad.message
    );
    assert!(!bad.retryable);
    let big = &loaded.failures[1];
    assert!(
        big.message.contains("big.log") && big.message.contains("1025"),
        "{}",
        big.message
    );
    assert!(big.message.contains("max_file_size"), "{}", big.message);
    assert_eq!(
        big.link,
        Some(url::Url::from_file_path(dir.path().join("big.log")).unwrap())
    );

    // The same folder gives the same documents, whoever asks and how often.
    let again = block_on(load(&connector(config(dir.path()))));
    assert_eq!(again.docs, loaded.docs);
}

#[test]
fn list_ids_lists_every_file_a_load_could_produce() {
    let dir = tree();
    let c = connector(config(dir.path()));
    assert_eq!(block_on(slim_ids(&c)).unwrap(), ALL);
}

#[test]
fn ids_do_not_depend_on_where_the_folder_is() {
    let dir = tree();
    let moved = tempfile::tempdir().unwrap();
    let target = moved.path().join("elsewhere");
    fs::rename(dir.path(), &target).unwrap();
    let c = connector(config(&target));
    assert_eq!(block_on(load(&c)).ids(), DOCS);
    fs::rename(&target, dir.path()).unwrap();
}

fn filtered(dir: &Path, edit: impl FnOnce(&mut LocalConfig)) -> Vec<String> {
    let mut cfg = config(dir);
    edit(&mut cfg);
    block_on(slim_ids(&connector(cfg))).unwrap()
}

#[test]
fn include_exclude_globs_and_extensions() {
    let dir = tree();
    let root = dir.path();
    assert_eq!(
        filtered(root, |c| c.include = vec!["*.md".into()]),
        ["a/x.md", "ünïcödé/日本.md"]
    );
    assert_eq!(
        filtered(root, |c| c.include = vec!["a/**".into()]),
        ["a/nested/deep.json", "a/x.md"]
    );
    assert_eq!(
        filtered(root, |c| c.include = vec!["a/*".into()]),
        ["a/x.md"]
    );
    assert_eq!(
        filtered(root, |c| c.include = vec!["/a.txt".into()]),
        ["a.txt"]
    );
    assert_eq!(
        filtered(root, |c| c.exclude =
            vec!["a".into(), "*.pdf".into(), "b*".into()]),
        ["a.txt", "noext", "page.html", "ünïcödé/日本.md"],
        "excluding the folder `a` keeps the file `a.txt`"
    );
    assert_eq!(
        filtered(root, |c| {
            c.include = vec!["**/*.md".into(), "*.json".into()];
            c.exclude = vec!["ünïcödé/**".into()];
        }),
        ["a/nested/deep.json", "a/x.md"]
    );
    assert_eq!(
        filtered(root, |c| c.extensions = vec!["MD".into(), ".json".into()]),
        ["a/nested/deep.json", "a/x.md", "ünïcödé/日本.md"]
    );
    // Hidden files and folders only when asked for; they sort first (`.` is before letters).
    let with_hidden = filtered(root, |c| c.include_hidden = true);
    assert_eq!(&with_hidden[..2], [".git/config", ".hidden.md"]);
    assert_eq!(&with_hidden[2..], ALL);

    // Loads honour the same filters as listings.
    let mut cfg = config(root);
    cfg.extensions = vec!["txt".into()];
    let loaded = block_on(load(&connector(cfg)));
    assert_eq!(loaded.ids(), ["a.txt"]);
    assert_eq!(loaded.failed_ids(), [Some("bad.txt")]);
}

#[test]
fn poll_window_is_half_open_on_the_modification_time() {
    let dir = tree();
    let c = connector(config(dir.path()));
    let (ids, failed) = block_on(poll_ids(&c, TimeWindow::new(day(2), day(4)).unwrap()));
    assert_eq!(
        ids,
        ["a/x.md", "a.txt"],
        "day 2 is in, day 4 (b.pdf) is out"
    );
    assert!(failed.is_empty());
    let (ids, failed) = block_on(poll_ids(&c, TimeWindow::new(day(5), day(7)).unwrap()));
    assert!(ids.is_empty(), "{ids:?}");
    assert_eq!(failed, ["bad.txt", "big.log"]);
    let (ids, _) = block_on(poll_ids(&c, TimeWindow::new(day(3), day(3)).unwrap()));
    assert!(ids.is_empty(), "an empty window yields nothing");
}

#[test]
fn resuming_from_every_checkpoint_yields_exactly_the_rest() {
    let dir = tree();
    let c = connector(config(dir.path()));
    let pages = block_on(async {
        let mut stream = c.load_from_checkpoint(c.initial_checkpoint(), None, SyncContext::new());
        let mut pages = Vec::new();
        while let Some(page) = stream.next().await {
            pages.push(page.unwrap());
        }
        pages
    });
    let all: Vec<String> = pages
        .iter()
        .flat_map(|p| p.batch.documents.iter().map(|d| d.id.clone()))
        .collect();
    assert_eq!(all, DOCS);
    assert_eq!(
        pages.last().unwrap().checkpoint,
        LocalCheckpoint::after("ünïcödé/日本.md")
    );
    for (i, page) in pages.iter().enumerate() {
        let json = serde_json::to_value(&page.checkpoint).unwrap();
        let back: LocalCheckpoint = serde_json::from_value(json).unwrap();
        assert_eq!(back, page.checkpoint);
        let expected: Vec<String> = pages[i + 1..]
            .iter()
            .flat_map(|p| p.batch.documents.iter().map(|d| d.id.clone()))
            .collect();
        assert_eq!(
            block_on(resume_ids(&c, back)),
            expected,
            "resuming after page {i}"
        );
    }
    assert_eq!(
        serde_json::to_value(LocalCheckpoint::after("a/x.md")).unwrap(),
        serde_json::json!({"after": "a/x.md"})
    );
    assert_eq!(
        serde_json::to_value(LocalCheckpoint::start()).unwrap(),
        serde_json::json!({"after": null})
    );

    // A checkpoint in the middle of a folder: the walk skips what sorts before it, even
    // folders it does not enter at all, and includes `a.txt`, which sorts after `a/…`.
    let rest = block_on(resume_ids(&c, LocalCheckpoint::after("a/nested/deep.json")));
    assert_eq!(rest, &DOCS[1..]);
}

#[test]
fn unchanged_files_are_not_read_again() {
    let dir = tree();
    let root = dir.path();
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let c: Arc<dyn Connector> = Arc::new(connector(config(root)));
    let before = Utc.with_ymd_and_hms(2024, 12, 1, 0, 0, 0).unwrap();

    let first = block_on(
        Syncer::new(c.clone())
            .sink(sink.clone())
            .state(store.clone())
            .at(before)
            .run(SyncMode::Full),
    )
    .unwrap();
    assert_eq!((first.new, first.failed), (DOCS.len() as u64, 2));

    // Same size, same modification time, other bytes: only a read would notice.
    let a = write(root, "a.txt", b"ALPHA", day(3));
    let second = block_on(
        Syncer::new(c.clone())
            .sink(sink.clone())
            .state(store.clone())
            .at(day(20))
            .run(SyncMode::Incremental),
    )
    .unwrap();
    // The window starts the source's two seconds of overlap before the last end (the file
    // system's clock is coarser than the sync's).
    assert_eq!(
        second.window,
        Some(TimeWindow::new(before - chrono::TimeDelta::seconds(2), day(20)).unwrap())
    );
    assert_eq!(second.unchanged, DOCS.len() as u64, "{second:?}");
    assert_eq!(
        (second.new, second.updated, second.delivered),
        (0, 0, 0),
        "{second:?}"
    );
    assert_eq!(
        sink.get("a.txt").unwrap().content.as_text(),
        Some("alpha"),
        "a.txt was read again"
    );

    // A real change moves the modification time: read, delivered as updated.
    set_mtime(&a, day(25));
    let third = block_on(
        Syncer::new(c)
            .sink(sink.clone())
            .state(store)
            .options(SyncOptions::default().overlap(std::time::Duration::from_secs(60 * 86_400)))
            .at(day(26))
            .run(SyncMode::Auto),
    )
    .unwrap();
    assert_eq!(third.mode, SyncMode::Incremental);
    assert_eq!(third.updated, 1, "{third:?}");
    assert_eq!(third.unchanged, DOCS.len() as u64 - 1, "{third:?}");
    assert_eq!(sink.get("a.txt").unwrap().content.as_text(), Some("ALPHA"));
}

#[test]
fn prune_deletes_what_the_folder_no_longer_has() {
    let dir = tree();
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let c: Arc<dyn Connector> = Arc::new(connector(config(dir.path())));
    let opts = SyncOptions::default().prune(true);
    let first = block_on(
        Syncer::new(c.clone())
            .sink(sink.clone())
            .state(store.clone())
            .options(opts.clone())
            .run(SyncMode::Full),
    )
    .unwrap();
    assert_eq!(first.deleted, 0);
    assert_eq!(sink.len(), DOCS.len());

    fs::remove_file(dir.path().join("a/x.md")).unwrap();
    let second = block_on(
        Syncer::new(c)
            .sink(sink.clone())
            .state(store)
            .options(opts)
            .run(SyncMode::Full),
    )
    .unwrap();
    assert_eq!(second.deleted, 1);
    assert_eq!(sink.deleted(), ["a/x.md"]);
    assert!(sink.get("a/x.md").is_none());
    assert_eq!(sink.len(), DOCS.len() - 1);
}

#[test]
fn bad_config_names_every_field() {
    use connector_core::config::from_json;
    let err = from_json::<LocalConfig>(serde_json::json!({
        "path": "/data",
        "include": ["*.md", "a[b"],
        "exclude": ["{x", "ok/**"],
        "extensions": ["", "md", "a/b"],
    }))
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        ["include[1]", "exclude[0]", "extensions[0]", "extensions[2]"],
        "{err}"
    );
    assert!(err.problems()[0].message.contains("a[b"), "{err}");

    let err = from_json::<LocalConfig>(serde_json::json!({
        "pth": "/data", "include": "*.md", "page_size": 0, "max_file_size": -1, "follow_symlinks": "perhaps",
    }))
    .unwrap_err();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "path",
        "pth",
        "include",
        "page_size",
        "max_file_size",
        "follow_symlinks",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}: {err}"
        );
    }
    assert!(err.to_string().contains("did you mean `path`"), "{err}");

    let err = from_json::<LocalConfig>(serde_json::json!({ "path": "" })).unwrap_err();
    assert_eq!(err.problems()[0].path, "path");

    let cfg: LocalConfig = from_json(serde_json::json!({ "path": "/data" })).unwrap();
    assert_eq!(cfg, LocalConfig::new("/data"));
    assert_eq!(
        (
            cfg.max_file_size.get(),
            cfg.page_size.get(),
            cfg.follow_symlinks,
            cfg.include_hidden
        ),
        (20 << 20, 256, false, false)
    );

    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let err = registry
        .build(
            "local",
            serde_json::json!({ "path": "/data", "include": ["["] }),
        )
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.problems()[0].path.as_str()),
        (ErrorKind::Config, "include[0]")
    );
    // An unknown field does not hide what `validate` finds.
    let err = registry
        .build(
            "local",
            serde_json::json!({ "path": "/data", "include": ["["], "bogus": 1 }),
        )
        .unwrap_err();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["bogus", "include[0]"], "{err}");
    let err = LocalConnector::new(LocalConfig::new("")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[test]
fn registry_builds_it_with_every_capability() {
    let dir = tree();
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    assert!(
        registry.sources().contains(&"local"),
        "{:?}",
        registry.sources()
    );
    assert_eq!(
        registry.description("local").unwrap(),
        "a folder on this machine"
    );
    assert!(registry.schema("local").unwrap()["properties"]["max_file_size"].is_object());
    let c = registry
        .build("local", serde_json::json!({ "path": dir.path() }))
        .unwrap();
    assert_eq!(c.to_string(), format!("local:{}", dir.path().display()));
    assert_eq!(c.capabilities(), connector_core::Capabilities::all());
    assert!(c.as_load().is_some() && c.as_poll().is_some() && c.as_checkpointed().is_some());
    assert!(c.as_slim().is_some() && c.as_refetch().is_some());
    block_on(c.check()).unwrap();
}

#[test]
fn check_and_sync_name_the_path_field() {
    let dir = tree();
    let missing = connector(config(&dir.path().join("nope")));
    let err = block_on(missing.check()).unwrap_err();
    assert_names_path(&err, ErrorKind::NotFound);
    assert!(err.to_string().contains("nope"), "{err}");

    let file = connector(config(&dir.path().join("a.txt")));
    let err = block_on(file.check()).unwrap_err();
    assert_names_path(&err, ErrorKind::NotFound);
    assert!(err.to_string().contains("not a folder"), "{err}");

    // A sync of a missing folder fails as a whole; it is not an empty folder.
    let err = block_on(async {
        let mut stream = missing.load(SyncContext::new());
        stream.next().await.unwrap().unwrap_err()
    });
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::NotFound, Some("path"))
    );
    let err = block_on(slim_ids(&file)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let sync = block_on(Syncer::new(Arc::new(missing)).run(SyncMode::Full)).unwrap_err();
    assert_eq!(sync.kind(), ErrorKind::NotFound);

    if !privileged(dir.path()) {
        let locked = dir.path().join("a");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        let err = block_on(connector(config(&locked)).check()).unwrap_err();
        assert_names_path(&err, ErrorKind::PermissionDenied);
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn unreadable_file_or_folder_is_a_failure_naming_it() {
    let dir = tree();
    let root = dir.path();
    let privileged = privileged(root);
    fs::set_permissions(root.join("a.txt"), fs::Permissions::from_mode(0o000)).unwrap();
    write(root, "locked/inside.md", b"in", day(12));
    fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    let c = connector(config(root));
    let loaded = block_on(load(&c));
    let listed = block_on(slim_ids(&c));
    fs::set_permissions(root.join("a.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o755)).unwrap();

    if privileged {
        // Running as root: permissions do not stop reads, so the weaker claim is all there is.
        assert!(loaded.ids().contains(&"a.txt") && loaded.ids().contains(&"locked/inside.md"));
        assert!(listed.unwrap().contains(&"locked/inside.md".to_owned()));
        return;
    }
    let failure = loaded
        .failures
        .iter()
        .find(|f| f.id.as_deref() == Some("a.txt"))
        .unwrap();
    assert_eq!(failure.kind, ErrorKind::PermissionDenied);
    assert!(failure.message.contains("a.txt"), "{}", failure.message);
    let folder = loaded.failures.iter().find(|f| f.id.is_none()).unwrap();
    assert!(folder.message.contains("locked"), "{}", folder.message);
    assert!(
        loaded.ids().contains(&"b.pdf"),
        "the sync goes on after the failure"
    );
    // An id listing that would miss the locked folder's files must fail, or prune would
    // delete them.
    assert_eq!(listed.unwrap_err().kind(), ErrorKind::PermissionDenied);
}

/// A fingerprint lookup that changes the folder when the connector asks it, between the walk
/// and the reads of a page.
struct Meddle {
    root: PathBuf,
    done: AtomicBool,
}

#[async_trait]
impl FingerprintLookup for Meddle {
    async fn fingerprints(
        &self,
        _ids: &[String],
    ) -> connector_core::Result<HashMap<String, String>> {
        if !self.done.swap(true, Ordering::SeqCst) {
            tokio::fs::remove_file(self.root.join("a.txt"))
                .await
                .unwrap();
            tokio::fs::create_dir(self.root.join("a.txt"))
                .await
                .unwrap();
            tokio::fs::remove_file(self.root.join("a/x.md"))
                .await
                .unwrap();
        }
        Ok(HashMap::new())
    }
}

#[test]
fn a_file_that_changes_between_walk_and_read_is_a_failure_or_gone() {
    let dir = tree();
    let c = connector(config(dir.path()));
    let meddle = Arc::new(Meddle {
        root: dir.path().to_path_buf(),
        done: AtomicBool::new(false),
    });
    let loaded = block_on(load_with(&c, SyncContext::new().with_fingerprints(meddle)));
    let failure = loaded
        .failures
        .iter()
        .find(|f| f.id.as_deref() == Some("a.txt"))
        .unwrap();
    assert_eq!(failure.kind, ErrorKind::InvalidData);
    assert!(
        failure.message.contains("a.txt") && failure.message.contains("regular file"),
        "{}",
        failure.message
    );
    // The deleted file is simply gone (prune deals with it); everything else still comes.
    assert_eq!(
        loaded.ids(),
        [
            "a/nested/deep.json",
            "b.pdf",
            "noext",
            "page.html",
            "ünïcödé/日本.md"
        ]
    );
}

#[test]
fn links_are_skipped_unless_followed_and_dangling_ones_are_failures() {
    use std::os::unix::fs::symlink;
    let dir = tree();
    let root = dir.path();
    symlink(root.join("a.txt"), root.join("link.txt")).unwrap();
    symlink(root.join("nowhere"), root.join("dangling.md")).unwrap();
    symlink(root.join("a"), root.join("a/nested/loop")).unwrap();

    let plain = connector(config(root));
    assert_eq!(block_on(load(&plain)).ids(), DOCS);
    assert!(
        block_on(load(&plain))
            .failures
            .iter()
            .all(|f| f.id.is_some())
    );

    let mut cfg = config(root);
    cfg.follow_symlinks = true;
    let following = connector(cfg);
    let loaded = block_on(load(&following));
    assert!(loaded.ids().contains(&"link.txt"));
    assert_eq!(loaded.doc("link.txt").content.as_text(), Some("alpha"));
    let dangling = loaded
        .failures
        .iter()
        .find(|f| f.message.contains("dangling.md"))
        .unwrap();
    assert_eq!(
        (dangling.kind, dangling.id.as_deref()),
        (ErrorKind::NotFound, None)
    );
    assert!(
        loaded.failures.iter().any(|f| f.message.contains("loop")),
        "{:?}",
        loaded.failures
    );
    // Neither is a file that could be a document: the listing stays complete without them.
    let ids = block_on(slim_ids(&following)).unwrap();
    assert!(ids.contains(&"link.txt".to_owned()) && !ids.contains(&"dangling.md".to_owned()));
}

#[test]
fn names_that_are_not_utf8_and_special_files() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tree();
    let root = dir.path();
    fs::write(
        root.join(OsStr::from_bytes(b"caf\xe9.txt")),
        b"latin-1 name",
    )
    .unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(root.join("pipe.txt"))
        .status()
        .is_ok_and(|s| s.success());

    let c = connector(config(root));
    let loaded = block_on(load(&c));
    assert_eq!(
        loaded.ids(),
        DOCS,
        "a FIFO is no document (and reading it would block)"
    );
    let failure = loaded
        .failures
        .iter()
        .find(|f| f.message.contains("caf"))
        .unwrap();
    assert_eq!(
        (failure.kind, failure.id.as_deref()),
        (ErrorKind::InvalidData, None)
    );
    assert!(failure.message.contains("UTF-8"), "{}", failure.message);
    assert_eq!(block_on(slim_ids(&c)).unwrap(), ALL);
    if !fifo {
        eprintln!("mkfifo is not available: the FIFO case was not exercised");
    }
}

#[test]
fn fetch_reads_those_paths_and_nothing_else() {
    let dir = tree();
    fs::create_dir(dir.path().join("folder.txt")).unwrap();
    let c = connector(config(dir.path()));
    let ids: Vec<String> = [
        "ünïcödé/日本.md",
        "a.txt",
        "gone.txt",
        "../a.txt",
        "/etc/hostname",
        "a/../a.txt",
        ".hidden.md",
        "a",
        "folder.txt",
        "bad.txt",
        "big.log",
        "",
    ]
    .map(String::from)
    .to_vec();
    let (docs, failures) = block_on(async {
        let mut stream = c.fetch(ids, SyncContext::new());
        let (mut docs, mut failures) = (Vec::new(), Vec::new());
        while let Some(page) = stream.next().await {
            let page = page.unwrap();
            docs.extend(page.documents);
            failures.extend(page.failures);
        }
        (docs, failures)
    });
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["ünïcödé/日本.md", "a.txt"]);
    let loaded = block_on(load(&c));
    assert_eq!(docs[1], *loaded.doc("a.txt"));
    let failed: Vec<Option<&str>> = failures.iter().map(|f| f.id.as_deref()).collect();
    assert_eq!(failed, [Some("bad.txt"), Some("big.log")]);
}

#[test]
fn cancelled_context_stops_with_an_error() {
    let dir = tree();
    let c = connector(config(dir.path()));
    let ctx = SyncContext::new();
    ctx.cancellation().cancel();
    let first = block_on(async { c.load(ctx.clone()).next().await.unwrap() });
    assert_eq!(first.unwrap_err().kind(), ErrorKind::Cancelled);
    let listed = block_on(async { c.list_ids(ctx).next().await.unwrap() });
    assert_eq!(listed.unwrap_err().kind(), ErrorKind::Cancelled);
}

/// A page whose documents pass 32 MiB is handed on in parts: each part's checkpoint is after
/// its last file, the page's last part carries the page's own; resuming from a part's
/// checkpoint yields exactly the rest.
#[test]
fn a_page_of_large_files_is_handed_on_in_parts() {
    const SIZE: usize = 17 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.bin", "b.bin", "c.bin"] {
        write(dir.path(), name, &vec![b'x'; SIZE], day(1));
    }
    let mut config = LocalConfig::new(dir.path());
    config.max_file_size = NonZeroU64::new(20 * 1024 * 1024).unwrap();
    let c = connector(config);
    let parts: Vec<(Vec<String>, Option<String>)> = block_on(
        c.load_from_checkpoint(LocalCheckpoint::start(), None, SyncContext::new())
            .map(|part| {
                let part = part.unwrap();
                let ids = part.batch.documents.iter().map(|d| d.id.clone()).collect();
                (ids, part.checkpoint.after)
            })
            .collect(),
    );
    let ids = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        parts,
        [
            (ids(&["a.bin", "b.bin"]), Some("b.bin".to_owned())),
            (ids(&["c.bin"]), Some("c.bin".to_owned())),
        ]
    );
    assert_eq!(
        block_on(resume_ids(&c, LocalCheckpoint::after("b.bin"))),
        ["c.bin"]
    );
}
