//! The STS Query API: `AssumeRole` (signed with SigV4 by `aws-sigv4`) and
//! `AssumeRoleWithWebIdentity` (unsigned: the web identity token is the proof), each a form
//! `POST` to the regional endpoint `https://sts.{region}.amazonaws.com/`, answered with XML.
//!
//! The endpoint is, in order: the config's `credentials.sts_endpoint_url`, the environment
//! variable `AWS_ENDPOINT_URL_STS` (AWS's name for a service endpoint override), the regional
//! endpoint of the signing region (`.amazonaws.com.cn` for `cn-` regions).

use std::fmt;
use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use chrono::{DateTime, Utc};
use connector_core::http::{HttpClient, Response};
use connector_core::{Error, ErrorKind, Result, Secret};
use serde::Deserialize;
use url::Url;

use super::{AwsCredentials, AwsEnvironment, env_url};

/// The Query API version every STS action is sent with.
const VERSION: &str = "2011-06-15";

/// A form body, as the Query API takes its parameters.
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The role an `AssumeRole` call asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleRequest {
    pub(crate) role_arn: String,
    pub(crate) session_name: String,
    /// `ExternalId`, when the role's trust policy asks for one (profiles' `external_id`).
    pub(crate) external_id: Option<String>,
}

impl RoleRequest {
    /// `role_arn` under the connector's [`ROLE_SESSION_NAME`](super::ROLE_SESSION_NAME).
    pub(crate) fn new(role_arn: impl Into<String>) -> Self {
        Self {
            role_arn: role_arn.into(),
            session_name: super::ROLE_SESSION_NAME.to_owned(),
            external_id: None,
        }
    }
}

/// Where STS calls go, and the region they are signed for.
#[derive(Clone)]
pub(crate) struct Sts {
    http: HttpClient,
    endpoint: Url,
    region: String,
}

impl fmt::Debug for Sts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sts")
            .field("endpoint", &self.endpoint.as_str())
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Sts {
    /// STS for `region`, at `configured` if given, else at `AWS_ENDPOINT_URL_STS`, else at the
    /// regional endpoint.
    ///
    /// # Errors
    /// `Config` when `AWS_ENDPOINT_URL_STS` is not an http(s) URL.
    pub(crate) fn new(
        http: HttpClient,
        configured: Option<&Url>,
        env: &dyn AwsEnvironment,
        region: &str,
    ) -> Result<Self> {
        let endpoint = match (configured, env.var("AWS_ENDPOINT_URL_STS")) {
            (Some(url), _) => url.clone(),
            (None, Some(value)) => env_url("AWS_ENDPOINT_URL_STS", &value)?,
            (None, None) => {
                let suffix = if region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                env_url(
                    "the STS endpoint",
                    &format!("https://sts.{region}.{suffix}/"),
                )?
            }
        };
        Ok(Self {
            http,
            endpoint,
            region: region.to_owned(),
        })
    }

    /// `AssumeRole` of `role.role_arn`, signed with `base`. Refusals name `base_field` (wrong
    /// or expired base credentials) or `credentials.aws_role_arn` (not allowed to assume it).
    ///
    /// # Errors
    /// `PermissionDenied` (AccessDenied), `Unauthenticated` (the base credentials are wrong or
    /// expired), `Unavailable` (STS unreachable or failing), `InvalidData` (an answer that is
    /// not AWS's).
    pub(crate) async fn assume_role(
        &self,
        base: &AwsCredentials,
        role: &RoleRequest,
        base_field: &'static str,
    ) -> Result<AwsCredentials> {
        let role_arn = role.role_arn.as_str();
        let mut params = vec![
            ("Action", "AssumeRole"),
            ("RoleArn", role_arn),
            ("RoleSessionName", role.session_name.as_str()),
            ("Version", VERSION),
        ];
        if let Some(id) = &role.external_id {
            params.push(("ExternalId", id.as_str()));
        }
        let body = form(&params);
        let headers = self.sign(base, &body).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                "cannot sign the STS AssumeRole request",
            )
            .with_cause(e)
        })?;
        let mut request = self
            .http
            .post(self.endpoint.clone())
            .body(body, FORM)
            // Asking twice only mints a second set of credentials: safe to retry on 5xx.
            .idempotent(true)
            .client_errors_as_responses();
        for (name, value) in headers {
            request = request.secret_header(&name, &Secret::new(value));
        }
        let resp = request
            .send()
            .await
            .map_err(|e| unreachable_sts(e, "AssumeRole"))?;
        self.credentials(&resp, "AssumeRole", role_arn, base_field)
    }

    /// `AssumeRoleWithWebIdentity` of `role_arn` with the token of a web identity token file
    /// (`AWS_WEB_IDENTITY_TOKEN_FILE`).
    ///
    /// # Errors
    /// As [`assume_role`](Self::assume_role); a token STS rejects is `Unauthenticated`.
    pub(crate) async fn assume_role_with_web_identity(
        &self,
        token: &Secret,
        role_arn: &str,
        session_name: &str,
    ) -> Result<AwsCredentials> {
        let body = form(&[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("RoleArn", role_arn),
            ("RoleSessionName", session_name),
            ("Version", VERSION),
            ("WebIdentityToken", token.expose()),
        ]);
        let resp = self
            .http
            .post(self.endpoint.clone())
            .body(body, FORM)
            .idempotent(true)
            .client_errors_as_responses()
            .send()
            .await
            .map_err(|e| unreachable_sts(e, "AssumeRoleWithWebIdentity"))?;
        self.credentials(
            &resp,
            "AssumeRoleWithWebIdentity",
            role_arn,
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        )
    }

    /// The SigV4 headers (`authorization`, `x-amz-date`, and `x-amz-security-token` when
    /// `base` has a session token) of a form `POST` of `body` to the endpoint.
    fn sign(
        &self,
        base: &AwsCredentials,
        body: &str,
    ) -> std::result::Result<Vec<(String, String)>, Box<dyn std::error::Error + Send + Sync>> {
        let identity = aws_credential_types::Credentials::new(
            base.key_id.as_str(),
            base.secret.expose(),
            base.token.as_ref().map(|t| t.expose().to_owned()),
            None,
            "connectors",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("sts")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let request = SignableRequest::new(
            "POST",
            self.endpoint.as_str(),
            [("content-type", FORM)].into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )?;
        let (instructions, _) = sign(request, &params)?.into_parts();
        Ok(instructions
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect())
    }

    /// The credentials of a 200 answer, or the error its XML names.
    fn credentials(
        &self,
        resp: &Response,
        action: &str,
        role_arn: &str,
        base_field: &'static str,
    ) -> Result<AwsCredentials> {
        if !resp.status().is_success() {
            return Err(refusal(resp, action, role_arn, base_field));
        }
        let text = String::from_utf8_lossy(resp.body());
        let parsed: Envelope = quick_xml::de::from_str(text.trim()).map_err(|e| {
            Error::invalid_data(format!("the STS {action} answer is not AWS's XML"))
                .with_url(resp.url())
                .with_cause(e)
        })?;
        parsed.result.credentials.into_credentials(action)
    }
}

