//! AWS credentials against loopback servers that answer as AWS documents: STS (`AssumeRole`,
//! `AssumeRoleWithWebIdentity`, the `ErrorResponse` of AccessDenied), the ECS container
//! endpoint, IMDSv2, and temporary profile files. Every test hands the connector a
//! `StaticEnvironment`, so none reads (or races on) the process environment, none reads the
//! real `~/.aws`, and none sends anything to a metadata address.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use connector_core::{Connector, ErrorKind};
use connector_s3::s3::{ROLE_SESSION_NAME, S3Config, S3Connector, StaticEnvironment};
use wiremock::matchers::{body_string_contains, header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ROLE: &str = "arn:aws:iam::123456789012:role/docs-reader";

const EMPTY_LISTING: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>docs</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated>
</ListBucketResult>"#;

/// `AssumeRoleResponse` as the STS API reference shows it.
fn assume_role_response(
    action: &str,
    key: &str,
    token: &str,
    expires: DateTime<Utc>,
) -> ResponseTemplate {
    let body = format!(
        r#"<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <{action}Result>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/docs-reader/{ROLE_SESSION_NAME}</Arn>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:{ROLE_SESSION_NAME}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{key}</AccessKeyId>
      <SecretAccessKey>temporary-secret-of-{key}</SecretAccessKey>
      <SessionToken>{token}</SessionToken>
      <Expiration>{}</Expiration>
    </Credentials>
  </{action}Result>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</{action}Response>"#,
        expires.format("%Y-%m-%dT%H:%M:%SZ")
    );
    ResponseTemplate::new(200).set_body_raw(body, "text/xml")
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

/// A bucket `docs` whose listing answers only requests signed with `key` and `token`.
async fn bucket_accepting(server: &MockServer, key: &str, token: &str) {
    let credential = format!("{key}/");
    Mock::given(method("GET"))
        .and(path("/docs/"))
        .and(query_param("list-type", "2"))
        .and(query_param("X-Amz-Security-Token", token))
        .and(move |req: &Request| {
            req.url
                .query_pairs()
                .any(|(k, v)| k == "X-Amz-Credential" && v.starts_with(&credential))
        })
        .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY_LISTING, "application/xml"))
        .mount(server)
        .await;
}

/// The requests of `server` that carried session token `token`.
async fn signed_with(server: &MockServer, token: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r.url
                .query_pairs()
                .any(|(k, v)| k == "X-Amz-Security-Token" && v == token)
        })
        .count()
}

async fn calls(server: &MockServer, needle: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains(needle))
        .count()
}

fn s3_config(s3: &MockServer, credentials: serde_json::Value) -> S3Config {
    let mut credentials = credentials;
    credentials["endpoint_url"] = s3.uri().into();
    credentials["region"] = "eu-west-1".into();
    connector_core::config::from_json(serde_json::json!({
        "bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "bucket_type": "s3", "credentials": credentials,
    }))
    .expect("valid config")
}

fn connector(config: S3Config, env: StaticEnvironment) -> S3Connector {
    S3Connector::with_environment("s3", config, Arc::new(env), |b| {
        b.backoff(Duration::from_millis(5), Duration::from_millis(20))
    })
    .expect("builds")
}

/// An environment that finds nothing by itself: no variables, no home, no metadata service.
fn bare_env() -> StaticEnvironment {
    StaticEnvironment::new().with_var("AWS_EC2_METADATA_DISABLED", "true")
}

#[tokio::test]
async fn iam_role_with_keys_signs_assume_role_with_the_keys_and_s3_with_the_session_token() {
    let (s3, sts) = (MockServer::start().await, MockServer::start().await);
    let later = Utc::now() + TimeDelta::hours(1);
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ))
        .and(body_string_contains("Action=AssumeRole&"))
        .and(body_string_contains(
            "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdocs-reader",
        ))
        .and(body_string_contains(format!(
            "RoleSessionName={ROLE_SESSION_NAME}"
        )))
        .and(body_string_contains("Version=2011-06-15"))
        .and(header_exists("x-amz-date"))
        .and(|req: &Request| {
            req.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| {
                    a.starts_with("AWS4-HMAC-SHA256 Credential=AKIDSTATIC/")
                        && a.contains("/eu-west-1/sts/aws4_request")
                })
        })
        .respond_with(assume_role_response(
            "AssumeRole",
            "ASIAROLE",
            "role-session-token",
            later,
        ))
        .expect(1)
        .mount(&sts)
        .await;
    bucket_accepting(&s3, "ASIAROLE", "role-session-token").await;
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "iam_role", "aws_role_arn": ROLE,
            "aws_access_key_id": "AKIDSTATIC", "aws_secret_access_key": "static-secret",
            "iam_role_with_keys": true, "sts_endpoint_url": sts.uri()}),
    );
    let c = connector(config, bare_env());
    c.check().await.expect("listed with the role's credentials");
    c.check().await.expect("again, from the cache");
    assert_eq!(signed_with(&s3, "role-session-token").await, 2);
}

