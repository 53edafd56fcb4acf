//! [`BoxCheckpoint`]: the folders still to read and Box's own marker within the current one.

use connector_core::Access;
use serde::{Deserialize, Serialize};

/// A folder of the walk: its id, its path below the configured folder, and who may read
/// what is in it (its own collaborations and its ancestors').
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FolderFrame {
    /// Box's folder id.
    pub id: String,
    /// Folder names from the configured folder down, joined by `/` (empty for it).
    #[serde(default)]
    pub path: String,
    /// The folder's access (collaborators of it and of its ancestors in the walk), once read.
    #[serde(default)]
    pub access: Access,
    /// Whether its own collaborations still have to be read when it is entered.
    #[serde(default)]
    pub collaborated: bool,
}

/// Where a resumed Box sync starts: the folders still to read (the last is the current one,
/// and its `marker` the page after the last one done), and within the page that follows,
/// the id of the last file handed on when a page was handed on in parts.
///
/// JSON: `{"folders": [{"id": "0", "path": "", ...}], "marker": "JV9IRGZmieiBasejOG9yDCRNgd2ymoZIbjsxbJMjIs3kioVii", "after": null}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BoxCheckpoint {
    /// The folders left, the current one last; empty when the walk is done.
    pub folders: Vec<FolderFrame>,
    /// Box's marker for the next page of the current folder; none: its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// The document id of the last file done in the page at `marker`, when only part of that
    /// page was handed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Whether the walk has begun (an empty `folders` then means it is done).
    #[serde(default)]
    pub started: bool,
    /// With `all_users`: the Box id of the user whose files the walk reads (the folders and
    /// marker above are theirs); the users before it in the run's order are done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl BoxCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}
