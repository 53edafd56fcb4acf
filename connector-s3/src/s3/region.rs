//! The bucket's region, found from the store's answers when the configured one is wrong.
//!
//! A request signed for, or sent to, another region than the bucket's is refused by Amazon S3
//! in one of three ways (S3 API Reference, *Error responses* and `HeadBucket`):
//! - `301 PermanentRedirect` without a `Location` (the request reached another region's
//!   endpoint), with the bucket's region in `x-amz-bucket-region`. The HTTP layer answers a
//!   redirect without a `Location` with an error and keeps no header, so the region is then
//!   asked with a `HEAD` of the bucket (below);
//! - `400 AuthorizationHeaderMalformed` (`AuthorizationQueryParametersError` for a pre-signed
//!   URL, which is how rusty-s3 signs), "the region 'us-east-1' is wrong; expecting
//!   'eu-west-1'", with the region in `<Region>`: the request reached the bucket's region but
//!   was signed for another (newer regions answer this way, and so do MinIO and Ceph);
//! - `400 IllegalLocationConstraintException` (a bucket of an opt-in region asked through
//!   another region's endpoint), "The ap-east-1 location constraint is incompatible ...".
//!
//! `HeadBucket` "on any bucket name to any Region in the partition, and regardless of the
//! permissions on the bucket" answers with `x-amz-bucket-region`; the probe is sent where the
//! answer is not a redirect ([`Addressing::global_probe`]). Once the region is known the bucket
//! is addressed and signed for it, the request is sent again (once), and every later request
//! of the connector uses it. A region that cannot be found is a `Config` error naming
//! `credentials.region`, which ends the sync: every object would fail the same way.

use std::time::Duration;

use bytes::Bytes;
use connector_core::http::{HttpClient, Method, Response};
use connector_core::{Error, ErrorKind, Result};
use rusty_s3::actions::HeadBucket;
use rusty_s3::{Bucket, S3Action};
use url::Url;

use super::client::{ObjectRead, S3Client, SIGNED_FOR};
use super::config::BucketType;
use super::endpoint::plausible_region;
use super::model::ErrorBody;

/// How long a `HEAD` that asks for the bucket's region may take (each attempt).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What an answer says about the region of the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WrongRegion {
    /// The bucket is in this region.
    Named(String),
    /// The bucket is in another region, not named in the answer (`what` says which answer).
    Unnamed { what: String },
}

impl S3Client {
    /// Sends the request `sign` makes for the bucket as addressed now; when the store answers
    /// that the bucket is in another region, finds that region, addresses the bucket there
    /// and sends the request once more. 4xx answers are handed back for the caller to map.
    ///
    /// # Errors
    /// A transport error in the bucket's terms; `Config` naming `credentials.region` when the
    /// bucket is in another region that cannot be found.
    pub(super) async fn located(
        &self,
        http: &HttpClient,
        object: Option<ObjectRead<'_>>,
        sign: impl Fn(&Bucket) -> Url,
    ) -> Result<Response> {
        let key = object.map(|o| o.key);
        let mut relocated = false;
        loop {
            let bucket = self.bucket();
            let sent = self.send(http, sign(&bucket), object).await;
            let wrong = match &sent {
                Ok(resp) => wrong_region(resp, bucket.region()),
                Err(e) => redirected(e),
            };
            let Some(wrong) = wrong.filter(|_| self.addressing.relocatable()) else {
                return sent.map_err(|e| self.transport_error(e, key));
            };
            if relocated {
                // Addressed in the region the store named, and still refused as elsewhere.
                return Err(self.region_error(bucket.region(), &wrong, key));
            }
            self.relocate(http, &bucket, &wrong)
                .await
                .map_err(|e| match sent {
                    Err(cause) => e.with_cause(cause),
                    Ok(_) => e,
                })?;
            relocated = true;
        }
    }

    /// Addresses the bucket in its own region, found from `wrong` or by asking the store,
    /// unless another request did so since `stale` was read.
    async fn relocate(&self, http: &HttpClient, stale: &Bucket, wrong: &WrongRegion) -> Result<()> {
        let _one = self.relocating.lock().await;
        if self.bucket().region() != stale.region() {
            return Ok(());
        }
        let found = match wrong {
            WrongRegion::Named(region) => Some(region.clone()),
            WrongRegion::Unnamed { .. } => self.probe_region(http, stale).await,
        };
        let moved = found
            .filter(|region| region != stale.region())
            .and_then(|region| self.addressing.bucket_in(&region));
        let Some(bucket) = moved else {
            return Err(self.region_error(stale.region(), wrong, None));
        };
        tracing::warn!(
            connector = self.source,
            bucket = self.bucket_name(),
            configured = %stale.region(),
            region = %bucket.region(),
            field = self.region_field(),
            "the bucket is in another region than configured; requests are now signed for its own (set the field to save a request per run)"
        );
        self.set_bucket(bucket);
        Ok(())
    }

