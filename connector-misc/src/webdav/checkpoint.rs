//! [`WebdavCheckpoint`].

use serde::{Deserialize, Serialize};

/// Where a resumed WebDAV sync starts: after the path (relative to `remote_path`) of the last
/// file of the last acknowledged page, in walk order (folder by folder, each sorted by name).
///
/// A resumed walk lists again only the folders on the way to that path and those after it;
/// folders entirely before it are not entered. A file added behind the checkpoint during an
/// interrupted sync is picked up by the next run, never lost: the resumed run keeps its window.
///
/// JSON: `{"after": "Handbook/guide.md"}`, or `{"after": null}` for a sync that has not started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WebdavCheckpoint {
    /// The relative path of the last file done, `None` before the first.
    pub after: Option<String>,
}

impl WebdavCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// The checkpoint after the file with relative path `rel`.
    pub fn after(rel: impl Into<String>) -> Self {
        Self {
            after: Some(rel.into()),
        }
    }
}
