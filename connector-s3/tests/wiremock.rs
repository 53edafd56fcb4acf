//! Wiremock fixtures written from the S3 API documentation: URL shapes per bucket type (path
//! and virtual-host style, the signing region and key of R2, GCS and OCI) and the XML error
//! bodies (`NoSuchBucket`, `AccessDenied`, `SignatureDoesNotMatch`, `InvalidAccessKeyId`,
//! `SlowDown` retried until it passes).

use std::sync::Arc;
use std::time::Duration;

use connector_core::{CheckpointedConnector, Connector, ErrorKind, SyncContext, SyncStats};
use connector_s3::s3::{S3Checkpoint, S3Config, S3Connector};
use futures::StreamExt;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const LISTING: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>docs</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>
  <IsTruncated>false</IsTruncated>
  <Contents><Key>a.md</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>
    <ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>folder/</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>
    <ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>
</ListBucketResult>"#;

fn error_body(code: &str, message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>{code}</Code><Message>{message}</Message><BucketName>docs</BucketName><RequestId>4442587FB7D0A2F9</RequestId></Error>"#
    )
}

fn xml(status: u16, body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into(), "application/xml")
}

fn config(json: serde_json::Value) -> S3Config {
    connector_core::config::from_json(json).expect("valid config")
}

/// The secret access key of the fixtures' configs.
const SECRET_KEY: &str = "wJalrXUtnFEMI";

fn compat(server: &MockServer) -> S3Config {
    compat_at(&server.uri())
}

fn compat_at(endpoint: &str) -> S3Config {
    config(serde_json::json!({
        "bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "bucket_type": "s3_compatible",
        "credentials": {"endpoint_url": endpoint, "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": SECRET_KEY, "addressing_style": "path"},
    }))
}

/// A connector whose retries are quick, so the SlowDown test does not wait seconds.
fn fast(source: &str, config: S3Config) -> Arc<dyn Connector> {
    Arc::new(
        S3Connector::with_http(source, config, |b| {
            b.backoff(Duration::from_millis(5), Duration::from_millis(20))
        })
        .expect("valid config"),
    )
}

async fn load_all(
    c: &dyn Connector,
    ctx: SyncContext,
) -> connector_core::Result<Vec<connector_core::Document>> {
    let mut stream = c.as_load().expect("load").load(ctx);
    let mut docs = Vec::new();
    while let Some(page) = stream.next().await {
        docs.extend(page?.documents);
    }
    Ok(docs)
}

#[tokio::test]
async fn path_style_names_the_bucket_in_the_path_and_signs_with_sigv4() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/docs/"))
        .and(query_param("list-type", "2"))
        .and(query_param("X-Amz-Algorithm", "AWS4-HMAC-SHA256"))
        .respond_with(xml(200, LISTING))
        // The page, and the titles' census of the file names.
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/docs/a.md"))
        .respond_with(ResponseTemplate::new(200).set_body_string("hello"))
        .expect(1)
        .mount(&server)
        .await;
    let docs = load_all(
        fast("s3_compatible", compat(&server)).as_ref(),
        SyncContext::new(),
    )
    .await
    .expect("load");
    assert_eq!(docs.len(), 1, "the folder marker `folder/` is skipped");
    assert_eq!(docs[0].id, "s3_compatible:docs:a.md");
    assert_eq!(docs[0].content.as_text(), Some("hello"));
    assert_eq!(
        docs[0].fingerprint,
        connector_core::Document::version_fingerprint("0cc175b9c0f1b6a831c399e269772661")
    );
    assert_eq!(
        docs[0].updated_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-01-01T00:00:00+00:00")
    );
}

