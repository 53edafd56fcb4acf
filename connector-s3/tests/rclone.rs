//! Integration tests against a real S3 server, `rclone serve s3` (SigV4 checked, ETags listed).
//! Install it with `bash .ci/test-servers.sh`.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use common::{CountingProxy, Seeder};
use connector_core::sink::{MemorySink, Sink};
use connector_core::state::{MemoryStateStore, StateStore};
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{Batch, Connector, Content, Document, Error, ErrorKind, SyncContext};
use connector_s3::s3::{S3Config, S3Connector};
use futures::StreamExt;

/// A bucket with `n` text objects `doc-00.md` ... on the shared server.
async fn seeded(tag: &str, n: usize) -> (String, Seeder) {
    let server = tokio::task::spawn_blocking(common::shared)
        .await
        .expect("start rclone");
    let seeder = Seeder::new(server.endpoint());
    let bucket = common::bucket_name(tag);
    seeder.create_bucket(&bucket).await;
    for i in 0..n {
        seeder
            .put(
                &bucket,
                &format!("doc-{i:02}.md"),
                format!("# doc {i}\n"),
                None,
            )
            .await;
    }
    (bucket, seeder)
}

fn connector(config: S3Config) -> Arc<dyn Connector> {
    Arc::new(S3Connector::new(config).expect("valid config"))
}

async fn proxied(bucket: &str) -> (CountingProxy, S3Config) {
    let proxy = CountingProxy::start(common::shared().addr).await;
    let config = common::config(proxy.endpoint(), bucket);
    (proxy, config)
}

async fn load_pages(c: &dyn Connector) -> Vec<Batch> {
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let mut pages = Vec::new();
    while let Some(page) = stream.next().await {
        pages.push(page.expect("page"));
    }
    pages
}

#[tokio::test]
async fn pagination_lists_every_page() {
    let (bucket, _) = seeded("pages", 25).await;
    let (proxy, mut config) = proxied(&bucket).await;
    config.page_size = 10.try_into().expect("nonzero");
    let c = connector(config);
    let pages = load_pages(c.as_ref()).await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.documents.len()).collect();
    assert_eq!(sizes, vec![10, 10, 5]);
    let ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.documents.iter().map(|d| d.id.clone()))
        .collect();
    let expected: Vec<String> = (0..25)
        .map(|i| format!("s3_compatible:{bucket}:doc-{i:02}.md"))
        .collect();
    assert_eq!(ids, expected, "documents must keep the listing order");
    let lines = proxy.take();
    // Three pages of ten, and the titles' census of the file names: one listing of 1,000
    // keys a request, taken when the first document needed its title.
    let pages = lines.iter().filter(|l| l.contains("max-keys=10&")).count();
    let census = lines
        .iter()
        .filter(|l| l.contains("max-keys=1000&"))
        .count();
    assert_eq!((pages, census), (3, 1), "{lines:#?}");
    assert_eq!(CountingProxy::lists(&lines), 4, "{lines:#?}");
    assert_eq!(CountingProxy::object_gets(&lines), 25);
}