#[tokio::test]
async fn iam_role_without_keys_signs_assume_role_with_the_ambient_credentials() {
    let (s3, sts) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("POST"))
        .and(body_string_contains("Action=AssumeRole&"))
        .and(|req: &Request| {
            let auth = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            let token = req
                .headers
                .get("x-amz-security-token")
                .and_then(|v| v.to_str().ok());
            auth.is_some_and(|a| a.contains("Credential=ASIAAMBIENT/"))
                && token == Some("ambient-token")
        })
        .respond_with(assume_role_response(
            "AssumeRole",
            "ASIAROLE",
            "role-token",
            Utc::now() + TimeDelta::hours(1),
        ))
        .expect(1)
        .mount(&sts)
        .await;
    bucket_accepting(&s3, "ASIAROLE", "role-token").await;
    let env = bare_env()
        .with_var("AWS_ACCESS_KEY_ID", "ASIAAMBIENT")
        .with_var("AWS_SECRET_ACCESS_KEY", "ambient-secret")
        .with_var("AWS_SESSION_TOKEN", "ambient-token")
        .with_var("AWS_ENDPOINT_URL_STS", sts.uri());
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "iam_role", "aws_role_arn": ROLE}),
    );
    connector(config, env).check().await.expect("listed");
}

#[tokio::test]
async fn iam_role_signs_assume_role_with_the_ambient_credentials_and_reports_leftover_keys() {
    // RAGFlow's form keeps the keys typed under `access_key` when the method is switched to
    // `iam_role`; RAGFlow then signs AssumeRole with the host's chain (a bare
    // `boto3.client("sts")`), and so do we.
    let (s3, sts) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("POST"))
        .and(body_string_contains("Action=AssumeRole&"))
        .and(|req: &Request| {
            req.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("Credential=AKIAAMBIENT/"))
        })
        .respond_with(assume_role_response(
            "AssumeRole",
            "ASIAROLE",
            "role-token",
            Utc::now() + TimeDelta::hours(1),
        ))
        .expect(1)
        .mount(&sts)
        .await;
    bucket_accepting(&s3, "ASIAROLE", "role-token").await;
    let env = bare_env()
        .with_var("AWS_ACCESS_KEY_ID", "AKIAAMBIENT")
        .with_var("AWS_SECRET_ACCESS_KEY", "ambient-secret")
        .with_var("AWS_ENDPOINT_URL_STS", sts.uri());
    let parsed = connector_core::config::parse::<S3Config>(serde_json::json!({
        "bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "bucket_type": "s3",
        "credentials": {"authentication_method": "iam_role", "aws_role_arn": ROLE,
            "aws_access_key_id": "AKIDLEFTOVER", "aws_secret_access_key": "leftover-secret",
            "endpoint_url": s3.uri(), "region": "eu-west-1", "addressing_style": "virtual"},
    }))
    .expect("valid config");
    let unused: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        unused,
        [
            "credentials.aws_access_key_id",
            "credentials.aws_secret_access_key"
        ]
    );
    assert!(
        parsed.ignored[0].reason.contains("iam_role_with_keys"),
        "{:?}",
        parsed.ignored
    );
    connector(parsed.config, env)
        .check()
        .await
        .expect("listed with the role the ambient credentials assumed");
}

