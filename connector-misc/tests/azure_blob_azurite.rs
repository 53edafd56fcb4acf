//! Integration tests against a real Azure Blob service, Azurite (Shared Key and SAS checked,
//! List Blobs paged by marker, ETags and Last-Modified listed). Install it with
//! `bash .ci/test-servers.sh`.
#![cfg(feature = "azure_blob")]
#![allow(clippy::unwrap_used)]

mod azurite;

use std::collections::BTreeSet;
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;

use azurite::Seeder;
use chrono::{Duration as ChronoDuration, SecondsFormat, Utc};
use connector_core::sink::MemorySink;
use connector_core::state::{MemoryStateStore, StateStore};
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{
    Batch, CheckpointedConnector, Connector, Content, Document, ErrorKind, SyncContext,
};
use connector_misc::azure_blob::{AzureBlobCheckpoint, AzureBlobConfig, AzureBlobConnector};
use futures::StreamExt;

/// A container with `n` text blobs `doc-00.md` … on the shared server.
async fn seeded(tag: &str, n: usize) -> (String, Seeder) {
    let server = tokio::task::spawn_blocking(azurite::shared).await.unwrap();
    let seeder = Seeder::new(server.endpoint());
    let container = azurite::container_name(tag);
    seeder.create_container(&container).await;
    for i in 0..n {
        seeder
            .put(
                &container,
                &format!("doc-{i:02}.md"),
                format!("# doc {i}\n"),
                "text/markdown",
            )
            .await;
    }
    (container, seeder)
}

/// Account name + key, the emulator's endpoint, loopback allowed.
fn key_config(container: &str) -> AzureBlobConfig {
    let mut config = AzureBlobConfig::account_key(container, azurite::ACCOUNT, azurite::KEY);
    config.blob_endpoint = Some(azurite::shared().endpoint());
    config.allowed_hosts.push("127.0.0.1".to_owned());
    config
}

fn connector(config: AzureBlobConfig) -> Arc<dyn Connector> {
    Arc::new(AzureBlobConnector::new(config).unwrap())
}

async fn load_pages(c: &dyn Connector) -> Vec<Batch> {
    let mut stream = c.as_load().unwrap().load(SyncContext::new());
    let mut pages = Vec::new();
    while let Some(page) = stream.next().await {
        pages.push(page.unwrap());
    }
    pages
}

fn docs_of(pages: Vec<Batch>) -> Vec<Document> {
    pages.into_iter().flat_map(|p| p.documents).collect()
}

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn the_three_credential_forms_read_the_same_container() {
    let (container, seeder) = seeded("auth", 3).await;
    let server = azurite::shared();
    // RAGFlow's JSON shapes, as it stores them.
    let from_json = |value: serde_json::Value| -> AzureBlobConfig {
        connector_core::config::from_json(value).unwrap()
    };
    let by_string = from_json(serde_json::json!({
        "auth_mode": "connection_string",
        "allowed_hosts": ["127.0.0.1"],
        "credentials": {"connection_string": server.connection_string(), "container_name": container},
    }));
    let by_key = from_json(serde_json::json!({
        "blob_endpoint": server.endpoint().as_str(),
        "allowed_hosts": ["127.0.0.1"],
        "credentials": {"account_name": azurite::ACCOUNT, "account_key": azurite::KEY, "container_name": container},
    }));
    let now = Utc::now();
    let sas = seeder.container_sas(
        &container,
        "rl",
        &rfc3339(now - ChronoDuration::minutes(5)),
        &rfc3339(now + ChronoDuration::hours(1)),
    );
    let by_sas = from_json(serde_json::json!({
        "auth_mode": "sas_token",
        "allowed_hosts": ["127.0.0.1"],
        "credentials": {"container_url": format!("{}/{container}", server.endpoint()), "sas_token": format!("?{sas}")},
    }));
    // A connection string that carries the SAS instead of the key.
    let by_sas_string = from_json(serde_json::json!({
        "container_name": container,
        "allowed_hosts": ["127.0.0.1"],
        "credentials": {"connection_string": format!("BlobEndpoint={};SharedAccessSignature={sas}", server.endpoint())},
    }));
    let mut seen = Vec::new();
    for config in [by_string, by_key, by_sas, by_sas_string] {
        let c = connector(config);
        c.check().await.unwrap();
        let docs = docs_of(load_pages(c.as_ref()).await);
        let got: Vec<(String, Option<String>)> = docs
            .iter()
            .map(|d| (d.id.clone(), d.content.as_text().map(str::to_owned)))
            .collect();
        seen.push(got);
    }
    assert_eq!(seen[0].len(), 3);
    assert_eq!(
        seen[0][1],
        ("doc-01.md".to_owned(), Some("# doc 1\n".to_owned()))
    );
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:#?}");
}