#[tokio::test]
async fn virtual_host_style_names_the_bucket_in_the_host() {
    let server = MockServer::start().await;
    let port = server.address().port();
    let host = format!("docs.s3.test:{port}");
    Mock::given(method("GET"))
        .and(path("/"))
        .and(header("host", host.as_str()))
        .and(query_param("list-type", "2"))
        .respond_with(xml(200, LISTING))
        // The page, and the titles' census of the file names.
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/a.md"))
        .and(header("host", host.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_string("hello"))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(serde_json::json!({
        "bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "bucket_type": "s3_compatible",
        "credentials": {"endpoint_url": format!("http://s3.test:{port}"), "aws_access_key_id": "k",
            "aws_secret_access_key": "s", "addressing_style": "virtual"},
    }));
    let addr = *server.address();
    let c = S3Connector::with_http("s3_compatible", cfg, move |b| {
        b.resolve("docs.s3.test", addr)
    })
    .expect("valid config");
    let docs = load_all(&c, SyncContext::new()).await.expect("load");
    assert_eq!(docs.len(), 1);
    assert_eq!(
        docs[0].link.as_ref().map(url::Url::as_str),
        Some(format!("http://docs.s3.test:{port}/a.md").as_str())
    );
}

/// The `X-Amz-Credential` of the first request: `{key id}/{date}/{region}/s3/aws4_request`.
async fn credential_scope(server: &MockServer) -> String {
    let requests: Vec<Request> = server.received_requests().await.unwrap_or_default();
    let first = requests.first().expect("a request was sent");
    first
        .url
        .query_pairs()
        .find(|(k, _)| k == "X-Amz-Credential")
        .map(|(_, v)| v.into_owned())
        .expect("a pre-signed request")
}

#[tokio::test]
async fn r2_gcs_and_oci_sign_with_their_key_and_region() {
    for (source, creds, key, region) in [
        (
            "r2",
            serde_json::json!({"account_id": "acc1", "r2_access_key_id": "r2key", "r2_secret_access_key": "r2secret"}),
            "r2key",
            "auto",
        ),
        (
            "google_cloud_storage",
            serde_json::json!({"access_key_id": "GOOG1EXAMPLE", "secret_access_key": "gsecret"}),
            "GOOG1EXAMPLE",
            "auto",
        ),
        (
            "oci_storage",
            serde_json::json!({"namespace": "ns1", "region": "eu-frankfurt-1",
                "access_key_id": "ocikey", "secret_access_key": "ocisecret"}),
            "ocikey",
            "eu-frankfurt-1",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/docs/"))
            .respond_with(xml(200, LISTING))
            .mount(&server)
            .await;
        let mut creds = creds;
        creds["endpoint_url"] = server.uri().into();
        let cfg = config(
            serde_json::json!({"bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "credentials": creds}),
        );
        let c = S3Connector::for_source(source, cfg).expect("valid config");
        assert_eq!(c.bucket_type().as_str(), source);
        c.check().await.expect("check passes");
        let scope = credential_scope(&server).await;
        assert!(scope.starts_with(&format!("{key}/")), "{source}: {scope}");
        assert!(
            scope.ends_with(&format!("/{region}/s3/aws4_request")),
            "{source}: {scope}"
        );
    }
}

#[tokio::test]
async fn registry_refuses_a_bucket_type_of_another_source() {
    let mut registry = connector_core::Registry::new();
    connector_s3::register(&mut registry);
    let err = registry
        .build(
            "r2",
            serde_json::json!({"bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "bucket_type": "oci_storage",
                "credentials": {"namespace": "n", "region": "r", "access_key_id": "k", "secret_access_key": "s"}}),
        )
        .expect_err("r2 with an OCI bucket");
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.problems().iter().any(|p| p.path == "bucket_type"),
        "{err}"
    );
    // Under `s3` any type goes, as in RAGFlow.
    let c = registry
        .build(
            "s3",
            serde_json::json!({"bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "bucket_type": "r2",
                "credentials": {"account_id": "a", "r2_access_key_id": "k", "r2_secret_access_key": "s"}}),
        )
        .expect("s3 takes any bucket_type");
    assert_eq!(c.source(), "s3");
    assert_eq!(c.to_string(), "r2:docs/");
    let missing = registry
        .build(
            "r2",
            serde_json::json!({"bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "credentials": {}}),
        )
        .expect_err("R2 without keys");
    let paths: Vec<&str> = missing.problems().iter().map(|p| p.path.as_str()).collect();
    for p in [
        "credentials.account_id",
        "credentials.r2_access_key_id",
        "credentials.r2_secret_access_key",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
}

async fn check_error(
    status: u16,
    code: &str,
    source: &str,
    cfg: impl FnOnce(&MockServer) -> S3Config,
) -> connector_core::Error {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(xml(status, error_body(code, "from the fixture")))
        .mount(&server)
        .await;
    let c = fast(source, cfg(&server));
    let err = c.check().await.expect_err("the store refuses");
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let load_err = stream
        .next()
        .await
        .expect("an item")
        .expect_err("the load fails on its first page");
    assert_eq!(load_err.kind(), err.kind());
    assert!(
        err.to_string().contains("`docs`"),
        "the bucket is named: {err}"
    );
    err
}

#[tokio::test]
async fn xml_error_codes_map_to_kinds_naming_the_bucket_and_the_field() {
    let err = check_error(404, "NoSuchBucket", "s3_compatible", compat).await;
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.field(), Some("bucket_name"));

    let err = check_error(403, "AccessDenied", "s3_compatible", compat).await;
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");

    let err = check_error(403, "SignatureDoesNotMatch", "s3_compatible", compat).await;
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.aws_secret_access_key"));
    assert!(!err.to_string().contains("wJalrXUtnFEMI"), "{err}");

    let err = check_error(403, "InvalidAccessKeyId", "r2", |server| {
        config(
            serde_json::json!({"bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"],
            "credentials": {"endpoint_url": server.uri(), "account_id": "a",
                "r2_access_key_id": "k", "r2_secret_access_key": "s"}}),
        )
    })
    .await;
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.r2_access_key_id"));
}

#[tokio::test]
async fn slow_down_is_retried_until_it_passes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/docs/"))
        .respond_with(xml(
            503,
            error_body("SlowDown", "Please reduce your request rate."),
        ))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/docs/"))
        .respond_with(xml(200, LISTING))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/docs/a.md"))
        .respond_with(ResponseTemplate::new(200).set_body_string("hello"))
        .mount(&server)
        .await;
    let stats = Arc::new(SyncStats::default());
    let ctx = SyncContext::new().with_stats(Arc::clone(&stats));
    let docs = load_all(fast("s3_compatible", compat(&server)).as_ref(), ctx)
        .await
        .expect("the third listing attempt passes");
    assert_eq!(docs.len(), 1);
    assert_eq!(stats.retries(), 2);
    assert_eq!(
        stats.requests(),
        5,
        "three listing attempts, one download and the titles' census"
    );

    // A store that never stops asking: the sync ends with a retryable error naming the bucket.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(xml(
            503,
            error_body("SlowDown", "Please reduce your request rate."),
        ))
        .mount(&server)
        .await;
    let err = load_all(
        fast("s3_compatible", compat(&server)).as_ref(),
        SyncContext::new(),
    )
    .await
    .expect_err("retries run out");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("`docs`"), "{err}");
}