#[tokio::test]
async fn documents_carry_id_title_link_metadata_and_etag_fingerprint() {
    let (bucket, seeder) = seeded("shape", 0).await;
    seeder
        .put(&bucket, "notes/2026/plan.md", "# Plan\nship it", None)
        .await;
    seeder
        .put(&bucket, "scans/report.pdf", b"%PDF-1.4 fake".to_vec(), None)
        .await;
    seeder
        .put(&bucket, "img/logo.png", vec![137u8, 80, 78, 71], None)
        .await;
    let mut without_images = common::config(common::shared().endpoint(), &bucket);
    without_images.allow_images = Some(false);
    let c = connector(without_images);
    let docs: Vec<Document> = load_pages(c.as_ref())
        .await
        .into_iter()
        .flat_map(|p| p.documents)
        .collect();
    assert_eq!(docs.len(), 2, "images are skipped with allow_images false");
    let md = &docs[0];
    assert_eq!(md.id, format!("s3_compatible:{bucket}:notes/2026/plan.md"));
    assert_eq!(md.title, "plan.md");
    assert_eq!(md.source, "s3_compatible");
    assert_eq!(md.content.as_text(), Some("# Plan\nship it"));
    assert_eq!(
        md.link.as_ref().map(url::Url::as_str),
        Some(format!("{}{bucket}/notes/2026/plan.md", common::shared().endpoint()).as_str())
    );
    assert!(md.updated_at.is_some());
    let etag = md.metadata["etag"].as_str().expect("etag listed");
    assert_eq!(md.fingerprint, Document::version_fingerprint(etag));
    assert_eq!(md.metadata["bucket"], bucket.as_str());
    assert_eq!(md.metadata["key"], "notes/2026/plan.md");
    assert_eq!(md.metadata["size"], 14);
    let pdf = &docs[1];
    match &pdf.content {
        Content::Bytes {
            mime, extension, ..
        } => {
            assert_eq!(mime, "application/pdf");
            assert_eq!(extension.as_deref(), Some("pdf"));
        }
        other => panic!("a PDF must come as bytes: {other:?}"),
    }

    // By default an s3_compatible store's images are documents, as RAGFlow's blob sync
    // indexes them.
    let mut images = common::config(common::shared().endpoint(), &bucket);
    images.prefix = "img".into();
    let docs: Vec<Document> = load_pages(connector(images).as_ref())
        .await
        .into_iter()
        .flat_map(|p| p.documents)
        .collect();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].title, "logo.png");
    match &docs[0].content {
        Content::Bytes { mime, .. } => assert_eq!(mime, "image/png"),
        other => panic!("an image must come as bytes: {other:?}"),
    }
}

#[tokio::test]
async fn filters_prefix_globs_and_extensions() {
    let (bucket, seeder) = seeded("filters", 0).await;
    for key in [
        "docs/a.md",
        "docs/b.txt",
        "docs/drafts/c.md",
        "docs/deep/d.MD",
        "other/e.md",
    ] {
        seeder.put(&bucket, key, "x", None).await;
    }
    let mut config = common::config(common::shared().endpoint(), &bucket);
    config.prefix = "docs".into();
    config.extensions = vec![".md".into()];
    config.exclude = vec!["drafts".into()];
    let keys: BTreeSet<String> = load_pages(connector(config).as_ref())
        .await
        .into_iter()
        .flat_map(|p| p.documents)
        .map(|d| d.metadata["key"].as_str().unwrap_or_default().to_owned())
        .collect();
    let expected: BTreeSet<String> = ["docs/a.md", "docs/deep/d.MD"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(keys, expected);
}

/// A sink that fails its `fail_at`-th write.
#[derive(Clone)]
struct FailingSink {
    inner: MemorySink,
    fail_at: Option<usize>,
    writes: Arc<AtomicUsize>,
}

#[async_trait]
impl Sink for FailingSink {
    async fn write(&self, documents: &[Document]) -> connector_core::Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        if Some(n) == self.fail_at {
            return Err(Error::new(ErrorKind::Sink, "injected sink failure"));
        }
        self.inner.write(documents).await
    }

    async fn delete(&self, ids: &[String]) -> connector_core::Result<()> {
        self.inner.delete(ids).await
    }
}

#[tokio::test]
async fn resumes_after_a_kill_mid_bucket() {
    let (bucket, _) = seeded("resume", 25).await;
    let (proxy, mut config) = proxied(&bucket).await;
    config.page_size = 10.try_into().expect("nonzero");
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let first = MemorySink::new();
    let failing = FailingSink {
        inner: first.clone(),
        fail_at: Some(3),
        writes: Arc::new(AtomicUsize::new(0)),
    };
    let err = Syncer::new(connector(config.clone()))
        .sink(failing)
        .shared_state(Arc::clone(&state))
        .options(SyncOptions::default().batch_docs(5))
        .run(SyncMode::Auto)
        .await
        .expect_err("the sink fails at its fourth batch");
    assert_eq!(err.kind(), ErrorKind::Sink);
    assert_eq!(first.len(), 15, "three batches of five were acknowledged");
    proxy.take();

    // A new process: a new connector, the same state.
    let second = MemorySink::new();
    let report = Syncer::new(connector(config))
        .sink(second.clone())
        .shared_state(Arc::clone(&state))
        .options(SyncOptions::default().batch_docs(5))
        .run(SyncMode::Auto)
        .await
        .expect("resumed run");
    assert_eq!(report.mode, SyncMode::Resume);
    let lines = proxy.take();
    assert!(
        lines[0].contains("continuation-token=") || lines[0].contains("start-after="),
        "the resumed listing must start mid-bucket: {lines:#?}"
    );
    let all: BTreeSet<String> = first.ids().into_iter().chain(second.ids()).collect();
    assert_eq!(all.len(), 25, "nothing lost");
    // Pages are 10 keys; batches of 5. The third batch finished page 2's first half, so only
    // page 2's second half was not acknowledged: it is delivered again, nothing earlier is.
    assert!(
        second.len() <= 15,
        "only the partly acknowledged page may come twice: {}",
        second.len()
    );
    assert!(CountingProxy::object_gets(&lines) <= 15);
}