#[tokio::test]
async fn paging_by_marker_keeps_order_and_resumes_from_a_checkpoint() {
    let (container, _) = seeded("pages", 5).await;
    let mut config = key_config(&container);
    config.page_size = NonZeroU32::new(2).unwrap();
    let c = connector(config.clone());
    let pages = load_pages(c.as_ref()).await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.documents.len()).collect();
    assert_eq!(sizes, vec![2, 2, 1]);
    let ids: Vec<String> = docs_of(pages).into_iter().map(|d| d.id).collect();
    let expected: Vec<String> = (0..5).map(|i| format!("doc-{i:02}.md")).collect();
    assert_eq!(ids, expected);

    // The checkpoint after the first page is Azurite's NextMarker; a new connector resumes
    // from it with the three blobs left.
    let typed = AzureBlobConnector::new(config.clone()).unwrap();
    let mut stream =
        typed.load_from_checkpoint(AzureBlobCheckpoint::start(), None, SyncContext::new());
    let first = stream.next().await.unwrap().unwrap();
    drop(stream);
    let cp = first.checkpoint;
    assert!(cp.marker.is_some() && !cp.done, "{cp:?}");
    // A new process: a new connector from the stored checkpoint.
    let stored = serde_json::to_string(&cp).unwrap();
    let c2 = AzureBlobConnector::new(config).unwrap();
    let mut rest = c2.load_from_checkpoint(
        serde_json::from_str(&stored).unwrap(),
        None,
        SyncContext::new(),
    );
    let mut ids = Vec::new();
    let mut last = None;
    while let Some(page) = rest.next().await {
        let page = page.unwrap();
        ids.extend(page.batch.documents.iter().map(|d| d.id.clone()));
        last = Some(page.checkpoint);
    }
    assert_eq!(ids, expected[2..].to_vec());
    assert!(last.unwrap().done);
}

#[tokio::test]
async fn documents_carry_id_title_link_metadata_and_etag_fingerprint() {
    let (container, seeder) = seeded("shape", 0).await;
    seeder
        .put(
            &container,
            "notes/2026/été plan.md",
            "# Plan\nship it",
            "text/markdown",
        )
        .await;
    seeder
        .put(
            &container,
            "scans/report.pdf",
            b"%PDF-1.4 fake".to_vec(),
            "application/pdf",
        )
        .await;
    seeder
        .put(
            &container,
            "img/logo.png",
            vec![137u8, 80, 78, 71],
            "image/png",
        )
        .await;
    let docs = docs_of(load_pages(connector(key_config(&container)).as_ref()).await);
    assert_eq!(docs.len(), 2, "images are skipped unless allow_images");
    let md = &docs[0];
    assert_eq!(md.id, "notes/2026/été plan.md");
    assert_eq!(
        md.title, "notes/2026/été plan.md",
        "the name under the prefix"
    );
    assert_eq!(md.source, "azure_blob");
    assert_eq!(md.content.as_text(), Some("# Plan\nship it"));
    assert_eq!(
        md.link.as_ref().map(url::Url::as_str),
        Some(
            format!(
                "{}/{container}/notes/2026/%C3%A9t%C3%A9%20plan.md",
                azurite::shared().endpoint()
            )
            .as_str()
        )
    );
    assert!(md.updated_at.is_some());
    assert!(
        md.access.is_none(),
        "Azure lists no readers: access stays unset"
    );
    let etag = md.metadata["etag"].as_str().unwrap();
    assert!(etag.starts_with("0x"), "{etag}");
    assert_eq!(md.fingerprint, Document::version_fingerprint(etag));
    assert_eq!(md.metadata["container"], container.as_str());
    assert_eq!(md.metadata["size"], 14);
    match &docs[1].content {
        Content::Bytes {
            mime, extension, ..
        } => {
            assert_eq!(mime, "application/pdf");
            assert_eq!(extension.as_deref(), Some("pdf"));
        }
        other => panic!("a PDF must come as bytes: {other:?}"),
    }
    let mut images = key_config(&container);
    images.allow_images = true;
    images.prefix = "/img/".into();
    let images = docs_of(load_pages(connector(images).as_ref()).await);
    assert_eq!(
        images.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        vec!["img/logo.png"]
    );
}

