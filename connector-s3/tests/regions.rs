//! A bucket in another region than the one configured (or defaulted to), as Amazon S3 answers
//! it, written from the S3 API Reference (*Error responses*, `HeadBucket`):
//! - a request that reaches another region's endpoint: `301 PermanentRedirect` with no
//!   `Location`, the bucket's region in `x-amz-bucket-region`;
//! - a request that reaches the bucket's region signed for another (newer regions, and every
//!   region for a pre-signed URL): `400 AuthorizationHeaderMalformed` /
//!   `AuthorizationQueryParametersError`, "the region 'us-east-1' is wrong; expecting
//!   'ap-east-1'", with `<Region>ap-east-1</Region>`;
//! - `HeadBucket`, on any bucket from any region: the region in `x-amz-bucket-region`, with
//!   a 200, 400, 403 or 404 and no body.
//!
//! The mock server stands in for Amazon S3 through `credentials.endpoint_url`, so the region
//! shows in the signature (`X-Amz-Credential=…/{region}/s3/aws4_request`) rather than in the
//! host name. Before the fix the 301 ended every sync with "the object is larger than
//! `max_object_size`".

use std::sync::Arc;
use std::time::Duration;

use connector_core::{Connector, Document, ErrorKind, SyncContext};
use connector_s3::s3::{S3Config, S3Connector, StaticEnvironment};
use futures::StreamExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const LISTING: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>docs</Name><Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>
  <IsTruncated>false</IsTruncated>
  <Contents><Key>a.md</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>
    <ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>
</ListBucketResult>"#;

/// Amazon S3's answer to a request sent to another region's endpoint.
fn permanent_redirect(region: &str) -> ResponseTemplate {
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>docs.s3.{region}.amazonaws.com</Endpoint><Bucket>docs</Bucket><RequestId>4442587FB7D0A2F9</RequestId><HostId>ZxJ1Y2tldA==</HostId></Error>"#
    );
    ResponseTemplate::new(301)
        .insert_header("x-amz-bucket-region", region)
        .set_body_raw(body, "application/xml")
}

/// Amazon S3's answer to a request that reached the bucket's region signed for another.
fn wrong_signing_region(code: &str, signed: &str, region: &str) -> ResponseTemplate {
    let message = match code {
        "AuthorizationQueryParametersError" => format!(
            "Error parsing the X-Amz-Credential parameter; the region '{signed}' is wrong; expecting '{region}'"
        ),
        _ => format!(
            "The authorization header is malformed; the region '{signed}' is wrong; expecting '{region}'"
        ),
    };
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>{code}</Code><Message>{message}</Message><Region>{region}</Region><RequestId>4442587FB7D0A2F9</RequestId><HostId>ZxJ1Y2tldA==</HostId></Error>"#
    );
    ResponseTemplate::new(400).set_body_raw(body, "application/xml")
}

/// Whether a pre-signed request is signed for `region`.
fn signed_for(region: &'static str) -> impl Fn(&Request) -> bool + Send + Sync {
    move |req: &Request| {
        req.url
            .query_pairs()
            .any(|(k, v)| k == "X-Amz-Credential" && v.contains(&format!("/{region}/s3/")))
    }
}

/// An Amazon S3 config at the mock server, with `region` if given.
fn config(server: &MockServer, region: Option<&str>) -> S3Config {
    let mut credentials = serde_json::json!({
        "endpoint_url": server.uri(),
        "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    });
    if let Some(region) = region {
        credentials["region"] = region.into();
    }
    connector_core::config::from_json(serde_json::json!({
        "bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "bucket_type": "s3", "credentials": credentials,
    }))
    .expect("valid config")
}

/// A connector for `source` with quick retries, reading no region from the host (so the
/// default is `us-east-1`).
fn connector(source: &str, config: S3Config) -> Arc<S3Connector> {
    let env = Arc::new(StaticEnvironment::new());
    Arc::new(
        S3Connector::with_environment(source, config, env, |b| {
            b.backoff(Duration::from_millis(5), Duration::from_millis(20))
        })
        .expect("valid config"),
    )
}

async fn load_all(c: &dyn Connector) -> connector_core::Result<Vec<Document>> {
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let mut docs = Vec::new();
    while let Some(page) = stream.next().await {
        docs.extend(page?.documents);
    }
    Ok(docs)
}

/// The bucket served in `region` only: listing and object signed for it.
async fn serve_in(server: &MockServer, region: &'static str) {
    Mock::given(method("GET"))
        .and(path("/docs/"))
        .and(signed_for(region))
        .respond_with(ResponseTemplate::new(200).set_body_raw(LISTING, "application/xml"))
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/docs/a.md"))
        .and(signed_for(region))
        .respond_with(ResponseTemplate::new(200).set_body_string("hello"))
        .with_priority(1)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer, verb: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == verb)
        .collect()
}

/// A bucket in eu-west-1, configured without a region: the listing's 301 sends one `HEAD`,
/// whose `x-amz-bucket-region` moves every later request (the downloads too) to eu-west-1.
#[tokio::test]
async fn a_permanent_redirect_moves_the_connector_to_the_buckets_region() {
    let server = MockServer::start().await;
    serve_in(&server, "eu-west-1").await;
    Mock::given(method("GET"))
        .respond_with(permanent_redirect("eu-west-1"))
        .with_priority(5)
        .mount(&server)
        .await;
    // HeadBucket signed for the wrong region: 400, no body, the region in the header.
    Mock::given(method("HEAD"))
        .and(path("/docs/"))
        .respond_with(ResponseTemplate::new(400).insert_header("x-amz-bucket-region", "eu-west-1"))
        .mount(&server)
        .await;
    let c = connector("s3", config(&server, None));
    let docs = load_all(c.as_ref())
        .await
        .expect("the sync finds the region");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].content.as_text(), Some("hello"));
    assert_eq!(requests(&server, "HEAD").await.len(), 1, "asked once");
    let gets = requests(&server, "GET").await;
    // The first listing (us-east-1, 301), then in eu-west-1 the listing, the download and
    // the titles' census.
    assert_eq!(gets.len(), 4, "{gets:?}");
    assert!(gets[1..].iter().all(|r| signed_for("eu-west-1")(r)));

    // Remembered: the next run goes to eu-west-1 at once.
    server.reset().await;
    serve_in(&server, "eu-west-1").await;
    let again = load_all(c.as_ref()).await.expect("remembered");
    assert_eq!(again.len(), 1);
    assert!(requests(&server, "HEAD").await.is_empty());
    // No region was configured: finding it is no mistake of the config.
    c.check().await.expect("check passes");
}