#[tokio::test]
async fn temporary_credentials_are_refreshed_before_they_expire_and_no_request_fails() {
    let (s3, sts) = (MockServer::start().await, MockServer::start().await);
    // The first set expires in four minutes: inside the five-minute margin, so the next
    // request refreshes first, while the first set would still have worked.
    Mock::given(method("POST"))
        .respond_with(assume_role_response(
            "AssumeRole",
            "ASIAFIRST",
            "first-token",
            Utc::now() + TimeDelta::minutes(4),
        ))
        .up_to_n_times(1)
        .mount(&sts)
        .await;
    Mock::given(method("POST"))
        .respond_with(assume_role_response(
            "AssumeRole",
            "ASIASECOND",
            "second-token",
            Utc::now() + TimeDelta::hours(1),
        ))
        .mount(&sts)
        .await;
    bucket_accepting(&s3, "ASIAFIRST", "first-token").await;
    bucket_accepting(&s3, "ASIASECOND", "second-token").await;
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "iam_role", "aws_role_arn": ROLE,
            "aws_access_key_id": "AKIDSTATIC", "aws_secret_access_key": "static-secret",
            "iam_role_with_keys": true, "sts_endpoint_url": sts.uri()}),
    );
    let c = connector(config, bare_env());
    for _ in 0..3 {
        c.check().await.expect("every request succeeds");
    }
    assert_eq!(
        calls(&sts, "Action=AssumeRole").await,
        2,
        "one fetch, one refresh"
    );
    assert_eq!(signed_with(&s3, "first-token").await, 1);
    assert_eq!(signed_with(&s3, "second-token").await, 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_still_valid_credentials() {
    let (s3, sts) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("POST"))
        .respond_with(assume_role_response(
            "AssumeRole",
            "ASIAFIRST",
            "first-token",
            Utc::now() + TimeDelta::minutes(4),
        ))
        .up_to_n_times(1)
        .mount(&sts)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(access_denied_body(), "text/xml"))
        .mount(&sts)
        .await;
    bucket_accepting(&s3, "ASIAFIRST", "first-token").await;
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "iam_role", "aws_role_arn": ROLE,
            "aws_access_key_id": "AKIDSTATIC", "aws_secret_access_key": "static-secret",
            "iam_role_with_keys": true, "sts_endpoint_url": sts.uri()}),
    );
    let c = connector(config, bare_env());
    for _ in 0..3 {
        c.check().await.expect("the first set is still valid");
    }
    // The refresh failed once; the next try waits its 30 seconds.
    assert_eq!(calls(&sts, "Action=AssumeRole").await, 2);
    assert_eq!(signed_with(&s3, "first-token").await, 3);
}

fn access_denied_body() -> String {
    format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:iam::123456789012:user/indexer is not authorized to perform: sts:AssumeRole on resource: {ROLE}</Message>
  </Error>
  <RequestId>4d4fc3a4-5ef1-11e0-a38e-8b7a4f9ba8f2</RequestId>
</ErrorResponse>"#
    )
}

#[tokio::test]
async fn access_denied_by_sts_names_the_role_and_never_a_secret() {
    let (s3, sts) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(access_denied_body(), "text/xml"))
        .expect(1)
        .mount(&sts)
        .await;
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "iam_role", "aws_role_arn": ROLE,
            "aws_access_key_id": "AKIDSTATIC", "aws_secret_access_key": "static-secret-value",
            "aws_session_token": "static-token-value", "iam_role_with_keys": true,
            "sts_endpoint_url": sts.uri()}),
    );
    let c = connector(config, bare_env());
    let err = c.check().await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(err.field(), Some("credentials.aws_role_arn"));
    assert_eq!(err.connector(), Some("s3"));
    let shown = format!("{err} {err:?} {c:?} {c}");
    assert!(
        shown.contains(ROLE) && shown.contains("AccessDenied"),
        "{shown}"
    );
    for secret in ["static-secret-value", "static-token-value"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
    assert!(s3.received_requests().await.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn access_key_with_a_session_token_signs_every_request_with_it() {
    let s3 = MockServer::start().await;
    bucket_accepting(&s3, "ASIASTATIC", "static-session-token").await;
    let config = s3_config(
        &s3,
        serde_json::json!({"aws_access_key_id": "ASIASTATIC",
            "aws_secret_access_key": "s", "aws_session_token": "static-session-token"}),
    );
    connector(config, bare_env()).check().await.expect("listed");
    assert_eq!(signed_with(&s3, "static-session-token").await, 1);
}

#[tokio::test]
async fn assume_role_reads_environment_variables_first() {
    let s3 = MockServer::start().await;
    bucket_accepting(&s3, "ASIAENV", "env-token").await;
    let home = tempfile::tempdir().expect("home");
    write_profile(
        home.path(),
        "[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = p\n",
    );
    let env = bare_env()
        .with_home_dir(home.path())
        .with_var("AWS_ACCESS_KEY_ID", "ASIAENV")
        .with_var("AWS_SECRET_ACCESS_KEY", "env-secret")
        .with_var("AWS_SESSION_TOKEN", "env-token");
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "assume_role"}),
    );
    connector(config, env)
        .check()
        .await
        .expect("listed with the environment's keys");
}

