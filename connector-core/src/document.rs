//! The model: what a connector hands to the batch loop.

use std::borrow::Cow;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, ErrorKind};
use crate::ids::{hash128, hash128_bytes};
use crate::metadata::Metadata;
use crate::spool::SpooledBody;

/// The body of a [`Document`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Content {
    /// Text already extracted from the source (Markdown or plain).
    Text {
        /// The text.
        text: String,
    },
    /// Raw bytes for the host's own parser (PDF, DOCX, images ...). Serialised as base64.
    Bytes {
        /// The bytes.
        #[serde(with = "base64_bytes")]
        data: Bytes,
        /// MIME type, `application/octet-stream` when unknown.
        mime: String,
        /// File extension without the dot (`pdf`), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extension: Option<String>,
    },
    /// Raw bytes too large for memory, in a spool file ([`crate::spool`]): the body never sits
    /// whole in memory. Read it with [`SpooledBody::open`] (an `AsyncRead`) or
    /// [`SpooledBody::chunks`]; [`Content::len`] is its length, without I/O.
    ///
    /// Serialised exactly as [`Content::Bytes`] (`"type":"bytes"`, base64 `data`): the base64
    /// is streamed from the file in chunks into the serialiser's output (blocking reads, so
    /// serialise it on a blocking thread, as the [`NdjsonSink`](crate::sink::NdjsonSink)
    /// does). It reads back as [`Content::Bytes`].
    ///
    /// Only sinks that say so ([`Sink::takes_spooled`](crate::sink::Sink::takes_spooled))
    /// are handed one; for any other the batch loop reports the document as a
    /// [`Failure`] naming it and the sync goes on.
    #[serde(rename = "bytes", skip_deserializing)]
    Spooled {
        /// The file holding the bytes.
        #[serde(rename = "data", serialize_with = "spooled_base64")]
        body: SpooledBody,
        /// MIME type, `application/octet-stream` when unknown.
        mime: String,
        /// File extension without the dot (`pdf`), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extension: Option<String>,
    },
}

/// Streams a spooled body's base64 into the serialiser (`collect_str` writes it piece by
/// piece where the serialiser supports it, as serde_json does).
fn spooled_base64<S: serde::Serializer>(body: &SpooledBody, s: S) -> Result<S::Ok, S::Error> {
    struct Base64File<'a> {
        body: &'a SpooledBody,
        error: std::cell::RefCell<Option<std::io::Error>>,
    }
    impl std::fmt::Display for Base64File<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.body.write_base64(f, &mut self.error.borrow_mut())
        }
    }
    let file = Base64File {
        body,
        error: std::cell::RefCell::new(None),
    };
    let written = s.collect_str(&file)?;
    match file.error.take() {
        // The base64 written is short: the serialiser's output must not be used.
        Some(io) => Err(serde::ser::Error::custom(format!(
            "cannot read the spooled body {}: {io}",
            body.path().display()
        ))),
        None => Ok(written),
    }
}

impl Content {
    /// Size of the body in bytes (a spooled body's length is known without reading it).
    pub fn len(&self) -> usize {
        match self {
            Self::Text { text } => text.len(),
            Self::Bytes { data, .. } => data.len(),
            Self::Spooled { body, .. } => usize::try_from(body.len()).unwrap_or(usize::MAX),
        }
    }

    /// Size of the body in memory: [`len`](Self::len), but 0 for a spooled body.
    pub fn memory_len(&self) -> usize {
        match self {
            Self::Spooled { .. } => 0,
            _ => self.len(),
        }
    }

    /// Whether the body is in a spool file rather than in memory.
    pub fn is_spooled(&self) -> bool {
        matches!(self, Self::Spooled { .. })
    }

    /// The MIME type of a bytes body (in memory or spooled); `None` for text.
    pub fn mime(&self) -> Option<&str> {
        match self {
            Self::Text { .. } => None,
            Self::Bytes { mime, .. } | Self::Spooled { mime, .. } => Some(mime),
        }
    }

    /// The file extension of a bytes body (in memory or spooled), when known.
    pub fn extension(&self) -> Option<&str> {
        match self {
            Self::Text { .. } => None,
            Self::Bytes { extension, .. } | Self::Spooled { extension, .. } => extension.as_deref(),
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text, for text content.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text { text } => Some(text),
            Self::Bytes { .. } | Self::Spooled { .. } => None,
        }
    }

    /// The raw bytes of an in-memory body (the UTF-8 of text content). **Empty for a spooled
    /// body**, whose bytes are not in memory: read those with [`SpooledBody::open`] or
    /// [`SpooledBody::chunks`] (check [`is_spooled`](Self::is_spooled)). A sink is handed a
    /// spooled body only when it [takes one](crate::sink::Sink::takes_spooled).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text { text } => text.as_bytes(),
            Self::Bytes { data, .. } => data,
            Self::Spooled { .. } => &[],
        }
    }

    /// The hash of the body: `hash128_bytes` of its bytes, for a spooled body the hash taken
    /// while it was written (the same value, no I/O).
    fn content_hash(&self) -> String {
        match self {
            Self::Spooled { body, .. } => body.content_hash(),
            _ => hash128_bytes(self.as_bytes()),
        }
    }
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(data: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(data))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text)
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

