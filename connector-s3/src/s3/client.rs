//! Requests: signed `ListObjectsV2` pages and `GetObject`, sent with the shared
//! [`HttpClient`] (retries, `Retry-After`, timeouts, body caps) to the bucket's region (found
//! again when the store says it is another, in `region.rs`), and S3 error bodies mapped to
//! error kinds that name the bucket and the field to fix.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use connector_core::http::{HttpClient, Response, StatusCode};
use connector_core::spool::{Spool, SpooledBody};
use connector_core::{Error, ErrorKind, Result};
use rusty_s3::actions::{GetObject, ListObjectsV2};
use rusty_s3::{Bucket, Credentials, S3Action};
use url::Url;

use super::aws::Refreshing;
use super::config::BucketType;
use super::endpoint::{Addressing, Endpoint};
use super::model::{ErrorBody, ListPage, Listed, clean_etag, parse_time};
use super::region::mentions_region;

/// How long a pre-signed URL stays valid: long enough for every retry of one request.
pub(super) const SIGNED_FOR: Duration = Duration::from_secs(60 * 60);

/// The bucket, the signing keys and the HTTP client.
pub(crate) struct S3Client {
    pub(crate) http: HttpClient,
    /// The bucket as requests address and sign it: replaced (once) when the store says the
    /// bucket lives in another region than the one configured. Never held across an `.await`.
    bucket: RwLock<Arc<Bucket>>,
    /// How to address the bucket in another region.
    pub(super) addressing: Addressing,
    /// The region the config named (or its default), whatever the bucket turned out to be in.
    pub(super) configured_region: String,
    /// One region discovery at a time: concurrent downloads that all met the wrong region
    /// wait for the first one's answer instead of each asking.
    pub(super) relocating: tokio::sync::Mutex<()>,
    name: String,
    /// The signing keys, refreshed before they expire when they are temporary.
    credentials: Arc<Refreshing>,
    pub(crate) bucket_type: BucketType,
    pub(crate) source: &'static str,
    prefix: String,
    page_size: usize,
    key_id_field: &'static str,
    secret_field: &'static str,
    token_field: &'static str,
    pub(super) endpoint_field: &'static str,
}

/// A downloaded object.
/// How an object's body is read: its key, the cap, and the spool when it goes to a file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjectRead<'a> {
    pub(crate) key: &'a str,
    pub(crate) max: u64,
    pub(crate) spool: Option<&'a Spool>,
}

/// Whether `e` (the bucket's error, or the HTTP layer's it wraps) is a body over the cap.
pub(crate) fn is_too_large(e: &Error) -> bool {
    connector_core::http::is_body_too_large(e)
        || std::error::Error::source(e)
            .and_then(|c| c.downcast_ref::<Error>())
            .is_some_and(connector_core::http::is_body_too_large)
}

pub(crate) struct Fetched {
    /// The body, empty when it was spooled.
    pub(crate) body: Bytes,
    /// The body in a spool file, when it was downloaded to one.
    pub(crate) spooled: Option<SpooledBody>,
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
            name: endpoint.bucket.name().to_owned(),
            configured_region: endpoint.bucket.region().to_owned(),
            bucket: RwLock::new(Arc::new(endpoint.bucket)),
            addressing: endpoint.addressing,
            relocating: tokio::sync::Mutex::new(()),
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
    pub(super) async fn signing_keys(&self) -> Result<Credentials> {
        self.credentials
            .get()
            .await
            .map(|c| c.signing_keys())
            .map_err(|e| e.with_connector(self.source))
    }

    pub(crate) fn bucket_name(&self) -> &str {
        &self.name
    }

