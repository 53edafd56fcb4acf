//! AWS credentials for the `s3` bucket type: static keys (with an optional session token),
//! STS AssumeRole (`iam_role`) and the ambient credential chain (`assume_role`), with
//! temporary credentials refreshed before they expire.
//!
//! # What RAGFlow does, and what this module does
//! RAGFlow's `blob_connector.py` builds a boto3 client per `authentication_method`:
//! - `access_key`: the keys given. Here also an optional `aws_session_token` (alias
//!   `session_token`, the name RAGFlow's own storage config uses), signed into every request as
//!   `X-Amz-Security-Token`.
//! - `iam_role`: `sts.assume_role(RoleArn=aws_role_arn)` with botocore's refreshable
//!   credentials. Here the same, signed as RAGFlow signs it (a bare `boto3.client("sts")`)
//!   with the ambient chain's credentials, or with the config's static keys when
//!   `iam_role_with_keys` asks for it.
//!   `RoleSessionName` is [`ROLE_SESSION_NAME`], stable so that CloudTrail and trust policies
//!   can name it (RAGFlow's carries a timestamp).
//! - `assume_role`: `boto3.client("s3")`, i.e. the default chain of the host. Here the same
//!   chain, in the order AWS documents for its SDKs: environment variables, a web identity
//!   token file (Kubernetes / EKS IRSA), the shared profile files, ECS container credentials,
//!   EC2 instance metadata (IMDSv2). The first source that is *configured* is used, and used
//!   alone from then on (as botocore keeps the provider it resolved).
//!
//! Temporary credentials of any source are refreshed [`REFRESH_BEFORE`] (5 minutes) before
//! their `Expiration`, under one lock so that concurrent downloads wait for one refresh; if a
//! refresh fails while the current credentials are still good for more than
//! [`STILL_USABLE`], they are used on (with a warning) and the refresh is tried again after
//! [`RETRY_REFRESH_AFTER`], so no request fails in between.
//!
//! # Why no credential crate
//! The signing of STS requests uses `aws-sigv4` (the AWS SDK's own signer: sign-only, no HTTP
//! client, and its crypto is the RustCrypto `hmac`/`sha2` pair rusty-s3 already uses). The
//! credential *sources* are implemented here, against AWS's documented endpoints (STS Query API
//! `AssumeRole` and `AssumeRoleWithWebIdentity`, the ECS container credential endpoint, IMDSv2,
//! the shared config and credentials files), because no crate fits the workspace's rules:
//! - `aws-config` brings the SDK's own HTTP and TLS stack (hyper, its rustls set-up);
//! - `reqsign-aws-v4` (3.3) sends through a host-supplied client and its crypto is the same
//!   (good), but builds every STS URL as `https://sts…` with no endpoint override (no
//!   `AWS_ENDPOINT_URL_STS`, no private endpoint, no loopback test), and turns our errors into
//!   its own kinds (`AssumeRole` drops the transport error altogether), so the `Unavailable` /
//!   `Unauthenticated` distinction, the field to fix and `Retry-After` of
//!   [`HttpClient`](connector_core::http::HttpClient) would be lost.
//!
//! Every request here goes through connector-core's `HttpClient` (retries, timeouts, redaction);
//! keys, session tokens, web identity tokens and metadata tokens are [`Secret`]s and sent only
//! in headers marked sensitive or in request bodies, never in a URL, a log line or an error.

mod chain;
mod env;
mod metadata;
mod profile;
mod sts;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use connector_core::http::HttpClient;
use connector_core::net::NetworkPolicy;
use connector_core::{Error, ErrorKind, Result, Secret};
use tokio::sync::Mutex;
use url::Url;

pub use env::{AwsEnvironment, ProcessEnvironment, StaticEnvironment};

pub(crate) use chain::AmbientChain;
pub(crate) use sts::{RoleRequest, Sts};