/// The same bucket with `credentials.region` set to us-east-1: syncs still work, and
/// `check()` says the field is wrong and what it should be.
#[tokio::test]
async fn check_names_credentials_region_when_the_configured_one_is_wrong() {
    let server = MockServer::start().await;
    serve_in(&server, "eu-west-1").await;
    Mock::given(method("GET"))
        .respond_with(permanent_redirect("eu-west-1"))
        .with_priority(5)
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(403).insert_header("x-amz-bucket-region", "eu-west-1"))
        .mount(&server)
        .await;
    let c = connector("s3", config(&server, Some("us-east-1")));
    let err = c.check().await.expect_err("the configured region is wrong");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert_eq!(err.field(), Some("credentials.region"), "{err}");
    let shown = err.to_string();
    assert!(
        shown.contains("eu-west-1") && shown.contains("us-east-1"),
        "{shown}"
    );
    assert!(!shown.contains("max_object_size"), "{shown}");
    assert_eq!(load_all(c.as_ref()).await.expect("sync").len(), 1);
}

/// A bucket of a newer region (ap-east-1) reached through its region but signed for
/// us-east-1: the `<Region>` of the 400 is enough, no `HEAD` is sent. Both codes S3 uses
/// (header and pre-signed query authentication) are read.
#[tokio::test]
async fn a_wrong_signing_region_is_corrected_from_the_error_body() {
    for code in [
        "AuthorizationQueryParametersError",
        "AuthorizationHeaderMalformed",
    ] {
        let server = MockServer::start().await;
        serve_in(&server, "ap-east-1").await;
        Mock::given(method("GET"))
            .respond_with(wrong_signing_region(code, "us-east-1", "ap-east-1"))
            .with_priority(5)
            .mount(&server)
            .await;
        let c = connector("s3", config(&server, None));
        let docs = load_all(c.as_ref())
            .await
            .expect("the body names the region");
        assert_eq!(docs.len(), 1, "{code}");
        assert!(requests(&server, "HEAD").await.is_empty(), "{code}");
    }
}

/// A 301 whose region no `HEAD` tells (the probe is redirected too): a `Config` error naming
/// `credentials.region` and saying what the store answered, never a size problem.
#[tokio::test]
async fn a_region_that_cannot_be_found_names_credentials_region() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(permanent_redirect("eu-west-1"))
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(301).insert_header("x-amz-bucket-region", "eu-west-1"))
        .mount(&server)
        .await;
    let c = connector("s3", config(&server, None));
    for err in [
        c.check().await.expect_err("no region"),
        load_all(c.as_ref()).await.expect_err("no region"),
    ] {
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert_eq!(err.field(), Some("credentials.region"), "{err}");
        let shown = err.to_string();
        assert!(shown.contains("HTTP 301"), "{shown}");
        assert!(!shown.contains("max_object_size"), "{shown}");
    }
}

/// A store that is not Amazon S3 (R2 signs for `auto`; its region is no setting) answering
/// a redirect without a `Location`, and one answering an error code the client does not
/// know: each error keeps what the store said.
#[tokio::test]
async fn an_error_the_client_cannot_classify_keeps_its_own_message() {
    let r2 = |server: &MockServer| -> S3Config {
        connector_core::config::from_json(serde_json::json!({
            "bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"],
            "credentials": {"endpoint_url": server.uri(), "account_id": "acc1",
                "r2_access_key_id": "r2key", "r2_secret_access_key": "r2secret"},
        }))
        .expect("valid config")
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(301))
        .mount(&server)
        .await;
    let err = load_all(connector("r2", r2(&server)).as_ref())
        .await
        .expect_err("a redirect to nowhere");
    let shown = err.to_string();
    assert!(shown.contains("HTTP 301"), "{shown}");
    assert!(!shown.contains("max_object_size"), "{shown}");
    assert!(shown.contains("`docs`"), "{shown}");

    let server = MockServer::start().await;
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InvalidArgument</Code><Message>Invalid version id specified</Message><RequestId>1</RequestId></Error>"#;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(body, "application/xml"))
        .mount(&server)
        .await;
    let err = connector("r2", r2(&server))
        .check()
        .await
        .expect_err("refused");
    let shown = err.to_string();
    assert!(
        shown.contains("InvalidArgument") && shown.contains("Invalid version id specified"),
        "{shown}"
    );
}
