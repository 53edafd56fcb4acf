//! The two metadata endpoints that hand out a role's temporary credentials as JSON
//! (`AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`):
//! - the ECS container endpoint (also EKS Pod Identity): `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
//!   under `http://169.254.170.2`, or `AWS_CONTAINER_CREDENTIALS_FULL_URI` (https, or http to a
//!   loopback or the container endpoints' own addresses, as the SDKs allow), with the
//!   `Authorization` header from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read on every call:
//!   it is rotated) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`;
//! - the EC2 instance metadata service, IMDSv2 only: `PUT /latest/api/token` with
//!   `X-aws-ec2-metadata-token-ttl-seconds`, then with `X-aws-ec2-metadata-token`
//!   `GET /latest/meta-data/iam/security-credentials/` (the role name) and
//!   `GET …/security-credentials/{role}`. `AWS_EC2_METADATA_SERVICE_ENDPOINT` moves it
//!   (`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6` picks `http://[fd00:ec2::254]`),
//!   `AWS_EC2_METADATA_DISABLED=true` turns it off. IMDSv1 (no token) is not used.

use std::net::Ipv6Addr;
use std::path::PathBuf;

use async_trait::async_trait;
use connector_core::http::{HttpClient, Method};
use connector_core::{Error, ErrorKind, Result, Secret};
use url::Url;

use super::sts::WireCredentials;
use super::{AwsCredentials, AwsEnvironment, Provide, env_url};

/// The ECS container credential endpoint's host, for `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
pub(crate) const ECS_BASE: &str = "http://169.254.170.2";

/// The instance metadata service.
const IMDS_BASE: &str = "http://169.254.169.254";
const IMDS_BASE_IPV6: &str = "http://[fd00:ec2::254]";

/// How long an IMDSv2 session token is asked for (the SDKs' six hours; one is fetched per
/// credential refresh).
const IMDS_TOKEN_TTL: &str = "21600";

/// The field every metadata error points to.
const FIELD: &str = "credentials.authentication_method";

/// ECS container credentials.
#[derive(Debug)]
pub(crate) struct Container {
    http: HttpClient,
    url: Url,
    token: Option<Secret>,
    token_file: Option<PathBuf>,
}

impl Container {
    /// The container endpoint the environment names, relative URIs under `base` (the ECS
    /// endpoint, [`ECS_BASE`]; tests move it); `None` when it names none.
    ///
    /// # Errors
    /// `Config` when the URI is not a URL, or a full URI is plain http to a host that is not
    /// a loopback or a container endpoint address.
    pub(crate) fn from_env_at(
        http: HttpClient,
        env: &dyn AwsEnvironment,
        base: &str,
    ) -> Result<Option<Self>> {
        let url = if let Some(relative) = env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            env_url(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                &format!("{base}{relative}"),
            )?
        } else if let Some(full) = env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            let url = env_url("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full)?;
            if url.scheme() == "http" && !allowed_http_host(&url) {
                return Err(Error::new(
                    ErrorKind::Config,
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback address or the container credential endpoint (169.254.170.2, 169.254.170.23, fd00:ec2::23)",
                )
                .with_field(FIELD));
            }
            url
        } else {
            return Ok(None);
        };
        Ok(Some(Self {
            http,
            url,
            token: env
                .var("AWS_CONTAINER_AUTHORIZATION_TOKEN")
                .map(Secret::new),
            token_file: env
                .var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
                .map(PathBuf::from),
        }))
    }

    async fn authorization(&self) -> Result<Option<Secret>> {
        match &self.token_file {
            Some(path) => match tokio::fs::read_to_string(path).await {
                Ok(text) => Ok(Some(Secret::new(text.trim()))),
                Err(e) => Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {}",
                        path.display()
                    ),
                )
                .with_field(FIELD)
                .with_cause(e)),
            },
            None => Ok(self.token.clone()),
        }
    }
}

#[async_trait]
impl Provide for Container {
    async fn provide(&self) -> Result<AwsCredentials> {
        let mut request = self.http.get(self.url.clone()).client_errors_as_responses();
        if let Some(token) = self.authorization().await? {
            request = request.secret_header("authorization", &token);
        }
        let resp = request.send().await.map_err(|e| {
            Error::new(
                e.kind(),
                "the ECS container credential endpoint cannot be reached",
            )
            .with_field(FIELD)
            .with_retryable(e.is_retryable())
            .with_cause(e)
        })?;
        if !resp.status().is_success() {
            let kind = match resp.status().as_u16() {
                401 => ErrorKind::Unauthenticated,
                403 => ErrorKind::PermissionDenied,
                _ => ErrorKind::InvalidData,
            };
            return Err(Error::new(
                kind,
                format!(
                    "the ECS container credential endpoint answered HTTP {} (check AWS_CONTAINER_AUTHORIZATION_TOKEN or _FILE)",
                    resp.status().as_u16()
                ),
            )
            .with_field(FIELD)
            .with_url(resp.url()));
        }
        let wire: WireCredentials = resp.json().map_err(|e| {
            Error::invalid_data("the ECS container credential endpoint answered no credentials")
                .with_cause(e)
        })?;
        wire.into_credentials("the ECS container endpoint")
    }
}