/// A key of [`Document::metadata`]: a small string that costs no allocation when it is short
/// and no copy when it is shared.
///
/// It is [`smol_str::SmolStr`] (re-exported as [`SmolStr`](crate::SmolStr), so a host needs no
/// dependency of its own): a key of up to 23 bytes is held inline, in the key itself, and a
/// longer one in a shared `Arc<str>` that a clone only counts. So
/// - a static key (`"space"`, `"labels"`: almost every key a connector writes) is copied into
///   the key, with no allocation, and [`MetaKey::new_static`] holds one of any length without
///   allocating;
/// - a dynamic key that every document of a source repeats (a table's column names, a base's
///   field names) is made once, by the connector, and each document takes a clone: an inline
///   copy, or an `Arc` count for a long one, never a new string;
/// - `String` keys (`format!(..)`) still work, at a cost for a long one: a key of up to 23
///   bytes is copied inline and the `String` freed, but a longer one is copied into a new
///   `Arc<str>` (one allocation and copy more than the `String` key it replaced) and the
///   `String` freed. A long `&str` key other than a `'static` one given to
///   [`MetaKey::new_static`] allocates too. A connector that writes a long dynamic key per
///   document makes the key once and clones it.
///
/// Chosen over `Cow<'static, str>`, which is free for static keys but allocates every dynamic
/// key anew per document, and over `Arc<str>`, which allocates every static key.
/// `tests/metadata_alloc.rs` holds it to that: the heap a document's metadata holds is the
/// map's own, with no byte for a static, a long static or a shared key, nor for a row's
/// metadata columns.
///
/// It reads as a `&str` where a host passes one: `doc.metadata.get("space")`, `key.as_str()`,
/// `key == "space"`, `Display`; it orders, hashes and serialises exactly as the `String` it
/// replaced, so the JSON and the fingerprints are those of a `String`-keyed map, byte for
/// byte. [`Metadata`]'s lookups take a `&str` (`get(&name)` with `name: String` works), its
/// `insert` a `MetaKey` (`insert(name.into(), v)`) and [`Document::with_metadata`] any
/// `Into<MetaKey>` (`&str`, `String`, `SmolStr`); a `BTreeMap<String, Value>` or a `serde_json::Map` is collected into it with
/// the keys mapped (`.map(|(k, v)| (k.into(), v))`), and a host type that was only
/// `Into<String>` is passed as a `String`.
pub type MetaKey = smol_str::SmolStr;

/// Who may see a document, for permission-aware hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Access {
    /// E-mail addresses of users who may read it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    /// Group ids whose members may read it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Whether anyone may read it.
    #[serde(default)]
    pub public: bool,
}

impl Access {
    /// Readable by anyone.
    pub fn public() -> Self {
        Self {
            public: true,
            ..Self::default()
        }
    }

    /// Readable by these users and groups.
    pub fn restricted(emails: Vec<String>, groups: Vec<String>) -> Self {
        Self {
            emails,
            groups,
            public: false,
        }
    }
}

/// One document pulled from a source.
///
/// Build it with [`Document::text`] or [`Document::bytes`] and the `with_*` methods. The
/// fingerprint starts as the hash of the content; connectors that see a version token before
/// downloading (ETag, version number) set it with [`Document::with_version`] so the batch loop
/// and the fingerprint lookup agree on what "unchanged" means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Document {
    /// Stable, source-scoped identity: the same item yields the same id on every run.
    pub id: String,
    /// The registry key of the connector that produced it (`"confluence"`).
    pub source: Cow<'static, str>,
    /// Human-readable title (RAGFlow's `semantic_identifier`).
    pub title: String,
    /// Where a person can open it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Url>,
    /// The body.
    pub content: Content,
    /// When the source last changed it; never invented.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "rfc3339"
    )]
    pub updated_at: Option<DateTime<Utc>>,
    /// Size in bytes of the item at the source (may differ from the extracted text).
    pub size_bytes: u64,
    /// Source-specific fields (space, labels, bucket, key ...), keyed by [`MetaKey`]s (read
    /// them as `&str`: `doc.metadata.get("space")`).
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    /// Authors or owners, as the source names them (e-mail where known).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// Who may read it, when the connector knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// The id of the item this one belongs to (an attachment's page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// 32 lower-hex chars of XXH3-128 over the version token or the content.
    pub fingerprint: String,
}

impl Document {
    /// A document whose body is text.
    pub fn text(
        id: impl Into<String>,
        source: &'static str,
        title: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self::new(
            id.into(),
            source,
            title.into(),
            Content::Text { text: text.into() },
        )
    }

