//! Requests: signed `ListObjectsV2` pages and `GetObject`, sent with the shared
//! [`HttpClient`] (retries, `Retry-After`, timeouts, body caps), and S3 error bodies mapped to
//! error kinds that name the bucket and the field to fix.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use connector_core::http::{HttpClient, Response, StatusCode};
use connector_core::{Error, ErrorKind, Result};
use rusty_s3::actions::{GetObject, ListObjectsV2};
use rusty_s3::{Bucket, Credentials, S3Action};
use url::Url;

use super::aws::Refreshing;
use super::config::BucketType;
use super::endpoint::Endpoint;
use super::model::{ErrorBody, ListPage, Listed, clean_etag, parse_time};

/// How long a pre-signed URL stays valid: long enough for every retry of one request.
const SIGNED_FOR: Duration = Duration::from_secs(60 * 60);

/// The bucket, the signing keys and the HTTP client.
pub(crate) struct S3Client {
    pub(crate) http: HttpClient,
    pub(crate) bucket: Bucket,
    /// The signing keys, refreshed before they expire when they are temporary.
    credentials: Arc<Refreshing>,
    pub(crate) bucket_type: BucketType,
    pub(crate) source: &'static str,
    prefix: String,
    page_size: usize,
    key_id_field: &'static str,
    secret_field: &'static str,
    token_field: &'static str,
    endpoint_field: &'static str,
}

/// A downloaded object.
pub(crate) struct Fetched {
    pub(crate) body: Bytes,
    pub(crate) content_type: Option<String>,
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<DateTime<Utc>>,
}

impl S3Client {
    pub(crate) fn new(
        http: HttpClient,
        endpoint: Endpoint,
        credentials: Refreshing,
        bucket_type: BucketType,
        source: &'static str,
        prefix: String,
        page_size: usize,
    ) -> Self {
        Self {
            http,
            credentials: Arc::new(credentials),
            bucket: endpoint.bucket,
            bucket_type,
            source,
            prefix,
            page_size,
            key_id_field: endpoint.key_id_field,
            secret_field: endpoint.secret_field,
            token_field: endpoint.token_field,
            endpoint_field: endpoint.endpoint_field,
        }
    }

    /// The keys to sign the next request with (fetched or refreshed first when needed).
    async fn signing_keys(&self) -> Result<Credentials> {
        self.credentials
            .get()
            .await
            .map(|c| c.signing_keys())
            .map_err(|e| e.with_connector(self.source))
    }

    pub(crate) fn bucket_name(&self) -> &str {
        self.bucket.name()
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The unsigned URL of an object, as a link for people.
    pub(crate) fn object_url(&self, key: &str) -> Url {
        self.bucket.object_url(key)
    }

    /// One listing page: after `token` if given, else after `start_after` if given, else from
    /// the start; `max_keys` overrides the page size.
    pub(crate) async fn list_page(
        &self,
        http: &HttpClient,
        token: Option<&str>,
        start_after: Option<&str>,
        max_keys: Option<usize>,
    ) -> Result<ListPage> {
        let keys = self.signing_keys().await?;
        let mut action = ListObjectsV2::new(&self.bucket, Some(&keys));
        if !self.prefix.is_empty() {
            action.with_prefix(self.prefix.as_str());
        }
        action.with_max_keys(max_keys.unwrap_or(self.page_size));
        match (token, start_after) {
            (Some(token), _) => action.with_continuation_token(token),
            (None, Some(after)) => action.with_start_after(after),
            (None, None) => {}
        }
        let url = action.sign(SIGNED_FOR);
        let resp = self.send(http, url, None).await?;
        if !resp.status().is_success() {
            return Err(self.map_error(&resp, None));
        }
        let text = std::str::from_utf8(resp.body()).map_err(|e| {
            self.invalid("the listing is not UTF-8 XML")
                .with_cause(e)
                .with_url(resp.url())
        })?;
        let parsed = ListObjectsV2::parse_response(text).map_err(|e| {
            self.invalid("the listing is not a ListObjectsV2 result")
                .with_cause(e)
                .with_url(resp.url())
        })?;
        Ok(ListPage {
            objects: parsed.contents.into_iter().map(Listed::from_wire).collect(),
            next_token: parsed.next_continuation_token,
        })
    }

    /// Downloads `key`, reading at most `max` bytes; `Ok(None)` when the object is gone.
    pub(crate) async fn get_object(
        &self,
        http: &HttpClient,
        key: &str,
        max: u64,
    ) -> Result<Option<Fetched>> {
        let keys = self.signing_keys().await.map_err(|e| match e.kind() {
            // Credentials that cannot be had (a role no longer assumable, an unsupported
            // profile) sign no later object either: end the sync rather than fail each object.
            ErrorKind::PermissionDenied | ErrorKind::Unsupported | ErrorKind::NotFound => {
                let message = e.message().to_owned();
                let mut err = Error::new(ErrorKind::Unauthenticated, message)
                    .with_connector(self.source)
                    .with_retryable(false);
                if let Some(field) = e.field() {
                    err = err.with_field(field);
                }
                err.with_cause(e)
            }
            _ => e,
        })?;
        let url = GetObject::new(&self.bucket, Some(&keys), key).sign(SIGNED_FOR);
        let resp = self.send(http, url, Some((key, max))).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            let body = ErrorBody::parse(resp.body());
            if body.code != "NoSuchBucket" {
                return Ok(None);
            }
        }
        if !resp.status().is_success() {
            return Err(self.map_error(&resp, Some(key)));
        }
        Ok(Some(Fetched {
            content_type: resp.header("content-type").map(str::to_owned),
            etag: resp.header("etag").and_then(clean_etag),
            last_modified: resp.header("last-modified").and_then(parse_time),
            body: resp.into_body(),
        }))
    }

