//! Listed blob + downloaded body → [`Document`]; the failures that name their blob.

use bytes::Bytes;
use connector_core::pages::item_failure;
use connector_core::{Document, Error, ErrorKind, Failure, Result};

use super::client::{AzureClient, Fetched};
use super::model::Listed;

/// Extensions delivered as text (when the body is UTF-8; otherwise as bytes).
pub const TEXT_EXTENSIONS: &[&str] = &[
    "txt", "md", "markdown", "mdx", "rst", "adoc", "asciidoc", "org", "csv", "tsv", "json",
    "jsonl", "ndjson", "yaml", "yml", "toml", "xml", "log", "ini", "cfg", "conf", "tex", "sql",
];

/// Image extensions, skipped unless `allow_images`.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "svg", "ico", "heic", "heif", "avif",
];

/// The last segment of a blob name.
pub(crate) fn file_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The extension of a blob's file name as written, without the dot.
pub(crate) fn raw_extension(name: &str) -> Option<&str> {
    let (stem, ext) = file_name(name).rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then_some(ext)
}

/// The document of a downloaded blob. The id is the blob name, as RAGFlow's.
pub(crate) fn document(client: &AzureClient, listed: Listed, fetched: Fetched) -> Document {
    let ext = raw_extension(&listed.name).map(str::to_ascii_lowercase);
    let header_mime = fetched
        .content_type
        .or(listed.content_type)
        .map(|m| {
            m.split(';')
                .next()
                .unwrap_or(&m)
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|m| !m.is_empty() && m != "application/octet-stream");
    let is_text = ext.as_deref().is_some_and(|e| TEXT_EXTENSIONS.contains(&e))
        || header_mime
            .as_deref()
            .is_some_and(|m| m.starts_with("text/"));
    let mime = header_mime.unwrap_or_else(|| {
        mime_guess::from_path(file_name(&listed.name))
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_owned()
    });
    let size = listed.size.max(fetched.body.len() as u64);
    let id = listed.name.clone();
    // The name under the prefix: a file name alone would make forty `README.md` alike.
    let title = listed
        .name
        .strip_prefix(client.prefix())
        .map(|t| t.trim_start_matches('/'))
        .filter(|t| !t.is_empty())
        .unwrap_or(&listed.name)
        .to_owned();
    let mut doc = if is_text {
        // The body is the only owner of its buffer: it becomes the `String` without a copy.
        match String::from_utf8(Vec::from(fetched.body)) {
            Ok(text) => Document::text(id, client.source, title, text),
            // A "text" blob that is not UTF-8 still reaches the host, as bytes it can decode.
            Err(e) => {
                let body = Bytes::from(e.into_bytes());
                Document::bytes(id, client.source, title, body, mime.clone(), ext)
            }
        }
    } else {
        Document::bytes(id, client.source, title, fetched.body, mime.clone(), ext)
    };
    doc = doc
        .with_link(client.link(&listed.name))
        .with_size(size)
        .with_metadata("container", client.container())
        .with_metadata("name", listed.name)
        .with_metadata("size", size)
        .with_metadata("content_type", mime);
    if !client.prefix().is_empty() {
        doc = doc.with_metadata("prefix", client.prefix());
    }
    for (key, value) in listed.metadata {
        // Hadoop's marker is no user field.
        if !key.eq_ignore_ascii_case("hdi_isfolder") {
            doc = doc.with_metadata(format!("meta.{key}"), value);
        }
    }
    if let Some(t) = listed.last_modified.or(fetched.last_modified) {
        doc = doc.with_updated_at(t);
    }
    if let Some(etag) = listed.etag.or(fetched.etag) {
        doc = doc.with_version(&etag).with_metadata("etag", etag);
    }
    doc
}

/// A blob over `max_object_size`, by its listed size.
pub(crate) fn too_large(client: &AzureClient, listed: &Listed, max: u64) -> Failure {
    Failure::new(
        Some(listed.name.clone()),
        ErrorKind::InvalidData,
        format!(
            "blob `{}` in container `{}` is {} bytes, over max_object_size ({max} bytes)",
            listed.name,
            client.container(),
            listed.size
        ),
    )
    .with_link(client.link(&listed.name))
}

/// A blob in the Archive tier, which cannot be read until rehydrated.
pub(crate) fn archived(client: &AzureClient, listed: &Listed) -> Failure {
    Failure::new(
        Some(listed.name.clone()),
        ErrorKind::Unsupported,
        format!(
            "blob `{}` in container `{}` is in the Archive tier: rehydrate it to Hot or Cool to index it",
            listed.name,
            client.container()
        ),
    )
    .with_link(client.link(&listed.name))
}

/// The failure of a download that failed for this blob only, by the one policy.
///
/// # Errors
/// `error` itself when it [ends the sync](connector_core::ErrorKind::ends_sync).
pub(crate) fn download_failure(client: &AzureClient, name: &str, error: Error) -> Result<Failure> {
    Ok(item_failure(name, error)?.with_link(client.link(name)))
}

/// Whether a blob name has a `.` or `..` segment (`a/./b.md`), which every URL resolves
/// away (RFC 3986 §5.2.4, WHATWG URL even in its `%2E` spelling): a request for it would
/// read another blob, or none.
pub(crate) fn has_dot_segment(name: &str) -> bool {
    name.split('/').any(|s| s == "." || s == "..")
}

/// The failure of a blob whose name no request can carry as listed.
pub(crate) fn dot_segment(client: &AzureClient, listed: &Listed) -> Failure {
    Failure::new(
        Some(listed.name.clone()),
        ErrorKind::Unsupported,
        format!(
            "blob `{}` in container `{}` has a `.` or `..` segment in its name, which URLs resolve away: a download would read another blob; rename it",
            listed.name,
            client.container()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(raw_extension("a/b/Report.PDF"), Some("PDF"));
        assert_eq!(raw_extension("a/.env"), None);
        assert_eq!(raw_extension("a.b/c"), None);
        assert_eq!(file_name("a/b/c.md"), "c.md");
        assert!(has_dot_segment("a/./b.md") && has_dot_segment("../b.md"));
        assert!(!has_dot_segment("a/.b/c..md") && !has_dot_segment("a...md"));
    }
}
