//! Where requests may go (the guard against server-side request forgery, issue 16): what a
//! tenant sets (`endpoint_url`, `sts_endpoint_url`, the `account_id` or `namespace` an
//! endpoint is made from) cannot reach loopback, intranet or metadata addresses unless the
//! config's `allowed_hosts` or the host's policy allows them, while the host's own credential
//! sources (instance metadata, the ECS container endpoint, `AWS_ENDPOINT_URL_STS`) keep
//! working under a guarding host policy.
#![allow(clippy::unwrap_used)] // Test helpers: a broken setup should fail loudly.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use connector_core::net::NetworkPolicy;
use connector_core::{Connector, ConnectorConfig, Error, ErrorKind, Registry};
use connector_s3::s3::{S3Config, S3Connector, StaticEnvironment};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const EMPTY_LISTING: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>docs</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated>
</ListBucketResult>"#;

/// The bucket `docs`, listing nothing, for requests signed with `token` when one is given.
async fn bucket(server: &MockServer, token: Option<&'static str>) {
    Mock::given(method("GET"))
        .and(path("/docs/"))
        .and(query_param("list-type", "2"))
        .and(move |req: &Request| {
            token.is_none_or(|token| {
                req.url
                    .query_pairs()
                    .any(|(k, v)| k == "X-Amz-Security-Token" && v == token)
            })
        })
        .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY_LISTING, "application/xml"))
        .mount(server)
        .await;
}

fn registry(policy: Option<NetworkPolicy>) -> Registry {
    let mut registry = Registry::new();
    connector_s3::register(&mut registry);
    if let Some(policy) = policy {
        registry.set_network_policy(policy);
    }
    registry
}

fn compat(endpoint: &str) -> serde_json::Value {
    serde_json::json!({
        "bucket_name": "docs",
        "credentials": {"endpoint_url": endpoint, "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": "wJalrXUtnFEMI", "addressing_style": "path"},
    })
}

