//! Wire types: a List Blobs page (`EnumerationResults`) and an error body, with the REST
//! API's own element names, parsed by quick-xml.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// One blob of a listing page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Listed {
    /// The blob name, decoded.
    pub(crate) name: String,
    /// `Content-Length`, as listed.
    pub(crate) size: u64,
    /// The ETag without quotes, when listed.
    pub(crate) etag: Option<String>,
    /// `Last-Modified`, when listed and parsable.
    pub(crate) last_modified: Option<DateTime<Utc>>,
    /// `Content-Type`, when listed.
    pub(crate) content_type: Option<String>,
    /// `AccessTier`: an `Archive` blob cannot be read until rehydrated.
    pub(crate) access_tier: Option<String>,
    /// A directory: of an account with a hierarchical namespace (`ResourceType`), or a
    /// zero-byte folder stub that Hadoop (WASB, HDInsight), Data Factory or AzCopy wrote with
    /// metadata `hdi_isfolder=true` on any account.
    pub(crate) is_directory: bool,
    /// The blob's user metadata (`x-ms-meta-*`, listed with `include=metadata`), by name.
    pub(crate) metadata: BTreeMap<String, String>,
}

impl Listed {
    /// A blob known by its name alone (a refetch): the rest comes from the download.
    pub(crate) fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            size: 0,
            etag: None,
            last_modified: None,
            content_type: None,
            access_tier: None,
            is_directory: false,
            metadata: BTreeMap::new(),
        }
    }
}

/// One List Blobs page.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ListPage {
    pub(crate) blobs: Vec<Listed>,
    /// `NextMarker`, `None` on the last page.
    pub(crate) next_marker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnumerationResults {
    #[serde(default)]
    blobs: Option<Blobs>,
    #[serde(default)]
    next_marker: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Blobs {
    #[serde(rename = "Blob", default)]
    blob: Vec<WireBlob>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireBlob {
    name: WireName,
    #[serde(default)]
    properties: WireProperties,
    /// `<Metadata><name>value</name>…</Metadata>` (with `include=metadata`).
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
}

/// `<Name>` or `<Name Encoded="true">` (percent-encoded, for names with characters XML
/// cannot carry).
#[derive(Debug, Deserialize)]
struct WireName {
    #[serde(rename = "@Encoded", default)]
    encoded: Option<String>,
    #[serde(rename = "$text", default)]
    value: String,
}

#[derive(Debug, Default, Deserialize)]
struct WireProperties {
    #[serde(rename = "Last-Modified", default)]
    last_modified: Option<String>,
    #[serde(rename = "Etag", default)]
    etag: Option<String>,
    #[serde(rename = "Content-Length", default)]
    content_length: Option<String>,
    #[serde(rename = "Content-Type", default)]
    content_type: Option<String>,
    #[serde(rename = "AccessTier", default)]
    access_tier: Option<String>,
    #[serde(rename = "ResourceType", default)]
    resource_type: Option<String>,
}

impl ListPage {
    /// Parses an `EnumerationResults` document.
    ///
    /// # Errors
    /// What did not parse (the caller names the container).
    pub(crate) fn parse(body: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
        let text = text.trim_start_matches('\u{feff}').trim();
        if !text.contains("<EnumerationResults") {
            return Err("not an EnumerationResults document".to_owned());
        }
        let wire: EnumerationResults = quick_xml::de::from_str(text).map_err(|e| e.to_string())?;
        let blobs = wire
            .blobs
            .unwrap_or_default()
            .blob
            .into_iter()
            .map(Listed::from_wire)
            .collect();
        Ok(Self {
            blobs,
            next_marker: wire.next_marker.filter(|m| !m.trim().is_empty()),
        })
    }
}

impl Listed {
    fn from_wire(b: WireBlob) -> Self {
        let p = b.properties;
        let name = if b.name.encoded.as_deref() == Some("true") {
            percent_encoding::percent_decode_str(&b.name.value)
                .decode_utf8_lossy()
                .into_owned()
        } else {
            b.name.value
        };
        let metadata = b.metadata.unwrap_or_default();
        // Hadoop's folder marker: `hdi_isfolder` (any case of `true`), a stub with no content.
        let folder_stub = metadata.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("hdi_isfolder") && v.trim().eq_ignore_ascii_case("true")
        });
        Self {
            name,
            size: p
                .content_length
                .as_deref()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
            etag: p.etag.as_deref().and_then(clean_etag),
            last_modified: p.last_modified.as_deref().and_then(parse_time),
            content_type: p.content_type.filter(|c| !c.trim().is_empty()),
            access_tier: p.access_tier,
            is_directory: folder_stub
                || p.resource_type
                    .is_some_and(|r| r.eq_ignore_ascii_case("directory")),
            metadata,
        }
    }
}

/// An ETag without its quotes (Azure's are `"0x8D…"` in headers, bare in listings).
pub(crate) fn clean_etag(raw: &str) -> Option<String> {
    let t = raw.trim();
    let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
    (!t.is_empty()).then(|| t.to_owned())
}

/// An RFC 1123 date (`Wed, 09 Sep 2009 09:20:02 GMT`), as listings and headers carry them.
pub(crate) fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(raw.trim())
        .or_else(|_| DateTime::parse_from_rfc3339(raw.trim()))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// An error body: `<Error><Code>ContainerNotFound</Code><Message>…</Message></Error>`;
/// `AuthenticationFailed` adds `<AuthenticationErrorDetail>`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) authentication_error_detail: String,
    /// The header an `InvalidHeaderValue` or `UnsupportedHeader` answer is about.
    #[serde(default)]
    pub(crate) header_name: String,
}