    /// The bucket as requests address it now.
    pub(super) fn bucket(&self) -> Arc<Bucket> {
        // A poisoned lock still holds a whole `Arc`: writers only ever swap it.
        Arc::clone(&self.bucket.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Addresses the bucket as `bucket` from now on.
    pub(super) fn set_bucket(&self, bucket: Bucket) {
        *self.bucket.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(bucket);
    }

    /// The region requests are signed for now.
    pub(crate) fn region(&self) -> String {
        self.bucket().region().to_owned()
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The unsigned URL of an object, as a link for people.
    pub(crate) fn object_url(&self, key: &str) -> Url {
        self.bucket().object_url(key)
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
        let sign = |bucket: &Bucket| {
            let mut action = ListObjectsV2::new(bucket, Some(&keys));
            if !self.prefix.is_empty() {
                action.with_prefix(self.prefix.as_str());
            }
            action.with_max_keys(max_keys.unwrap_or(self.page_size));
            match (token, start_after) {
                (Some(token), _) => action.with_continuation_token(token),
                (None, Some(after)) => action.with_start_after(after),
                (None, None) => {}
            }
            action.sign(SIGNED_FOR)
        };
        let resp = self.located(http, None, sign).await?;
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

    /// Downloads `key`, reading at most `max` bytes, into memory or, given a spool, into a
    /// spool file; `Ok(None)` when the object is gone.
    pub(crate) async fn get_object(
        &self,
        http: &HttpClient,
        key: &str,
        max: u64,
        spool: Option<&Spool>,
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
        let sign = |bucket: &Bucket| GetObject::new(bucket, Some(&keys), key).sign(SIGNED_FOR);
        let read = ObjectRead { key, max, spool };
        let resp = self.located(http, Some(read), sign).await?;
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
            spooled: resp.spooled().cloned(),
            body: resp.into_body(),
        }))
    }

    /// Sends a `GET` of `url` (the body capped at `max` for an object), handing 4xx answers
    /// back; an error is the HTTP layer's own, not yet put in the bucket's terms.
    pub(super) async fn send(
        &self,
        http: &HttpClient,
        url: Url,
        object: Option<ObjectRead<'_>>,
    ) -> Result<Response> {
        let mut request = http.get(url).client_errors_as_responses();
        if let Some(read) = object {
            request = request.max_body_bytes(read.max);
            if let Some(spool) = read.spool {
                request = request.spool_to(spool.clone());
            }
        }
        request.send().await
    }

    fn invalid(&self, message: &str) -> Error {
        Error::invalid_data(format!("bucket `{}`: {message}", self.bucket_name()))
            .with_connector(self.source)
    }

    /// An error of the HTTP layer (unreachable, retries spent on 5xx or `SlowDown`, a body
    /// over the cap) with the bucket named. An error this cannot classify keeps its own
    /// message (the cause, shown after this one): a redirect, say, is not a size problem.
    pub(super) fn transport_error(&self, e: Error, key: Option<&str>) -> Error {
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
            // The cap is set on object downloads only, to `max_object_size`; the listed size
            // was within it, so the object grew since it was listed.
            ErrorKind::InvalidData
                if key.is_some() && connector_core::http::is_body_too_large(&e) =>
            {
                format!(
                    "the object grew past its cap (`max_object_size`, or `max_spooled_object_size` when spooled) since it was listed, in bucket `{}`",
                    self.bucket_name()
                )
            }
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
            ("InvalidAccessKeyId", _) if self.bucket_type == BucketType::S3 => (
                ErrorKind::Unauthenticated,
                format!(
                    "the store does not know the access key of bucket `{bucket}` (InvalidAccessKeyId); check `{}`, and for a GovCloud or China bucket `credentials.region` (keys of one AWS partition are unknown in another)",
                    self.key_id_field
                ),
                Some(self.key_id_field),
            ),
            ("InvalidAccessKeyId", _) => (
                ErrorKind::Unauthenticated,
                format!(
                    "the store does not know the access key of bucket `{bucket}` (InvalidAccessKeyId); check `{}`",
                    self.key_id_field
                ),
                Some(self.key_id_field),
            ),
            (
                "AuthorizationHeaderMalformed"
                | "AuthorizationQueryParametersError"
                | "IllegalLocationConstraintException",
                _,
            ) if mentions_region(&body) => (
                ErrorKind::Config,
                format!(
                    "the store says bucket `{bucket}` is not in region `{}` ({code}){detail}; set `{}` to the bucket's region",
                    self.bucket().region(),
                    self.region_field()
                ),
                Some(self.region_field()),
            ),
            ("InvalidObjectState", _) => (
                ErrorKind::Unsupported,
                format!(
                    "the object is archived (InvalidObjectState) in bucket `{bucket}`: restore it from its archive storage class to index it"
                ),
                None,
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
            .field("bucket", &self.name)
            .field("endpoint", &self.bucket().base_url().as_str())
            .field("region", &self.region())
            .field("prefix", &self.prefix)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}
