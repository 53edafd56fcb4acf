//! Wire types: what a listing page and an error body hold, with the API's own field names.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// One object of a listing page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Listed {
    /// The key, URL-decoded.
    pub(crate) key: String,
    /// The size in bytes, as listed.
    pub(crate) size: u64,
    /// The ETag without its quotes, when the store lists one.
    pub(crate) etag: Option<String>,
    /// `LastModified`, when present and parsable.
    pub(crate) last_modified: Option<DateTime<Utc>>,
}

impl Listed {
    pub(crate) fn from_wire(
        content: rusty_s3::actions::list_objects_v2::ListObjectsContent,
    ) -> Self {
        Self {
            etag: content.etag.as_deref().and_then(clean_etag),
            last_modified: content.last_modified.as_deref().and_then(parse_time),
            size: content.size.unwrap_or(0),
            key: content.key,
        }
    }

    /// An object known by its key alone (a refetch): its size, ETag and time come from the
    /// download.
    pub(crate) fn named(key: &str) -> Self {
        Self {
            key: key.to_owned(),
            size: 0,
            etag: None,
            last_modified: None,
        }
    }
}

/// The last segment of a key.
pub(crate) fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// One page of `ListObjectsV2`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ListPage {
    pub(crate) objects: Vec<Listed>,
    /// `NextContinuationToken`, `None` on the last page.
    pub(crate) next_token: Option<String>,
}

/// An ETag as RAGFlow fingerprints it: without the surrounding quotes (and without a weak
/// `W/` marker, which some gateways add). Empty ETags count as none.
pub(crate) fn clean_etag(raw: &str) -> Option<String> {
    let t = raw.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    let t = t.trim_matches('"');
    (!t.is_empty()).then(|| t.to_owned())
}

/// `2026-01-01T00:00:00.000Z` (listings) or an HTTP date (`Last-Modified` headers).
pub(crate) fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim())
        .or_else(|_| DateTime::parse_from_rfc2822(raw.trim()))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// An S3 error body: `<Error><Code>NoSuchBucket</Code><Message>...</Message></Error>`; a
/// wrong signing region adds `<Region>` (the bucket's own), as in
/// `<Code>AuthorizationHeaderMalformed</Code>` or `AuthorizationQueryParametersError`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) region: String,
}

impl ErrorBody {
    /// Parses an error body; anything that is not one gives an empty code.
    pub(crate) fn parse(body: &[u8]) -> Self {
        let text = String::from_utf8_lossy(body);
        quick_xml::de::from_str::<ErrorBody>(text.trim()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_parses() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>nope</BucketName><RequestId>1</RequestId></Error>"#;
        let e = ErrorBody::parse(body);
        assert_eq!(e.code, "NoSuchBucket");
        assert_eq!(e.message, "The specified bucket does not exist");
        assert_eq!(ErrorBody::parse(b"not xml").code, "");
        assert_eq!(ErrorBody::parse(b"").code, "");
    }

    #[test]
    fn etags_and_times() {
        assert_eq!(clean_etag("\"abc\"").as_deref(), Some("abc"));
        assert_eq!(clean_etag("W/\"abc-2\"").as_deref(), Some("abc-2"));
        assert_eq!(clean_etag("\"\""), None);
        let t = parse_time("2026-03-01T10:00:00.000Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-01T10:00:00+00:00");
        assert!(parse_time("Sun, 01 Mar 2026 10:00:00 GMT").is_some());
        assert_eq!(file_name("a/b/c.md"), "c.md");
        assert_eq!(file_name("c.md"), "c.md");
    }
}
