//! [`DriveCheckpoint`]: Graph's own delta links, per drive.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// What the link of a [`DriveCursor`] lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// A whole drive, from its first delta page; in a windowed run only files whose
    /// `lastModifiedDateTime` is in the window are taken.
    #[default]
    Listing,
    /// The changes since the delta link the last finished run ended on: every changed file is
    /// taken, whatever the window.
    Changes,
    /// A whole drive again because Graph answered `410 Gone` to a delta link, or a drive no
    /// earlier run finished while others carry their links: every file is taken (unchanged
    /// ones cost no download).
    Relisting,
}

/// The drive being read and the link of its next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriveCursor {
    /// The drive id.
    pub drive: String,
    /// The page to read next (a `@odata.nextLink`, or the round's first URL).
    pub next: String,
    /// What the link lists.
    #[serde(default)]
    pub phase: Phase,
}

/// Where a resumed walk of drives starts: the drives finished in this run (with the
/// `@odata.deltaLink` each round ended on), the drive being read and its next page, and the
/// delta links of the last finished run that this run's rounds start from. OneDrive's
/// checkpoint, and the drive part of SharePoint's.
///
/// A page handed on in parts keeps its own link until its last part: a resumed run reads
/// that page again and the files already delivered are unchanged by their fingerprint (no
/// download). Duplicates, never a loss.
///
/// With a folder scope (`folder_path`), the ids of the folders inside it are kept per drive
/// (`folders`): a round of changes lists a folder moved into or out of the scope, but not the
/// files below it, and only this set tells a move across the scope's edge from a folder that
/// was always on one side.
///
/// JSON: `{"done": {"b!1": "https://graph…/delta?token=…"}, "current": {"drive": "b!2",
/// "next": "https://graph…/delta?token=…", "phase": "listing"}, "since": {…}, "folders":
/// {"b!1": ["01F…"]}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriveCheckpoint {
    /// Drives finished in this run, with the delta link their round ended on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub done: BTreeMap<String, String>,
    /// The drive being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<DriveCursor>,
    /// The delta links the last finished run ended on, by drive: this run's rounds start there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub since: BTreeMap<String, String>,
    /// The folders inside the folder scope, by drive (kept only with a folder scope).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub folders: BTreeMap<String, BTreeSet<String>>,
}

impl DriveCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next incremental run starts from: the delta links this one ended on (and,
    /// for a drive it did not finish, the one it started from), and the folders in scope.
    pub(crate) fn carried(&self) -> Option<Self> {
        crate::graph::carried(&self.since, &self.done).map(|since| Self {
            since,
            folders: self.folders.clone(),
            ..Self::default()
        })
    }
}
