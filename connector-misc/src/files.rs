//! What the file sources of this crate (`local`, `webdav`, `dropbox`, `seafile`) share: which
//! files are text, how a file's bytes become a [`Document`], and the walk order their
//! checkpoints rely on.

use std::cmp::Ordering;

use connector_core::Document;

/// Extensions delivered as [`Content::Text`](connector_core::Content::Text): formats whose
/// bytes are already the text a reader sees. Everything else (PDF, Office, images, and HTML,
/// which needs its markup extracted) goes as bytes with its MIME type for the host's parser.
// Public through `local` and `webdav`; a build without either reaches it only from inside.
#[cfg_attr(
    not(any(feature = "local", feature = "webdav")),
    allow(unreachable_pub)
)]
pub const TEXT_EXTENSIONS: &[&str] = &[
    "txt",
    "text",
    "md",
    "markdown",
    "mdx",
    "rst",
    "adoc",
    "asciidoc",
    "org",
    "tex",
    "csv",
    "tsv",
    "json",
    "jsonl",
    "ndjson",
    "xml",
    "yml",
    "yaml",
    "toml",
    "ini",
    "cfg",
    "conf",
    "properties",
    "log",
    "sql",
];

/// Image extensions, skipped unless a source's `allow_images` (RAGFlow leaves them out the
/// same way).
#[cfg_attr(not(feature = "webdav"), allow(unreachable_pub))]
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "svg", "ico", "heic", "heif", "avif",
];

/// Whether the file `name` is an image by its extension.
#[cfg_attr(not(feature = "dropbox"), allow(dead_code))]
pub(crate) fn is_image(name: &str) -> bool {
    extension_of(name).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

/// Text from the bytes of a text file: UTF-8 (a byte order mark dropped), or UTF-16 when
/// it starts with its byte order mark (as Excel's "Unicode text" and Windows tools write it);
/// the bytes back otherwise (another legacy charset, binary data).
pub(crate) fn decode_text(data: Vec<u8>) -> Result<String, Vec<u8>> {
    let utf16 = |bytes: &[u8], unit: fn([u8; 2]) -> u16| -> Option<String> {
        if !bytes.len().is_multiple_of(2) {
            return None;
        }
        let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .ok()
    };
    let decoded = match data.as_slice() {
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest).ok().map(str::to_owned),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => return String::from_utf8(data).map_err(|e| e.into_bytes()),
    };
    decoded.ok_or(data)
}

/// The document of the file `name`, as [`file_document`] makes it, except that a text file in
/// UTF-16 is decoded and one in another charset goes as bytes (`text/plain`) for the host's
/// parser to detect, instead of failing.
#[cfg_attr(not(any(feature = "dropbox", feature = "box")), allow(dead_code))]
pub(crate) fn file_document_lenient(
    id: String,
    source: &'static str,
    name: &str,
    data: Vec<u8>,
) -> Document {
    let extension = extension_of(name);
    let is_text = extension
        .as_deref()
        .is_some_and(|e| TEXT_EXTENSIONS.contains(&e));
    if !is_text {
        return match file_document(id.clone(), source, name, data) {
            Ok(doc) => doc,
            // Only text files fail; kept total for the type's sake.
            Err(_) => Document::text(id, source, name, String::new()),
        };
    }
    let metadata = extension
        .as_deref()
        .map_or(serde_json::Value::Null, serde_json::Value::from);
    match decode_text(data) {
        Ok(text) => Document::text(id, source, name, text).with_metadata("extension", metadata),
        Err(bytes) => Document::bytes(id, source, name, bytes, "text/plain", extension)
            .with_metadata("extension", metadata),
    }
}

/// The extension of a file name, lower case without the dot; none for `.bashrc` or `README`.
pub(crate) fn extension_of(name: &str) -> Option<String> {
    std::path::Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
}

/// The document of the file `name` with these bytes: text when its extension is in
/// [`TEXT_EXTENSIONS`], else bytes with the MIME type its extension suggests; its `extension`
/// metadata set (null without one).
///
/// # Errors
/// What to say in the file's failure when a text file is not valid UTF-8.
pub(crate) fn file_document(
    id: String,
    source: &'static str,
    name: &str,
    data: Vec<u8>,
) -> Result<Document, String> {
    let extension = extension_of(name);
    let metadata = extension
        .as_deref()
        .map_or(serde_json::Value::Null, serde_json::Value::from);
    let is_text = extension
        .as_deref()
        .is_some_and(|e| TEXT_EXTENSIONS.contains(&e));
    if is_text {
        return match decode_text(data) {
            Ok(text) => {
                Ok(Document::text(id, source, name, text).with_metadata("extension", metadata))
            }
            Err(bytes) => {
                let at = std::str::from_utf8(&bytes)
                    .err()
                    .map_or(0, |e| e.valid_up_to());
                Err(format!(
                    "a text file that is not valid UTF-8 (first bad byte at offset {at})"
                ))
            }
        };
    }
    let mime = match &extension {
        Some(ext) => mime_guess::from_ext(ext).first_or_octet_stream(),
        None => mime_guess::mime::APPLICATION_OCTET_STREAM,
    };
    Ok(
        Document::bytes(id, source, name, data, mime.essence_str(), extension)
            .with_metadata("extension", metadata),
    )
}