fn assert_denied(err: &Error, address: &str) {
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let text = err.to_string();
    assert!(text.contains(address), "names the address: {text}");
    assert!(
        text.contains("allowed_hosts") && text.contains("--allow-host"),
        "says how to allow it: {text}"
    );
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

#[tokio::test]
async fn a_loopback_endpoint_is_denied_by_default_and_under_public_only() {
    let server = MockServer::start().await;
    bucket(&server, None).await;
    for (source, registry) in [
        ("s3_compatible", registry(None)),
        ("s3", registry(None)),
        (
            "s3_compatible",
            registry(Some(NetworkPolicy::public_only())),
        ),
        ("oci_storage", registry(Some(NetworkPolicy::public_only()))),
        ("r2", registry(Some(NetworkPolicy::public_only()))),
    ] {
        let mut config = compat(&server.uri());
        let credentials = &mut config["credentials"];
        if source == "oci_storage" {
            credentials["region"] = "eu-frankfurt-1".into();
            credentials["namespace"] = "axaxnpcrorw5".into();
            credentials["access_key_id"] = "ocid-key".into();
            credentials["secret_access_key"] = "oci-secret".into();
        }
        if source == "r2" {
            credentials["account_id"] = "0123456789abcdef0123456789abcdef".into();
            credentials["r2_access_key_id"] = "r2-key".into();
            credentials["r2_secret_access_key"] = "r2-secret".into();
        }
        let connector = registry
            .build(source, config)
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_denied(&connector.check().await.unwrap_err(), "127.0.0.1");
    }
    assert_eq!(requests(&server).await, 0, "no request reached the server");
}

#[tokio::test]
async fn a_redirect_from_an_allowed_host_to_loopback_is_denied() {
    let (allowed, target) = (MockServer::start().await, MockServer::start().await);
    let to = format!("{}/docs/?list-type=2", target.uri());
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", to.as_str()))
        .mount(&allowed)
        .await;
    bucket(&target, None).await;
    let endpoint = format!("http://localhost:{}", allowed.address().port());
    // Allowed by the config, then by the host.
    let mut config = compat(&endpoint);
    config["allowed_hosts"] = serde_json::json!(["localhost"]);
    let by_config = registry(None).build("s3_compatible", config).unwrap();
    assert_denied(&by_config.check().await.unwrap_err(), "127.0.0.1");
    let by_host = registry(Some(
        NetworkPolicy::public_only().allow(["localhost"]).unwrap(),
    ))
    .build("s3_compatible", compat(&endpoint))
    .unwrap();
    assert_denied(&by_host.check().await.unwrap_err(), "127.0.0.1");
    assert_eq!(requests(&allowed).await, 2, "the allowed host was asked");
    assert_eq!(requests(&target).await, 0, "the redirect was not followed");
}

#[tokio::test]
async fn an_allowed_address_is_reached() {
    let server = MockServer::start().await;
    bucket(&server, None).await;
    let mut allowing = compat(&server.uri());
    allowing["allowed_hosts"] = serde_json::json!(["127.0.0.0/8"]);
    // By the config's `allowed_hosts`, by the host's policy, and by the config's where the
    // host's policy accepts config hosts.
    for (registry, config) in [
        (registry(None), allowing.clone()),
        (
            registry(Some(
                NetworkPolicy::public_only().allow(["127.0.0.1"]).unwrap(),
            )),
            compat(&server.uri()),
        ),
        (
            registry(Some(NetworkPolicy::public_only().with_config_hosts(true))),
            allowing.clone(),
        ),
    ] {
        let connector = registry.build("s3_compatible", config).unwrap();
        connector.check().await.unwrap();
    }
    assert!(requests(&server).await >= 3);

    // A host's policy that does not accept config hosts rules `allowed_hosts` out.
    let strict = registry(Some(NetworkPolicy::public_only()))
        .build("s3_compatible", allowing)
        .unwrap();
    assert_denied(&strict.check().await.unwrap_err(), "127.0.0.1");
}

#[tokio::test]
async fn a_tenants_sts_endpoint_is_denied() {
    let (s3, sts) = (MockServer::start().await, MockServer::start().await);
    bucket(&s3, None).await;
    // The bucket's host is allowed by name; the STS endpoint the tenant set is not.
    let registry = registry(None);
    let config = serde_json::json!({
        "bucket_name": "docs", "bucket_type": "s3", "allowed_hosts": ["localhost"],
        "credentials": {
            "authentication_method": "iam_role", "iam_role_with_keys": true,
            "aws_role_arn": "arn:aws:iam::123456789012:role/docs-reader",
            "aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI",
            "region": "eu-west-1",
            "endpoint_url": format!("http://localhost:{}", s3.address().port()),
            "sts_endpoint_url": sts.uri(),
        },
    });
    let connector = registry.build("s3", config).unwrap();
    assert_denied(&connector.check().await.unwrap_err(), "127.0.0.1");
    assert_eq!(requests(&sts).await, 0, "STS was not asked");
    assert_eq!(
        requests(&s3).await,
        0,
        "nothing was signed without credentials"
    );
}

/// The metadata endpoints' JSON.
fn metadata_credentials(key: &str, token: &str, expires: DateTime<Utc>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "Code": "Success",
        "LastUpdated": "2026-01-01T00:00:00Z",
        "Type": "AWS-HMAC",
        "AccessKeyId": key,
        "SecretAccessKey": format!("temporary-secret-of-{key}"),
        "Token": token,
        "Expiration": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }))
}

/// Checks `assume_role` (the host's ambient chain, from `env`) with the bucket at
/// `localhost`, allowed by name only: by the config's `allowed_hosts`, then by a host policy
/// as a registry sets it. The credential sources' loopback addresses are allowed by neither.
async fn check_ambient(s3: &MockServer, env: StaticEnvironment) {
    let mut config: S3Config = connector_core::config::from_json(serde_json::json!({
        "bucket_name": "docs", "bucket_type": "s3", "allowed_hosts": ["localhost"],
        "credentials": {
            "authentication_method": "assume_role", "region": "eu-west-1",
            "endpoint_url": format!("http://localhost:{}", s3.address().port()),
        },
    }))
    .unwrap();
    let own = config.clone();
    let policy = NetworkPolicy::public_only().allow(["localhost"]).unwrap();
    assert!(config.set_network_policy(&policy));
    for config in [own, config] {
        S3Connector::with_environment("s3", config, Arc::new(env.clone()), |b| {
            b.backoff(Duration::from_millis(5), Duration::from_millis(20))
        })
        .unwrap()
        .check()
        .await
        .expect("listed with the host's credentials");
    }
}