#[tokio::test]
async fn unchanged_resync_downloads_nothing() {
    let (bucket, seeder) = seeded("unchanged", 12).await;
    let (proxy, mut config) = proxied(&bucket).await;
    config.page_size = 5.try_into().expect("nonzero");
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let sink = MemorySink::new();
    let full = Syncer::new(connector(config.clone()))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .run(SyncMode::Full)
        .await
        .expect("full");
    assert_eq!(full.new, 12);
    assert_eq!(CountingProxy::object_gets(&proxy.take()), 12);

    let again = Syncer::new(connector(config.clone()))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .run(SyncMode::Auto)
        .await
        .expect("auto");
    let lines = proxy.take();
    assert_eq!(
        CountingProxy::object_gets(&lines),
        0,
        "an unchanged bucket must be listed, never downloaded: {lines:#?}"
    );
    assert_eq!(CountingProxy::lists(&lines), 3);
    assert_eq!(again.unchanged, 12);
    assert_eq!(again.new + again.updated + again.delivered, 0);
    assert_eq!(
        again.requests, 3,
        "the report counts the three listing requests"
    );

    // One changed object: exactly one download.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    seeder
        .put(&bucket, "doc-03.md", "# doc 3, edited\n", None)
        .await;
    let third = Syncer::new(connector(config))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .run(SyncMode::Auto)
        .await
        .expect("auto after an edit");
    assert_eq!(CountingProxy::object_gets(&proxy.take()), 1);
    assert_eq!(third.updated, 1);
    assert_eq!(third.unchanged, 11);
}

#[tokio::test]
async fn deleted_objects_are_pruned() {
    let (bucket, seeder) = seeded("prune", 10).await;
    let config = common::config(common::shared().endpoint(), &bucket);
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let sink = MemorySink::new();
    Syncer::new(connector(config.clone()))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .run(SyncMode::Full)
        .await
        .expect("full");
    assert_eq!(sink.len(), 10);
    seeder.delete(&bucket, "doc-02.md").await;
    seeder.delete(&bucket, "doc-07.md").await;
    let c = connector(config);
    let listed: usize = {
        let mut stream = c.as_slim().expect("slim").list_ids(SyncContext::new());
        let mut n = 0;
        while let Some(page) = stream.next().await {
            n += page.expect("list_ids").len();
        }
        n
    };
    assert_eq!(listed, 8);
    let report = Syncer::new(c)
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .options(SyncOptions::default().prune(true))
        .run(SyncMode::Auto)
        .await
        .expect("auto with prune");
    assert_eq!(report.deleted, 2);
    assert_eq!(sink.len(), 8);
    assert!(
        !sink
            .ids()
            .contains(&format!("s3_compatible:{bucket}:doc-02.md"))
    );
}