/// The `RoleSessionName` of every `AssumeRole` call (and of `AssumeRoleWithWebIdentity` unless
/// `AWS_ROLE_SESSION_NAME` names another): stable, so CloudTrail entries and trust-policy
/// conditions on `sts:RoleSessionName` can rely on it.
pub const ROLE_SESSION_NAME: &str = "connectors_blob_storage";

/// Temporary credentials are refreshed this long before their `Expiration`.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// A failed refresh keeps the current credentials while they stay valid this much longer.
pub const STILL_USABLE: Duration = Duration::from_secs(60);

/// After a failed refresh (or one that handed back credentials already due), the next try
/// waits this long.
pub const RETRY_REFRESH_AFTER: Duration = Duration::from_secs(30);

/// A set of AWS credentials: the key id, the secret, and for temporary credentials the session
/// token and when they expire.
#[derive(Clone, PartialEq)]
pub(crate) struct AwsCredentials {
    pub(crate) key_id: String,
    pub(crate) secret: Secret,
    pub(crate) token: Option<Secret>,
    pub(crate) expires: Option<DateTime<Utc>>,
}

impl AwsCredentials {
    /// Long-lived keys, with a session token when one is given (an empty one is none).
    pub(crate) fn fixed(key_id: String, secret: Secret, token: Option<Secret>) -> Self {
        Self {
            key_id,
            secret,
            token: token.filter(|t| !t.is_empty()),
            expires: None,
        }
    }

    /// The signing keys of rusty-s3, with the session token.
    pub(crate) fn signing_keys(&self) -> rusty_s3::Credentials {
        match &self.token {
            Some(token) => rusty_s3::Credentials::new_with_token(
                self.key_id.as_str(),
                self.secret.expose(),
                token.expose(),
            ),
            None => rusty_s3::Credentials::new(self.key_id.as_str(), self.secret.expose()),
        }
    }

    /// Whether they need no refresh at `now`.
    fn fresh_at(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_none_or(|t| now + delta(REFRESH_BEFORE) < t)
    }

    /// Whether they may still sign a request at `now` (a failed refresh keeps them until then).
    fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_none_or(|t| now + delta(STILL_USABLE) < t)
    }
}

impl fmt::Debug for AwsCredentials {
    // By hand: the secret and the token never reach a log line. The key id is not secret
    // (AWS prints it in CloudTrail and error messages) and tells which identity is in use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("key_id", &self.key_id)
            .field("secret", &"***")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("expires", &self.expires)
            .finish()
    }
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// A source of credentials: each call fetches (or reads) a set anew; [`Refreshing`] caches.
#[async_trait]
pub(crate) trait Provide: Send + Sync + fmt::Debug {
    /// A set of credentials.
    ///
    /// # Errors
    /// `Unauthenticated` / `PermissionDenied` when the source refuses, `Unavailable` when it
    /// cannot be reached, `Config` when it is set up wrongly; each names the field to fix.
    async fn provide(&self) -> Result<AwsCredentials>;
}

/// Fixed keys.
#[derive(Debug)]
pub(crate) struct Fixed(pub(crate) AwsCredentials);

#[async_trait]
impl Provide for Fixed {
    async fn provide(&self) -> Result<AwsCredentials> {
        Ok(self.0.clone())
    }
}

/// STS `AssumeRole`, signed with the credentials of `base`.
#[derive(Debug)]
pub(crate) struct AssumeRole {
    pub(crate) sts: Sts,
    pub(crate) role: RoleRequest,
    pub(crate) base: Arc<Refreshing>,
    /// The field a refusal of the base credentials points to.
    pub(crate) base_field: &'static str,
}

#[async_trait]
impl Provide for AssumeRole {
    async fn provide(&self) -> Result<AwsCredentials> {
        let base = self.base.get().await?;
        self.sts
            .assume_role(&base, &self.role, self.base_field)
            .await
    }
}