    /// A document whose body is text and whose fingerprint is the source's version token:
    /// exactly `Document::text(id, source, title, text).with_version(token)`, without hashing
    /// the text first for a fingerprint the version then replaces (the whole body, per
    /// document, for nothing).
    ///
    /// ```
    /// use connector_core::Document;
    ///
    /// let a = Document::text_with_version("1", "demo", "Title", "body", "etag-7");
    /// assert_eq!(a, Document::text("1", "demo", "Title", "body").with_version("etag-7"));
    /// ```
    pub fn text_with_version(
        id: impl Into<String>,
        source: &'static str,
        title: impl Into<String>,
        text: impl Into<String>,
        token: &str,
    ) -> Self {
        Self::with_fingerprint(
            id.into(),
            source,
            title.into(),
            Content::Text { text: text.into() },
            hash128(token),
        )
    }

    /// A document whose body is text and whose fingerprint is the hash of its fields:
    /// exactly `Document::text(id, source, title, text)`, then `fill` (which sets the link,
    /// time, metadata and whatever else the document carries), then
    /// [`with_fields_fingerprint`](Self::with_fields_fingerprint), without hashing the text
    /// first for a fingerprint the fields hash then replaces (the whole body, per document,
    /// for nothing). The fingerprint is empty while `fill` runs.
    ///
    /// ```
    /// use connector_core::Document;
    ///
    /// let a = Document::text_with_fields("1", "demo", "Title", "body", |doc| {
    ///     doc.metadata.insert("space".into(), "ENG".into());
    /// });
    /// let b = Document::text("1", "demo", "Title", "body")
    ///     .with_metadata("space", "ENG")
    ///     .with_fields_fingerprint();
    /// assert_eq!(a, b);
    /// ```
    pub fn text_with_fields(
        id: impl Into<String>,
        source: &'static str,
        title: impl Into<String>,
        text: impl Into<String>,
        fill: impl FnOnce(&mut Self),
    ) -> Self {
        let mut doc = Self::with_fingerprint(
            id.into(),
            source,
            title.into(),
            Content::Text { text: text.into() },
            String::with_capacity(32),
        );
        fill(&mut doc);
        doc.set_fields_fingerprint();
        doc
    }

    /// [`text_with_fields`](Self::text_with_fields) of a document whose only fields besides
    /// its text are `metadata` and `updated_at` (a row's), for a caller that knows the
    /// metadata's JSON (a row's one `table` entry): `metadata_json` writes it, exactly the
    /// bytes `jsonw::write_map` writes of the map (checked in debug builds), so the
    /// fingerprint is the same without the map walked and its keys escaped per document. It
    /// is not called when the map is empty.
    ///
    /// The fingerprint is taken before the document is made, and the document made as the
    /// value returned: not filled in place and then moved out (a document is 432 bytes, and
    /// each move a `memcpy` of them, per row).
    pub(crate) fn text_with_fields_json(
        id: String,
        source: &'static str,
        title: String,
        text: String,
        metadata: Metadata,
        updated_at: Option<DateTime<Utc>>,
        metadata_json: impl FnOnce(&mut Vec<u8>),
    ) -> Self {
        let content = Content::Text { text };
        let size_bytes = content.len() as u64;
        let mut fingerprint = String::with_capacity(32);
        Fields {
            content: &content,
            title: &title,
            link: None,
            updated_at,
            size_bytes,
            metadata: &metadata,
            owners: &[],
            access: None,
            parent_id: None,
        }
        .fingerprint_into(&mut fingerprint, |metadata, h| {
            if !metadata.is_empty() {
                h.json_written(|out| {
                    let mark = out.len();
                    metadata_json(out);
                    if cfg!(debug_assertions) {
                        let mut want = Vec::new();
                        let _ = crate::jsonw::write_map(&mut want, metadata);
                        assert_eq!(
                            String::from_utf8_lossy(&out[mark..]),
                            String::from_utf8_lossy(&want),
                            "the metadata JSON written for the fingerprint is not the map's"
                        );
                    }
                });
            }
        });
        Self {
            id,
            source: Cow::Borrowed(source),
            title,
            link: None,
            size_bytes,
            content,
            updated_at,
            metadata,
            owners: Vec::new(),
            access: None,
            parent_id: None,
            fingerprint,
        }
    }

    /// A document whose body is raw bytes for the host's own parser.
    pub fn bytes(
        id: impl Into<String>,
        source: &'static str,
        title: impl Into<String>,
        data: impl Into<Bytes>,
        mime: impl Into<String>,
        extension: Option<String>,
    ) -> Self {
        let content = Content::Bytes {
            data: data.into(),
            mime: mime.into(),
            extension,
        };
        Self::new(id.into(), source, title.into(), content)
    }