#[tokio::test]
async fn object_over_the_size_cap_is_a_failure_without_download() {
    let (bucket, seeder) = seeded("cap", 3).await;
    seeder.put(&bucket, "big.txt", vec![b'x'; 4096], None).await;
    let (proxy, mut config) = proxied(&bucket).await;
    config.max_object_size = 1024.try_into().expect("nonzero");
    let pages = load_pages(connector(config).as_ref()).await;
    let docs: usize = pages.iter().map(|p| p.documents.len()).sum();
    let failures: Vec<_> = pages.into_iter().flat_map(|p| p.failures).collect();
    assert_eq!(docs, 3, "the other objects still come");
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].id.as_deref(),
        Some(format!("s3_compatible:{bucket}:big.txt").as_str())
    );
    assert!(
        failures[0].message.contains("big.txt"),
        "{}",
        failures[0].message
    );
    assert!(
        failures[0].message.contains("4096"),
        "{}",
        failures[0].message
    );
    let lines = proxy.take();
    assert!(
        !lines.iter().any(|l| l.contains("big.txt")),
        "the oversize object must not be requested: {lines:#?}"
    );
}

#[tokio::test]
async fn wrong_secret_missing_bucket_and_unreachable_endpoint_are_told_apart() {
    let (bucket, _) = seeded("check", 1).await;
    let endpoint = common::shared().endpoint();
    let good = connector(common::config(endpoint.clone(), &bucket));
    good.check().await.expect("good credentials pass the check");

    let mut wrong = common::config(endpoint.clone(), &bucket);
    wrong.credentials.aws_secret_access_key = Some(connector_core::Secret::new("not-the-secret"));
    let wrong = connector(wrong);
    let err = wrong.check().await.expect_err("a wrong secret fails");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(
        err.field(),
        Some("credentials.aws_secret_access_key"),
        "{err}"
    );
    assert!(err.to_string().contains(&bucket), "{err}");
    assert!(!err.to_string().contains("not-the-secret"), "{err}");
    let mut stream = wrong.as_load().expect("load").load(SyncContext::new());
    let first = stream.next().await.expect("an item");
    assert_eq!(
        first.expect_err("a load with a wrong secret fails").kind(),
        ErrorKind::Unauthenticated
    );

    let mut wrong_key = common::config(endpoint.clone(), &bucket);
    wrong_key.credentials.aws_access_key_id = Some("nobody".into());
    let err = connector(wrong_key)
        .check()
        .await
        .expect_err("an unknown key fails");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");

    let missing = connector(common::config(endpoint, "no-such-bucket-here"));
    let err = missing.check().await.expect_err("a missing bucket fails");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.field(), Some("bucket_name"), "{err}");
    assert!(err.to_string().contains("no-such-bucket-here"), "{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let nowhere = url::Url::parse(&format!("http://127.0.0.1:{port}")).expect("url");
    let err = connector(common::config(nowhere, &bucket))
        .check()
        .await
        .expect_err("nothing listens there");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(err.field(), Some("credentials.endpoint_url"), "{err}");
}

/// With `incremental_by_last_modified`, a poll yields the objects whose `LastModified` is in
/// the half-open window.
#[tokio::test]
async fn poll_by_last_modified_yields_the_half_open_window() {
    let (bucket, seeder) = seeded("window", 0).await;
    let base = 1_767_225_600i64; // 2026-01-01T00:00:00Z
    for i in 0..6 {
        seeder
            .put(
                &bucket,
                &format!("m-{i}.md"),
                format!("{i}"),
                Some(base + i * 60),
            )
            .await;
    }
    let mut config = common::config(common::shared().endpoint(), &bucket);
    config.incremental_by_last_modified = true;
    let c = connector(config);
    let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).expect("time");
    let window = connector_core::TimeWindow::new(at(base + 60), at(base + 240)).expect("window");
    let mut stream = c.as_poll().expect("poll").poll(window, SyncContext::new());
    let mut titles = Vec::new();
    while let Some(page) = stream.next().await {
        titles.extend(page.expect("page").documents.into_iter().map(|d| d.title));
    }
    assert_eq!(titles, vec!["m-1.md", "m-2.md", "m-3.md"]);
}

/// Static keys with a session token: the token is signed into every request
/// (`X-Amz-Security-Token`) and the server, which checks SigV4, accepts them.
#[tokio::test]
async fn static_keys_with_a_session_token_are_signed_and_accepted() {
    let (bucket, _) = seeded("token", 2).await;
    let (proxy, mut config) = proxied(&bucket).await;
    config.credentials.aws_session_token = Some(connector_core::Secret::new("FwoGZXIvYXdzEXAMPLE"));
    let docs: usize = load_pages(connector(config).as_ref())
        .await
        .iter()
        .map(|p| p.documents.len())
        .sum();
    assert_eq!(docs, 2);
    let lines = proxy.take();
    assert!(
        lines
            .iter()
            .all(|l| l.contains("X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE")),
        "{lines:#?}"
    );
}

