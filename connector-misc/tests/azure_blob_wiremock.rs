//! The Azure Blob connector against wiremock fixtures written from the REST API reference:
//! List Blobs paging by `NextMarker`, the headers every request carries, error bodies with
//! `<Code>` told apart, `503 ServerBusy` retried, a SAS appended and never shown.
#![cfg(feature = "azure_blob")]
#![allow(clippy::unwrap_used)]

mod azure_fixture;

use azure_fixture::{ACCOUNT, Blob, CONTAINER, error};
use connector_core::sink::MemorySink;
use connector_core::state::{MemoryStateStore, StateStore};
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{CheckpointedConnector, Document, ErrorKind, RefetchConnector, SyncContext};
use connector_misc::azure_blob::{
    API_VERSION, AzureBlobCheckpoint, AzureBlobConfig, AzureBlobConnector,
};
use futures::StreamExt;
use std::sync::Arc;
use wiremock::matchers::{any, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn fixture() -> MockServer {
    let server = MockServer::start().await;
    azure_fixture::mount(&server, &azure_fixture::blobs(), 2).await;
    server
}

async fn full(server: &MockServer) -> connector_core::Result<connector_core::sync::SyncReport> {
    Syncer::new(azure_fixture::connector(azure_fixture::config(
        &server.uri(),
        2,
    )))
    .sink(MemorySink::new())
    .run(SyncMode::Full)
    .await
}

#[tokio::test]
async fn pages_follow_next_marker_and_every_request_is_signed_and_versioned() {
    let server = fixture().await;
    let sink = MemorySink::new();
    let report = Syncer::new(azure_fixture::connector(azure_fixture::config(
        &server.uri(),
        2,
    )))
    .sink(sink.clone())
    .run(SyncMode::Full)
    .await
    .unwrap();
    assert_eq!(report.new, 7);
    let expected: Vec<String> = azure_fixture::blobs()
        .iter()
        .map(|b| b.name.to_owned())
        .collect();
    assert_eq!(sink.ids(), expected, "documents keep the listing order");
    let requests = server.received_requests().await.unwrap();
    let lists: Vec<String> = requests
        .iter()
        .filter(|r| r.url.query().is_some_and(|q| q.contains("comp=list")))
        .map(|r| r.url.query().unwrap().to_owned())
        .collect();
    assert_eq!(lists.len(), 4);
    assert_eq!(
        lists[0],
        "restype=container&comp=list&include=metadata&maxresults=2"
    );
    for (i, q) in lists.iter().enumerate().skip(1) {
        let m = url::form_urlencoded::byte_serialize(azure_fixture::marker(i).as_bytes())
            .collect::<String>();
        assert!(q.ends_with(&format!("&marker={m}")), "{q}");
    }
    for r in &requests {
        let header = |n: &str| {
            r.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("x-ms-version"), API_VERSION);
        assert!(httpdate::parse_http_date(&header("x-ms-date")).is_ok());
        let auth = header("authorization");
        let sig = auth
            .strip_prefix(&format!("SharedKey {ACCOUNT}:"))
            .unwrap_or_else(|| panic!("{auth}"));
        assert_eq!(sig.len(), 44, "base64 of a SHA-256 HMAC: {auth}");
    }
    let md = sink.get("guide/intro.md").unwrap();
    assert_eq!(md.title, "guide/intro.md", "the name under the prefix");
    assert_eq!(md.content.as_text(), Some("# Intro"));
    assert_eq!(md.updated_at, Some(azure_fixture::day(3)));
    assert_eq!(
        md.fingerprint,
        Document::version_fingerprint(&azure_fixture::blobs()[2].etag())
    );
    assert_eq!(
        md.link.as_ref().map(url::Url::as_str),
        Some(format!("{}/{ACCOUNT}/{CONTAINER}/guide/intro.md", server.uri()).as_str())
    );
}

#[tokio::test]
async fn server_busy_is_retried_and_a_storm_is_survived() {
    let server = fixture().await;
    let _busy = Mock::given(any())
        .respond_with(
            error(503, "ServerBusy", "The server is busy.").insert_header("Retry-After", "1"),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let report = full(&server).await.unwrap();
    assert_eq!(report.new, 7);
    assert_eq!(report.retries, 2, "{report:?}");
    drop(_busy);
    let build = |uri: &str| azure_fixture::connector(azure_fixture::config(uri, 2));
    connector_core::testkit::http::retry_after_is_waited_out(&server, build).await;
    connector_core::testkit::http::server_error_storm_is_survived(&server, build, 3).await;
    connector_core::testkit::http::unauthorized_fails_fast(&server, build).await;
    connector_core::testkit::http::secret_never_leaks(&server, build, azure_fixture::KEY).await;
}

#[tokio::test]
async fn authentication_permission_and_missing_container_are_told_apart() {
    let cases = [
        (
            error(
                403,
                "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
            ),
            ErrorKind::Unauthenticated,
            "credentials.connection_string",
        ),
        (
            error(
                403,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            ),
            ErrorKind::PermissionDenied,
            "credentials.connection_string",
        ),
        (
            error(
                404,
                "ContainerNotFound",
                "The specified container does not exist.",
            ),
            ErrorKind::NotFound,
            "container_name",
        ),
        (
            error(
                400,
                "InvalidResourceName",
                "The specifed resource name contains invalid characters.",
            ),
            ErrorKind::Config,
            "container_name",
        ),
    ];
    for (response, kind, field) in cases {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(response)
            .mount(&server)
            .await;
        let c = azure_fixture::connector(azure_fixture::config(&server.uri(), 2));
        let err = c.check().await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.field(), Some(field), "{err}");
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "not retried: {err}"
        );
        // The same answer ends a sync: a failed listing is an error, never an empty page.
        let sync = full(&server).await.unwrap_err();
        assert_eq!(sync.kind(), kind, "{sync}");
    }
}