    /// The bucket's region as a `HEAD` of the bucket tells it in `x-amz-bucket-region`, at
    /// Amazon's global host (unsigned: the header comes with a 403 too) or, where there is
    /// none, at the bucket's own URL, signed. `None` when no answer carries the header.
    async fn probe_region(&self, http: &HttpClient, stale: &Bucket) -> Option<String> {
        let url = match self.addressing.global_probe(stale.region()) {
            Some(url) => url,
            None => {
                let keys = self.signing_keys().await.ok()?;
                HeadBucket::new(stale, Some(&keys)).sign(SIGNED_FOR)
            }
        };
        // Short: the global host may be unreachable from a network that reaches only its
        // own region's endpoint, and the answer is then "not found", not worth a minute.
        match http
            .request(Method::HEAD, url)
            .client_errors_as_responses()
            .timeout(PROBE_TIMEOUT)
            .send()
            .await
        {
            Ok(resp) => resp
                .header("x-amz-bucket-region")
                .map(str::trim)
                .filter(|r| plausible_region(r))
                .map(str::to_owned),
            Err(e) => {
                tracing::debug!(error = %e, "HEAD of the bucket told no region");
                None
            }
        }
    }

    /// After a request passed: `Config` naming `credentials.region` when the config gave a
    /// region and the bucket turned out to be in another one. A default region (none given,
    /// or the host's `AWS_REGION`) is only a guess: finding another is no mistake of the config.
    ///
    /// # Errors
    /// As said.
    pub(super) fn region_mistake(&self) -> Result<()> {
        let region = self.region();
        if region == self.configured_region || !self.addressing.region_given {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Config,
            format!(
                "bucket `{}` is in region `{region}`, not `{}` as `credentials.region` says: set it to `{region}` (a sync finds the region itself, at the cost of more requests per run)",
                self.bucket_name(),
                self.configured_region
            ),
        )
        .with_connector(self.source)
        .with_field("credentials.region")
        .with_retryable(false))
    }

    /// The field a wrong region points to: `credentials.region`, or the endpoint of an
    /// S3-compatible store, where a redirect more likely means the wrong server.
    pub(super) fn region_field(&self) -> &'static str {
        match self.bucket_type {
            BucketType::S3Compatible => self.endpoint_field,
            _ => "credentials.region",
        }
    }

    /// The bucket is not in `region` and its own region could not be used.
    fn region_error(&self, region: &str, wrong: &WrongRegion, key: Option<&str>) -> Error {
        let field = self.region_field();
        let bucket = self.bucket_name();
        let message = match wrong {
            WrongRegion::Named(named) => format!(
                "bucket `{bucket}` is not in region `{region}` and cannot be addressed in region `{named}`, which the store names; set `{field}`"
            ),
            WrongRegion::Unnamed { what } => format!(
                "bucket `{bucket}` is not in region `{region}` ({what}) and its region could not be found (a HEAD of the bucket gave no x-amz-bucket-region); set `{field}` to the bucket's region"
            ),
        };
        let mut err = Error::new(ErrorKind::Config, message)
            .with_connector(self.source)
            .with_field(field)
            .with_retryable(false);
        if let Some(key) = key {
            err = err.with_item(key);
        }
        err
    }
}

/// Whether an error of the HTTP layer is a redirect it could not follow: Amazon S3's `301`
/// without a `Location`, the one answer that says "another region" without naming it.
fn redirected(e: &Error) -> Option<WrongRegion> {
    // The HTTP layer keeps no status on its errors; its message for this one is
    // "HTTP 301: redirect without a usable Location, ...".
    let message = e.message();
    (e.kind() == ErrorKind::InvalidData && message.starts_with("HTTP 3")).then(|| {
        WrongRegion::Unnamed {
            what: format!(
                "{} (PermanentRedirect)",
                message.split(':').next().unwrap_or("a redirect")
            ),
        }
    })
}

/// What an answer says about the bucket being in another region than `region`.
fn wrong_region(resp: &Response, region: &str) -> Option<WrongRegion> {
    if !resp.status().is_client_error() {
        return None;
    }
    wrong_region_in(resp.body(), resp.header("x-amz-bucket-region"), region)
}