/// An object whose `LastModified` is before the window but which was not there at the last
/// run (a multipart upload initiated before that run and completed after it; here an object
/// written with an old `mtime`) is delivered by the next incremental run, as RAGFlow's
/// listing by ETag would. With `incremental_by_last_modified` it is not: the documented risk.
#[tokio::test]
async fn an_incremental_run_delivers_a_new_object_modified_before_its_window() {
    let (bucket, seeder) = seeded("late", 3).await;
    let (proxy, config) = proxied(&bucket).await;
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let sink = MemorySink::new();
    let full = Syncer::new(connector(config.clone()))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .run(SyncMode::Full)
        .await
        .expect("full");
    assert_eq!(full.new, 3);
    // Modified a year before the first run's window end, but new to the bucket.
    let a_year_ago = chrono::Utc::now().timestamp() - 365 * 24 * 3600;
    seeder
        .put(&bucket, "late.md", "# completed late\n", Some(a_year_ago))
        .await;
    let mut by_time = config.clone();
    by_time.incremental_by_last_modified = true;
    let windowed_state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    proxy.take();

    let report = Syncer::new(connector(config))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .run(SyncMode::Incremental)
        .await
        .expect("incremental");
    assert_eq!(report.mode, SyncMode::Incremental);
    assert_eq!(report.new, 1, "{report:?}");
    assert_eq!(report.unchanged, 3, "{report:?}");
    assert!(
        sink.ids()
            .contains(&format!("s3_compatible:{bucket}:late.md"))
    );
    let lines = proxy.take();
    assert_eq!(CountingProxy::object_gets(&lines), 1, "{lines:#?}");

    // The opt-in mode, from a state whose last run ended now: the object is left out.
    let windowed = MemorySink::new();
    Syncer::new(connector(by_time.clone()))
        .sink(MemorySink::new())
        .shared_state(Arc::clone(&windowed_state))
        .run(SyncMode::Full)
        .await
        .expect("full");
    seeder
        .put(&bucket, "later.md", "# also late\n", Some(a_year_ago))
        .await;
    let report = Syncer::new(connector(by_time))
        .sink(windowed.clone())
        .shared_state(windowed_state)
        .run(SyncMode::Incremental)
        .await
        .expect("incremental by LastModified");
    assert_eq!(report.new, 0, "{report:?}");
    assert!(windowed.ids().is_empty());
}

/// Objects of the same file name under different folders get their path relative to the
/// prefix as title (`f-1 / obj-000.txt`), as RAGFlow's `semantic_identifier`; a name that is
/// unique keeps its file name; the key stays in the metadata.
#[tokio::test]
async fn repeated_file_names_are_titled_by_their_relative_path() {
    let (bucket, seeder) = seeded("titles", 0).await;
    for key in [
        "docs/f-0/obj-000.txt",
        "docs/f-1/obj-000.txt",
        "docs/f-1/deep/obj-000.txt",
        "docs/f-1/unique.txt",
        "other/unique.txt",
    ] {
        seeder.put(&bucket, key, "x", None).await;
    }
    let mut config = common::config(common::shared().endpoint(), &bucket);
    config.prefix = "docs".into();
    let docs: Vec<Document> = load_pages(connector(config).as_ref())
        .await
        .into_iter()
        .flat_map(|p| p.documents)
        .collect();
    let titles: Vec<(&str, &str)> = docs
        .iter()
        .map(|d| {
            let key = d.metadata["key"].as_str().unwrap_or_default();
            (key, d.title.as_str())
        })
        .collect();
    assert_eq!(
        titles,
        [
            ("docs/f-0/obj-000.txt", "f-0 / obj-000.txt"),
            ("docs/f-1/deep/obj-000.txt", "f-1 / deep / obj-000.txt"),
            ("docs/f-1/obj-000.txt", "f-1 / obj-000.txt"),
            // `other/unique.txt` is outside the prefix: the name is unique under it.
            ("docs/f-1/unique.txt", "unique.txt"),
        ]
    );
}