    /// A document whose body was spooled to a file ([`Content::Spooled`]): too large for
    /// memory. Its fingerprint is the hash of the bytes, as [`Document::bytes`] would give.
    pub fn spooled(
        id: impl Into<String>,
        source: &'static str,
        title: impl Into<String>,
        body: SpooledBody,
        mime: impl Into<String>,
        extension: Option<String>,
    ) -> Self {
        let content = Content::Spooled {
            body,
            mime: mime.into(),
            extension,
        };
        Self::new(id.into(), source, title.into(), content)
    }

    fn new(id: String, source: &'static str, title: String, content: Content) -> Self {
        let fingerprint = content.content_hash();
        Self::with_fingerprint(id, source, title, content, fingerprint)
    }

    fn with_fingerprint(
        id: String,
        source: &'static str,
        title: String,
        content: Content,
        fingerprint: String,
    ) -> Self {
        Self {
            id,
            source: Cow::Borrowed(source),
            title,
            link: None,
            size_bytes: content.len() as u64,
            content,
            updated_at: None,
            metadata: Metadata::new(),
            owners: Vec::new(),
            access: None,
            parent_id: None,
            fingerprint,
        }
    }

    /// Sets the link.
    #[must_use]
    #[inline]
    pub fn with_link(mut self, link: Url) -> Self {
        self.link = Some(link);
        self
    }

    /// Sets the source's modification time.
    #[must_use]
    #[inline]
    pub fn with_updated_at(mut self, at: DateTime<Utc>) -> Self {
        self.updated_at = Some(at);
        self
    }

    /// Sets the size at the source (defaults to the body's size).
    #[must_use]
    #[inline]
    pub fn with_size(mut self, size: u64) -> Self {
        self.size_bytes = size;
        self
    }

    /// Adds one metadata field. The key is anything that converts into a [`MetaKey`]: a
    /// `&str` (a literal costs no allocation up to 23 bytes), a `String` (`format!(..)`), or a
    /// `MetaKey` the connector made once and clones per document.
    #[must_use]
    #[inline]
    pub fn with_metadata(
        mut self,
        key: impl Into<MetaKey>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the owners.
    #[must_use]
    #[inline]
    pub fn with_owners(mut self, owners: Vec<String>) -> Self {
        self.owners = owners;
        self
    }

    /// Sets who may read it.
    #[must_use]
    #[inline]
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = Some(access);
        self
    }

    /// Sets the parent item's id.
    #[must_use]
    #[inline]
    pub fn with_parent_id(mut self, parent: impl Into<String>) -> Self {
        self.parent_id = Some(parent.into());
        self
    }

    /// Sets the fingerprint from the source's version token (ETag, version number, size and
    /// mtime): `hash128(token)`. Use the same token the connector compares against the
    /// [`FingerprintLookup`](crate::FingerprintLookup) before downloading.
    #[must_use]
    #[inline]
    pub fn with_version(mut self, token: &str) -> Self {
        // `hash128(token)`, written into the fingerprint's own buffer.
        crate::ids::set_hex128(
            &mut self.fingerprint,
            xxhash_rust::xxh3::xxh3_128(token.as_bytes()),
        );
        self
    }

    /// Sets the fingerprint from everything the document delivers but its id and source: the
    /// body, title, link, `updated_at`, size, metadata, owners, access and parent. For items
    /// that carry no version token of their own (a REST API's records): the fingerprint then
    /// changes exactly when the delivered document does, and a change to a field the document
    /// does not carry re-delivers nothing. Call it after the last `with_*`.
    ///
    /// ```
    /// use connector_core::Document;
    ///
    /// let a = Document::text("1", "demo", "Title", "body").with_fields_fingerprint();
    /// let b = Document::text("1", "demo", "Other title", "body").with_fields_fingerprint();
    /// assert_ne!(a.fingerprint, b.fingerprint);
    /// assert_eq!(a.fingerprint, a.clone().with_fields_fingerprint().fingerprint);
    /// ```
    #[must_use]
    #[inline]
    pub fn with_fields_fingerprint(mut self) -> Self {
        self.set_fields_fingerprint();
        self
    }

    /// [`with_fields_fingerprint`](Self::with_fields_fingerprint) in place: the same
    /// fingerprint, without moving the document in and out.
    ///
    /// The metadata's JSON, written here for the fingerprint, is kept with the metadata until
    /// the map next changes, so an NDJSON sink copies it rather than writing it again.
    pub fn set_fields_fingerprint(&mut self) {
        let mut json = None;
        self.fingerprint_fields(|metadata, h| {
            if !metadata.is_empty() {
                json = h.json_map(metadata).map(Box::<[u8]>::from);
            }
        });
        if let Some(json) = json {
            self.metadata.keep_json(json);
        }
    }