#[tokio::test]
async fn a_sas_is_appended_as_given_and_never_shown() {
    let server = fixture().await;
    let sig = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5MTI%3D";
    let sas = format!(
        "?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01T00%3A00%3A00Z&spr=https%2Chttp&sig={sig}"
    );
    let mut config = AzureBlobConfig::sas(
        format!("{}/{ACCOUNT}/{CONTAINER}", server.uri()),
        sas.clone(),
    );
    config.allowed_hosts.push("127.0.0.1".into());
    let report = Syncer::new(azure_fixture::connector(config.clone()))
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.new, 7);
    for r in server.received_requests().await.unwrap() {
        let q = r.url.query().unwrap();
        assert!(q.ends_with(&sas[1..]), "the SAS is appended as given: {q}");
        assert!(r.headers.get("authorization").is_none());
    }
    // A refusal names the SAS field and shows neither the SAS nor its URL's query.
    let denied = MockServer::start().await;
    Mock::given(any())
        .respond_with(error(
            403,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        ))
        .mount(&denied)
        .await;
    let mut config = AzureBlobConfig::sas(
        format!("{}/{ACCOUNT}/{CONTAINER}", denied.uri()),
        sas.clone(),
    );
    config.allowed_hosts.push("127.0.0.1".into());
    let c = azure_fixture::connector(config);
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(err.field(), Some("credentials.sas_token"));
    assert!(err.to_string().contains("r (read) and l (list)"), "{err}");
    let shown = format!("{err} {err:?} {c:?} {c}");
    assert!(
        !shown.contains("Zm9vYmFy") && !shown.contains("sv=2022"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_blob_gone_since_the_listing_is_skipped_and_an_archived_one_fails_unrequested() {
    let server = MockServer::start().await;
    let mut archived = Blob::new("b-archived.md", b"cold", "text/markdown", 2);
    archived.tier = "Archive";
    let blobs = [
        Blob::new("a.md", b"one", "text/markdown", 1),
        archived,
        Blob::new("c-gone.md", b"gone", "text/markdown", 3),
    ];
    Mock::given(method("GET"))
        .and(path(format!("/{ACCOUNT}/{CONTAINER}/c-gone.md")))
        .respond_with(error(
            404,
            "BlobNotFound",
            "The specified blob does not exist.",
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    azure_fixture::mount(&server, &blobs, 10).await;
    let sink = MemorySink::new();
    let report = Syncer::new(azure_fixture::connector(azure_fixture::config(
        &server.uri(),
        10,
    )))
    .sink(sink.clone())
    .run(SyncMode::Full)
    .await
    .unwrap();
    assert_eq!(sink.ids(), vec!["a.md"]);
    // The gone blob is counted as gone: neither a document nor a failure.
    assert_eq!((report.new, report.gone), (1, 1), "{report:?}");
    assert_eq!(report.failed, 1);
    assert_eq!(report.failures[0].id.as_deref(), Some("b-archived.md"));
    assert_eq!(report.failures[0].kind, ErrorKind::Unsupported);
    let requested: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert!(
        !requested.iter().any(|p| p.ends_with("b-archived.md")),
        "{requested:?}"
    );
}

#[tokio::test]
async fn a_blob_edited_between_listing_and_download_is_fetched_again_next_run() {
    let server = MockServer::start().await;
    let listed = Blob::new("a.md", b"old", "text/markdown", 1);
    // The download already sees the edit: another body and ETag.
    Mock::given(method("GET"))
        .and(path(format!("/{ACCOUNT}/{CONTAINER}/a.md")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"0x8DCFFFFFFFFFFFF\"")
                .insert_header("content-type", "text/markdown")
                .set_body_bytes(b"new body".to_vec()),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    azure_fixture::mount(&server, std::slice::from_ref(&listed), 10).await;
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let sink = MemorySink::new();
    let run = |mode| {
        let syncer = Syncer::new(azure_fixture::connector(azure_fixture::config(
            &server.uri(),
            10,
        )))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state));
        async move { syncer.run(mode).await }
    };
    run(SyncMode::Full).await.unwrap();
    let doc = sink.get("a.md").unwrap();
    assert_eq!(doc.content.as_text(), Some("new body"));
    // Fingerprinted by the listed ETag: the next listing shows the edit's ETag, so the
    // blob is downloaded again rather than kept with a fingerprint its body does not match.
    assert_eq!(
        doc.fingerprint,
        Document::version_fingerprint(&listed.etag())
    );
    let again = run(SyncMode::Reconcile).await.unwrap();
    assert_eq!(again.unchanged, 1, "the listing did not change: {again:?}");
    let lists = |n: usize| {
        Mock::given(method("GET"))
            .and(query_param("comp", "list"))
            .respond_with(
                ResponseTemplate::new(200).set_body_string(azure_fixture::page_xml(
                    &[Blob::new("a.md", b"new body", "text/markdown", 9)],
                    None,
                    None,
                )),
            )
            .with_priority(1)
            .up_to_n_times(n as u64)
    };
    lists(1).mount(&server).await;
    let third = run(SyncMode::Reconcile).await.unwrap();
    assert_eq!(third.updated, 1, "{third:?}");
}

#[tokio::test]
async fn ragflow_config_is_accepted_by_the_registry() {
    let mut registry = connector_core::Registry::new();
    connector_misc::register(&mut registry);
    assert!(registry.sources().contains(&"azure_blob"));
    // As RAGFlow's web form stores it: auth_mode, prefix, the hidden modes' fields kept blank.
    let config = serde_json::json!({
        "prefix": "handbook/",
        "auth_mode": "account_key",
        "allow_images": false,
        "batch_size": 2,
        "credentials": {
            "account_name": "ragflowdocs",
            "account_key": azure_fixture::KEY,
            "container_name": "kb-docs",
            "connection_string": "",
            "container_url": "",
            "sas_token": ""
        }
    });
    let c = registry.build("azure_blob", config).unwrap();
    assert_eq!(c.source(), "azure_blob");
    assert_eq!(c.to_string(), "azure_blob:kb-docs/handbook/");
    assert!(!format!("{c:?}").contains(azure_fixture::KEY));
}

/// Requests whose path ends with `suffix`.
async fn requested(server: &MockServer, suffix: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with(suffix))
        .collect()
}

#[tokio::test]
async fn an_incremental_run_finds_a_blob_moved_with_its_old_last_modified_and_prune_drops_the_old_name()
 {
    // On a hierarchical namespace a rename keeps Last-Modified (and here the ETag): the new
    // name is outside any window, so only the fingerprint lookup can find it.
    let server = MockServer::start().await;
    let old = Blob::new("a/x.md", b"# moved", "text/markdown", 1);
    let moved = Blob::new("b/x.md", b"# moved", "text/markdown", 1);
    assert_eq!(old.etag(), moved.etag());
    azure_fixture::mount(&server, std::slice::from_ref(&moved), 10).await;
    Mock::given(method("GET"))
        .and(query_param("comp", "list"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(azure_fixture::page_xml(
                std::slice::from_ref(&old),
                None,
                None,
            )),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/{ACCOUNT}/{CONTAINER}/a/x.md")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(old.body))
        .mount(&server)
        .await;
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let sink = MemorySink::new();
    let run = |mode, prune| {
        let syncer = Syncer::new(azure_fixture::connector(azure_fixture::config(
            &server.uri(),
            10,
        )))
        .sink(sink.clone())
        .shared_state(Arc::clone(&state))
        .options(SyncOptions::default().prune(prune));
        async move { syncer.run(mode).await }
    };
    run(SyncMode::Full, false).await.unwrap();
    assert_eq!(sink.ids(), vec!["a/x.md"]);
    let report = run(SyncMode::Incremental, true).await.unwrap();
    assert!(report.window.is_some(), "{report:?}");
    assert_eq!(report.new, 1, "the moved blob is delivered: {report:?}");
    assert!(sink.get("b/x.md").is_some());
    assert_eq!(
        sink.deleted(),
        vec!["a/x.md"],
        "prune drops the old name only"
    );
    // A third run sees nothing new: the moved blob is unchanged by its ETag.
    let gets = requested(&server, "/b/x.md").await.len();
    let again = run(SyncMode::Incremental, true).await.unwrap();
    assert_eq!((again.new, again.unchanged), (0, 1), "{again:?}");
    assert_eq!(
        requested(&server, "/b/x.md").await.len(),
        gets,
        "no download"
    );
}

/// A listing page in the depth-first order of an account with a hierarchical namespace:
/// `A/dat1.md` comes before `A-B` although `-` and `.` sort before `/`.
fn hns_page() -> Vec<Blob> {
    let dir = |name| {
        let mut b = Blob::new(name, b"", "application/octet-stream", 1);
        b.resource_type = Some("directory");
        b.metadata = "<hdi_isfolder>true</hdi_isfolder>";
        b
    };
    let file = |name, body| {
        let mut b = Blob::new(name, body, "text/markdown", 2);
        b.resource_type = Some("file");
        b
    };
    vec![
        dir("A"),
        file("A/dat1.md", b"one"),
        dir("A-B"),
        file("A-B/dat2.md", b"two"),
        file("A-B-C.md", b"three"),
        dir("A.C"),
        file("A.C/dat3.md", b"four"),
        file("AB.md", b"five"),
    ]
}

async fn resumed_ids(c: &AzureBlobConnector, from: AzureBlobCheckpoint) -> Vec<String> {
    let mut stream = c.load_from_checkpoint(from, None, SyncContext::new());
    let mut ids = Vec::new();
    while let Some(page) = stream.next().await {
        ids.extend(page.unwrap().batch.documents.into_iter().map(|d| d.id));
    }
    ids
}

#[tokio::test]
async fn a_page_resumed_in_its_middle_skips_by_identity_not_by_name_order() {
    let server = MockServer::start().await;
    azure_fixture::mount(&server, &hns_page(), 10).await;
    // Every document its own part, as a page of large PDFs would be.
    let c = AzureBlobConnector::new(azure_fixture::config(&server.uri(), 10))
        .unwrap()
        .with_page_bytes(1);
    let mut stream = c.load_from_checkpoint(AzureBlobCheckpoint::start(), None, SyncContext::new());
    let first = stream.next().await.unwrap().unwrap();
    drop(stream); // killed after the first part was acknowledged
    let first_ids: Vec<&str> = first
        .batch
        .documents
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(first_ids, ["A/dat1.md"]);
    assert_eq!(first.checkpoint.after.as_deref(), Some("A/dat1.md"));
    let rest = resumed_ids(&c, first.checkpoint.clone()).await;
    assert_eq!(
        rest,
        ["A-B/dat2.md", "A-B-C.md", "A.C/dat3.md", "AB.md"],
        "every blob after the one handed on, in listing order"
    );
    // The blob named in the checkpoint is gone since: the page is handed on whole again.
    let gone: AzureBlobCheckpoint = serde_json::from_value(serde_json::json!({
        "after": "A/deleted.md"
    }))
    .unwrap();
    assert_eq!(resumed_ids(&c, gone).await.len(), 5);
    // Directories (ResourceType, hdi_isfolder) were never requested.
    for dir in ["/A", "/A-B", "/A.C"] {
        assert!(
            requested(&server, dir).await.is_empty(),
            "{dir} was downloaded"
        );
    }
}

#[tokio::test]
async fn hadoop_folder_stubs_and_directories_become_no_documents_and_user_metadata_is_kept() {
    let server = MockServer::start().await;
    let mut stub = Blob::new("reports/2026", b"", "application/octet-stream", 1);
    stub.metadata = "<hdi_isfolder>true</hdi_isfolder>";
    let mut dir = Blob::new("reports/archive", b"", "", 1);
    dir.resource_type = Some("directory");
    let mut q1 = Blob::new("reports/2026/q1.md", b"# Q1", "text/markdown", 2);
    q1.metadata = "<department>finance</department>";
    azure_fixture::mount(&server, &[stub, dir, q1], 10).await;
    let mut config = azure_fixture::config(&server.uri(), 10);
    config.extensions = Some(vec!["*".into()]); // a stub has no extension: let it through
    let sink = MemorySink::new();
    let report = Syncer::new(azure_fixture::connector(config))
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(sink.ids(), vec!["reports/2026/q1.md"], "{report:?}");
    assert_eq!(report.failed, 0);
    assert!(requested(&server, "/reports/2026").await.is_empty());
    assert!(requested(&server, "/reports/archive").await.is_empty());
    let doc = sink.get("reports/2026/q1.md").unwrap();
    assert_eq!(doc.metadata["meta.department"], "finance");
    assert!(!doc.metadata.contains_key("meta.hdi_isfolder"));
}

#[tokio::test]
async fn ragflow_sas_form_with_a_stale_container_name_is_accepted_and_reported() {
    let mut registry = connector_core::Registry::new();
    connector_misc::register(&mut registry);
    // The user filled "account key" first (container_name "docs"), then switched to SAS:
    // RAGFlow hides the old fields, keeps their values, and its SAS branch never reads them.
    let config = serde_json::json!({
        "prefix": "",
        "auth_mode": "sas_token",
        "allow_images": false,
        "credentials": {
            "account_name": "ragflowdocs",
            "account_key": azure_fixture::KEY,
            "container_name": "docs",
            "connection_string": "",
            "container_url": "https://ragflowdocs.blob.core.windows.net/reports",
            "sas_token": "sv=2022-11-02&sr=c&sp=rl&se=2030-01-01T00%3A00%3A00Z&sig=c2lnbmF0dXJl"
        }
    });
    let built = registry.build_with_notes("azure_blob", config).unwrap();
    assert_eq!(built.connector.to_string(), "azure_blob:reports/");
    let ignored: Vec<&str> = built.ignored.iter().map(|i| i.path.as_str()).collect();
    assert!(
        ignored.contains(&"credentials.container_name"),
        "{ignored:?}"
    );
    assert!(ignored.contains(&"credentials.account_key"), "{ignored:?}");
    // Our own top-level field still must agree with the URL.
    let err = registry
        .build(
            "azure_blob",
            serde_json::json!({
                "container_name": "docs",
                "credentials": {
                    "container_url": "https://ragflowdocs.blob.core.windows.net/reports",
                    "sas_token": "sv=1&sig=c2lnbmF0dXJl"
                }
            }),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("container_name"), "{err}");
}

#[tokio::test]
async fn check_reads_one_byte_so_a_list_only_sas_fails_naming_the_field() {
    let server = fixture().await;
    let sas = "sv=2022-11-02&sr=c&sp=l&sig=bGlzdG9ubHk%3D";
    let sas_config = |uri: &str| {
        let mut c = AzureBlobConfig::sas(format!("{uri}/{ACCOUNT}/{CONTAINER}"), sas);
        c.allowed_hosts.push("127.0.0.1".into());
        c
    };
    // With read permission the probe passes, and asks for the first byte only.
    azure_fixture::connector(sas_config(&server.uri()))
        .check()
        .await
        .unwrap();
    let probes = requested(&server, "/data/table.csv").await;
    assert_eq!(probes.len(), 1);
    assert_eq!(
        probes[0]
            .headers
            .get("x-ms-range")
            .and_then(|v| v.to_str().ok()),
        Some("bytes=0-0")
    );
    // Without it: the listing works, the read is refused (as Azure answers `sp=l`).
    Mock::given(method("GET"))
        .and(path(format!("/{ACCOUNT}/{CONTAINER}/data/table.csv")))
        .respond_with(error(
            403,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    let err = azure_fixture::connector(sas_config(&server.uri()))
        .check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(err.field(), Some("credentials.sas_token"), "{err}");
    assert!(err.to_string().contains("may not read blobs"), "{err}");
    assert!(!err.to_string().contains("bGlzdG9ubHk"), "{err}");
    // An empty first blob answers 416 to the range: that is a read.
    let empty = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/{ACCOUNT}/{CONTAINER}/empty.md")))
        .respond_with(error(
            416,
            "InvalidRange",
            "The range specified is invalid for the current size of the resource.",
        ))
        .with_priority(1)
        .mount(&empty)
        .await;
    azure_fixture::mount(
        &empty,
        &[Blob::new("empty.md", b"", "text/markdown", 1)],
        10,
    )
    .await;
    azure_fixture::connector(sas_config(&empty.uri()))
        .check()
        .await
        .unwrap();
}

/// An error body with the extra elements some codes carry.
fn error_with(status: u16, code: &str, message: &str, extra: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/xml")
        .insert_header("x-ms-error-code", code)
        .set_body_string(format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}\nRequestId:5e7c0f3a-e01e-0059-3c1a-000000000000\nTime:2026-12-04T12:00:00.0000000Z</Message>{extra}</Error>"
        ))
}

#[tokio::test]
async fn key_auth_disabled_clock_skew_refused_version_and_cpk_have_their_own_remedies() {
    let cases = [
        (
            error(
                403,
                "KeyBasedAuthenticationNotPermitted",
                "Key based authentication is not permitted on this storage account.",
            ),
            ErrorKind::Unauthenticated,
            "credentials.connection_string",
            "disallows key-based authorization",
        ),
        (
            error_with(
                403,
                "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
                "<AuthenticationErrorDetail>Request date header too old: 'Fri, 04 Dec 2026 11:00:00 GMT'</AuthenticationErrorDetail>",
            ),
            ErrorKind::Unauthenticated,
            "credentials.connection_string",
            "clock is off",
        ),
        (
            error_with(
                400,
                "InvalidHeaderValue",
                "The value for one of the HTTP headers is not in the correct format.",
                "<HeaderName>x-ms-version</HeaderName><HeaderValue>2021-08-06</HeaderValue>",
            ),
            ErrorKind::Config,
            "api_version",
            "does not support REST version `2021-08-06`",
        ),
        (
            error(
                403,
                "AuthorizationSourceIPMismatch",
                "This request is not authorized to perform this operation using this source IP 203.0.113.7.",
            ),
            ErrorKind::PermissionDenied,
            "credentials.connection_string",
            "firewall",
        ),
    ];
    for (response, kind, field, says) in cases {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(response)
            .mount(&server)
            .await;
        let err = azure_fixture::connector(azure_fixture::config(&server.uri(), 2))
            .check()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(err.to_string().contains(says), "{says}: {err}");
    }
    // A blob under a customer-provided key fails alone, named as such.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/{ACCOUNT}/{CONTAINER}/a.md")))
        .respond_with(error(
            409,
            "BlobUsesCustomerSpecifiedEncryption",
            "The blob is encrypted with customer specified encryption, but it was not provided in the request.",
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    azure_fixture::mount(
        &server,
        &[
            Blob::new("a.md", b"x", "text/markdown", 1),
            Blob::new("b.md", b"y", "text/markdown", 1),
        ],
        10,
    )
    .await;
    let report = full(&server).await.unwrap();
    assert_eq!(report.new, 1);
    assert_eq!(report.failures[0].kind, ErrorKind::Unsupported);
    assert!(
        report.failures[0].message.contains("customer-provided key"),
        "{:?}",
        report.failures
    );
}

#[tokio::test]
async fn api_version_is_configurable_and_checked() {
    let server = fixture().await;
    let mut config = azure_fixture::config(&server.uri(), 10);
    config.api_version = Some("2019-02-02".into());
    azure_fixture::connector(config).check().await.unwrap();
    for r in server.received_requests().await.unwrap() {
        assert_eq!(
            r.headers.get("x-ms-version").and_then(|v| v.to_str().ok()),
            Some("2019-02-02")
        );
    }
    let mut bad = azure_fixture::config(&server.uri(), 10);
    bad.api_version = Some("2019".into());
    let err = AzureBlobConnector::new(bad).unwrap_err();
    assert!(err.to_string().contains("api_version"), "{err}");
}

#[tokio::test]
async fn without_extensions_ragflow_types_are_taken_and_star_takes_all() {
    let server = MockServer::start().await;
    azure_fixture::mount(
        &server,
        &[
            Blob::new("a.md", b"# a", "text/markdown", 1),
            Blob::new("backup.zip", b"PK", "application/zip", 1),
            Blob::new("logs/app.log", b"started", "text/plain", 1),
            Blob::new(
                "slides.PPTX",
                b"PK",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                1,
            ),
        ],
        10,
    )
    .await;
    let ids = |config: AzureBlobConfig| async {
        let sink = MemorySink::new();
        Syncer::new(azure_fixture::connector(config))
            .sink(sink.clone())
            .run(SyncMode::Full)
            .await
            .unwrap();
        sink.ids()
    };
    assert_eq!(
        ids(azure_fixture::config(&server.uri(), 10)).await,
        vec!["a.md", "slides.PPTX"]
    );
    let mut all = azure_fixture::config(&server.uri(), 10);
    all.extensions = Some(vec!["*".into()]);
    assert_eq!(ids(all).await.len(), 4);
    let mut some = azure_fixture::config(&server.uri(), 10);
    some.extensions = Some(vec![".log".into()]);
    assert_eq!(ids(some).await, vec!["logs/app.log"]);
}

#[tokio::test]
async fn refetch_keeps_to_the_prefix() {
    let server = fixture().await;
    let c = AzureBlobConnector::new(azure_fixture::config_at(&server.uri(), 10, "guide/")).unwrap();
    let mut stream = c.fetch(
        vec!["data/table.csv".into(), "guide/intro.md".into()],
        SyncContext::new(),
    );
    let mut ids = Vec::new();
    while let Some(batch) = stream.next().await {
        ids.extend(batch.unwrap().documents.into_iter().map(|d| d.id));
    }
    assert_eq!(
        ids,
        vec!["guide/intro.md"],
        "an id from before the prefix was narrowed is out"
    );
    assert!(requested(&server, "/data/table.csv").await.is_empty());
}

#[tokio::test]
async fn converted_documents_snapshot() {
    let server = fixture().await;
    let sink = MemorySink::new();
    Syncer::new(azure_fixture::connector(azure_fixture::config_at(
        &server.uri(),
        10,
        "",
    )))
    .sink(sink.clone())
    .run(SyncMode::Full)
    .await
    .unwrap();
    for (name, id) in [
        ("markdown_document", "guide/setup/install.md"),
        ("pdf_document", "report.pdf"),
        ("unicode_document", "notes/été.md"),
    ] {
        let doc = sink.get(id).unwrap();
        let text = serde_json::to_string(&doc).unwrap().replace(
            &format!("{}/{ACCOUNT}", server.uri()),
            "https://acct.blob.core.windows.net",
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        insta::assert_json_snapshot!(name, value);
    }
}

/// A Microsoft Entra ID service principal (client credentials), as RAGFlow-style JSON: one
/// token from `{authority_host}/{tenant}/oauth2/v2.0/token` (form written from Microsoft's
/// identity platform reference) for `check()` and the whole sync, sent as `Bearer` with
/// `x-ms-version`; the secret and the token in no error or `Debug`.
#[tokio::test]
async fn service_principal_gets_one_token_and_sends_it_as_bearer() {
    let server = MockServer::start().await;
    azure_fixture::mount(&server, &azure_fixture::blobs(), 2).await;
    token_endpoint(&server, 3599).await;
    let connector = service_principal(&server);
    connector.check().await.unwrap();
    let report = Syncer::new(connector.clone())
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.new, 7);
    let requests = server.received_requests().await.unwrap();
    let tokens: Vec<_> = requests
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(tokens.len(), 1, "one token for the check and the whole run");
    let form = String::from_utf8_lossy(&tokens[0].body).into_owned();
    for pair in [
        "grant_type=client_credentials",
        "client_id=0f1e2d3c-app",
        "client_secret=sp-s3cret%7Evalue",
        "scope=https%3A%2F%2Fstorage.azure.com%2F.default",
    ] {
        assert!(form.contains(pair), "{pair} in {form}");
    }
    for r in requests.iter().filter(|r| r.method.as_str() == "GET") {
        let header = |n: &str| r.headers.get(n).and_then(|v| v.to_str().ok());
        assert_eq!(
            header("authorization"),
            Some("Bearer eyJ0eXAiOiJKV1Qi.tok-1")
        );
        assert_eq!(header("x-ms-version"), Some(API_VERSION));
    }
    let shown = format!("{connector:?} {connector}");
    assert!(
        !shown.contains("sp-s3cret") && !shown.contains("tok-1"),
        "{shown}"
    );
}

/// The token is kept until a minute before its announced expiry: one that expires in 30 s
/// is got again for every request.
#[tokio::test]
async fn a_token_near_its_expiry_is_got_again() {
    let server = MockServer::start().await;
    azure_fixture::mount(&server, &azure_fixture::blobs(), 2).await;
    token_endpoint(&server, 30).await;
    service_principal(&server).check().await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let posts = requests
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    let gets = requests
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    assert_eq!((posts, gets), (2, 2), "list and probe read, a token each");
}

/// A refused client secret (AADSTS7000215) names `credentials.client_secret`; a principal
/// without a data role is told which role it needs.
#[tokio::test]
async fn service_principal_refusals_name_the_field_and_the_role() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            "error_codes": [7000215],
        })))
        .mount(&server)
        .await;
    let err = service_principal(&server).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.client_secret"), "{err}");
    assert!(err.to_string().contains("AADSTS7000215"), "{err}");
    assert!(!format!("{err} {err:?}").contains("sp-s3cret"));

    let server = MockServer::start().await;
    token_endpoint(&server, 3599).await;
    Mock::given(method("GET"))
        .respond_with(error(
            403,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        ))
        .mount(&server)
        .await;
    let err = service_principal(&server).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(
        err.to_string().contains("Storage Blob Data Reader"),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains("tok-1"));
}

/// The service principal's fields are checked by name, and are reported unused under
/// another auth_mode.
#[test]
fn service_principal_fields_are_validated() {
    let err = connector_core::config::from_json::<AzureBlobConfig>(serde_json::json!({
        "auth_mode": "service_principal",
        "credentials": {"tenant_id": "bad tenant/", "account_name": "acct", "container_name": "docs"},
    }))
    .unwrap_err()
    .to_string();
    for field in [
        "credentials.tenant_id",
        "credentials.client_id",
        "credentials.client_secret",
    ] {
        assert!(err.contains(field), "{field}: {err}");
    }
    let config = connector_core::config::from_json::<AzureBlobConfig>(serde_json::json!({
        "auth_mode": "account_key",
        "credentials": {
            "account_name": "acct", "account_key": azure_fixture::KEY, "container_name": "docs",
            "tenant_id": "t", "client_id": "c", "client_secret": "s",
        },
    }))
    .unwrap();
    let unused: Vec<String> = connector_core::ConnectorConfig::unused(&config)
        .into_iter()
        .map(|i| i.path)
        .collect();
    assert_eq!(
        unused,
        [
            "credentials.tenant_id",
            "credentials.client_id",
            "credentials.client_secret"
        ]
    );
}

async fn token_endpoint(server: &MockServer, expires_in: u64) {
    Mock::given(method("POST"))
        .and(path("/72f988bf-tenant/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": "eyJ0eXAiOiJKV1Qi.tok-1",
        })))
        .mount(server)
        .await;
}

