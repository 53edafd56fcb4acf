//! RAGFlow configs as a new user brings them (issue 14's review), built through the registry
//! and run against wiremock fixtures shaped as the S3 API documents them: the form's default
//! `addressing_style: virtual` at an IP endpoint or with a bucket name that is no host label,
//! a prefix with a leading `/`, images (indexed by RAGFlow's blob sync, skipped by its Go
//! connectors for R2 and GCS), and `size_threshold` (the Go connectors' name of the size cap).

use connector_core::{Connector, Document, Registry, SyncContext};
use futures::StreamExt;
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn registry() -> Registry {
    let mut registry = Registry::new();
    connector_s3::register(&mut registry);
    registry
}

/// A `ListObjectsV2` page of `objects` (key, size).
fn listing(bucket: &str, prefix: &str, objects: &[(&str, u64)]) -> String {
    let contents: String = objects
        .iter()
        .map(|(key, size)| {
            format!(
                "<Contents><Key>{key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>\
                 <ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>{size}</Size>\
                 <StorageClass>STANDARD</StorageClass></Contents>"
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>{bucket}</Name><Prefix>{prefix}</Prefix><KeyCount>{}</KeyCount><MaxKeys>1000</MaxKeys>
  <IsTruncated>false</IsTruncated>{contents}
</ListBucketResult>"#,
        objects.len()
    )
}

/// Answers the listing of `bucket` (path style) with `objects`, and each object's download
/// with its key as the body.
async fn bucket(server: &MockServer, bucket: &str, prefix: &str, objects: &[(&str, u64)]) {
    let list_path = format!("/{bucket}/");
    Mock::given(method("GET"))
        .and(query_param("list-type", "2"))
        .and(move |req: &Request| req.url.path() == list_path)
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(listing(bucket, prefix, objects), "application/xml"),
        )
        .mount(server)
        .await;
    for (key, _) in objects {
        let object_path = format!("/{bucket}/{key}");
        Mock::given(method("GET"))
            .and(move |req: &Request| req.url.path() == object_path)
            .respond_with(ResponseTemplate::new(200).set_body_string(*key))
            .mount(server)
            .await;
    }
}

/// Every document and failure message of a full load.
async fn load(c: &dyn Connector) -> (Vec<Document>, Vec<String>) {
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let (mut docs, mut failures) = (Vec::new(), Vec::new());
    while let Some(page) = stream.next().await {
        let page = page.expect("page");
        docs.extend(page.documents);
        failures.extend(page.failures.into_iter().map(|f| f.message));
    }
    (docs, failures)
}

fn keys(docs: &[Document]) -> Vec<&str> {
    docs.iter()
        .map(|d| d.metadata["key"].as_str().unwrap_or_default())
        .collect()
}

/// RAGFlow's S3 form in mode S3 Compatible, as it stores it: `virtual` is the form's default.
fn compatible_form(bucket: &str, endpoint: &str) -> serde_json::Value {
    serde_json::json!({
        "bucket_name": bucket, "allowed_hosts": ["127.0.0.1", "localhost"], "bucket_type": "s3_compatible", "prefix": "",
        "credentials": {
            "aws_access_key_id": "minio-indexer", "aws_secret_access_key": "minio-secret",
            "region": "", "authentication_method": "access_key", "aws_role_arn": "",
            "endpoint_url": endpoint, "addressing_style": "virtual",
        },
        "sync_deleted_files": false,
    })
}

#[tokio::test]
async fn virtual_style_at_an_ip_endpoint_is_addressed_by_path_as_botocore_does() {
    let server = MockServer::start().await;
    // `MockServer::uri()` is `http://127.0.0.1:{port}`.
    bucket(&server, "docs", "", &[("a.md", 4)]).await;
    let c = registry()
        .build("s3", compatible_form("docs", &server.uri()))
        .expect("an IP endpoint with the form's `virtual` builds");
    c.check().await.expect("listed by path");
    let (docs, failures) = load(c.as_ref()).await;
    assert_eq!(keys(&docs), ["a.md"], "{failures:?}");
}

#[tokio::test]
async fn virtual_style_with_a_bucket_name_that_is_no_host_label_is_addressed_by_path() {
    let server = MockServer::start().await;
    let endpoint = format!("http://localhost:{}", server.address().port());
    bucket(&server, "team_docs", "", &[("a.md", 4)]).await;
    let c = registry()
        .build("s3_compatible", compatible_form("team_docs", &endpoint))
        .expect("builds");
    c.check()
        .await
        .expect("listed at localhost/team_docs, not team_docs.localhost");
    let (docs, _) = load(c.as_ref()).await;
    assert_eq!(
        docs[0].link.as_ref().map(url::Url::as_str),
        Some(format!("{endpoint}/team_docs/a.md").as_str())
    );
}

#[tokio::test]
async fn a_prefix_with_a_leading_slash_is_listed_as_given() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("list-type", "2"))
        .and(query_param("prefix", "/docs/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            listing("b", "/docs/", &[("/docs/a.md", 4)]),
            "application/xml",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(|req: &Request| req.url.path() == "/b//docs/a.md")
        .respond_with(ResponseTemplate::new(200).set_body_string("# a"))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = compatible_form("b", &server.uri());
    config["prefix"] = "/docs".into();
    let c = registry()
        .build("s3_compatible", config)
        .expect("a prefix may start with `/`, as S3 keys may");
    let (docs, failures) = load(c.as_ref()).await;
    assert_eq!(keys(&docs), ["/docs/a.md"], "{failures:?}");
    assert_eq!(docs[0].id, "s3_compatible:b:/docs/a.md");
    assert_eq!(docs[0].title, "a.md");
    assert_eq!(docs[0].content.as_text(), Some("# a"));
}

#[tokio::test]
async fn images_are_documents_by_default_except_under_r2_and_gcs() {
    let server = MockServer::start().await;
    bucket(&server, "docs", "", &[("a.md", 4), ("logo.png", 8)]).await;
    let r2 = serde_json::json!({"account_id": "acc1", "r2_access_key_id": "k",
        "r2_secret_access_key": "s", "endpoint_url": server.uri()});
    let gcs = serde_json::json!({"access_key_id": "GOOG1", "secret_access_key": "s",
        "endpoint_url": server.uri()});
    let oci = serde_json::json!({"namespace": "ns", "region": "eu-frankfurt-1",
        "access_key_id": "k", "secret_access_key": "s", "endpoint_url": server.uri()});
    let compatible = serde_json::json!({"aws_access_key_id": "k", "aws_secret_access_key": "s",
        "endpoint_url": server.uri()});
    let s3 = serde_json::json!({"aws_access_key_id": "AKIA", "aws_secret_access_key": "s",
        "endpoint_url": server.uri(), "region": "us-east-1"});
    let registry = registry();
    for (source, bucket_type, credentials, allow_images, want) in [
        // RAGFlow's Python blob sync (s3, oci_storage and every type under source s3)
        // indexes images since its filter was removed.
        ("s3", "s3", &s3, None, &["a.md", "logo.png"][..]),
        (
            "oci_storage",
            "oci_storage",
            &oci,
            None,
            &["a.md", "logo.png"],
        ),
        (
            "s3_compatible",
            "s3_compatible",
            &compatible,
            None,
            &["a.md", "logo.png"],
        ),
        ("s3", "r2", &r2, None, &["a.md", "logo.png"]),
        // Its Go connectors for R2 and GCS skip them unless allow_images.
        ("r2", "r2", &r2, None, &["a.md"]),
        (
            "google_cloud_storage",
            "google_cloud_storage",
            &gcs,
            None,
            &["a.md"],
        ),
        ("r2", "r2", &r2, Some(true), &["a.md", "logo.png"]),
        // Said explicitly, false is honoured everywhere.
        (
            "s3_compatible",
            "s3_compatible",
            &compatible,
            Some(false),
            &["a.md"],
        ),
    ] {
        let mut config = serde_json::json!({"bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "bucket_type": bucket_type,
            "credentials": credentials});
        if let Some(allow) = allow_images {
            config["allow_images"] = allow.into();
        }
        let c = registry.build(source, config).expect("builds");
        let (docs, failures) = load(c.as_ref()).await;
        assert_eq!(
            keys(&docs),
            want,
            "{source} / {bucket_type} / allow_images {allow_images:?}: {failures:?}"
        );
    }
}

#[tokio::test]
async fn size_threshold_is_max_object_size_as_in_ragflows_go_connectors() {
    let server = MockServer::start().await;
    bucket(&server, "docs", "", &[("small.md", 4), ("big.md", 5000)]).await;
    let r2 = |size_threshold: serde_json::Value| {
        serde_json::json!({"bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "size_threshold": size_threshold,
            "credentials": {"account_id": "acc1", "r2_access_key_id": "k",
                "r2_secret_access_key": "s", "endpoint_url": server.uri()}})
    };
    let registry = registry();
    let c = registry.build("r2", r2(1024.into())).expect("builds");
    let (docs, failures) = load(c.as_ref()).await;
    assert_eq!(keys(&docs), ["small.md"]);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("big.md"), "{failures:?}");
    // Zero or less is the default (20 MiB), as the Go connectors read it.
    for default in [serde_json::json!(0), serde_json::json!("-1")] {
        let effective = registry
            .effective_config("r2", r2(default))
            .expect("the default");
        assert_eq!(effective["max_object_size"], 20 * 1024 * 1024);
    }
}