#[tokio::test]
async fn unchanged_blobs_are_not_downloaded_and_an_edit_is() {
    let (container, seeder) = seeded("incr", 6).await;
    let mut config = key_config(&container);
    config.page_size = NonZeroU32::new(4).unwrap();
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let sink = MemorySink::new();
    let full = Syncer::new(connector(config.clone()))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(full.new, 6);
    assert_eq!(full.requests, 2 + 6, "two listing pages and six downloads");

    let again = Syncer::new(connector(config.clone()))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .run(SyncMode::Reconcile)
        .await
        .unwrap();
    assert_eq!(again.unchanged, 6, "{again:?}");
    assert_eq!(
        again.requests, 2,
        "an unchanged container is listed, never downloaded"
    );

    seeder
        .put(
            &container,
            "doc-03.md",
            "# doc 3, edited\n",
            "text/markdown",
        )
        .await;
    seeder
        .put(&container, "doc-99.md", "# new\n", "text/markdown")
        .await;
    let third = Syncer::new(connector(config))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    assert_eq!((third.updated, third.new), (1, 1), "{third:?}");
    assert_eq!(third.requests, 2 + 2, "the edited and the new blob only");
    assert_eq!(
        sink.get("doc-03.md").unwrap().content.as_text(),
        Some("# doc 3, edited\n")
    );
}

#[tokio::test]
async fn deleted_blobs_are_pruned() {
    let (container, seeder) = seeded("prune", 5).await;
    let config = key_config(&container);
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let sink = MemorySink::new();
    Syncer::new(connector(config.clone()))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .run(SyncMode::Full)
        .await
        .unwrap();
    seeder.delete(&container, "doc-01.md").await;
    seeder.delete(&container, "doc-04.md").await;
    let report = Syncer::new(connector(config))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .options(SyncOptions::default().prune(true))
        .run(SyncMode::Auto)
        .await
        .unwrap();
    assert_eq!(report.deleted, 2, "{report:?}");
    let deleted: BTreeSet<String> = sink.deleted().into_iter().collect();
    assert_eq!(
        deleted,
        BTreeSet::from(["doc-01.md".to_owned(), "doc-04.md".to_owned()])
    );
}

/// A lookup that deletes a blob when the page is asked of it: after the listing, before any
/// download, as another client deleting it in between would.
struct DeletesWhenAsked {
    seeder: Seeder,
    container: String,
    blob: &'static str,
    done: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl connector_core::FingerprintLookup for DeletesWhenAsked {
    async fn fingerprints(
        &self,
        _ids: &[String],
    ) -> connector_core::Result<std::collections::HashMap<String, String>> {
        if !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.seeder.delete(&self.container, self.blob).await;
        }
        Ok(std::collections::HashMap::new())
    }
}

#[tokio::test]
async fn a_blob_deleted_between_listing_and_download_is_counted_gone_not_failed() {
    let (container, seeder) = seeded("gone", 4).await;
    let c = connector(key_config(&container));
    let ctx = SyncContext::new().with_fingerprints(Arc::new(DeletesWhenAsked {
        seeder,
        container: container.clone(),
        blob: "doc-02.md",
        done: std::sync::atomic::AtomicBool::new(false),
    }));
    let mut stream = c.as_load().unwrap().load(ctx.clone());
    let mut pages = Vec::new();
    while let Some(page) = stream.next().await {
        pages.push(page.unwrap());
    }
    assert!(
        pages.iter().all(|p| p.failures.is_empty()),
        "a blob gone since its listing is no failure: {pages:?}"
    );
    let ids: Vec<String> = docs_of(pages).into_iter().map(|d| d.id).collect();
    assert_eq!(ids, ["doc-00.md", "doc-01.md", "doc-03.md"]);
    assert_eq!(ctx.stats().gone(), 1);
}

#[tokio::test]
async fn a_blob_over_the_size_cap_is_a_failure_without_download() {
    let (container, seeder) = seeded("cap", 2).await;
    seeder
        .put(&container, "big.txt", vec![b'x'; 4096], "text/plain")
        .await;
    let mut config = key_config(&container);
    config.max_object_size = NonZeroU64::new(1024).unwrap();
    let report = Syncer::new(connector(config))
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.new, 2);
    assert_eq!(report.failed, 1);
    assert_eq!(report.failures[0].id.as_deref(), Some("big.txt"));
    assert!(
        report.failures[0].message.contains("max_object_size"),
        "{:?}",
        report.failures
    );
    assert_eq!(report.requests, 1 + 2, "the big blob is never requested");
}