    /// The fields fingerprint, the metadata's part written by `metadata`.
    fn fingerprint_fields(
        &mut self,
        metadata: impl FnOnce(&Metadata, &mut crate::ids::PartsHasher),
    ) {
        Fields {
            content: &self.content,
            title: &self.title,
            link: self.link.as_ref(),
            updated_at: self.updated_at,
            size_bytes: self.size_bytes,
            metadata: &self.metadata,
            owners: &self.owners,
            access: self.access.as_ref(),
            parent_id: self.parent_id.as_deref(),
        }
        .fingerprint_into(&mut self.fingerprint, metadata);
    }

    /// The fingerprint a version token maps to, for comparing with stored fingerprints before
    /// downloading. Equal to what [`Document::with_version`] stores.
    pub fn version_fingerprint(token: &str) -> String {
        hash128(token)
    }
}

/// What the fields fingerprint hashes, borrowed: a document's fields (its id and source
/// aside), or those of one about to be made.
struct Fields<'a> {
    content: &'a Content,
    title: &'a str,
    link: Option<&'a Url>,
    updated_at: Option<DateTime<Utc>>,
    size_bytes: u64,
    metadata: &'a Metadata,
    owners: &'a [String],
    access: Option<&'a Access>,
    parent_id: Option<&'a str>,
}

impl Fields<'_> {
    /// The fields fingerprint into `out` (replacing what it held), the metadata's part written
    /// by `metadata`.
    fn fingerprint_into(
        &self,
        out: &mut String,
        metadata: impl FnOnce(&Metadata, &mut crate::ids::PartsHasher),
    ) {
        let mut h = crate::ids::PartsHasher::new();
        match self.content {
            // The hash taken while the file was written stands for the bytes: no read.
            Content::Spooled { body, .. } => h.part(body.content_hash().as_bytes()),
            content => h.part(content.as_bytes()),
        }
        if let Some(mime) = self.content.mime() {
            h.part(mime.as_bytes());
            h.part(self.content.extension().unwrap_or("").as_bytes());
        }
        h.part(self.title.as_bytes());
        h.part(self.link.map_or("", Url::as_str).as_bytes());
        let at = self.updated_at.map_or(i64::MIN, |t| t.timestamp_micros());
        h.part(&at.to_le_bytes());
        h.part(&self.size_bytes.to_le_bytes());
        metadata(self.metadata, &mut h);
        h.part(&(self.owners.len() as u64).to_le_bytes());
        for owner in self.owners {
            h.part(owner.as_bytes());
        }
        if let Some(access) = self.access {
            h.json(access);
        }
        h.part(self.parent_id.unwrap_or("").as_bytes());
        h.finish_into(out);
    }
}

/// A time as chrono's own `Serialize` writes it (RFC 3339, `Z`, as many fraction digits as
/// needed), formatted once rather than through `collect_str`, which serde_json escapes
/// character by character (a few per cent of an NDJSON sync's CPU).
fn rfc3339<S: serde::Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        // The same bytes from a stack buffer, with no `String` made per document.
        Some(at) => match crate::state::Rfc3339::of(at) {
            Some(text) => s.serialize_str(text.as_str()),
            None => s.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        },
        None => s.serialize_none(),
    }
}

/// An id-only view of a document, for pruning deletions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlimDocument {
    /// The document id, as [`Document::id`].
    pub id: String,
}

impl SlimDocument {
    /// An id.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// One item that could not be produced. A failure never ends the stream.
///
/// # The rule: a failure names its item
/// A host shows failures to a person who must find the item: [`message`](Failure::message)
/// names it (its id, path, key or title) even when [`id`](Failure::id) is set, because the
/// message is what logs and summaries print. [`Failure::of_item`] does that for an error
/// caught while fetching one item; the page pipeline ([`fetch_items`](crate::pages::fetch_items))
/// uses it. A failure of a whole partition (a user, a drive, a site) names the partition the
/// same way, with the partition as `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Failure {
    /// The document id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Where a person can look at the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Url>,
    /// What kind of error it was.
    pub kind: ErrorKind,
    /// What went wrong, naming the item.
    pub message: String,
    /// Whether trying again may help.
    pub retryable: bool,
    /// Where the item was met (a page, a position in a listing), when that was recorded
    /// ([`Failure::at`]). Shown after the message ([`Failure`]'s `Display`), never part of
    /// the failure's key ([`failure_key`](crate::state::failure_key)): an item without an id
    /// keeps its key when the place it is met at moves. Absent in state files written before
    /// it existed, and left out of those written without one, so they read the same either
    /// way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
}

impl std::fmt::Display for Failure {
    /// The message, then the place where there is one: "rest_api: item has no `id` (...) —
    /// at page 3 (cursor c2…), entry 2". Both without any live secret
    /// ([`redact`](crate::secret::redact)): they are public fields a connector may set to
    /// anything, and this is what logs print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::secret::redact(&self.message))?;
        if let Some(place) = &self.place {
            write!(f, " \u{2014} at {}", crate::secret::redact(place))?;
        }
        Ok(())
    }
}