/// `a=b&c=d`, form-encoded.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A transport error of an STS call (unreachable, retries spent), saying which call.
fn unreachable_sts(e: Error, action: &str) -> Error {
    let kind = e.kind();
    let mut err = Error::new(
        kind,
        format!("the STS {action} call failed (check `credentials.sts_endpoint_url`, `credentials.region` or AWS_ENDPOINT_URL_STS)"),
    )
    .with_retryable(e.is_retryable())
    .with_field("credentials.sts_endpoint_url");
    if let Some(wait) = e.retry_after() {
        err = err.with_retry_after(wait);
    }
    err.with_cause(e)
}

/// The error a non-2xx STS answer stands for, by its `Error/Code`.
fn refusal(resp: &Response, action: &str, role_arn: &str, base_field: &'static str) -> Error {
    let text = String::from_utf8_lossy(resp.body());
    let body: ErrorResponse = quick_xml::de::from_str(text.trim()).unwrap_or_default();
    let code = if body.error.code.is_empty() {
        format!("HTTP {}", resp.status().as_u16())
    } else {
        body.error.code.clone()
    };
    let message = body.error.message;
    let (kind, what, field) = match body.error.code.as_str() {
        "AccessDenied" => (
            ErrorKind::PermissionDenied,
            format!(
                "STS refused {action} of role `{role_arn}` ({code}: {message}); check the role's trust policy and `credentials.aws_role_arn`"
            ),
            "credentials.aws_role_arn",
        ),
        "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "InvalidIdentityToken"
        | "ExpiredTokenException"
        | "IDPRejectedClaim"
        | "MissingAuthenticationToken" => (
            ErrorKind::Unauthenticated,
            format!("STS rejected the credentials of the {action} call ({code}: {message})"),
            base_field,
        ),
        "RegionDisabledException" => (
            ErrorKind::PermissionDenied,
            format!("STS is not activated in this region ({code}: {message})"),
            "credentials.region",
        ),
        _ if resp.status().as_u16() == 403 => (
            ErrorKind::PermissionDenied,
            format!("STS refused {action} of role `{role_arn}` ({code}: {message})"),
            "credentials.aws_role_arn",
        ),
        _ => (
            ErrorKind::InvalidData,
            format!("STS refused {action} of role `{role_arn}` ({code}: {message})"),
            "credentials.aws_role_arn",
        ),
    };
    Error::new(kind, what)
        .with_field(field)
        .with_url(resp.url())
        .with_retryable(false)
}

/// `<AssumeRoleResponse><AssumeRoleResult><Credentials>…` (or the same under
/// `AssumeRoleWithWebIdentity…`); the root element's name is not checked.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "AssumeRoleResult", alias = "AssumeRoleWithWebIdentityResult")]
    result: ResultBody,
}

#[derive(Deserialize)]
struct ResultBody {
    #[serde(rename = "Credentials")]
    credentials: WireCredentials,
}

/// `Credentials` as STS, the ECS container endpoint and IMDS all name their fields.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WireCredentials {
    pub(super) access_key_id: String,
    pub(super) secret_access_key: Secret,
    #[serde(alias = "Token")]
    pub(super) session_token: Option<Secret>,
    pub(super) expiration: Option<String>,
}

