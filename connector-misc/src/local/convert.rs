//! A file read from disk → a [`Document`], or the [`Failure`] that names it.

use std::path::Path;

use connector_core::pages::Outcome;
use connector_core::{ErrorKind, Failure};
use url::Url;

use super::SOURCE;
use super::client::Read;
use super::model::{Entry, Problem, Stat, StatError, io_kind};

pub use crate::files::TEXT_EXTENSIONS;

/// The `file://` URL of an absolute path.
pub(crate) fn link(path: &Path) -> Option<Url> {
    Url::from_file_path(path).ok()
}

fn failure(
    entry_id: &str,
    path: &Path,
    kind: ErrorKind,
    message: impl std::fmt::Display,
) -> Failure {
    let failure = Failure::new(
        Some(entry_id.to_owned()),
        kind,
        format!("{}: {message}", path.display()),
    );
    match link(path) {
        Some(url) => failure.with_link(url),
        None => failure,
    }
}

/// The failure of a file whose `stat` failed.
pub(crate) fn stat_failure(entry: &Entry, err: &StatError) -> Failure {
    failure(&entry.id, &entry.path, err.kind, &err.message)
}

/// The failure of a file larger than `max_file_size`.
pub(crate) fn too_large(entry: &Entry, size: u64, max: u64) -> Failure {
    failure(
        &entry.id,
        &entry.path,
        ErrorKind::Unsupported,
        format!(
            "the file is {size} bytes, larger than max_file_size ({max} bytes); raise max_file_size or exclude it"
        ),
    )
}

/// The failure for a walk problem; it names a path but has no id (it is no one document).
pub(crate) fn problem_failure(problem: &Problem) -> Failure {
    Failure::new(
        None,
        problem.kind,
        format!("{}: {}", problem.path, problem.message),
    )
}

/// The document for what reading `entry` gave, or its failure; none when the file is gone
/// (prune deals with it).
pub(crate) fn document(entry: &Entry, read: Read, max: u64) -> Option<Outcome> {
    let failed = |kind, message: &dyn std::fmt::Display| {
        Some(failure(&entry.id, &entry.path, kind, message).into())
    };
    match read {
        Read::Data { data, stat } => Some(build(entry, data, stat)),
        Read::Gone => None,
        Read::NotAFile => failed(ErrorKind::InvalidData, &"it is no longer a regular file"),
        Read::TooLarge { size } => Some(too_large(entry, size, max).into()),
        Read::Failed(e) => failed(io_kind(&e), &format_args!("cannot read it: {e}")),
    }
}

fn build(entry: &Entry, data: Vec<u8>, stat: Stat) -> Outcome {
    let name = entry.id.rsplit('/').next().unwrap_or(&entry.id);
    let doc = match crate::files::file_document(entry.id.clone(), SOURCE, name, data) {
        Ok(doc) => doc,
        Err(message) => {
            return Outcome::from(failure(
                &entry.id,
                &entry.path,
                ErrorKind::InvalidData,
                message,
            ));
        }
    };
    let mut doc = doc
        .with_size(stat.size)
        .with_metadata("path", entry.path.display().to_string())
        .with_metadata("size", stat.size);
    if let Some(version) = stat.version() {
        doc = doc.with_version(&version);
    }
    if let Some(at) = stat.updated_at() {
        doc = doc.with_updated_at(at);
    }
    if let Some(url) = link(&entry.path) {
        doc = doc.with_link(url);
    }
    doc.into()
}