fn write_profile(home: &std::path::Path, credentials: &str) {
    std::fs::create_dir_all(home.join(".aws")).expect("dir");
    std::fs::write(home.join(".aws/credentials"), credentials).expect("write");
}

#[tokio::test]
async fn assume_role_uses_a_web_identity_token_file_as_on_eks() {
    let (s3, sts) = (MockServer::start().await, MockServer::start().await);
    let dir = tempfile::tempdir().expect("dir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.web-identity.sig\n").expect("write");
    Mock::given(method("POST"))
        .and(body_string_contains("Action=AssumeRoleWithWebIdentity&"))
        .and(body_string_contains("RoleSessionName=indexer-pod"))
        .and(body_string_contains(
            "WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.web-identity.sig",
        ))
        // Unsigned: the token is the proof.
        .and(|req: &Request| !req.headers.contains_key("authorization"))
        .respond_with(assume_role_response(
            "AssumeRoleWithWebIdentity",
            "ASIAWEB",
            "web-token",
            Utc::now() + TimeDelta::hours(1),
        ))
        .expect(1)
        .mount(&sts)
        .await;
    bucket_accepting(&s3, "ASIAWEB", "web-token").await;
    let env = bare_env()
        .with_var(
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            token_file.display().to_string(),
        )
        .with_var("AWS_ROLE_ARN", ROLE)
        .with_var("AWS_ROLE_SESSION_NAME", "indexer-pod")
        .with_var("AWS_ENDPOINT_URL_STS", sts.uri());
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "assume_role"}),
    );
    connector(config, env).check().await.expect("listed");
}

/// The host's web identity token is exchanged at the host's STS only: a tenant that names an
/// STS endpoint of its own (`credentials.sts_endpoint_url`) receives the config's own
/// `AssumeRole`, signed (no secret in it), and never `AssumeRoleWithWebIdentity` with the
/// host's token.
#[tokio::test]
async fn a_tenants_sts_endpoint_never_receives_the_hosts_web_identity_token() {
    let s3 = MockServer::start().await;
    let (host_sts, tenant_sts) = (MockServer::start().await, MockServer::start().await);
    let dir = tempfile::tempdir().expect("dir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.host-identity.sig").expect("write");
    Mock::given(method("POST"))
        .and(body_string_contains("Action=AssumeRoleWithWebIdentity&"))
        .respond_with(assume_role_response(
            "AssumeRoleWithWebIdentity",
            "ASIAHOST",
            "host-token",
            Utc::now() + TimeDelta::hours(1),
        ))
        .expect(1)
        .mount(&host_sts)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("Action=AssumeRole&"))
        .and(|req: &Request| {
            req.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("Credential=ASIAHOST/"))
        })
        .respond_with(assume_role_response(
            "AssumeRole",
            "ASIAROLE",
            "role-token",
            Utc::now() + TimeDelta::hours(1),
        ))
        .expect(1)
        .mount(&tenant_sts)
        .await;
    bucket_accepting(&s3, "ASIAROLE", "role-token").await;
    let env = bare_env()
        .with_var(
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            token_file.display().to_string(),
        )
        .with_var("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/host-pod")
        .with_var("AWS_ENDPOINT_URL_STS", host_sts.uri());
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "iam_role", "aws_role_arn": ROLE,
            "sts_endpoint_url": tenant_sts.uri()}),
    );
    connector(config, env).check().await.expect("listed");
    for request in tenant_sts.received_requests().await.unwrap_or_default() {
        let body = String::from_utf8_lossy(&request.body);
        assert!(!body.contains("host-identity"), "host token sent: {body}");
        assert!(!body.contains("AssumeRoleWithWebIdentity"), "{body}");
    }
}

#[tokio::test]
async fn assume_role_reads_the_named_profile_from_the_files_the_environment_names() {
    let s3 = MockServer::start().await;
    bucket_accepting(&s3, "ASIAPROFILE", "profile-token").await;
    let dir = tempfile::tempdir().expect("dir");
    let credentials = dir.path().join("creds");
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n\n[docs]\naws_access_key_id = ASIAPROFILE\naws_secret_access_key = profile-secret\naws_session_token = profile-token\n",
    )
    .expect("write");
    let env = bare_env()
        .with_var("AWS_PROFILE", "docs")
        .with_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            credentials.display().to_string(),
        )
        .with_var(
            "AWS_CONFIG_FILE",
            dir.path().join("none").display().to_string(),
        );
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "assume_role"}),
    );
    connector(config, env)
        .check()
        .await
        .expect("listed with the profile's keys");
}