/// Caches the credentials of a [`Provide`] and refreshes them before they expire.
#[derive(Debug)]
pub(crate) struct Refreshing {
    source: Box<dyn Provide>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    current: Option<AwsCredentials>,
    /// No refresh is tried before this, after one failed or came back already due.
    retry_not_before: Option<DateTime<Utc>>,
}

impl Refreshing {
    pub(crate) fn new(source: impl Provide + 'static) -> Self {
        Self {
            source: Box::new(source),
            state: Mutex::new(State::default()),
        }
    }

    /// Credentials good for at least [`STILL_USABLE`] more, refreshed first when they are due.
    ///
    /// # Errors
    /// The source's error when there are no credentials yet, or the current ones are about to
    /// expire and the refresh failed.
    pub(crate) async fn get(&self) -> Result<AwsCredentials> {
        // Held across the refresh: concurrent callers wait for one refresh, not start their own.
        let mut state = self.state.lock().await;
        let now = Utc::now();
        if let Some(current) = state.reusable(now) {
            return Ok(current);
        }
        let outcome = self.source.provide().await;
        state.settle(outcome, Utc::now())
    }
}

#[async_trait]
impl Provide for Refreshing {
    async fn provide(&self) -> Result<AwsCredentials> {
        self.get().await
    }
}

impl State {
    /// The current credentials when no refresh is to be tried at `now`.
    fn reusable(&self, now: DateTime<Utc>) -> Option<AwsCredentials> {
        let current = self.current.as_ref()?;
        let waiting = self.retry_not_before.is_some_and(|t| now < t);
        (current.fresh_at(now) || (waiting && current.usable_at(now))).then(|| current.clone())
    }

    /// Takes the outcome of a fetch at `now`: new credentials replace the old; a failure keeps
    /// the old ones while they are usable.
    fn settle(
        &mut self,
        outcome: Result<AwsCredentials>,
        now: DateTime<Utc>,
    ) -> Result<AwsCredentials> {
        match outcome {
            Ok(fetched) => {
                // A source that hands back credentials already due (an instance's metadata
                // service just before it rotates them) is asked again only now and then.
                let refreshed = self.current.is_some();
                self.retry_not_before =
                    (refreshed && !fetched.fresh_at(now)).then(|| now + delta(RETRY_REFRESH_AFTER));
                if !fetched.usable_at(now) {
                    tracing::warn!(expires = ?fetched.expires, "the AWS credentials fetched expire within a minute");
                }
                self.current = Some(fetched.clone());
                Ok(fetched)
            }
            Err(e) => match &self.current {
                Some(current) if current.usable_at(now) && e.kind() != ErrorKind::Cancelled => {
                    tracing::warn!(
                        error = %e,
                        expires = ?current.expires,
                        "refreshing the AWS credentials failed; the current ones are still valid and stay in use"
                    );
                    self.retry_not_before = Some(now + delta(RETRY_REFRESH_AFTER));
                    Ok(current.clone())
                }
                _ => Err(e),
            },
        }
    }
}

/// The HTTP clients the credential sources use: one for STS, one for the ECS container
/// endpoint, and one with short timeouts and a single retry for the instance metadata service,
/// which is simply absent off EC2 and must not hold a sync up (botocore waits 1 s there too).
///
/// None of them is held to a network policy: they are the host's. A tenant's STS endpoint
/// (`credentials.sts_endpoint_url`) gets a client of its own, held to the bucket's policy
/// ([`CredentialHttp::sts_client`]), and serves only the config's own role. The container endpoint, the
/// instance metadata service, `AWS_ENDPOINT_URL_STS` and the regional STS endpoint are the
/// host's own credential sources, set by whoever runs the process (environment, instance,
/// task definition) and out of the tenant's reach; the metadata and container endpoints live
/// at link-local addresses (`169.254.169.254`, `169.254.170.2`) that a guard denies, and STS
/// behind a VPC endpoint resolves to private ones. Guarding them would break the host's
/// credentials without protecting anything a tenant can point at; their answers only sign
/// requests and never become documents.
#[derive(Debug, Clone)]
pub(crate) struct CredentialHttp {
    pub(crate) sts: HttpClient,
    pub(crate) container: HttpClient,
    pub(crate) metadata: HttpClient,
}