/// Whether plain http to this full URI is allowed: loopback, or the container endpoints.
fn allowed_http_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback()
                || ip.octets() == [169, 254, 170, 2]
                || ip.octets() == [169, 254, 170, 23]
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)
        }
        None => false,
    }
}

/// EC2 instance metadata, IMDSv2.
#[derive(Debug)]
pub(crate) struct Imds {
    http: HttpClient,
    base: Url,
}

/// What the metadata service says about the instance's role.
pub(crate) enum ImdsProbe {
    /// Credentials of the instance's role.
    Found(AwsCredentials),
    /// No metadata service answered (not on EC2, or blocked).
    Absent(String),
}

impl Imds {
    /// The metadata service the environment names; `None` when `AWS_EC2_METADATA_DISABLED`.
    ///
    /// # Errors
    /// `Config` when `AWS_EC2_METADATA_SERVICE_ENDPOINT` is not a URL.
    pub(crate) fn from_env(http: HttpClient, env: &dyn AwsEnvironment) -> Result<Option<Self>> {
        if env
            .var("AWS_EC2_METADATA_DISABLED")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            return Ok(None);
        }
        let base = match env.var("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
            Some(value) => env_url("AWS_EC2_METADATA_SERVICE_ENDPOINT", &value)?,
            None if env
                .var("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
                .is_some_and(|m| m.eq_ignore_ascii_case("ipv6")) =>
            {
                env_url("the instance metadata endpoint", IMDS_BASE_IPV6)?
            }
            None => env_url("the instance metadata endpoint", IMDS_BASE)?,
        };
        Ok(Some(Self { http, base }))
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base.join(path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                "AWS_EC2_METADATA_SERVICE_ENDPOINT cannot take a path",
            )
            .with_cause(e)
        })
    }

    /// The instance's credentials, or that no metadata service answered the token request.
    ///
    /// # Errors
    /// A metadata service that answers but has no role, or answers nonsense.
    pub(crate) async fn probe(&self) -> Result<ImdsProbe> {
        let token = match self
            .http
            .request(Method::PUT, self.url("/latest/api/token")?)
            .header("x-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL)
            .idempotent(true)
            .send()
            .await
        {
            Ok(resp) => Secret::new(resp.text().trim()),
            Err(e) if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout) => {
                return Ok(ImdsProbe::Absent(e.to_string()));
            }
            Err(e) => {
                return Err(Error::new(
                    e.kind(),
                    "the EC2 instance metadata service refused an IMDSv2 token",
                )
                .with_field(FIELD)
                .with_cause(e));
            }
        };
        let role_list = self
            .http
            .get(self.url("/latest/meta-data/iam/security-credentials/")?)
            .secret_header("x-aws-ec2-metadata-token", &token)
            .send()
            .await
            .map_err(|e| {
                let what = if e.kind() == ErrorKind::NotFound {
                    "this EC2 instance has no IAM role (no instance profile attached)"
                } else {
                    "the EC2 instance metadata service did not list the instance's role"
                };
                Error::new(
                    if e.kind() == ErrorKind::NotFound {
                        ErrorKind::Unauthenticated
                    } else {
                        e.kind()
                    },
                    what,
                )
                .with_field(FIELD)
                .with_cause(e)
            })?;
        let text = role_list.text();
        let Some(role) = text.lines().map(str::trim).find(|l| !l.is_empty()) else {
            return Err(Error::new(
                ErrorKind::Unauthenticated,
                "this EC2 instance has no IAM role (no instance profile attached)",
            )
            .with_field(FIELD));
        };
        let resp = self
            .http
            .get(self.url(&format!(
                "/latest/meta-data/iam/security-credentials/{role}"
            ))?)
            .secret_header("x-aws-ec2-metadata-token", &token)
            .send()
            .await
            .map_err(|e| {
                Error::new(
                    e.kind(),
                    format!(
                        "the EC2 instance metadata service gave no credentials for role `{role}`"
                    ),
                )
                .with_field(FIELD)
                .with_cause(e)
            })?;
        let doc: serde_json::Value = resp.json()?;
        if let Some(code) = doc.get("Code").and_then(|c| c.as_str())
            && code != "Success"
        {
            return Err(Error::new(
                ErrorKind::Unauthenticated,
                format!("the EC2 instance metadata service reports `{code}` for role `{role}`"),
            )
            .with_field(FIELD));
        }
        let wire: WireCredentials = serde_json::from_value(doc).map_err(|e| {
            Error::invalid_data("the EC2 instance metadata service answered no credentials")
                .with_cause(e)
        })?;
        Ok(ImdsProbe::Found(
            wire.into_credentials("the EC2 instance metadata service")?,
        ))
    }
}

#[async_trait]
impl Provide for Imds {
    async fn provide(&self) -> Result<AwsCredentials> {
        match self.probe().await? {
            ImdsProbe::Found(creds) => Ok(creds),
            ImdsProbe::Absent(why) => Err(Error::new(
                ErrorKind::Unavailable,
                format!("the EC2 instance metadata service did not answer: {why}"),
            )
            .with_field(FIELD)),
        }
    }
}