/// As [`wrong_region`], from an error body and the `x-amz-bucket-region` header.
fn wrong_region_in(body: &Bytes, header: Option<&str>, region: &str) -> Option<WrongRegion> {
    let parsed = ErrorBody::parse(body);
    let elsewhere = |r: &str| {
        let r = r.trim();
        (plausible_region(r) && r != region).then(|| r.to_owned())
    };
    let named = elsewhere(&parsed.region)
        .or_else(|| header.and_then(elsewhere))
        .or_else(|| constraint_region(&parsed.message).and_then(elsewhere));
    let about_region = match parsed.code.as_str() {
        "AuthorizationHeaderMalformed" | "AuthorizationQueryParametersError" => {
            mentions_region(&parsed)
        }
        "IllegalLocationConstraintException" | "PermanentRedirect" => true,
        _ => false,
    };
    match (about_region, named) {
        (false, _) => None,
        (true, Some(region)) => Some(WrongRegion::Named(region)),
        // The region named is the one signed for: not a region problem after all.
        (true, None) if !parsed.region.is_empty() => None,
        (true, None) => Some(WrongRegion::Unnamed { what: parsed.code }),
    }
}

/// Whether an S3 error body is about the region (`AuthorizationHeaderMalformed` also covers a
/// missing key id or a malformed date, which are not).
pub(super) fn mentions_region(body: &ErrorBody) -> bool {
    !body.region.is_empty()
        || body.message.contains("region")
        || body.code == "IllegalLocationConstraintException"
}

/// The region of "The ap-east-1 location constraint is incompatible for the region specific
/// endpoint this request was sent to."
fn constraint_region(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("The ")?;
    let (region, _) = rest.split_once(" location constraint")?;
    Some(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str, message: &str, region: Option<&str>) -> Bytes {
        let region = region
            .map(|r| format!("<Region>{r}</Region>"))
            .unwrap_or_default();
        Bytes::from(format!(
            "<Error><Code>{code}</Code><Message>{message}</Message>{region}<RequestId>1</RequestId></Error>"
        ))
    }

    #[test]
    fn answers_that_name_the_region() {
        let malformed = body(
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'ap-east-1'",
            Some("ap-east-1"),
        );
        assert_eq!(
            wrong_region_in(&malformed, None, "us-east-1"),
            Some(WrongRegion::Named("ap-east-1".into()))
        );
        // Signed for the region named: some other malformation.
        assert_eq!(wrong_region_in(&malformed, None, "ap-east-1"), None);
        let query = body(
            "AuthorizationQueryParametersError",
            "Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; expecting 'eu-west-1'",
            Some("eu-west-1"),
        );
        assert_eq!(
            wrong_region_in(&query, None, "us-east-1"),
            Some(WrongRegion::Named("eu-west-1".into()))
        );
        let constraint = body(
            "IllegalLocationConstraintException",
            "The me-south-1 location constraint is incompatible for the region specific endpoint this request was sent to.",
            None,
        );
        assert_eq!(
            wrong_region_in(&constraint, None, "us-east-1"),
            Some(WrongRegion::Named("me-south-1".into()))
        );
        let unnamed = body("IllegalLocationConstraintException", "incompatible", None);
        assert_eq!(
            wrong_region_in(&unnamed, Some("af-south-1"), "us-east-1"),
            Some(WrongRegion::Named("af-south-1".into()))
        );
        assert!(matches!(
            wrong_region_in(&unnamed, None, "us-east-1"),
            Some(WrongRegion::Unnamed { .. })
        ));
    }

    #[test]
    fn other_answers_are_not_about_the_region() {
        let no_key = body(
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; a non-empty Access Key (AKID) must be provided in the credential.",
            None,
        );
        assert_eq!(wrong_region_in(&no_key, None, "us-east-1"), None);
        let denied = body("AccessDenied", "Access Denied", None);
        assert_eq!(
            wrong_region_in(&denied, Some("eu-west-1"), "us-east-1"),
            None
        );
        assert_eq!(wrong_region_in(&Bytes::new(), None, "us-east-1"), None);
        assert_eq!(constraint_region("The bucket is gone"), None);
    }

    #[test]
    fn only_an_unfollowable_redirect_of_the_http_layer_counts() {
        let redirect = Error::new(
            ErrorKind::InvalidData,
            "HTTP 301: redirect without a usable Location, or more than 5 redirects",
        );
        let Some(WrongRegion::Unnamed { what }) = redirected(&redirect) else {
            panic!("a 301 is a region answer");
        };
        assert_eq!(what, "HTTP 301 (PermanentRedirect)");
        let too_large = Error::new(
            ErrorKind::InvalidData,
            "response body exceeds the 1024-byte limit",
        );
        assert_eq!(redirected(&too_large), None);
        assert_eq!(
            redirected(&Error::new(ErrorKind::Unavailable, "HTTP 3")),
            None
        );
    }
}