/// A listing of `keys`, each `size` bytes, whose next page is at `token` when given.
fn listing_of(keys: &[&str], size: u64, token: Option<&str>) -> String {
    let contents: String = keys
        .iter()
        .map(|k| {
            format!(
                "<Contents><Key>{k}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;{k}&quot;</ETag><Size>{size}</Size></Contents>"
            )
        })
        .collect();
    let more = match token {
        Some(t) => format!(
            "<IsTruncated>true</IsTruncated><NextContinuationToken>{t}</NextContinuationToken>"
        ),
        None => "<IsTruncated>false</IsTruncated>".to_owned(),
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>docs</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys>{more}{contents}</ListBucketResult>"#
    )
}

/// Answers GET `route` with `response`.
async fn serve(server: &MockServer, route: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(response)
        .mount(server)
        .await;
}

/// The one policy (core's `ErrorKind::ends_sync`): an object denied alone, or one the store
/// keeps failing on after every retry, is a failure of that object that links to it, and the
/// objects after it still come. (Before the page pipeline moved to core, a store failing on
/// one object ended the sync.)
#[tokio::test]
async fn an_object_denied_or_failing_alone_is_a_failure_and_the_sync_goes_on() {
    let server = MockServer::start().await;
    let listing = listing_of(&["a.md", "b.md", "c.md", "folder/"], 1, None);
    serve(&server, "/docs/", xml(200, listing)).await;
    let denied = xml(403, error_body("AccessDenied", "Access Denied"));
    serve(&server, "/docs/a.md", denied).await;
    let slow = xml(
        503,
        error_body("SlowDown", "Please reduce your request rate."),
    );
    serve(&server, "/docs/b.md", slow).await;
    let ok = ResponseTemplate::new(200).set_body_string("c");
    serve(&server, "/docs/c.md", ok).await;
    let c = fast("s3_compatible", compat(&server));
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let page = stream.next().await.expect("a page").expect("the page");
    let ids: Vec<&str> = page.documents.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["s3_compatible:docs:c.md"]);
    let failed: Vec<_> = page
        .failures
        .iter()
        .map(|f| (f.id.as_deref(), f.kind, f.retryable))
        .collect();
    assert_eq!(
        failed,
        [
            (
                Some("s3_compatible:docs:a.md"),
                ErrorKind::PermissionDenied,
                false
            ),
            (
                Some("s3_compatible:docs:b.md"),
                ErrorKind::Unavailable,
                true
            ),
        ]
    );
    for (failure, key) in page.failures.iter().zip(["a.md", "b.md"]) {
        assert!(failure.message.contains(key), "{}", failure.message);
        let link = failure.link.as_ref().map(url::Url::path);
        assert_eq!(link, Some(format!("/docs/{key}").as_str()));
    }
    assert!(stream.next().await.is_none());
}