#[tokio::test]
async fn a_profile_feature_not_supported_is_reported_not_skipped() {
    let s3 = MockServer::start().await;
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join(".aws")).expect("dir");
    std::fs::write(
        home.path().join(".aws/config"),
        "[profile sso-dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Reader\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n",
    )
    .expect("write");
    let env = bare_env()
        .with_home_dir(home.path())
        .with_var("AWS_PROFILE", "sso-dev");
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "assume_role"}),
    );
    let err = connector(config, env)
        .check()
        .await
        .expect_err("unsupported");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("IAM Identity Center"), "{err}");
    assert!(err.to_string().contains("`sso-dev`"), "{err}");
}

#[tokio::test]
async fn assume_role_uses_ecs_container_credentials_with_the_token_file() {
    let (s3, ecs) = (MockServer::start().await, MockServer::start().await);
    let dir = tempfile::tempdir().expect("dir");
    let token_file = dir.path().join("eks-pod-identity-token");
    std::fs::write(&token_file, "container-auth-token\n").expect("write");
    Mock::given(method("GET"))
        .and(path("/v2/credentials/task-role"))
        .and(header("authorization", "container-auth-token"))
        .respond_with(metadata_credentials(
            "ASIAECS",
            "ecs-token",
            Utc::now() + TimeDelta::hours(6),
        ))
        .expect(1)
        .mount(&ecs)
        .await;
    bucket_accepting(&s3, "ASIAECS", "ecs-token").await;
    let env = bare_env()
        .with_var(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v2/credentials/task-role", ecs.uri()),
        )
        .with_var(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "stale-token-the-file-wins-over",
        )
        .with_var(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.display().to_string(),
        );
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "assume_role"}),
    );
    connector(config, env).check().await.expect("listed");
}

#[tokio::test]
async fn assume_role_uses_imdsv2_token_then_role_then_credentials() {
    let (s3, imds) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("PUT"))
        .and(path("/latest/api/token"))
        .and(header("x-aws-ec2-metadata-token-ttl-seconds", "21600"))
        .respond_with(ResponseTemplate::new(200).set_body_string("AQAEAImdsSessionToken=="))
        .expect(1)
        .mount(&imds)
        .await;
    Mock::given(method("GET"))
        .and(path("/latest/meta-data/iam/security-credentials/"))
        .and(header(
            "x-aws-ec2-metadata-token",
            "AQAEAImdsSessionToken==",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string("docs-instance-role"))
        .expect(1)
        .mount(&imds)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/latest/meta-data/iam/security-credentials/docs-instance-role",
        ))
        .and(header(
            "x-aws-ec2-metadata-token",
            "AQAEAImdsSessionToken==",
        ))
        .respond_with(metadata_credentials(
            "ASIAIMDS",
            "imds-token",
            Utc::now() + TimeDelta::hours(6),
        ))
        .expect(1)
        .mount(&imds)
        .await;
    // IMDSv1 (a GET without the token) is never tried.
    Mock::given(method("GET"))
        .and(|req: &Request| !req.headers.contains_key("x-aws-ec2-metadata-token"))
        .respond_with(ResponseTemplate::new(401))
        .expect(0)
        .mount(&imds)
        .await;
    bucket_accepting(&s3, "ASIAIMDS", "imds-token").await;
    let env = StaticEnvironment::new().with_var("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.uri());
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "assume_role"}),
    );
    connector(config, env).check().await.expect("listed");
}

#[tokio::test]
async fn assume_role_with_nothing_configured_says_what_it_looked_for() {
    let s3 = MockServer::start().await;
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "assume_role"}),
    );
    let err = connector(config, bare_env())
        .check()
        .await
        .expect_err("no credentials");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(err.field(), Some("credentials.authentication_method"));
    let text = err.to_string();
    for looked_for in [
        "AWS_ACCESS_KEY_ID",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "profile `default`",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_EC2_METADATA_DISABLED",
    ] {
        assert!(text.contains(looked_for), "{looked_for} missing: {text}");
    }
}

