//! [`DropboxCheckpoint`]: Dropbox's own listing cursor.

use std::collections::BTreeMap;

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
/// (none before the first page), and what that cursor lists.
///
/// A page handed on in parts keeps the cursor before it until its last part: a resumed run
/// lists that page again, and the files of its parts already delivered are unchanged by
/// their fingerprint (no download). Dropbox need not replay a cursor with the same page, so
/// nothing is skipped by position: duplicates, never a loss.
///
/// JSON: `{"cursor": "AAH4…", "phase": "changes", "scope": "3235641::/docs"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DropboxCheckpoint {
    /// The cursor to continue from; none: list from the start.
    pub cursor: Option<String>,
    /// What the cursor continues.
    #[serde(default)]
    pub phase: Phase,
    /// What the cursor lists: the root namespace, the team member and the folder (lower
    /// case). A cursor whose scope is not the config's (the `path` was edited, the team root
    /// taken up) is not continued: the folder is listed from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// With `all_team_members`: the member being read (`dbmid:…`), whom `cursor`, `phase` and
    /// `scope` are of; the members before it (by id) are done in this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// With `all_team_members`: the cursor each member's last finished listing ended with,
    /// from which the next incremental run reads that member's changes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub member_cursors: BTreeMap<String, MemberCursor>,
}

/// Where one team member's listing ended: the cursor and what it lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemberCursor {
    /// Dropbox's cursor.
    pub cursor: String,
    /// What it lists (see [`DropboxCheckpoint::scope`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl DropboxCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}