/// A store that hands back the continuation token it was given would be listed forever: core's
/// `paginate` ends the listing with an error after the repeated page.
#[tokio::test]
async fn a_repeated_continuation_token_ends_the_listing() {
    let server = MockServer::start().await;
    let listing = listing_of(&["a.md"], 1, Some("again"));
    serve(&server, "/docs/", xml(200, listing)).await;
    let ok = ResponseTemplate::new(200).set_body_string("a");
    serve(&server, "/docs/a.md", ok).await;
    let c = fast("s3_compatible", compat(&server));
    let err = load_all(c.as_ref(), SyncContext::new())
        .await
        .expect_err("the listing loops");
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("again"), "{err}");
    let lists = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/docs/")
        .count();
    // Listed twice, then stopped; the titles' census (a listing of its own, taken for the
    // first page's document) likewise.
    assert_eq!(lists, 4, "listed twice, then stopped");
}

/// A page whose documents pass 32 MiB is handed on in parts; a part's checkpoint resumes after
/// its last key, the page's last part carries the page's own.
#[tokio::test]
async fn a_page_of_large_objects_is_handed_on_in_parts() {
    const SIZE: usize = 17 * 1024 * 1024;
    let server = MockServer::start().await;
    let keys = ["a.bin", "b.bin", "c.bin"];
    serve(
        &server,
        "/docs/",
        xml(200, listing_of(&keys, SIZE as u64, None)),
    )
    .await;
    for key in keys {
        let body = ResponseTemplate::new(200).set_body_bytes(vec![b'x'; SIZE]);
        serve(&server, &format!("/docs/{key}"), body).await;
    }
    let c = S3Connector::for_source("s3_compatible", compat(&server)).expect("valid config");
    let parts: Vec<_> = c
        .load_from_checkpoint(S3Checkpoint::start(), None, SyncContext::new())
        .map(|part| {
            let part = part.expect("a part");
            let ids: Vec<String> = part.batch.documents.iter().map(|d| d.id.clone()).collect();
            let cp = part.checkpoint;
            (ids, cp.start_after, cp.continuation_token, cp.done)
        })
        .collect()
        .await;
    let id = |k: &str| format!("s3_compatible:docs:{k}");
    assert_eq!(
        parts,
        [
            (
                vec![id("a.bin"), id("b.bin")],
                Some("b.bin".to_owned()),
                None,
                false
            ),
            (vec![id("c.bin")], Some("c.bin".to_owned()), None, true),
        ]
    );
}

/// An object in an archive storage class (S3 Glacier Flexible Retrieval, Deep Archive) that
/// has not been restored: `GetObject` answers `403 InvalidObjectState` (S3 API Reference,
/// `GetObject`). It is an `Unsupported` failure saying to restore it, not a permission
/// problem, and the objects after it still come.
#[tokio::test]
async fn an_archived_object_is_a_failure_that_says_so() {
    let server = MockServer::start().await;
    let listing = listing_of(&["a.md", "b.md"], 1, None);
    serve(&server, "/docs/", xml(200, listing)).await;
    let archived = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the object's storage class</Message><StorageClass>GLACIER</StorageClass><RequestId>4442587FB7D0A2F9</RequestId></Error>"#;
    serve(&server, "/docs/a.md", xml(403, archived)).await;
    let ok = ResponseTemplate::new(200).set_body_string("b");
    serve(&server, "/docs/b.md", ok).await;
    let c = fast("s3_compatible", compat(&server));
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let page = stream.next().await.expect("a page").expect("the page");
    let ids: Vec<&str> = page.documents.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["s3_compatible:docs:b.md"]);
    assert_eq!(page.failures.len(), 1);
    let failure = &page.failures[0];
    assert_eq!(failure.kind, ErrorKind::Unsupported, "{}", failure.message);
    assert!(failure.message.contains("archived"), "{}", failure.message);
    assert!(!failure.retryable);
}