fn service_principal(server: &MockServer) -> Arc<dyn connector_core::Connector> {
    let uri = server.uri();
    let config = connector_core::config::from_json::<AzureBlobConfig>(serde_json::json!({
        "auth_mode": "service_principal",
        "prefix": "",
        "credentials": {
            "tenant_id": "72f988bf-tenant",
            "client_id": "0f1e2d3c-app",
            "client_secret": "sp-s3cret~value",
            "account_name": ACCOUNT,
            "container_name": CONTAINER,
        },
        "blob_endpoint": format!("{uri}/{ACCOUNT}"),
        "authority_host": uri,
        "page_size": 2,
        "allowed_hosts": ["127.0.0.1"],
    }))
    .unwrap();
    azure_fixture::connector(config)
}

/// A Shared Key request aged past 15 minutes by core's retries (a long ServerBusy storm) is
/// refused for its date once, then signed anew and sent again.
#[tokio::test]
async fn a_request_refused_for_its_date_is_signed_again() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(error_with(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
            "<AuthenticationErrorDetail>Request date header too old: 'Fri, 04 Dec 2026 11:00:00 GMT'</AuthenticationErrorDetail>",
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    azure_fixture::mount(&server, &azure_fixture::blobs(), 10).await;
    let report = full(&server).await.unwrap();
    assert_eq!(report.new, 7);
}

/// `link_template` gives documents a link for people (the portal's blob page); a blob whose
/// name has a `.` segment is a failure without any request, since a URL cannot carry it.
#[tokio::test]
async fn link_template_and_dot_segment_names() {
    let server = MockServer::start().await;
    let blobs = [
        Blob::new("guide/a b.md", b"one", "text/markdown", 1),
        Blob::new("guide/./b.md", b"two", "text/markdown", 1),
    ];
    azure_fixture::mount(&server, &blobs, 10).await;
    let mut config = azure_fixture::config(&server.uri(), 10);
    config.link_template = Some(
        "https://portal.azure.com/#view/Microsoft_Azure_Storage/BlobPropertiesBladeV2/storageAccountId/%2Fsubscriptions%2Fsub-1%2FresourceGroups%2Frg%2Fproviders%2FMicrosoft.Storage%2FstorageAccounts%2Facct/path/{container}%2F{name_encoded}".into(),
    );
    let sink = MemorySink::new();
    let report = Syncer::new(azure_fixture::connector(config))
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    let doc = sink.get("guide/a b.md").unwrap();
    assert_eq!(
        doc.link.as_ref().map(url::Url::as_str),
        Some(
            "https://portal.azure.com/#view/Microsoft_Azure_Storage/BlobPropertiesBladeV2/storageAccountId/%2Fsubscriptions%2Fsub-1%2FresourceGroups%2Frg%2Fproviders%2FMicrosoft.Storage%2FstorageAccounts%2Facct/path/docs%2Fguide%2Fa%20b.md"
        )
    );
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].id.as_deref(), Some("guide/./b.md"));
    assert_eq!(report.failures[0].kind, ErrorKind::Unsupported);
    let downloads = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.query().is_none())
        .count();
    assert_eq!(downloads, 1, "only guide/a b.md is downloaded");

    let mut bad = azure_fixture::config(&server.uri(), 10);
    bad.link_template = Some("not a url {name}".into());
    let err = AzureBlobConnector::new(bad).unwrap_err();
    assert!(err.to_string().contains("link_template"), "{err}");
}

/// `check()` goes through the client `with_http` customised (here its user agent; a
/// `resolve` for split DNS or a shared rate gate alike), not a fresh one.
#[tokio::test]
async fn check_uses_the_customised_client() {
    let server = fixture().await;
    let connector = AzureBlobConnector::with_http(azure_fixture::config(&server.uri(), 2), |b| {
        b.user_agent("handbook-sync/2.1")
    })
    .unwrap();
    connector_core::Connector::check(&connector).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    for r in requests {
        assert_eq!(
            r.headers.get("user-agent").and_then(|v| v.to_str().ok()),
            Some("handbook-sync/2.1")
        );
    }
}