#[tokio::test]
async fn the_hosts_ambient_credentials_still_work_under_public_only() {
    let expires = Utc::now() + TimeDelta::hours(6);

    // EC2 instance metadata (IMDSv2), at an address the policy denies.
    let (s3, imds) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("PUT"))
        .and(path("/latest/api/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string("AQAEAImdsSessionToken=="))
        .mount(&imds)
        .await;
    Mock::given(method("GET"))
        .and(path("/latest/meta-data/iam/security-credentials/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("docs-instance-role"))
        .mount(&imds)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/latest/meta-data/iam/security-credentials/docs-instance-role",
        ))
        .respond_with(metadata_credentials("ASIAIMDS", "imds-token", expires))
        .mount(&imds)
        .await;
    bucket(&s3, Some("imds-token")).await;
    let env = StaticEnvironment::new().with_var("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.uri());
    check_ambient(&s3, env).await;

    // The ECS container endpoint, at an address the policy denies.
    let (s3, ecs) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("GET"))
        .and(path("/v2/credentials/task-role"))
        .respond_with(metadata_credentials("ASIAECS", "ecs-token", expires))
        .mount(&ecs)
        .await;
    bucket(&s3, Some("ecs-token")).await;
    let env = StaticEnvironment::new()
        .with_var("AWS_EC2_METADATA_DISABLED", "true")
        .with_var(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v2/credentials/task-role", ecs.uri()),
        );
    check_ambient(&s3, env).await;

    // A web identity token exchanged at the host's own STS endpoint (AWS_ENDPOINT_URL_STS).
    let (s3, sts) = (MockServer::start().await, MockServer::start().await);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.web-identity").unwrap();
    let body = format!(
        r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult><Credentials>
    <AccessKeyId>ASIAWEB</AccessKeyId><SecretAccessKey>temporary-secret</SecretAccessKey>
    <SessionToken>web-token</SessionToken><Expiration>{}</Expiration>
  </Credentials></AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#,
        expires.format("%Y-%m-%dT%H:%M:%SZ")
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/xml"))
        .mount(&sts)
        .await;
    bucket(&s3, Some("web-token")).await;
    let env = StaticEnvironment::new()
        .with_var("AWS_EC2_METADATA_DISABLED", "true")
        .with_var(
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            token_file.display().to_string(),
        )
        .with_var("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/docs-reader")
        .with_var("AWS_ENDPOINT_URL_STS", sts.uri());
    check_ambient(&s3, env).await;
}

#[tokio::test]
async fn a_config_built_in_code_takes_the_policy_from_with_network_policy() {
    let server = MockServer::start().await;
    bucket(&server, None).await;
    let mut config = S3Config::s3_compatible(
        "docs",
        server.uri().parse().unwrap(),
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI",
    );
    // Denied by default, as a config from JSON.
    let default = S3Connector::new(config.clone()).unwrap();
    assert_denied(&default.check().await.unwrap_err(), "127.0.0.1");
    config.allowed_hosts.push("127.0.0.1".to_owned());
    S3Connector::new(config.clone())
        .unwrap()
        .check()
        .await
        .unwrap();
    // The host's policy replaces the connector's.
    let guarded =
        S3Connector::new(config.with_network_policy(NetworkPolicy::public_only())).unwrap();
    assert_denied(&guarded.check().await.unwrap_err(), "127.0.0.1");
}

#[test]
fn allowed_hosts_are_checked_and_the_hosts_policy_is_no_config_field() {
    let registry = registry(None);
    let mut config = compat("https://minio.example.com");
    config["allowed_hosts"] = serde_json::json!(["minio.corp.example", "http://10.0.0.1/"]);
    let err = registry.build("s3_compatible", config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("allowed_hosts[1]"), "{err}");

    let schema = registry.schema("s3").unwrap();
    assert!(
        schema["properties"].get("allowed_hosts").is_some(),
        "{schema}"
    );
    assert!(
        schema["properties"].get("host_network").is_none(),
        "{schema}"
    );
    let mut config = compat("https://minio.example.com");
    config["host_network"] = "any".into();
    let err = registry.build("s3_compatible", config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}
