//! [`GoogleApi`]: what every request of a Google source needs, built once per connector and
//! shared by its client: the HTTP client that reads Google's error bodies, the authenticator,
//! and the Admin SDK directory's base URL (both sources list the Workspace's users).

use std::fmt;
use std::sync::Arc;

use connector_core::http::{ErrorClass, HttpClient, Method, RequestBuilder, Response, StatusCode};
use connector_core::net::NetworkPolicy;
use connector_core::{CredentialStore, ErrorKind, Result, SyncContext};
use url::Url;

use super::directory::DEFAULT_DIRECTORY_BASE_URL;
use super::{Authenticator, CREDENTIAL_FIELD, GoogleCredentialsConfig};

/// Authorized requests to Google's APIs for one source; cheap to clone.
#[derive(Clone)]
pub(crate) struct GoogleApi {
    pub(super) http: HttpClient,
    pub(super) auth: Arc<Authenticator>,
    pub(super) directory_base: Url,
}

impl GoogleApi {
    /// The API of `source` with `credentials`; `token_uri` and `directory_base` override
    /// Google's endpoints (tests, proxies); bodies larger than `max_body` bytes (default: core's
    /// cap) are refused unless a request sets its own cap; every request, token fetches
    /// included, may reach only what `network` permits.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) naming
    /// `credentials.google_tokens` when they cannot be read; `Internal` when the HTTP client
    /// cannot start.
    pub(crate) fn new(
        source: &'static str,
        credentials: &GoogleCredentialsConfig,
        token_uri: Option<&Url>,
        directory_base: Option<&Url>,
        max_body: Option<u64>,
        network: &NetworkPolicy,
    ) -> Result<Self> {
        // A 403 whose reason is a rate limit is retried (BigQuery's `quotaExceeded` too);
        // credentials are named as `credentials.google_tokens`.
        let classify: fn(StatusCode, &[u8]) -> Option<ErrorClass> = if source == "bigquery" {
            super::classify_bigquery
        } else {
            super::classify
        };
        let mut http = HttpClient::builder(source)
            .error_classifier(classify)
            // One policy guards every request, the token endpoint's included (one client
            // serves both): a key's `token_uri` is as tenant-set as any base URL.
            .network_policy(network.clone());
        if let Some(max) = max_body {
            http = http.max_body_bytes(max);
        }
        let http = http.build()?;
        Ok(Self {
            http,
            auth: Arc::new(Authenticator::new(source, credentials, token_uri)?),
            directory_base: crate::url_or(directory_base, DEFAULT_DIRECTORY_BASE_URL)?,
        })
    }

    /// This API counting its requests into `ctx` and stopping its waits when `ctx` is
    /// cancelled.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            ..self.clone()
        }
    }

    /// Whether the credential is a service account (which impersonates users) rather than an
    /// OAuth user token (which acts as its one user, `me`).
    pub(crate) fn is_service_account(&self) -> bool {
        self.auth.is_service_account()
    }

    /// Hands refresh tokens that Google rotates to `store`; whether this credential can
    /// rotate at all (an OAuth user token can, a service-account key never does).
    pub(crate) fn set_credential_store(&self, store: Arc<dyn CredentialStore>) -> bool {
        self.auth.set_store(store);
        !self.auth.is_service_account()
    }

    /// Sends a GET of `url` (its query and headers set by `build`) with a token for `subject`
    /// (the impersonated user; ignored for an OAuth token) and `scopes`. A 401 drops the
    /// cached token and the request is sent once more with a new one: an access token can be
    /// revoked before it expires (a password change, a token revoked in the Admin console).
    ///
    /// # Errors
    /// When no token can be had (the token endpoint's error, told apart: bad key, missing
    /// delegation, revoked token), or the request's own error (a second 401 included).
    pub(crate) async fn send(
        &self,
        url: Url,
        subject: Option<&str>,
        scopes: &[&str],
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        self.send_method(Method::GET, url, subject, scopes, build)
            .await
    }

    /// As [`send`](Self::send), with `method` (a `POST` is retried only when `build` marks it
    /// idempotent).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub(crate) async fn send_method(
        &self,
        method: Method,
        url: Url,
        subject: Option<&str>,
        scopes: &[&str],
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        let mut retried = false;
        loop {
            let token = self.auth.token(&self.http, subject, scopes).await?;
            let request = build(
                self.http
                    .request(method.clone(), url.clone())
                    .auth(token.clone(), CREDENTIAL_FIELD),
            );
            match request.send().await {
                Err(e) if e.kind() == ErrorKind::Unauthenticated && !retried => {
                    self.auth.forget(subject, scopes, &token).await;
                    retried = true;
                }
                other => return other,
            }
        }
    }
}

impl fmt::Debug for GoogleApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleApi")
            .field("auth", &self.auth)
            .field("directory_base", &self.directory_base.as_str())
            .finish_non_exhaustive()
    }
}