impl ErrorBody {
    /// Parses an error body, falling back to the `x-ms-error-code` header (HEAD answers and
    /// some proxies carry no body); anything else gives an empty code.
    pub(crate) fn parse(body: &[u8], header_code: Option<&str>) -> Self {
        let text = String::from_utf8_lossy(body);
        let text = text.trim_start_matches('\u{feff}').trim();
        let mut parsed = quick_xml::de::from_str::<ErrorBody>(text).unwrap_or_default();
        if parsed.code.is_empty() {
            parsed.code = header_code.unwrap_or_default().to_owned();
        }
        // The message's second line is a request id and a time: noise in an error.
        if let Some((first, _)) = parsed.message.split_once('\n') {
            parsed.message = first.trim().to_owned();
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The List Blobs response of the REST API reference (version 2021-08-06 shape).
    const PAGE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="https://myaccount.blob.core.windows.net/" ContainerName="mycontainer">
  <Prefix>docs/</Prefix>
  <Marker></Marker>
  <MaxResults>2</MaxResults>
  <Blobs>
    <Blob>
      <Name>docs/a.md</Name>
      <Properties>
        <Creation-Time>Tue, 01 Dec 2026 10:00:00 GMT</Creation-Time>
        <Last-Modified>Wed, 02 Dec 2026 10:00:00 GMT</Last-Modified>
        <Etag>0x8DBF4B4C6A3B2C1</Etag>
        <Content-Length>12</Content-Length>
        <Content-Type>text/markdown</Content-Type>
        <Content-Encoding />
        <Content-MD5>sQqNsWTgdUEFt6mb5y4/5Q==</Content-MD5>
        <BlobType>BlockBlob</BlobType>
        <AccessTier>Hot</AccessTier>
        <LeaseStatus>unlocked</LeaseStatus>
        <LeaseState>available</LeaseState>
        <ServerEncrypted>true</ServerEncrypted>
      </Properties>
      <Metadata><Author>Ana</Author><hdi_isfolder>false</hdi_isfolder></Metadata>
      <OrMetadata />
    </Blob>
    <Blob>
      <Name>docs/2026</Name>
      <Properties>
        <Last-Modified>Thu, 03 Dec 2026 10:00:00 GMT</Last-Modified>
        <Etag>0x8DBF4B4C6A3B2C3</Etag>
        <Content-Length>0</Content-Length>
      </Properties>
      <Metadata><hdi_isfolder>true</hdi_isfolder></Metadata>
    </Blob>
    <Blob>
      <Name Encoded="true">docs/%EF%BF%BEodd.txt</Name>
      <Properties>
        <Last-Modified>Thu, 03 Dec 2026 10:00:00 GMT</Last-Modified>
        <Etag>"0x8DBF4B4C6A3B2C2"</Etag>
        <Content-Length>5</Content-Length>
        <ResourceType>file</ResourceType>
      </Properties>
    </Blob>
  </Blobs>
  <NextMarker>2!72!MDAwMDA3IWRvY3MvYi5tZCEwMDAwMjgh</NextMarker>
</EnumerationResults>"#;

    #[test]
    fn list_page_parses() {
        let page = ListPage::parse(PAGE.as_bytes()).unwrap();
        assert_eq!(page.blobs.len(), 3);
        let a = &page.blobs[0];
        assert_eq!(a.name, "docs/a.md");
        assert_eq!(a.size, 12);
        assert_eq!(a.etag.as_deref(), Some("0x8DBF4B4C6A3B2C1"));
        assert_eq!(
            a.last_modified.unwrap().to_rfc3339(),
            "2026-12-02T10:00:00+00:00"
        );
        assert_eq!(a.content_type.as_deref(), Some("text/markdown"));
        assert_eq!(a.access_tier.as_deref(), Some("Hot"));
        assert!(!a.is_directory);
        assert_eq!(a.metadata.get("Author").map(String::as_str), Some("Ana"));
        assert!(
            page.blobs[1].is_directory,
            "an hdi_isfolder stub is a directory"
        );
        assert!(!page.blobs[2].is_directory);
        assert_eq!(page.blobs[2].name, "docs/\u{fffe}odd.txt");
        assert!(page.blobs[2].metadata.is_empty());
        assert_eq!(page.blobs[2].etag.as_deref(), Some("0x8DBF4B4C6A3B2C2"));
        assert_eq!(
            page.next_marker.as_deref(),
            Some("2!72!MDAwMDA3IWRvY3MvYi5tZCEwMDAwMjgh")
        );
        let last = ListPage::parse(
            br#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="c"><Blobs /><NextMarker /></EnumerationResults>"#,
        )
        .unwrap();
        assert!(last.blobs.is_empty());
        assert_eq!(last.next_marker, None);
        assert!(ListPage::parse(b"<html>proxy login</html>").is_err());
    }

    #[test]
    fn error_bodies_parse() {
        let body = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.\nRequestId:7e1b\nTime:2026-12-04T12:00:00.0000000Z</Message><AuthenticationErrorDetail>The MAC signature found in the HTTP request 'abc' is not the same as any computed signature.</AuthenticationErrorDetail></Error>";
        let e = ErrorBody::parse(body.as_bytes(), None);
        assert_eq!(e.code, "AuthenticationFailed");
        assert!(e.message.ends_with("the signature."), "{}", e.message);
        assert!(e.authentication_error_detail.starts_with("The MAC"));
        let e = ErrorBody::parse(b"", Some("ContainerNotFound"));
        assert_eq!(e.code, "ContainerNotFound");
        assert_eq!(ErrorBody::parse(b"nope", None).code, "");
    }
}