#[tokio::test]
async fn an_object_over_the_memory_cap_is_spooled_to_a_directory_sink_byte_identical() {
    let (bucket, seeder) = seeded("spool", 2).await;
    // 3 MiB and a bit, not one repeated byte: over the 1 MiB in-memory cap.
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 5)
        .map(|n: usize| (n * 31 % 251) as u8)
        .collect();
    seeder.put(&bucket, "data/big.bin", big.clone(), None).await;
    seeder
        .put(&bucket, "huge.bin", vec![7u8; 5 * 1024 * 1024], None)
        .await;
    let mut config = common::config(common::shared().endpoint(), &bucket);
    config.max_object_size = (1024 * 1024).try_into().expect("nonzero");
    config.spool_large_objects = true;
    config.max_spooled_object_size = (4 * 1024 * 1024).try_into().expect("nonzero");
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let sink = Arc::new(
        connector_core::sink::DirectorySink::open(dir.path().join("out"))
            .await
            .expect("sink"),
    );
    let report = Syncer::new(connector(config))
        .sink(Arc::clone(&sink))
        .spool(connector_core::spool::Spool::in_dir(&spool))
        .run(SyncMode::Full)
        .await
        .expect("sync");
    assert_eq!(report.delivered, 3, "{report:?}");
    // Over even the spooled cap: a failure naming the key and the field.
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let failure = &report.failures[0];
    assert!(failure.message.contains("huge.bin"), "{}", failure.message);
    assert!(
        failure.message.contains("max_spooled_object_size"),
        "{}",
        failure.message
    );
    let id = format!("s3_compatible:{bucket}:data/big.bin");
    let file = dir
        .path()
        .join("out/files")
        .join(format!("{}.bin", connector_core::ids::hash128(&id)));
    let written = std::fs::read(&file).expect("the body file");
    assert_eq!(written.len(), big.len());
    assert!(written == big, "the copy differs from the object");
    assert_eq!(
        std::fs::read_dir(&spool).map_or(0, Iterator::count),
        0,
        "no spool file outlives its document"
    );
}

#[tokio::test]
async fn without_spooling_the_memory_cap_still_fails_the_object_and_names_the_option() {
    let (bucket, seeder) = seeded("nospool", 1).await;
    seeder.put(&bucket, "big.bin", vec![1u8; 8192], None).await;
    let mut config = common::config(common::shared().endpoint(), &bucket);
    config.max_object_size = 4096.try_into().expect("nonzero");
    let pages = load_pages(connector(config).as_ref()).await;
    let failures: Vec<_> = pages.into_iter().flat_map(|p| p.failures).collect();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].message.contains("max_object_size")
            && failures[0].message.contains("spool_large_objects"),
        "{}",
        failures[0].message
    );
}

/// A refetch knows no size: an object over the memory cap is read into memory first, refused
/// at the cap, and then spooled.
#[tokio::test]
async fn a_refetched_object_over_the_memory_cap_is_spooled() {
    let (bucket, seeder) = seeded("respool", 0).await;
    let big = vec![9u8; 300_000];
    seeder.put(&bucket, "big.bin", big.clone(), None).await;
    let mut config = common::config(common::shared().endpoint(), &bucket);
    config.max_object_size = (100_000).try_into().expect("nonzero");
    config.spool_large_objects = true;
    let c = connector(config);
    let id = format!("s3_compatible:{bucket}:big.bin");
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = SyncContext::new().with_spool(connector_core::spool::Spool::in_dir(dir.path()));
    let mut stream = c.as_refetch().expect("refetch").fetch(vec![id], ctx);
    let mut docs = Vec::new();
    while let Some(page) = stream.next().await {
        let page = page.expect("page");
        assert!(page.failures.is_empty(), "{:?}", page.failures);
        docs.extend(page.documents);
    }
    assert_eq!(docs.len(), 1);
    let Content::Spooled { body, .. } = &docs[0].content else {
        panic!("expected a spooled body, got {:?}", docs[0].content);
    };
    assert_eq!(body.read_all().await.expect("read").as_ref(), &big[..]);
}