impl WireCredentials {
    /// Checked credentials: a key id and a secret, and an `Expiration` that parses.
    pub(super) fn into_credentials(self, from: &str) -> Result<AwsCredentials> {
        if self.access_key_id.trim().is_empty() || self.secret_access_key.is_empty() {
            return Err(Error::invalid_data(format!(
                "the credentials from {from} have no AccessKeyId or SecretAccessKey"
            )));
        }
        let expires = match self.expiration.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(
                DateTime::parse_from_rfc3339(raw)
                    .map_err(|e| {
                        Error::invalid_data(format!(
                            "the Expiration {raw:?} of the credentials from {from} is not a time"
                        ))
                        .with_cause(e)
                    })?
                    .with_timezone(&Utc),
            ),
        };
        Ok(AwsCredentials {
            key_id: self.access_key_id.trim().to_owned(),
            secret: self.secret_access_key,
            token: self.session_token.filter(|t| !t.is_empty()),
            expires,
        })
    }
}

/// `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
#[derive(Default, Deserialize)]
struct ErrorResponse {
    #[serde(rename = "Error", default)]
    error: ErrorDetail,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::aws::StaticEnvironment;

    fn http() -> HttpClient {
        HttpClient::builder("s3").build().expect("client")
    }

    #[test]
    fn endpoint_is_config_then_env_then_regional() {
        let env = StaticEnvironment::new();
        let sts = Sts::new(http(), None, &env, "eu-west-1").expect("sts");
        assert_eq!(
            sts.endpoint.as_str(),
            "https://sts.eu-west-1.amazonaws.com/"
        );
        let cn = Sts::new(http(), None, &env, "cn-north-1").expect("sts");
        assert_eq!(
            cn.endpoint.as_str(),
            "https://sts.cn-north-1.amazonaws.com.cn/"
        );
        let env = env.with_var("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4566");
        let from_env = Sts::new(http(), None, &env, "eu-west-1").expect("sts");
        assert_eq!(from_env.endpoint.as_str(), "http://127.0.0.1:4566/");
        let configured: Url = "https://sts.internal.example/".parse().expect("url");
        let from_config = Sts::new(http(), Some(&configured), &env, "eu-west-1").expect("sts");
        assert_eq!(from_config.endpoint, configured);
        let bad = StaticEnvironment::new().with_var("AWS_ENDPOINT_URL_STS", "sts.local");
        let err = Sts::new(http(), None, &bad, "eu-west-1").unwrap_err();
        assert!(err.to_string().contains("AWS_ENDPOINT_URL_STS"), "{err}");
    }

    #[test]
    fn parses_the_documented_assume_role_response() {
        // The example of the AssumeRole API reference, Expiration and all.
        let xml = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
  <SourceIdentity>Alice</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#;
        let parsed: Envelope = quick_xml::de::from_str(xml).expect("parses");
        let creds = parsed
            .result
            .credentials
            .into_credentials("STS")
            .expect("valid");
        assert_eq!(creds.key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(
            creds.expires.map(|t| t.to_rfc3339()).as_deref(),
            Some("2019-11-09T13:34:41+00:00")
        );
        assert!(creds.token.is_some());
    }

    #[test]
    fn parses_the_web_identity_response() {
        let xml = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:docs:indexer</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>IQoJb3JpZ2luX2VjEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey>
      <Expiration>2026-01-01T01:00:00Z</Expiration>
      <AccessKeyId>ASIAWEBIDENTITY</AccessKeyId>
    </Credentials>
    <Provider>arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE</Provider>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;
        let parsed: Envelope = quick_xml::de::from_str(xml).expect("parses");
        assert_eq!(parsed.result.credentials.access_key_id, "ASIAWEBIDENTITY");
    }

    #[test]
    fn error_response_parses() {
        let xml = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:iam::123456789012:user/indexer is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/docs-reader</Message>
  </Error>
  <RequestId>4d4fc3a4-5ef1-11e0-a38e-8b7a4f9ba8f2</RequestId>
</ErrorResponse>"#;
        let parsed: ErrorResponse = quick_xml::de::from_str(xml).expect("parses");
        assert_eq!(parsed.error.code, "AccessDenied");
        assert!(parsed.error.message.contains("sts:AssumeRole"));
    }

    #[test]
    fn sign_produces_sigv4_headers_for_sts_with_the_session_token() {
        let env = StaticEnvironment::new();
        let sts = Sts::new(http(), None, &env, "eu-west-1").expect("sts");
        let base = AwsCredentials::fixed(
            "AKIDEXAMPLE".to_owned(),
            Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            Some(Secret::new("session-token-value")),
        );
        let headers = sts.sign(&base, "Action=AssumeRole").expect("signed");
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        let auth = get("authorization").expect("authorization");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/eu-west-1/sts/aws4_request"), "{auth}");
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
        assert_eq!(get("x-amz-security-token"), Some("session-token-value"));
        assert!(get("x-amz-date").is_some());
    }
}
