//! [`SeafileCheckpoint`].

use serde::{Deserialize, Serialize};

/// Where a resumed SeaFile sync starts: the library in progress and, inside it, the path of
/// the last file done, in walk order (libraries by id; in each, folder by folder, each sorted
/// by name).
///
/// The path is the folder stack and the position in one: `/Docs/2024/q3.md` says the walk
/// was in `/Docs/2024`, inside `/Docs`, after `q3.md`. SeaFile's directory listings are not
/// paged (`dir/` answers a whole folder), so there is no listing cursor to keep: a resumed
/// walk skips the libraries before `library`, lists again only the folders on the way to
/// `after` and those after it (folders entirely before it are not entered), and in each
/// re-listed folder skips the names up to `after`. A file added behind the checkpoint while
/// the sync was interrupted is picked up by the next run: the resumed run keeps its window.
///
/// JSON: `{"library": "7a9e1b3c-…", "after": "/Docs/2024/q3.md"}`, or both `null` for a sync
/// that has not started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeafileCheckpoint {
    /// The id of the library in progress; the libraries before it (by id) are done.
    pub library: Option<String>,
    /// The path in `library` of the last file done; none: the library from its start.
    pub after: Option<String>,
}

impl SeafileCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// The checkpoint after the file `path` of the library `library`.
    pub fn after(library: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            library: Some(library.into()),
            after: Some(path.into()),
        }
    }
}