/// The document of a file of a source-code repository (the code hosts: `github`): as
/// [`file_document`] makes it, except that a file whose extension is not in
/// [`TEXT_EXTENSIONS`] is text too when git would call it text (no NUL byte in its first
/// 8000 bytes) and it is UTF-8, so `.rs`, `.py`, `Makefile` and `.gitignore` reach the host as
/// text; binary files go as bytes with their MIME type.
#[cfg_attr(not(feature = "github"), allow(dead_code))]
pub(crate) fn code_file_document(
    id: String,
    source: &'static str,
    name: &str,
    data: Vec<u8>,
) -> Result<Document, String> {
    let extension = extension_of(name);
    let listed = extension
        .as_deref()
        .is_some_and(|e| TEXT_EXTENSIONS.contains(&e));
    let binary = data.iter().take(8000).any(|b| *b == 0);
    if listed || binary {
        return file_document(id, source, name, data);
    }
    match String::from_utf8(data) {
        Ok(text) => {
            let metadata = extension
                .as_deref()
                .map_or(serde_json::Value::Null, serde_json::Value::from);
            Ok(Document::text(id, source, name, text).with_metadata("extension", metadata))
        }
        Err(e) => file_document(id, source, name, e.into_bytes()),
    }
}

/// Compares two relative paths in walk order: folder by folder, each name by its bytes, as a
/// depth-first walk that sorts each folder by name meets them.
pub(crate) fn walk_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Whether the folder `dir` and everything under it come before `after` in walk order, so a
/// resumed walk need not enter it.
pub(crate) fn folder_done(dir: &str, after: &str) -> bool {
    let mut dir_parts = dir.split('/');
    let mut after_parts = after.split('/');
    loop {
        match (dir_parts.next(), after_parts.next()) {
            // `after` is inside `dir` (or is `dir`): the folder still holds later files.
            (None, _) => return false,
            // `dir` is deeper than `after` but shares all of `after`: it comes after `after`.
            (Some(_), None) => return false,
            (Some(d), Some(a)) => match d.cmp(a) {
                Ordering::Equal => {}
                Ordering::Less => return true,
                Ordering::Greater => return false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_sort_before_their_siblings_with_suffixes() {
        let mut ids = vec!["a.txt", "a/x", "b", "a/b/c", "a-b", "Z"];
        ids.sort_by(|a, b| walk_order(a, b));
        assert_eq!(ids, vec!["Z", "a/b/c", "a/x", "a-b", "a.txt", "b"]);
    }

    #[test]
    fn folder_done_only_when_entirely_before() {
        assert!(folder_done("a", "b/c"));
        assert!(folder_done("a/b", "a/c"));
        assert!(!folder_done("a", "a/c"));
        assert!(!folder_done("a/c", "a/c"));
        assert!(!folder_done("a/c/d", "a/c"));
        assert!(!folder_done("b", "a/z"));
    }

    #[test]
    fn text_and_bytes() {
        let doc = file_document("a".into(), "t", "a.MD", b"# A".to_vec())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc.content.as_text(), Some("# A"));
        let doc =
            file_document("b".into(), "t", "b.pdf", vec![0xff]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&doc.content, connector_core::Content::Bytes { mime, .. } if mime == "application/pdf")
        );
        assert!(file_document("c".into(), "t", "c.txt", vec![b'a', 0xff]).is_err());
    }

    #[test]
    fn byte_order_marks() {
        let text = |name: &str, data: &[u8]| {
            file_document("a".into(), "t", name, data.to_vec())
                .map(|d| d.content.as_text().map(str::to_owned))
        };
        // An Excel "CSV UTF-8" export: the BOM is no part of the first column's name.
        assert_eq!(
            text("a.csv", b"\xEF\xBB\xBFid,name\n")
                .ok()
                .flatten()
                .as_deref(),
            Some("id,name\n")
        );
        // UTF-16LE with its BOM (Notepad's "Unicode").
        assert_eq!(
            text("a.txt", b"\xFF\xFEh\0\xE9\0")
                .ok()
                .flatten()
                .as_deref(),
            Some("h\u{e9}")
        );
        assert_eq!(
            text("a.txt", b"\xFE\xFF\0h\0\xE9")
                .ok()
                .flatten()
                .as_deref(),
            Some("h\u{e9}")
        );
        // Latin-1 without a mark stays a failure naming the offset.
        assert!(text("a.csv", b"caf\xE9").is_err());
    }

    #[test]
    fn text_in_other_encodings() {
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend("Grüße,1".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode_text(utf16).as_deref(), Ok("Grüße,1"));
        let mut be = vec![0xFE, 0xFF];
        be.extend("日本".encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(decode_text(be).as_deref(), Ok("日本"));
        assert_eq!(
            decode_text(b"\xEF\xBB\xBFabc".to_vec()).as_deref(),
            Ok("abc")
        );
        // cp1252 "café": not UTF-8, no BOM: the bytes come back.
        assert_eq!(decode_text(b"caf\xE9".to_vec()), Err(b"caf\xE9".to_vec()));
        let doc = file_document_lenient("c".into(), "t", "c.txt", b"caf\xE9".to_vec());
        assert!(
            matches!(&doc.content, connector_core::Content::Bytes { mime, .. } if mime == "text/plain")
        );
    }
}
