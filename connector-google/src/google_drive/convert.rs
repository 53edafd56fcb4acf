//! Drive files to documents: ids, what to fetch for each type, and the document itself.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use connector_core::{Document, Failure};
use url::Url;

use super::SOURCE;
use super::access::Readers;
use super::config::{DocsFormat, SheetsFormat};
use super::model::{self, File};

/// How a file's content is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fetch {
    /// Exported as this MIME type; text when `text`, else bytes with `extension`.
    Export {
        mime: &'static str,
        text: bool,
        extension: &'static str,
    },
    /// Downloaded as it is.
    Download,
    /// A spreadsheet read tab by tab with the Sheets API, as Markdown.
    Sheet,
}

/// A spreadsheet's xlsx export.
pub(crate) fn xlsx() -> Fetch {
    Fetch::Export {
        mime: model::XLSX,
        text: false,
        extension: "xlsx",
    }
}

/// What to do with a file of this MIME type; `None` for files that are not documents
/// (folders, shortcuts, whose targets are read instead, forms, sites ...) and for images
/// unless allowed.
pub(crate) fn fetch_for(
    mime: &str,
    docs: DocsFormat,
    sheets: SheetsFormat,
    allow_images: bool,
) -> Option<Fetch> {
    match mime {
        model::SPREADSHEET if sheets == SheetsFormat::Markdown => Some(Fetch::Sheet),
        model::DOCUMENT => Some(match docs {
            DocsFormat::Markdown => Fetch::Export {
                mime: "text/markdown",
                text: true,
                extension: "md",
            },
            DocsFormat::Text => Fetch::Export {
                mime: "text/plain",
                text: true,
                extension: "txt",
            },
        }),
        model::SPREADSHEET => Some(xlsx()),
        model::PRESENTATION => Some(Fetch::Export {
            mime: "text/plain",
            text: true,
            extension: "txt",
        }),
        model::DRAWING if allow_images => Some(Fetch::Export {
            mime: "image/png",
            text: false,
            extension: "png",
        }),
        m if m.starts_with("application/vnd.google-apps.") => None,
        m if m.starts_with("image/") && !allow_images => None,
        _ => Some(Fetch::Download),
    }
}

/// The document id: the file's `webViewLink` without query or fragment (RAGFlow's id, so keys
/// carry over), else the canonical file URL.
pub(crate) fn document_id(id: &str, web_view_link: Option<&str>) -> String {
    if let Some(mut url) = web_view_link.and_then(|l| Url::parse(l).ok()) {
        url.set_query(None);
        url.set_fragment(None);
        return url.to_string();
    }
    format!("https://drive.google.com/file/d/{id}/view")
}

/// Every document id a file with Drive id `id` may have had, for a change that names only
/// the id (`removed: true`: the file and its `webViewLink` are gone): the `webViewLink` of each
/// type a document is made of, as [`document_id`] keeps it, and the canonical file URL.
pub(crate) fn possible_document_ids(id: &str) -> Vec<String> {
    let links = [
        format!("https://drive.google.com/file/d/{id}/view"),
        format!("https://docs.google.com/document/d/{id}/edit"),
        format!("https://docs.google.com/spreadsheets/d/{id}/edit"),
        format!("https://docs.google.com/presentation/d/{id}/edit"),
        format!("https://docs.google.com/drawings/d/{id}/edit"),
    ];
    links
        .iter()
        .map(|link| document_id(id, Some(link)))
        .collect()
}

/// The version token the fingerprint is made of; with `readers` (`include_permissions`) a
/// short hash of them too, so a sharing change (which need not bump the file's `version`: a
/// shared drive's new member) is a new version that a reconciling run delivers again.
///
/// A spreadsheet read as tabs (`Fetch::Sheet`) has `:tabs` too, so the xlsx delivered before
/// is replaced once; one that fell back to the xlsx export has not, and is read again on the
/// next run that lists it (the Sheets API may be enabled by then).
pub(crate) fn version(file: &File, fetch: &Fetch, readers: Option<&Readers>) -> String {
    let mut token = format!(
        "{}:{}:{}",
        file.id,
        file.version.as_deref().unwrap_or(""),
        file.modified_time.as_deref().unwrap_or("")
    );
    if *fetch == Fetch::Sheet {
        token.push_str(":tabs");
    }
    if let Some(r) = readers {
        token.push_str(":a");
        token.push_str(&r.short_hash());
    }
    token
}