/// A listing whose objects are `(key, LastModified, ETag)`.
fn listing_dated(objects: &[(&str, &str, &str)]) -> String {
    let contents: String = objects
        .iter()
        .map(|(key, modified, etag)| {
            format!(
                "<Contents><Key>{key}</Key><LastModified>{modified}</LastModified><ETag>&quot;{etag}&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>"
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>docs</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"#
    )
}

/// A multipart upload initiated at 09:00 and completed at 11:00, between a full run at 10:00
/// and an incremental run at 12:00. `ListObjectsV2` does not list an upload in progress, and
/// once complete the object's `LastModified` is the time the upload was *initiated* (S3 User
/// Guide, system-defined metadata; its ETag is `{md5 of the part md5s}-{parts}`): before the
/// incremental window `[10:00, 12:00)`. The incremental run lists everything and delivers it,
/// as RAGFlow's ETag comparison does; with `incremental_by_last_modified` it is missed.
#[tokio::test]
async fn a_multipart_upload_completed_after_a_run_is_delivered_by_the_next() {
    let at = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .expect("time")
            .with_timezone(&chrono::Utc)
    };
    let a = (
        "a.md",
        "2026-01-01T08:00:00.000Z",
        "0cc175b9c0f1b6a831c399e269772661",
    );
    let big = (
        "big.md",
        "2026-01-01T09:00:00.000Z",
        "d8e8fca2dc0f896fd7cb4cb0031ba249-3",
    );
    for by_last_modified in [false, true] {
        let server = MockServer::start().await;
        serve(&server, "/docs/", xml(200, listing_dated(&[a]))).await;
        serve(
            &server,
            "/docs/a.md",
            ResponseTemplate::new(200).set_body_string("a"),
        )
        .await;
        let mut config = compat(&server);
        config.incremental_by_last_modified = by_last_modified;
        let state = connector_core::state::MemoryStateStore::new();
        let sink = connector_core::sink::MemorySink::new();
        let syncer = |config: S3Config| {
            connector_core::sync::Syncer::new(fast("s3_compatible", config))
                .sink(sink.clone())
                .state(state.clone())
        };
        let full = syncer(config.clone())
            .at(at("2026-01-01T10:00:00Z"))
            .run(connector_core::sync::SyncMode::Full)
            .await
            .expect("full");
        assert_eq!(full.new, 1);

        server.reset().await;
        serve(&server, "/docs/", xml(200, listing_dated(&[a, big]))).await;
        serve(
            &server,
            "/docs/big.md",
            ResponseTemplate::new(200).set_body_string("big"),
        )
        .await;
        let next = syncer(config)
            .at(at("2026-01-01T12:00:00Z"))
            .run(connector_core::sync::SyncMode::Incremental)
            .await
            .expect("incremental");
        let delivered = sink.ids().contains(&"s3_compatible:docs:big.md".to_owned());
        if by_last_modified {
            assert!(!delivered, "the documented risk of the opt-in mode");
            assert_eq!(next.new, 0, "{next:?}");
        } else {
            assert!(delivered, "{next:?}");
            assert_eq!((next.new, next.unchanged), (1, 1), "{next:?}");
        }
    }
}

/// A path-style bucket `docs` of three small objects, for core's HTTP checks.
async fn bucket() -> MockServer {
    let server = MockServer::start().await;
    let keys = ["a.md", "b.md", "c.md"];
    serve(&server, "/docs/", xml(200, listing_of(&keys, 1, None))).await;
    for key in keys {
        let body = ResponseTemplate::new(200).set_body_string("x");
        serve(&server, &format!("/docs/{key}"), body).await;
    }
    server
}

fn bucket_connector(uri: &str) -> Arc<dyn Connector> {
    Arc::new(S3Connector::new(compat_at(uri)).expect("valid config"))
}

connector_core::http_checks! {
    fake: bucket().await,
    build: bucket_connector,
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(SECRET_KEY),
    ],
}