impl Failure {
    /// A failure of the item `id`.
    pub fn new(id: Option<String>, kind: ErrorKind, message: impl Into<String>) -> Self {
        let message: String = message.into();
        // Failures are stored and printed; no live secret stays in one.
        let message = match crate::secret::redact(&message) {
            std::borrow::Cow::Borrowed(_) => message,
            std::borrow::Cow::Owned(redacted) => redacted,
        };
        Self {
            id,
            link: None,
            kind,
            retryable: kind.is_retryable(),
            message,
            place: None,
        }
    }

    /// A failure of the item `id` caused by `error`.
    pub fn from_error(id: Option<String>, error: &Error) -> Self {
        Self {
            id,
            link: None,
            kind: error.kind(),
            message: error.to_string(),
            retryable: error.is_retryable(),
            place: None,
        }
    }

    /// A failure of the item `id` caused by `error`, its message naming the item (`id: ...`)
    /// unless the error's message already does.
    pub fn of_item(id: impl Into<String>, error: &Error) -> Self {
        let id = id.into();
        let mut failure = Self::from_error(None, error);
        if !failure.message.contains(id.as_str()) {
            failure.message = format!("{id}: {}", failure.message);
        }
        failure.id = Some(id);
        failure
    }

    /// Sets the link.
    #[must_use]
    pub fn with_link(mut self, link: Url) -> Self {
        self.link = Some(link);
        self
    }

    /// This failure with `place` (where its item was met: a page, a position in a listing),
    /// kept apart from its message ([`Failure::place`]) and shown after it: "rest_api: item
    /// has no `id` (...) — at page 3 (cursor c2…), entry 2".
    ///
    /// A failure without an [`id`](Failure::id) is keyed in the state store by its message
    /// ([`failure_key`](crate::state::failure_key)); the place is left out of that key, so
    /// such an item keeps its key when the place it is met at moves (a new cursor each run,
    /// items inserted before it), and is seen as still failing rather than resolved and
    /// failing anew. The message before the place must then tell the item from others
    /// without an id (its content, or a hash of it). A place is redacted as the message is.
    #[must_use]
    pub fn at(mut self, place: impl std::fmt::Display) -> Self {
        let place = place.to_string();
        let place = match crate::secret::redact(&place) {
            Cow::Borrowed(_) => place,
            Cow::Owned(redacted) => redacted,
        };
        self.place = Some(place);
        self
    }
}

/// One source page: documents, per-item failures, the ids the connector saw but did not
/// download because their fingerprint was unchanged, and the ids the source reported deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Batch {
    /// Documents, in the source's stable order.
    pub documents: Vec<Document>,
    /// Items that could not be produced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
    /// Ids seen but skipped because the [`FingerprintLookup`](crate::FingerprintLookup) said
    /// they had not changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchanged: Vec<String>,
    /// Ids the source itself reported deleted (a change feed's tombstones: a delta item marked
    /// `deleted`, a `@removed` entry, a ticket whose status became `deleted`). The sync loop
    /// deletes them from the sink and the state store in stream order: after the documents of
    /// every earlier page, before this page's documents. An id that is also one of this page's
    /// documents is not deleted (the document is the page's last word on it). Ids the sink
    /// never held are harmless. Prune still catches what a source deletes silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<String>,
}

impl Batch {
    /// A page of documents.
    pub fn new(documents: Vec<Document>) -> Self {
        Self {
            documents,
            failures: Vec::new(),
            unchanged: Vec::new(),
            deleted: Vec::new(),
        }
    }

    /// A page with documents, failures and unchanged ids.
    pub fn with_parts(
        documents: Vec<Document>,
        failures: Vec<Failure>,
        unchanged: Vec<String>,
    ) -> Self {
        Self {
            documents,
            failures,
            unchanged,
            deleted: Vec::new(),
        }
    }

    /// The page with `ids` reported deleted by the source (see [`Batch::deleted`]).
    ///
    /// ```
    /// use connector_core::Batch;
    ///
    /// let page = Batch::new(Vec::new()).with_deleted(vec!["drive/item-7".to_owned()]);
    /// assert_eq!(page.deleted, ["drive/item-7"]);
    /// assert!(!page.is_empty());
    /// ```
    #[must_use]
    pub fn with_deleted(mut self, ids: Vec<String>) -> Self {
        self.deleted = ids;
        self
    }

    /// Whether the page holds nothing at all.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
            && self.failures.is_empty()
            && self.unchanged.is_empty()
            && self.deleted.is_empty()
    }

    /// Sum of the documents' body sizes.
    pub fn content_bytes(&self) -> u64 {
        self.documents.iter().map(|d| d.content.len() as u64).sum()
    }
}

/// A source page of a checkpointed connector with the checkpoint valid *after* it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CheckpointedBatch<C> {
    /// The page.
    pub batch: Batch,
    /// Where to resume once every document of this page (and of every page before) has been
    /// acknowledged by the sink.
    pub checkpoint: C,
}