#[tokio::test]
async fn the_hosts_region_is_the_default_region_of_amazon_s3() {
    let s3 = MockServer::start().await;
    Mock::given(method("GET"))
        .and(|req: &Request| {
            req.url.query_pairs().any(|(k, v)| {
                k == "X-Amz-Credential" && v.contains("/ap-southeast-2/s3/aws4_request")
            })
        })
        .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY_LISTING, "application/xml"))
        .expect(1)
        .mount(&s3)
        .await;
    let config: S3Config = connector_core::config::from_json(serde_json::json!({
        "bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "bucket_type": "s3",
        "credentials": {"aws_access_key_id": "AKIA", "aws_secret_access_key": "s",
            "endpoint_url": s3.uri()},
    }))
    .expect("valid");
    let env = bare_env().with_var("AWS_REGION", "ap-southeast-2");
    connector(config, env)
        .check()
        .await
        .expect("signed for the host's region");
}

#[tokio::test]
async fn s3_compatible_signs_with_its_keys_whatever_the_method_left_in_the_form() {
    let (store, sts) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("GET"))
        .and(path("/docs/"))
        .and(|req: &Request| {
            req.url
                .query_pairs()
                .any(|(k, v)| k == "X-Amz-Credential" && v.starts_with("minio-indexer/"))
        })
        .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY_LISTING, "application/xml"))
        .expect(1)
        .mount(&store)
        .await;
    let config: S3Config = connector_core::config::from_json(serde_json::json!({
        "bucket_name": "docs", "allowed_hosts": ["127.0.0.1", "localhost"], "bucket_type": "s3_compatible",
        "credentials": {"authentication_method": "iam_role", "aws_role_arn": ROLE,
            "sts_endpoint_url": sts.uri(), "endpoint_url": store.uri(), "addressing_style": "path",
            "aws_access_key_id": "minio-indexer", "aws_secret_access_key": "minio-secret"},
    }))
    .expect("valid");
    S3Connector::with_environment("s3_compatible", config, Arc::new(bare_env()), |b| b)
        .expect("builds")
        .check()
        .await
        .expect("listed with the static keys");
    assert!(sts.received_requests().await.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_ends_a_download_run_instead_of_failing_each_object() {
    use connector_core::SyncContext;
    use futures::StreamExt;

    let (s3, sts) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(access_denied_body(), "text/xml"))
        .mount(&sts)
        .await;
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "iam_role", "aws_role_arn": ROLE,
            "aws_access_key_id": "AKIDSTATIC", "aws_secret_access_key": "static-secret",
            "iam_role_with_keys": true, "sts_endpoint_url": sts.uri()}),
    );
    let c = connector(config, bare_env());
    let ids = vec!["s3:docs:a.md".to_owned(), "s3:docs:b.md".to_owned()];
    let mut stream = c
        .roles()
        .as_refetch()
        .expect("refetch")
        .fetch(ids, SyncContext::new());
    let first = stream.next().await.expect("an item");
    let err = first.expect_err("the sync ends");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(err.field(), Some("credentials.aws_role_arn"));
    assert!(s3.received_requests().await.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn a_profile_role_is_assumed_with_the_keys_of_its_source_profile() {
    let (s3, sts) = (MockServer::start().await, MockServer::start().await);
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join(".aws")).expect("dir");
    std::fs::write(
        home.path().join(".aws/config"),
        format!(
            "[profile docs]\nrole_arn = {ROLE}\nsource_profile = base\nrole_session_name = docs-indexer\nexternal_id = acme-7f3a\nregion = eu-west-1\n"
        ),
    )
    .expect("write");
    write_profile(
        home.path(),
        "[base]\naws_access_key_id = AKIDBASEPROFILE\naws_secret_access_key = base-secret\n",
    );
    Mock::given(method("POST"))
        .and(body_string_contains("Action=AssumeRole&"))
        .and(body_string_contains("RoleSessionName=docs-indexer"))
        .and(body_string_contains("ExternalId=acme-7f3a"))
        .and(|req: &Request| {
            req.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("Credential=AKIDBASEPROFILE/"))
        })
        .respond_with(assume_role_response(
            "AssumeRole",
            "ASIAPROFILEROLE",
            "profile-role-token",
            Utc::now() + TimeDelta::hours(1),
        ))
        .expect(1)
        .mount(&sts)
        .await;
    bucket_accepting(&s3, "ASIAPROFILEROLE", "profile-role-token").await;
    let env = bare_env()
        .with_home_dir(home.path())
        .with_var("AWS_PROFILE", "docs")
        .with_var("AWS_ENDPOINT_URL_STS", sts.uri());
    let config = s3_config(
        &s3,
        serde_json::json!({"authentication_method": "assume_role"}),
    );
    connector(config, env)
        .check()
        .await
        .expect("listed with the profile's role");
}
