//! A wiremock Blob service written from the REST API reference: List Blobs pages as
//! `EnumerationResults` with `NextMarker`, Get Blob with its headers, error bodies with
//! `<Code>`.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use connector_core::Connector;
use connector_misc::azure_blob::{AzureBlobConfig, AzureBlobConnector};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const ACCOUNT: &str = "acct";
pub const CONTAINER: &str = "docs";
/// A made-up account key (base64 of 32 bytes).
pub const KEY: &str = "c2VjcmV0LWtleS1ieXRlcy1mb3ItdGhlLWZpeHR1cmUtMDE=";

/// Noon on 2026-03-`day`.
pub fn day(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap()
}

/// One blob of the fixture.
#[derive(Clone)]
pub struct Blob {
    pub name: &'static str,
    pub body: &'static [u8],
    pub content_type: &'static str,
    pub day: u32,
    pub tier: &'static str,
    /// The inner XML of `<Metadata>` (`<hdi_isfolder>true</hdi_isfolder>`), empty for none.
    pub metadata: &'static str,
    /// `<ResourceType>` of an account with a hierarchical namespace (`file`, `directory`).
    pub resource_type: Option<&'static str>,
}

impl Blob {
    pub const fn new(
        name: &'static str,
        body: &'static [u8],
        content_type: &'static str,
        day: u32,
    ) -> Self {
        Self {
            name,
            body,
            content_type,
            day,
            tier: "Hot",
            metadata: "",
            resource_type: None,
        }
    }

    pub fn etag(&self) -> String {
        format!("0x8DC{:02}{:09X}", self.day, self.body.len())
    }

    fn xml(&self) -> String {
        format!(
            "<Blob><Name>{}</Name><Properties><Creation-Time>{lm}</Creation-Time><Last-Modified>{lm}</Last-Modified><Etag>{}</Etag><Content-Length>{}</Content-Length><Content-Type>{}</Content-Type><Content-Encoding /><Content-Language /><Content-MD5 /><Cache-Control /><BlobType>BlockBlob</BlobType><AccessTier>{}</AccessTier><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState><ServerEncrypted>true</ServerEncrypted>{}</Properties><Metadata>{}</Metadata><OrMetadata /></Blob>",
            self.name,
            self.etag(),
            self.body.len(),
            self.content_type,
            self.tier,
            self.resource_type
                .map(|r| format!("<ResourceType>{r}</ResourceType>"))
                .unwrap_or_default(),
            self.metadata,
            lm = httpdate::fmt_http_date(day(self.day).into()),
        )
    }
}

/// The seven blobs of the main fixture, over four pages of two.
pub fn blobs() -> Vec<Blob> {
    vec![
        Blob::new("data/table.csv", b"a,b\n1,2\n", "text/csv", 1),
        Blob::new("guide.txt", b"see guide/", "text/plain", 2),
        Blob::new("guide/intro.md", b"# Intro", "text/markdown", 3),
        Blob::new("guide/setup/install.md", b"Install it.", "text/markdown", 4),
        Blob::new("notes/été.md", "été".as_bytes(), "text/markdown", 5),
        Blob::new("report.pdf", b"%PDF-1.4 \xff\x00", "application/pdf", 6),
        Blob::new("zeta.json", b"{}", "application/json", 7),
    ]
}

/// The `EnumerationResults` of one page.
pub fn page_xml(blobs: &[Blob], marker: Option<&str>, next: Option<&str>) -> String {
    let items: String = blobs.iter().map(Blob::xml).collect();
    format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"http://127.0.0.1/{ACCOUNT}/\" ContainerName=\"{CONTAINER}\"><Marker>{}</Marker><MaxResults>2</MaxResults><Blobs>{items}</Blobs><NextMarker>{}</NextMarker></EnumerationResults>",
        marker.unwrap_or_default(),
        next.unwrap_or_default()
    )
}

/// The marker of page `i` (opaque, as Azure's).
pub fn marker(i: usize) -> String {
    format!("2!{i}!MDAwMDA{i}IWJsb2I-")
}

/// Mounts `blobs` as pages of `per_page` and every blob's Get Blob.
pub async fn mount(server: &MockServer, blobs: &[Blob], per_page: usize) {
    let list_path = format!("/{ACCOUNT}/{CONTAINER}");
    let pages: Vec<&[Blob]> = blobs.chunks(per_page).collect();
    for (i, page) in pages.iter().enumerate() {
        let this = (i > 0).then(|| marker(i));
        let next = (i + 1 < pages.len()).then(|| marker(i + 1));
        let body = page_xml(page, this.as_deref(), next.as_deref());
        let mock = Mock::given(method("GET"))
            .and(path(list_path.as_str()))
            .and(query_param("restype", "container"))
            .and(query_param("comp", "list"));
        let mock = match &this {
            Some(m) => mock.and(query_param("marker", m.as_str())),
            None => mock.and(query_param_is_missing("marker")),
        };
        mock.respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/xml")
                .insert_header("x-ms-version", "2021-08-06")
                .set_body_string(body),
        )
        .mount(server)
        .await;
    }
    for blob in blobs {
        let encoded: String = blob
            .name
            .split('/')
            .map(|s| {
                url::form_urlencoded::byte_serialize(s.as_bytes())
                    .collect::<String>()
                    .replace('+', "%20")
            })
            .collect::<Vec<_>>()
            .join("/");
        Mock::given(method("GET"))
            .and(path(format!("/{ACCOUNT}/{CONTAINER}/{encoded}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", blob.content_type)
                    .insert_header("etag", format!("\"{}\"", blob.etag()).as_str())
                    .insert_header(
                        "last-modified",
                        httpdate::fmt_http_date(day(blob.day).into()).as_str(),
                    )
                    .insert_header("x-ms-blob-type", "BlockBlob")
                    .set_body_bytes(blob.body),
            )
            .mount(server)
            .await;
    }
}

/// An error body as the Blob service sends it.
pub fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/xml")
        .insert_header("x-ms-error-code", code)
        .set_body_string(format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}\nRequestId:5e7c0f3a-e01e-0059-3c1a-000000000000\nTime:2026-12-04T12:00:00.0000000Z</Message></Error>"
        ))
}

/// A config for the fixture at `uri`: a connection string with a `BlobEndpoint`, pages of
/// `page_size`.
pub fn config(uri: &str, page_size: u32) -> AzureBlobConfig {
    config_at(uri, page_size, "")
}

/// [`config`] under `prefix`.
pub fn config_at(uri: &str, page_size: u32, prefix: &str) -> AzureBlobConfig {
    let mut config = AzureBlobConfig::connection_string(
        CONTAINER,
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={uri}/{ACCOUNT}"
        ),
    );
    config.page_size = page_size.try_into().unwrap();
    config.prefix = prefix.to_owned();
    config.allowed_hosts.push("127.0.0.1".to_owned());
    config
}

pub fn connector(config: AzureBlobConfig) -> Arc<dyn Connector> {
    Arc::new(AzureBlobConnector::new(config).unwrap())
}