impl<C> CheckpointedBatch<C> {
    /// A page and the checkpoint after it.
    pub fn new(batch: Batch, checkpoint: C) -> Self {
        Self { batch, checkpoint }
    }

    /// Converts the checkpoint.
    pub fn map_checkpoint<D>(self, f: impl FnOnce(C) -> D) -> CheckpointedBatch<D> {
        CheckpointedBatch {
            batch: self.batch,
            checkpoint: f(self.checkpoint),
        }
    }
}

/// What a connector can do. The conformance kit checks it agrees with the `as_*()` accessors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// Full load ([`LoadConnector`](crate::LoadConnector)).
    pub load: bool,
    /// Changes in a time window ([`PollConnector`](crate::PollConnector)).
    pub poll: bool,
    /// Resumable with a checkpoint ([`CheckpointedConnector`](crate::CheckpointedConnector)).
    pub checkpoint: bool,
    /// Lists every id for prune ([`SlimConnector`](crate::SlimConnector)).
    pub slim: bool,
    /// Fetches single items again by id ([`RefetchConnector`](crate::RefetchConnector)).
    pub refetch: bool,
    /// Asks the fingerprint lookup before downloading and skips unchanged bodies.
    pub fingerprint_skip: bool,
}

impl Capabilities {
    /// Nothing.
    pub const fn none() -> Self {
        Self {
            load: false,
            poll: false,
            checkpoint: false,
            slim: false,
            refetch: false,
            fingerprint_skip: false,
        }
    }

    /// Every capability.
    pub const fn all() -> Self {
        Self {
            load: true,
            poll: true,
            checkpoint: true,
            slim: true,
            refetch: true,
            fingerprint_skip: true,
        }
    }

    /// Sets `load`.
    #[must_use]
    pub const fn load(mut self, on: bool) -> Self {
        self.load = on;
        self
    }

    /// Sets `poll`.
    #[must_use]
    pub const fn poll(mut self, on: bool) -> Self {
        self.poll = on;
        self
    }

    /// Sets `checkpoint`.
    #[must_use]
    pub const fn checkpoint(mut self, on: bool) -> Self {
        self.checkpoint = on;
        self
    }

    /// Sets `slim`.
    #[must_use]
    pub const fn slim(mut self, on: bool) -> Self {
        self.slim = on;
        self
    }

    /// Sets `refetch`.
    #[must_use]
    pub const fn refetch(mut self, on: bool) -> Self {
        self.refetch = on;
        self
    }

