//! A downloaded file → a [`Document`], or the [`Failure`] that names it.

use bytes::Bytes;
use connector_core::http::is_body_too_large;
use connector_core::pages::{Outcome, item_failure};
use connector_core::{Error, ErrorKind, Failure, Result};

use super::SOURCE;
use super::client::Dav;
use super::model::{Member, Problem};

/// A failure of the file `member`, with its link.
fn failure(
    dav: &Dav,
    member: &Member,
    kind: ErrorKind,
    message: impl std::fmt::Display,
) -> Failure {
    Failure::new(
        Some(dav.document_id(&member.rel)),
        kind,
        format!("{}: {message}", member.rel),
    )
    .with_link(member.url.clone())
}

/// The failure of a file larger than `max_file_size`, by its listed or downloaded size.
pub(crate) fn too_large(dav: &Dav, member: &Member, size: Option<u64>, max: u64) -> Failure {
    let size = size.map_or_else(|| "more than".to_owned(), |s| format!("{s}"));
    failure(
        dav,
        member,
        ErrorKind::Unsupported,
        format!(
            "the file is {size} bytes, larger than max_file_size ({max} bytes); raise max_file_size or move it out of remote_path"
        ),
    )
}

/// The failure of a listing problem (a member the server could not describe, a name no path
/// can carry); it has no id, since it is no one document.
pub(crate) fn problem_failure(problem: &Problem) -> Failure {
    Failure::new(
        None,
        ErrorKind::InvalidData,
        format!("{}: {}", problem.path, problem.message),
    )
}

/// The failure of a download that failed for this file only.
///
/// # Errors
/// `error` itself when it [ends the sync](connector_core::ErrorKind::ends_sync).
pub(crate) fn download_failure(
    dav: &Dav,
    member: &Member,
    max: u64,
    error: Error,
) -> Result<Outcome> {
    if is_body_too_large(&error) {
        return Ok(too_large(dav, member, None, max).into());
    }
    Ok(item_failure(dav.document_id(&member.rel), error)?
        .with_link(member.url.clone())
        .into())
}

/// The document of a downloaded file, or the failure of a text file that is not UTF-8.
///
/// Its title is the path under `remote_path` (`Handbook/README.md`), so files of the same
/// name in different folders are told apart in results: RAGFlow switches to the path only
/// for names that occur twice in the whole tree, which needs the whole tree in memory, and a
/// title that changes when a second `README.md` appears elsewhere would retitle the first.
///
/// Its link is the file's page in the web UI where the server is Nextcloud or ownCloud and
/// lists an `oc:fileid`, else the file's URL; `owners` holds `oc:owner-id` where listed;
/// `parent_id` is the id of its folder (`webdav:{base_url}:{folder path}`). `access` stays
/// unset: WebDAV lists no readers (Nextcloud's sharees need the OCS sharing API).
pub(crate) fn document(dav: &Dav, member: Member, body: Bytes) -> Outcome {
    let name = member.rel.rsplit('/').next().unwrap_or(&member.rel);
    let id = dav.document_id(&member.rel);
    let size = member.resource.length.unwrap_or(body.len() as u64);
    let doc = match crate::files::file_document(id, SOURCE, name, Vec::from(body)) {
        Ok(mut doc) => {
            doc.title.clone_from(&member.rel);
            doc
        }
        Err(message) => {
            return failure(dav, &member, ErrorKind::InvalidData, message).into();
        }
    };
    let resource = member.resource;
    let link = resource
        .file_id
        .as_deref()
        .and_then(|f| dav.web_link(f))
        .unwrap_or(member.url);
    let folder = member.rel.rsplit_once('/').map_or("", |(folder, _)| folder);
    let mut doc = doc
        .with_link(link)
        .with_size(size)
        .with_parent_id(dav.folder_id(folder))
        .with_metadata("path", member.rel.clone())
        .with_metadata("size", size);
    if let Some(owner) = &resource.owner_id {
        doc = doc
            .with_owners(vec![owner.clone()])
            .with_metadata("owner_id", owner.clone());
    }
    if let Some(owner) = &resource.owner_name {
        doc = doc.with_metadata("owner_name", owner.clone());
    }
    if let Some(file_id) = &resource.file_id {
        doc = doc.with_metadata("fileid", file_id.clone());
    }
    if let Some(permissions) = &resource.permissions {
        doc = doc.with_metadata("permissions", permissions.clone());
    }
    if let Some(version) = resource.version() {
        doc = doc.with_version(&version);
    }
    if let Some(at) = resource.modified() {
        doc = doc.with_updated_at(at);
    }
    if let Some(etag) = resource.etag {
        doc = doc.with_metadata("etag", etag);
    }
    if let Some(content_type) = resource.content_type {
        doc = doc.with_metadata("content_type", content_type);
    }
    doc.into()
}
