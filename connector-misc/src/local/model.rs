//! What the folder walk hands to the async side: files found, with what `stat` said.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use connector_core::ErrorKind;

/// One regular file the walk found and the filters accepted.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The path relative to the configured folder with `/` separators: the document id.
    pub(crate) id: String,
    /// The absolute path.
    pub(crate) path: PathBuf,
    /// Size and modification time, when the walk was asked to `stat` (not for id listings).
    pub(crate) stat: Option<Result<Stat, StatError>>,
}

/// What `stat` said about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// Size in bytes.
    pub(crate) size: u64,
    /// Modification time, where the platform has one.
    pub(crate) modified: Option<SystemTime>,
}

impl Stat {
    pub(crate) fn from_metadata(meta: &std::fs::Metadata) -> Self {
        Self {
            size: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// The modification time as UTC.
    pub(crate) fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.modified.map(DateTime::<Utc>::from)
    }

    /// The version token `{size}:{mtime in ns since the epoch}` the fingerprint is made of,
    /// when the platform reports a modification time (without one a file cannot be skipped).
    pub(crate) fn version(&self) -> Option<String> {
        let modified = self.modified?;
        let nanos = match modified.duration_since(UNIX_EPOCH) {
            Ok(after) => i128::try_from(after.as_nanos()).ok()?,
            Err(before) => -i128::try_from(before.duration().as_nanos()).ok()?,
        };
        Some(format!("{}:{nanos}", self.size))
    }
}

/// Why a file could not be `stat`ed.
#[derive(Debug, Clone)]
pub(crate) struct StatError {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

/// Something the walk could not turn into an [`Entry`]: a folder it could not read, a name
/// that is not UTF-8, a dangling link.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    /// The path as it can be shown (lossy for names that are not UTF-8).
    pub(crate) path: String,
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    /// Whether files may be missing from the listing because of it (an unreadable folder):
    /// an id listing for prune must then fail rather than come back incomplete.
    pub(crate) hides_files: bool,
}

/// One item of the walk, in walk order.
#[derive(Debug, Clone)]
pub(crate) enum Listed {
    File(Entry),
    Problem(Problem),
}

/// A page of the walk: up to `page_size` items.
pub(crate) type Page = Vec<Listed>;

/// Maps an I/O error to the kind a caller can act on.
pub(crate) fn io_kind(err: &std::io::Error) -> ErrorKind {
    match err.kind() {
        std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        std::io::ErrorKind::InvalidData
        | std::io::ErrorKind::InvalidInput
        | std::io::ErrorKind::IsADirectory
        | std::io::ErrorKind::NotADirectory
        | std::io::ErrorKind::InvalidFilename => ErrorKind::InvalidData,
        _ => ErrorKind::Unavailable,
    }
}