    /// Sets `fingerprint_skip`.
    #[must_use]
    pub const fn fingerprint_skip(mut self, on: bool) -> Self {
        self.fingerprint_skip = on;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure without an id is keyed by what failed, not where it was met; a message
    /// without a place keeps the key it had before places existed.
    #[test]
    fn a_place_is_shown_but_not_keyed() {
        use crate::state::failure_key;
        let fail = |what: &str| Failure::new(None, ErrorKind::InvalidData, what);
        let old = fail("rest_api: entry 2: item has no `id`");
        assert_eq!(
            failure_key(&old),
            format!("~{}", hash128("rest_api: entry 2: item has no `id`"))
        );
        assert_eq!(old.to_string(), old.message);
        let on_page_3 = fail("no `id` (item 1f)").at("page 3 (cursor c2), entry 2");
        let on_page_4 = fail("no `id` (item 1f)").at("page 4 (cursor c9), entry 0");
        assert_eq!(
            on_page_3.to_string(),
            "no `id` (item 1f) \u{2014} at page 3 (cursor c2), entry 2"
        );
        assert_eq!(on_page_3.message, "no `id` (item 1f)");
        // A message holding the separator is keyed whole (review9 F7).
        let titled = fail("notes: `Lunch \u{2014} at noon.md` is not UTF-8");
        assert_eq!(
            failure_key(&titled),
            format!("~{}", hash128(&titled.message))
        );
        // State files without a place read the same; one with a place keeps it.
        let json = serde_json::to_string(&old).unwrap();
        assert!(!json.contains("place"), "{json}");
        let back: Failure =
            serde_json::from_str(&serde_json::to_string(&on_page_3).unwrap()).unwrap();
        assert_eq!(back, on_page_3);
        assert_eq!(failure_key(&on_page_3), failure_key(&on_page_4));
        let other = fail("no `id` (item 2e)").at("page 3 (cursor c2), entry 2");
        assert_ne!(failure_key(&on_page_3), failure_key(&other));
        // A failure with an id keeps it as its key.
        let with_id = Failure::new(Some("d1".into()), ErrorKind::InvalidData, "x").at("page 1");
        assert_eq!(failure_key(&with_id), "d1");
    }

    #[test]
    fn bytes_round_trip_as_base64() {
        let doc = Document::bytes(
            "a",
            "local",
            "a.bin",
            vec![0u8, 159, 255],
            "application/octet-stream",
            Some("bin".into()),
        );
        let json = serde_json::to_string(&doc).unwrap();
        assert!(json.contains("\"data\":\"AJ//\""), "{json}");
        let back: Document = serde_json::from_str(&json).unwrap();
        assert_eq!(back, doc);
    }

    /// A document with metadata of every shape: static keys, a `format!` key, a key longer
    /// than a [`MetaKey`] holds inline, a non-ASCII key, nested objects and arrays.
    fn metadata_document() -> Document {
        let field = "Customer Name";
        Document::text("rec1", "demo", "Title", "body")
            .with_metadata("space", "ENG")
            .with_metadata("labels", serde_json::json!(["a", "b"]))
            .with_metadata(format!("field.{field}"), 42)
            .with_metadata(
                "a_key_longer_than_twenty_three_bytes",
                serde_json::json!({"z": 1, "a": [null, true, 1.5]}),
            )
            .with_metadata(String::from("größe"), "x\"y")
            .with_fields_fingerprint()
    }

    #[test]
    fn metadata_fingerprint_and_json_are_pinned() {
        // Both computed before metadata keys became `MetaKey` (commit 67d4d6e): the key type
        // must change neither the fingerprint nor a byte of the JSON.
        let doc = metadata_document();
        assert_eq!(doc.fingerprint, "d7703c851ab0b0366135bab35168956a");
        assert_eq!(
            serde_json::to_string(&doc.metadata).unwrap(),
            r#"{"a_key_longer_than_twenty_three_bytes":{"a":[null,true,1.5],"z":1},"field.Customer Name":42,"größe":"x\"y","labels":["a","b"],"space":"ENG"}"#
        );
    }

    #[test]
    fn text_with_version_is_text_then_with_version() {
        for (text, token) in [
            ("", ""),
            ("body", "etag-1"),
            ("größe\n# x", "2024-01-01T00:00:00Z|3"),
        ] {
            let made = Document::text_with_version("a", "local", "T", text, token);
            assert_eq!(
                made,
                Document::text("a", "local", "T", text).with_version(token)
            );
            assert_eq!(made.fingerprint, Document::version_fingerprint(token));
            assert_eq!(made.size_bytes, text.len() as u64);
        }
    }

    #[test]
    fn text_with_fields_is_text_then_fields_fingerprint() {
        let at = DateTime::<Utc>::from_timestamp(1_767_225_600, 5_000).unwrap_or_default();
        let filled = |doc: &mut Document| {
            doc.link = "https://example.com/a".parse().ok();
            doc.updated_at = Some(at);
            doc.metadata
                .insert("tags".into(), serde_json::json!(["a", "b"]));
            doc.owners.push("a@example.com".into());
        };
        for (title, text) in [("", ""), ("T", "body"), ("größe", "# x\n\ny")] {
            let made = Document::text_with_fields("a", "demo", title, text, filled);
            let mut want = Document::text("a", "demo", title, text);
            filled(&mut want);
            assert_eq!(made, want.with_fields_fingerprint());
            assert_eq!(made.size_bytes, text.len() as u64);
        }
        // The pinned document of `metadata_fingerprint_and_json_are_pinned`, made this way.
        let want = metadata_document();
        let made = Document::text_with_fields("rec1", "demo", "Title", "body", |doc| {
            doc.metadata = want.metadata.clone();
        });
        assert_eq!(made.fingerprint, "d7703c851ab0b0366135bab35168956a");
        assert_eq!(made, want);
    }

    /// The fingerprint with the metadata's JSON written by the caller is the one of the map
    /// walked, for table names that need escaping too.
    #[test]
    fn written_metadata_json_is_the_map_s() {
        let at = DateTime::parse_from_rfc3339("2025-03-01T10:00:00.123456Z")
            .map(|t| t.with_timezone(&Utc))
            .ok();
        for table in ["items", "a\"b\\c", "größe\n\u{1}", ""] {
            for updated_at in [None, at] {
                let fill = |doc: &mut Document| {
                    doc.metadata
                        .insert(MetaKey::new_static("table"), serde_json::json!(table));
                    doc.updated_at = updated_at;
                };
                let walked = Document::text_with_fields("a", "demo", "T", "body", fill);
                let mut metadata = Metadata::new();
                metadata.insert(MetaKey::new_static("table"), serde_json::json!(table));
                let written = Document::text_with_fields_json(
                    "a".into(),
                    "demo",
                    "T".into(),
                    "body".into(),
                    metadata,
                    updated_at,
                    |out| {
                        out.extend_from_slice(b"{\"table\":");
                        crate::jsonw::write_str(out, table);
                        out.push(b'}');
                    },
                );
                assert_eq!(written, walked, "{table:?}");
            }
        }
    }

    #[test]
    fn version_fingerprint_matches_with_version() {
        let doc = Document::text("a", "local", "a", "x").with_version("etag-1");
        assert_eq!(doc.fingerprint, Document::version_fingerprint("etag-1"));
        assert_eq!(doc.fingerprint.len(), 32);
    }
}