    async fn send(
        &self,
        http: &HttpClient,
        url: Url,
        object: Option<(&str, u64)>,
    ) -> Result<Response> {
        let mut request = http.get(url).client_errors_as_responses();
        if let Some((_, max)) = object {
            request = request.max_body_bytes(max);
        }
        request
            .send()
            .await
            .map_err(|e| self.transport_error(e, object.map(|(k, _)| k)))
    }

    fn invalid(&self, message: &str) -> Error {
        Error::invalid_data(format!("bucket `{}`: {message}", self.bucket_name()))
            .with_connector(self.source)
    }

    /// An error of the HTTP layer (unreachable, retries spent on 5xx or `SlowDown`, a body
    /// over the cap) with the bucket named.
    fn transport_error(&self, e: Error, key: Option<&str>) -> Error {
        let what = match e.kind() {
            ErrorKind::Unavailable if e.message().starts_with("request") => format!(
                "cannot reach the endpoint of bucket `{}` (check `{}`)",
                self.bucket_name(),
                self.endpoint_field
            ),
            ErrorKind::Unavailable | ErrorKind::RateLimited => format!(
                "the store kept failing or asking to slow down (SlowDown) for bucket `{}`",
                self.bucket_name()
            ),
            ErrorKind::InvalidData => format!(
                "the object is larger than `max_object_size` in bucket `{}`",
                self.bucket_name()
            ),
            _ => format!("request to bucket `{}` failed", self.bucket_name()),
        };
        let mut err = Error::new(e.kind(), what)
            .with_connector(self.source)
            .with_retryable(e.is_retryable());
        if e.kind() == ErrorKind::Unavailable && e.message().starts_with("request") {
            err = err.with_field(self.endpoint_field);
        }
        if let Some(wait) = e.retry_after() {
            err = err.with_retry_after(wait);
        }
        if let Some(key) = key {
            err = err.with_item(key);
        }
        err.with_cause(e)
    }

    /// Maps a 4xx answer by its S3 error code.
    pub(crate) fn map_error(&self, resp: &Response, key: Option<&str>) -> Error {
        let status = resp.status();
        let body = ErrorBody::parse(resp.body());
        let bucket = self.bucket_name();
        let detail = if body.message.is_empty() {
            String::new()
        } else {
            format!(": {}", body.message)
        };
        let code = if body.code.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            body.code.clone()
        };
        let (kind, message, field) = match (body.code.as_str(), status.as_u16()) {
            ("NoSuchBucket", _) => (
                ErrorKind::NotFound,
                format!("bucket `{bucket}` does not exist (NoSuchBucket){detail}"),
                Some("bucket_name"),
            ),
            ("InvalidAccessKeyId", _) => (
                ErrorKind::Unauthenticated,
                format!(
                    "the store does not know the access key of bucket `{bucket}` (InvalidAccessKeyId); check `{}`",
                    self.key_id_field
                ),
                Some(self.key_id_field),
            ),
            ("SignatureDoesNotMatch", _) => (
                ErrorKind::Unauthenticated,
                format!(
                    "the store rejected the signature for bucket `{bucket}` (SignatureDoesNotMatch); check `{}`",
                    self.secret_field
                ),
                Some(self.secret_field),
            ),
            ("ExpiredToken" | "InvalidToken" | "TokenRefreshRequired", _) => (
                ErrorKind::Unauthenticated,
                format!(
                    "the store rejected the session token for bucket `{bucket}` ({code}){detail}; check `{}`",
                    self.token_field
                ),
                Some(self.token_field),
            ),
            ("RequestTimeTooSkewed", _) => (
                ErrorKind::Unauthenticated,
                format!(
                    "the store rejected the credentials for bucket `{bucket}` ({code}){detail}"
                ),
                Some(self.key_id_field),
            ),
            ("AccessDenied" | "AllAccessDisabled" | "AccountProblem", _) | ("", 403) => (
                ErrorKind::PermissionDenied,
                format!(
                    "the credentials may not read bucket `{bucket}` ({code}); check the bucket policy or the key's permissions"
                ),
                Some(self.key_id_field),
            ),
            ("", 401) => (
                ErrorKind::Unauthenticated,
                format!(
                    "the store rejected the credentials for bucket `{bucket}` (HTTP 401); check `{}` and `{}`",
                    self.key_id_field, self.secret_field
                ),
                Some(self.key_id_field),
            ),
            ("NoSuchKey", _) => (
                ErrorKind::NotFound,
                format!("no such object in bucket `{bucket}` (NoSuchKey)"),
                None,
            ),
            ("", 404) => (
                ErrorKind::NotFound,
                format!("bucket `{bucket}` was not found (HTTP 404)"),
                Some("bucket_name"),
            ),
            _ => (
                ErrorKind::InvalidData,
                format!("the store refused a request to bucket `{bucket}` ({code}){detail}"),
                None,
            ),
        };
        let mut err = Error::new(kind, message)
            .with_connector(self.source)
            .with_url(resp.url())
            .with_retryable(false);
        if let Some(field) = field {
            err = err.with_field(field);
        }
        if let Some(key) = key {
            err = err.with_item(key);
        }
        err
    }
}

impl fmt::Debug for S3Client {
    // By hand: `Credentials` must never reach a log line, whatever its own Debug does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Client")
            .field("source", &self.source)
            .field("bucket_type", &self.bucket_type)
            .field("bucket", &self.bucket.name())
            .field("endpoint", &self.bucket.base_url().as_str())
            .field("region", &self.bucket.region())
            .field("prefix", &self.prefix)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}
