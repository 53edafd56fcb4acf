//! A downloaded file → a [`Document`], or the [`Failure`] that names it.

use connector_core::pages::{Outcome, item_failure};
use connector_core::{Document, Error, ErrorKind, Failure, Result};

use super::SOURCE;
use super::client::{Client, Downloaded};
use super::model::{FileItem, Library, Problem};

/// The document id of the file `path` (`/Docs/a.md`) of the library `repo_id`:
/// `seafile:{repo_id}:{path}`.
///
/// RAGFlow uses `seafile:{repo_id}:{object id}`, and an object id is a content hash: every edit
/// gives the document a new id (the old one lingers until a prune), and two files with the
/// same bytes in one library collide. The path is stable across edits.
pub(crate) fn doc_id(repo_id: &str, path: &str) -> String {
    format!("seafile:{repo_id}:{path}")
}

/// The library id and path of a document id made by [`doc_id`].
pub(crate) fn parse_id(id: &str) -> Option<(&str, &str)> {
    let rest = id.strip_prefix("seafile:")?;
    let (repo, path) = rest.split_once(':')?;
    (!repo.is_empty() && path.starts_with('/') && path.len() > 1).then_some((repo, path))
}

/// The version token of a file: its object id (the content), and who may read it when the
/// token's answers tell, so that a share added or removed re-sends the library's documents
/// (no object id or `mtime` changes with a share). None without an object id.
pub(crate) fn version(library: &Library, object_id: Option<&str>) -> Option<String> {
    let object_id = object_id?;
    Some(match library.access() {
        None => object_id.to_owned(),
        Some(a) => format!(
            "{object_id}:{}",
            connector_core::ids::hash128(&format!(
                "{}|{}|{}",
                a.emails.join(","),
                a.groups.join(","),
                a.public
            ))
        ),
    })
}

/// What the failure of a file says first: `library:path`.
fn shown(item: &FileItem) -> String {
    format!("{}:{}", item.library.name, item.path)
}

fn failure(client: &Client, item: &FileItem, kind: ErrorKind, message: &str) -> Failure {
    let failure = Failure::new(
        Some(doc_id(&item.library.id, &item.path)),
        kind,
        format!("{}: {message}", shown(item)),
    );
    match client.file_link(&item.library, &item.path) {
        Some(url) => failure.with_link(url),
        None => failure,
    }
}

/// The failure of a file larger than `max_file_size`, by its listed or downloaded size.
pub(crate) fn too_large(client: &Client, item: &FileItem, size: Option<u64>, max: u64) -> Failure {
    let size = size.map_or_else(|| "more than".to_owned(), |s| format!("{s}"));
    failure(
        client,
        item,
        ErrorKind::Unsupported,
        &format!(
            "the file is {size} bytes, larger than max_file_size ({max} bytes); raise max_file_size or move it out of the synced folder"
        ),
    )
}

/// The failure of a download that failed for this file only.
///
/// # Errors
/// `error` itself when it [ends the sync](ErrorKind::ends_sync).
pub(crate) fn download_failure(client: &Client, item: &FileItem, error: Error) -> Result<Outcome> {
    let failure = item_failure(doc_id(&item.library.id, &item.path), error)?;
    Ok(match client.file_link(&item.library, &item.path) {
        Some(url) => failure.with_link(url),
        None => failure,
    }
    .into())
}

/// The failure of a walk problem (an encrypted library, an entry that cannot be read).
pub(crate) fn problem_failure(problem: &Problem) -> Failure {
    Failure::new(problem.id.clone(), problem.kind, problem.message.clone())
}

/// The problem of an encrypted library: its files cannot be read without its password, which
/// the Web API would have to be given (and then holds for the whole server session).
pub(crate) fn encrypted(library: &Library) -> Problem {
    Problem {
        id: None,
        message: format!(
            "library `{}` ({}) is encrypted: its files are not read (the connector holds no library passwords); decrypt it or leave it out of the scope",
            library.name, library.id
        ),
        hides_files: false,
        kind: ErrorKind::Unsupported,
    }
}

/// The document of a downloaded file, or the failure of a text file that is not UTF-8.
///
/// The version is that of the object id the file server says it sent (its `ETag`), else of the
/// listed one (see [`version`]): a file changed between the listing and the download is stored with the version of the
/// bytes it holds, so the next run does not skip a newer version, nor fetch this one again.
pub(crate) fn document(client: &Client, item: FileItem, downloaded: Downloaded) -> Outcome {
    let id = doc_id(&item.library.id, &item.path);
    let listed = item.dirent.version().map(str::to_owned);
    let changed = matches!((&downloaded.object_id, &listed), (Some(got), Some(was)) if got != was);
    let size = if changed {
        downloaded.body.len() as u64
    } else {
        item.dirent.size.unwrap_or(downloaded.body.len() as u64)
    };
    let doc: Document =
        match crate::files::file_document(id, SOURCE, item.name(), Vec::from(downloaded.body)) {
            Ok(doc) => doc,
            Err(message) => {
                return failure(client, &item, ErrorKind::InvalidData, &message).into();
            }
        };
    let library = &item.library;
    let mut doc = doc
        .with_size(size)
        .with_metadata("library", library.name.clone())
        .with_metadata("repo_id", library.id.clone())
        .with_metadata("path", item.path.clone())
        .with_metadata("size", size);
    if let Some(object_id) = downloaded.object_id.or(listed) {
        if let Some(version) = version(library, Some(&object_id)) {
            doc = doc.with_version(&version);
        }
        doc = doc.with_metadata("object_id", object_id);
    }
    if changed {
        doc = doc.with_metadata("changed_since_listing", true);
    }
    if let Some(at) = item.dirent.modified() {
        doc = doc.with_updated_at(at);
    }
    if let Some(link) = client.file_link(library, &item.path) {
        doc = doc.with_link(link);
    }
    // The folder it is in, by the same scheme as the ids (`seafile:{repo_id}:/Docs`; a file
    // at the library's root has `seafile:{repo_id}:/`).
    let folder = item
        .path
        .rsplit_once('/')
        .map_or("/", |(f, _)| if f.is_empty() { "/" } else { f });
    doc = doc.with_parent_id(doc_id(&library.id, folder));
    if let Some(access) = library.access() {
        doc = doc.with_access(access);
    }
    if let Some(owner) = library.owner_email() {
        doc = doc.with_owners(vec![owner.to_owned()]);
    }
    let dirent = &item.dirent;
    for (key, value) in [
        ("modifier_email", &dirent.modifier_email),
        ("modifier_name", &dirent.modifier_name),
        ("permission", &dirent.permission),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            doc = doc.with_metadata(key, v.clone());
        }
    }
    doc.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = doc_id("7a9e-1b", "/Docs/a: b.md");
        assert_eq!(parse_id(&id), Some(("7a9e-1b", "/Docs/a: b.md")));
        assert_eq!(parse_id("webdav:x:/a"), None);
        assert_eq!(parse_id("seafile:r:"), None);
    }
}