/// `modifiedTime` as a time.
pub(crate) fn modified(file: &File) -> Option<DateTime<Utc>> {
    file.modified_time
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The size Drive reports, for files that have one.
pub(crate) fn size(file: &File) -> Option<u64> {
    file.size.as_deref().and_then(|s| s.parse().ok())
}

/// Links each failure to its file: a Drive document id is the file's web link.
pub(crate) fn link_failures(failures: &mut [Failure]) {
    for f in failures.iter_mut().filter(|f| f.link.is_none()) {
        f.link = f.id.as_deref().and_then(|id| Url::parse(id).ok());
    }
}

/// The document of `file` with its fetched content.
pub(crate) fn document(
    file: &File,
    fetch: &Fetch,
    data: Bytes,
    updated: DateTime<Utc>,
    readers: Option<&Readers>,
) -> Document {
    let id = document_id(&file.id, file.web_view_link.as_deref());
    let title = file.name.clone();
    let doc = match fetch {
        Fetch::Export { text: true, .. } | Fetch::Sheet => Document::text(
            id,
            SOURCE,
            title,
            String::from_utf8_lossy(&data).into_owned(),
        ),
        Fetch::Export {
            mime, extension, ..
        } => Document::bytes(
            id,
            SOURCE,
            title,
            data,
            *mime,
            Some((*extension).to_owned()),
        ),
        Fetch::Download => {
            let plain = file.mime_type.starts_with("text/");
            match (plain, std::str::from_utf8(&data)) {
                (true, Ok(text)) => Document::text(id, SOURCE, title, text.to_owned()),
                _ => Document::bytes(
                    id,
                    SOURCE,
                    title,
                    data,
                    file.mime_type.clone(),
                    file.file_extension.clone().filter(|e| !e.is_empty()),
                ),
            }
        }
    };
    let mut doc = doc
        .with_updated_at(updated)
        .with_version(&version(file, fetch, readers))
        .with_owners(
            file.owners
                .iter()
                .filter_map(|o| o.email_address.clone())
                .collect(),
        )
        .with_metadata("file_id", file.id.clone())
        .with_metadata("mime_type", file.mime_type.clone());
    if let Some(r) = readers {
        doc = doc.with_access(r.to_access());
    }
    if let Some(size) = size(file) {
        doc = doc.with_size(size);
    }
    if let Some(d) = &file.drive_id {
        doc = doc.with_metadata("drive_id", d.clone());
    }
    if let Some(link) = file
        .web_view_link
        .as_deref()
        .and_then(|l| Url::parse(l).ok())
    {
        doc = doc.with_link(link);
    }
    doc
}

/// A spreadsheet's tabs (name, rows of formatted cells) as Markdown: a heading per tab and its
/// rows as a table, the first row as the header.
pub(crate) fn sheet_markdown(title: &str, tabs: &[(String, Vec<Vec<String>>)]) -> String {
    use connector_core::text::markdown::{self, Block, Inline, Table};
    let cell = |c: &String| {
        if c.is_empty() {
            Vec::new()
        } else {
            vec![Block::paragraph(vec![Inline::text(c.as_str())])]
        }
    };
    let mut blocks = vec![Block::heading(1, vec![Inline::text(title)])];
    for (name, rows) in tabs {
        blocks.push(Block::heading(2, vec![Inline::text(name.as_str())]));
        let mut rows = rows.iter();
        if let Some(header) = rows.next() {
            blocks.push(Block::Table(Table::new(
                header.iter().map(cell).collect(),
                rows.map(|r| r.iter().map(cell).collect()).collect(),
            )));
        }
    }
    markdown::render(&blocks) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_drop_the_query() {
        assert_eq!(
            document_id(
                "abc",
                Some("https://docs.google.com/document/d/abc/edit?usp=drivesdk")
            ),
            "https://docs.google.com/document/d/abc/edit"
        );
        assert_eq!(
            document_id("abc", None),
            "https://drive.google.com/file/d/abc/view"
        );
    }

    #[test]
    fn fetch_by_type() {
        assert!(matches!(
            fetch_for(
                model::DOCUMENT,
                DocsFormat::Markdown,
                SheetsFormat::Xlsx,
                false
            ),
            Some(Fetch::Export {
                mime: "text/markdown",
                ..
            })
        ));
        assert_eq!(
            fetch_for(
                model::FOLDER,
                DocsFormat::Markdown,
                SheetsFormat::Xlsx,
                true
            ),
            None
        );
        assert_eq!(
            fetch_for("image/png", DocsFormat::Markdown, SheetsFormat::Xlsx, false),
            None
        );
        assert_eq!(
            fetch_for("image/png", DocsFormat::Markdown, SheetsFormat::Xlsx, true),
            Some(Fetch::Download)
        );
        assert_eq!(
            fetch_for(
                "application/pdf",
                DocsFormat::Markdown,
                SheetsFormat::Xlsx,
                false
            ),
            Some(Fetch::Download)
        );
    }
}
