//! [`DropboxCheckpoint`]: Dropbox's own listing cursor.

use serde::{Deserialize, Serialize};

/// What the cursor in a [`DropboxCheckpoint`] continues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// A listing of the whole folder; in a windowed run only files whose `server_modified`
    /// is in the window are taken.
    #[default]
    Listing,
    /// The changes since the end of the last finished run (the cursor it ended with): every
    /// changed file is taken, whatever the window.
    Changes,
    /// A listing started over because Dropbox reset the cursor of the changes: every file is
    /// taken (unchanged ones cost no download).
    Relisting,
}

/// Where a resumed Dropbox sync starts: the `list_folder` cursor after the last page done
/// (none before the first page), and within the page that follows, the id of the last file
/// handed on when a page was handed on in parts.
///
/// JSON: `{"cursor": "AAH4…", "phase": "changes", "after": null}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DropboxCheckpoint {
    /// The cursor to continue from; none: list from the start.
    pub cursor: Option<String>,
    /// What the cursor continues.
    #[serde(default)]
    pub phase: Phase,
    /// The document id of the last file done in the page after `cursor`, when only part of
    /// that page was handed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl DropboxCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}