impl CredentialHttp {
    /// The host's clients, named after `source` (errors and logs say which connector asked).
    ///
    /// # Errors
    /// `Internal` when a client cannot be built.
    pub(crate) fn new(source: &'static str) -> Result<Self> {
        Ok(Self {
            sts: Self::sts_client(source, NetworkPolicy::any())?,
            container: Self::sts_client(source, NetworkPolicy::any())?,
            metadata: HttpClient::builder(source)
                .timeout(Duration::from_secs(2))
                .connect_timeout(Duration::from_secs(1))
                .max_retries(1)
                .backoff(Duration::from_millis(100), Duration::from_millis(200))
                .build()?,
        })
    }

    /// A client for STS calls held to `network` (the bucket's policy, for the tenant's
    /// `credentials.sts_endpoint_url`).
    ///
    /// # Errors
    /// `Internal` when the client cannot be built.
    pub(crate) fn sts_client(source: &'static str, network: NetworkPolicy) -> Result<HttpClient> {
        HttpClient::builder(source)
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .max_retries(3)
            .network_policy(network)
            .build()
    }
}

/// How requests are signed, as the config says.
#[derive(Debug, Clone)]
pub(crate) enum Signing {
    /// With these keys.
    Keys(AwsCredentials),
    /// With the credentials of STS `AssumeRole`, called with `keys`, or with the ambient
    /// chain's credentials when there are none.
    IamRole {
        role_arn: String,
        keys: Option<AwsCredentials>,
    },
    /// With the host's ambient credentials.
    Ambient,
}

/// The cached, refreshing source of the credentials `signing` describes. STS calls go to
/// `sts_endpoint` (else `AWS_ENDPOINT_URL_STS`, else the regional endpoint of `region`);
/// `network`, the bucket's policy, holds for `sts_endpoint` only (see [`CredentialHttp`]).
/// Nothing is sent before the first [`Refreshing::get`].
///
/// # Errors
/// `Config` when an endpoint in the environment is not a URL; `Internal` when an HTTP client
/// cannot be built.
pub(crate) fn credential_source(
    signing: Signing,
    env: Arc<dyn AwsEnvironment>,
    source: &'static str,
    region: &str,
    sts_endpoint: Option<&Url>,
    network: &NetworkPolicy,
) -> Result<Refreshing> {
    // The host's STS (`AWS_ENDPOINT_URL_STS`, else AWS's regional endpoint) serves the
    // ambient chain: the host's web identity token is exchanged there and nowhere else. The
    // tenant's `credentials.sts_endpoint_url` serves only the config's own role, held to the
    // bucket's policy: a tenant must not receive the host's web identity token by naming an
    // STS endpoint of its own.
    let http = CredentialHttp::new(source)?;
    let host_sts = Sts::new(http.sts.clone(), None, env.as_ref(), region)?;
    Ok(match signing {
        Signing::Keys(keys) => Refreshing::new(Fixed(keys)),
        Signing::IamRole { role_arn, keys } => {
            let sts = match sts_endpoint {
                Some(url) => Sts::new(
                    CredentialHttp::sts_client(source, network.clone())?,
                    Some(url),
                    env.as_ref(),
                    region,
                )?,
                None => host_sts.clone(),
            };
            let (base, base_field) = match keys {
                Some(keys) => (
                    Refreshing::new(Fixed(keys)),
                    "credentials.aws_access_key_id",
                ),
                None => (
                    Refreshing::new(AmbientChain::new(Arc::clone(&env), http, host_sts)),
                    "credentials.authentication_method",
                ),
            };
            Refreshing::new(AssumeRole {
                sts,
                role: RoleRequest::new(role_arn),
                base: Arc::new(base),
                base_field,
            })
        }
        Signing::Ambient => Refreshing::new(AmbientChain::new(Arc::clone(&env), http, host_sts)),
    })
}