#[tokio::test]
async fn wrong_key_missing_permission_missing_container_and_expired_sas_are_told_apart() {
    let (container, seeder) = seeded("errors", 2).await;
    let server = azurite::shared();

    // A wrong key: AuthenticationFailed, naming the key field, without the key.
    let wrong = "d3Jvbmcta2V5LWJ5dGVzLXRoYXQtc2lnbi1ub3RoaW5nLXJpZ2h0";
    let mut bad_key = AzureBlobConfig::account_key(&container, azurite::ACCOUNT, wrong);
    bad_key.blob_endpoint = Some(server.endpoint());
    bad_key.allowed_hosts.push("127.0.0.1".into());
    let err = connector(bad_key).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.account_key"));
    assert!(
        err.to_string()
            .contains("rejected the account key's signature"),
        "{err}"
    );
    assert!(!err.to_string().contains(wrong), "{err}");

    // A missing container: ContainerNotFound, naming the container field.
    let err = connector(key_config("no-such-container"))
        .check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.field(), Some("container_name"));
    assert!(err.to_string().contains("ContainerNotFound"), "{err}");

    let now = Utc::now();
    let sas_config = |sp: &str, start: ChronoDuration, end: ChronoDuration| {
        let sas = seeder.container_sas(&container, sp, &rfc3339(now + start), &rfc3339(now + end));
        let mut c = AzureBlobConfig::sas(format!("{}/{container}", server.endpoint()), sas.clone());
        c.allowed_hosts.push("127.0.0.1".into());
        (c, sas)
    };
    // A SAS that may read but not list: the listing is refused as a permission, not a
    // credential, and the SAS is in no error.
    let (read_only, sas) = sas_config("r", ChronoDuration::minutes(-5), ChronoDuration::hours(1));
    let err = connector(read_only).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(err.field(), Some("credentials.sas_token"));
    let sig = sas.rsplit("sig=").next().unwrap();
    assert!(
        !err.to_string().contains(sig) && !format!("{err:?}").contains(sig),
        "{err:?}"
    );

    // A SAS that may list but not read: check() reads one byte of the first blob and fails
    // naming the SAS field, rather than the sync sending one doomed GET per blob.
    let (list_only, _) = sas_config("l", ChronoDuration::minutes(-5), ChronoDuration::hours(1));
    let err = connector(list_only.clone()).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(err.field(), Some("credentials.sas_token"), "{err}");
    assert!(err.to_string().contains("may not read blobs"), "{err}");
    // A sync run anyway makes every blob a failure naming the permission.
    let report = Syncer::new(connector(list_only))
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await;
    let r = report.unwrap();
    assert_eq!(r.failed, 2, "{r:?}");
    assert!(
        r.failures
            .iter()
            .all(|f| f.kind == ErrorKind::PermissionDenied
                && f.message.contains("may not read blobs")),
        "{:?}",
        r.failures
    );

    // An expired SAS: AuthenticationFailed, saying so.
    let (expired, _) = sas_config("rl", ChronoDuration::hours(-2), ChronoDuration::hours(-1));
    let err = connector(expired).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.sas_token"));

    // An unreachable endpoint: Unavailable, naming the endpoint field.
    let mut gone = key_config(&container);
    gone.blob_endpoint = Some(url::Url::parse("http://127.0.0.1:9/devstoreaccount1").unwrap());
    let err = connector(gone).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(err.field(), Some("blob_endpoint"));
}

#[tokio::test]
async fn hadoop_folder_stubs_are_skipped_and_user_metadata_is_kept() {
    let (container, seeder) = seeded("stubs", 0).await;
    seeder
        .put_with_metadata(
            &container,
            "lake/2026",
            Vec::new(),
            "application/octet-stream",
            &[("hdi_isfolder", "true")],
        )
        .await;
    seeder
        .put_with_metadata(
            &container,
            "lake/2026/q1.md",
            "# Q1",
            "text/markdown",
            &[("department", "finance")],
        )
        .await;
    let mut config = key_config(&container);
    config.extensions = Some(vec!["*".into()]);
    let docs = docs_of(load_pages(connector(config).as_ref()).await);
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["lake/2026/q1.md"], "the stub is no document");
    assert_eq!(docs[0].metadata["meta.department"], "finance");
}
