//! What every file source of this crate does with a file's bytes: text formats as text,
//! everything else as bytes with the MIME type its extension suggests.

#[cfg(feature = "dropbox")]
use connector_core::Document;

/// Extensions delivered as [`Content::Text`](connector_core::Content::Text): formats whose
/// bytes are already the text a reader sees. Everything else (PDF, Office, images, and HTML,
/// which needs its markup extracted) goes as bytes with its MIME type for the host's parser.
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

/// The extension of a file name, lower case without the dot; none for `.bashrc` or `README`.
#[cfg(feature = "dropbox")]
pub(crate) fn extension_of(name: &str) -> Option<String> {
    std::path::Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
}

/// The document of a file named `name` with `data`: text for [`TEXT_EXTENSIONS`] (which must
/// be UTF-8; the error says where it is not), bytes with the guessed MIME type otherwise.
#[cfg(feature = "dropbox")]
pub(crate) fn file_document(
    id: String,
    source: &'static str,
    name: &str,
    data: Vec<u8>,
) -> Result<Document, String> {
    let extension = extension_of(name);
    let size = data.len() as u64;
    let is_text = extension
        .as_deref()
        .is_some_and(|e| TEXT_EXTENSIONS.contains(&e));
    let doc = if is_text {
        let text = String::from_utf8(data).map_err(|e| {
            format!(
                "a text file that is not valid UTF-8 (first bad byte at offset {})",
                e.utf8_error().valid_up_to()
            )
        })?;
        Document::text(id, source, name, text)
    } else {
        let mime = match &extension {
            Some(ext) => mime_guess::from_ext(ext).first_or_octet_stream(),
            None => mime_guess::mime::APPLICATION_OCTET_STREAM,
        };
        Document::bytes(
            id,
            source,
            name,
            data,
            mime.essence_str(),
            extension.clone(),
        )
    };
    Ok(doc.with_size(size).with_metadata(
        "extension",
        extension.map_or(serde_json::Value::Null, serde_json::Value::from),
    ))
}
