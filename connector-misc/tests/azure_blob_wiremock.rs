//! The Azure Blob connector against wiremock fixtures written from the REST API reference:
//! List Blobs paging by `NextMarker`, the headers every request carries, error bodies with
//! `<Code>` told apart, `503 ServerBusy` retried, a SAS appended and never shown.
#![cfg(feature = "azure_blob")]
#![allow(clippy::unwrap_used)]

mod azure_fixture;

use azure_fixture::{ACCOUNT, Blob, CONTAINER, error};
use connector_core::sink::MemorySink;
use connector_core::state::{MemoryStateStore, StateStore};
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{Document, ErrorKind};
use connector_misc::azure_blob::{API_VERSION, AzureBlobConfig};
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
    assert_eq!(lists[0], "restype=container&comp=list&maxresults=2");
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
    assert_eq!(md.title, "intro.md");
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