/// Parses an endpoint URL given by an environment variable, as a `Config` error naming it.
fn env_url(name: &str, value: &str) -> Result<Url> {
    Url::parse(value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!("the environment variable {name} is not an http(s) URL"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn creds(id: &str, expires: Option<DateTime<Utc>>) -> AwsCredentials {
        AwsCredentials {
            key_id: id.to_owned(),
            secret: Secret::new("secret-value"),
            token: Some(Secret::new("token-value")),
            expires,
        }
    }

    #[test]
    fn debug_hides_secret_and_token() {
        let shown = format!("{:?}", creds("ASIA1", None));
        assert!(shown.contains("ASIA1"));
        assert!(!shown.contains("secret-value") && !shown.contains("token-value"));
    }

    #[test]
    fn fresh_credentials_are_reused_and_due_ones_refreshed() {
        let now = Utc::now();
        let mut state = State {
            current: Some(creds("A", Some(now + TimeDelta::minutes(30)))),
            retry_not_before: None,
        };
        assert!(state.reusable(now).is_some());
        // Four minutes left: inside the five-minute margin, so refresh.
        state.current = Some(creds("A", Some(now + TimeDelta::minutes(4))));
        assert!(state.reusable(now).is_none());
        // Static keys never expire.
        state.current = Some(creds("A", None));
        assert!(state.reusable(now + TimeDelta::days(400)).is_some());
    }

    #[test]
    fn a_failed_refresh_keeps_usable_credentials_and_waits_before_the_next_try() {
        let now = Utc::now();
        let mut state = State {
            current: Some(creds("A", Some(now + TimeDelta::minutes(4)))),
            retry_not_before: None,
        };
        let kept = state
            .settle(Err(Error::new(ErrorKind::Unavailable, "sts down")), now)
            .expect("kept");
        assert_eq!(kept.key_id, "A");
        assert!(state.reusable(now + TimeDelta::seconds(10)).is_some());
        // After the wait, the next call tries again.
        assert!(state.reusable(now + TimeDelta::seconds(31)).is_none());
        // Within a minute of expiry a failure is an error.
        let late = now + TimeDelta::minutes(3) + TimeDelta::seconds(30);
        let err = state
            .settle(Err(Error::new(ErrorKind::Unavailable, "sts down")), late)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn a_refresh_that_comes_back_due_is_not_repeated_at_once() {
        let now = Utc::now();
        let mut state = State {
            current: Some(creds("A", Some(now + TimeDelta::minutes(4)))),
            retry_not_before: None,
        };
        state
            .settle(Ok(creds("B", Some(now + TimeDelta::minutes(4)))), now)
            .expect("taken");
        assert_eq!(
            state
                .reusable(now + TimeDelta::seconds(5))
                .map(|c| c.key_id),
            Some("B".to_owned())
        );
    }

    #[derive(Debug)]
    struct Counting(AtomicUsize, TimeDelta);

    #[async_trait]
    impl Provide for Counting {
        async fn provide(&self) -> Result<AwsCredentials> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            Ok(creds(&format!("K{n}"), Some(Utc::now() + self.1)))
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache = Arc::new(Refreshing::new(Counting(
            AtomicUsize::new(0),
            TimeDelta::hours(1),
        )));
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move { cache.get().await.map(|c| c.key_id) })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.expect("joined").expect("creds"), "K0");
        }
    }

    #[tokio::test]
    async fn credentials_due_within_the_margin_are_refreshed_on_the_next_call() {
        let cache = Refreshing::new(Counting(AtomicUsize::new(0), TimeDelta::minutes(4)));
        assert_eq!(cache.get().await.expect("first").key_id, "K0");
        assert_eq!(cache.get().await.expect("second").key_id, "K1");
    }
}
