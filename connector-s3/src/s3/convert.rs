//! Listed object + downloaded body → [`Document`]; the failures that name their key.

use bytes::Bytes;
use connector_core::pages::item_failure;
use connector_core::spool::SpooledBody;
use connector_core::{Document, Error, ErrorKind, Failure, Result};

use super::client::{Fetched, S3Client};
use super::model::{Listed, file_name};

/// Extensions delivered as text (when the body is UTF-8; otherwise as bytes).
pub const TEXT_EXTENSIONS: &[&str] = &[
    "txt", "md", "markdown", "mdx", "rst", "adoc", "asciidoc", "org", "csv", "tsv", "json",
    "jsonl", "ndjson", "yaml", "yml", "toml", "xml", "html", "htm", "log", "ini", "cfg", "conf",
    "tex", "sql",
];

/// Image extensions, skipped unless `allow_images`.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "svg", "ico", "heic", "heif", "avif",
];

/// The extension of a key's file name, lower-cased, without the dot.
pub(crate) fn extension(key: &str) -> Option<String> {
    raw_extension(key).map(str::to_ascii_lowercase)
}

/// The extension of a key's file name as written, without the dot.
pub(crate) fn raw_extension(key: &str) -> Option<&str> {
    let name = file_name(key);
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then_some(ext)
}

/// The document id: `{bucket_type}:{bucket}:{key}`, as RAGFlow builds it.
pub(crate) fn document_id(client: &S3Client, key: &str) -> String {
    format!("{}:{}:{key}", client.bucket_type, client.bucket_name())
}

/// The document of a downloaded object, titled `title`. `listed` is taken so that its key and
/// ETag move into the metadata rather than be copied: this runs for every object.
pub(crate) fn document(
    client: &S3Client,
    listed: Listed,
    fetched: Fetched,
    title: String,
) -> Document {
    let id = document_id(client, &listed.key);
    let ext = extension(&listed.key);
    let header_mime = fetched
        .content_type
        .as_deref()
        .map(|m| m.split(';').next().unwrap_or(m).trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty() && m != "application/octet-stream" && m != "binary/octet-stream");
    let is_text = ext.as_deref().is_some_and(|e| TEXT_EXTENSIONS.contains(&e))
        || header_mime
            .as_deref()
            .is_some_and(|m| m.starts_with("text/"));
    let mime = header_mime.unwrap_or_else(|| {
        mime_guess::from_path(file_name(&listed.key))
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_owned()
    });
    let size = listed
        .size
        .max(fetched.body.len() as u64)
        .max(fetched.spooled.as_ref().map_or(0, SpooledBody::len));
    let mut doc = if let Some(body) = fetched.spooled {
        // Too large for memory: delivered from its file, as bytes even for a text extension
        // (its UTF-8 is not checked, that would read it).
        Document::spooled(id, client.source, title, body, mime.clone(), ext)
    } else if is_text {
        // The body is the only owner of its buffer: it becomes the `String` without a copy,
        // so a text object is held once, not twice.
        match String::from_utf8(Vec::from(fetched.body)) {
            Ok(text) => Document::text(id, client.source, title, text),
            // A "text" file that is not UTF-8 still reaches the host, as bytes it can decode.
            Err(e) => {
                let body = Bytes::from(e.into_bytes());
                Document::bytes(id, client.source, title, body, mime.clone(), ext)
            }
        }
    } else {
        Document::bytes(id, client.source, title, fetched.body, mime.clone(), ext)
    };
    doc = doc
        .with_link(client.object_url(&listed.key))
        .with_size(size)
        .with_metadata("bucket", client.bucket_name())
        .with_metadata("key", listed.key)
        .with_metadata("size", size)
        .with_metadata("content_type", mime);
    if let Some(t) = listed.last_modified.or(fetched.last_modified) {
        doc = doc.with_updated_at(t);
    }
    if let Some(etag) = listed.etag.or(fetched.etag) {
        // RAGFlow's fingerprint: xxh128 of the ETag without quotes.
        doc = doc.with_version(&etag).with_metadata("etag", etag);
    }
    doc
}

/// An object over the cap `field` (`max_object_size`, or `max_spooled_object_size` when
/// spooling), by its listed size.
pub(crate) fn too_large(client: &S3Client, listed: &Listed, (field, max): (&str, u64)) -> Failure {
    let id = document_id(client, &listed.key);
    let hint = if field == "max_object_size" {
        " (spool_large_objects delivers larger objects from a file)"
    } else {
        ""
    };
    Failure::new(
        Some(id),
        ErrorKind::InvalidData,
        format!(
            "object `{}` in bucket `{}` is {} bytes, over {field} ({max} bytes){hint}",
            listed.key,
            client.bucket_name(),
            listed.size
        ),
    )
    .with_link(client.object_url(&listed.key))
}

/// A key that no URL can address without changing its meaning (`a/../b`, `./a`).
pub(crate) fn unaddressable(client: &S3Client, key: &str) -> Option<Failure> {
    let bad = key.is_empty() || key.split('/').any(|seg| seg == "." || seg == "..");
    bad.then(|| {
        Failure::new(
            Some(document_id(client, key)),
            ErrorKind::Unsupported,
            format!(
                "object `{key}` in bucket `{}` has `.` or `..` path segments, which URLs cannot address",
                client.bucket_name()
            ),
        )
    })
}

/// The failure of a download that failed for this object only, by the one policy, with the
/// object's link.
///
/// # Errors
/// `error` itself when it [ends the sync](connector_core::ErrorKind::ends_sync).
pub(crate) fn download_failure(client: &S3Client, key: &str, error: Error) -> Result<Failure> {
    Ok(item_failure(document_id(client, key), error)?.with_link(client.object_url(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert_eq!(extension("a/b/Report.PDF").as_deref(), Some("pdf"));
        assert_eq!(extension("a/.env"), None);
        assert_eq!(extension("a/b"), None);
        assert_eq!(extension("a.b/c"), None);
    }
}
